"""The form as a person meets it: checks as fields are left, refused submits, rows, back from the preview."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations.models import AwsRequest
from tests.browser.conftest import check_accessibility, sign_in
from tests.browser.forms import expect_values, field, fill_form, type_into
from tests.factories import make_operator
from tests.integrations.test_end_to_end_operations import BUNDLE, FORMS

INGESTION_FORM = "/operations/appfabric/CreateIngestion/"
DATA_INTEGRATION_FORM = "/operations/appintegrations/CreateDataIntegration/"


@pytest.fixture
def signed_in_page(page: Page) -> Page:
    make_operator("olivia")
    sign_in(page, "olivia")
    return page


def open_folds(page: Page) -> None:
    """Open every folded group, as a person clicks a group's summary before filling it (form.js keeps
    them open across swaps)."""
    page.evaluate("() => document.querySelectorAll('#operation-form details.fold').forEach(d => { d.open = true; })")


def mark_page(page: Page) -> None:
    """A marker that survives only as long as the page is not reloaded or left."""
    page.evaluate("() => { window.__samePage = true; }")


def assert_same_page(page: Page) -> None:
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded or left"


def test_an_error_appears_beside_a_field_as_soon_as_it_is_left_with_a_bad_value(signed_in_page: Page):
    page = signed_in_page
    page.goto(INGESTION_FORM)
    mark_page(page)

    type_into(page, "appBundleIdentifier", "nope")

    container = page.locator("#field-appBundleIdentifier")
    error = container.get_by_role("alert")
    expect(error).to_have_text("Enter an app bundle ARN (arn:…) or a UUID in lower-case hex (8-4-4-4-12).")
    expect(field(page, "appBundleIdentifier")).to_have_value("nope")
    expect(field(page, "appBundleIdentifier")).to_have_attribute("aria-invalid", "true")
    # Only the field left is judged: the untouched required fields show nothing yet.
    expect(page.locator("#operation-form .errors")).to_have_count(1)
    assert_same_page(page)
    assert AwsRequest.objects.count() == 0
    check_accessibility(page, "form-inline-error")

    field(page, "appBundleIdentifier").fill(BUNDLE)
    field(page, "appBundleIdentifier").press("Tab")
    expect(container.get_by_role("alert")).to_have_count(0)
    expect(field(page, "appBundleIdentifier")).to_have_value(BUNDLE)
    expect(field(page, "appBundleIdentifier")).not_to_have_attribute("aria-invalid", "true")
    assert_same_page(page)


def test_a_refused_submit_keeps_every_typed_value_and_says_what_is_wrong(signed_in_page: Page):
    page = signed_in_page
    page.goto(DATA_INTEGRATION_FORM)
    open_folds(page)
    typed = {**FORMS["appintegrations/CreateDataIntegration"], "Name": "crm accounts!"}
    del typed["KmsKey"]  # required, left empty
    fill_form(page, typed)

    page.get_by_role("button", name="Preview the call").click()

    expect(page.locator("#field-KmsKey").get_by_role("alert")).to_have_text("This field is required.")
    expect(page.locator("#field-Name").get_by_role("alert")).to_have_text("Enter letters, digits and / . _ -.")
    expect(page.locator("#preview-boto3")).to_have_count(0)
    expect_values(page, {**typed, "KmsKey": ""})
    assert AwsRequest.objects.count() == 0
    check_accessibility(page, "form-refused")

    # Corrected, it goes through to the preview.
    type_into(page, "Name", "crm-accounts")
    type_into(page, "KmsKey", "alias/portal")
    expect(page.locator("#operation-form").get_by_role("alert")).to_have_count(0)
    page.get_by_role("button", name="Preview the call").click()
    expect(page.locator("#preview-boto3")).to_contain_text("Name='crm-accounts'")
    expect(page.locator("#preview-cli")).to_contain_text("--kms-key alias/portal")


def test_rows_added_and_removed_keep_what_was_typed_and_survive_the_preview(signed_in_page: Page):
    page = signed_in_page
    page.goto(INGESTION_FORM)
    mark_page(page)
    rows = page.locator("#rows-tags > .row")
    type_into(page, "tenantId", "acme")
    page.locator("#fold-tags > summary").click()  # tags are optional: folded until opened
    type_into(page, "tags__0__key", "team")
    type_into(page, "tags__0__value", "security")

    add = page.get_by_role("button", name="Add tag row")
    add.click()
    expect(rows).to_have_count(2)
    expect(field(page, "tags__1__key")).to_have_value("")
    expect(field(page, "tags__1__key")).to_be_focused()  # the keyboard lands in the new row
    type_into(page, "tags__1__key", "cost-centre")
    type_into(page, "tags__1__value", "42")
    add.click()
    expect(rows).to_have_count(3)
    type_into(page, "tags__2__key", "owner")
    type_into(page, "tags__2__value", "olivia")
    check_accessibility(page, "form-rows")

    page.get_by_role("button", name="Remove Tag 2").click()

    expect(rows).to_have_count(2)
    expect(add).to_be_focused()  # not lost at the top of the page
    kept = {"tenantId": "acme", "tags__0__key": "team", "tags__0__value": "security", "tags__1__key": "owner",
            "tags__1__value": "olivia"}  # fmt: skip
    expect_values(page, kept)
    expect(page.get_by_role("button", name="Remove Tag 3")).to_have_count(0)
    assert_same_page(page)

    # The rest of the form, the preview, and back to edit: nothing typed is lost on the way.
    fill_form(page, {"appBundleIdentifier": BUNDLE, "app": "SLACK", "ingestionType": "auditLog"})
    page.get_by_role("button", name="Preview the call").click()
    expect(page.locator("#preview-heading")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Review · "))
    expect(page.locator("#preview-boto3")).to_contain_text("{'key': 'owner', 'value': 'olivia'}")
    expect(page.locator("#preview-boto3")).not_to_contain_text("cost-centre")
    page.get_by_role("button", name="Back to edit").click()
    expect(page.get_by_role("button", name="Preview the call")).to_be_visible()
    expect_values(page, {**kept, "appBundleIdentifier": BUNDLE, "app": "SLACK", "ingestionType": "auditLog"})
    expect(rows).to_have_count(2)
    assert AwsRequest.objects.count() == 0
