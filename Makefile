# Two commands: `make run` and `make test` (`make test-fast` while you work). Everything they need is
# installed from here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

CHROMIUM := /usr/bin/chromium
REDIS_SERVER := /usr/bin/redis-server

# The settings are production ones unless PORTAL_ENVIRONMENT=development is set (portal/settings.py):
# everything here (the local portal with its sandbox, the tests, mypy's and makemigrations' loading
# of the settings) is development, whatever the calling shell says.
export PORTAL_ENVIRONMENT := development

.PHONY: install run serve serve-environment test test-fast lint typecheck migrations-check format

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

# supervisord runs the processes (deploy/*.conf) and restarts any that exits; the virtualenv's bin/
# comes first on its PATH, and its pid file and control socket go under PORTAL_VAR_DIR (var/).
SUPERVISORD := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PORTAL_VAR_DIR="$${PORTAL_VAR_DIR:-$(CURDIR)/var}" \
	$(VENV)/bin/supervisord

# The local portal: the sandbox, runserver, a worker on both queues and beat (deploy/supervisord-dev.conf).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_local_admin
	$(SUPERVISORD) --configuration deploy/supervisord-dev.conf

# The production start: gunicorn, a worker, the housekeeper and beat (deploy/supervisord.conf), with
# production settings whatever the calling shell says, after collectstatic and migrate. What it
# needs is checked first, before anything is installed or touched (.env.example lists the rest).
SERVE_NEEDS := DATABASE_URL CELERY_BROKER_URL DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS
serve: export PORTAL_ENVIRONMENT := production
serve: serve-environment install
	$(PY) manage.py collectstatic --noinput
	$(PY) manage.py migrate --noinput
	$(SUPERVISORD) --configuration deploy/supervisord.conf

serve-environment:
	@missing=""; for name in $(SERVE_NEEDS); do \
		eval "value=\$${$$name:-}"; [ -n "$$value" ] || missing="$$missing $$name"; done; \
	if [ -n "$$missing" ]; then \
		echo "make serve: production needs these environment variables:$$missing (see .env.example)" >&2; exit 1; fi

# The browser tests use Debian's Chromium; install it when it is missing (CI runs as root).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi

# The broker tests restart a redis-server of their own: Debian's, installed when missing.
$(REDIS_SERVER):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	else echo "The broker tests need Debian's redis-server: sudo apt-get install redis-server" >&2; exit 1; fi

# With PORTAL_TEST_RABBITMQ_URL (.ci/run sets it), the pipeline's end-to-end, fault and production
# tests run a second time with RabbitMQ as the broker of the tests and of every process they start.
RABBITMQ_TESTS := tests/integrations/test_end_to_end.py tests/integrations/test_faults.py \
	tests/portal/test_production_start.py \
	tests/integrations/test_broker.py::test_the_sweeper_reads_how_many_messages_wait_in_the_work_queue

# Everything, once: ruff, mypy, the migrations check, then the whole suite (real worker, web and
# sandbox processes, the AWS CLI and the browser included), then the RabbitMQ run if asked for.
test: install lint typecheck migrations-check $(CHROMIUM) $(REDIS_SERVER)
	$(PY) -m pytest
	@if [ -n "$${PORTAL_TEST_RABBITMQ_URL:-}" ]; then \
		echo "--- the pipeline's end-to-end, fault and production tests again, on RabbitMQ"; \
		CELERY_BROKER_URL="$$PORTAL_TEST_RABBITMQ_URL" $(PY) -m pytest $(RABBITMQ_TESTS); fi

# The in-process tests only (no worker, web, CLI or browser processes), spread over every core:
# about a minute and a half on two.
# Which tests are slow is decided in one place, tests/conftest.py.
test-fast: install
	$(PY) -m pytest -m "not slow" -n auto

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with django-stubs and djangorestframework-stubs, configured in pyproject.toml: strict for
# awsmodel/ and operations/, ordinary checking for portal/, integrations/ and sandbox/.
typecheck: install
	$(VENV)/bin/mypy

# A model change without its migration fails here rather than in production.
migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
