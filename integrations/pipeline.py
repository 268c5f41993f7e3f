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
import time
import uuid
from typing import Any

from botocore import xform_name
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations import lifecycle, log_context, ordering, rate_limits, resources, retry_policy
from integrations.aws_clients import get_client
from integrations.aws_errors import THROTTLING_CODES, Failure, classify
from integrations.models import Attempt, AttemptOutcome, AwsRequest, RequestStatus
from operations import get_operation

logger = logging.getLogger(__name__)

# A fresh request is left to its own hand-off this long before the sweeper steps in.
HANDOFF_GRACE = dt.timedelta(seconds=5)
SWEEP_BATCH = 100
LOST_RECHECK_SECONDS = 0.25


def dispatch(request_id: int, *, again: bool = False, bulk: bool = False, noted: bool = False) -> bool:
    """Publish the task for a request now; False if the broker did not take it (the sweeper will).

    Never with a countdown: retries and lease re-checks are scheduled in the database and handed
    over by the sweeper when due, so the broker holds no long-lived message for a worker to lose
    (see ``integrations.broker`` for what a Redis restart did to workers holding them). ``again``
    (a retry, a takeover, a re-send) goes to the retry queue, so it does not wait behind every
    first attempt queued since. ``bulk`` (a batch's request) goes to the bulk queue, whatever it is,
    so that single requests never wait behind a batch. ``noted``: the caller has set ``enqueued_at``
    in its own transaction already (the sweeper, the batch feeder): no second write.
    """
    from integrations.tasks import execute_request

    try:
        if bulk:
            execute_request.apply_async((request_id,), queue=settings.PORTAL_BULK_QUEUE)
        elif again:
            execute_request.apply_async((request_id,), queue=settings.PORTAL_RETRY_QUEUE)
        else:
            execute_request.apply_async((request_id,))
    except Exception as exc:  # any broker or transport failure; the row stays the source of truth
        # An expected condition (the broker is down), said in one line, not a traceback per submit.
        logger.warning("Could not enqueue request %s (%s); the sweeper will hand it over", request_id, _brief(exc))
        return False
    if noted:
        return True
    try:
        AwsRequest.objects.filter(pk=request_id).update(enqueued_at=timezone.now())
    except DatabaseError as exc:
        # Sent, but not noted: the sweeper may send it once more, which is harmless.
        logger.warning("Request %s was enqueued but the time could not be recorded (%s)", request_id, _brief(exc))
    return True


def _brief(exc: BaseException) -> str:
    """An exception as one short line: its type and first line, no traceback, no chained causes."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _json_safe(value: object) -> Any:
    def default(obj: object) -> str:
        return obj.isoformat() if isinstance(obj, (dt.datetime, dt.date)) else str(obj)

    return json.loads(json.dumps(value, default=default))


def execute(request_id: int, worker: str = "") -> str:
    """Make one attempt at a request, if this worker can claim it. Returns what happened.

    Every line logged meanwhile (ours, botocore's, Celery's) carries the request id, and once the
    attempt is recorded its number and the client token (``integrations.log_context``).
    """
    with log_context.bound(request_id=request_id):
        now = timezone.now()
        try:
            with transaction.atomic():
                claimed = lifecycle.claim_attempt(request_id, now, worker=worker, admit=_admit)
                if claimed is not None and claimed.attempt is not None and claimed.aws_request.target_id is not None:
                    # Read in the claim's transaction: what the call needs, without a commit of its own.
                    claimed.aws_request.target  # noqa: B018 - loads and caches the related row
        except lifecycle.NotAdmittedError as refused:
            return _paced(request_id, now, refused.wait)
        if claimed is None:
            return _not_claimed(request_id, now)
        aws_request, claim_id, attempt = claimed
        if attempt is None:
            logger.info("Request failed: no attempts left")
            return "failed"
        with log_context.bound(attempt=attempt.number, client_token=aws_request.client_token):
            return _attempt(aws_request, attempt, claim_id)


def _admit(aws_request: AwsRequest) -> float:
    """The rate limit's word on a call about to be made: 0 to go, else seconds to wait."""
    bucket = (aws_request.account_id, aws_request.region, aws_request.service)
    return rate_limits.take(*bucket, bulk=aws_request.batch_id is not None)


