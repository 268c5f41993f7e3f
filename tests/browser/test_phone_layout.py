"""Every page fits a 390 px phone: nothing scrolls sideways, and each passes axe-core there.

The pages are those an operator, an approver, an auditor and an administrator can reach, signed in,
plus the sign-in page and the error pages. A page fits when the document is no wider than the window
(``scrollWidth <= innerWidth``): a wide table scrolls inside its own container instead.
"""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from playwright.sync_api import Browser, Page, ViewportSize, expect

from integrations.models import RequestStatus
from integrations.permissions import ADMINISTRATORS, APPROVERS, AUDITORS
from operations import all_operations
from tests.browser.conftest import check_accessibility, sign_in
from tests.factories import make_operator, make_request, make_resource, make_user

PHONE: ViewportSize = {"width": 390, "height": 844}
# An ARN and an AWS error message as long as real ones get, without a space to wrap at.
LONG_ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/2b2b2b2b-1111-2222-3333-444444444444/ingestion/" + (
    "a1b2c3d4" * 6
)
LONG_ERROR = "1 validation error detected: Value '" + "x" * 120 + "' at 'tenantId' failed to satisfy constraint"
# Chromium logs an error page's status as a console error; on those pages it is what the test asked for.
ERROR_STATUS = re.compile(r"the server responded with a status of (400|403|404|500)\b")


@pytest.fixture
def phone(browser: Browser, live_server, transactional_db, aws_calls_in_live_server, settings):
    """A page on a 390 × 844 screen; any console error fails the test, except an error page's own status."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message):
        if message.type == "error" and not ERROR_STATUS.search(message.text):
            errors.append(f"console error at {new_page.url}: {message.text} {message.location}")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(f"page error at {new_page.url}: {exc}"))
    yield new_page
    context.close()
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


def assert_fits(page: Page, name: str) -> None:
    """The page is no wider than the phone's window; names the elements that stick out when it is."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        culprits = page.evaluate(
            """() => [...document.querySelectorAll("body *")]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                 .filter(e => !e.closest(".table-scroll, [data-scrolls]"))
                 .slice(0, 8)
                 .map(e => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${[...e.classList].join(".")}`
                            + ` right=${Math.round(e.getBoundingClientRect().right)}`)"""
        )
        pytest.fail(f"{name}: the page is {width[0]} px wide on a {width[1]} px screen; sticking out: {culprits}")


def visit(page: Page, path: str, name: str, status: int = 200) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == status, f"{path}: {response.status}"
    # The page's own main (Swagger UI, on the API reference, renders a <main> of its own inside it).
    expect(page.locator("main#main")).to_be_visible()
    check_accessibility(page, f"phone-{name}")
    assert_fits(page, name)


def test_an_operators_pages_fit_a_phone(phone: Page):
    olivia = make_operator("olivia")
    requests = {
        status: make_request(user=olivia, status=status, resource_id=LONG_ARN if status == "succeeded" else "")
        for status in RequestStatus.values
    }
    failed = requests[RequestStatus.FAILED]
    failed.error_code, failed.error_message = "ValidationException", LONG_ERROR
    failed.save(update_fields=["error_code", "error_message"])
    make_resource(user=olivia, resource_id=LONG_ARN + "/r")
    sign_in(phone, "olivia")

    visit(phone, "/", "home")
    # The account menu (notifications, API tokens, the theme, sign out) opens within the screen too.
    phone.locator("details.account-menu summary").click()
    expect(phone.get_by_role("button", name="Sign out olivia")).to_be_visible()
    check_accessibility(phone, "phone-account-menu")
    assert_fits(phone, "account-menu")
    visit(phone, "/operations/", "operations")
    for operation in all_operations():
        visit(phone, f"/operations/{operation.service}/{operation.name}/", f"form-{operation.service}")
    for status, aws_request in requests.items():
        visit(phone, aws_request.get_absolute_url(), f"request-{status}")
    visit(phone, f"/requests/{requests[RequestStatus.SUCCEEDED].pk}/again/", "run-again")
    visit(phone, "/requests/", "history")
    visit(phone, "/requests/?status=failed", "history-filtered")
    visit(phone, "/resources/", "resources")
    visit(phone, "/presets/", "presets")
    visit(phone, "/notifications/", "notifications")
    visit(phone, "/accounts/tokens/", "api-tokens")
    visit(phone, "/api/reference/", "api-reference")
    expect(phone.locator(".opblock").first).to_be_visible()
    check_accessibility(phone, "phone-api-reference-loaded")
    assert_fits(phone, "api-reference-loaded")
    # Not theirs: the styled error pages.
    visit(phone, "/approvals/", "403", status=403)
    visit(phone, "/no-such-page/", "404", status=404)


def test_an_approvers_an_auditors_and_an_administrators_pages_fit_a_phone(phone: Page):
    olivia = make_operator("olivia")
    make_request(user=olivia, status=RequestStatus.AWAITING_APPROVAL)
    make_request(user=olivia, status=RequestStatus.FAILED, error_code="ValidationException", error_message=LONG_ERROR)
    make_user("alex", groups=(APPROVERS,))
    make_user("audrey", groups=(AUDITORS,))
    make_user("ada", groups=(ADMINISTRATORS,), is_staff=True)

    sign_in(phone, "alex")
    visit(phone, "/", "home-approver")
    visit(phone, "/approvals/", "approvals")
    phone.context.clear_cookies()

    sign_in(phone, "audrey")
    visit(phone, "/requests/", "history-auditor")
    visit(phone, "/audit/configuration/", "configuration-changes")
    phone.context.clear_cookies()

    sign_in(phone, "ada")
    visit(phone, "/", "home-administrator")
    visit(phone, "/requests/", "history-administrator")


def test_the_sign_in_page_and_the_error_pages_fit_a_phone(phone: Page, live_server):
    make_operator("olivia")
    visit(phone, "/accounts/login/", "sign-in")

    # A form posted without its CSRF cookie: Django's CSRF failure, in the portal's look.
    phone.context.clear_cookies()
    phone.get_by_label("Username").fill("olivia")
    phone.get_by_label("Password").fill("whatever it is")
    with phone.expect_response(re.compile(r"/accounts/login/")) as answer:
        phone.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 403
    expect(phone.get_by_role("heading", level=1)).to_contain_text("could not be checked")
    check_accessibility(phone, "phone-403-csrf")
    assert_fits(phone, "403-csrf")

    # 400 and 500 are hard to cause on purpose: their templates, as Django renders them, served in place.
    for status in (400, 500):
        serve_rendered(phone, f"**/error-{status}/", status, render_to_string(f"{status}.html"))
        visit(phone, f"{live_server.url}/error-{status}/", str(status), status=status)


def serve_rendered(page: Page, pattern: str, status: int, body: str) -> None:
    """Answer ``pattern`` with ``body`` (its static files still come from the live server)."""
    page.route(pattern, lambda route: route.fulfill(status=status, body=body, content_type="text/html; charset=utf-8"))
