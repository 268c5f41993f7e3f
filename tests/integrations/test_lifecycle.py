"""A request's life as ``integrations.lifecycle`` writes it down: every move its table allows
happens, every other one is refused and changes nothing; a request can be cancelled until a worker
runs it; and ``submit`` decides itself who may run what where, recording nothing it refuses."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from integrations import lifecycle, pipeline
from integrations.aws_errors import Failure
from integrations.lifecycle import TRANSITIONS
from integrations.models import (
    FINISHED_STATUSES,
    ApprovalDecision,
    ApprovalRule,
    AttemptOutcome,
    AwsRequest,
    RequestStatus,
)
from integrations.permissions import APPROVERS, AUDITORS, OPERATORS
from integrations.tasks import execute_request
from operations import get_operation
from tests.factories import default_target, ingestion_params, make_operator, make_request, make_target, make_user

pytestmark = pytest.mark.django_db

INGESTION = get_operation("appfabric/CreateIngestion")
# The worker that holds every running request made here, unless a test says otherwise.
CLAIM = uuid.uuid4()
THROTTLED = Failure("ThrottlingException", "Rate exceeded", retryable=True)
REFUSED = Failure("ValidationException", "tenantId is too long", retryable=False)


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def in_status(status: RequestStatus, **fields) -> AwsRequest:
    """A request in ``status`` whose other conditions all let a move through (due now, its lease run
    out, held by CLAIM), so that its status alone decides what may happen to it."""
    fields = {"claim_id": CLAIM, "lease_expires_at": ago(1), "next_attempt_at": None, **fields}
    return make_request(status=status, **fields)


def row(aws_request: AwsRequest) -> dict:
    return AwsRequest.objects.values().get(pk=aws_request.pk)


def status_of(aws_request: AwsRequest) -> str:
    return row(aws_request)["status"]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Users are made in most tests; the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def approver(db):
    return make_user("approver", groups=(APPROVERS,))


@pytest.fixture
def published(monkeypatch):
    """What reaches the broker: the boundary, recorded instead of sent."""
    sent: list[int] = []
    monkeypatch.setattr(execute_request, "apply_async", lambda args, countdown=None, **kw: sent.append(args[0]))
    return sent


# --- the table, walked -----------------------------------------------------------------------------
# Each move tried the way the portal makes it; True when the request moved, False when refused.


def approve(aws_request: AwsRequest, approver) -> bool:
    try:
        lifecycle.decide(aws_request, approver, approve=True)
    except lifecycle.DecisionError:
        return False
    return True


def reject(aws_request: AwsRequest, approver) -> bool:
    try:
        lifecycle.decide(aws_request, approver, approve=False, reason="Not during the freeze.")
    except lifecycle.DecisionError:
        return False
    return True


def cancel(aws_request: AwsRequest, approver) -> bool:
    try:
        lifecycle.cancel(aws_request, aws_request.created_by)
    except lifecycle.CancelError:
        return False
    return True


def reopen(aws_request: AwsRequest, approver) -> bool:
    try:
        lifecycle.reopen(aws_request, aws_request.created_by)
    except lifecycle.ReopenError:
        return False
    return True


MOVES = {
    "approve": approve,
    "reject": reject,
    "cancel": cancel,
    "claim": lambda aws_request, _: lifecycle.claim(aws_request.pk, timezone.now()) is not None,
    "retry_later": lambda aws_request, _: lifecycle.retry_later(
        aws_request, CLAIM, THROTTLED, at=timezone.now() + dt.timedelta(seconds=5)
    ),
    "succeed": lambda aws_request, _: lifecycle.succeed(aws_request, CLAIM, response={}, resource_id="arn:aws:x"),
    "fail": lambda aws_request, _: lifecycle.fail(aws_request, CLAIM, REFUSED),
    "reopen": reopen,
}
CREATIONS = [name for name, move in TRANSITIONS.items() if not move.sources]
ALLOWED = [(name, source) for name, move in TRANSITIONS.items() for source in move.sources]
FORBIDDEN = [
    (name, status)
    for name, move in TRANSITIONS.items()
    if move.sources
    for status in RequestStatus
    if status not in move.sources
]


def test_every_move_of_the_table_is_tried_here():
    assert set(MOVES) == {name for name, move in TRANSITIONS.items() if move.sources}


@pytest.mark.parametrize(("name", "source"), ALLOWED, ids=[f"{n}-from-{s}" for n, s in ALLOWED])
def test_an_allowed_move_takes_a_request_from_its_source_to_its_target(name, source, approver):
    aws_request = in_status(source)

    assert MOVES[name](aws_request, approver) is True

    assert status_of(aws_request) == TRANSITIONS[name].target


@pytest.mark.parametrize(("name", "status"), FORBIDDEN, ids=[f"{n}-from-{s}" for n, s in FORBIDDEN])
def test_a_move_from_any_other_status_is_refused_and_changes_nothing(name, status, approver):
    aws_request = in_status(status)
    before = row(aws_request)

    assert MOVES[name](aws_request, approver) is False

    assert row(aws_request) == before
    assert not ApprovalDecision.objects.exists()


@pytest.mark.parametrize("name", CREATIONS)
def test_a_new_request_starts_in_the_status_the_table_gives_it(name, operator):
    if TRANSITIONS[name].target == RequestStatus.AWAITING_APPROVAL:
        ApprovalRule.objects.create(operation=INGESTION.key)

    aws_request = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target()).aws_request

    assert status_of(aws_request) == TRANSITIONS[name].target


def test_finished_statuses_are_final_and_every_other_status_has_a_way_out():
    # An operator's reopen is the one way out of a finished status, and only out of a failure.
    ordinary = [move for name, move in TRANSITIONS.items() if name != "reopen"]
    sources = {source for move in ordinary for source in move.sources}
    targets = {move.target for move in TRANSITIONS.values()}

    assert sources == set(RequestStatus) - set(FINISHED_STATUSES)
    assert TRANSITIONS["reopen"] == ((RequestStatus.FAILED,), RequestStatus.QUEUED)
    assert targets == set(RequestStatus)  # every status is reachable


def test_no_module_but_the_lifecycle_writes_a_status():
    package = Path(lifecycle.__file__).parent
    writes = re.compile(r"\.update\((?:[^()]|\([^()]*\))*\bstatus=")
    writers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "migrations" not in path.parts and writes.search(path.read_text())
    ]

    # The lifecycle writes requests' statuses; batches.py writes a batch's own status, in one place.
    assert sorted(writers) == ["batches.py", "lifecycle.py"]
    batch_writes = re.findall(
        r"(\w+)\.objects\.filter\([^()]*\)\.update\(status=", (package / "batches.py").read_text()
    )
    assert batch_writes == ["Batch"]


# --- the conditions beside the status ---------------------------------------------------------------


def test_a_retry_that_is_not_due_cannot_be_claimed():
    aws_request = in_status(RequestStatus.RETRYING, next_attempt_at=timezone.now() + dt.timedelta(minutes=1))

    assert lifecycle.claim(aws_request.pk, timezone.now()) is None
    assert status_of(aws_request) == RequestStatus.RETRYING


def test_a_running_request_whose_lease_is_live_cannot_be_claimed():
    aws_request = in_status(RequestStatus.RUNNING, lease_expires_at=timezone.now() + dt.timedelta(seconds=30))

    assert lifecycle.claim(aws_request.pk, timezone.now()) is None
    assert row(aws_request)["claim_id"] == CLAIM


def test_a_worker_whose_request_was_taken_over_cannot_finish_it():
    aws_request = in_status(RequestStatus.RUNNING)
    new_claim = lifecycle.claim(aws_request.pk, timezone.now())
    assert new_claim not in (None, CLAIM)

    assert lifecycle.succeed(aws_request, CLAIM, response={}, resource_id="arn:aws:x") is False
    assert lifecycle.fail(aws_request, CLAIM, REFUSED) is False
    assert lifecycle.retry_later(aws_request, CLAIM, THROTTLED, at=timezone.now()) is False
    assert (status_of(aws_request), row(aws_request)["claim_id"]) == (RequestStatus.RUNNING, new_claim)


# --- cancelling --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"status": RequestStatus.QUEUED},
        {"status": RequestStatus.RETRYING, "next_attempt_at": ago(1), "error_code": "ThrottlingException"},
    ],
    ids=["queued", "retrying"],
)
def test_a_waiting_request_can_be_cancelled_and_a_worker_then_does_nothing_with_it(fields, published):
    aws_request = make_request(**fields)
    author = aws_request.created_by
    before = timezone.now()

    lifecycle.cancel(aws_request, author)

    cancelled = AwsRequest.objects.get(pk=aws_request.pk)
    assert cancelled.status == RequestStatus.CANCELLED
    assert cancelled.is_finished
    assert cancelled.error_code == "Cancelled"
    assert cancelled.error_message.startswith(f"Cancelled by {author.get_username()} at ")
    assert before <= cancelled.finished_at <= timezone.now()
    # The task already in the broker finds nothing to do, and the sweeper never hands it over.
    assert pipeline.execute(aws_request.pk) == "not claimable"
    assert pipeline.sweep(timezone.now() + dt.timedelta(days=1)) == []
    assert not cancelled.attempts.exists()
    assert status_of(aws_request) == RequestStatus.CANCELLED
    assert published == []


def test_a_running_request_cannot_be_cancelled():
    aws_request = make_request(
        status=RequestStatus.RUNNING, claim_id=CLAIM, lease_expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    before = row(aws_request)

    with pytest.raises(lifecycle.CancelError):
        lifecycle.cancel(aws_request, aws_request.created_by)

    assert row(aws_request) == before


def test_a_request_awaiting_approval_can_be_cancelled_and_then_no_longer_approved(approver):
    aws_request = make_request(status=RequestStatus.AWAITING_APPROVAL)

    lifecycle.cancel(aws_request, aws_request.created_by)

    with pytest.raises(lifecycle.DecisionError):
        lifecycle.decide(aws_request, approver, approve=True)
    assert status_of(aws_request) == RequestStatus.CANCELLED
    assert not ApprovalDecision.objects.exists()


def test_only_the_author_or_an_approver_may_cancel_a_request(approver):
    aws_request = make_request()
    before = row(aws_request)

    with pytest.raises(PermissionDenied):
        lifecycle.cancel(aws_request, make_operator("someone-else"))
    assert row(aws_request) == before

    lifecycle.cancel(aws_request, approver)
    assert row(aws_request)["error_message"].startswith("Cancelled by approver at ")


def test_a_cancel_records_who_and_why_in_the_same_move(approver):
    aws_request = make_request(status=RequestStatus.AWAITING_APPROVAL)

    lifecycle.cancel(aws_request, approver, "  Duplicate of #12.  ")

    cancelled = row(aws_request)
    assert (cancelled["status"], cancelled["cancelled_by_id"], cancelled["cancel_reason"]) == (
        RequestStatus.CANCELLED, approver.pk, "Duplicate of #12."
    )  # fmt: skip
    assert cancelled["error_message"].endswith("Duplicate of #12.")


def test_a_cancel_that_loses_the_race_to_a_worker_writes_nothing_and_says_it_started_running():
    # The person saw it queued; a worker's claim committed before their cancel reached the database.
    seen_queued = make_request(status=RequestStatus.QUEUED)
    assert lifecycle.claim(seen_queued.pk, timezone.now()) is not None
    before = row(seen_queued)

    with pytest.raises(lifecycle.CancelError) as refused:
        lifecycle.cancel(seen_queued, seen_queued.created_by, "too late")

    assert refused.value.status == RequestStatus.RUNNING
    assert str(refused.value).startswith("It started running; it can no longer be cancelled")
    assert row(seen_queued) == before
    assert (before["cancelled_by_id"], before["cancel_reason"]) == (None, "")


def test_a_cancel_of_a_finished_request_says_what_became_of_it():
    aws_request = make_request(status=RequestStatus.SUCCEEDED)

    with pytest.raises(lifecycle.CancelError, match=r"^It is already succeeded; it can no longer be cancelled\.$"):
        lifecycle.cancel(aws_request, aws_request.created_by)


@pytest.mark.parametrize(
    ("reason", "words"),
    [("x" * 1001, "at most 1000 characters"), ("a\x00b", "NUL"), ("a\ud800b", "lone UTF-16 surrogate")],
    ids=["too-long", "nul", "surrogate"],
)
def test_a_reason_the_database_cannot_keep_is_refused_and_nothing_moves(reason, words, approver):
    aws_request = make_request(status=RequestStatus.AWAITING_APPROVAL)
    before = row(aws_request)

    with pytest.raises(lifecycle.InvalidReasonError, match=words):
        lifecycle.cancel(aws_request, aws_request.created_by, reason)
    with pytest.raises(lifecycle.DecisionError, match=words):
        lifecycle.decide(aws_request, approver, approve=False, reason=reason)

    assert row(aws_request) == before


# --- reopening -----------------------------------------------------------------------------------------


def failed_after(attempts: int, **fields) -> AwsRequest:
    """A request that failed after ``attempts`` calls, each of them timed out."""
    aws_request = make_request(
        status=RequestStatus.FAILED, error_code="ReadTimeoutError", finished_at=ago(60), **fields
    )
    for number in range(1, attempts + 1):
        aws_request.attempts.create(
            number=number,
            started_at=ago(600 - number),
            finished_at=ago(599 - number),
            outcome=AttemptOutcome.RETRYABLE_ERROR if number < attempts else AttemptOutcome.FAILED,
            error_code="ReadTimeoutError",
            client_token=aws_request.client_token,
        )
    return aws_request


def test_a_reopened_request_is_queued_again_with_its_token_and_its_attempts_counted_so_far(
    published, django_capture_on_commit_callbacks
):
    aws_request = failed_after(3, enqueued_at=ago(700))
    token = aws_request.client_token

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.reopen(aws_request, aws_request.created_by, note="Timed out; the token still holds.")

    reopened = AwsRequest.objects.get(pk=aws_request.pk)
    assert (reopened.status, reopened.client_token, reopened.attempt_base) == (RequestStatus.QUEUED, token, 3)
    assert reopened.finished_at is None
    assert reopened.error_code == "Reopened"
    assert reopened.error_message.startswith(f"Reopened by {aws_request.created_by.get_username()} at ")
    assert reopened.error_message.endswith("Timed out; the token still holds.")
    assert reopened.attempts.count() == 3  # the audit keeps every earlier call
    assert published == [aws_request.pk]


def test_a_request_cannot_be_reopened_twice_at_once(published, django_capture_on_commit_callbacks):
    aws_request = failed_after(1)
    lifecycle.reopen(aws_request, aws_request.created_by)
    before = row(aws_request)

    with pytest.raises(lifecycle.ReopenError):
        lifecycle.reopen(aws_request, aws_request.created_by)

    assert row(aws_request) == before


def test_a_reopened_requests_attempts_count_from_where_it_was_reopened(settings):
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 2
    aws_request = failed_after(3)
    lifecycle.reopen(aws_request, aws_request.created_by)

    claimed = lifecycle.claim_attempt(aws_request.pk, timezone.now())

    # Three made before the reopen, two allowed after it: the 4th and the 5th, never a 6th.
    assert claimed is not None
    aws_request, _, attempt = claimed
    assert attempt is not None
    assert (attempt.number, attempt.client_token) == (4, aws_request.client_token)
    assert lifecycle.attempts_left(aws_request, 4) is True
    assert lifecycle.attempts_left(aws_request, 5) is False


def test_past_the_budget_counted_from_the_reopen_the_request_fails(settings):
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 2
    # Reopened after 3 attempts, and 2 more made since: none is left.
    reopened = make_request(status=RequestStatus.QUEUED, attempt_base=3)
    for number in range(1, 6):
        reopened.attempts.create(
            number=number, started_at=ago(60), outcome=AttemptOutcome.FAILED, client_token=reopened.client_token
        )
    claimed = lifecycle.claim_attempt(reopened.pk, timezone.now())

    assert claimed is not None
    assert claimed.attempt is None

    assert (status_of(reopened), row(reopened)["error_code"]) == (RequestStatus.FAILED, "MaxAttemptsExceeded")
    assert reopened.attempts.count() == 5


# --- submitting ----------------------------------------------------------------------------------------


def test_a_permitted_submit_records_a_queued_request_and_enqueues_it_once_committed(
    operator, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target())

    [aws_request] = AwsRequest.objects.all()
    assert submission == lifecycle.Submission(aws_request, replayed=False)
    assert (aws_request.status, aws_request.created_by, aws_request.target) == (
        RequestStatus.QUEUED,
        operator,
        default_target(),
    )
    assert published == [aws_request.pk]


def test_a_request_that_needs_approval_is_not_enqueued(operator, published, django_capture_on_commit_callbacks):
    ApprovalRule.objects.create(target=default_target())

    with django_capture_on_commit_callbacks(execute=True):
        aws_request = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target()).aws_request

    assert aws_request.status == RequestStatus.AWAITING_APPROVAL
    assert published == []


def test_submitting_an_operation_the_user_may_not_run_is_refused_and_records_nothing(db):
    auditor = make_user("auditor", groups=(AUDITORS,))  # may see every request, run none
    target = make_target("sandbox", users=(auditor,))

    with pytest.raises(PermissionDenied, match="You may not run this operation"):
        lifecycle.submit(INGESTION, ingestion_params(), auditor, target)

    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("target", ["not granted", "retired"])
def test_submitting_in_a_target_the_user_may_not_use_is_refused_and_records_nothing(operator, target):
    targets = {
        "not granted": make_target("elsewhere", account_id="444455556666", region="eu-west-1"),
        "retired": make_target("retired", groups=(OPERATORS,), is_active=False),
    }

    with pytest.raises(PermissionDenied, match="You may not use this AWS target"):
        lifecycle.submit(INGESTION, ingestion_params(), operator, targets[target])

    assert not AwsRequest.objects.exists()


def test_parameters_that_break_the_model_are_refused_and_nothing_is_recorded(operator):
    with pytest.raises(lifecycle.InvalidParametersError) as refused:
        lifecycle.submit(INGESTION, ingestion_params(tenantId=None, colour="blue"), operator, default_target())

    assert {v.dotted_path for v in refused.value.violations} >= {"tenantId", "colour"}
    assert not AwsRequest.objects.exists()


def test_the_same_key_and_body_return_the_first_request_marked_as_a_replay(operator):
    first = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target(), idempotency_key="order-42")

    again = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target(), idempotency_key="order-42")

    assert (first.replayed, again.replayed) == (False, True)
    assert again.aws_request == first.aws_request
    assert AwsRequest.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict_and_records_nothing(operator):
    lifecycle.submit(INGESTION, ingestion_params(), operator, default_target(), idempotency_key="order-42")

    with pytest.raises(lifecycle.IdempotencyConflictError):
        lifecycle.submit(
            INGESTION, ingestion_params(tenantId="tenant-2"), operator, default_target(), idempotency_key="order-42"
        )

    assert AwsRequest.objects.count() == 1


def test_of_two_submits_with_one_key_at_once_the_later_gets_the_earlier_request_back(operator, monkeypatch):
    first = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target(), idempotency_key="order-42")
    # The second looked before the first had committed: it found no request, and its insert clashes.
    real_lookup, lookups = lifecycle._earlier, []

    def not_committed_yet_at_first(user, key):
        lookups.append(key)
        return None if len(lookups) == 1 else real_lookup(user, key)

    monkeypatch.setattr(lifecycle, "_earlier", not_committed_yet_at_first)

    again = lifecycle.submit(INGESTION, ingestion_params(), operator, default_target(), idempotency_key="order-42")

    assert again == lifecycle.Submission(first.aws_request, replayed=True)
    assert lookups == ["order-42", "order-42"]
    assert AwsRequest.objects.count() == 1
