"""The operation form as a person meets it, through the view: Enter previews, refusals are summed up at
the top with links, rules speak the labels' words on every field they concern, choices apply only
when they do, groups fold until used, and a preset fills the form."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from integrations.models import AwsRequest, Preset
from tests.factories import default_target, form_post, ingestion_form_data, make_operator, make_target, make_user
from tests.integrations.test_end_to_end_operations import FORMS

INGESTION = reverse("operation_form", args=["appfabric", "CreateIngestion"])
EVENT = reverse("operation_form", args=["supplychain", "SendDataIntegrationEvent"])
CONNECTOR = reverse("operation_form", args=["appflow", "RegisterConnector"])
DATA_INTEGRATION = reverse("operation_form", args=["appintegrations", "CreateDataIntegration"])
VALIDATE_CONNECTOR = reverse("operation_validate", args=["appflow", "RegisterConnector"])


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def summary_links(html: str) -> list[tuple[str, str]]:
    """The error summary's links: (the id they go to, their text)."""
    block = re.search(r'<div class="error-summary" id="error-summary" role="alert".*?</div>', html, re.S)
    assert block, "no error summary"
    return re.findall(r'<a href="#([^"]+)" data-focus="\1">([^<]+)</a>', block[0])


# --- Enter previews --------------------------------------------------------------------------------


def test_the_first_submit_button_of_the_form_is_preview_so_enter_never_presses_a_row_button(signed_in):
    html = page(signed_in.get(INGESTION))

    buttons = re.findall(r"<button[^>]*>", html[html.index('id="operation-form"') :])
    assert 'name="_preview"' in buttons[0]
    assert 'tabindex="-1"' in buttons[0]
    assert 'aria-hidden="true"' in buttons[0]
    assert any('name="_rows"' in b for b in buttons[1:])


def test_a_submit_by_the_default_button_previews_and_records_nothing(signed_in):
    data = ingestion_form_data(tags__0__key="team", tags__0__value="security")

    html = page(signed_in.post(INGESTION, {**form_post(data), "_preview": "1"}))

    assert 'id="preview-heading"' in html
    assert AwsRequest.objects.count() == 0


# --- the error summary -----------------------------------------------------------------------------


def test_a_refused_preview_is_summed_up_at_the_top_with_a_link_to_each_field(signed_in):
    data = ingestion_form_data(tenantId="", appBundleIdentifier="nope")

    html = page(signed_in.post(INGESTION, {**form_post(data), "_preview": "1"}))

    assert summary_links(html) == [
        (
            "id_appBundleIdentifier",
            "App bundle: Enter an app bundle ARN (arn:…) or a UUID in lower-case hex (8-4-4-4-12).",
        ),
        ("id_tenantId", "Tenant ID: This field is required."),
    ]
    assert html.index('id="error-summary"') < html.index('id="id_appBundleIdentifier"')
    for anchor, _ in summary_links(html):
        assert f'id="{anchor}"' in html


def test_a_refused_run_is_summed_up_too(signed_in):
    html = page(signed_in.post(INGESTION, form_post(ingestion_form_data(tenantId=""))))

    assert summary_links(html) == [("id_tenantId", "Tenant ID: This field is required.")]
    assert AwsRequest.objects.count() == 0


def test_a_form_not_yet_submitted_has_no_error_summary(signed_in):
    assert 'id="error-summary"' not in page(signed_in.get(INGESTION))
    # Adding a row is not a refusal either.
    assert 'id="error-summary"' not in page(signed_in.post(INGESTION, {**form_post({}), "_rows": "add:tags"}))


def test_a_summary_line_of_a_nested_field_says_where_it_sits(signed_in):
    data = {**FORMS["appintegrations/CreateDataIntegration"], "FileConfiguration__Folders__0": "bad\nfolder"}
    html = page(signed_in.post(DATA_INTEGRATION, {**form_post(data), "_preview": "1"}))

    [(anchor, text)] = summary_links(html)
    assert anchor == "id_FileConfiguration__Folders__0"
    assert text.startswith("File configuration › Folder 1: ")


