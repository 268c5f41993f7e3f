"""The account pages load without a console error and pass axe-core: API tokens, the lockout page."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import check_accessibility, sign_in
from tests.factories import make_operator, make_user


def test_making_seeing_once_and_revoking_an_api_token(page: Page):
    make_operator("olivia")
    sign_in(page, "olivia")

    page.goto("/accounts/tokens/")
    expect(page.get_by_role("cell", name="You have no tokens.")).to_be_visible()
    check_accessibility(page, "api-tokens")
    page.get_by_role("button", name="Make a new token").click()
    key = page.locator("#token-key").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    check_accessibility(page, "api-token-made")

    page.goto("/accounts/tokens/")
    expect(page.get_by_text(key[:8])).to_be_visible()
    expect(page.locator("#token-key")).to_have_count(0)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("The token is revoked")
    expect(page.get_by_role("cell", name="You have no tokens.")).to_be_visible()


@pytest.fixture
def page_expecting_429(browser: Browser, live_server, transactional_db, aws_calls_in_live_server, settings):
    """conftest's ``page``, except that Chromium's console line for the lockout's HTTP 429 (which
    it logs for any 4xx page) is expected; any other console error still fails the test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message):
        if message.type == "error" and "status of 429 (Too Many Requests)" not in message.text:
            errors.append(f"console error at {new_page.url}: {message.text}")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(f"page error at {new_page.url}: {exc}"))
    yield new_page
    context.close()
    assert errors == []


def test_the_lockout_page(page_expecting_429: Page):
    page = page_expecting_429
    make_user("olivia")
    page.goto("/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("olivia")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Sign-in locked for now")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("even with the right password")
    check_accessibility(page, "login-locked-out")
