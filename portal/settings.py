"""Settings of the Integrations Portal, all read from environment variables.

The defaults serve a developer's machine with no servers at all (SQLite, the local AWS sandbox).
Production is chosen with PORTAL_ENVIRONMENT=production, which refuses DEBUG and never points
AWS calls at the sandbox: a production deployment names its endpoint (or none) explicitly.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

PORTAL_ENVIRONMENT = env_str("PORTAL_ENVIRONMENT", "development")
if PORTAL_ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured("PORTAL_ENVIRONMENT must be development or production")
PRODUCTION = PORTAL_ENVIRONMENT == "production"

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG cannot be on in production")

SECRET_KEY = env_str("DJANGO_SECRET_KEY") or ("" if PRODUCTION else "insecure-development-key-do-not-deploy")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")

ALLOWED_HOSTS = [
    h
    for h in (env_str("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,testserver") or "").split(",")
    if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- AWS ------------------------------------------------------------------------------------------
# Credentials come only from boto3's standard chain (environment, profile, instance role).
AWS_SANDBOX_HOST = env_str("AWS_SANDBOX_HOST", "127.0.0.1")
AWS_SANDBOX_PORT = env_int("AWS_SANDBOX_PORT", 4580)
# The endpoint AWS calls go to. Development defaults to the local sandbox; production defaults to
# the real AWS endpoints (None) and only ever talks to what it is explicitly given.
AWS_ENDPOINT_URL = env_str("PORTAL_AWS_ENDPOINT_URL") or (
    None if PRODUCTION else f"http://{AWS_SANDBOX_HOST}:{AWS_SANDBOX_PORT}"
)
AWS_DEFAULT_REGION = env_str("AWS_DEFAULT_REGION", "us-east-1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PORTAL_LOG_LEVEL", "INFO")},
}
