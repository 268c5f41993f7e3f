"""Four eyes, with a real worker running: a request that needs approval reaches nobody until
another approver lets it through, nobody approves their own, and a rejection is final."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from integrations import approvals, lifecycle, pipeline
from integrations.models import ApprovalDecision, ApprovalRule, AwsRequest, RequestStatus
from integrations.permissions import APPROVERS, OPERATORS
from operations import get_operation
from tests.factories import (
    default_target,
    form_post,
    ingestion_form_data,
    ingestion_params,
    make_request,
    make_target,
    make_user,
)
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FORM_URL = "/operations/appfabric/CreateIngestion/"
INGESTION = "appfabric/CreateIngestion"
# How long a waiting request is watched to show that nothing reaches the sandbox: the worker
# polls its queue every 0.2 s and runs a call in well under a second.
QUIET_SECONDS = 1.5


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Users are made here and signed in through the test client, never through a web process.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def requester(client, db):
    """An operator who may also approve: only their authorship stops them approving their own."""
    default_target()
    user = make_user("requester", groups=(OPERATORS, APPROVERS))
    client.force_login(user)
    return user


@pytest.fixture
def approver(db):
    return make_user("approver", groups=(APPROVERS,))


@pytest.fixture
def approver_client(approver):
    other = Client()
    other.force_login(approver)
    return other


def submit(client, target=None) -> AwsRequest:
    response = client.post(FORM_URL, form_post(ingestion_form_data(), target))
    assert response.status_code == 302, response.content.decode()[:2000]
    return AwsRequest.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def decide(client, request: AwsRequest, decision: str, reason: str = ""):
    return client.post(f"/requests/{request.pk}/decide/", {"decision": decision, "reason": reason}, follow=True)


def status(request: AwsRequest) -> str:
    return AwsRequest.objects.values_list("status", flat=True).get(pk=request.pk)


def assert_nothing_reaches_the_sandbox(sandbox, request: AwsRequest, expected_status: str) -> None:
    """For QUIET_SECONDS, while a real worker runs: no call, and the request does not move."""
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        assert list(sandbox.state.calls) == []
        assert status(request) == expected_status
        time.sleep(0.1)
    assert sandbox.state.resources == []
    assert not request.attempts.exists()


def finished(request: AwsRequest) -> AwsRequest | None:
    fresh = AwsRequest.objects.get(pk=request.pk)
    return fresh if fresh.is_finished else None


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def make_rule(kind: str, target) -> ApprovalRule:
    rule = ApprovalRule(
        operation=INGESTION if kind in ("operation", "both") else "",
        target=target if kind in ("target", "both") else None,
    )
    rule.full_clean()
    rule.save()
    return rule


# --- held until approved ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["operation", "target", "both"])
def test_a_matching_rule_holds_the_request_until_another_approver_approves_it(
    kind, client, requester, approver, approver_client, worker, sandbox
):
    make_rule(kind, default_target())

    request = submit(client)

    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert_nothing_reaches_the_sandbox(sandbox, request, RequestStatus.AWAITING_APPROVAL)
    # Waiting is not being stuck: the sweeper leaves it alone, however late it is.
    assert pipeline.sweep(timezone.now() + dt.timedelta(days=1)) == []
    # The approver is offered the decision on the request's page.
    assert "Approve and run" in approver_client.get(request.get_absolute_url()).content.decode()

    before = timezone.now()
    response = decide(approver_client, request, "approve")

    assert response.status_code == 200
    assert f"Request #{request.pk} approved." in messages_of(response)
    done = wait_for(lambda: finished(request), message="the approved request to finish")
    assert done.status == RequestStatus.SUCCEEDED
    [resource] = sandbox.state.resources
    assert done.resource_id == resource["id"]
    assert done.resource_id.startswith("arn:aws:appfabric:us-east-1:")
    creates = [c for c in sandbox.state.calls if c["operation"] == done.operation_key]
    assert [c["client_token"] for c in creates] == [done.client_token]
    decision = ApprovalDecision.objects.get(request=done)
    assert (decision.decided_by, decision.approved, decision.reason) == (approver, True, "")
    assert before <= decision.decided_at <= timezone.now()
    assert "Approved by <strong>approver</strong>" in approver_client.get(done.get_absolute_url()).content.decode()


def test_a_request_no_rule_matches_runs_without_approval(client, requester, worker, sandbox):
    # Rules for another operation and for another target do not apply to this request.
    ApprovalRule.objects.create(operation="supplychain/SendDataIntegrationEvent")
    ApprovalRule.objects.create(target=make_target("production", account_id="999988887777"))

    request = submit(client)

    # Handed to the worker at once (which may already hold it), never held for a decision.
    assert request.status in (RequestStatus.QUEUED, RequestStatus.RUNNING, RequestStatus.SUCCEEDED)
    done = wait_for(lambda: finished(request), message="the request to finish")
    assert done.status == RequestStatus.SUCCEEDED
    assert done.resource_id == sandbox.state.resources[0]["id"]
    assert not ApprovalDecision.objects.filter(request=done).exists()


# --- nobody approves their own ---------------------------------------------------------------------


def test_the_requester_cannot_approve_their_own_request(client, requester, worker, sandbox):
    ApprovalRule.objects.create(operation=INGESTION)
    request = submit(client)
    assert requester.has_perm("integrations.approve_request")  # allowed to approve, just not this one
    assert "Approve and run" not in client.get(request.get_absolute_url()).content.decode()

    response = client.post(f"/requests/{request.pk}/decide/", {"decision": "approve"})

    assert response.status_code == 403
    with pytest.raises(PermissionDenied, match="Nobody approves their own request"):
        approvals.decide(request, requester, approve=True)
    with pytest.raises(PermissionDenied):
        approvals.decide(request, requester, approve=False, reason="changed my mind")
    assert not ApprovalDecision.objects.exists()
    assert_nothing_reaches_the_sandbox(sandbox, request, RequestStatus.AWAITING_APPROVAL)


def test_someone_who_may_not_approve_cannot_decide(client, requester, sandbox):
    ApprovalRule.objects.create(operation=INGESTION)
    request = submit(client)
    auditor = make_user("auditor", groups=("Auditors",))  # may see every request, not decide one
    client.force_login(auditor)

    assert client.post(f"/requests/{request.pk}/decide/", {"decision": "approve"}).status_code == 403
    with pytest.raises(PermissionDenied):
        approvals.decide(request, auditor, approve=True)
    assert status(request) == RequestStatus.AWAITING_APPROVAL
    assert not ApprovalDecision.objects.exists()


# --- a rejection is final --------------------------------------------------------------------------


def test_a_rejection_needs_a_reason(client, requester, approver, approver_client, sandbox):
    ApprovalRule.objects.create(operation=INGESTION)
    request = submit(client)

    response = decide(approver_client, request, "reject", reason="   ")

    assert "Say why the request is rejected." in messages_of(response)
    with pytest.raises(approvals.DecisionError):
        approvals.decide(request, approver, approve=False)
    assert status(request) == RequestStatus.AWAITING_APPROVAL
    assert not ApprovalDecision.objects.exists()


def test_a_rejection_is_final_recorded_and_never_reaches_the_sandbox(
    client, requester, approver, approver_client, worker, sandbox
):
    ApprovalRule.objects.create(target=default_target())
    request = submit(client)
    before = timezone.now()

    response = decide(approver_client, request, "reject", reason="  Not during the freeze.  ")

    after = timezone.now()
    assert f"Request #{request.pk} rejected." in messages_of(response)
    rejected = AwsRequest.objects.get(pk=request.pk)
    assert rejected.status == RequestStatus.REJECTED
    assert rejected.is_finished
    assert (rejected.error_code, rejected.error_message) == ("Rejected", "Not during the freeze.")
    assert before <= rejected.finished_at <= after
    decision = ApprovalDecision.objects.get(request=request)
    assert decision.decided_by == approver
    assert decision.approved is False
    assert decision.reason == "Not during the freeze."
    assert before <= decision.decided_at <= after
    assert rejected.finished_at == decision.decided_at
    page = approver_client.get(request.get_absolute_url()).content.decode()
    assert "Rejected by <strong>approver</strong>" in page
    assert "Not during the freeze." in page
    assert "Approve and run" not in page

    # A second decision, by anyone, is refused and changes nothing.
    second = make_user("second-approver", groups=(APPROVERS,))
    approver_client.force_login(second)
    response = decide(approver_client, request, "approve")
    assert "This request is not awaiting approval." in messages_of(response)
    for user, approve in ((second, True), (approver, True), (approver, False)):
        with pytest.raises(approvals.DecisionError):
            approvals.decide(request, user, approve=approve, reason="second thoughts")
    assert ApprovalDecision.objects.get(request=request) == decision
    assert ApprovalDecision.objects.get(request=request).decided_by == approver

    # Nothing runs it: not the worker, not the sweeper, not a stray task.
    assert_nothing_reaches_the_sandbox(sandbox, request, RequestStatus.REJECTED)
    assert pipeline.sweep() == []
    assert pipeline.sweep(timezone.now() + dt.timedelta(days=1)) == []
    assert pipeline.execute(request.pk) == "not claimable"
    assert list(sandbox.state.calls) == []
    final = AwsRequest.objects.get(pk=request.pk)
    assert (final.status, final.error_message, final.finished_at) == (
        RequestStatus.REJECTED,
        "Not during the freeze.",
        rejected.finished_at,
    )


def test_of_two_approvals_at_once_only_one_counts(client, requester, approver, sandbox):
    ApprovalRule.objects.create(operation=INGESTION)
    request = submit(client)
    # Both approvers loaded the request while it was waiting.
    seen_by_first = AwsRequest.objects.get(pk=request.pk)
    seen_by_second = AwsRequest.objects.get(pk=request.pk)
    second = make_user("second-approver", groups=(APPROVERS,))

    approvals.decide(seen_by_first, approver, approve=False, reason="no")
    with pytest.raises(approvals.DecisionError):
        approvals.decide(seen_by_second, second, approve=True)

    assert status(request) == RequestStatus.REJECTED
    assert ApprovalDecision.objects.get().decided_by == approver


# --- the queue -------------------------------------------------------------------------------------


def waiting_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<td><a href="/requests/(\d+)/">', response.content.decode())]


def test_the_approvals_queue_lists_others_waiting_requests_but_not_the_approvers_own(
    client, requester, approver, approver_client, sandbox
):
    ApprovalRule.objects.create(operation=INGESTION)
    first = submit(client)
    second = submit(client)
    rejected = submit(client)
    approvals.decide(rejected, approver, approve=False, reason="no")
    # The approver's own request waits for someone else.
    own = lifecycle.record(get_operation("appfabric/CreateIngestion"), ingestion_params(), approver, default_target())
    assert own.status == RequestStatus.AWAITING_APPROVAL

    response = approver_client.get("/approvals/")

    assert response.status_code == 200
    assert waiting_ids(response) == [first.pk, second.pk]  # oldest first
    assert "requester" in response.content.decode()
    # The requester, who may approve too, sees the approver's request and none of their own.
    assert waiting_ids(client.get("/approvals/")) == [own.pk]


def test_the_approvals_queue_is_only_for_approvers(client, db):
    client.force_login(make_user("plain-operator", groups=(OPERATORS,)))

    assert client.get("/approvals/").status_code == 403


def test_a_long_queue_shows_a_page_of_the_oldest_and_says_how_many_wait(
    approver_client, requester, monkeypatch, django_assert_max_num_queries
):
    from integrations import views

    monkeypatch.setattr(views, "APPROVAL_QUEUE_PAGE", 3)
    waiting = [make_request(user=requester, status=RequestStatus.AWAITING_APPROVAL) for _ in range(5)]

    with django_assert_max_num_queries(12):
        response = approver_client.get("/approvals/")

    assert waiting_ids(response) == [r.pk for r in waiting[:3]]  # the oldest first
    assert "5 waiting: the 3 oldest are shown" in response.content.decode()


def test_an_empty_queue_says_so(approver_client):
    assert "Nothing waits for approval." in approver_client.get("/approvals/").content.decode()


# --- which rules apply -----------------------------------------------------------------------------


def test_a_rule_applies_by_operation_by_target_or_by_both(db):
    here, there = default_target(), make_target("there", account_id="999988887777")
    other_op = "supplychain/SendDataIntegrationEvent"

    assert not ApprovalRule.applies(INGESTION, here)
    rule = ApprovalRule.objects.create(operation=INGESTION, target=there)
    assert ApprovalRule.applies(INGESTION, there)
    assert not ApprovalRule.applies(INGESTION, here)
    assert not ApprovalRule.applies(other_op, there)
    rule.delete()

    ApprovalRule.objects.create(operation=INGESTION)
    assert ApprovalRule.applies(INGESTION, here)
    assert ApprovalRule.applies(INGESTION, there)
    assert not ApprovalRule.applies(other_op, here)

    ApprovalRule.objects.create(target=there)
    assert ApprovalRule.applies(other_op, there)
    assert not ApprovalRule.applies(other_op, here)


def test_a_rule_names_an_operation_a_target_or_both(db):
    with pytest.raises(ValidationError, match="Name an operation, a target, or both"):
        ApprovalRule().full_clean()