# --- cross-field rules ------------------------------------------------------------------------------


def test_a_rule_marks_every_field_it_concerns_in_the_words_of_the_labels(signed_in):
    data = {**FORMS["appflow/RegisterConnector"], "connectorProvisioningConfig__lambda__lambdaArn": ""}

    html = page(signed_in.post(CONNECTOR, {**form_post(data), "_preview": "1"}))

    sentence = "Lambda function ARN is required when Provisioning type is LAMBDA."
    for name in ("connectorProvisioningConfig__lambda__lambdaArn", "connectorProvisioningType"):
        assert re.search(rf'id="id_{name}_error" role="alert"><p>{re.escape(sentence)}</p>', html), name
    # Listed once in the summary, linking to the field to fill in.
    assert summary_links(html) == [("id_connectorProvisioningConfig__lambda__lambdaArn", sentence)]
    assert "connectorProvisioningType is" not in html


def test_a_rule_on_a_group_marks_the_groups_fields_and_links_to_the_first_to_fill(signed_in):
    data = {k: v for k, v in FORMS["supplychain/SendDataIntegrationEvent"].items() if not k.startswith("datasetTarget")}

    html = page(signed_in.post(EVENT, {**form_post(data), "_preview": "1"}))

    sentence = "Dataset target is required when Event type is scn.data.dataset."
    assert summary_links(html) == [("id_datasetTarget__datasetIdentifier", sentence)]
    for name in ("eventType", "datasetTarget__datasetIdentifier", "datasetTarget__operationType"):
        assert f'id="id_{name}_error"' in html, name


def test_a_field_checked_as_it_is_left_shows_only_its_own_error(signed_in):
    data = {
        "connectorLabel": "erp-connector",
        "connectorProvisioningType": "LAMBDA",
        "_field": "connectorProvisioningType",
    }

    html = page(signed_in.post(VALIDATE_CONNECTOR, data))

    assert 'id="field-connectorProvisioningType"' in html
    assert "errors" not in html


# --- fields that apply to one choice ---------------------------------------------------------------


def test_the_dataset_target_is_marked_as_shown_only_for_the_dataset_event_type(signed_in):
    html = page(signed_in.get(EVENT))

    assert re.search(
        r'<fieldset class="group" id="group-datasetTarget" tabindex="-1" '
        r'data-shown-when="id_eventType" data-shown-value="scn.data.dataset">',
        html,
    )
    # Rendered without "hidden": without JavaScript it stays visible (static/portal/form.js hides it).
    assert 'id="group-datasetTarget" tabindex="-1" hidden' not in html


def test_the_lambda_block_is_marked_as_shown_only_for_lambda(signed_in):
    html = page(signed_in.get(CONNECTOR))

    assert (
        'id="group-connectorProvisioningConfig" tabindex="-1" '
        'data-shown-when="id_connectorProvisioningType" data-shown-value="LAMBDA"' in html
    )


def test_a_dataset_target_sent_for_another_event_type_is_not_recorded(signed_in, published):
    data = {**FORMS["supplychain/SendDataIntegrationEvent"], "eventType": "scn.data.forecast"}

    response = signed_in.post(EVENT, form_post(data))

    assert response.status_code == 302
    assert "datasetTarget" not in AwsRequest.objects.get().parameters


# --- labels and choices ----------------------------------------------------------------------------


def test_documented_values_are_shown_in_words_beside_the_raw_value(signed_in):
    html = page(signed_in.get(INGESTION))

    assert '<option value="M365AUDITLOGS">Microsoft 365 audit logs (M365AUDITLOGS)</option>' in html
    assert '<option value="auditLog" selected>Audit log (auditLog)</option>' in html


def test_the_appflow_help_is_its_own_not_the_provisioning_types(signed_in):
    html = page(signed_in.get(CONNECTOR))

    assert "The provisioning type of the connector" not in html
    assert "The Lambda function registered as the connector." in html


