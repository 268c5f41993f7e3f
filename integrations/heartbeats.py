"""Workers and beat say they are alive, in the database, every PORTAL_HEARTBEAT_SECONDS.

The web servers share only the database with them: a row per process, with when it was last
seen, is what /readyz and the metrics read to tell whether anything consumes the queues and
schedules the sweeps. A heartbeat that cannot be written (the database is down) is one log line,
never a dead process: the worker or beat carries on and the next beat tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from integrations.models import ProcessHeartbeat

logger = logging.getLogger(__name__)


def write(name: str, kind: str, started_at: dt.datetime) -> bool:
    """Record that process ``name`` is alive now; False (and one line logged) if the database refused.

    The connection is closed afterwards: a worker's main process forks pool children at any time
    (a child that died or reached its task limit is replaced), and a child must never inherit an
    open database connection. One connection every few seconds costs next to nothing.
    """
    try:
        ProcessHeartbeat.objects.update_or_create(
            name=name, defaults={"kind": kind, "seen_at": timezone.now(), "started_at": started_at}
        )
    except DatabaseError as error:
        # No traceback and no driver text (it can name hosts): the class says enough.
        logger.warning("Could not write the heartbeat of %s %s (%s); trying again", kind, name, type(error).__name__)
        return False
    finally:
        # Never inside someone else's transaction (a caller's atomic block would be left broken).
        if not connection.in_atomic_block:
            connection.close()
    return True


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A worker bootstep: the worker's main process writes its heartbeat on the worker's own timer.

    In the main process, not in a task: a worker whose pool is busy with long AWS calls is still
    alive, and a task would queue behind them (and need the broker) to say so.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry: Any = None

    def start(self, parent: Any) -> None:
        name, started_at = parent.hostname, timezone.now()
        write(name, ProcessHeartbeat.Kind.WORKER, started_at)
        self.timer_entry = parent.timer.call_repeatedly(
            settings.PORTAL_HEARTBEAT_SECONDS, write, (name, ProcessHeartbeat.Kind.WORKER, started_at)
        )

    def stop(self, parent: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None


class HeartbeatScheduler(PersistentScheduler):
    """Celery beat's persistent scheduler, which also writes beat's heartbeat from its tick.

    Beat sleeps between ticks for as long as the next task allows (up to minutes); the tick
    returns no more than the time left to the next heartbeat, so a heartbeat is never late.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.heartbeat_name = f"beat@{socket.gethostname()}"
        self.heartbeat_started_at = timezone.now()
        self.heartbeat_due = time.monotonic()
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now >= self.heartbeat_due:
            write(self.heartbeat_name, ProcessHeartbeat.Kind.BEAT, self.heartbeat_started_at)
            self.heartbeat_due = now + settings.PORTAL_HEARTBEAT_SECONDS
        interval = super().tick(*args, **kwargs)
        return max(0.0, min(interval, self.heartbeat_due - time.monotonic()))
