"""The settings fail closed: production unless PORTAL_ENVIRONMENT=development is said explicitly.

The settings module is run afresh with a chosen environment, in this process (quick) and, for the
entry points (manage.py, Celery, WSGI), as real processes that must refuse to start.
"""

from __future__ import annotations

import os
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


def test_the_deployment_check_has_nothing_to_say_about_debug_or_the_secret_key():
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy"],
        PORTAL_ENVIRONMENT="production",
        DJANGO_SECRET_KEY=PRODUCTION_KEY,
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        **PRODUCTION_SERVICES,
    )

    # Warnings only (the proxy and TLS settings are a deployment's own); never DEBUG or the key.
    assert result.returncode == 0, result.stderr
    assert "security.W018" not in result.stderr  # DEBUG
    assert "security.W009" not in result.stderr  # SECRET_KEY