def test_rows_of_one_value_are_named_in_the_singular(signed_in):
    html = page(signed_in.post(DATA_INTEGRATION, {**form_post({}), "_rows": "add:FileConfiguration__Folders"}))

    assert '<label for="id_FileConfiguration__Folders__0">Folder 1' in html
    assert "Folders 1" not in html


def test_tag_rows_say_key_and_value_in_every_form(signed_in):
    for url in (
        INGESTION,
        DATA_INTEGRATION,
        reverse("operation_form", args=["partnercentral-selling", "CreateResourceSnapshotJob"]),
    ):
        html = page(signed_in.get(url))
        labels = re.findall(r'<label for="id_[Tt]ags__0__(?:key|value|Key|Value)">([^<]+?) ?<', html)
        assert labels == ["Key", "Value"], (url, labels)


# --- folded groups ---------------------------------------------------------------------------------


def test_optional_groups_are_folded_until_they_hold_a_value(signed_in):
    html = page(signed_in.get(DATA_INTEGRATION))

    for name in ("ScheduleConfig", "Tags", "FileConfiguration", "ObjectConfiguration"):
        assert f'<details class="fold" id="fold-{name}">' in html, name
    # A required group is never folded: Folders, inside File configuration.
    assert 'id="fold-FileConfiguration__Folders"' not in html


def test_a_folded_group_opens_when_it_holds_a_value_or_an_error(signed_in):
    data = {
        "Name": "crm",
        "KmsKey": "alias/k",
        "ScheduleConfig__Object": "Account",
        "FileConfiguration__Folders__0": "",
    }

    html = page(signed_in.post(DATA_INTEGRATION, {**form_post(data), "_preview": "1"}))

    assert '<details class="fold" id="fold-ScheduleConfig" open>' in html  # a value, and the missing expression
    assert '<details class="fold" id="fold-ObjectConfiguration">' in html


def test_the_group_whose_row_was_just_added_is_open(signed_in):
    html = page(signed_in.post(DATA_INTEGRATION, {**form_post({}), "_rows": "add:FileConfiguration__Filters"}))

    assert '<details class="fold" id="fold-FileConfiguration" open>' in html
    assert '<details class="fold" id="fold-FileConfiguration__Filters" open>' in html


# --- presets ---------------------------------------------------------------------------------------


@pytest.fixture
def preset(operator):
    return Preset.objects.create(
        name="weekly okta",
        owner=operator,
        service="appfabric",
        operation="CreateIngestion",
        target=default_target(),
        data={"tenantId": "okta-tenant", "app": "OKTA", "tags__0__key": "team", "tags__0__value": "security"},
    )


def test_a_preset_fills_the_form_and_chooses_its_target(signed_in, preset):
    make_target("other", groups=("Operators",))

    html = page(signed_in.get(INGESTION, {"preset": preset.pk}))

    assert re.search(r'<input type="text" name="tenantId" value="okta-tenant"', html)
    assert '<option value="OKTA" selected>' in html
    assert re.search(r'name="tags__0__value" value="security"', html)
    assert f'<option value="{preset.target_id}" selected>' in html


def test_a_preset_of_another_person_or_operation_is_not_found(signed_in, preset):
    stranger = make_operator("stranger")
    theirs = Preset.objects.create(name="theirs", owner=stranger, service="appfabric", operation="CreateIngestion")

    assert signed_in.get(INGESTION, {"preset": theirs.pk}).status_code == 404
    assert signed_in.get(CONNECTOR, {"preset": preset.pk}).status_code == 404
    assert signed_in.get(INGESTION, {"preset": "x1"}).status_code == 404


def test_a_preset_target_the_person_may_no_longer_use_is_not_chosen(signed_in, preset):
    elsewhere = make_target("elsewhere", users=(make_user("someone"),))
    preset.target = elsewhere
    preset.save()

    html = page(signed_in.get(INGESTION, {"preset": preset.pk}))

    assert f'value="{elsewhere.pk}"' not in html
    assert re.search(r'name="tenantId" value="okta-tenant"', html)
