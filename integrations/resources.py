"""What the portal created, read back from AWS: the confirmation after a create, and every later check.

A ``Resource`` row is made with its request's success (``record``, in the same transaction), so
nothing created is missing from the list. Then ``check`` reads it with its service's own read
call (``Operation.read_back``), as the target's role for the person who created it:

- the first successful read is the **confirmation**: its key fields become the baseline;
- a later read that differs from the baseline marks it **changed** (with the differences), one
  the service says does not exist marks it **gone**;
- a read that cannot tell (refused, throttled, unreachable) changes nothing but ``check_error``;
  before the confirmation it is tried again a few times, then the resource is **unconfirmed**
  with the reason, and the reconciliation keeps trying at its own pace.

Confirmation reads, and re-checks a person asks for, are recorded as attempts of their own kind
(``AttemptKind.READ_BACK``): no client token, never retried as a create, and nothing they find
changes the request's status. The reconciliation's routine re-reads are kept on the resource
only (its last check, and each change of status), so the audit does not grow by a row per
resource per hour forever.

Who checks when: ``next_check_at`` says when a resource is due, and a check starts by a
compare-and-set that pushes it one lease ahead, so two workers (the confirmation's task and the
reconciliation's, a redelivery) never read the same resource at once. ``check_sent_at`` keeps
the reconciliation from sending a due resource twice, and lets it send again after a lease if
the message was lost.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore import xform_name
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from integrations import lifecycle
from integrations.aws_clients import get_client
from integrations.aws_errors import Failure, classify
from integrations.models import Attempt, AttemptKind, AttemptOutcome, AwsRequest, AwsTarget, Resource, ResourceStatus
from operations import Operation, get_operation

logger = logging.getLogger(__name__)

R = ResourceStatus
# A confirmation read that cannot tell is tried this many times in all before the resource is
# called unconfirmed (AWS reads are eventually consistent: a fresh resource may not be found yet).
CONFIRMATION_TRIES = 4
# Waits between those tries, in seconds (the last one repeats).
CONFIRMATION_WAITS = (2.0, 10.0, 30.0)
ERROR_LIMIT = 2_000


def check_lease() -> dt.timedelta:
    """How long a started check holds its resource: the read's timeouts and some margin."""
    return dt.timedelta(seconds=settings.AWS_CONNECT_TIMEOUT + settings.AWS_READ_TIMEOUT + 30)


def recheck_interval() -> dt.timedelta:
    """How long a resource rests between the reconciliation's checks (PORTAL_RECONCILE_EVERY_SECONDS)."""
    return dt.timedelta(seconds=settings.PORTAL_RECONCILE_EVERY_SECONDS)


# --- made with the request's success --------------------------------------------------------------


def record(
    aws_request: AwsRequest, operation: Operation, response: dict[str, Any], resource_id: str
) -> Resource | None:
    """The resource a successful request created, due for its confirmation now; None without an id.

    Called in the transaction that marks the request succeeded, only by the worker whose
    compare-and-set made it so: a request succeeds once, so its resource is inserted once (one
    INSERT, no savepoint in the worker's commit).
    """
    if not resource_id:
        return None
    name = ""
    if operation.resource_name is not None:
        try:
            name = operation.resource_name(aws_request.parameters, response)[:512]
        except (KeyError, TypeError, AttributeError):
            name = ""
    now = timezone.now()
    return Resource.objects.create(
        request=aws_request,
        service=aws_request.service,
        operation=aws_request.operation,
        resource_id=resource_id,
        name=name,
        target_id=aws_request.target_id,
        account_id=aws_request.account_id,
        region=aws_request.region,
        created_by_id=aws_request.created_by_id,
        created_by_username=aws_request.created_by_username,
        created_at=now,
        status=R.PENDING if operation.read_back else R.UNCONFIRMED,
        check_error="" if operation.read_back else "This operation has no read call to confirm it with.",
        next_check_at=now if operation.read_back else None,
    )


# --- one check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """What one check found: the status after it, and the error when the read could not tell."""

    status: str
    error: str = ""


def claim(resource_id: int, now: dt.datetime, *, force: bool = False) -> bool:
    """Take a resource for one check (a compare-and-set); False if it is not ours to check.

    Due resources only, unless ``force`` (a person's re-check); never one whose check another
    worker started less than a lease ago and has not finished.
    """
    lease = check_lease()
    being_checked = Q(check_started_at__gt=now - lease) & (
        Q(checked_at__isnull=True) | Q(checked_at__lt=F("check_started_at"))
    )
    candidates = Resource.objects.filter(pk=resource_id).exclude(being_checked)
    if not force:
        candidates = candidates.filter(next_check_at__lte=now)
    return bool(candidates.update(check_started_at=now, next_check_at=now + lease))


