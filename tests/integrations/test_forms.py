"""The AppFabric CreateIngestion form: built from botocore's model, it accepts exactly what AWS accepts."""

from __future__ import annotations

import pytest
from django import forms

from integrations.forms import ROWS_ACTION, OperationForm, edit_rows, params_to_data
from operations import all_operations, get_operation
from operations.appfabric import APPFABRIC_APPS as APPS
from tests.factories import ingestion_form_data, ingestion_params

INGESTION = get_operation("appfabric/CreateIngestion")
ARN = "arn:aws:appfabric:us-east-1:123456789012:appbundle/2b2b2b2b-1111-2222-3333-444444444444"


def form(**overrides) -> OperationForm:
    return OperationForm(INGESTION, ingestion_form_data(**overrides))


def only_error(f: OperationForm) -> tuple[str, str]:
    """The one field with an error, and its one message; fails if there are more."""
    assert not f.is_valid()
    assert not f.group_errors, f.group_errors
    [(name, messages)] = f.errors.items()
    [message] = messages
    return name, message


def assert_reads_like_a_sentence(message: str) -> None:
    assert message[0].isupper(), message
    assert message.endswith("."), message
    for jargon in ("pattern", "[a-f0-9]", "Violation", "shape", "must match"):
        assert jargon not in message, message


# --- a valid submission ---------------------------------------------------------------------------


def test_a_valid_submission_gives_exactly_the_api_parameters():
    f = form(tags__0__key="team", tags__0__value="integrations", tags__1__key="env", tags__1__value="prod")

    assert f.is_valid(), f.errors
    assert f.params == ingestion_params(
        tags=[{"key": "team", "value": "integrations"}, {"key": "env", "value": "prod"}]
    )


def test_a_submission_without_tags_sends_no_tags_member():
    f = form()

    assert f.is_valid(), f.errors
    assert f.params == ingestion_params()
    assert "tags" not in f.params


def test_empty_tag_rows_are_left_out_wherever_they_are():
    f = form(
        tags__0__key="", tags__0__value="",
        tags__1__key="team", tags__1__value="ops",
        tags__2__key="", tags__2__value="",
        tags__3__key="env", tags__3__value="dev",
    )  # fmt: skip

    assert f.is_valid(), f.errors
    assert f.params["tags"] == [{"key": "team", "value": "ops"}, {"key": "env", "value": "dev"}]


def test_the_form_never_has_a_client_token_field():
    f = OperationForm(INGESTION)

    assert INGESTION.token_member == "clientToken"
    assert not [name for name in f.fields if "token" in name.lower()]


def test_a_posted_client_token_is_ignored_and_never_reaches_the_parameters():
    f = form(clientToken="2b2b2b2b-1111-2222-3333-444444444444")

    assert f.is_valid(), f.errors
    assert "clientToken" not in f.params


def test_a_bound_form_without_tag_rows_shows_none_and_an_unbound_one_offers_one():
    assert [n for n in form().fields if n.startswith("tags")] == []
    assert [n for n in OperationForm(INGESTION).fields if n.startswith("tags")] == ["tags__0__key", "tags__0__value"]


# --- every constraint, one bad value at a time ----------------------------------------------------


@pytest.mark.parametrize("name", ["app", "appBundleIdentifier", "ingestionType", "tenantId"])
def test_a_missing_required_parameter_is_an_error_on_its_field(name):
    f = form(**{name: None})

    assert only_error(f) == (name, "This field is required.")


@pytest.mark.parametrize("name", ["app", "appBundleIdentifier", "ingestionType", "tenantId"])
def test_a_blank_required_parameter_is_an_error_on_its_field(name):
    f = form(**{name: ""})

    assert only_error(f) == (name, "This field is required.")


@pytest.mark.parametrize("app", APPS)
def test_each_of_the_twelve_documented_apps_is_accepted(app):
    f = form(app=app)

    assert f.is_valid(), f.errors
    assert f.params["app"] == app


def test_the_apps_are_the_twelve_the_documentation_lists():
    choices = [value for value, _ in OperationForm(INGESTION).fields["app"].choices if value]

    assert choices == [
        "SLACK", "ASANA", "JIRA", "M365", "M365AUDITLOGS", "ZOOM",
        "ZENDESK", "OKTA", "GOOGLE", "DROPBOX", "SMARTSHEET", "CISCO",
    ]  # fmt: skip


@pytest.mark.parametrize("app", ["SALESFORCE", "slack", " SLACK"])
def test_an_app_that_is_not_documented_is_refused(app):
    name, message = only_error(form(app=app))

    assert name == "app"
    assert message == f"Select a valid choice. {app} is not one of the available choices."


