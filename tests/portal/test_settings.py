"""The settings fail closed: production unless PORTAL_ENVIRONMENT=development is said explicitly.

The settings module is run afresh with a chosen environment, in this process (quick) and, for the
entry points (manage.py, Celery, WSGI), as real processes that must refuse to start.
"""

from __future__ import annotations

import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "portal" / "settings.py"
# Long and varied enough for `check --deploy` (security.W009).
PRODUCTION_KEY = secrets.token_urlsafe(50)
# What the settings read about the environment, the AWS endpoint and the sandbox's credentials.
SETTINGS_VARIABLES = (
    "PORTAL_ENVIRONMENT",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "PORTAL_AWS_ENDPOINT_URL",
    "PORTAL_AWS_SANDBOX_CREDENTIALS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "PORTAL_TRUST_X_FORWARDED_PROTO",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "DJANGO_SECURE_HSTS_PRELOAD",
    "DJANGO_SESSION_COOKIE_SECURE",
    "DJANGO_CSRF_COOKIE_SECURE",
    "PORTAL_STATIC_ROOT",
    "OIDC_RP_CLIENT_ID",
    "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "OIDC_OP_TOKEN_ENDPOINT",
    "OIDC_OP_USER_ENDPOINT",
)
# Production names its database and broker (it refuses the embedded defaults).
PRODUCTION_SERVICES = {
    "DATABASE_URL": "postgres://portal@db.internal/portal",
    "CELERY_BROKER_URL": "amqp://mq.internal//",
}


@pytest.fixture
def load(monkeypatch):
    """Run portal/settings.py with only ``env`` of its environment variables set; its names."""

    def run(**env: str) -> dict:
        for name in SETTINGS_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS_FILE), run_name="settings_under_test")

    return run


def test_the_test_run_itself_is_development():
    # pytest-env sets it (pyproject.toml) before pytest-django reads the settings.
    assert os.environ["PORTAL_ENVIRONMENT"] == "development"
    assert django_settings.PRODUCTION is False


def test_without_the_environment_variable_the_settings_are_production_and_want_a_secret_key(load):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY must be set") as refused:
        load()

    assert "PORTAL_ENVIRONMENT" in str(refused.value)


def test_without_the_environment_variable_the_settings_are_production_ones(load):
    loaded = load(DJANGO_SECRET_KEY=PRODUCTION_KEY, **PRODUCTION_SERVICES)

    assert (loaded["PORTAL_ENVIRONMENT"], loaded["PRODUCTION"], loaded["DEBUG"]) == ("production", True, False)
    assert loaded["SECRET_KEY"] == PRODUCTION_KEY
    assert "sandbox" not in loaded["INSTALLED_APPS"]
    assert loaded["AWS_ENDPOINT_URL"] is None  # AWS itself, not the sandbox
    assert loaded["AWS_SANDBOX_CREDENTIALS"] is False
    assert loaded["ALLOWED_HOSTS"] == []


def test_production_names_its_endpoint_explicitly_and_never_gets_dummy_credentials(load):
    loaded = load(
        PORTAL_ENVIRONMENT="production",
        DJANGO_SECRET_KEY=PRODUCTION_KEY,
        PORTAL_AWS_ENDPOINT_URL="https://vpce-0123.appfabric.eu-west-1.vpce.amazonaws.com",
        PORTAL_AWS_SANDBOX_CREDENTIALS="true",
        **PRODUCTION_SERVICES,
    )

    assert loaded["AWS_ENDPOINT_URL"] == "https://vpce-0123.appfabric.eu-west-1.vpce.amazonaws.com"
    assert loaded["AWS_SANDBOX_CREDENTIALS"] is False


