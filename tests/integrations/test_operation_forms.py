"""The forms of Supply Chain, AppIntegrations, Partner Central and AppFlow: built from botocore's model
plus the documented cross-field rules, they give exactly the API parameters AWS accepts."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from integrations.forms import OperationForm, params_to_data
from operations import all_operations, get_operation
from operations.supplychain import EVENT_TYPES

SUPPLY_CHAIN = get_operation("supplychain/SendDataIntegrationEvent")
DATA_INTEGRATION = get_operation("appintegrations/CreateDataIntegration")
SNAPSHOT_JOB = get_operation("partnercentral-selling/CreateResourceSnapshotJob")
CONNECTOR = get_operation("appflow/RegisterConnector")

INSTANCE = "2b2b2b2b-1111-2222-3333-444444444444"
DATA_LIMIT = 1_048_576
NAME_PATTERN = "^[a-zA-Z0-9\\/\\._\\-]+$"
NON_BLANK_PATTERN = ".*\\S.*"


def dataset_arn(namespace: str = "default", name: str = "orders") -> str:
    return f"arn:aws:scn:us-east-1:123456789012:instance/{INSTANCE}/namespaces/{namespace}/datasets/{name}"


def clean(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}


def event_data(**overrides) -> dict:
    """Form data for a Supply Chain event of a non-dataset type (so, the asc namespace)."""
    data = {
        "instanceId": INSTANCE,
        "eventType": "scn.data.inboundorder",
        "data": '{"order_id": "PO-1"}',
        "eventGroupId": "PO-1",
        "eventTimestamp": "2026-01-31T14:30:00Z",
    }
    data.update(overrides)
    return clean(data)


def dataset_event_data(namespace: str = "default", **overrides) -> dict:
    target = {
        "eventType": "scn.data.dataset",
        "datasetTarget__datasetIdentifier": dataset_arn(namespace),
        "datasetTarget__operationType": "UPSERT",
    }
    return event_data(**{**target, **overrides})


def integration_data(**overrides) -> dict:
    data = {"Name": "sales-accounts", "KmsKey": "alias/integrations"}
    data.update(overrides)
    return clean(data)


def snapshot_data(**overrides) -> dict:
    data = {
        "Catalog": "AWS",
        "EngagementIdentifier": "eng-abcdefghij1234",
        "ResourceType": "Opportunity",
        "ResourceIdentifier": "O1234567890",
        "ResourceSnapshotTemplateIdentifier": "OpportunitySummary",
    }
    data.update(overrides)
    return clean(data)


def connector_data(**overrides) -> dict:
    data = {"connectorLabel": "orders_connector"}
    data.update(overrides)
    return clean(data)


def valid_params(operation, data: dict) -> dict:
    f = OperationForm(operation, data)
    assert f.is_valid(), (f.errors, f.group_errors)
    return f.params


def all_errors(f: OperationForm) -> dict[str, list[str]]:
    """Field errors and rows-group errors together, by form name."""
    assert not f.is_valid()
    return {name: list(messages) for name, messages in f.errors.items()}


def only_error(f: OperationForm) -> tuple[str, str]:
    """The one field or group with an error, and its one message; fails if there are more."""
    [(name, messages)] = all_errors(f).items()
    [message] = messages
    return name, message


def assert_reads_like_a_sentence(message: str) -> None:
    assert message[0].isupper(), message
    assert message.endswith("."), message
    for jargon in ("pattern", "[a-", "\\w", "Violation", "shape", "must match", "NoneType"):
        assert jargon not in message, message


# --- valid full submissions ------------------------------------------------------------------------

FULL_EVENT_DATA = {
    "instanceId": INSTANCE,
    "eventType": "scn.data.dataset",
    "data": '[{"order_id": "PO-1"}, {"order_id": "PO-2"}]',
    "eventGroupId": "PO-1",
    "eventTimestamp": "2026-01-31T14:30:00Z",
    "datasetTarget__datasetIdentifier": dataset_arn("default", "inbound_order"),
    "datasetTarget__operationType": "UPSERT",
}
FULL_EVENT_PARAMS = {
    "instanceId": INSTANCE,
    "eventType": "scn.data.dataset",
    "data": '[{"order_id": "PO-1"}, {"order_id": "PO-2"}]',
    "eventGroupId": "PO-1",
    "eventTimestamp": "2026-01-31T14:30:00+00:00",
    "datasetTarget": {"datasetIdentifier": dataset_arn("default", "inbound_order"), "operationType": "UPSERT"},
}

FULL_INTEGRATION_DATA = {
    "Name": "sales-accounts",
    "Description": "Accounts from the sales CRM",
    "KmsKey": "alias/integrations",
    "SourceURI": "s3://bucket/prefix",
    "ScheduleConfig__FirstExecutionFrom": "1700000000000",
    "ScheduleConfig__Object": "Account",
    "ScheduleConfig__ScheduleExpression": "rate(1 hour)",
    "Tags__0__key": "team",
    "Tags__0__value": "integrations",
    "Tags__1__key": "",  # an empty row, dropped
    "Tags__1__value": "",
    "Tags__2__key": "env",  # a key with an empty value is a real entry
    "Tags__2__value": "",
    "FileConfiguration__Folders__0": "incoming/",
    "FileConfiguration__Folders__1": "",  # an empty row, dropped
    "FileConfiguration__Folders__2": "archive/2026",
    "FileConfiguration__Filters__0__key": "type",
    "FileConfiguration__Filters__0__value__0": "csv",
    "FileConfiguration__Filters__0__value__1": "",  # an empty value row, dropped
    "FileConfiguration__Filters__0__value__2": "json",
    "FileConfiguration__Filters__1__key": "",  # an empty map row, dropped
    "FileConfiguration__Filters__1__value__0": "",
    "FileConfiguration__Filters__2__key": "owner",
    "FileConfiguration__Filters__2__value__0": "sales",
    "ObjectConfiguration__0__key": "Account",
    "ObjectConfiguration__0__value__0__key": "Name",
    "ObjectConfiguration__0__value__0__value__0": "Acme",
    "ObjectConfiguration__0__value__1__key": "Region",
    "ObjectConfiguration__0__value__1__value__0": "EU",
    "ObjectConfiguration__0__value__1__value__1": "US",
    "ObjectConfiguration__0__value__2__key": "",  # an empty inner row, dropped
    "ObjectConfiguration__0__value__2__value__0": "",
    "ObjectConfiguration__1__key": "Contact",
    "ObjectConfiguration__1__value__0__key": "Email",
    "ObjectConfiguration__1__value__0__value__0": "all",
    "ObjectConfiguration__2__key": "",  # an empty outer row, dropped
    "ObjectConfiguration__2__value__0__key": "",
    "ObjectConfiguration__2__value__0__value__0": "",
}
FULL_INTEGRATION_PARAMS = {
    "Name": "sales-accounts",
    "Description": "Accounts from the sales CRM",
    "KmsKey": "alias/integrations",
    "SourceURI": "s3://bucket/prefix",
    "ScheduleConfig": {
        "FirstExecutionFrom": "1700000000000",
        "Object": "Account",
        "ScheduleExpression": "rate(1 hour)",
    },
    "Tags": {"team": "integrations", "env": ""},
    "FileConfiguration": {
        "Folders": ["incoming/", "archive/2026"],
        "Filters": {"type": ["csv", "json"], "owner": ["sales"]},
    },
    "ObjectConfiguration": {
        "Account": {"Name": ["Acme"], "Region": ["EU", "US"]},
        "Contact": {"Email": ["all"]},
    },
}

FULL_SNAPSHOT_DATA = {
    "Catalog": "Sandbox",
    "EngagementIdentifier": "eng-abcdefghij1234",
    "ResourceType": "Opportunity",
    "ResourceIdentifier": "O1234567890",
    "ResourceSnapshotTemplateIdentifier": "OpportunitySummary",
    "Tags__0__Key": "Équipe",
    "Tags__0__Value": "Intégrations",
    "Tags__1__Key": "",  # an empty row, dropped
    "Tags__1__Value": "",
    "Tags__2__Key": "営業",
    "Tags__2__Value": "東京 1",
    "Tags__3__Key": "empty",  # an empty tag value is allowed by the model
    "Tags__3__Value": "",
}
FULL_SNAPSHOT_PARAMS = {
    "Catalog": "Sandbox",
    "EngagementIdentifier": "eng-abcdefghij1234",
    "ResourceType": "Opportunity",
    "ResourceIdentifier": "O1234567890",
    "ResourceSnapshotTemplateIdentifier": "OpportunitySummary",
    "Tags": [
        {"Key": "Équipe", "Value": "Intégrations"},
        {"Key": "営業", "Value": "東京 1"},
        {"Key": "empty", "Value": ""},
    ],
}

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-connector"
FULL_CONNECTOR_DATA = {
    "connectorLabel": "orders_connector",
    "description": "Orders from the warehouse system",
    "connectorProvisioningType": "LAMBDA",
    "connectorProvisioningConfig__lambda__lambdaArn": LAMBDA_ARN,
}
FULL_CONNECTOR_PARAMS = {
    "connectorLabel": "orders_connector",
    "description": "Orders from the warehouse system",
    "connectorProvisioningType": "LAMBDA",
    "connectorProvisioningConfig": {"lambda": {"lambdaArn": LAMBDA_ARN}},
}

FULL = [
    pytest.param(SUPPLY_CHAIN, FULL_EVENT_DATA, FULL_EVENT_PARAMS, id="supplychain"),
    pytest.param(DATA_INTEGRATION, FULL_INTEGRATION_DATA, FULL_INTEGRATION_PARAMS, id="appintegrations"),
    pytest.param(SNAPSHOT_JOB, FULL_SNAPSHOT_DATA, FULL_SNAPSHOT_PARAMS, id="partnercentral"),
    pytest.param(CONNECTOR, FULL_CONNECTOR_DATA, FULL_CONNECTOR_PARAMS, id="appflow"),
]


@pytest.mark.parametrize(("operation", "data", "expected"), FULL)
def test_a_valid_full_submission_gives_exactly_the_api_parameters(operation, data, expected):
    params = valid_params(operation, data)

    assert params == expected
    assert operation.token_member not in params


@pytest.mark.parametrize(("operation", "data", "expected"), FULL)
def test_the_full_submission_fills_every_field_the_form_offers(operation, data, expected):
    # "Full" means full: no member of the unbound form is left out of the submission above.
    offered = set(OperationForm(operation).fields)

    assert offered <= set(data), offered - set(data)


@pytest.mark.parametrize(("operation", "data", "expected"), FULL)
def test_a_submission_of_only_empty_optional_rows_sends_no_such_members(operation, data, expected):
    required = set(operation.model.input_shape.required_members) - {operation.token_member}
    minimal = {k: v for k, v in data.items() if k in required}
    if operation is SUPPLY_CHAIN:
        minimal["eventType"] = "scn.data.inboundorder"
    blanks = {k: "" for k in data if k not in minimal}

    params = valid_params(operation, {**minimal, **blanks})

    sent = set(params) - ({"eventTimestamp"} if operation is SUPPLY_CHAIN else set())
    assert sent == required


# --- refilling a form from parameters ---------------------------------------------------------------


ROUND_TRIPS = [
    pytest.param(SUPPLY_CHAIN, FULL_EVENT_PARAMS, id="supplychain-full"),
    pytest.param(
        SUPPLY_CHAIN,
        {k: v for k, v in FULL_EVENT_PARAMS.items() if k != "datasetTarget"} | {"eventType": "scn.data.forecast"},
        id="supplychain-no-target",
    ),
    pytest.param(DATA_INTEGRATION, FULL_INTEGRATION_PARAMS, id="appintegrations-full"),
    pytest.param(DATA_INTEGRATION, {"Name": "n", "KmsKey": "k"}, id="appintegrations-minimal"),
    pytest.param(
        DATA_INTEGRATION,
        {
            "Name": "n",
            "KmsKey": "k",
            # a map of lists
            "FileConfiguration": {"Folders": ["a"], "Filters": {"type": ["csv", "json", "xml"], "x": ["1"]}},
            # a map of maps of lists
            "ObjectConfiguration": {
                "Account": {"Name": ["a"], "Id": ["b", "c"]},
                "Contact": {"Email": ["d"]},
                "Lead": {"Source": ["e", "f", "g"]},
            },
        },
        id="appintegrations-maps-of-lists",
    ),
    pytest.param(SNAPSHOT_JOB, FULL_SNAPSHOT_PARAMS, id="partnercentral-full"),
    pytest.param(CONNECTOR, FULL_CONNECTOR_PARAMS, id="appflow-full"),
    pytest.param(CONNECTOR, {"connectorLabel": "c1"}, id="appflow-minimal"),
]


@pytest.mark.parametrize(("operation", "params"), ROUND_TRIPS)
def test_params_to_data_refills_a_form_that_gives_back_the_same_params(operation, params):
    data = params_to_data(operation, params)

    assert valid_params(operation, data) == params


def test_params_to_data_names_nested_rows_by_their_member_paths():
    data = params_to_data(
        DATA_INTEGRATION,
        {
            "Name": "n",
            "KmsKey": "k",
            "FileConfiguration": {"Folders": ["a", "b"], "Filters": {"type": ["csv", "json"]}},
            "ObjectConfiguration": {"Account": {"Name": ["x", "y"]}},
        },
    )

    assert data == {
        "Name": "n",
        "KmsKey": "k",
        "FileConfiguration__Folders__0": "a",
        "FileConfiguration__Folders__1": "b",
        "FileConfiguration__Filters__0__key": "type",
        "FileConfiguration__Filters__0__value__0": "csv",
        "FileConfiguration__Filters__0__value__1": "json",
        "ObjectConfiguration__0__key": "Account",
        "ObjectConfiguration__0__value__0__key": "Name",
        "ObjectConfiguration__0__value__0__value__0": "x",
        "ObjectConfiguration__0__value__0__value__1": "y",
    }


# --- the client token ----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", all_operations(), ids=lambda op: op.key)
def test_no_form_has_a_client_token_field(operation):
    fields = OperationForm(operation).fields

    assert operation.token_member
    assert operation.token_member not in fields
    assert not [name for name in fields if "token" in name.lower()]


@pytest.mark.parametrize(("operation", "data", "expected"), FULL)
def test_a_posted_client_token_never_reaches_the_params_and_params_never_refill_one(operation, data, expected):
    token = "2b2b2b2b-1111-2222-3333-444444444444-with-some-length"

    assert valid_params(operation, {**data, operation.token_member: token}) == expected
    assert operation.token_member not in params_to_data(operation, {**expected, operation.token_member: token})


# --- Supply Chain: the dataset target -------------------------------------------------------------


def test_a_dataset_event_without_a_dataset_target_marks_the_target_its_fields_and_the_event_type():
    errors = all_errors(OperationForm(SUPPLY_CHAIN, event_data(eventType="scn.data.dataset")))

    sentence = "Dataset target is required when Event type is scn.data.dataset."
    assert errors == {
        "datasetTarget": [sentence],
        "eventType": [sentence],
        "datasetTarget__datasetIdentifier": [sentence],
        "datasetTarget__operationType": [sentence],
    }
    assert_reads_like_a_sentence(sentence)


def test_a_dataset_event_with_a_dataset_target_is_accepted():
    params = valid_params(SUPPLY_CHAIN, dataset_event_data())

    assert params["datasetTarget"] == {"datasetIdentifier": dataset_arn(), "operationType": "UPSERT"}


def test_a_half_filled_dataset_target_is_an_error_on_its_missing_field():
    data = dataset_event_data(datasetTarget__datasetIdentifier="")

    assert only_error(OperationForm(SUPPLY_CHAIN, data)) == (
        "datasetTarget__datasetIdentifier",
        "This field is required.",
    )


@pytest.mark.parametrize("event_type", [value for value, _ in EVENT_TYPES if value != "scn.data.dataset"])
def test_a_dataset_target_sent_with_any_other_event_type_is_ignored(event_type):
    """The browser hides the dataset target for other event types; sent anyway (without JavaScript),
    it is left out of the call rather than refused, since the person could not see it."""
    params = valid_params(SUPPLY_CHAIN, dataset_event_data(eventType=event_type))

    assert params["eventType"] == event_type
    assert "datasetTarget" not in params


def test_a_dataset_target_is_shown_only_for_the_dataset_event_type():
    [target] = [n for n in OperationForm(SUPPLY_CHAIN).layout.children if n.name == "datasetTarget"]

    assert target.shown_when == ("eventType", "scn.data.dataset")


def test_the_event_types_offered_are_the_models():
    offered = [value for value, _ in OperationForm(SUPPLY_CHAIN).fields["eventType"].choices if value]

    assert sorted(offered) == sorted(SUPPLY_CHAIN.model.input_shape.members["eventType"].enum)


# --- Supply Chain: the data ------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["{not json", "{'single': 'quotes'}", "[1, 2", "PO-1"])
def test_data_that_is_not_json_is_refused_saying_so(data):
    name, message = only_error(OperationForm(SUPPLY_CHAIN, event_data(data=data)))

    assert name == "data"
    assert "not JSON" in message


@pytest.mark.parametrize("data", ["42", '"a string"', "true", "null", "3.5"])
def test_data_that_is_json_but_neither_an_object_nor_an_array_is_refused(data):
    name, message = only_error(OperationForm(SUPPLY_CHAIN, event_data(data=data)))

    assert name == "data"
    assert "JSON object or a JSON array" in message
    assert_reads_like_a_sentence(message)


@pytest.mark.parametrize("data", ['{"order_id": "PO-1"}', '[{"order_id": "PO-1"}, {"order_id": "PO-2"}]', "[]"])
def test_data_that_is_a_json_object_or_array_is_accepted_as_typed(data):
    assert valid_params(SUPPLY_CHAIN, event_data(data=data))["data"] == data


@pytest.mark.parametrize("event_type", ["scn.data.inboundorder", "scn.data.forecast", "scn.data.outboundshipment"])
@pytest.mark.parametrize(
    "data",
    [
        '{"order_id": "PO-1", "connection_id": "c-1"}',
        '[{"order_id": "PO-1"}, {"order_id": "PO-2", "connection_id": "c-1"}]',
    ],
    ids=["object", "array-element"],
)
def test_connection_id_is_refused_for_the_asc_event_types(event_type, data):
    name, message = only_error(OperationForm(SUPPLY_CHAIN, event_data(eventType=event_type, data=data)))

    assert name == "data"
    assert "connection_id" in message
    assert_reads_like_a_sentence(message)


@pytest.mark.parametrize(
    "data",
    ['{"connection_id": "c-1"}', '[{"id": 1}, {"connection_id": "c-1"}]'],
    ids=["object", "array-element"],
)
def test_connection_id_is_refused_for_a_dataset_in_the_asc_namespace(data):
    name, message = only_error(OperationForm(SUPPLY_CHAIN, dataset_event_data(namespace="asc", data=data)))

    assert name == "data"
    assert "connection_id" in message


@pytest.mark.parametrize("namespace", ["default", "custom", "ascending"])
@pytest.mark.parametrize(
    "data",
    ['{"connection_id": "c-1"}', '[{"id": 1}, {"connection_id": "c-1"}]'],
    ids=["object", "array-element"],
)
def test_connection_id_is_accepted_for_a_dataset_in_another_namespace(namespace, data):
    assert valid_params(SUPPLY_CHAIN, dataset_event_data(namespace=namespace, data=data))["data"] == data


def test_connection_id_as_a_value_rather_than_a_key_is_accepted_in_the_asc_namespace():
    data = '{"order_id": "PO-1", "note": "connection_id"}'

    assert valid_params(SUPPLY_CHAIN, event_data(data=data))["data"] == data


def json_of_length(n: int) -> str:
    text = '["' + "a" * (n - 4) + '"]'
    assert len(text) == n
    return text


def test_data_of_exactly_1048576_characters_is_accepted():
    data = json_of_length(DATA_LIMIT)

    assert valid_params(SUPPLY_CHAIN, event_data(data=data))["data"] == data


def test_data_of_1048577_characters_is_refused_naming_the_limit():
    name, message = only_error(OperationForm(SUPPLY_CHAIN, event_data(data=json_of_length(DATA_LIMIT + 1))))

    assert name == "data"
    assert re.search(r"1,?048,?576", message), message
    assert_reads_like_a_sentence(message)


def test_empty_data_is_required():
    assert only_error(OperationForm(SUPPLY_CHAIN, event_data(data=""))) == ("data", "This field is required.")


# --- Supply Chain: the event time ------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["", None], ids=["blank", "absent"])
def test_an_empty_event_time_is_filled_with_the_current_time_in_utc(timestamp):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    params = valid_params(SUPPLY_CHAIN, event_data(eventTimestamp=timestamp))
    after = dt.datetime.now(dt.UTC)

    sent = params["eventTimestamp"]
    assert isinstance(sent, str)
    moment = dt.datetime.fromisoformat(sent.replace("Z", "+00:00"))
    assert moment.utcoffset() == dt.timedelta(0)
    assert before <= moment <= after


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("1700000000", "2023-11-14T22:13:20+00:00"),
        ("2026-01-31T14:30:00Z", "2026-01-31T14:30:00+00:00"),
        ("2026-01-31T14:30:00+00:00", "2026-01-31T14:30:00+00:00"),
        ("2026-01-31T16:30:00+02:00", "2026-01-31T14:30:00+00:00"),
        ("2026-01-31T14:30:00", "2026-01-31T14:30:00+00:00"),
    ],
)
def test_an_event_time_in_epoch_seconds_or_iso_8601_is_accepted_and_sent_in_utc(typed, sent):
    assert valid_params(SUPPLY_CHAIN, event_data(eventTimestamp=typed))["eventTimestamp"] == sent


@pytest.mark.parametrize("typed", ["yesterday", "2026-13-40T00:00:00Z", "31/01/2026 14:30", "17e"])
def test_an_event_time_that_is_neither_is_refused(typed):
    name, message = only_error(OperationForm(SUPPLY_CHAIN, event_data(eventTimestamp=typed)))

    assert name == "eventTimestamp"
    assert "epoch seconds" in message
    assert_reads_like_a_sentence(message)


# --- AppIntegrations: the schedule ----------------------------------------------------------------


def schedule(**overrides) -> dict:
    return integration_data(
        ScheduleConfig__ScheduleExpression="rate(1 hour)", ScheduleConfig__Object="Account", **overrides
    )


@pytest.mark.parametrize(
    "first", ["1700000000000", "0", "2026-01-31T14:30:00Z", "2026-01-31T14:30:00+00:00", "2026-01-31"]
)
def test_first_execution_from_accepts_epoch_milliseconds_and_iso_8601(first):
    params = valid_params(DATA_INTEGRATION, schedule(ScheduleConfig__FirstExecutionFrom=first))

    assert params["ScheduleConfig"]["FirstExecutionFrom"] == first


@pytest.mark.parametrize("first", ["tomorrow", "next monday", "1700000000000ms", "-1700000000000", "31/01/2026"])
def test_first_execution_from_refuses_other_text(first):
    name, message = only_error(OperationForm(DATA_INTEGRATION, schedule(ScheduleConfig__FirstExecutionFrom=first)))

    assert name == "ScheduleConfig__FirstExecutionFrom"
    assert "milliseconds" in message
    assert "ISO-8601" in message
    assert_reads_like_a_sentence(message)


@pytest.mark.parametrize(
    "partial",
    [{"ScheduleConfig__Object": "Account"}, {"ScheduleConfig__FirstExecutionFrom": "1700000000000"}],
)
def test_a_schedule_without_a_schedule_expression_is_refused_on_that_field(partial):
    f = OperationForm(DATA_INTEGRATION, integration_data(**partial))

    assert only_error(f) == ("ScheduleConfig__ScheduleExpression", "This field is required.")


def test_a_schedule_left_empty_is_not_sent():
    data = integration_data(
        ScheduleConfig__FirstExecutionFrom="", ScheduleConfig__Object="", ScheduleConfig__ScheduleExpression=""
    )

    assert "ScheduleConfig" not in valid_params(DATA_INTEGRATION, data)


# --- AppIntegrations: files, folders, tags and objects ---------------------------------------------


def test_a_file_configuration_with_filters_but_no_folders_is_refused():
    data = integration_data(FileConfiguration__Filters__0__key="type", FileConfiguration__Filters__0__value__0="csv")

    name, message = only_error(OperationForm(DATA_INTEGRATION, data))

    assert name == "FileConfiguration__Folders"
    assert message == "This field is required."


def folders(n: int) -> dict:
    return {f"FileConfiguration__Folders__{i}": f"folder-{i}" for i in range(n)}


def test_ten_folders_are_accepted():
    params = valid_params(DATA_INTEGRATION, integration_data(**folders(10)))

    assert params["FileConfiguration"] == {"Folders": [f"folder-{i}" for i in range(10)]}


def test_more_than_ten_folders_is_an_error_on_the_folders_group():
    f = OperationForm(DATA_INTEGRATION, integration_data(**folders(11)))

    assert not f.is_valid()
    assert f.errors == f.group_errors
    assert f.group_errors == {"FileConfiguration__Folders": ["Must have 1–10 items (has 11)."]}


@pytest.mark.parametrize("rows", [{}, {"Tags__0__key": "", "Tags__0__value": ""}], ids=["no-rows", "an-empty-row"])
def test_a_tags_map_with_no_entries_is_simply_absent(rows):
    assert "Tags" not in valid_params(DATA_INTEGRATION, integration_data(**rows))


def tags(n: int) -> dict:
    return {f"Tags__{i}__{part}": f"{part}{i}" for i in range(n) for part in ("key", "value")}


def test_two_hundred_tags_are_accepted():
    assert len(valid_params(DATA_INTEGRATION, integration_data(**tags(200)))["Tags"]) == 200


def test_two_hundred_and_one_tags_are_an_error_on_the_tags_group():
    f = OperationForm(DATA_INTEGRATION, integration_data(**tags(201)))

    assert only_error(f) == ("Tags", "Must have 1–200 entries (has 201).")
    assert "Tags" in f.group_errors


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"Tags__0__key": "team", "Tags__0__value": "a", "Tags__1__key": "team", "Tags__1__value": "b"},
            "Tags__1__key",
        ),
        ({"Tags__0__key": "team", "Tags__0__value": "", "Tags__1__key": "team", "Tags__1__value": ""}, "Tags__1__key"),
        (
            {
                "FileConfiguration__Folders__0": "in",
                "FileConfiguration__Filters__0__key": "type",
                "FileConfiguration__Filters__0__value__0": "csv",
                "FileConfiguration__Filters__1__key": "type",
                "FileConfiguration__Filters__1__value__0": "json",
            },
            "FileConfiguration__Filters__1__key",
        ),
        (
            {
                "ObjectConfiguration__0__key": "Account",
                "ObjectConfiguration__0__value__0__key": "Name",
                "ObjectConfiguration__0__value__0__value__0": "a",
                "ObjectConfiguration__1__key": "Account",
                "ObjectConfiguration__1__value__0__key": "Id",
                "ObjectConfiguration__1__value__0__value__0": "b",
            },
            "ObjectConfiguration__1__key",
        ),
        (
            {
                "ObjectConfiguration__0__key": "Account",
                "ObjectConfiguration__0__value__0__key": "Name",
                "ObjectConfiguration__0__value__0__value__0": "a",
                "ObjectConfiguration__0__value__1__key": "Name",
                "ObjectConfiguration__0__value__1__value__0": "b",
            },
            "ObjectConfiguration__0__value__1__key",
        ),
    ],
    ids=["tags", "tags-empty-values", "filters", "objects", "object-fields"],
)
def test_a_duplicated_map_key_is_refused_on_the_repeating_key_field(data, field):
    name, message = only_error(OperationForm(DATA_INTEGRATION, integration_data(**data)))

    assert name == field
    assert "key" in message.lower()
    assert_reads_like_a_sentence(message)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"Tags__0__key": "", "Tags__0__value": "orphan"}, "Tags__0__key"),
        (
            {
                "FileConfiguration__Folders__0": "in",
                "FileConfiguration__Filters__0__key": "",
                "FileConfiguration__Filters__0__value__0": "csv",
            },
            "FileConfiguration__Filters__0__key",
        ),
        (
            {
                "ObjectConfiguration__0__key": "Account",
                "ObjectConfiguration__0__value__0__key": "Name",
                "ObjectConfiguration__0__value__0__value__0": "a",
                "ObjectConfiguration__0__value__1__key": "",
                "ObjectConfiguration__0__value__1__value__0": "b",
            },
            "ObjectConfiguration__0__value__1__key",
        ),
    ],
    ids=["tags", "filters", "object-fields"],
)
def test_a_map_row_with_a_value_but_no_key_is_required_on_its_key(data, field):
    assert only_error(OperationForm(DATA_INTEGRATION, integration_data(**data))) == (field, "This field is required.")


def test_a_map_row_with_a_key_but_no_values_is_refused_on_its_values_group_not_its_key():
    data = integration_data(
        FileConfiguration__Folders__0="in",
        FileConfiguration__Filters__0__key="type",
        FileConfiguration__Filters__0__value__0="",
    )

    name, message = only_error(OperationForm(DATA_INTEGRATION, data))

    assert name == "FileConfiguration__Filters__0__value"
    assert_reads_like_a_sentence(message)


NESTED_OBJECTS = {
    "ObjectConfiguration__0__key": "Account",
    "ObjectConfiguration__0__value__0__key": "Name",
    "ObjectConfiguration__0__value__0__value__0": "Acme",
    "ObjectConfiguration__1__key": "Contact",
    "ObjectConfiguration__1__value__0__key": "Email",
    "ObjectConfiguration__1__value__0__value__0": "all",
    "ObjectConfiguration__1__value__1__key": "Phone",
    "ObjectConfiguration__1__value__1__value__0": "mobile",
    "ObjectConfiguration__1__value__1__value__1": "office",
}


@pytest.mark.parametrize(
    ("data", "field", "pattern"),
    [
        (
            {"FileConfiguration__Folders__0": "a", "FileConfiguration__Folders__1": "b",
             "FileConfiguration__Folders__2": "   "},
            "FileConfiguration__Folders__2",
            NON_BLANK_PATTERN,
        ),
        (
            {"FileConfiguration__Folders__0": "", "FileConfiguration__Folders__1": "a",
             "FileConfiguration__Folders__2": "   "},
            "FileConfiguration__Folders__2",
            NON_BLANK_PATTERN,
        ),
        (
            {"FileConfiguration__Folders__0": "in", "FileConfiguration__Filters__0__key": "type",
             "FileConfiguration__Filters__0__value__0": "csv", "FileConfiguration__Filters__0__value__1": "c s v"},
            "FileConfiguration__Filters__0__value__1",
            NAME_PATTERN,
        ),
        (
            {**NESTED_OBJECTS, "ObjectConfiguration__0__value__0__value__0": "bad name!"},
            "ObjectConfiguration__0__value__0__value__0",
            NAME_PATTERN,
        ),
        (
            {**NESTED_OBJECTS, "ObjectConfiguration__1__value__1__value__1": "of/fice?"},
            "ObjectConfiguration__1__value__1__value__1",
            NAME_PATTERN,
        ),
        (
            {**NESTED_OBJECTS, "ObjectConfiguration__1__value__1__key": "  "},
            "ObjectConfiguration__1__value__1__key",
            NON_BLANK_PATTERN,
        ),
    ],
    ids=["blank-third-folder", "blank-folder-after-empty-row", "filter-value", "object-field-value",
         "second-object-second-field-value", "blank-object-field-name"],
)  # fmt: skip
def test_a_nested_error_lands_on_its_nested_field_in_words(data, field, pattern):
    name, message = only_error(OperationForm(DATA_INTEGRATION, integration_data(**data)))

    assert name == field
    assert message == f"Enter {DATA_INTEGRATION.pattern_words[pattern]}."
    assert_reads_like_a_sentence(message)


# --- Partner Central ------------------------------------------------------------------------------


def test_the_catalog_is_a_choice_of_aws_or_sandbox():
    field = OperationForm(SNAPSHOT_JOB).fields["Catalog"]

    assert [value for value, _ in field.choices if value] == ["AWS", "Sandbox"]


@pytest.mark.parametrize("catalog", ["AWS", "Sandbox"])
def test_each_catalog_is_accepted(catalog):
    assert valid_params(SNAPSHOT_JOB, snapshot_data(Catalog=catalog))["Catalog"] == catalog


@pytest.mark.parametrize("catalog", ["aws", "Marketplace", "AWSSandbox"])
def test_another_catalog_is_refused(catalog):
    assert only_error(OperationForm(SNAPSHOT_JOB, snapshot_data(Catalog=catalog))) == (
        "Catalog",
        f"Select a valid choice. {catalog} is not one of the available choices.",
    )


@pytest.mark.parametrize("key", ["Équipe", "営業", "Команда", "cost center", "a_b.c:d/e=f+g-h@i", "9"])
def test_tag_keys_with_letters_of_any_language_are_accepted(key):
    data = snapshot_data(Tags__0__Key="team", Tags__0__Value="x", Tags__1__Key=key, Tags__1__Value="y")

    assert valid_params(SNAPSHOT_JOB, data)["Tags"] == [{"Key": "team", "Value": "x"}, {"Key": key, "Value": "y"}]


@pytest.mark.parametrize("key", ["bad!", "semi;colon", "tab\there", "a" * 129])
def test_a_tag_key_with_other_characters_is_refused_on_its_key_field(key):
    data = snapshot_data(Tags__0__Key="team", Tags__0__Value="x", Tags__1__Key=key, Tags__1__Value="y")

    name, message = only_error(OperationForm(SNAPSHOT_JOB, data))

    assert name == "Tags__1__Key"
    assert message.startswith("Enter ")
    assert "128" in message
    assert_reads_like_a_sentence(message)


def test_a_tag_value_with_other_characters_is_refused_on_its_value_field():
    data = snapshot_data(Tags__0__Key="team", Tags__0__Value="bad!")

    name, message = only_error(OperationForm(SNAPSHOT_JOB, data))

    assert name == "Tags__0__Value"
    assert message.startswith("Enter ")


@pytest.mark.parametrize(
    ("name", "value"),
    [("EngagementIdentifier", "eng-ABC"), ("ResourceIdentifier", "123"), ("ResourceSnapshotTemplateIdentifier", "a!")],
)
def test_identifiers_out_of_pattern_are_refused_in_words(name, value):
    field, message = only_error(OperationForm(SNAPSHOT_JOB, snapshot_data(**{name: value})))

    assert field == name
    assert message.startswith("Enter ")
    assert_reads_like_a_sentence(message)


# --- AppFlow --------------------------------------------------------------------------------------


def test_a_lambda_connector_without_a_lambda_arn_is_refused_on_that_field():
    f = OperationForm(CONNECTOR, connector_data(connectorProvisioningType="LAMBDA"))

    errors = all_errors(f)

    # In the labels' words, on the field to fill and on the choice that requires it.
    sentence = "Lambda function ARN is required when Provisioning type is LAMBDA."
    assert errors == {
        "connectorProvisioningConfig__lambda__lambdaArn": [sentence],
        "connectorProvisioningType": [sentence],
    }
    assert_reads_like_a_sentence(sentence)


def test_a_rule_checked_as_one_field_is_left_stays_on_its_own_field():
    data = connector_data(connectorProvisioningType="LAMBDA")

    errors = all_errors(OperationForm(CONNECTOR, data, mirror_rules=False))

    assert list(errors) == ["connectorProvisioningConfig__lambda__lambdaArn"]


def test_a_lambda_connector_with_a_lambda_arn_is_accepted():
    data = connector_data(connectorProvisioningType="LAMBDA", connectorProvisioningConfig__lambda__lambdaArn=LAMBDA_ARN)

    assert valid_params(CONNECTOR, data) == {
        "connectorLabel": "orders_connector",
        "connectorProvisioningType": "LAMBDA",
        "connectorProvisioningConfig": {"lambda": {"lambdaArn": LAMBDA_ARN}},
    }


@pytest.mark.parametrize("label", ["-leading-dash", "a", "has space", "ünïcode", "semi;colon"])
def test_a_connector_label_out_of_pattern_is_refused_in_words(label):
    name, message = only_error(OperationForm(CONNECTOR, connector_data(connectorLabel=label)))

    pattern = CONNECTOR.model.input_shape.members["connectorLabel"].metadata["pattern"]
    assert name == "connectorLabel"
    assert message == f"Enter {CONNECTOR.pattern_words[pattern]}."
    assert_reads_like_a_sentence(message)


@pytest.mark.parametrize("label", ["ab", "orders_connector", "Conn-1.v2@x#y!z", "9" * 256])
def test_a_connector_label_in_pattern_is_accepted(label):
    assert valid_params(CONNECTOR, connector_data(connectorLabel=label))["connectorLabel"] == label


def test_a_lambda_arn_out_of_pattern_is_refused_in_words():
    data = connector_data(connectorProvisioningType="LAMBDA", connectorProvisioningConfig__lambda__lambdaArn="orders")

    name, message = only_error(OperationForm(CONNECTOR, data))

    assert name == "connectorProvisioningConfig__lambda__lambdaArn"
    assert message.startswith("Enter an ARN")


def test_the_supply_chain_data_is_sent_as_the_string_typed():
    # Whatever JSON layout was typed reaches AWS unchanged (no re-serialisation).
    data = json.dumps({"b": 1, "a": [1, 2]}, indent=4)

    assert valid_params(SUPPLY_CHAIN, event_data(data=data))["data"] == data
