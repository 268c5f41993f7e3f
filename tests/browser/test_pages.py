"""Every page loads without a console error and passes axe-core: sign-in, home, history, approvals, the top bar."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from integrations.models import ApprovalRule, AwsRequest, RequestStatus
from integrations.permissions import APPROVERS
from operations import all_operations
from tests.browser.conftest import check_accessibility, sign_in
from tests.factories import PASSWORD, default_target, ingestion_params, make_operator, make_request, make_user

ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/2b2b2b2b-1111-2222-3333-444444444444/ingestion/abc"


def test_the_sign_in_page_refuses_a_wrong_password_then_signs_in(page: Page):
    make_operator("olivia")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    check_accessibility(page, "login")

    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    check_accessibility(page, "login-refused")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, olivia")).to_be_visible()


def test_an_operators_pages_home_operations_history_with_filters_and_a_failed_request(page: Page):
    olivia = make_operator("olivia")
    succeeded = make_request(user=olivia, status=RequestStatus.SUCCEEDED, resource_id=ARN)
    failed = make_request(
        "supplychain/SendDataIntegrationEvent",
        user=olivia,
        status=RequestStatus.FAILED,
        error_code="ValidationException",
        error_message="1 validation error detected: Value at 'data' failed to satisfy constraint",
    )
    make_request(user=make_operator("someone-else"), status=RequestStatus.SUCCEEDED, resource_id=ARN + "2")
    sign_in(page, "olivia")

    expect(page.get_by_role("region", name="Failures that need attention")).to_contain_text("ValidationException")
    expect(page.get_by_role("region", name="Your recent requests").get_by_role("row")).to_have_count(3)
    check_accessibility(page, "home")

    page.get_by_role("link", name="Operations").click()
    for operation in all_operations():
        expect(page.get_by_role("link", name=operation.title)).to_be_visible()
    check_accessibility(page, "operations")

    page.get_by_role("link", name="History").click()
    table = page.locator("#request-table tbody")
    expect(table.get_by_role("row")).to_have_count(2)  # her own requests only
    check_accessibility(page, "history")

    page.evaluate("() => { window.__samePage = true; }")
    page.get_by_label("Status").select_option(label="Succeeded")
    expect(page).to_have_url(re.compile(r"/requests/\?.*status=succeeded"))
    expect(table.get_by_role("row")).to_have_count(1)
    expect(table).to_contain_text(ARN)
    assert page.evaluate("() => window.__samePage === true"), "filtering reloaded the page"
    check_accessibility(page, "history-filtered")

    # The filters live in the address: it can be shared, and it comes back as it was.
    page.goto("/requests/?status=failed")
    expect(page.get_by_label("Status")).to_have_value("failed")
    expect(table.get_by_role("row")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    page.goto(f"/requests/?status=failed&operation={failed.operation_key}&q={failed.client_token}")
    expect(page.get_by_label("Operation")).to_have_value(failed.operation_key)
    expect(page.get_by_label("ARN, AWS request id or client token")).to_have_value(failed.client_token)
    table.get_by_role("link", name=str(failed.pk)).click()

    expect(page.locator("#request-status-badge")).to_have_text("Failed")
    status = page.locator("#request-status")
    expect(status.get_by_role("alert")).to_contain_text("ValidationException")
    expect(status.get_by_role("alert")).to_contain_text("AWS refused a parameter value")
    check_accessibility(page, "request-failed")
    assert AwsRequest.objects.get(pk=succeeded.pk).status == RequestStatus.SUCCEEDED


def test_an_approvers_pages_and_an_approval_that_runs_without_a_reload(page: Page, running_worker, sandbox):
    ApprovalRule.objects.create(operation="appfabric/CreateIngestion", target=default_target())
    olivia = make_operator("olivia")
    waiting = make_request(user=olivia, status=RequestStatus.AWAITING_APPROVAL, parameters=ingestion_params())
    make_user("alex", groups=(APPROVERS,))
    sign_in(page, "alex")

    expect(page.get_by_role("region", name="Waiting for your approval")).to_contain_text("olivia")
    check_accessibility(page, "home-approver")

    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Waiting for your approval")).to_be_visible()
    check_accessibility(page, "approvals")

    page.get_by_role("link", name=str(waiting.pk), exact=True).click()
    expect(page.locator("#request-status-badge")).to_have_text("Awaiting approval")
    check_accessibility(page, "request-awaiting-approval")

    page.get_by_role("button", name="Approve and run").click()
    expect(page.get_by_role("status").filter(has_text="approved")).to_contain_text(f"Request #{waiting.pk} approved.")
    page.evaluate("() => { window.__samePage = true; }")
    expect(page.locator("#request-status-badge")).to_have_text("Succeeded", timeout=30_000)
    assert page.evaluate("() => window.__samePage === true"), "the request page was reloaded"
    done = AwsRequest.objects.get(pk=waiting.pk)
    expect(page.locator("#resource-id")).to_have_text(done.resource_id)
    [resource] = sandbox.state.resources
    assert resource["id"] == done.resource_id
    check_accessibility(page, "request-approved")


def test_the_top_bar_links_every_page_and_its_account_menu_opens_without_a_framework(page: Page):
    make_user("alex", groups=(APPROVERS,))
    sign_in(page, "alex")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Operations", "Presets", "History", "Resources", "Approvals", "API"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Changes", exact=True)).to_have_count(0)  # auditors only

    # The account menu is a <details>: closed, its links are hidden; opened, they work.
    expect(nav.get_by_role("link", name="API tokens")).to_be_hidden()
    nav.locator("details.account-menu > summary").click()
    check_accessibility(page, "account-menu")
    nav.get_by_role("link", name="Notifications").click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))

    nav.locator("details.account-menu > summary").click()
    nav.get_by_role("button", name="Sign out alex").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
