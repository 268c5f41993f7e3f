"""Dark mode: the portal follows the system's colour scheme until a person chooses light or dark in the top
bar; the choice is remembered in the browser (the admin's key, so the admin follows it too), applied before
the first paint, and every main page passes axe-core, colour contrast included, in both themes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.models import RequestStatus
from integrations.permissions import APPROVERS
from tests.browser.conftest import check_accessibility, sign_in
from tests.factories import make_operator, make_request, make_resource, make_user

# Pico's page backgrounds (static/vendor/pico-2.1.1): light and dark.
LIGHT_BACKGROUND = "rgb(255, 255, 255)"
DARK_BACKGROUND = "rgb(19, 23, 31)"
LONG_ERROR = "1 validation error detected: Value at 'tenantId' failed to satisfy constraint: " + "y" * 90


@pytest.fixture
def dark_system(browser: Browser, live_server, transactional_db, aws_calls_in_live_server, settings):
    """A page in a browser whose system prefers a dark colour scheme; any console error fails the test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, color_scheme="dark"
    )
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    # The admin's pages name no icon, so browsers ask for /favicon.ico: a 404 this test is not about.
    new_page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    errors: list[str] = []
    new_page.on("console", lambda m: errors.append(f"{new_page.url}: {m.text}") if m.type == "error" else None)
    new_page.on("pageerror", lambda exc: errors.append(f"page error at {new_page.url}: {exc}"))
    yield new_page
    context.close()
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


def background(page: Page) -> str:
    return page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")


def theme_attribute(page: Page) -> str | None:
    return page.evaluate("() => document.documentElement.getAttribute('data-theme')")


def choose_theme(page: Page, label: str) -> None:
    """Pick a theme in the top bar: in the account menu when signed in, on its own when not."""
    menu = page.locator("details.account-menu")
    if menu.count() and not menu.evaluate("el => el.open"):
        menu.locator("summary").click()
    page.get_by_label("Colour theme").select_option(label=label)


def main_pages(page: Page, theme: str) -> None:
    """The main pages of an operator, each checked by axe (contrast included) in the current theme."""
    for path, name in (
        ("/", "home"),
        ("/operations/", "operations"),
        ("/operations/appfabric/CreateIngestion/", "form"),
        ("/requests/", "history"),
        ("/resources/", "resources"),
        ("/presets/", "presets"),
        ("/notifications/", "notifications"),
        ("/accounts/tokens/", "api-tokens"),
    ):
        page.goto(path)
        check_accessibility(page, f"{theme}-{name}")


def test_the_portal_follows_a_dark_system_and_passes_axe_in_it(dark_system: Page):
    page = dark_system
    olivia = make_operator("olivia")
    requests = [make_request(user=olivia, status=status) for status in RequestStatus.values]
    failed = make_request(user=olivia, status=RequestStatus.FAILED, error_code="ValidationException")
    failed.error_message = LONG_ERROR
    failed.save(update_fields=["error_message"])
    make_resource(user=olivia)
    page.goto("/accounts/login/")
    assert theme_attribute(page) is None  # no choice made: Pico follows prefers-color-scheme
    assert background(page) == DARK_BACKGROUND
    expect(page.get_by_label("Colour theme")).to_have_value("auto")
    check_accessibility(page, "dark-sign-in")

    sign_in(page, "olivia")
    assert background(page) == DARK_BACKGROUND
    main_pages(page, "dark")
    for aws_request in [*requests, failed]:
        page.goto(aws_request.get_absolute_url())
        check_accessibility(page, f"dark-request-{aws_request.pk}-{aws_request.status}")


def test_a_chosen_theme_overrides_the_system_is_remembered_and_reaches_the_admin(dark_system: Page):
    page = dark_system
    make_user("root", is_superuser=True, is_staff=True)
    sign_in(page, "root")

    choose_theme(page, "Theme: light")
    assert theme_attribute(page) == "light"
    assert background(page) == LIGHT_BACKGROUND
    page.goto("/operations/")
    assert theme_attribute(page) == "light", "the choice was not remembered"
    expect(page.get_by_label("Colour theme")).to_have_value("light")
    main_pages(page, "light")

    choose_theme(page, "Theme: dark")
    page.goto("/admin/")
    # The admin reads the same key (its own toggle writes it too).
    assert theme_attribute(page) == "dark"
    page.goto("/")
    assert background(page) == DARK_BACKGROUND

    choose_theme(page, "Theme: as the system")
    assert theme_attribute(page) is None
    page.reload()
    assert theme_attribute(page) is None
    assert background(page) == DARK_BACKGROUND


def test_the_theme_is_applied_before_the_first_paint(page: Page):
    """theme.js runs before any stylesheet or content: a blocking script at the top of <head>."""
    make_operator("olivia")
    page.add_init_script("localStorage.setItem('theme', 'dark')")
    # Recorded by an observer installed before the page's own scripts: data-theme as <body> first appears.
    page.add_init_script(
        """new MutationObserver((changes, observer) => {
             if (!document.body) return;
             window.__themeAtBody = document.documentElement.dataset.theme ?? null;
             observer.disconnect();
           }).observe(document, {childList: true, subtree: true});"""
    )
    page.goto("/accounts/login/")
    assert page.evaluate("() => window.__themeAtBody") == "dark"
    first = page.evaluate(
        """() => {
             const first = document.head.querySelector("script[src], link[rel=stylesheet]");
             return {src: first.getAttribute("src") ?? "", deferred: first.defer || first.async};
           }"""
    )
    assert first["src"].endswith("/portal/theme.js"), first
    assert first["deferred"] is False


def test_an_approvers_pages_pass_axe_in_dark(dark_system: Page):
    page = dark_system
    make_request(user=make_operator("olivia"), status=RequestStatus.AWAITING_APPROVAL)
    make_user("alex", groups=(APPROVERS,))
    sign_in(page, "alex")
    check_accessibility(page, "dark-home-approver")
    page.goto("/approvals/")
    check_accessibility(page, "dark-approvals")