def _paced(request_id: int, now: dt.datetime, wait: float) -> str:
    """Not admitted by the rate limit: the claim was undone, and the request is deferred without an
    attempt. The sweeper (or, for a batch's request, the feeder) sends it again once it is due."""
    until = now + dt.timedelta(seconds=wait)
    lifecycle.defer(request_id, until)
    logger.info("Paced by the rate limit for %.3f s", wait)
    return "paced by the rate limit"


def _attempt(aws_request: AwsRequest, attempt: Attempt, claim_id: uuid.UUID) -> str:
    """The AWS call of a recorded attempt, and what its outcome means for the request."""
    operation = get_operation(aws_request.operation_key)
    kwargs = dict(aws_request.parameters)
    if operation.token_member:
        kwargs[operation.token_member] = aws_request.client_token
    logger.info("Calling %s.%s", aws_request.service, aws_request.operation)
    started = time.monotonic()
    try:
        target = aws_request.target
        # The user's name only names an assumed role's session: no query for it otherwise.
        username = aws_request.created_by.get_username() if target is not None and target.role_arn else ""
        client = get_client(aws_request.service, aws_request.region, target, username)
        response = getattr(client, xform_name(aws_request.operation))(**kwargs)
    except SoftTimeLimitExceeded:
        # The call may have reached AWS; only the same token can tell, so try again.
        failure = Failure("SoftTimeLimitExceeded", "The worker's time limit ran out during the call.", True)
        return _after_failure(aws_request, attempt, claim_id, failure)
    except Exception as exc:
        return _after_failure(aws_request, attempt, claim_id, classify(exc))
    meta = response.pop("ResponseMetadata", {})
    body = _json_safe(response)
    resource_id = operation.result_of(body)
    with transaction.atomic():
        lifecycle.finish_attempt(
            attempt,
            AttemptOutcome.SUCCEEDED,
            http_status=meta.get("HTTPStatusCode"),
            aws_request_id=meta.get("RequestId", ""),
        )
        won = lifecycle.succeed(aws_request, claim_id, response=body, resource_id=resource_id)
        created = resources.record(aws_request, operation, body, resource_id) if won else None
    logger.info("Succeeded in %.0f ms: %s", (time.monotonic() - started) * 1000, resource_id)
    if created is not None and created.next_check_at is not None:
        # Read back at once by whichever worker takes it; if this send is lost, the reconciliation
        # finds the resource due and sends it. It never changes the request's status.
        resources.dispatch(created.pk, bulk=aws_request.batch_id is not None)
    return "succeeded"


def _tell_rate_limit(aws_request: AwsRequest, failure: Failure) -> None:
    """A throttle from AWS slows the request's bucket down (integrations/rate_limits.py).

    Never in the way of the outcome itself: a database error here is logged and forgotten.
    """
    if failure.code not in THROTTLING_CODES:
        return
    bucket = (aws_request.account_id, aws_request.region, aws_request.service)
    try:
        if rate_limits.throttled(*bucket):
            logger.info("AWS throttled %s: the portal slows its calls to it down", "/".join(bucket))
    except DatabaseError as exc:
        logger.warning("Could not slow the rate limit down (%s)", _brief(exc))


def _not_claimed(request_id: int, now: dt.datetime) -> str:
    """Finished, cancelled, not due yet, or held by another worker's lease.

    The last case is a redelivery (late ack and reject-on-worker-lost bring a task back when its
    worker dies) or a duplicate. Nothing is scheduled here: if the lease holder is dead, the
    sweeper hands the request over once the lease has run out.
    """
    held = AwsRequest.objects.filter(pk=request_id, status=RequestStatus.RUNNING, lease_expires_at__gte=now)
    if held.exists():
        return "held by another worker; the sweeper takes it over if its lease runs out"
    if lifecycle.park(request_id):
        # Whoever finishes the request holding its group (or resumes its batch) sends it again.
        return "waits for an earlier request of its group, or for its batch to run"
    return "not claimable"


