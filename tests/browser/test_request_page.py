"""A request's page as its requester sees it: words for every status, live while it waits for an
approval and while it runs, its status in the tab's title, and cancelling it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from integrations import lifecycle
from integrations.models import ApprovalRule, Attempt, AttemptOutcome, AwsRequest, RequestStatus
from integrations.permissions import APPROVERS
from operations import get_operation
from tests.browser.conftest import check_accessibility, settle, sign_in
from tests.factories import default_target, ingestion_params, make_operator, make_request, make_user

INGESTION = get_operation("appfabric/CreateIngestion")
DATA_INTEGRATION = "appintegrations/CreateDataIntegration"
# An AWS message of one long word (an ARN list, a base64 blob): it must wrap, not widen the page.
LONG_ERROR = "arn:aws:appfabric:us-east-1:111122223333:appbundle/" + "x" * 3000


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def title_of(aws_request: AwsRequest, status: str) -> str:
    return f"{status} · Request #{aws_request.pk} · Integrations Portal"


def test_a_request_is_approved_while_its_requester_watches_and_the_page_turns_without_a_reload(
    page: Page, running_worker, sandbox
):
    ApprovalRule.objects.create(operation=INGESTION.key, target=default_target())
    olivia = make_operator("olivia")
    alex = make_user("alex", groups=(APPROVERS,))
    waiting = lifecycle.record(INGESTION, ingestion_params(), olivia, default_target())
    assert waiting.status == RequestStatus.AWAITING_APPROVAL
    sign_in(page, "olivia")

    page.goto(waiting.get_absolute_url())
    expect(page.locator("#request-status-badge")).to_have_text("Awaiting approval")
    expect(page.locator("#status-words")).to_contain_text("for approval by alex")
    expect(page).to_have_title(title_of(waiting, "Awaiting approval"))
    check_accessibility(page, "request-page-awaiting-approval")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    page.evaluate("() => { window.__samePage = true; }")

    # Another person approves it, elsewhere: the requester's page follows by itself.
    lifecycle.decide(waiting, alex, approve=True)

    expect(page.locator("#request-status-badge")).to_have_text("Succeeded", timeout=30_000)
    expect(page).to_have_title(title_of(waiting, "Succeeded"))
    assert page.evaluate("() => window.__samePage === true"), "the request page was reloaded"
    assert navigations == []
    done = AwsRequest.objects.get(pk=waiting.pk)
    expect(page.locator("#resource-id")).to_have_text(done.resource_id)
    expect(page.locator("#status-words")).to_contain_text("Succeeded at ")
    check_accessibility(page, "request-page-approved-and-succeeded")


def test_the_requester_cancels_a_waiting_request_from_its_page_and_what_they_type_survives_the_polls(page: Page):
    olivia = make_operator("olivia")
    waiting = make_request(user=olivia, status=RequestStatus.AWAITING_APPROVAL)
    sign_in(page, "olivia")
    page.goto(waiting.get_absolute_url())

    page.get_by_text("Cancel this request…").click()
    reason = page.get_by_label("Why (optional, kept with the request)")
    reason.fill("Wrong tenant: it should be tenant-2.")
    # A poll swaps the status section in while the person types: the form and its text stay.
    with page.expect_response(lambda r: r.url.endswith(waiting.get_absolute_url()) and r.request.method == "GET"):
        pass
    settle(page)
    expect(reason).to_have_value("Wrong tenant: it should be tenant-2.")
    check_accessibility(page, "request-page-cancel-open")

    page.get_by_role("button", name=f"Cancel request #{waiting.pk}").click()

    expect(page.locator("#request-status-badge")).to_have_text("Cancelled")
    expect(page.get_by_role("status").filter(has_text="cancelled:")).to_contain_text(
        f"Request #{waiting.pk} cancelled: nothing will run it."
    )
    expect(page.locator("#status-words")).to_have_text(
        re.compile(r"^Cancelled by olivia at .+: Wrong tenant: it should be tenant-2\. No AWS call was made\.$")
    )
    expect(page).to_have_title(title_of(waiting, "Cancelled"))
    expect(page.get_by_text("Cancel this request…")).to_have_count(0)
    cancelled = AwsRequest.objects.get(pk=waiting.pk)
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancel_reason) == (
        RequestStatus.CANCELLED, olivia, "Wrong tenant: it should be tenant-2."
    )  # fmt: skip
    check_accessibility(page, "request-page-cancelled")


def _failed_with_a_long_error(user) -> AwsRequest:
    failed = make_request(
        user=user, status=RequestStatus.FAILED, error_code="ThrottlingException", finished_at=ago(1),
        error_message=f"Gave up after 3 attempts: {LONG_ERROR}",
    )  # fmt: skip
    for number in (1, 2, 3):
        Attempt.objects.create(
            request=failed, number=number, started_at=ago(5), finished_at=ago(4), http_status=400,
            outcome=AttemptOutcome.FAILED if number == 3 else AttemptOutcome.RETRYABLE_ERROR,
            error_code="ThrottlingException", error_message=LONG_ERROR, aws_request_id=f"aws-{number}",
        )  # fmt: skip
    return failed


def _conflict(user) -> AwsRequest:
    params = {"Name": "crm-accounts", "KmsKey": "alias/portal", "SourceURI": "s3://crm-export/accounts"}
    make_request(DATA_INTEGRATION, user=user, parameters=params, status=RequestStatus.SUCCEEDED, finished_at=ago(60),
                 resource_id="arn:aws:app-integrations:us-east-1:111122223333:data-integration/1")  # fmt: skip
    return make_request(
        DATA_INTEGRATION, user=user, parameters=params, status=RequestStatus.FAILED, finished_at=ago(1),
        error_code="DuplicateResourceException", error_message="A resource with Name 'crm-accounts' already exists.",
    )  # fmt: skip


def _rejected(user) -> AwsRequest:
    waiting = make_request(user=user, status=RequestStatus.AWAITING_APPROVAL)
    alex = get_user_model().objects.get(username="alex")  # made by the test, as every state's approver
    lifecycle.decide(waiting, alex, approve=False, reason="Not during the freeze.")
    return waiting


def _retrying(user) -> AwsRequest:
    retrying = make_request(
        user=user, status=RequestStatus.RETRYING, next_attempt_at=timezone.now() + dt.timedelta(minutes=5),
        error_code="ThrottlingException", error_message="Rate exceeded",
    )  # fmt: skip
    Attempt.objects.create(
        request=retrying, number=1, started_at=ago(2), finished_at=ago(1), outcome=AttemptOutcome.RETRYABLE_ERROR,
        error_code="ThrottlingException", error_message="Rate exceeded", http_status=400,
    )  # fmt: skip
    return retrying


def _running(user) -> AwsRequest:
    running = make_request(user=user, status=RequestStatus.RUNNING, lease_expires_at=timezone.now())
    Attempt.objects.create(request=running, number=1, started_at=ago(12), client_token=running.client_token)
    return running


STATES = {
    "queued": (lambda user: make_request(user=user), "Queued", r"^Queued for \d+ s: waiting for a worker"),
    "running": (_running, "Running", r"^Running for \d+ s: attempt 1 is calling AWS\.$"),
    "retrying": (_retrying, "Retrying", r"^Attempt 1 failed \(ThrottlingException\); the next attempt is at "),
    "failed-gave-up": (_failed_with_a_long_error, "Failed", r"^Failed: the portal gave up after 3 attempts"),
    "failed-conflict": (_conflict, "Failed", r"^Failed: AWS refused the call \(DuplicateResourceException\)"),
    "rejected": (_rejected, "Rejected", r"^Rejected by alex at .+: Not during the freeze\. It will not run\.$"),
}


@pytest.mark.parametrize("state", sorted(STATES))
def test_the_request_page_in_each_state_says_what_happens_and_fits_the_page(page: Page, state):
    olivia = make_operator("olivia")
    make_user("alex", groups=(APPROVERS,))
    build, badge, words = STATES[state]
    aws_request = build(olivia)
    sign_in(page, "olivia")

    page.goto(aws_request.get_absolute_url())

    expect(page.locator("#request-status-badge")).to_have_text(badge)
    expect(page.locator("#status-words")).to_have_text(re.compile(words))
    expect(page).to_have_title(title_of(aws_request, badge))
    settle(page)
    # However long an AWS error, the attempts table fits its box and the page does not scroll sideways.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    boxes = "[...document.querySelectorAll('#request-status .table-scroll')]"
    assert page.evaluate(f"() => {boxes}.every(e => e.scrollWidth <= e.clientWidth)")
    if state == "failed-gave-up":
        expect(page.locator("#request-status")).not_to_contain_text("retries by itself")
    if state == "failed-conflict":
        expect(page.locator("#request-error")).to_contain_text("AWS already has one with the Name “crm-accounts”")
        page.locator("#conflict-with").get_by_role("link").click()
        expect(page.locator("#request-status-badge")).to_have_text("Succeeded")
        page.go_back()
    check_accessibility(page, f"request-page-{state}")
