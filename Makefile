# Two commands: `make run` and `make test` (`make test-fast` while you work). Everything they need is
# installed from here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

CHROMIUM := /usr/bin/chromium

# The settings are production ones unless PORTAL_ENVIRONMENT=development is set (portal/settings.py):
# everything here (the local portal with its sandbox, the tests, mypy's and makemigrations' loading
# of the settings) is development, whatever the calling shell says.
export PORTAL_ENVIRONMENT := development

.PHONY: install run test test-fast lint typecheck migrations-check format

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_local_admin
	$(VENV)/bin/honcho start

# The browser tests use Debian's Chromium; install it when it is missing (CI runs as root).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi

# Everything, once: ruff, mypy, the migrations check, then the whole suite (real worker, web and
# sandbox processes, the AWS CLI and the browser included).
test: install lint typecheck migrations-check $(CHROMIUM)
	$(PY) -m pytest

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
