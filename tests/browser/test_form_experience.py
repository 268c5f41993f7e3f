"""Forms that never lose work, in Chromium: Enter previews in every text field of every form and keeps
every row; a refused preview is summed up, focused, with links that move the focus; fields that apply
to one choice come and go with it; the longest form fits a screen; the review before Run."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from integrations.models import AwsRequest
from tests.browser.conftest import check_accessibility, settle, sign_in
from tests.browser.forms import expect_values, field, fill_form, type_into
from tests.browser.test_forms import open_folds
from tests.factories import make_operator
from tests.integrations.test_end_to_end_operations import FORMS

TEXT_FIELDS = "#operation-form input[type=text]:not([name^=preset_])"


@pytest.fixture
def signed_in_page(page: Page) -> Page:
    make_operator("olivia")
    sign_in(page, "olivia")
    return page


def form_url(key: str) -> str:
    return f"/operations/{key}/"


@pytest.mark.parametrize("key", sorted(FORMS))
def test_enter_in_every_text_field_previews_and_keeps_every_row(key, signed_in_page: Page):
    page = signed_in_page
    values = FORMS[key]
    page.goto(form_url(key))
    open_folds(page)
    fill_form(page, values)
    names = page.eval_on_selector_all(TEXT_FIELDS, "inputs => inputs.filter(i => !i.disabled).map(i => i.name)")
    assert names, "no text field"

    for name in names:
        field(page, name).focus()
        field(page, name).press("Enter")

        expect(page.locator("#preview-heading")).to_be_visible()
        expect(page.locator("#review-table")).to_be_visible()
        page.get_by_role("button", name="Back to edit").click()
        expect(page.get_by_role("button", name="Preview the call")).to_be_visible()
        settle(page)
        expect_values(page, values)

    assert AwsRequest.objects.count() == 0


def test_the_error_summary_gets_the_focus_and_its_links_move_it_to_the_field(signed_in_page: Page):
    page = signed_in_page
    page.goto(form_url("appintegrations/CreateDataIntegration"))
    open_folds(page)
    typed = {**FORMS["appintegrations/CreateDataIntegration"], "FileConfiguration__Folders__0": ""}
    del typed["KmsKey"]
    fill_form(page, typed)
    # Fold the group again: the summary's link must open it.
    page.evaluate("() => { document.getElementById('fold-FileConfiguration').open = false; }")

    field(page, "Name").press("Enter")

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(2)
    check_accessibility(page, "form-error-summary")
    summary.get_by_role("link", name="KMS key: This field is required.").click()
    expect(field(page, "KmsKey")).to_be_focused()
    summary.get_by_role("link", name="File configuration › Folders").click()
    expect(page.locator("#fold-FileConfiguration")).to_have_attribute("open", "")
    expect(field(page, "FileConfiguration__Folders__0")).to_be_focused()


def test_the_dataset_target_appears_only_for_the_dataset_event_type_and_is_not_sent_otherwise(signed_in_page: Page):
    page = signed_in_page
    page.goto(form_url("supplychain/SendDataIntegrationEvent"))
    target = page.locator("#group-datasetTarget")
    expect(target).to_be_hidden()  # no event type chosen yet

    fill_form(page, FORMS["supplychain/SendDataIntegrationEvent"])
    expect(target).to_be_visible()
    check_accessibility(page, "form-dataset-target")
    type_into(page, "eventType", "scn.data.forecast")
    expect(target).to_be_hidden()
    page.get_by_role("button", name="Preview the call").click()

    expect(page.locator("#review-table")).to_be_visible()
    expect(page.locator("#review-table")).not_to_contain_text("Dataset target")
    expect(page.locator("#review-table")).to_contain_text("Forecast (scn.data.forecast)")


def test_the_lambda_block_is_shown_for_the_one_provisioning_type_chosen_already(signed_in_page: Page):
    page = signed_in_page
    page.goto(form_url("appflow/RegisterConnector"))

    expect(field(page, "connectorProvisioningType")).to_have_value("LAMBDA")
    expect(page.locator("#group-connectorProvisioningConfig")).to_be_visible()
    type_into(page, "connectorProvisioningType", "")
    expect(page.locator("#group-connectorProvisioningConfig")).to_be_hidden()


def test_the_data_integration_form_fits_a_screen_until_its_groups_are_opened(signed_in_page: Page):
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(form_url("appintegrations/CreateDataIntegration"))

    height = page.evaluate("() => document.documentElement.scrollHeight")

    parts = page.evaluate(
        "() => Array.from(document.querySelectorAll('#operation-form > *'), e => [e.id || e.tagName, e.offsetHeight])"
    )
    assert height <= 1500, f"{height} {parts}"
    open_folds(page)
    assert page.evaluate("() => document.documentElement.scrollHeight") > height
    check_accessibility(page, "form-folded")


def test_invalid_json_is_refused_as_the_field_is_left(signed_in_page: Page):
    page = signed_in_page
    page.goto(form_url("supplychain/SendDataIntegrationEvent"))

    type_into(page, "data", '{"id": 1,}')

    expect(page.locator("#field-data").get_by_role("alert")).to_have_text(
        "Data (JSON) must be JSON; it is not JSON: "
        "Expecting property name enclosed in double quotes at line 1, column 10."
    )


def test_the_review_shows_what_will_be_sent_and_folds_the_code_with_copy_buttons(signed_in_page: Page):
    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(form_url("appfabric/CreateIngestion"))
    open_folds(page)
    fill_form(page, FORMS["appfabric/CreateIngestion"])
    page.get_by_role("button", name="Preview the call").click()

    expect(page.locator("#preview-heading")).to_be_focused()
    expect(page).to_have_title("Review · AppFabric: create an ingestion · Integrations Portal")
    expect(page.locator("#review-table")).to_contain_text("Okta (OKTA)")
    expect(page.locator("#review-approval")).to_have_text("Not needed: it runs as soon as you press Run.")
    expect(page.locator("#preview-boto3")).to_be_hidden()
    check_accessibility(page, "review")
    page.locator("#preview-code > summary").click()
    copy = page.locator("#preview-code button.copy").first
    expect(copy).to_have_accessible_name("Copy the boto3 code")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert "client.create_ingestion(" in page.evaluate("() => navigator.clipboard.readText()")
    settle(page)