def test_development_is_chosen_by_name(load):
    loaded = load(PORTAL_ENVIRONMENT="development")

    assert (loaded["PRODUCTION"], loaded["DEBUG"]) == (False, True)
    assert "sandbox" in loaded["INSTALLED_APPS"]
    assert loaded["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4580"
    assert loaded["AWS_SANDBOX_CREDENTIALS"] is True
    assert loaded["SECRET_KEY"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": PRODUCTION_KEY}, "DJANGO_DEBUG cannot be on in production"),
        (
            {"PORTAL_ENVIRONMENT": "production", "DJANGO_SECRET_KEY": "insecure-development-key-do-not-deploy"},
            "DJANGO_SECRET_KEY is the published development key",
        ),
        ({"PORTAL_ENVIRONMENT": "staging"}, "PORTAL_ENVIRONMENT must be development or production, not 'staging'"),
        ({"PORTAL_ENVIRONMENT": ""}, "PORTAL_ENVIRONMENT must be development or production, not ''"),
        ({"PORTAL_ENVIRONMENT": "Development"}, "PORTAL_ENVIRONMENT must be development or production"),
    ],
)
def test_what_production_refuses(load, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load(**env)


# --- the entry points, as processes ----------------------------------------------------------------


def _environment(**env: str) -> dict[str, str]:
    """This process's environment without the settings' variables (nor pytest's, nor AWS's)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in SETTINGS_VARIABLES and not k.startswith(("PYTEST_", "AWS_")) and k != "DJANGO_SETTINGS_MODULE"
    }
    return {**clean, "AWS_EC2_METADATA_DISABLED": "true", **env}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=_environment(**env), capture_output=True, text=True, timeout=120, check=False
    )


ENTRY_POINTS = {
    "manage.py": [sys.executable, "manage.py", "check"],
    "celery": [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo", "--loglevel", "INFO"],
    "wsgi": [sys.executable, "-c", "import portal.wsgi"],
}


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_no_entry_point_starts_without_the_environment_variable_and_a_secret_key(entry_point):
    result = _run(ENTRY_POINTS[entry_point])

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in output
    assert "PORTAL_ENVIRONMENT is production" in output


PRINT_WHAT_PRODUCTION_USES = """
import django
django.setup()
from django.apps import apps
from django.conf import settings
from integrations import aws_clients
print(settings.DEBUG, apps.is_installed("sandbox"), settings.AWS_ENDPOINT_URL, aws_clients._base_credentials())
"""


def test_with_production_variables_there_is_no_debug_no_sandbox_and_no_dummy_credentials():
    result = _run(
        [sys.executable, "-c", PRINT_WHAT_PRODUCTION_USES],
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_ENVIRONMENT="production",
        DJANGO_SECRET_KEY=PRODUCTION_KEY,
        **PRODUCTION_SERVICES,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "False False None {}"


def documented_production_variables() -> dict[str, str]:
    """The variables .env.example sets (its uncommented lines), with a real secret key for the placeholder."""
    documented = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            documented[name.strip()] = value.strip()
    return {**documented, "DJANGO_SECRET_KEY": PRODUCTION_KEY}


def test_env_example_sets_a_production_deployment():
    documented = documented_production_variables()

    assert documented["PORTAL_ENVIRONMENT"] == "production"
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOWED_HOSTS"} <= documented.keys()


def test_the_deployment_check_is_clean_with_the_documented_production_variables():
    result = _run([sys.executable, "manage.py", "check", "--deploy"], **documented_production_variables())

    assert result.returncode == 0, result.stderr
    # Not a single warning: the proxy, TLS, HSTS and cookie settings are all documented ones.
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_the_deployment_check_names_what_a_deployment_left_out():
    production = {**documented_production_variables(), "DJANGO_SECURE_HSTS_SECONDS": "0"}

    result = _run([sys.executable, "manage.py", "check", "--deploy"], **production)

    assert "security.W004" in result.stdout + result.stderr  # HSTS


# --- production names its database and broker ------------------------------------------------------


@pytest.mark.parametrize("missing", [("DATABASE_URL",), ("CELERY_BROKER_URL",), ("DATABASE_URL", "CELERY_BROKER_URL")])
def test_production_refuses_to_fall_back_to_the_embedded_database_or_broker(load, missing):
    env = {name: value for name, value in PRODUCTION_SERVICES.items() if name not in missing}

    with pytest.raises(ImproperlyConfigured, match=" and ".join(missing) + " must be set in production"):
        load(DJANGO_SECRET_KEY=PRODUCTION_KEY, **env)


def test_development_falls_back_to_sqlite_and_the_filesystem_broker(load):
    loaded = load(PORTAL_ENVIRONMENT="development")

    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["CELERY_BROKER_URL"] == "filesystem://"


# --- behind a TLS-terminating proxy ----------------------------------------------------------------


def production(load, **env: str) -> dict:
    return load(DJANGO_SECRET_KEY=PRODUCTION_KEY, **PRODUCTION_SERVICES, **env)


def test_the_proxy_s_forwarded_protocol_is_believed_only_when_asked(load):
    assert "SECURE_PROXY_SSL_HEADER" not in production(load)
    assert "SECURE_PROXY_SSL_HEADER" not in production(load, PORTAL_TRUST_X_FORWARDED_PROTO="false")

    trusting = production(load, PORTAL_TRUST_X_FORWARDED_PROTO="true")

    assert trusting["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_trusted_origins_are_a_comma_separated_list(load):
    loaded = production(load, DJANGO_CSRF_TRUSTED_ORIGINS="https://portal.example.com, https://ops.example.com:8443,")

    assert loaded["CSRF_TRUSTED_ORIGINS"] == ["https://portal.example.com", "https://ops.example.com:8443"]
    assert production(load)["CSRF_TRUSTED_ORIGINS"] == []


@pytest.mark.parametrize("origin", ["portal.example.com", "https://portal.example.com/accounts/", "*"])
def test_a_trusted_origin_without_its_scheme_or_with_a_path_is_refused(load, origin):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_CSRF_TRUSTED_ORIGINS takes scheme://host"):
        production(load, DJANGO_CSRF_TRUSTED_ORIGINS=origin)


def test_production_redirects_to_https_and_keeps_its_cookies_secure_by_default(load):
    loaded = production(load)

    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert (loaded["SESSION_COOKIE_SECURE"], loaded["CSRF_COOKIE_SECURE"]) == (True, True)


def test_development_serves_plain_http(load):
    loaded = load(PORTAL_ENVIRONMENT="development")

    assert loaded["SECURE_SSL_REDIRECT"] is False
    assert (loaded["SESSION_COOKIE_SECURE"], loaded["CSRF_COOKIE_SECURE"]) == (False, False)
    assert loaded["SECURE_HSTS_SECONDS"] == 0


def test_the_redirect_and_the_secure_cookies_can_be_turned_off(load):
    loaded = production(
        load, DJANGO_SECURE_SSL_REDIRECT="false", DJANGO_SESSION_COOKIE_SECURE="no", DJANGO_CSRF_COOKIE_SECURE="0"
    )

    assert (loaded["SECURE_SSL_REDIRECT"], loaded["SESSION_COOKIE_SECURE"], loaded["CSRF_COOKIE_SECURE"]) == (
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("path", "exempt"),
    [("healthz", True), ("readyz", True), ("metrics", True), ("healthz/", True), ("", False),
     ("accounts/login/", False), ("metrics/secret", False), ("admin/healthz", False)],
)  # fmt: skip
def test_only_the_load_balancer_s_probes_are_answered_over_plain_http(load, path, exempt):
    # SecurityMiddleware matches these against the path without its leading slash.
    patterns = production(load)["SECURE_REDIRECT_EXEMPT"]

    assert any(re.search(pattern, path) for pattern in patterns) is exempt


def test_hsts_is_off_until_a_deployment_says_how_long(load):
    assert production(load)["SECURE_HSTS_SECONDS"] == 0

    loaded = production(load, DJANGO_SECURE_HSTS_SECONDS="31536000", DJANGO_SECURE_HSTS_PRELOAD="true")

    assert (loaded["SECURE_HSTS_SECONDS"], loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"], loaded["SECURE_HSTS_PRELOAD"]) == (
        31536000,
        True,
        True,
    )
    assert production(load, DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="false")["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_SECURE_HSTS_SECONDS": "-1"}, r"DJANGO_SECURE_HSTS_SECONDS must be 0 \(off\) or more"),
        ({"DJANGO_SECURE_HSTS_SECONDS": "a year"}, "DJANGO_SECURE_HSTS_SECONDS must be a whole number"),
        ({"PORTAL_TRUST_X_FORWARDED_PROTO": "maybe"}, "PORTAL_TRUST_X_FORWARDED_PROTO must be true or false"),
        ({"DJANGO_SESSION_COOKIE_SECURE": "sometimes"}, "DJANGO_SESSION_COOKIE_SECURE must be true or false"),
    ],
)
def test_a_proxy_or_tls_value_that_cannot_be_meant_is_refused(load, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        production(load, **env)


# --- Content-Security-Policy and static files -------------------------------------------------------


def test_the_content_security_policy_allows_only_the_portal_s_own_files(load):
    directives = production(load)["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]

    assert directives == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
    assert "'unsafe-inline'" not in str(directives)


def test_with_single_sign_on_forms_may_lead_to_the_provider_s_authorization_endpoint(load):
    loaded = production(
        load,
        OIDC_RP_CLIENT_ID="portal",
        OIDC_OP_AUTHORIZATION_ENDPOINT="https://sso.example.com:8443/realms/ops/protocol/openid-connect/auth",
        OIDC_OP_TOKEN_ENDPOINT="https://sso.example.com:8443/token",
        OIDC_OP_USER_ENDPOINT="https://sso.example.com:8443/userinfo",
    )

    assert loaded["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["form-action"] == ["'self'", "https://sso.example.com:8443"]


def test_production_serves_compressed_static_files_under_hashed_names(load, tmp_path):
    loaded = production(load, PORTAL_STATIC_ROOT=str(tmp_path))

    assert loaded["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert loaded["STATIC_ROOT"] == tmp_path
    assert (loaded["WHITENOISE_USE_FINDERS"], loaded["WHITENOISE_AUTOREFRESH"]) == (False, False)


def test_development_serves_static_files_from_the_source_folders(load):
    loaded = load(PORTAL_ENVIRONMENT="development")

    assert loaded["STORAGES"]["staticfiles"]["BACKEND"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert (loaded["WHITENOISE_USE_FINDERS"], loaded["WHITENOISE_AUTOREFRESH"]) == (True, True)
