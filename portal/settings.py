"""Settings of the Integrations Portal, all read from environment variables.

Fail closed: unless PORTAL_ENVIRONMENT=development is set explicitly, these are production
settings, which refuse DEBUG, require DJANGO_SECRET_KEY, leave the sandbox app out and never point
AWS calls at the sandbox or sign them with dummy credentials (a production deployment names its
endpoint, or none, explicitly). A forgotten variable therefore stops the process instead of
serving with a published key. `make`, `.ci/run`, deploy/supervisord-dev.conf and the test run set
development.

In development the defaults serve a machine with no servers at all (SQLite, the local AWS sandbox).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_float, env_int, env_str
from portal.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# Production unless development is asked for by name: nothing (manage.py, Celery, WSGI) defaults
# it to development, so a deployment that forgets the variable gets the safe settings.
PORTAL_ENVIRONMENT = env_str("PORTAL_ENVIRONMENT", "production")
if PORTAL_ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured(f"PORTAL_ENVIRONMENT must be development or production, not {PORTAL_ENVIRONMENT!r}")
PRODUCTION = PORTAL_ENVIRONMENT == "production"

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG cannot be on in production")

_DEVELOPMENT_SECRET_KEY = "insecure-development-key-do-not-deploy"
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or ("" if PRODUCTION else _DEVELOPMENT_SECRET_KEY)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set: PORTAL_ENVIRONMENT is production (the default when it is not set; "
        "a development machine sets PORTAL_ENVIRONMENT=development)"
    )
if PRODUCTION and SECRET_KEY == _DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is the published development key; production needs its own")

ALLOWED_HOSTS = [
    h
    for h in (env_str("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,testserver") or "").split(",")
    if h
]

# --- Behind a TLS-terminating proxy: HTTPS, cookies, HSTS, CSRF origins ---------------------------
# The portal speaks plain HTTP to the proxy in front of it. Production defaults are the safe ones
# (secure cookies, HTTP redirected to HTTPS); what depends on the deployment is said explicitly.
# The proxy's X-Forwarded-Proto is believed only on request: a portal reachable without the proxy
# would otherwise take any client's word that the connection was encrypted.
if env_bool("PORTAL_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Origins (scheme://host[:port]) a form may be posted from besides the portal's own, e.g. the
# public name when the proxy rewrites Host.
CSRF_TRUSTED_ORIGINS = [o.strip() for o in (env_str("DJANGO_CSRF_TRUSTED_ORIGINS") or "").split(",") if o.strip()]
for _origin in CSRF_TRUSTED_ORIGINS:
    if not re.fullmatch(r"https?://[^/\s]+", _origin):
        raise ImproperlyConfigured(
            f"DJANGO_CSRF_TRUSTED_ORIGINS takes scheme://host[:port] origins, comma-separated, not {_origin!r}"
        )
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION)
# The load balancer's probes come over plain HTTP and must get their answer, not a redirect.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)/?$"]
# HSTS is off until a deployment sets how long browsers must remember it: a long value is hard to
# take back, so it is never guessed.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured("DJANGO_SECURE_HSTS_SECONDS must be 0 (off) or more")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", PRODUCTION)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # The Content-Security-Policy (below); installed for its system checks of the settings.
    "csp",
    "rest_framework",
    # API tokens stored as digests, shown once, expiring (replaces rest_framework.authtoken).
    "knox",
    # Sign-in failures recorded, and a username+address locked out after too many (see Accounts).
    "axes",
    "drf_spectacular",
    # Swagger UI's files for the API reference page (/api/reference/), served from here: no CDN.
    "drf_spectacular_sidecar",
    # Who changed targets, approval rules, users, groups, grants and tokens, from what to what
    # (integrations/config_history.py).
    "simple_history",
    "integrations",
]
if not PRODUCTION:
    # The local AWS sandbox and the development helpers (a development and test tool).
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    # Outermost: once a request is recorded, its answer stands even if a later step fails
    # (the session's save with the database gone, say) — integrations/committed.py.
    "integrations.committed.CommittedResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (whitenoise), before anything that needs a session or a signed-in user.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # An id for every HTTP request (the proxy's X-Request-ID, or a new one), on its log lines.
    "portal.logs.RequestIdMiddleware",
    # The Content-Security-Policy header (django-csp).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a signed-in user; the sign-in page itself is marked as the exception.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Names the signed-in person on every configuration change made during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Signs out a session idle for PORTAL_SESSION_IDLE_SECONDS or older than PORTAL_SESSION_MAX_SECONDS,
    # with a message; LoginRequiredMiddleware (its check comes after every middleware's own) then
    # sends the person to the sign-in page.
    "integrations.accounts.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns the sign-in attempt that reaches the failure limit into the lockout page (last, per axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
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
                "portal.context_processors.portal",
                # Whether the navigation offers Batches (the user may run an operation that takes files).
                "integrations.views.navigation",
            ],
        },
    },
]

VAR_DIR = Path(env_str("PORTAL_VAR_DIR") or BASE_DIR / "var")

# Production names its database and broker: it never falls back to the embedded defaults (a SQLite
# file and a broker on the local disk), which would lose work when the machine is replaced.
if PRODUCTION:
    _missing = [name for name in ("DATABASE_URL", "CELERY_BROKER_URL") if not env_str(name)]
    if _missing:
        raise ImproperlyConfigured(
            f"{' and '.join(_missing)} must be set in production (PostgreSQL; RabbitMQ or Redis): "
            "the embedded SQLite database and filesystem broker are for development only"
        )

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        # Persistent connections: opening one costs milliseconds of CPU on both sides, per request
        # or per task. A connection is checked before its first use in each request or task
        # (health checks), so one the server dropped is replaced instead of failing the request.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that drops packets must not hang a request, a worker's heartbeat or a sweep
    # for the operating system's TCP timeout (minutes): give up connecting after a few seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server, the worker and beat share one file: wait for locks instead of failing, and
    # take the write lock when a transaction starts so two writers never deadlock on an upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a worker process started by the tests sees the test database;
    # one per test run, so that two runs on one machine never delete each other's.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Supply Chain's data may hold 1,048,576 characters; urlencoded, one of up to 4 UTF-8 bytes takes
# 12 bytes. Let such a form through to its own validation instead of a bare 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024
# The largest form any registered operation can need (operations.largest_form_size(): AppIntegrations
# CreateDataIntegration, every bounded list and map at its model maximum, is 4,516 fields), plus
# the page's own few (target, CSRF token, the button pressed, the field checked) and a small
# margin; tests/integrations/test_trust_limits.py checks that it covers the largest form, and by
# no more than that margin. Django's default (1,000) answered a bare 400 below the models' maxima.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 4_600

# Static files are served by the web process itself (whitenoise, in MIDDLEWARE): in production from
# STATIC_ROOT, filled by `collectstatic` (make serve), under content-hashed names that may be cached
# for ever, and pre-compressed; in development straight from the source folders.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("PORTAL_STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Development (and the tests, whose DEBUG is off) serve the source folders as they change, with no
# collectstatic and no STATIC_ROOT; production reads STATIC_ROOT once, at start.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Single sign-on (optional) --------------------------------------------------------------------
# OpenID Connect through mozilla-django-oidc, on when a client id is configured; username and
# password sign-in stays available unless PORTAL_PASSWORD_SIGN_IN=false (Accounts, below).
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID") or ""
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if OIDC_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS.insert(0, "mozilla_django_oidc.auth.OIDCAuthenticationBackend")
    OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
    OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
    OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
    OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
    OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
    OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
    OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", True)
    missing = [
        name
        for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT")
        if not globals()[name]
    ]
    if missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set, so these are needed too: {', '.join(missing)}")

# --- Content-Security-Policy (django-csp) ---------------------------------------------------------
# Only the portal's own files run or style a page: no inline script or style (htmx's indicator style
# is in portal.css, templates/base.html turns its injection off), nothing framed, no plugins. The
# single sign-on button posts to a view that redirects to the provider, which form-action covers.
_FORM_ACTIONS = [SELF]
if OIDC_ENABLED:
    _authorization = urlsplit(OIDC_OP_AUTHORIZATION_ENDPOINT or "")
    _FORM_ACTIONS.append(f"{_authorization.scheme}://{_authorization.netloc}")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "form-action": _FORM_ACTIONS,
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# --- Accounts: password sign-in, passwords, sessions, lockout, mail ------------------------------
# Single sign-on only: the sign-in form and the admin's refuse passwords (integrations/accounts.py)
# and no backend checks one (the OIDC backend, a ModelBackend, still answers for permissions).
PORTAL_PASSWORD_SIGN_IN = env_bool("PORTAL_PASSWORD_SIGN_IN", True)
if not PORTAL_PASSWORD_SIGN_IN:
    if not OIDC_ENABLED:
        raise ImproperlyConfigured("PORTAL_PASSWORD_SIGN_IN=false needs single sign-on (OIDC_RP_CLIENT_ID and co.)")
    AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")

PORTAL_PASSWORD_MIN_LENGTH = env_int("PORTAL_PASSWORD_MIN_LENGTH", 12)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PORTAL_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A session ends after PORTAL_SESSION_IDLE_SECONDS without activity (the request page's once-a-second
# status polling is not activity) and PORTAL_SESSION_MAX_SECONDS after sign-in whatever happens.
PORTAL_SESSION_IDLE_SECONDS = env_int("PORTAL_SESSION_IDLE_SECONDS", 30 * 60)
PORTAL_SESSION_MAX_SECONDS = env_int("PORTAL_SESSION_MAX_SECONDS", 12 * 3600)
if not 0 < PORTAL_SESSION_IDLE_SECONDS <= PORTAL_SESSION_MAX_SECONDS:
    raise ImproperlyConfigured("PORTAL_SESSION_IDLE_SECONDS must be positive and at most PORTAL_SESSION_MAX_SECONDS")
SESSION_COOKIE_AGE = PORTAL_SESSION_MAX_SECONDS

# The address sign-in lockout and the API's failed-token throttle count by: REMOTE_ADDR, or, behind
# this many reverse proxies, the address they put in X-Forwarded-For (never a client's own claim).
PORTAL_TRUSTED_PROXY_COUNT = env_int("PORTAL_TRUSTED_PROXY_COUNT", 0)

# Sign-in lockout (django-axes): after PORTAL_LOGIN_FAILURE_LIMIT failed passwords for one username
# from one address, that pair is refused (HTTP 429, even with the right password) for the cool-off.
# Checked by the sign-in form and the admin's sign-in (integrations/accounts.py) rather than by
# AxesBackend, so AUTHENTICATION_BACKENDS stays Django's own; failures are recorded from Django's
# user_login_failed signal. Administrators see and clear attempts in the admin (Axes).
AXES_ENABLED = True
AXES_FAILURE_LIMIT = env_int("PORTAL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("PORTAL_LOGIN_COOLOFF_SECONDS", 15 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "integrations.accounts.client_ip"
# The lockout is enforced by the views, not by AxesBackend (see above).
SILENCED_SYSTEM_CHECKS = ["axes.W003"]
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("PORTAL_LOGIN_FAILURE_LIMIT must be at least 1")

# Mail, needed only by password reset: the reset pages exist only when EMAIL_HOST is set (and
# password sign-in is on); without mail they answer 404 and the sign-in page does not offer them.
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST") or ""
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "portal@localhost"

# --- The automation API ---------------------------------------------------------------------------
# API tokens (django-rest-knox): `Authorization: Token <key>`; only a digest is stored; each expires
# PORTAL_API_TOKEN_TTL_HOURS after it is made; their owners make and revoke them at /accounts/tokens/.
PORTAL_API_TOKEN_TTL_HOURS = env_int("PORTAL_API_TOKEN_TTL_HOURS", 90 * 24)
if PORTAL_API_TOKEN_TTL_HOURS < 1:
    raise ImproperlyConfigured("PORTAL_API_TOKEN_TTL_HOURS must be at least 1")
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=PORTAL_API_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# Guessing tokens: an address whose wrong tokens (well-formed, matching none) reach this rate gets 429
# (Retry-After) for any token until the window has passed. A token has no username to lock, so the
# address is what is throttled; counts live in the default cache (per process unless CACHES is shared).
PORTAL_API_TOKEN_FAILURE_RATE = env_str("PORTAL_API_TOKEN_FAILURE_RATE") or "10/min"
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", PORTAL_API_TOKEN_FAILURE_RATE):
    raise ImproperlyConfigured("PORTAL_API_TOKEN_FAILURE_RATE must look like 10/min (per s, min, hour or day)")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.api.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_RATES": {"api_token_failures": PORTAL_API_TOKEN_FAILURE_RATE},
    "NUM_PROXIES": PORTAL_TRUSTED_PROXY_COUNT,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integrations Portal API",
    "DESCRIPTION": "Run AWS operations through the portal's validation, permissions, approvals and audit. "
    "Authenticate with `Authorization: Token <key>` (make one at /accounts/tokens/; it is shown once).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The document is served like the rest of the API: to signed-in callers (a token or the session).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API reference page: Swagger UI from drf-spectacular-sidecar's files (works offline, and the
    # Content-Security-Policy allows only the portal's own scripts). No validator badge: it would load
    # an image from swagger.io, which the policy refuses (and it would send the schema's address there).
    # No deep links (each would be a link inside the operation's button: axe's nested-interactive), and no
    # syntax colours (its themes' colours fall under 4.5:1 contrast on their own backgrounds).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None, "syntaxHighlight": False},
    # Requests and resources both have a "status": each its own named enum in the document.
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "integrations.models.RequestStatus",
        "ResourceStatusEnum": "integrations.models.ResourceStatus",
        "BatchStatusEnum": "integrations.models.BatchStatus",
    },
}

# --- AWS ------------------------------------------------------------------------------------------
# Credentials come only from boto3's standard chain (environment, profile, instance role).
AWS_SANDBOX_HOST = env_str("AWS_SANDBOX_HOST", "127.0.0.1")
AWS_SANDBOX_PORT = env_int("AWS_SANDBOX_PORT", 4580)
# The endpoint AWS calls go to. Development defaults to the local sandbox; production defaults to
# the real AWS endpoints (None) and only ever talks to what it is explicitly given.
AWS_ENDPOINT_URL = env_str("PORTAL_AWS_ENDPOINT_URL") or (
    None if PRODUCTION else f"http://{AWS_SANDBOX_HOST}:{AWS_SANDBOX_PORT}"
)
AWS_DEFAULT_REGION: str = env_str("AWS_DEFAULT_REGION") or "us-east-1"
# Where targets' roles are assumed; None is AWS's own STS endpoint.
AWS_STS_ENDPOINT_URL = env_str("PORTAL_AWS_STS_ENDPOINT_URL") or None
# The sandbox checks signatures' shape, not their secret: when the portal talks to it and boto3's
# chain finds no credentials, dummy ones are used. Never in production.
AWS_SANDBOX_CREDENTIALS = not PRODUCTION and env_bool("PORTAL_AWS_SANDBOX_CREDENTIALS", True)
# botocore retries nothing itself (every send is one recorded attempt); these bound each send.
AWS_CONNECT_TIMEOUT = env_float("PORTAL_AWS_CONNECT_TIMEOUT", 5.0)
AWS_READ_TIMEOUT = env_float("PORTAL_AWS_READ_TIMEOUT", 20.0)

# --- Pickers: a form's choices, listed from the target by the web process (integrations/choices.py) ---
# A web request waits for these List calls, so each send is bounded more tightly than a worker's.
PORTAL_CHOICES_CONNECT_TIMEOUT = env_float("PORTAL_CHOICES_CONNECT_TIMEOUT", 2.0)
PORTAL_CHOICES_READ_TIMEOUT = env_float("PORTAL_CHOICES_READ_TIMEOUT", 5.0)
# How long one person's choices of one member in one target are kept before they are listed again.
PORTAL_CHOICES_CACHE_SECONDS = env_int("PORTAL_CHOICES_CACHE_SECONDS", 60)
# At most this many choices (and pages) are listed for one member; beyond it, "type to narrow".
PORTAL_CHOICES_MAX_ITEMS = env_int("PORTAL_CHOICES_MAX_ITEMS", 1000)
PORTAL_CHOICES_MAX_PAGES = env_int("PORTAL_CHOICES_MAX_PAGES", 20)
if PORTAL_CHOICES_CONNECT_TIMEOUT <= 0 or PORTAL_CHOICES_READ_TIMEOUT <= 0:
    raise ImproperlyConfigured("PORTAL_CHOICES_CONNECT_TIMEOUT and PORTAL_CHOICES_READ_TIMEOUT must be positive")
if PORTAL_CHOICES_CACHE_SECONDS < 0 or PORTAL_CHOICES_MAX_ITEMS < 1 or PORTAL_CHOICES_MAX_PAGES < 1:
    raise ImproperlyConfigured(
        "PORTAL_CHOICES_CACHE_SECONDS must be 0 or more; PORTAL_CHOICES_MAX_ITEMS and "
        "PORTAL_CHOICES_MAX_PAGES at least 1"
    )

# --- Retries and the hand-off to workers ----------------------------------------------------------
# Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**(n-1))).
PORTAL_RETRY_MAX_ATTEMPTS = env_int("PORTAL_RETRY_MAX_ATTEMPTS", 6)
PORTAL_RETRY_BASE_SECONDS = env_float("PORTAL_RETRY_BASE_SECONDS", 1.0)
PORTAL_RETRY_CAP_SECONDS = env_float("PORTAL_RETRY_CAP_SECONDS", 60.0)
# How long a worker may hold a request before another may take it over (it must outlast a call).
PORTAL_LEASE_SECONDS = env_float("PORTAL_LEASE_SECONDS", AWS_CONNECT_TIMEOUT + AWS_READ_TIMEOUT + 30)
# A request queued (or due for retry) this long without a worker picking it up is handed over again.
PORTAL_STUCK_AFTER_SECONDS = env_float("PORTAL_STUCK_AFTER_SECONDS", 30.0)
# How often beat asks the housekeeping worker to hand over due retries and lost requests: retries
# and lease re-checks are scheduled from the database, not as countdown messages in the broker.
PORTAL_SWEEP_INTERVAL_SECONDS = env_float("PORTAL_SWEEP_INTERVAL_SECONDS", 1.0)
# A request waiting in the queue this long is sent again even if the broker's queue seems to hold
# it (a bound on what a miscounted queue can delay; duplicates are no-ops).
PORTAL_RESEND_AFTER_SECONDS = env_float("PORTAL_RESEND_AFTER_SECONDS", 900.0)

if PORTAL_RETRY_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("PORTAL_RETRY_MAX_ATTEMPTS must be at least 1")
if PORTAL_LEASE_SECONDS <= AWS_CONNECT_TIMEOUT + AWS_READ_TIMEOUT:
    raise ImproperlyConfigured("PORTAL_LEASE_SECONDS must be longer than one AWS call can take")
# The whole retry window must end well inside the client token's life (8 hours for Supply Chain
# and AppFlow), or a late retry could create a second resource.
_RETRY_WINDOW = PORTAL_RETRY_MAX_ATTEMPTS * (PORTAL_RETRY_CAP_SECONDS + PORTAL_LEASE_SECONDS)
if _RETRY_WINDOW > 4 * 3600:
    raise ImproperlyConfigured("the retry window (attempts × (cap + lease)) must stay under 4 hours")

# --- Celery ---------------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, which needs no server. It can lose a message on
# a hard kill; the request rows and the sweeper are the source of truth, so nothing is lost.
# Every choice below answers a trap in docs/aws-operations.md#traps-we-design-around: late acks
# so a dying worker's task comes back, bounded broker timeouts so a submit never hangs on a silent
# broker, and no result backend because the database rows are the record of what happened.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_DIR = Path(env_str("CELERY_BROKER_DIR") or VAR_DIR / "broker")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    # Publishing gives up quickly: a request the broker did not take stays queued in the database
    # and the sweeper hands it over later.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.25,
    "interval_max": 0.5,
}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        socket_timeout=2,
        socket_connect_timeout=2,
        # Unacked messages come back after this; a task (one AWS call) is far shorter, and the
        # pipeline sends no countdown messages (retries are scheduled in the database).
        visibility_timeout=3600,
    )
    # kombu's Redis transport with the fix that keeps a worker alive through a Redis restart
    # (integrations/broker.py says what kombu 5.7.0 does wrong).
    CELERY_BROKER_TRANSPORT = "integrations.broker:RedisTransport"
elif CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        data_folder_in=str(CELERY_BROKER_DIR / "queue"),
        data_folder_out=str(CELERY_BROKER_DIR / "queue"),
        processed_folder=str(CELERY_BROKER_DIR / "processed"),
        control_folder=str(CELERY_BROKER_DIR / "control"),
        store_processed=False,
        polling_interval=0.2,
    )
elif CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ, the recommended production broker: real acknowledgements (no visibility timeout
    # to outlive, no restore of unacked messages on reconnect) and publisher confirms, so a
    # publish returns only once the broker has taken the message.
    CELERY_BROKER_TRANSPORT_OPTIONS.update(confirm_publish=True)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Three queues: first attempts; retries, takeovers and re-sent requests (due now, and not to wait
# behind a long queue of first attempts); and the housekeeping (sweeps), which must never wait
# behind AWS calls. `make serve` runs workers on the first two and a housekeeper on the third; a
# worker started without -Q consumes all three.
# PORTAL_QUEUE_PREFIX lets several portals (or test runs) share one broker without taking each
# other's messages.
PORTAL_QUEUE_PREFIX = env_str("PORTAL_QUEUE_PREFIX") or ""
PORTAL_WORK_QUEUE = f"{PORTAL_QUEUE_PREFIX}requests"
PORTAL_RETRY_QUEUE = f"{PORTAL_QUEUE_PREFIX}retries"
PORTAL_HOUSEKEEPING_QUEUE = f"{PORTAL_QUEUE_PREFIX}housekeeping"
# A fourth queue for the requests of uploaded batches, so that a single request never waits behind
# a batch: `make serve` runs a worker of its own on it (deploy/supervisord.conf).
PORTAL_BULK_QUEUE = f"{PORTAL_QUEUE_PREFIX}bulk"
CELERY_TASK_DEFAULT_QUEUE = PORTAL_WORK_QUEUE
CELERY_TASK_QUEUES: dict[str, dict] = {
    PORTAL_WORK_QUEUE: {},
    PORTAL_RETRY_QUEUE: {},
    PORTAL_HOUSEKEEPING_QUEUE: {},
    PORTAL_BULK_QUEUE: {},
}
# The sweeps and the reconciliation's selection are quick database work for the housekeeper; the
# reads of resources (check_resource) go to the retry queue, which the workers that call AWS consume.
CELERY_TASK_ROUTES = {
    "integrations.tasks.sweep_stuck_requests": {"queue": PORTAL_HOUSEKEEPING_QUEUE},
    "integrations.tasks.reconcile_resources": {"queue": PORTAL_HOUSEKEEPING_QUEUE},
    "integrations.tasks.check_resource": {"queue": PORTAL_RETRY_QUEUE},
    # Notifications: beat's selection of due messages is housekeeping; the fan-out and the sends
    # (network calls with a short timeout) go to the workers' retry queue, like the resource checks.
    "integrations.tasks.send_due_notifications": {"queue": PORTAL_HOUSEKEEPING_QUEUE},
    "integrations.tasks.fan_out_notifications": {"queue": PORTAL_RETRY_QUEUE},
    "integrations.tasks.deliver_notification": {"queue": PORTAL_RETRY_QUEUE},
    # Batches: beat's feeding is housekeeping; recording a submitted file's requests is bulk work.
    "integrations.tasks.feed_batches": {"queue": PORTAL_HOUSEKEEPING_QUEUE},
    "integrations.tasks.check_batch": {"queue": PORTAL_BULK_QUEUE},
    "integrations.tasks.record_batch": {"queue": PORTAL_BULK_QUEUE},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5}
CELERY_TASK_ACKS_LATE = True
# Celery's Django fix-up closes the database connection around every task unless this is set: a
# pool process keeps its connection for this many tasks (CONN_MAX_AGE and the health check still
# apply: integrations/tasks.py). Pool processes never share the parent's connection: the fix-up
# drops it in each child when the pool starts it.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# When the broker connection drops, a task in the middle of its AWS call finishes it and records the
# outcome (the database, not the broker, is the record); cancelling it would only turn a call that
# may have succeeded into an interrupted attempt. Said explicitly: Celery plans to change the default.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SOFT_TIME_LIMIT = PORTAL_LEASE_SECONDS - 5
CELERY_TASK_TIME_LIMIT = PORTAL_LEASE_SECONDS
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# --- Resources: confirmation and reconciliation (integrations/resources.py) -------------------------
# Each created resource is read back from AWS again this often, to find those changed or deleted
# outside the portal; beat sends the due ones every PORTAL_RECONCILE_INTERVAL_SECONDS, at most
# PORTAL_RECONCILE_CHECKS_PER_MINUTE per target (so one account is never flooded with reads).
PORTAL_RECONCILE_EVERY_SECONDS = env_float("PORTAL_RECONCILE_EVERY_SECONDS", 6 * 3600.0)
PORTAL_RECONCILE_INTERVAL_SECONDS = env_float("PORTAL_RECONCILE_INTERVAL_SECONDS", 30.0)
PORTAL_RECONCILE_CHECKS_PER_MINUTE = env_int("PORTAL_RECONCILE_CHECKS_PER_MINUTE", 60)
if PORTAL_RECONCILE_EVERY_SECONDS <= 0 or PORTAL_RECONCILE_INTERVAL_SECONDS <= 0:
    raise ImproperlyConfigured("PORTAL_RECONCILE_EVERY_SECONDS and PORTAL_RECONCILE_INTERVAL_SECONDS must be positive")
if PORTAL_RECONCILE_CHECKS_PER_MINUTE < 1:
    raise ImproperlyConfigured("PORTAL_RECONCILE_CHECKS_PER_MINUTE must be at least 1")

# --- Notifications (integrations/notifications.py) -------------------------------------------------
# E-mail goes through the EMAIL_* settings above (only when EMAIL_HOST is set); webhooks get a
# Slack-compatible JSON POST. Links in messages start with PORTAL_BASE_URL, the portal's address
# as people reach it (https://portal.example.com); set it in production, where it has no default.
PORTAL_BASE_URL = (env_str("PORTAL_BASE_URL") or ("" if PRODUCTION else "http://127.0.0.1:8000")).rstrip("/")
if PORTAL_BASE_URL and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", PORTAL_BASE_URL):
    raise ImproperlyConfigured(
        f"PORTAL_BASE_URL must be an http(s) URL such as https://portal.example.com, not {PORTAL_BASE_URL!r}"
    )
# One send (SMTP conversation or webhook POST) gives up after this; a failed one is tried again
# after base·2ⁿ⁻¹ seconds (capped, jittered), and given up as failed after the last attempt.
PORTAL_NOTIFICATION_TIMEOUT_SECONDS = env_float("PORTAL_NOTIFICATION_TIMEOUT_SECONDS", 5.0)
PORTAL_NOTIFICATION_MAX_ATTEMPTS = env_int("PORTAL_NOTIFICATION_MAX_ATTEMPTS", 6)
PORTAL_NOTIFICATION_RETRY_BASE_SECONDS = env_float("PORTAL_NOTIFICATION_RETRY_BASE_SECONDS", 30.0)
PORTAL_NOTIFICATION_RETRY_CAP_SECONDS = env_float("PORTAL_NOTIFICATION_RETRY_CAP_SECONDS", 3600.0)
# How often beat hands over the messages that are due (retries, and any whose message was lost).
PORTAL_NOTIFICATION_INTERVAL_SECONDS = env_float("PORTAL_NOTIFICATION_INTERVAL_SECONDS", 10.0)
if PORTAL_NOTIFICATION_TIMEOUT_SECONDS <= 0 or PORTAL_NOTIFICATION_INTERVAL_SECONDS <= 0:
    raise ImproperlyConfigured(
        "PORTAL_NOTIFICATION_TIMEOUT_SECONDS and PORTAL_NOTIFICATION_INTERVAL_SECONDS must be positive"
    )
if PORTAL_NOTIFICATION_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("PORTAL_NOTIFICATION_MAX_ATTEMPTS must be at least 1")
if not 0 < PORTAL_NOTIFICATION_RETRY_BASE_SECONDS <= PORTAL_NOTIFICATION_RETRY_CAP_SECONDS:
    raise ImproperlyConfigured(
        "PORTAL_NOTIFICATION_RETRY_BASE_SECONDS must be positive and at most PORTAL_NOTIFICATION_RETRY_CAP_SECONDS"
    )

CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-requests": {
        "task": "integrations.tasks.sweep_stuck_requests",
        "schedule": PORTAL_SWEEP_INTERVAL_SECONDS,
        # A sweep nobody ran in time is dropped, not piled up: the next one does the same work.
        "options": {"expires": max(5.0, 5 * PORTAL_SWEEP_INTERVAL_SECONDS)},
    },
    "reconcile-resources": {
        "task": "integrations.tasks.reconcile_resources",
        "schedule": PORTAL_RECONCILE_INTERVAL_SECONDS,
        "options": {"expires": max(5.0, PORTAL_RECONCILE_INTERVAL_SECONDS)},
    },
    "feed-batches": {
        "task": "integrations.tasks.feed_batches",
        "schedule": PORTAL_SWEEP_INTERVAL_SECONDS,
        "options": {"expires": max(5.0, 5 * PORTAL_SWEEP_INTERVAL_SECONDS)},
    },
    "send-due-notifications": {
        "task": "integrations.tasks.send_due_notifications",
        "schedule": PORTAL_NOTIFICATION_INTERVAL_SECONDS,
        "options": {"expires": max(5.0, PORTAL_NOTIFICATION_INTERVAL_SECONDS)},
    },
}

# --- Batches and rate limits (integrations/batches.py, integrations/rate_limits.py) ----------------
# An uploaded file of events: at most this many lines and bytes (it is streamed to a temporary file,
# never held in memory, and checked line by line).
PORTAL_BATCH_MAX_LINES = env_int("PORTAL_BATCH_MAX_LINES", 100_000)
PORTAL_BATCH_MAX_BYTES = env_int("PORTAL_BATCH_MAX_BYTES", 512 * 1024 * 1024)
# How many of a batch's requests may be in the broker or running at once; the rest wait in the
# database, and the feeder (beat, every PORTAL_SWEEP_INTERVAL_SECONDS) and each finished request
# hand over more.
PORTAL_BULK_IN_FLIGHT = env_int("PORTAL_BULK_IN_FLIGHT", 32)
# A draft (uploaded, checked, never submitted) is discarded after this long.
PORTAL_BATCH_DRAFT_HOURS = env_int("PORTAL_BATCH_DRAFT_HOURS", 24)
if (
    PORTAL_BATCH_MAX_LINES < 1
    or PORTAL_BATCH_MAX_BYTES < 1
    or PORTAL_BULK_IN_FLIGHT < 1
    or PORTAL_BATCH_DRAFT_HOURS < 1
):
    raise ImproperlyConfigured(
        "PORTAL_BATCH_MAX_LINES, PORTAL_BATCH_MAX_BYTES, PORTAL_BULK_IN_FLIGHT and PORTAL_BATCH_DRAFT_HOURS "
        "must be at least 1"
    )


def _rate(text: str, name: str) -> tuple[float, float]:
    """ "RATE" or "RATE/BURST" (calls a second, and the bucket's size; 0 is no limit)."""
    rate_text, _, burst_text = text.strip().partition("/")
    try:
        rate = float(rate_text)
        burst = float(burst_text) if burst_text else max(1.0, rate)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: {text!r} is not RATE or RATE/BURST (numbers)") from None
    if not (0 <= rate < float("inf")) or not (1 <= burst < float("inf")):
        raise ImproperlyConfigured(f"{name}: the rate must be 0 or more and the burst at least 1 ({text!r})")
    return rate, burst


# Calls a second (and a burst) per AWS account, region and service, shared by every worker. The
# defaults stay below the rates AWS documents for these control-plane APIs; raise them to your
# account's quotas (Service Quotas) when AWS grants more. "service=RATE[/BURST],..."; 0 turns a
# limit off.
PORTAL_RATE_LIMIT_DEFAULT = _rate(env_str("PORTAL_RATE_LIMIT_DEFAULT") or "5/5", "PORTAL_RATE_LIMIT_DEFAULT")
PORTAL_RATE_LIMITS: dict[str, tuple[float, float]] = {"supplychain": (10.0, 10.0)}
for _item in filter(None, (item.strip() for item in (env_str("PORTAL_RATE_LIMITS") or "").split(","))):
    _service, _sep, _value = _item.partition("=")
    if not _sep or not _service.strip():
        raise ImproperlyConfigured(f"PORTAL_RATE_LIMITS: {_item!r} is not service=RATE[/BURST]")
    PORTAL_RATE_LIMITS[_service.strip()] = _rate(_value, "PORTAL_RATE_LIMITS")
# The share of each bucket a batch's requests leave for single (interactive) requests.
PORTAL_RATE_INTERACTIVE_RESERVE = env_float("PORTAL_RATE_INTERACTIVE_RESERVE", 0.2)
if not 0 <= PORTAL_RATE_INTERACTIVE_RESERVE < 1:
    raise ImproperlyConfigured("PORTAL_RATE_INTERACTIVE_RESERVE must be at least 0 and below 1")

# --- Watching it: health, readiness, metrics, logs --------------------------------------------------
# Workers and beat write a heartbeat row this often; /readyz wants one from a worker and from beat
# no older than PORTAL_READY_HEARTBEAT_AGE_SECONDS.
PORTAL_HEARTBEAT_SECONDS = env_float("PORTAL_HEARTBEAT_SECONDS", 5.0)
PORTAL_READY_HEARTBEAT_AGE_SECONDS = env_float("PORTAL_READY_HEARTBEAT_AGE_SECONDS", 30.0)
if PORTAL_READY_HEARTBEAT_AGE_SECONDS <= PORTAL_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("PORTAL_READY_HEARTBEAT_AGE_SECONDS must be longer than PORTAL_HEARTBEAT_SECONDS")
# Beat's scheduler writes beat's heartbeat from its tick (workers write theirs from a bootstep).
CELERY_BEAT_SCHEDULER = "integrations.heartbeats.HeartbeatScheduler"
# /metrics (Prometheus) answers only with `Authorization: Bearer <PORTAL_METRICS_TOKEN>`; unset, it is off.
PORTAL_METRICS_TOKEN = env_str("PORTAL_METRICS_TOKEN") or ""
# plain (a line of text) or json (one JSON object per line, with the request id, attempt and client
# token on every pipeline line).
PORTAL_LOG_FORMAT = env_str("PORTAL_LOG_FORMAT") or "plain"
if PORTAL_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"PORTAL_LOG_FORMAT must be plain or json, not {PORTAL_LOG_FORMAT!r}")

LOGGING = logging_config(PORTAL_LOG_FORMAT, env_str("PORTAL_LOG_LEVEL") or "INFO")
