"""Celery tasks: thin wrappers that take an id and let the pipeline do the work.

Both are safe to run twice: ``execute_request`` acts only after claiming its row, and the
sweeper only re-enqueues. That is what makes late acks and redelivery harmless.
"""

from __future__ import annotations

import os
from typing import Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, connections

from integrations import batches, notifications, pipeline, resources


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_request(self, request_id: int) -> str:
    return pipeline.execute(request_id, worker=f"{self.request.hostname or ''} pid {os.getpid()}")


@shared_task(ignore_result=True)
def sweep_stuck_requests() -> int:
    return len(pipeline.sweep())


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def check_resource(self, resource_id: int, force: bool = False, audit: bool | None = None) -> str:
    """Read one created resource back from AWS (its confirmation, a re-check, the reconciliation's)."""
    checked = resources.check(
        resource_id, force=force, audit=audit, worker=f"{self.request.hostname or ''} pid {os.getpid()}"
    )
    return "not ours to check" if checked is None else checked.status


@shared_task(ignore_result=True)
def reconcile_resources() -> int:
    return len(resources.reconcile())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def fan_out_notifications(request_id: int, event: str) -> int:
    """Write the outbox rows of one status change and hand them over (safe to run twice: the rows
    are unique per request, event, channel and address)."""
    return len(notifications.fan_out(request_id, event))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_notification(notification_id: int, token: str) -> str:
    """Send one outbox row, if its hand-over (``token``) still holds it: a redelivery sends nothing."""
    return notifications.deliver(notification_id, token)


@shared_task(ignore_result=True)
def send_due_notifications() -> int:
    return len(notifications.send_due())


@shared_task(ignore_result=True)
def feed_batches() -> int:
    return batches.feed()


# A check or a recording works in slices of batches.SLICE_SECONDS, far inside its time limits (not
# the AWS call's): a soft limit's SoftTimeLimitExceeded, an Exception, fired in the middle of a
# line's checks could be taken for that line's error. A hard limit kills the process; its chunk
# rolls back and the task comes back.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, soft_time_limit=590, time_limit=600)
def check_batch(batch_id: int) -> int:
    """Check an uploaded batch's lines (resumable, and safe to run twice: see batches.check)."""
    return batches.check(batch_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, soft_time_limit=590, time_limit=600)
def record_batch(batch_id: int) -> int:
    """Record a submitted batch's requests (resumable; a line is recorded once: see batches.record)."""
    return batches.record(batch_id)


@task_prerun.connect
@task_postrun.connect
def _check_database_connections(sender: Any = None, **kwargs: object) -> None:
    """What Django does around each web request, done around each task.

    Workers keep their connection across tasks (CELERY_DB_REUSE_MAX), and Celery's fix-up then
    checks nothing: a connection the database dropped (a failover, a restart, an idle timeout) would
    fail every later task of the process. Here it is closed once past CONN_MAX_AGE or after an error,
    and health-checked before its first use in the next task, so a dead one is replaced. Not for a
    task run eagerly inside a caller's transaction, whose connection is the caller's to manage.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    if any(c.in_atomic_block for c in connections.all(initialized_only=True)):
        return
    close_old_connections()