def _after_failure(aws_request: AwsRequest, attempt: Attempt, claim_id: uuid.UUID, failure: Failure) -> str:
    _tell_rate_limit(aws_request, failure)
    # The budget counts from an operator's retry, if any (``attempt_base``; manage.py retry_request).
    made = attempt.number - aws_request.attempt_base
    retry = failure.retryable and lifecycle.attempts_left(aws_request, attempt.number)
    with transaction.atomic():
        lifecycle.finish_attempt(
            attempt, AttemptOutcome.RETRYABLE_ERROR if retry else AttemptOutcome.FAILED, failure=failure
        )
        if not retry:
            if failure.retryable:
                failure = Failure(failure.code, f"Gave up after {made} attempts: {failure.message}", retryable=False)
            lifecycle.fail(aws_request, claim_id, failure)
            logger.info("Failed: %s (HTTP %s)", failure.code, failure.http_status)
            return "failed"
        delay = retry_policy.backoff_seconds(attempt.number, failure.retry_after)
        # The sweeper hands it over when ``at`` comes (within one sweep interval).
        lifecycle.retry_later(aws_request, claim_id, failure, at=timezone.now() + dt.timedelta(seconds=delay))
    logger.info("Retrying in %.1f s after %s (HTTP %s)", delay, failure.code, failure.http_status)
    return "retrying"


def due_requests(now: dt.datetime) -> Q:
    """Requests to hand to the broker now, as planned: nothing has been sent for them yet (see
    ``_due_kinds``, the same as separate conditions)."""
    single, abandoned = _due_kinds(now)
    return single | abandoned


def _due_kinds(now: dt.datetime) -> tuple[Q, Q]:
    """Requests to hand to the broker now, as planned: nothing has been sent for them yet.

    A queued request the broker never took (its submit found the broker down), a retry whose time
    has come, and a running request whose lease ran out (its worker died) not yet sent again.
    A batch's queued and retrying requests are the feeder's (integrations/batches.py), which sends
    them at the batch's pace; a request paced by the rate limit waits until its time, and one whose
    group is held until it is free (its claim would only be refused).
    """
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    # ``batch IS NULL`` first: the group's subquery is asked of single requests only, never of the
    # (maybe 100,000) queued requests of a batch, every second.
    never_enqueued = Q(status=RequestStatus.QUEUED, enqueued_at__isnull=True, created_at__lte=now - HANDOFF_GRACE) & due
    retry_due = Q(status=RequestStatus.RETRYING, next_attempt_at__lte=now) & not_sent_since()
    # A request (or a retry, once its owner retried an earlier one) whose group is held waits for it.
    single = Q(batch__isnull=True) & (never_enqueued | retry_due) & ordering.group_clear()
    lease_ended = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=F("lease_expires_at"))
    abandoned = Q(status=RequestStatus.RUNNING, lease_expires_at__lt=now) & lease_ended
    # The first is read through awsrequest_single_waiting_idx, the second through the status index.
    return single, abandoned


def not_sent_since() -> Q:
    """Requests not handed to the broker since they were (re)scheduled."""
    return Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=F("next_attempt_at"))


def sent_and_waiting() -> Q:
    """Requests sent to the broker that no worker has claimed since: in the queue, or lost."""
    queued = Q(status=RequestStatus.QUEUED, enqueued_at__isnull=False)
    retry_sent = Q(status=RequestStatus.RETRYING, enqueued_at__gte=F("next_attempt_at"))
    takeover_sent = Q(status=RequestStatus.RUNNING, enqueued_at__gte=F("lease_expires_at"))
    return queued | retry_sent | takeover_sent


def stuck_requests(now: dt.datetime) -> Q:
    """Requests that no worker will pick up unless they are handed over: due, or waiting too long.

    "Waiting too long" is a candidate only: ``sweep`` re-sends those that the broker's queue
    cannot be holding (see ``_lost``).
    """
    cutoff = now - dt.timedelta(seconds=settings.PORTAL_STUCK_AFTER_SECONDS)
    return due_requests(now) | (sent_and_waiting() & Q(enqueued_at__lte=cutoff))


def queue_depth() -> int | None:
    """How many messages wait in the work and retry queues; None if the broker cannot say (or is down)."""
    from portal.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            depth = 0
            for name in (settings.PORTAL_WORK_QUEUE, settings.PORTAL_RETRY_QUEUE, settings.PORTAL_BULK_QUEUE):
                depth += int(app.amqp.queues[name](connection.default_channel).queue_declare().message_count)
            return depth
    except Exception as exc:  # the broker is down or cannot count: re-send as if nothing were queued
        logger.warning("Could not read the depth of the work queue (%s)", _brief(exc))
        return None


