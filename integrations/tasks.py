"""Celery tasks: thin wrappers that take an id and let the pipeline do the work.

Both are safe to run twice: ``execute_request`` acts only after claiming its row, and the
sweeper only re-enqueues. That is what makes late acks and redelivery harmless.
"""

from __future__ import annotations

import os

from celery import shared_task

from integrations import pipeline


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_request(self, request_id: int) -> str:
    return pipeline.execute(request_id, worker=f"{self.request.hostname or ''} pid {os.getpid()}")


@shared_task(ignore_result=True)
def sweep_stuck_requests() -> int:
    return len(pipeline.sweep())