def test_an_app_bundle_id_that_is_neither_an_arn_nor_a_uuid_is_refused_in_the_declared_words():
    name, message = only_error(form(appBundleIdentifier="my-bundle"))

    assert name == "appBundleIdentifier"
    assert message == f"Enter {INGESTION.hints['appBundleIdentifier'].words}."
    assert_reads_like_a_sentence(message)


@pytest.mark.parametrize(
    "value",
    [
        "2B2B2B2B-1111-2222-3333-444444444444",  # upper-case hex
        "2b2b2b2b-1111-2222-3333-44444444444",  # one digit short
        "see arn:aws:appfabric:us-east-1:123456789012:appbundle/x",  # an ARN inside other text
    ],
)
def test_an_app_bundle_id_that_only_looks_like_one_is_refused(value):
    assert only_error(form(appBundleIdentifier=value))[0] == "appBundleIdentifier"


def test_an_app_bundle_arn_is_accepted():
    f = form(appBundleIdentifier=ARN)

    assert f.is_valid(), f.errors
    assert f.params["appBundleIdentifier"] == ARN


def test_an_app_bundle_id_of_1011_characters_is_accepted_and_1012_is_refused():
    assert form(appBundleIdentifier="arn:" + "a" * 1007).is_valid()

    name, message = only_error(form(appBundleIdentifier="arn:" + "a" * 1008))

    assert name == "appBundleIdentifier"
    assert message == "Must have 1–1011 characters (has 1012)."
    assert_reads_like_a_sentence(message)


def test_an_ingestion_type_outside_the_enum_is_refused():
    name, message = only_error(form(ingestionType="realtime"))

    assert name == "ingestionType"
    assert message == "Select a valid choice. realtime is not one of the available choices."


def test_a_tenant_id_of_1024_characters_is_accepted_and_1025_is_refused():
    assert form(tenantId="t" * 1024).is_valid()

    name, message = only_error(form(tenantId="t" * 1025))

    assert name == "tenantId"
    assert message == "Must have 1–1024 characters (has 1025)."
    assert_reads_like_a_sentence(message)


def test_a_tag_with_a_value_but_no_key_is_an_error_on_that_rows_key():
    f = form(tags__0__key="team", tags__0__value="ops", tags__1__key="", tags__1__value="orphan")

    assert only_error(f) == ("tags__1__key", "This field is required.")


def test_an_error_in_a_row_after_an_empty_row_lands_on_the_row_that_was_typed_in():
    f = form(tags__0__key="", tags__0__value="", tags__1__key="", tags__1__value="orphan")

    assert only_error(f) == ("tags__1__key", "This field is required.")


def test_a_tag_key_of_128_characters_is_accepted_and_129_is_refused():
    assert form(tags__0__key="k" * 128, tags__0__value="v").is_valid()

    name, message = only_error(form(tags__0__key="k" * 129, tags__0__value="v"))

    assert name == "tags__0__key"
    assert message == "Must have 1–128 characters (has 129)."


def test_a_tag_value_of_256_characters_is_accepted_and_257_is_refused():
    assert form(tags__0__key="k", tags__0__value="v" * 256).is_valid()

    name, message = only_error(form(tags__0__key="k", tags__0__value="v" * 257))

    assert name == "tags__0__value"
    assert message == "Must have 0–256 characters (has 257)."


def test_an_empty_tag_value_is_accepted_because_the_model_allows_it():
    f = form(tags__0__key="team", tags__0__value="")

    assert f.is_valid(), f.errors
    assert f.params["tags"] == [{"key": "team", "value": ""}]


def test_fifty_tags_are_accepted():
    f = form(**{f"tags__{i}__key": f"k{i}" for i in range(50)})

    assert f.is_valid(), (f.errors, f.group_errors)
    assert len(f.params["tags"]) == 50


def test_more_than_fifty_tags_is_an_error_on_the_tags_group():
    f = form(**{f"tags__{i}__key": f"k{i}" for i in range(51)})

    assert not f.is_valid()
    assert f.errors == f.group_errors
    assert f.group_errors == {"tags": ["Must have 0–50 items (has 51)."]}
    assert f.layout.children[-1].errors == ["Must have 0–50 items (has 51)."]


def test_whitespace_is_kept_as_typed():
    f = form(tenantId="  tenant 1  ", tags__0__key=" team ", tags__0__value=" ops\t")

    assert f.is_valid(), f.errors
    assert f.params["tenantId"] == "  tenant 1  "
    assert f.params["tags"] == [{"key": " team ", "value": " ops\t"}]


