"""The sandbox refuses what the real service refuses: every constraint of the botocore model.

boto3's own parameter validation is off in these clients, so each bad value reaches the wire.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    BUNDLE_ID,
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    calls,
    new_token,
    raw_request,
    resources,
    valid_params,
)


def _without(operation, member):
    params = valid_params(operation)
    del params[member]
    return params


INVALID_CALLS = [
    # (constraint, operation, params, the member named, words of the message)
    ("required", CREATE_INGESTION, lambda: _without(CREATE_INGESTION, "tenantId"), "tenantId", "is required"),
    (
        "required-json-protocol",
        CREATE_SNAPSHOT_JOB,
        lambda: _without(CREATE_SNAPSHOT_JOB, "EngagementIdentifier"),
        "EngagementIdentifier",
        "is required",
    ),
    (
        "min-length",
        SEND_EVENT,
        lambda: valid_params(SEND_EVENT, clientToken="too-short-for-supply-chain"),
        "clientToken",
        "must have 33–126 characters",
    ),
    (
        "max-length",
        CREATE_INGESTION,
        lambda: valid_params(CREATE_INGESTION, app="x" * 256),
        "app",
        "must have 1–255 characters",
    ),
    (
        "pattern",
        CREATE_DATA_INTEGRATION,
        lambda: valid_params(CREATE_DATA_INTEGRATION, Name="orders from the ERP"),
        "Name",
        "must match the pattern",
    ),
    (
        "pattern-full-match",
        CREATE_SNAPSHOT_JOB,
        lambda: valid_params(CREATE_SNAPSHOT_JOB, ResourceIdentifier="O123-draft"),
        "ResourceIdentifier",
        "must match the pattern O[0-9]{1,19}",
    ),
    (
        "enum",
        CREATE_INGESTION,
        lambda: valid_params(CREATE_INGESTION, ingestionType="changeLog"),
        "ingestionType",
        "must be one of auditLog",
    ),
    (
        "list-size-min",
        CREATE_DATA_INTEGRATION,
        lambda: valid_params(CREATE_DATA_INTEGRATION, FileConfiguration={"Folders": []}),
        "FileConfiguration.Folders",
        "must have 1–10 items",
    ),
    (
        "list-size-max",
        CREATE_INGESTION,
        lambda: valid_params(CREATE_INGESTION, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]),
        "tags",
        "must have 0–50 items",
    ),
    (
        "map-size",
        CREATE_DATA_INTEGRATION,
        lambda: valid_params(CREATE_DATA_INTEGRATION, Tags={}),
        "Tags",
        "must have 1–200 entries",
    ),
    (
        "map-key-length",
        CREATE_DATA_INTEGRATION,
        lambda: valid_params(CREATE_DATA_INTEGRATION, Tags={"k" * 129: "v"}),
        "Tags." + "k" * 129,
        "key must have 1–128 characters",
    ),
    (
        "nested-required",
        REGISTER_CONNECTOR,
        lambda: valid_params(REGISTER_CONNECTOR, connectorProvisioningConfig={"lambda": {}}),
        "connectorProvisioningConfig.lambda.lambdaArn",
        "is required",
    ),
    (
        "list-item-required",
        CREATE_SNAPSHOT_JOB,
        lambda: valid_params(CREATE_SNAPSHOT_JOB, Tags=[{"Key": "team", "Value": "a"}, {"Key": "owner"}]),
        "Tags[1].Value",
        "is required",
    ),
    (
        "type-string",
        CREATE_DATA_INTEGRATION,
        lambda: valid_params(CREATE_DATA_INTEGRATION, Name=42),
        "Name",
        "must be a string, got int",
    ),
    (
        "type-integer-for-string",
        CREATE_SNAPSHOT_JOB,
        lambda: valid_params(CREATE_SNAPSHOT_JOB, ResourceIdentifier=1234567),
        "ResourceIdentifier",
        "must be a string, got int",
    ),
    (
        "unicode-tag-pattern",
        CREATE_SNAPSHOT_JOB,
        lambda: valid_params(CREATE_SNAPSHOT_JOB, Tags=[{"Key": "bad!", "Value": "v"}]),
        "Tags[0].Key",
        "must match the pattern",
    ),
]


@pytest.mark.parametrize(
    ("operation", "params", "member", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in INVALID_CALLS],
)
def test_it_refuses_a_call_breaking_a_model_constraint(sandbox, aws_client, operation, params, member, words):
    client = aws_client(operation.service, region=REGION)

    with pytest.raises(ClientError) as caught:
        getattr(client, operation.method)(**params())

    error = caught.value.response
    expected_code = "InvalidRequestException" if operation is CREATE_DATA_INTEGRATION else "ValidationException"
    assert error["Error"]["Code"] == expected_code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"{member} {words}" in error["Error"]["Message"]
    assert error["Error"]["Message"].startswith("1 validation error detected: ")
    assert resources(sandbox) == []
    [logged] = calls(sandbox)
    assert (logged["operation"], logged["outcome"], logged["status"]) == (operation.key, expected_code, 400)


# botocore cannot serialize a list where the model has a structure (or the reverse), even with its
# validation off; a hand-written client can send one, so these go over plain HTTP.
@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        pytest.param(
            "/register-connector",
            {"connectorProvisioningConfig": ["lambda"]},
            "ValidationException",
            "connectorProvisioningConfig must be a structure, got list",
            id="list-for-structure",
        ),
        pytest.param(
            f"/appbundles/{BUNDLE_ID}/ingestions",
            {"app": "OKTA", "tenantId": "t", "ingestionType": "auditLog", "tags": "team=integrations"},
            "ValidationException",
            "tags must be a list, got str",
            id="string-for-list",
        ),
        pytest.param(
            "/dataIntegrations",
            {"Name": "orders", "KmsKey": "alias/k", "Tags": [["team", "integrations"]]},
            "InvalidRequestException",
            "Tags must be a map, got list",
            id="list-for-map",
        ),
        pytest.param(
            "/dataIntegrations",
            {"Name": "orders", "KmsKey": "alias/k", "FileConfiguration": {"Folders": ["ok", 7]}},
            "InvalidRequestException",
            "FileConfiguration.Folders[1] must be a string, got int",
            id="number-in-a-list-of-strings",
        ),
    ],
)
def test_it_refuses_a_member_of_the_wrong_json_type(sandbox, path, body, code, message):
    response = raw_request(sandbox.url, "POST", path, json.dumps(body), {"Content-Type": "application/json"})

    assert response.status == 400
    assert response.headers["x-amzn-errortype"] == code
    document = response.json()
    assert message in document.get("Message", document.get("message"))
    assert resources(sandbox) == []


def test_it_lists_the_broken_fields_in_the_error_members_the_model_declares(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)

    with pytest.raises(ClientError) as caught:
        client.create_ingestion(**valid_params(CREATE_INGESTION, app="", ingestionType="changeLog"))

    error = caught.value.response
    assert error["Error"]["Message"].startswith("2 validation errors detected: ")
    assert error["reason"] == "fieldValidationFailed"
    assert {field["name"] for field in error["fieldList"]} == {"app", "ingestionType"}


def test_partner_central_lists_the_broken_fields_with_their_codes(sandbox, aws_client):
    client = aws_client("partnercentral-selling", region=REGION)

    with pytest.raises(ClientError) as caught:
        client.create_resource_snapshot_job(**valid_params(CREATE_SNAPSHOT_JOB, ResourceType="Lead", Catalog="AWS-1"))

    error = caught.value.response
    assert error["Reason"] == "REQUEST_VALIDATION_FAILED"
    assert {(e["FieldName"], e["Code"]) for e in error["ErrorList"]} == {
        ("ResourceType", "INVALID_ENUM_VALUE"),
        ("Catalog", "INVALID_STRING_FORMAT"),
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [("héllo wörld", "värde"), ("東京", "ünïcode 123"), ("team:owner/@+=", "")],
)
def test_it_accepts_unicode_letters_spaces_and_numbers_in_partner_central_tags(sandbox, aws_client, key, value):
    client = aws_client("partnercentral-selling", region=REGION)

    response = client.create_resource_snapshot_job(
        **valid_params(CREATE_SNAPSHOT_JOB, Tags=[{"Key": key, "Value": value}])
    )

    assert response["Id"].startswith("job-")
    [resource] = resources(sandbox, CREATE_SNAPSHOT_JOB)
    assert resource["parameters"]["Tags"] == [{"Key": key, "Value": value}]


@pytest.mark.parametrize("value", ["bad!", "tab\there", "emoji 🙂"])
def test_it_refuses_tag_values_outside_the_unicode_classes(sandbox, aws_client, value):
    client = aws_client("partnercentral-selling", region=REGION)

    with pytest.raises(ClientError) as caught:
        client.create_resource_snapshot_job(**valid_params(CREATE_SNAPSHOT_JOB, Tags=[{"Key": "k", "Value": value}]))

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Tags[0].Value must match the pattern" in caught.value.response["Error"]["Message"]


def test_a_refused_call_does_not_use_up_its_client_token(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)
    token = new_token()
    with pytest.raises(ClientError):
        client.register_connector(**valid_params(REGISTER_CONNECTOR, connectorLabel="-bad-label", clientToken=token))

    response = client.register_connector(**valid_params(REGISTER_CONNECTOR, connectorLabel="good", clientToken=token))

    assert response["connectorArn"].endswith(":connector/good")
    assert len(resources(sandbox)) == 1
