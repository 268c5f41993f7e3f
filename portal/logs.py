"""Logging configuration: plain lines for people, or JSON lines for a log pipeline."""

from __future__ import annotations

from typing import Any

# At DEBUG, botocore and urllib3 log whole request bodies and Django logs every SQL query with its
# parameters, sensitive members included (Supply Chain's data): they never log below INFO,
# whatever the root level.
_NEVER_BELOW_INFO = ("botocore", "boto3", "urllib3", "s3transfer", "django.db.backends")


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting for ``log_format`` (plain or json) at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {name: {"level": "INFO"} for name in _NEVER_BELOW_INFO},
    }


class RequestIdMiddleware:
    """Placeholder: gives every HTTP request an id for its log lines (filled in by issue 11's logging work)."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        return self.get_response(request)
