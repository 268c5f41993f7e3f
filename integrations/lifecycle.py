"""A request's life in one place: every status an ``AwsRequest`` may move to, and who moves it.

The status of a request row says who may act on it next (a person deciding, a worker calling
AWS, nobody once it is finished), and two parties often try to act at the same moment: two
approvers, two workers after a redelivery, a worker and the person cancelling. So:

- ``TRANSITIONS`` is the one list of the moves allowed, each from a set of statuses to one;
- ``_move`` is the one place that writes a status: a compare-and-set ``UPDATE … WHERE status IN
  (the sources)`` plus the move's own conditions (a due time, an expired lease, the worker's
  claim), which reports whether it won. The loser of a race changes nothing and is told so;
- the rules of exactly-once calls (see ``integrations.pipeline``) are kept by the moves: a
  request is committed before it is enqueued, a worker holds a claim with a lease before it
  calls, and an attempt row is committed before the call leaves the process.

Submitting is here too, because it is the first move: ``submit`` is the one entry point of the
form and the API, and it decides itself who may run what where, so no caller can forget to.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from integrations import notifications, ordering, pipeline, retry_policy
from integrations.aws_errors import Failure
from integrations.models import (
    ApprovalDecision,
    ApprovalRule,
    Attempt,
    AttemptOutcome,
    AwsRequest,
    AwsTarget,
    Batch,
    BatchStatus,
    MetricsRollup,
    NotificationEvent,
    RequestStatus,
)
from integrations.permissions import APPROVE, can_run
from operations import Operation
from operations.checks import Violation, check_parameters

if TYPE_CHECKING:
    from django.contrib.auth.models import User

S = RequestStatus
ERROR_MESSAGE_LIMIT = 10_000


class Transition(NamedTuple):
    """A move: from any of ``sources`` to ``target``. No sources: the row is created in ``target``."""

    sources: tuple[RequestStatus, ...]
    target: RequestStatus


TRANSITIONS: dict[str, Transition] = {
    # A new request runs at once, or waits for another person when an approval rule matches.
    "submit": Transition((), S.QUEUED),
    "submit_for_approval": Transition((), S.AWAITING_APPROVAL),
    "approve": Transition((S.AWAITING_APPROVAL,), S.QUEUED),
    "reject": Transition((S.AWAITING_APPROVAL,), S.REJECTED),
    # Not a running request: its AWS call may be in flight, and a cancel could not take it back.
    "cancel": Transition((S.AWAITING_APPROVAL, S.QUEUED, S.RETRYING), S.CANCELLED),
    # Queued or retrying requests that are due; a running one only once its lease has expired
    # (its worker died: a takeover). See ``claim`` for those conditions.
    "claim": Transition((S.QUEUED, S.RETRYING, S.RUNNING), S.RUNNING),
    "retry_later": Transition((S.RUNNING,), S.RETRYING),
    "succeed": Transition((S.RUNNING,), S.SUCCEEDED),
    "fail": Transition((S.RUNNING,), S.FAILED),
    # An operator's retry of a failed request with the same client token (manage.py retry_request):
    # the only way out of a finished status, taken only when the token still protects the call.
    "reopen": Transition((S.FAILED,), S.QUEUED),
}


def _move(aws_request_id: int, transition: str, *conditions: Q, **changes: object) -> bool:
    """Make one move of the table as a compare-and-set; True if this call moved the row.

    The only status write in the code base. The row moves only from the move's source statuses
    and only if ``conditions`` hold, in one UPDATE, so of two parties racing exactly one wins
    and the other sees False with nothing changed.
    """
    rows, target = _compare_and_set(aws_request_id, transition, conditions, changes)
    return rows.update(status=target, **changes) == 1


def _move_returning(
    aws_request_id: int,
    transition: str,
    *conditions: Q,
    also: str = "",
    also_params: Sequence[object] = (),
    **changes: object,
) -> AwsRequest | None:
    """``_move``, reading the moved row back in the same statement: ``UPDATE … RETURNING``.

    For the worker's claim, which needs the whole row it has just won: a SELECT after it would be
    one more round trip for nothing. ``also`` adds columns to the RETURNING list (our own SQL, never
    input), read as attributes of the instance. None if the row did not move. PostgreSQL and
    SQLite ≥ 3.35 both take RETURNING on an UPDATE.
    """
    rows, target = _compare_and_set(aws_request_id, transition, conditions, changes)
    query = cast(UpdateQuery, rows.query.chain(UpdateQuery))
    query.add_update_values({"status": target, **changes})
    compiler = query.get_compiler(rows.db)
    compiler.pre_sql_setup()
    sql, params = compiler.as_sql()
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in AwsRequest._meta.concrete_fields)
    columns = f"{columns}, {also}" if also else columns
    moved = list(AwsRequest.objects.raw(f"{sql} RETURNING {columns}", (*params, *also_params)))
    return moved[0] if moved else None


def _compare_and_set(
    aws_request_id: int, transition: str, conditions: Sequence[Q], changes: dict[str, object]
) -> tuple[QuerySet[AwsRequest], RequestStatus]:
    """What a move may take (the one row, in a source status, its conditions holding) and the
    status it moves it to; ``changes`` gets its ``updated_at``."""
    sources, target = TRANSITIONS[transition]
    if not sources:
        raise ValueError(f"{transition!r} creates a request; see record()")
    changes.setdefault("updated_at", timezone.now())
    return AwsRequest.objects.filter(*conditions, pk=aws_request_id, status__in=sources), target


# --- submitting ------------------------------------------------------------------------------------


class OperationNotPermitted(PermissionDenied):
    """The user may not run this operation (anywhere)."""


class TargetNotPermitted(PermissionDenied):
    """The user may not act in this AWS target (it is not granted to them, or it is retired)."""


class IdempotencyConflictError(Exception):
    """The idempotency key was already used, by this user, for a different request."""

    def __init__(self, earlier: AwsRequest) -> None:
        super().__init__(f"The key was already used for request #{earlier.pk}, a different request.")
        self.earlier = earlier


class InvalidParametersError(Exception):
    """The parameters break the operation's model or its documented rules; nothing was recorded."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(v.message for v in violations))
        self.violations = violations


