"""Every page satisfies the Content-Security-Policy: no inline script or style, nothing blocked.

Chromium enforces the policy the portal sends and reports each violation as a
`securitypolicyviolation` event, collected here, on the portal's pages, after htmx has swapped
parts of them (checks as a field is left, rows added, the preview, status polling), on the
admin's pages and on the API's browsable pages.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations.models import RequestStatus
from tests.browser.conftest import settle, sign_in
from tests.browser.forms import fill_form
from tests.factories import ingestion_form_data, make_operator, make_request, make_user

# Installed before any page script runs, so a violation during loading is caught too.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def watched(page: Page) -> Page:
    page.add_init_script(COLLECT_VIOLATIONS)
    # The admin's and the API's pages name no icon, so browsers ask for /favicon.ico (a 404 that
    # the page fixture would report as a console error); it is not what these tests are about.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return page


def visit(page: Page, path: str, status: int = 200) -> None:
    """Open ``path``: it must carry the policy and, once htmx is done, have broken none of it."""
    response = page.goto(path)
    assert response is not None
    assert response.status == status, path
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert_no_violations(page)


def assert_no_violations(page: Page) -> None:
    settle(page)
    assert page.evaluate("() => window.__cspViolations") == [], page.url


def test_htmx_adds_no_inline_style_and_keeps_its_indicators_in_the_stylesheet(watched: Page):
    make_operator("olivia")
    sign_in(watched, "olivia")
    watched.wait_for_function("() => typeof window.htmx !== 'undefined'")  # a deferred script

    assert watched.locator("head style").count() == 0
    assert watched.evaluate("() => htmx.config.includeIndicatorStyles") is False
    # A swap copies these from the old element to the new with setAttribute; a style attribute would be refused.
    assert "style" not in watched.evaluate("() => htmx.config.attributesToSettle")
    opacity = watched.evaluate(
        """() => {
             const probe = document.createElement("span");
             probe.className = "htmx-indicator";
             document.body.append(probe);
             return getComputedStyle(probe).opacity;
           }"""
    )
    assert opacity == "0"  # from portal.css


def test_an_operator_s_pages_break_no_rule_of_the_policy(watched: Page):
    olivia = make_operator("olivia")
    queued = make_request(user=olivia, status=RequestStatus.QUEUED)
    watched.goto("/accounts/login/")
    assert_no_violations(watched)
    sign_in(watched, "olivia")

    for path in (
        "/",
        "/operations/",
        "/requests/",
        "/resources/",
        "/presets/",
        "/notifications/",
        "/accounts/tokens/",
        queued.get_absolute_url(),
    ):
        visit(watched, path)

    # The API reference: Swagger UI styles what it draws through the DOM, which the policy allows.
    visit(watched, "/api/reference/")
    expect(watched.locator("#swagger-ui .opblock").first).to_be_visible()
    assert_no_violations(watched)

    # A field checked as it is left, and the preview: htmx swaps, with their indicators.
    visit(watched, "/operations/appfabric/CreateIngestion/")
    fill_form(watched, ingestion_form_data())
    assert_no_violations(watched)
    watched.get_by_role("button", name="Preview the call").click()
    expect(watched.locator("#preview-heading")).to_be_visible()
    assert_no_violations(watched)

    # Rows added to a list.
    visit(watched, "/operations/appintegrations/CreateDataIntegration/")
    rows_before = watched.locator(".row").count()
    watched.locator("#fold-Tags > summary").click()  # an optional group is folded until it is used
    watched.get_by_role("button", name=re.compile(r"^Add .+ row\b")).first.click()
    expect(watched.locator(".row")).not_to_have_count(rows_before)
    assert_no_violations(watched)


def test_the_admin_s_and_the_api_s_pages_break_no_rule_of_the_policy(watched: Page):
    make_user("root", is_superuser=True, is_staff=True)
    olivia = make_operator("olivia")
    make_request(user=olivia, status=RequestStatus.SUCCEEDED)
    sign_in(watched, "root")

    for path in (
        "/approvals/",
        "/audit/configuration/",
        "/admin/",
        "/admin/integrations/awstarget/",
        "/admin/integrations/awstarget/add/",
        "/admin/integrations/awsrequest/",
        f"/admin/auth/user/{olivia.pk}/change/",
        "/api/operations/",
        "/api/requests/",
    ):
        visit(watched, path)


def test_the_error_pages_break_no_rule_of_the_policy(browser, live_server, transactional_db, settings):
    """The styled 403 and 404 (Chromium logs their status as a console error: expected here)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.add_init_script(COLLECT_VIOLATIONS)
    make_operator("olivia")
    sign_in(page, "olivia")
    visit(page, "/approvals/", status=403)
    expect(page.get_by_role("heading", name="You may not open this page")).to_be_visible()
    visit(page, "/no-such-page/", status=404)
    expect(page.get_by_role("heading", name="There is no such page")).to_be_visible()
    context.close()