def check(resource_id: int, *, audit: bool | None = None, force: bool = False, worker: str = "") -> Checked | None:
    """Read one resource back from AWS and record what that says; None if it was not ours to check.

    ``audit``: record the read as an attempt of its request (default: while it is not confirmed
    yet, i.e. for the confirmation).
    """
    now = timezone.now()
    if not claim(resource_id, now, force=force):
        return None
    resource = Resource.objects.select_related("request", "target", "created_by").get(pk=resource_id)
    operation = get_operation(resource.operation_key)
    read_back = operation.read_back
    if read_back is None:
        Resource.objects.filter(pk=resource.pk).update(next_check_at=None)
        return Checked(resource.status, "no read call")
    if audit is None:
        audit = resource.status in (R.PENDING, R.UNCONFIRMED)
    aws_request = resource.request
    attempt = _start_read_back(aws_request, read_back.call, now, worker) if audit else None
    try:
        params = read_back.params(aws_request.parameters, aws_request.response or {})
        target = resource.target
        username = resource.created_by.get_username() if target is not None and target.role_arn else ""
        client = get_client(read_back.service, resource.region, target, username)
        output = getattr(client, xform_name(read_back.operation))(**params)
    except Exception as exc:  # every failure of the read is an outcome to record, never a crash
        failure = classify(exc)
        if attempt is not None:
            lifecycle.finish_attempt(attempt, AttemptOutcome.FAILED, failure=failure)
        return _after_failed_read(resource, operation, failure)
    meta = output.pop("ResponseMetadata", {})
    observed = _json_safe(read_back.observe(output))
    if attempt is not None:
        lifecycle.finish_attempt(
            attempt,
            AttemptOutcome.SUCCEEDED,
            http_status=meta.get("HTTPStatusCode"),
            aws_request_id=meta.get("RequestId", ""),
        )
    return _after_read(resource, operation, observed)


def _json_safe(value: object) -> Any:
    def default(obj: object) -> str:
        return obj.isoformat() if isinstance(obj, (dt.datetime, dt.date)) else str(obj)

    return json.loads(json.dumps(value, default=default))


def _after_read(resource: Resource, operation: Operation, observed: dict[str, Any]) -> Checked:
    assert operation.read_back is not None
    now = timezone.now()
    baseline = resource.baseline if resource.baseline is not None else observed
    changes = [
        {"field": name, "was": baseline.get(name), "now": observed.get(name)}
        for name in operation.read_back.fields
        if name != operation.read_back.state and baseline.get(name) != observed.get(name)
    ]
    status = R.CHANGED if changes else R.CONFIRMED
    state_field = operation.read_back.state
    _save(
        resource,
        now,
        status=status,
        state=str(observed.get(state_field) or "") if state_field else "",
        baseline=baseline,
        observed=observed,
        changes=changes,
        check_error="",
        failed_checks=0,
        next_check_at=now + recheck_interval(),
    )
    return Checked(status)


def _after_failed_read(resource: Resource, operation: Operation, failure: Failure) -> Checked:
    assert operation.read_back is not None
    now = timezone.now()
    gone = failure.code in operation.read_back.gone
    error = f"{failure.code}: {failure.message}"[:ERROR_LIMIT]
    failed = resource.failed_checks + 1
    confirmed_before = resource.baseline is not None
    status: str
    if gone and confirmed_before:
        status = R.GONE
        error = ""
        next_check = now + recheck_interval()
    elif confirmed_before:
        # A check that cannot tell changes nothing it knew; tried again at the reconciliation's pace.
        status = resource.status
        next_check = now + (_wait(failed) if failure.retryable else recheck_interval())
    elif (gone or failure.retryable) and failed < CONFIRMATION_TRIES:
        # Not found yet (eventual consistency), throttled or unreachable: the confirmation tries again soon.
        status = R.PENDING
        next_check = now + _wait(failed)
    else:
        status = R.UNCONFIRMED
        if gone:
            error = f"AWS says it does not exist ({error})"
        next_check = now + recheck_interval()
    _save(resource, now, status=status, check_error=error, failed_checks=failed, next_check_at=next_check)
    return Checked(status, error)