@dataclass(frozen=True)
class Submission:
    """What ``submit`` did: recorded a new request, or (``replayed``) found the one a key names."""

    aws_request: AwsRequest
    replayed: bool = False


def authorize(user: User, operation: Operation, target: AwsTarget | None = None) -> None:
    """Refuse (PermissionDenied) unless ``user`` may run ``operation``, and act in ``target`` if given.

    The one answer to "may this person do this here", asked by ``submit`` before anything is
    recorded; pages ask it early (without a target) so that a forbidden form is never shown.
    """
    if not can_run(user, operation):
        raise OperationNotPermitted("You may not run this operation.")
    if target is not None:
        _refuse_unusable(user, target)


def _refuse_unusable(user: User, target: AwsTarget) -> None:
    if not AwsTarget.usable_by(user).filter(pk=target.pk).exists():
        raise TargetNotPermitted("You may not use this AWS target.")


def submit(
    operation: Operation,
    params: dict,
    user: User,
    target: AwsTarget,
    idempotency_key: str | None = None,
    *,
    retry_of: AwsRequest | None = None,
) -> Submission:
    """Record a request for ``user`` and hand it on (to a worker, or to an approver).

    The one way in for the form and the API, so that both refuse alike: the user must be
    allowed the operation and the target (PermissionDenied otherwise); a key the user already
    used returns that request when the body is the same (a retried POST must not run twice)
    and raises IdempotencyConflictError when it is not; parameters that break the operation's model
    raise InvalidParametersError and are never recorded, since the worker would only fail later.
    ``retry_of`` links an operator's retry (a new request, with a new client token) to the old one.
    """
    authorize(user, operation)
    violations = check_parameters(operation, params, strict=True)
    try:
        # One transaction for the checks that read the database and the row itself: a submit is
        # a handful of statements and one commit, not a commit per statement.
        with transaction.atomic():
            _refuse_unusable(user, target)
            if idempotency_key:
                earlier = _earlier(user, idempotency_key)
                if earlier is not None:
                    return _replay(earlier, operation, target, params)
            if violations:
                raise InvalidParametersError(violations)
            aws_request = record(operation, params, user, target, idempotency_key=idempotency_key, retry_of=retry_of)
    except IntegrityError:
        # The same key, posted twice at once: the other POST recorded it first.
        earlier = _earlier(user, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _replay(earlier, operation, target, params)
    return Submission(aws_request)


def _earlier(user: User, idempotency_key: str) -> AwsRequest | None:
    return AwsRequest.objects.filter(created_by=user, idempotency_key=idempotency_key).first()


def _replay(earlier: AwsRequest, operation: Operation, target: AwsTarget, params: dict) -> Submission:
    # The whole body must match: a retry that leaves a member out is a different request too.
    if (earlier.operation_key, earlier.target_id, earlier.parameters) != (operation.key, target.pk, params):
        raise IdempotencyConflictError(earlier)
    return Submission(earlier, replayed=True)


def record(
    operation: Operation,
    params: dict,
    user: User,
    target: AwsTarget,
    idempotency_key: str | None = None,
    *,
    retry_of: AwsRequest | None = None,
) -> AwsRequest:
    """Create the request row (queued, or awaiting approval) and enqueue it once committed.

    Trusts its caller: nothing is authorized or validated here. Pages and the API go through
    ``submit``; this is for code that has already decided, such as tests that need a request
    made by a given person. The row and its client token are committed before anything is
    enqueued, and ``robust``: a broker failure after the commit must not turn a recorded
    request into an error (the sweeper hands it over later).
    """
    needs_approval = ApprovalRule.applies(operation.key, target)
    _, status = TRANSITIONS["submit_for_approval" if needs_approval else "submit"]
    with transaction.atomic(savepoint=False):  # ``submit``'s transaction, when it calls
        aws_request = AwsRequest.objects.create(
            service=operation.service,
            operation=operation.name,
            parameters=params,
            target=target,
            account_id=target.account_id,
            region=target.region,
            created_by=user,
            # The name as it is now: the history keeps it even if the account is renamed later.
            created_by_username=user.get_username(),
            idempotency_key=idempotency_key,
            retry_of=retry_of,
            status=status,
            order_key=ordering.order_key(operation, params, target.account_id, target.region),
        )
        if not needs_approval:
            transaction.on_commit(lambda: pipeline.dispatch(aws_request.pk), robust=True)
        else:
            _announce(aws_request.pk, NotificationEvent.AWAITING_APPROVAL)
    return aws_request


def _announce(aws_request_id: int, event: NotificationEvent) -> None:
    """Tell people of a status change once it is committed; ``robust``: a failure to hand the
    notifications over never undoes or blocks the change (integrations/notifications.py)."""
    transaction.on_commit(lambda: notifications.announce(aws_request_id, event), robust=True)


# --- four eyes: approving and rejecting ------------------------------------------------------------


class DecisionError(Exception):
    """The request cannot be decided (any more): it is not awaiting approval."""


def can_decide(user: User, aws_request: AwsRequest) -> bool:
    """Approvers decide other people's requests, never their own: that is the second pair of eyes."""
    return user.has_perm(APPROVE) and aws_request.created_by_id != user.pk


def decide(aws_request: AwsRequest, user: User, *, approve: bool, reason: str = "") -> ApprovalDecision:
    """Approve (and enqueue) or reject a waiting request; each is decided once, never by its author.

    The decision row and the status move commit together, so the audit never shows a decision
    that did not take effect; of two people deciding at once, one wins and the other is told.
    """
    if not user.has_perm(APPROVE):
        raise PermissionDenied("You may not approve requests.")
    if aws_request.created_by_id == user.pk:
        raise PermissionDenied("Nobody approves their own request.")
    if aws_request.batch_id is not None:
        raise DecisionError("This request is decided with its batch, on the batch's page: one decision for all.")
    reason = reason.strip()
    if not approve and not reason:
        raise DecisionError("Say why the request is rejected.")
    refusal = reason_refusal(reason)
    if refusal:
        raise DecisionError(refusal)
    with transaction.atomic():
        if approve:
            moved = _move(aws_request.pk, "approve")
        else:
            moved = _move(aws_request.pk, "reject", error_code="Rejected", error_message=reason)
        if not moved:
            raise DecisionError("This request is not awaiting approval.")
        decision = ApprovalDecision.objects.create(
            request=aws_request, decided_by=user, approved=approve, reason=reason
        )
        _announce(aws_request.pk, NotificationEvent.APPROVED if approve else NotificationEvent.REJECTED)
        if approve:
            transaction.on_commit(lambda: pipeline.dispatch(aws_request.pk), robust=True)
        else:
            # Finished when decided, to the microsecond: the decision row's time is the record.
            AwsRequest.objects.filter(pk=aws_request.pk).update(finished_at=decision.decided_at)
    return decision


def _signed(done: str, user: User, now: dt.datetime, note: str) -> str:
    """Who did what to a request and when, with their note: kept in its error fields for the audit."""
    message = f"{done} by {user.get_username()} at {now.isoformat(timespec='seconds')}."
    if note.strip():
        message = f"{message} {note.strip()}"
    return message[:ERROR_MESSAGE_LIMIT]


# --- cancelling ------------------------------------------------------------------------------------

CANCELLABLE = TRANSITIONS["cancel"].sources
REASON_LIMIT = 1000  # characters of a cancel's or a rejection's reason: a note, not a document


class CancelError(Exception):
    """The request is running (its call may be in flight) or already finished: ``status`` says which."""

    def __init__(self, message: str, status: str = "") -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def of(cls, aws_request_id: int) -> CancelError:
        """Why the row refused the cancel, read after the compare-and-set lost: the status it has now."""
        status = AwsRequest.objects.filter(pk=aws_request_id).values_list("status", flat=True).first() or ""
        if status == S.RUNNING:
            return cls(
                "It started running; it can no longer be cancelled: its AWS call may be in flight. "
                "This page shows how it ends.",
                status,
            )
        label = S(status).label.lower() if status in S.values else "finished"
        if status in TRANSITIONS["cancel"].sources:
            # A worker's attempt came and went between the page and the click: it waits again.
            return cls(
                f"Its status changed meanwhile (it is now {label}); cancel it again if you still want to.", status
            )
        return cls(f"It is already {label}; it can no longer be cancelled.", status)


class InvalidReasonError(ValueError):
    """A reason the audit cannot keep as written: too long, or holding characters PostgreSQL refuses."""


def reason_refusal(reason: str) -> str | None:
    """Why ``reason`` cannot be recorded, in words for the person who typed it; None if it can.

    Refused rather than cleaned up: the audit keeps what the person wrote, or tells them. NUL and
    lone surrogates are valid in a Python string but PostgreSQL stores neither.
    """
    if len(reason) > REASON_LIMIT:
        return f"The reason is too long: at most {REASON_LIMIT} characters (it has {len(reason)})."
    if "\x00" in reason:
        return "The reason holds a NUL character, which cannot be stored: remove it."
    if any("\ud800" <= c <= "\udfff" for c in reason):
        return "The reason holds a broken character (a lone UTF-16 surrogate), which cannot be stored: remove it."
    return None


def can_cancel(user: User, aws_request: AwsRequest) -> bool:
    """The author may take their own request back; approvers, who may already stop other people's
    requests by rejecting them, may cancel those too."""
    return aws_request.created_by_id == user.pk or user.has_perm(APPROVE)


def cancel(aws_request: AwsRequest, user: User, reason: str = "") -> None:
    """Stop a request that no worker is running: it becomes final and nothing will run it.

    Only from awaiting approval, queued or retrying: a running request's AWS call may already
    have reached AWS, and cancelling it would only hide that. A task already in the broker for
    a cancelled request finds it not claimable and does nothing; the sweeper never picks it up.
    Who cancelled it and why are kept in their own fields (``cancelled_by``, ``cancel_reason``),
    and, signed, in the error fields, as a rejection keeps its reason there: the history, exports
    and API read a finished request's outcome from those. All in the one compare-and-set, so a
    worker that claimed the request first wins and nothing of the cancel is written
    (CancelError; ``aws_request`` is not read again, the row decides).
    """
    if not can_cancel(user, aws_request):
        raise PermissionDenied("You may not cancel this request.")
    reason = reason.strip()
    refusal = reason_refusal(reason)
    if refusal:
        raise InvalidReasonError(refusal)
    moved = _move(aws_request.pk, "cancel", **_cancelled(user, reason))
    if not moved:
        raise CancelError.of(aws_request.pk)
    _hand_over(aws_request)


# --- reopening: an operator's retry with the same client token ------------------------------------


def _cancelled(user: User, reason: str) -> dict[str, object]:
    """What a cancel writes beside the status: who, why, signed in the error fields, and no schedule."""
    now = timezone.now()
    return {
        "cancelled_by": user,
        "cancel_reason": reason,
        "error_code": "Cancelled",
        "error_message": _signed("Cancelled", user, now, reason),
        "finished_at": now,
        "next_attempt_at": None,
        "lease_expires_at": None,
        "updated_at": now,
    }


class ReopenError(Exception):
    """The request is not failed (any more): somebody else reopened or retried it first."""


def reopen(aws_request: AwsRequest, user: User, note: str = "") -> None:
    """Put a failed request back in the queue, to be called again with its own client token.

    For an operator who has decided that the token still protects the call (see
    ``integrations.operator``): the same request, so its audit keeps every attempt, and its
    attempt budget counts again from the attempts made so far (``attempt_base``). Who reopened it
    and when is kept in the error fields until the next attempt's outcome replaces them, as a
    cancel keeps its author; the task is published once the move is committed.
    """
    now = timezone.now()
    with transaction.atomic():
        moved = _move(
            aws_request.pk,
            "reopen",
            attempt_base=aws_request.attempts.count(),
            # Failing again, it holds its group again (integrations/ordering.py).
            order_released=False,
            error_code="Reopened",
            error_message=_signed("Reopened", user, now, note),
            finished_at=None,
            next_attempt_at=None,
            lease_expires_at=None,
            claim_id=None,
            # Not handed over since reopening: the sweeper's "never enqueued" case if publishing fails.
            enqueued_at=None,
            updated_at=now,
        )
        if not moved:
            raise ReopenError("This request is not failed: it was reopened or retried already, or never failed.")
        # The one move out of a final status: the metrics count requests afresh (integrations/metrics.py).
        MetricsRollup.objects.filter(pk=1).update(finished_through=None, request_totals={})
        bulk = aws_request.batch_id is not None
        transaction.on_commit(lambda: pipeline.dispatch(aws_request.pk, bulk=bulk), robust=True)


def attempts_left(aws_request: AwsRequest, attempt_number: int) -> bool:
    """Whether attempt ``attempt_number`` may be followed by another one.

    The budget counts from ``attempt_base``: a request an operator reopened gets a full set of
    attempts again, beyond the ones it had used up.
    """
    return attempt_number - aws_request.attempt_base < retry_policy.max_attempts()


# --- the worker's moves ----------------------------------------------------------------------------


class Claimed(NamedTuple):
    """A request this worker now holds, its claim, and the attempt recorded for its call: None
    when no attempt was left, and the request failed instead."""

    aws_request: AwsRequest
    claim_id: uuid.UUID
    attempt: Attempt | None


def batch_running() -> Q:
    """For a filter on requests: not part of a batch, or of one that is running (not paused)."""
    running = Batch.objects.filter(pk=OuterRef("batch_id"), status=BatchStatus.RUNNING)
    return Q(batch__isnull=True) | Q(Exists(running))


def claim(aws_request_id: int, now: dt.datetime) -> uuid.UUID | None:
    """Take a request for this worker for one lease; the claim id, or None if it is not ours to run.

    A queued request, or a retrying one whose time has come; or a running one whose lease has
    expired, whose worker is presumed dead (its open attempt is closed by ``claim_attempt``).
    A live lease is never taken, so one request runs in one place at a time.
    """
    claimed = _claim(aws_request_id, now)
    return None if claimed is None else claimed[1]


class NotAdmittedError(Exception):
    """The rate limit did not admit the call: the claim is undone with its transaction, and the
    request waits ``wait`` seconds (``defer``)."""

    def __init__(self, aws_request: AwsRequest, wait: float) -> None:
        super().__init__(f"Not admitted by the rate limit for {wait:.3f} s")
        self.aws_request, self.wait = aws_request, wait


def claim_attempt(
    aws_request_id: int,
    now: dt.datetime,
    *,
    worker: str = "",
    admit: Callable[[AwsRequest], float] | None = None,
) -> Claimed | None:
    """Claim a request and record its next attempt, in one transaction; None if it is not ours.

    One transaction, committed before the call leaves the process: a worker holds the request and
    its attempt row exists, or neither happened. The claim's ``UPDATE … RETURNING`` brings back the
    row and its attempt counts, so the worker's way to its AWS call is four statements and a commit.
    ``admit`` (the rate limit) is asked once the row is won, a call being about to happen: it
    answers how long to wait (0: go). A wait raises NotAdmittedError out of the transaction, which
    undoes the claim: no attempt is recorded for a call that was never made.
    """
    with transaction.atomic(savepoint=False):
        claimed = _claim(aws_request_id, now)
        if claimed is None:
            return None
        aws_request, claim_id, made, in_progress = claimed
        # A takeover (an open attempt: a dead worker's call) is finished whatever the rate: its
        # call was counted when it was made, and only finishing it says what became of it.
        if admit is not None and in_progress == 0:
            wait = admit(aws_request)
            if wait > 0:
                raise NotAdmittedError(aws_request, wait)
        attempt = _start_attempt(aws_request, claim_id, made, in_progress, now=now, worker=worker)
        return Claimed(aws_request, claim_id, attempt)


def defer(aws_request_id: int, until: dt.datetime) -> bool:
    """Put off a queued or retrying request until ``until`` (a rate limit): its schedule only.

    Not a move: the status stays. It is marked not sent (``enqueued_at``), so that the sweeper
    (or, for a batch, the feeder) sends it when it is due.
    """
    return (
        AwsRequest.objects.filter(pk=aws_request_id, status__in=(S.QUEUED, S.RETRYING)).update(
            next_attempt_at=until, enqueued_at=None, updated_at=timezone.now()
        )
        == 1
    )


def park(aws_request_id: int) -> bool:
    """A request whose claim was refused because its group is held or its batch paused: marked
    not sent, so nothing counts it as waiting in the broker; whoever frees it sends it again."""
    waiting = ~(ordering.group_clear() & batch_running())
    return (
        AwsRequest.objects.filter(
            waiting, pk=aws_request_id, status__in=(S.QUEUED, S.RETRYING), enqueued_at__isnull=False
        ).update(enqueued_at=None)
        == 1
    )


def _claim(aws_request_id: int, now: dt.datetime) -> tuple[AwsRequest, uuid.UUID, int, int] | None:
    """The claim's compare-and-set: the row won, the claim, and the row's attempts (all, and open)."""
    claim_id = uuid.uuid4()
    lease = dt.timedelta(seconds=settings.PORTAL_LEASE_SECONDS)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    # A request waits while an earlier one of its group holds it (integrations/ordering.py), and
    # while its batch is paused or awaiting approval. A dead worker's request is taken over anyway:
    # its call may have reached AWS, and only finishing it with its token says what happened.
    may_start = due & ordering.group_clear() & batch_running()
    claimable = (Q(status__in=(S.QUEUED, S.RETRYING)) & may_start) | Q(status=S.RUNNING, lease_expires_at__lt=now)
    aws_request = _move_returning(
        aws_request_id,
        "claim",
        claimable,
        also=_attempt_counts(),
        also_params=(AttemptOutcome.IN_PROGRESS,),
        claim_id=claim_id,
        lease_expires_at=now + lease,
        updated_at=now,
    )
    if aws_request is None:
        return None
    counts = vars(aws_request)
    return aws_request, claim_id, int(counts.pop("attempts_made")), int(counts.pop("attempts_open"))


def _attempt_counts() -> str:
    """RETURNING columns: the claimed request's attempts, and those still open (a dead worker's)."""
    quote = connection.ops.quote_name
    attempts = quote(Attempt._meta.db_table)
    of_this_request = (
        f"{attempts}.{quote(str(Attempt._meta.get_field('request').column))} = "
        f"{quote(AwsRequest._meta.db_table)}.{quote(str(AwsRequest._meta.pk.column))}"
    )
    outcome = quote(str(Attempt._meta.get_field("outcome").column))
    return (
        f"(SELECT COUNT(*) FROM {attempts} WHERE {of_this_request}) AS attempts_made, "
        f"(SELECT COUNT(*) FROM {attempts} WHERE {of_this_request} AND {attempts}.{outcome} = %s) AS attempts_open"
    )


def _start_attempt(
    aws_request: AwsRequest, claim_id: uuid.UUID, made: int, in_progress: int, *, now: dt.datetime, worker: str
) -> Attempt | None:
    """Record the next attempt; None if no attempt is left (the request is failed instead).

    A worker that stopped mid-call left its attempt open: AWS may or may not have acted on it,
    so it is marked interrupted, and the next attempt carries the same client token, which
    returns that resource if it exists. Past the maximum (counted from ``attempt_base``, the
    attempts made before an operator reopened it) the request fails instead.
    """
    if in_progress:
        aws_request.attempts.filter(outcome=AttemptOutcome.IN_PROGRESS).update(
            outcome=AttemptOutcome.INTERRUPTED,
            finished_at=now,
            error_message="The worker stopped during this call; the next attempt reuses the client token.",
        )
    if not attempts_left(aws_request, made):
        fail(aws_request, claim_id, Failure("MaxAttemptsExceeded", "No attempts left.", retryable=False))
        return None
    return Attempt.objects.create(
        request=aws_request,
        number=made + 1,
        started_at=now,
        client_token=aws_request.client_token,
        worker=worker,
    )


def finish_attempt(
    attempt: Attempt,
    outcome: AttemptOutcome,
    *,
    failure: Failure | None = None,
    http_status: int | None = None,
    aws_request_id: str = "",
) -> None:
    """Close an attempt with what the call returned: part of the audit, one row per call."""
    changes: dict = {
        "outcome": outcome,
        "finished_at": timezone.now(),
        "http_status": http_status,
        "aws_request_id": aws_request_id,
    }
    if failure is not None:
        changes.update(
            http_status=failure.http_status,
            error_code=failure.code,
            error_message=failure.message[:ERROR_MESSAGE_LIMIT],
            aws_request_id=failure.aws_request_id,
        )
    Attempt.objects.filter(pk=attempt.pk).update(**changes)


def _still_ours(claim_id: uuid.UUID) -> Q:
    # A worker whose lease ran out and was taken over must not overwrite the new worker's result.
    return Q(claim_id=claim_id)


def retry_later(aws_request: AwsRequest, claim_id: uuid.UUID, failure: Failure, *, at: dt.datetime) -> bool:
    """Give the request back until ``at``, keeping the error; False if the claim was lost meanwhile."""
    return _move(
        aws_request.pk,
        "retry_later",
        _still_ours(claim_id),
        next_attempt_at=at,
        lease_expires_at=None,
        error_code=failure.code,
        error_message=failure.message[:ERROR_MESSAGE_LIMIT],
    )


def _hand_over(aws_request: AwsRequest) -> None:
    """Once a request of a group or a batch is final and committed, send what may run now: the
    next of its group, and more of its batch (integrations/pipeline.py ``hand_over``)."""
    if aws_request.order_key or aws_request.batch_id:
        key, batch_id = aws_request.order_key, aws_request.batch_id
        transaction.on_commit(lambda: pipeline.hand_over(key, batch_id), robust=True)


def succeed(aws_request: AwsRequest, claim_id: uuid.UUID, *, response: object, resource_id: str) -> bool:
    """Finish the request with AWS's answer and the resource it names."""
    now = timezone.now()
    moved = _move(
        aws_request.pk,
        "succeed",
        _still_ours(claim_id),
        response=response,
        resource_id=resource_id,
        error_code="",
        error_message="",
        finished_at=now,
        lease_expires_at=None,
        next_attempt_at=None,
        updated_at=now,
    )
    if moved:
        _finished(aws_request, NotificationEvent.SUCCEEDED)
    return moved


def fail(aws_request: AwsRequest, claim_id: uuid.UUID, failure: Failure) -> bool:
    """Finish the request as failed: a refusal, or retries exhausted. Nothing runs it again."""
    now = timezone.now()
    moved = _move(
        aws_request.pk,
        "fail",
        _still_ours(claim_id),
        error_code=failure.code,
        error_message=failure.message[:ERROR_MESSAGE_LIMIT],
        finished_at=now,
        lease_expires_at=None,
        next_attempt_at=None,
        updated_at=now,
    )
    if moved:
        # A failed request of a group holds it (integrations/ordering.py): only its batch goes on.
        _finished(aws_request, NotificationEvent.FAILED)
    return moved


def _finished(aws_request: AwsRequest, event: NotificationEvent) -> None:
    # A batch's requests are not announced one by one: a person gets one batch, not 100,000 e-mails.
    if aws_request.batch_id is None:
        _announce(aws_request.pk, event)
    _hand_over(aws_request)


# --- groups and batches ------------------------------------------------------------------------------


class ReleaseError(Exception):
    """The request is not a failed request holding its group (any more)."""


def release(aws_request: AwsRequest, user: User) -> None:
    """Let the rest of a failed request's group go on without it (its owner's decision).

    A failed request holds its group (integrations/ordering.py) so that no later event overtakes
    it silently; releasing is that decision, kept in the request's error message with who and when.
    A compare-and-set: of two people releasing at once, one does.
    """
    now = timezone.now()
    note = Value("\n" + _signed("Group released", user, now, ""))
    with transaction.atomic():
        moved = AwsRequest.objects.filter(
            pk=aws_request.pk, status=S.FAILED, order_released=False, order_key__isnull=False
        ).update(order_released=True, error_message=Concat(F("error_message"), note), updated_at=now)
        if not moved:
            raise ReleaseError("This request does not hold its group: it was released already, or it did not fail.")
        _hand_over(aws_request)


def move_all(requests: QuerySet[AwsRequest], transition: str, **changes: object) -> int:
    """``_move`` for many rows at once (a batch's approval, rejection or cancel): one compare-and-set
    UPDATE of those still in the move's source statuses. How many moved."""
    sources, target = TRANSITIONS[transition]
    changes.setdefault("updated_at", timezone.now())
    return requests.filter(status__in=sources).update(status=target, **changes)


def decide_all(requests: QuerySet[AwsRequest], user: User, *, approve: bool, reason: str) -> int:
    """One decision for many requests (a batch): approved ones queue, rejected ones finish with
    the reason signed in their error fields. The caller checks who may decide."""
    now = timezone.now()
    if approve:
        return move_all(requests, "approve", updated_at=now)
    return move_all(
        requests,
        "reject",
        error_code="Rejected",
        error_message=_signed("Rejected", user, now, reason),
        finished_at=now,
        updated_at=now,
    )


def cancel_all(requests: QuerySet[AwsRequest], user: User, reason: str = "") -> int:
    """Cancel every one of ``requests`` that no worker is running (a batch's "cancel the rest")."""
    return move_all(requests, "cancel", **_cancelled(user, reason))