# --- refilling the form, and its rows -------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        ingestion_params(),
        ingestion_params(appBundleIdentifier=ARN, tenantId="  spaced  "),
        ingestion_params(tags=[{"key": "team", "value": "ops"}, {"key": "empty", "value": ""}]),
    ],
)
def test_params_to_data_refills_a_form_that_gives_back_the_same_params(params):
    data = params_to_data(INGESTION, params)
    f = OperationForm(INGESTION, data)

    assert f.is_valid(), (f.errors, f.group_errors)
    assert f.params == params


def test_params_to_data_names_tag_rows_by_their_member_paths():
    data = params_to_data(INGESTION, ingestion_params(tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]))

    assert {k: v for k, v in data.items() if k.startswith("tags")} == {
        "tags__0__key": "a",
        "tags__0__value": "1",
        "tags__1__key": "b",
        "tags__1__value": "2",
    }


def test_params_to_data_never_carries_a_client_token():
    data = params_to_data(INGESTION, {**ingestion_params(), "clientToken": "2b2b2b2b-1111-2222-3333-444444444444"})

    assert "clientToken" not in data


def test_adding_a_row_appends_an_empty_row_and_keeps_the_typed_values():
    data = ingestion_form_data(tags__0__key="team", tags__0__value="ops")

    edited = edit_rows({**data, ROWS_ACTION: "add:tags", "csrfmiddlewaretoken": "x"}, "add:tags")

    assert edited == {**data, "tags__1": ""}
    f = OperationForm(INGESTION, initial=edited)
    assert [n for n in f.fields if n.startswith("tags")] == [
        "tags__0__key",
        "tags__0__value",
        "tags__1__key",
        "tags__1__value",
    ]


def test_adding_a_row_to_a_form_without_rows_starts_at_row_zero():
    assert edit_rows(ingestion_form_data(), "add:tags") == {**ingestion_form_data(), "tags__0": ""}


def test_removing_a_row_renumbers_the_later_rows_and_keeps_their_values():
    data = ingestion_form_data(
        tags__0__key="a", tags__0__value="1",
        tags__1__key="b", tags__1__value="2",
        tags__2__key="c", tags__2__value="3",
    )  # fmt: skip

    edited = edit_rows(data, "remove:tags__1")

    assert edited == ingestion_form_data(
        tags__0__key="a", tags__0__value="1",
        tags__1__key="c", tags__1__value="3",
    )  # fmt: skip


def test_removing_the_only_row_leaves_no_rows():
    edited = edit_rows(ingestion_form_data(tags__0__key="a", tags__0__value="1"), "remove:tags__0")

    assert edited == ingestion_form_data()


def test_a_malformed_rows_action_changes_nothing_but_drops_the_button():
    data = ingestion_form_data(tags__0__key="a", tags__0__value="1")

    assert edit_rows({**data, ROWS_ACTION: "remove:tags"}, "remove:tags") == data


# --- help ----------------------------------------------------------------------------------------


def test_every_field_but_a_dropdown_has_help_that_states_its_constraint_in_words():
    f = OperationForm(INGESTION)

    for name, field in f.fields.items():
        if isinstance(field, forms.ChoiceField):
            continue  # the dropdown shows what may be chosen
        assert "Constraint:" in field.help_text, name
    assert "Constraint: 0–50 items." in f.layout.children[-1].help


def test_the_help_uses_the_declared_words_and_limits():
    fields = OperationForm(INGESTION).fields

    assert INGESTION.hints["appBundleIdentifier"].words in fields["appBundleIdentifier"].help_text
    assert "1–1024 characters" in fields["tenantId"].help_text
    assert "1–128 characters" in fields["tags__0__key"].help_text
    assert "0–256 characters" in fields["tags__0__value"].help_text


def test_the_help_of_a_dropdown_does_not_repeat_its_choices():
    for operation in all_operations():
        for name, field in OperationForm(operation).fields.items():
            if isinstance(field, forms.ChoiceField) and name != "target":
                values = [value for value, _ in field.choices if value]
                assert not any(value in field.help_text for value in values if len(value) > 3), (operation.key, name)


def test_documented_values_are_offered_in_words_with_the_raw_value_beside_them():
    choices = dict(OperationForm(INGESTION).fields["app"].choices)

    assert choices["M365AUDITLOGS"] == "Microsoft 365 audit logs (M365AUDITLOGS)"
    assert set(choices) == {"", *APPS}


@pytest.mark.parametrize(
    ("key", "name", "value"),
    [
        ("appfabric/CreateIngestion", "ingestionType", "auditLog"),
        ("partnercentral-selling/CreateResourceSnapshotJob", "ResourceType", "Opportunity"),
        ("appflow/RegisterConnector", "connectorProvisioningType", "LAMBDA"),
    ],
)
def test_a_dropdown_of_one_documented_value_has_it_chosen_already(key, name, value):
    form = OperationForm(get_operation(key))

    assert form[name].value() == value