def _wait(failed: int) -> dt.timedelta:
    return dt.timedelta(seconds=CONFIRMATION_WAITS[min(failed, len(CONFIRMATION_WAITS)) - 1])


def _save(resource: Resource, now: dt.datetime, **changes: object) -> None:
    if changes.get("status", resource.status) != resource.status:
        changes["status_changed_at"] = now
        logger.info("Resource %s is now %s", resource.resource_id, changes["status"])
    Resource.objects.filter(pk=resource.pk).update(checked_at=now, checks=F("checks") + 1, **changes)


# --- read backs in the audit -----------------------------------------------------------------------


def _start_read_back(aws_request: AwsRequest, call: str, now: dt.datetime, worker: str) -> Attempt:
    """An attempt row for a read back, committed before the read leaves the process, numbered after
    the request's other attempts (the resource's claim keeps two read backs from racing)."""
    with transaction.atomic():
        made = aws_request.attempts.aggregate(n=Max("number"))["n"] or 0
        return Attempt.objects.create(
            request=aws_request,
            number=made + 1,
            kind=AttemptKind.READ_BACK,
            read_call=call,
            started_at=now,
            client_token="",
            worker=worker,
        )


# --- the reconciliation ----------------------------------------------------------------------------


def due(now: dt.datetime) -> Q:
    """Resources to send for a check: due, and not sent since (or sent a lease ago and lost)."""
    not_sent = Q(check_sent_at__isnull=True) | Q(check_sent_at__lt=F("next_check_at"))
    lost = Q(check_sent_at__lt=now - check_lease())
    return Q(next_check_at__lte=now) & (not_sent | lost)


def select_due(now: dt.datetime, per_target: int) -> list[int]:
    """The due resources to check now: the longest-waiting first, at most ``per_target`` for each
    target (the rate limit: a target with a million resources does not starve the others or
    bring a throttle on its account)."""
    chosen: list[int] = []
    # Target by target (a short read of the (target, next_check_at) index each), rather than a
    # GROUP BY over every due row: half a second at 50,000 due resources, every run.
    # A retired target (is_active off) is not read any more: its role may be gone with it.
    active = AwsTarget.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    targets: list[int | None] = [*active, None]
    for target_id in targets:
        chosen.extend(
            Resource.objects.filter(due(now), target_id=target_id)
            .order_by("next_check_at", "id")
            .values_list("id", flat=True)[:per_target]
        )
    return chosen


def mark_sent(resource_ids: list[int], now: dt.datetime) -> None:
    Resource.objects.filter(pk__in=resource_ids).update(check_sent_at=now)


def per_target_limit() -> int:
    """How many checks of one target a reconciliation run may send (the per-minute rate, spread)."""
    per_run = settings.PORTAL_RECONCILE_CHECKS_PER_MINUTE * settings.PORTAL_RECONCILE_INTERVAL_SECONDS / 60
    return max(1, int(per_run))


def reconcile(now: dt.datetime | None = None) -> list[int]:
    """Send every due resource for a check, within each target's rate; the ids sent.

    Beat runs this on the housekeeping queue: a selection and a publish, no AWS call. A resource
    whose message was lost (or whose send failed) is due again one lease later.
    """
    now = now or timezone.now()
    chosen = select_due(now, per_target_limit())
    sent = [resource_id for resource_id in chosen if dispatch(resource_id)]
    mark_sent(sent, now)
    return sent


def dispatch(resource_id: int, *, force: bool = False, audit: bool | None = None, bulk: bool = False) -> bool:
    """Publish a check of one resource; False if the broker did not take it (the reconciliation will).

    ``bulk``: the confirmation of a batch's request, on the bulk queue with the batch's calls, so
    that a batch's read-backs never queue before single requests' work.
    """
    from integrations.tasks import check_resource

    options = {"queue": settings.PORTAL_BULK_QUEUE} if bulk else {}
    try:
        check_resource.apply_async((resource_id,), {"force": force, "audit": audit}, **options)
    except Exception as exc:  # any broker failure: the row's next_check_at still says it is due
        logger.warning(
            "Could not send the check of resource %s (%s); the reconciliation will", resource_id, type(exc).__name__
        )
        return False
    return True


def request_recheck(resource: Resource) -> bool:
    """A person asks for the resource to be read again now: recorded in the audit like a confirmation."""
    return dispatch(resource.pk, force=True, audit=True)
