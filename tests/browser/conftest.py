"""Browser tests: Chromium (Playwright) against the live server, with a real Celery worker.

The live server runs in this process on the test database; it records requests and hands them to
the broker, and lists a picker's choices (integrations.choices) from the sandbox. The worker
(tests.integrations.conftest) makes every create and read-back call, against the sandbox. Each page
is checked for console errors, and ``check_accessibility`` runs axe-core.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import kombu.pools
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from portal.celery import app as celery_app
from tests import processes
from tests.factories import PASSWORD
from tests.integrations.conftest import broker, logs, portal_env  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Where the live server would send an AWS call if it ever made one itself: nowhere.
NOWHERE = "http://127.0.0.1:9"
BLOCKING = ("serious", "critical")

expect.set_options(timeout=10_000)


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for all the browser tests, closed when they are done.

    Package scope is the whole session of these tests; it also ends Playwright (and the override
    below) before any other package's tests run in the same session.
    """
    for stale in ARTIFACTS.glob("*.png"):  # only this run's screenshots are left to look at
        stale.unlink()
    # Playwright's sync API keeps an event loop running in this thread, which makes Django refuse
    # ORM calls from the tests ("async context"); they are plain synchronous calls here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def celery_left_as_found():
    """The Celery app as the other test packages expect it once the browser tests are done.

    The imported fixtures are this package's own instances: their broker folder and worker would
    otherwise outlive these tests, and the app's cached producer pool would keep sending the
    other packages' tasks to that worker.
    """
    options = dict(celery_app.conf.broker_transport_options)
    yield
    celery_app.conf.broker_transport_options = options
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()


@pytest.fixture(scope="package")
def running_worker(celery_left_as_found, portal_env, logs):  # noqa: F811 - the imported fixtures
    """The real worker for these tests, stopped when they are done (nothing earlier tests left in
    the queues is its to run)."""
    celery_app.control.purge()
    worker = processes.start_worker(portal_env, logs)
    yield worker
    worker.stop()


@pytest.fixture
def aws_calls_in_live_server(settings, monkeypatch, sandbox_server):
    """The live server makes no create or read-back call itself: only the worker may. It may list
    a picker's choices (integrations.choices, in the web request), against the sandbox."""
    settings.AWS_ENDPOINT_URL = sandbox_server.url
    settings.AWS_STS_ENDPOINT_URL = NOWHERE
    calls: list[tuple] = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("the live server tried to make a worker's AWS call; only the worker may")

    # The worker's modules hold their own reference to get_client; the pickers go through aws_clients.
    monkeypatch.setattr("integrations.pipeline.get_client", refuse)
    monkeypatch.setattr("integrations.resources.get_client", refuse)
    yield calls
    assert calls == [], f"the live server called AWS: {calls}"


@pytest.fixture
def page(browser: Browser, live_server, transactional_db, aws_calls_in_live_server, settings):
    """A fresh browser context and page on the live server; any console error fails the test."""
    # The live server runs in this process: a fast hasher makes users and sign-ins quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            errors.append(f"console error at {new_page.url}: {message.text} {message.location}")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(f"page error at {new_page.url}: {exc}"))
    yield new_page
    context.close()
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login page, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Welcome, {username}")).to_be_visible()


def settle(page: Page) -> None:
    """Wait until no htmx request is in flight (inline checks, row edits, polling)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def check_accessibility(page: Page, name: str) -> None:
    """Run axe-core on the page; fail on serious or critical violations. Saves a full-page screenshot."""
    settle(page)
    # Colours are measured once transitions and animations (a menu fading in) have ended: mid-way,
    # text is a blend of its colour and the background's, and axe would measure that.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"), full_page=True)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: an injected <script> would be inline, which the
        # portal's Content-Security-Policy (rightly) blocks.
        page.evaluate(AXE.read_text())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in results["violations"] if v.get("impact") in BLOCKING]
    for violation in blocking:
        print(f"[{name}] {violation['impact']}: {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"]:
            print("   ", json.dumps(node["target"]), node.get("failureSummary", "").replace("\n", " "))
    assert not blocking, f"{name}: {len(blocking)} serious or critical accessibility violation(s): " + ", ".join(
        v["id"] for v in blocking
    )
