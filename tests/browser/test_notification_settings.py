"""The notification settings page in Chromium: it passes axe before and after a refused save, the
error is next to its field, and a good save is confirmed."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from integrations.models import NotificationPreference
from tests.browser.conftest import check_accessibility, sign_in
from tests.factories import make_operator


def test_choosing_notifications_with_a_refused_then_a_good_webhook(page: Page):
    person = make_operator("nora")
    sign_in(page, "nora")

    page.goto("/notifications/")
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    check_accessibility(page, "notification-settings")

    page.get_by_label("My request succeeded").uncheck()
    page.get_by_label("Webhook URL").fill("ftp://hooks.example.com/x")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The settings were not saved")
    expect(page.locator("#webhook-errors")).to_have_text("Enter an http:// or https:// URL.")
    expect(page.get_by_label("Webhook URL")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "notification-settings-refused")

    page.get_by_label("Webhook URL").fill("https://hooks.example.com/T0/x")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Your notification settings are saved.")
    expect(page.get_by_label("My request succeeded")).not_to_be_checked()
    preference = NotificationPreference.objects.get(user=person)
    assert "succeeded" not in preference.events
    assert "failed" in preference.events
    assert preference.webhook_url == "https://hooks.example.com/T0/x"
