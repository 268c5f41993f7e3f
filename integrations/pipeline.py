"""The work on a request: handed to a worker, called with retries, classified, and swept up.

Every change of a request's status (and every attempt row) is made by
``integrations.lifecycle``; this module orchestrates: the broker, the AWS call, what its
outcome means. Exactly once rests on four rules, kept by the two together:
- the request row (with its client token) is committed before anything is enqueued;
- a worker acts only after claiming the row with a compare-and-set update, so one request runs
  in one place at a time, and a claim whose lease ran out (a dead worker) can be taken over;
- an attempt row is committed before each call leaves the process, and the same client token
  goes out on every attempt, so a retry after a timeout or a crash replays, never duplicates;
- the database, not the broker, is the source of truth: the sweeper re-enqueues any request a
  lost message, a broker outage or a dead worker left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from botocore import xform_name
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations import lifecycle, retry_policy
from integrations.aws_clients import get_client
from integrations.aws_errors import Failure, classify
from integrations.models import Attempt, AttemptOutcome, AwsRequest, RequestStatus
from operations import get_operation

logger = logging.getLogger(__name__)

# A fresh request is left to its own hand-off this long before the sweeper steps in.
HANDOFF_GRACE = dt.timedelta(seconds=5)
SWEEP_BATCH = 100


def dispatch(request_id: int, countdown: float | None = None) -> bool:
    """Publish the task for a request; False if the broker did not take it (the sweeper will)."""
    from integrations.tasks import execute_request

    try:
        execute_request.apply_async((request_id,), countdown=countdown)
    except Exception:  # any broker or transport failure; the row stays the source of truth
        logger.warning("Could not enqueue request %s; the sweeper will retry", request_id, exc_info=True)
        return False
    AwsRequest.objects.filter(pk=request_id).update(enqueued_at=timezone.now())
    return True


def _json_safe(value: object) -> Any:
    def default(obj: object) -> str:
        return obj.isoformat() if isinstance(obj, (dt.datetime, dt.date)) else str(obj)

    return json.loads(json.dumps(value, default=default))


def execute(request_id: int, worker: str = "") -> str:
    """Make one attempt at a request, if this worker can claim it. Returns what happened."""
    now = timezone.now()
    claim_id = lifecycle.claim(request_id, now)
    if claim_id is None:
        return _not_claimed(request_id, now)
    aws_request = AwsRequest.objects.select_related("target", "created_by").get(pk=request_id)
    attempt = lifecycle.start_attempt(aws_request, claim_id, now=now, worker=worker)
    if attempt is None:
        return "failed"
    operation = get_operation(aws_request.operation_key)
    kwargs = dict(aws_request.parameters)
    if operation.token_member:
        kwargs[operation.token_member] = aws_request.client_token
    try:
        client = get_client(
            aws_request.service, aws_request.region, aws_request.target, aws_request.created_by.get_username()
        )
        response = getattr(client, xform_name(aws_request.operation))(**kwargs)
    except SoftTimeLimitExceeded:
        # The call may have reached AWS; only the same token can tell, so try again.
        failure = Failure("SoftTimeLimitExceeded", "The worker's time limit ran out during the call.", True)
        return _after_failure(aws_request, attempt, claim_id, failure)
    except Exception as exc:
        return _after_failure(aws_request, attempt, claim_id, classify(exc))
    meta = response.pop("ResponseMetadata", {})
    body = _json_safe(response)
    with transaction.atomic():
        lifecycle.finish_attempt(
            attempt,
            AttemptOutcome.SUCCEEDED,
            http_status=meta.get("HTTPStatusCode"),
            aws_request_id=meta.get("RequestId", ""),
        )
        lifecycle.succeed(aws_request, claim_id, response=body, resource_id=operation.result_of(body))
    return "succeeded"


def _not_claimed(request_id: int, now: dt.datetime) -> str:
    """Finished, cancelled, not due yet, or held by another worker's lease.

    The last case is a redelivery (late ack and reject-on-worker-lost bring a task back when its
    worker dies) or a duplicate: look again when the lease runs out, so that a dead worker's
    request is taken over at once, without waiting for the sweeper.
    """
    held = AwsRequest.objects.filter(pk=request_id, status=RequestStatus.RUNNING, lease_expires_at__gte=now)
    lease_end = held.values_list("lease_expires_at", flat=True).first()
    if lease_end is None:
        return "not claimable"
    dispatch(request_id, countdown=(lease_end - now).total_seconds() + 0.5)
    return "held by another worker; checking again when its lease ends"


def _after_failure(aws_request: AwsRequest, attempt: Attempt, claim_id: uuid.UUID, failure: Failure) -> str:
    retry = failure.retryable and attempt.number < retry_policy.max_attempts()
    with transaction.atomic():
        lifecycle.finish_attempt(
            attempt, AttemptOutcome.RETRYABLE_ERROR if retry else AttemptOutcome.FAILED, failure=failure
        )
        if not retry:
            if failure.retryable:
                failure = Failure(
                    failure.code, f"Gave up after {attempt.number} attempts: {failure.message}", retryable=False
                )
            lifecycle.fail(aws_request, claim_id, failure)
            return "failed"
        delay = retry_policy.backoff_seconds(attempt.number, failure.retry_after)
        at = timezone.now() + dt.timedelta(seconds=delay)
        if lifecycle.retry_later(aws_request, claim_id, failure, at=at):
            transaction.on_commit(lambda: dispatch(aws_request.pk, countdown=delay), robust=True)
    return "retrying"


def stuck_requests(now: dt.datetime) -> Q:
    """Requests that no worker will pick up unless they are handed over again."""
    cutoff = now - dt.timedelta(seconds=settings.PORTAL_STUCK_AFTER_SECONDS)
    not_recently_enqueued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=cutoff)
    never_enqueued = Q(status=RequestStatus.QUEUED, enqueued_at__isnull=True, created_at__lte=now - HANDOFF_GRACE)
    lost_in_queue = Q(status=RequestStatus.QUEUED, enqueued_at__lte=cutoff)
    overdue_retry = Q(status=RequestStatus.RETRYING, next_attempt_at__lte=cutoff) & not_recently_enqueued
    abandoned = Q(status=RequestStatus.RUNNING, lease_expires_at__lt=now) & not_recently_enqueued
    return never_enqueued | lost_in_queue | overdue_retry | abandoned


def sweep(now: dt.datetime | None = None) -> list[int]:
    """Re-enqueue stuck requests; run periodically by beat. Returns the ids handed over."""
    now = now or timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: two sweepers (or a sweeper and a worker) never wait on, or take, one row.
        ids = list(
            AwsRequest.objects.select_for_update(skip_locked=True)
            .filter(stuck_requests(now))
            .order_by("created_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        AwsRequest.objects.filter(pk__in=ids).update(enqueued_at=now)
    for request_id in ids:
        dispatch(request_id)
    if ids:
        logger.info("Re-enqueued %d stuck request(s): %s", len(ids), ids)
    return ids
