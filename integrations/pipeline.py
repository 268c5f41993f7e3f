"""The life of a request: recorded, handed to a worker, called with retries, and finished.

Exactly once rests on four rules kept here and nowhere else:
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

from botocore import xform_name
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations import retry_policy
from integrations.aws_clients import get_client
from integrations.aws_errors import Failure, classify
from integrations.models import ApprovalRule, Attempt, AttemptOutcome, AwsRequest, AwsTarget, RequestStatus
from operations import Operation, get_operation

logger = logging.getLogger(__name__)

# A fresh request is left to its own hand-off this long before the sweeper steps in.
HANDOFF_GRACE = dt.timedelta(seconds=5)
SWEEP_BATCH = 100


def submit(
    operation: Operation, params: dict, user, target: AwsTarget, idempotency_key: str | None = None
) -> AwsRequest:
    """Record a request and, unless it needs approval, hand it to a worker after the commit."""
    needs_approval = ApprovalRule.applies(operation.key, target)
    with transaction.atomic():
        request = AwsRequest.objects.create(
            service=operation.service,
            operation=operation.name,
            parameters=params,
            target=target,
            account_id=target.account_id,
            region=target.region,
            created_by=user,
            idempotency_key=idempotency_key,
            status=RequestStatus.AWAITING_APPROVAL if needs_approval else RequestStatus.QUEUED,
        )
        if not needs_approval:
            # robust: a broker failure after the commit must not turn a recorded request into a 500.
            transaction.on_commit(lambda: dispatch(request.pk), robust=True)
    return request


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


def _claimable(now: dt.datetime) -> Q:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return (Q(status__in=(RequestStatus.QUEUED, RequestStatus.RETRYING)) & due) | Q(
        status=RequestStatus.RUNNING, lease_expires_at__lt=now
    )


def _json_safe(value: object) -> object:
    def default(obj: object) -> str:
        return obj.isoformat() if isinstance(obj, (dt.datetime, dt.date)) else str(obj)

    return json.loads(json.dumps(value, default=default))


def execute(request_id: int, worker: str = "") -> str:
    """Make one attempt at a request, if this worker can claim it. Returns what happened."""
    now = timezone.now()
    claim = uuid.uuid4()
    lease = dt.timedelta(seconds=settings.PORTAL_LEASE_SECONDS)
    claimed = (
        AwsRequest.objects.filter(pk=request_id)
        .filter(_claimable(now))
        .update(status=RequestStatus.RUNNING, claim_id=claim, lease_expires_at=now + lease, updated_at=now)
    )
    if not claimed:
        return _not_claimed(request_id, now)
    request = AwsRequest.objects.select_related("target", "created_by").get(pk=request_id)
    # A worker that stopped mid-call left its attempt open: AWS may or may not have acted on it.
    # The next attempt carries the same client token, so it returns that resource if it exists.
    request.attempts.filter(outcome=AttemptOutcome.IN_PROGRESS).update(
        outcome=AttemptOutcome.INTERRUPTED,
        finished_at=now,
        error_message="The worker stopped during this call; the next attempt reuses the client token.",
    )
    number = request.attempts.count() + 1
    if number > retry_policy.max_attempts():
        _finish(request, claim, failed=Failure("MaxAttemptsExceeded", "No attempts left.", retryable=False))
        return "failed"
    attempt = Attempt.objects.create(
        request=request, number=number, started_at=now, client_token=request.client_token, worker=worker
    )
    operation = get_operation(request.operation_key)
    kwargs = dict(request.parameters)
    if operation.token_member:
        kwargs[operation.token_member] = request.client_token
    try:
        client = get_client(request.service, request.region, request.target, request.created_by.get_username())
        response = getattr(client, xform_name(request.operation))(**kwargs)
    except SoftTimeLimitExceeded:
        # The call may have reached AWS; only the same token can tell, so try again.
        failure = Failure("SoftTimeLimitExceeded", "The worker's time limit ran out during the call.", True)
        return _after_failure(request, attempt, claim, failure)
    except Exception as exc:
        return _after_failure(request, attempt, claim, classify(exc))
    meta = response.pop("ResponseMetadata", {})
    body = _json_safe(response)
    with transaction.atomic():
        Attempt.objects.filter(pk=attempt.pk).update(
            outcome=AttemptOutcome.SUCCEEDED,
            finished_at=timezone.now(),
            http_status=meta.get("HTTPStatusCode"),
            aws_request_id=meta.get("RequestId", ""),
        )
        _finish(request, claim, response=body, resource_id=operation.result_of(body))
    return "succeeded"


def _not_claimed(request_id: int, now: dt.datetime) -> str:
    """Finished, not due yet, or held by another worker's lease.

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


def _after_failure(request: AwsRequest, attempt: Attempt, claim: uuid.UUID, failure: Failure) -> str:
    retry = failure.retryable and attempt.number < retry_policy.max_attempts()
    now = timezone.now()
    with transaction.atomic():
        Attempt.objects.filter(pk=attempt.pk).update(
            outcome=AttemptOutcome.RETRYABLE_ERROR if retry else AttemptOutcome.FAILED,
            finished_at=now,
            http_status=failure.http_status,
            error_code=failure.code,
            error_message=failure.message[:10_000],
            aws_request_id=failure.aws_request_id,
        )
        if not retry:
            if failure.retryable:
                failure = Failure(
                    failure.code, f"Gave up after {attempt.number} attempts: {failure.message}", retryable=False
                )
            _finish(request, claim, failed=failure)
            return "failed"
        delay = retry_policy.backoff_seconds(attempt.number, failure.retry_after)
        still_ours = AwsRequest.objects.filter(pk=request.pk, claim_id=claim).update(
            status=RequestStatus.RETRYING,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            lease_expires_at=None,
            error_code=failure.code,
            error_message=failure.message[:10_000],
            updated_at=now,
        )
        if still_ours:
            transaction.on_commit(lambda: dispatch(request.pk, countdown=delay), robust=True)
    return "retrying"


def _finish(
    request: AwsRequest,
    claim: uuid.UUID,
    *,
    failed: Failure | None = None,
    response: object = None,
    resource_id: str = "",
) -> None:
    now = timezone.now()
    changes: dict = {"finished_at": now, "lease_expires_at": None, "next_attempt_at": None, "updated_at": now}
    if failed is None:
        changes.update(
            status=RequestStatus.SUCCEEDED, response=response, resource_id=resource_id, error_code="", error_message=""
        )
    else:
        changes.update(status=RequestStatus.FAILED, error_code=failed.code, error_message=failed.message[:10_000])
    AwsRequest.objects.filter(pk=request.pk, claim_id=claim).update(**changes)


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
