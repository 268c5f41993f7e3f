"""The account settings as a process reads them from its environment, and single-sign-on-only mode
in a real web server (settings are read once, when a process starts: these tests start processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests as http

from tests import processes
from tests.factories import PASSWORD, make_user
from tests.integrations.test_oidc import OIDC_ENV, SSO_LINK

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME", "PORTAL_SESSION_IDLE_SECONDS", "SESSION_COOKIE_AGE",
    "PORTAL_PASSWORD_MIN_LENGTH", "AUTH_PASSWORD_VALIDATORS", "PORTAL_API_TOKEN_TTL_HOURS", "REST_KNOX",
    "REST_FRAMEWORK", "EMAIL_HOST", "AUTHENTICATION_BACKENDS", "PORTAL_PASSWORD_SIGN_IN",
]  # fmt: skip
# A CSRF cookie and the same token in the form: Django accepts the pair (an unmasked secret).
CSRF = "a" * 32


def read_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_", "OIDC_", "PORTAL_", "EMAIL_"))
    }
    environment.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_ENVIRONMENT="development", **env)
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {NAMES!r}}}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_account_settings_come_from_the_environment():
    result = read_settings(
        PORTAL_LOGIN_FAILURE_LIMIT="7",
        PORTAL_LOGIN_COOLOFF_SECONDS="120",
        PORTAL_SESSION_IDLE_SECONDS="600",
        PORTAL_SESSION_MAX_SECONDS="3600",
        PORTAL_PASSWORD_MIN_LENGTH="16",
        PORTAL_API_TOKEN_TTL_HOURS="24",
        PORTAL_API_TOKEN_FAILURE_RATE="5/hour",
        EMAIL_HOST="smtp.example.com",
    )

    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    assert read["AXES_FAILURE_LIMIT"] == 7
    assert read["AXES_COOLOFF_TIME"] == "0:02:00"
    assert (read["PORTAL_SESSION_IDLE_SECONDS"], read["SESSION_COOKIE_AGE"]) == (600, 3600)
    assert read["PORTAL_PASSWORD_MIN_LENGTH"] == 16
    assert {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 16}} in read["AUTH_PASSWORD_VALIDATORS"]  # fmt: skip
    assert read["PORTAL_API_TOKEN_TTL_HOURS"] == 24
    assert read["REST_KNOX"]["TOKEN_TTL"] == "1 day, 0:00:00"
    assert read["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {"api_token_failures": "5/hour"}
    assert read["EMAIL_HOST"] == "smtp.example.com"


def test_the_defaults_when_nothing_is_set():
    result = read_settings()

    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    assert read["AXES_FAILURE_LIMIT"] == 5
    assert read["AXES_COOLOFF_TIME"] == "0:15:00"
    assert (read["PORTAL_SESSION_IDLE_SECONDS"], read["SESSION_COOKIE_AGE"]) == (1800, 12 * 3600)
    assert read["PORTAL_API_TOKEN_TTL_HOURS"] == 90 * 24
    assert read["EMAIL_HOST"] == ""
    assert read["PORTAL_PASSWORD_SIGN_IN"] is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORTAL_PASSWORD_SIGN_IN": "false"}, "PORTAL_PASSWORD_SIGN_IN=false needs single sign-on"),
        ({"PORTAL_SESSION_IDLE_SECONDS": "7200", "PORTAL_SESSION_MAX_SECONDS": "3600"}, "PORTAL_SESSION_IDLE_SECONDS"),
        ({"PORTAL_API_TOKEN_FAILURE_RATE": "lots"}, "PORTAL_API_TOKEN_FAILURE_RATE"),
        ({"PORTAL_API_TOKEN_TTL_HOURS": "0"}, "PORTAL_API_TOKEN_TTL_HOURS"),
        ({"PORTAL_LOGIN_FAILURE_LIMIT": "0"}, "PORTAL_LOGIN_FAILURE_LIMIT"),
    ],
)
def test_settings_that_cannot_be_meant_stop_the_process(env, message):
    result = read_settings(**env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_single_sign_on_only_leaves_no_backend_that_checks_a_password():
    result = read_settings(**OIDC_ENV, PORTAL_PASSWORD_SIGN_IN="false")

    assert result.returncode == 0, result.stderr
    backends = json.loads(result.stdout)["AUTHENTICATION_BACKENDS"]
    assert backends == ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"]  # a ModelBackend, for permissions


# --- single sign-on only, in a real server -----------------------------------------------------------


@pytest.fixture(scope="module")
def sso_only_web(portal_env, logs):
    web, base_url = processes.start_web({**portal_env, **OIDC_ENV, "PORTAL_PASSWORD_SIGN_IN": "false"}, logs)
    yield base_url
    web.stop()


@pytest.mark.django_db(transaction=True)
def test_the_sign_in_page_offers_only_single_sign_on(sso_only_web):
    page = http.get(f"{sso_only_web}/accounts/login/?next=/requests/", timeout=10)

    assert page.status_code == 200
    assert SSO_LINK in page.text
    assert '<a href="/oidc/authenticate/?next=/requests/">' in page.text
    assert 'name="password"' not in page.text


@pytest.mark.django_db(transaction=True)
def test_a_password_is_refused_by_the_sign_in_form_and_the_admin(sso_only_web):
    make_user("root", is_staff=True, is_superuser=True)
    session = http.Session()
    session.cookies.set("csrftoken", CSRF)
    credentials = {"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": CSRF}

    form = session.post(f"{sso_only_web}/accounts/login/", data=credentials, allow_redirects=False, timeout=10)
    admin = session.post(f"{sso_only_web}/admin/login/", data=credentials, allow_redirects=False, timeout=10)
    admin_page = session.get(f"{sso_only_web}/admin/login/?next=/admin/", allow_redirects=False, timeout=10)

    for refused in (form, admin):
        assert refused.status_code == 403
        assert "Password sign-in is turned off" in refused.text
    assert admin_page.status_code == 302
    assert admin_page.headers["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert session.get(f"{sso_only_web}/admin/", allow_redirects=False, timeout=10).status_code == 302
