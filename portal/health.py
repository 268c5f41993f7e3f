"""/healthz (the process answers) and /readyz (it can do its work), for load balancers and orchestrators.

Both are open (a probe has no account), read no session and set no cookie, and are cheap enough
to be called every few seconds. /readyz says which check failed in a few plain words and nothing
more: no host, URL, user name or driver message, since anyone who can reach the port can read it.
Whatever fails, it answers 503, never 500: a probe must be able to tell "not ready" from "broken".
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from integrations.models import ProcessHeartbeat

logger = logging.getLogger(__name__)

# A broker that takes longer than this to accept a connection is not ready, whatever the reason.
BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str = ""

    def as_json(self) -> dict[str, str]:
        return {"status": "ok"} if self.ok else {"status": "failed", "reason": self.reason}


@login_not_required
@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and answering; nothing else is checked (a restart would not fix it)."""
    return HttpResponse("ok", content_type="text/plain")


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver failure means the same thing to a probe
        logger.warning("Readiness: the database is unavailable (%s)", type(error).__name__)
        return Check(False, "unavailable")
    return Check(True)


def check_broker() -> Check:
    """One connection to the broker, given up after BROKER_TIMEOUT_SECONDS; no message is sent."""
    from portal.celery import app

    try:
        # ensure_connection's timeout bounds its retries, not one blocking read: a Redis that takes
        # the connection and never answers needs the socket timeouts (other transports ignore them).
        bounded = {"socket_timeout": BROKER_TIMEOUT_SECONDS, "socket_connect_timeout": BROKER_TIMEOUT_SECONDS}
        with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=bounded) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as error:  # refused, timed out, bad credentials: all "unavailable" to a probe
        logger.warning("Readiness: the broker is unavailable (%s)", type(error).__name__)
        return Check(False, "unavailable")
    return Check(True)


def check_heartbeats(now: dt.datetime) -> dict[str, Check]:
    """A worker and beat, each seen within PORTAL_READY_HEARTBEAT_AGE_SECONDS (one query)."""
    max_age = settings.PORTAL_READY_HEARTBEAT_AGE_SECONDS
    try:
        latest = dict(
            ProcessHeartbeat.objects.order_by().values("kind").annotate(seen=Max("seen_at")).values_list("kind", "seen")
        )
    except Exception as error:
        logger.warning("Readiness: could not read the heartbeats (%s)", type(error).__name__)
        return heartbeats_unknown()
    checks = {}
    for kind in ProcessHeartbeat.Kind:
        seen = latest.get(kind)
        if seen is None:
            checks[kind.value] = Check(False, f"no {kind.label.lower()} has ever been seen")
        elif (now - seen).total_seconds() > max_age:
            checks[kind.value] = Check(False, f"no {kind.label.lower()} seen in the last {max_age:g} s")
        else:
            checks[kind.value] = Check(True)
    return checks


def heartbeats_unknown() -> dict[str, Check]:
    return {kind.value: Check(False, "unknown: the database is unavailable") for kind in ProcessHeartbeat.Kind}


@login_not_required
@require_safe
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database, the broker, a worker and beat are all there; 503 naming what is not."""
    checks = {"database": check_database(), "broker": check_broker()}
    # With the database down the heartbeats cannot be read: not asked again, a probe stays cheap.
    checks.update(check_heartbeats(timezone.now()) if checks["database"].ok else heartbeats_unknown())
    ready = all(check.ok for check in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": {name: c.as_json() for name, c in checks.items()}}
    return JsonResponse(body, status=200 if ready else 503)
