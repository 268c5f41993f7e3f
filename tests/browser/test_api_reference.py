"""The API reference page: Swagger UI from vendored files (drf-spectacular-sidecar) over the portal's
OpenAPI document, for signed-in people, under the strict Content-Security-Policy."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import check_accessibility, sign_in
from tests.browser.test_content_security_policy import COLLECT_VIOLATIONS, assert_no_violations
from tests.factories import make_operator


def open_reference(page: Page) -> None:
    page.get_by_role("link", name="API", exact=True).click()
    expect(page.get_by_role("heading", name="API reference", level=1)).to_be_visible()
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible()


def test_the_api_reference_lists_every_endpoint_of_the_schema_and_breaks_no_rule_of_the_policy(page: Page):
    make_operator("olivia")
    page.add_init_script(COLLECT_VIOLATIONS)
    sign_in(page, "olivia")
    open_reference(page)

    schema = page.request.get("/api/schema/", headers={"Accept": "application/json"}).json()
    shown = {
        (method.lower(), path)
        for method, path in zip(
            page.locator("#swagger-ui .opblock-summary-method").all_inner_texts(),
            page.locator("#swagger-ui .opblock-summary-path").all_inner_texts(),
            strict=True,
        )
    }
    documented = {(method, re.sub(r"\u200b", "", path)) for path, ops in schema["paths"].items() for method in ops}
    assert {(m, p.replace("\u200b", "")) for m, p in shown} == documented
    # Nothing came from elsewhere: Swagger UI's files are the portal's own.
    sources = page.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert all(src.startswith(page.url.split("/api/")[0]) for src in sources), sources
    assert_no_violations(page)
    check_accessibility(page, "api-reference")


def test_try_it_out_calls_the_api_as_the_signed_in_person(page: Page):
    make_operator("olivia")
    page.add_init_script(COLLECT_VIOLATIONS)
    sign_in(page, "olivia")
    open_reference(page)

    # Swagger UI names each operation's block by its tag and operationId: GET /api/operations/.
    operation = page.locator("#operations-operations-operations_list")
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(response).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("appfabric/CreateIngestion")
    assert_no_violations(page)
    check_accessibility(page, "api-reference-tried")


def test_the_api_reference_passes_axe_in_the_dark_theme(page: Page):
    make_operator("olivia")
    page.add_init_script("localStorage.setItem('theme', 'dark')")
    sign_in(page, "olivia")
    open_reference(page)
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    check_accessibility(page, "api-reference-dark")


def test_a_signed_out_visitor_is_sent_to_sign_in(page: Page):
    page.goto("/api/reference/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/api/reference/$"))
