"""The production start, as an operator runs it: `make serve` behind a TLS-terminating proxy.

`make serve` runs collectstatic and migrate with production settings and starts supervisord with
deploy/supervisord.conf (gunicorn, the worker, the bulk worker, the housekeeper, beat) against the test
database,
each broker the suite runs on, and the sandbox standing in for AWS (named by
PORTAL_AWS_ENDPOINT_URL, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as production
does it). The test is the proxy and the browser: it speaks plain HTTP to gunicorn with
`X-Forwarded-Proto: https` and the public Host, and sends back the secure cookies a browser
would send over HTTPS.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests as http
from django.conf import settings

from integrations.models import FINISHED_STATUSES, AwsRequest, RequestStatus
from tests import processes
from tests.factories import PASSWORD, form_post, ingestion_form_data, make_operator
from tests.integrations.conftest import wait_for
from tests.portal.test_supervision import Supervisor

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_HOST = "portal.example.test"
PUBLIC_ORIGIN = f"https://{PUBLIC_HOST}"
FORM_PATH = "/operations/appfabric/CreateIngestion/"
METRICS_TOKEN = secrets.token_urlsafe(24)
PROGRAMS = ("web", "worker", "bulk-worker", "housekeeper", "beat")


def production_env(sandbox_url: str, broker_url: str, var_dir: Path, port: int) -> dict[str, str]:
    """What a production deployment sets (.env.example), pointed at the test's services."""
    env = processes.portal_env(
        sandbox_url,
        broker_url,
        var_dir / "broker",
        PORTAL_ENVIRONMENT="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS=PUBLIC_HOST,
        DJANGO_CSRF_TRUSTED_ORIGINS=PUBLIC_ORIGIN,
        PORTAL_TRUST_X_FORWARDED_PROTO="true",
        DJANGO_SECURE_HSTS_SECONDS="3600",
        PORTAL_METRICS_TOKEN=METRICS_TOKEN,
        PORTAL_WEB_BIND=f"127.0.0.1:{port}",
        PORTAL_WEB_WORKERS="2",
        PORTAL_WORKER_CONCURRENCY="2",
        PORTAL_VAR_DIR=str(var_dir),
        PORTAL_STATIC_ROOT=str(var_dir / "static"),
        # Its own queues on a shared broker: nothing another test left there reaches these workers.
        PORTAL_QUEUE_PREFIX=f"{settings.PORTAL_QUEUE_PREFIX}production-",
        PORTAL_HEARTBEAT_SECONDS="1",
        PORTAL_READY_HEARTBEAT_AGE_SECONDS="15",
        # Production takes its credentials from boto3's chain; the sandbox accepts any.
        AWS_ACCESS_KEY_ID="AKIDPRODUCTIONTEST",
        AWS_SECRET_ACCESS_KEY="production-test-secret",
        AWS_EC2_METADATA_DISABLED="true",
    )
    for development_only in ("DJANGO_DEBUG", "PORTAL_AWS_SANDBOX_CREDENTIALS", "MAKEFLAGS", "MFLAGS"):
        env.pop(development_only, None)
    return env


@contextlib.contextmanager
def served_portal(env: dict[str, str], var_dir: Path, base_url: str) -> Iterator[Supervisor]:
    """`make serve`, ready; stopped as an operator would: SIGTERM to supervisord, which stops its programs."""
    portal = Supervisor("deploy/supervisord.conf", env, var_dir, var_dir, ["make", "--no-print-directory", "serve"])
    try:
        wait_for(lambda: ready(base_url, portal.process), timeout=120, interval=0.5, message="/readyz to answer 200")
        yield portal
    finally:
        portal.stop()


def ready(base_url: str, process: processes.Process) -> bool:
    if process.popen.poll() is not None:
        raise AssertionError(f"make serve exited ({process.popen.returncode}):\n{process.output[-5000:]}")
    with contextlib.suppress(http.RequestException):
        return http.get(f"{base_url}/readyz", headers={"Host": PUBLIC_HOST}, timeout=5).status_code == 200
    return False


