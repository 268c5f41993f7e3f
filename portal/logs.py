"""Logging configuration: plain lines for people, or JSON lines for a log pipeline.

Every process (web, worker, beat, manage.py) logs through the root logger's one console handler,
Celery's and Django's own lines included, so ``PORTAL_LOG_FORMAT`` decides the shape of every line.
What ``integrations.log_context.bound`` has bound (the request, the attempt, the client token,
the HTTP request id) rides on every record: JSON keys, or ``[request=12 attempt=2 token=…]`` at
the end of a plain line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from integrations import log_context

if TYPE_CHECKING:  # the settings import this module before Django is set up
    from django.http import HttpRequest, HttpResponse

# At DEBUG, botocore and urllib3 log whole request bodies and Django logs every SQL query with its
# parameters, sensitive members included (Supply Chain's data): they never log below INFO,
# whatever the root level.
_NEVER_BELOW_INFO = ("botocore", "boto3", "urllib3", "s3transfer", "django.db.backends")

# Short names for the bound values at the end of a plain line; other names are shown as they are.
_PLAIN_LABELS = {"request_id": "request", "client_token": "token", "http_request_id": "http_request"}


class ContextFilter(logging.Filter):
    """Copies what is bound in the logging thread onto the record, where the formatters read it.

    On the handler, not on a logger: a handler's filters see every record that reaches it,
    including those propagated from other loggers (Celery's, Django's, botocore's).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.portal_context = dict(log_context.current())
        return True


def _context_of(record: logging.LogRecord) -> dict[str, object]:
    # A handler configured without the filter still gets what is bound in this thread.
    context = getattr(record, "portal_context", None)
    return context if isinstance(context, dict) else dict(log_context.current())


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message [request=12 attempt=2 token=…]``; the brackets only when bound."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        # Before the traceback (which Formatter.format appends), so the ids stay on the first line.
        line = super().formatMessage(record)
        context = _context_of(record)
        if not context:
            return line
        pairs = " ".join(f"{_PLAIN_LABELS.get(name, name)}={value}" for name, value in context.items())
        return f"{line} [{pairs}]"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, exception, context.

    A traceback is one string under ``exception`` (its newlines escaped), so a line is a record.
    Bound names never replace the record's own keys. Non-ASCII is escaped, so a line is valid
    whatever the stream's encoding.
    """

    _OWN_KEYS = ("time", "level", "logger", "message", "exception", "stack")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name, value in _context_of(record).items():
            if name not in self._OWN_KEYS:
                entry[name] = value
        return json.dumps(entry, default=str)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting for ``log_format`` (plain or json) at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"plain": {"()": PlainFormatter}, "json": {"()": JsonFormatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if log_format == "json" else "plain",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's defaults give these their own handlers (runserver's access lines in its own
            # format, django's errors twice under DEBUG): through the root's handler instead.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            **{name: {"level": "INFO"} for name in _NEVER_BELOW_INFO},
        },
    }


# What a proxy's X-Request-ID may be to be kept: short, and nothing that could forge a log line
# or a header (no spaces, quotes, newlines or control characters).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_for(request: HttpRequest) -> str:
    """The proxy's X-Request-ID when it looks sane, else a new one, so lines can be matched across hops."""
    given = request.headers.get("X-Request-ID", "")
    return given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every HTTP request an id: bound on its log lines and returned as ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        # Django turns a view's exception into a response (and logs it) inside get_response, so
        # the error's own line carries the id too.
        with log_context.bound(http_request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def celery_loggers_through_root(**kwargs: object) -> None:
    """Celery's ``after_setup_task_logger``: its task logger and billiard's pool logger (which says
    a pool process died) through the root's handler too.

    Celery gives both a handler of its own, in its own plain format, and stops them propagating;
    without this a JSON log would carry the worker-death lines, those most worth alerting on,
    as plain text.
    """
    for name in ("celery.task", "multiprocessing"):
        celery_logger = logging.getLogger(name)
        for handler in list(celery_logger.handlers):
            celery_logger.removeHandler(handler)
        celery_logger.propagate = True