def _lost(now: dt.datetime) -> list[int]:
    """Sent requests the broker cannot be holding any more (lost in a broker restart, say).

    The work and retry queues are first in, first out and hold ``depth`` messages between them: if
    more requests than that are sent and waiting, the oldest of them are the ones missing. Re-sending only those
    keeps a long but healthy queue from being flooded with duplicates; a request waiting longer
    than PORTAL_RESEND_AFTER_SECONDS is re-sent anyway, a bound on what stale messages in the queue
    (duplicates of finished requests) can make the count miss.
    """
    cutoff = now - dt.timedelta(seconds=settings.PORTAL_STUCK_AFTER_SECONDS)
    waiting = AwsRequest.objects.filter(sent_and_waiting())
    candidates = waiting.filter(enqueued_at__lte=cutoff).order_by("enqueued_at", "pk")
    if not candidates.exists():
        return []
    very_old = now - dt.timedelta(seconds=settings.PORTAL_RESEND_AFTER_SECONDS)
    overdue = list(candidates.filter(enqueued_at__lte=very_old).values_list("pk", flat=True)[:SWEEP_BATCH])
    depth = queue_depth()
    missing = SWEEP_BATCH if depth is None else max(0, waiting.count() - depth)
    oldest = list(candidates.values_list("pk", flat=True)[: min(missing, SWEEP_BATCH)])
    return list(dict.fromkeys(oldest + overdue))[:SWEEP_BATCH]


def sweep(now: dt.datetime | None = None) -> list[int]:
    """Hand over what is due and re-send what is lost; run by beat on the housekeeping queue.

    Returns the ids sent. Due retries are ordinary scheduling; the rest (never enqueued, lost, a
    dead worker's lease) are hand-offs, counted on the request (``handoffs``) for audit and metrics.
    """
    now = now or timezone.now()
    lost = _lost(now)
    if lost:
        # A message a worker has just taken is in neither the queue nor a claimed row for a few
        # milliseconds: look again a moment later, so that it is not mistaken for a lost one.
        time.sleep(LOST_RECHECK_SECONDS)
    with transaction.atomic():
        # SKIP LOCKED: two sweepers (or a sweeper and a worker) never wait on, or take, one row.
        # One query per kind, each read through its own index: together, as one OR, PostgreSQL read
        # the requests by creation time and filtered them, every queued row of a batch included.
        kinds = (*_due_kinds(now), Q(pk__in=lost) & sent_and_waiting())
        found = {
            row[0]: row
            for kind in kinds
            for row in AwsRequest.objects.select_for_update(skip_locked=True)
            .filter(kind)
            .order_by("created_at")
            .values_list("pk", "status", "batch_id", "created_at")[:SWEEP_BATCH]
        }
        rows = sorted(found.values(), key=lambda row: (row[3], row[0]))[:SWEEP_BATCH]
        ids = [pk for pk, _, _, _ in rows]
        bulk = {pk for pk, _, batch_id, _ in rows if batch_id is not None}
        handoffs = [pk for pk, status, _, _ in rows if status != RequestStatus.RETRYING or pk in lost]
        AwsRequest.objects.filter(pk__in=ids).update(enqueued_at=now)
        AwsRequest.objects.filter(pk__in=handoffs).update(handoffs=F("handoffs") + 1)
    for request_id in ids:
        dispatch(request_id, again=True, bulk=request_id in bulk)
    if handoffs:
        logger.info(
            "Handed over %d request(s) again (never enqueued, lost, or a dead worker's): %s", len(handoffs), handoffs
        )
    return ids


def hand_over(order_key: str | None, batch_id: int | None) -> None:
    """After a request of a group or a batch finished: send the next of its group if it may run
    now, and more of the batch (up to its limit in flight). Run once the finish is committed; what
    it misses (a crash in between), the sweeper and the feeder find within a second."""
    from integrations import batches

    batches_to_feed = {batch_id} if batch_id is not None else set()
    if order_key:
        following = ordering.next_in_group(order_key)
        if following is not None:
            pk, status, its_batch = following
            if its_batch is not None:
                batches_to_feed.add(its_batch)
            elif status in (RequestStatus.QUEUED, RequestStatus.RETRYING):
                due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())
                if AwsRequest.objects.filter(due, pk=pk, status=status).exists():
                    dispatch(pk, again=True)
    for batch in batches_to_feed:
        batches.top_up(batch)