class BrowserBehindTheProxy(http.Session):
    """A browser whose HTTPS ends at the proxy: the public Host, `X-Forwarded-Proto: https` on every
    request, and its secure cookies sent back (requests' cookie jar keeps those for https:// URLs,
    and this leg, from the proxy to gunicorn, is plain HTTP)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers.update({"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"})

    def request(self, *args, **kwargs) -> http.Response:
        response = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def set_cookies(response: http.Response) -> dict[str, str]:
    """The cookies a response sets, each with its attributes, by name."""
    return {line.split("=", 1)[0]: line for line in response.raw.headers.getlist("Set-Cookie")}


def csrf_token(page: http.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]


def post(session: http.Session, base_url: str, path: str, data: dict) -> http.Response:
    page = session.get(base_url + path, timeout=10)
    assert page.status_code == 200, page.text[:2000]
    return session.post(
        base_url + path,
        data={**data, "csrfmiddlewaretoken": csrf_token(page)},
        headers={"Origin": PUBLIC_ORIGIN, "Referer": PUBLIC_ORIGIN + path},
        allow_redirects=False,
        timeout=30,
    )


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Short: supervisord's control socket lives here, and a Unix socket path has ~100 characters.
    with tempfile.TemporaryDirectory(prefix="portal-serve-") as folder:
        yield Path(folder)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("broker_url", processes.broker_urls(), ids=processes.broker_name)
def test_make_serve_runs_the_portal_behind_a_tls_proxy(broker_url, sandbox, var_dir):
    operator = make_operator("operator")
    port = processes.free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = production_env(sandbox.url, broker_url, var_dir, port)

    with served_portal(env, var_dir, base_url) as portal:
        browser = BrowserBehindTheProxy()

        # Signing in through the proxy: secure cookies, the CSRF check against the public origin.
        login_page = browser.get(f"{base_url}/accounts/login/", timeout=10)
        signed_in = post(browser, base_url, "/accounts/login/", {"username": operator.username, "password": PASSWORD})
        home = browser.get(f"{base_url}/", timeout=10)

        # A page's CSS and htmx, from whitenoise.
        assets = {
            url: browser.get(base_url + url, timeout=10)
            for url in re.findall(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"]+)"', home.text)
        }

        # A request run to success through the form.
        submitted = post(browser, base_url, FORM_PATH, form_post(ingestion_form_data()))
        assert submitted.status_code == 302
        request = wait_for(
            lambda: AwsRequest.objects.filter(status__in=FINISHED_STATUSES).first(),
            timeout=60,
            message="the request to finish",
        )
        request_page = browser.get(base_url + request.get_absolute_url(), timeout=10)

        # What the load balancer and Prometheus see, over plain HTTP without the proxy's header.
        healthz = http.get(f"{base_url}/healthz", headers={"Host": PUBLIC_HOST}, timeout=10)
        readyz = http.get(f"{base_url}/readyz", headers={"Host": PUBLIC_HOST}, timeout=10)
        metrics = http.get(
            f"{base_url}/metrics", headers={"Host": PUBLIC_HOST, "Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        )
        plain_page = http.get(f"{base_url}/", headers={"Host": PUBLIC_HOST}, allow_redirects=False, timeout=10)
        # All five are up (RUNNING once a program has stayed up its startsecs, which the first pages
        # can beat on a slow machine).
        programs = portal.status_once_running(PROGRAMS)

    for program in PROGRAMS:
        assert re.search(rf"^{program}\s+RUNNING", programs, re.MULTILINE), programs
    output = portal.process.output
    assert "static files copied" in output  # collectstatic ran
    assert f"Listening at: http://127.0.0.1:{port}" in output  # gunicorn, not runserver
    assert "development server" not in output

    assert login_page.status_code == 200
    assert "; Secure" in set_cookies(login_page)["csrftoken"]
    assert signed_in.status_code == 302, signed_in.text[:3000]
    assert "; Secure" in set_cookies(signed_in)["sessionid"]
    assert home.status_code == 200
    assert f"Sign out {operator.username}" in home.text
    assert home.headers["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]

    kinds = {url: response.headers["Content-Type"] for url, response in assets.items()}
    assert any("/portal/portal." in url and kind.startswith("text/css") for url, kind in kinds.items()), kinds
    assert any("htmx" in url and "javascript" in kind for url, kind in kinds.items()), kinds
    for url, response in assets.items():
        assert response.status_code == 200, url
        # Hashed names (the manifest), cached for ever, compressed.
        assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", url), url
        assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable", url
        assert response.headers.get("Content-Encoding") in ("gzip", "br"), url

    assert request.status == RequestStatus.SUCCEEDED, request.__dict__
    assert submitted.headers["Location"] == request.get_absolute_url()
    assert request.resource_id == sandbox.state.resources[0]["id"]
    assert [call["client_token"] for call in sandbox.state.calls if call["operation"] == request.operation_key] == [
        request.client_token
    ]
    assert request_page.status_code == 200
    assert request.resource_id in request_page.text

    assert (healthz.status_code, healthz.text) == (200, "ok")
    assert readyz.status_code == 200, readyz.text
    assert metrics.status_code == 200, metrics.text
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert 'portal_requests{status="succeeded"} 1.0' in metrics.text
    # Anything else over plain HTTP is sent to HTTPS.
    assert plain_page.status_code == 301
    assert plain_page.headers["Location"] == f"{PUBLIC_ORIGIN}/"


def test_make_serve_refuses_to_start_without_what_production_needs(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "MAKEFLAGS")
    }
    env.update(DATABASE_URL="postgres://portal@db.internal/portal", PORTAL_VAR_DIR=str(tmp_path))

    result = subprocess.run(
        ["make", "--no-print-directory", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert (
        "make serve: production needs these environment variables: CELERY_BROKER_URL DJANGO_SECRET_KEY "
        "DJANGO_ALLOWED_HOSTS (see .env.example)" in result.stderr
    )
    assert "collectstatic" not in result.stdout  # nothing was started or touched
    assert not list(tmp_path.iterdir())
