"""Each emulated operation, called through boto3's real wire protocol, answers like the service."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from awsmodel.constraints import validate
from awsmodel.shapes import operation_model
from tests.sandbox.support import (
    ACCOUNT,
    BUNDLE_ID,
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    OPERATIONS,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    UUID_PATTERN,
    call,
    created_id,
    new_token,
    resources,
    valid_params,
    without_metadata,
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_it_answers_a_valid_call_with_the_models_output_shape_and_status(sandbox, aws_client, operation):
    client = aws_client(operation.service, region=REGION)

    response = call(client, operation, **valid_params(operation))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == operation.status
    output = without_metadata(response)
    assert output
    assert validate(operation_model(operation.service, operation.name).output_shape, output) == []


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_it_records_the_created_resource_with_its_token_and_region(sandbox, aws_client, operation):
    client = aws_client(operation.service, region=REGION)
    token = new_token()

    response = call(client, operation, **valid_params(operation, **{operation.token_member: token}))

    [resource] = resources(sandbox, operation)
    assert resource["id"] == created_id(operation, response)
    assert (resource["operation"], resource["client_token"], resource["region"]) == (operation.key, token, REGION)
    if resource["id"].startswith("arn:"):
        assert resource["id"].split(":")[3:5] == [REGION, ACCOUNT]


def test_it_creates_an_appfabric_ingestion_in_the_callers_region_and_account(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)

    ingestion = call(client, CREATE_INGESTION, **valid_params(CREATE_INGESTION))["ingestion"]

    bundle_arn = f"arn:aws:appfabric:{REGION}:{ACCOUNT}:appbundle/{BUNDLE_ID}"
    assert ingestion["appBundleArn"] == bundle_arn
    assert re.fullmatch(re.escape(bundle_arn) + "/ingestion/" + UUID_PATTERN, ingestion["arn"])
    assert (ingestion["app"], ingestion["tenantId"], ingestion["ingestionType"]) == (
        "OKTA",
        "okta-tenant-1",
        "auditLog",
    )
    assert ingestion["state"] == "enabled"
    assert ingestion["createdAt"] == ingestion["updatedAt"]


def test_it_accepts_an_app_bundle_arn_in_the_uri_and_keeps_it(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)
    bundle_arn = f"arn:aws:appfabric:{REGION}:{ACCOUNT}:appbundle/{BUNDLE_ID}"

    ingestion = call(client, CREATE_INGESTION, **valid_params(CREATE_INGESTION, appBundleIdentifier=bundle_arn))[
        "ingestion"
    ]

    assert ingestion["appBundleArn"] == bundle_arn
    assert ingestion["arn"].startswith(bundle_arn + "/ingestion/")


def test_it_gives_a_supply_chain_event_a_uuid_and_keeps_its_data_out_of_the_records(sandbox, aws_client):
    client = aws_client("supplychain", region=REGION)
    params = valid_params(SEND_EVENT)

    response = call(client, SEND_EVENT, **params)

    assert str(uuid.UUID(response["eventId"])) == response["eventId"]
    [resource] = resources(sandbox, SEND_EVENT)
    assert resource["id"] == response["eventId"]
    # `data` is sensitive in the model: the sandbox keeps its size and digest, never its content.
    digest = hashlib.sha256(params["data"].encode()).hexdigest()[:16]
    assert resource["parameters"]["data"] == f"<sensitive: {len(params['data'])} characters, sha256 {digest}…>"
    assert resource["parameters"]["eventGroupId"] == params["eventGroupId"]


def test_it_echoes_the_data_integration_it_created(sandbox, aws_client):
    client = aws_client("appintegrations", region=REGION)
    params = valid_params(CREATE_DATA_INTEGRATION, ClientToken="echo-me-back")

    response = without_metadata(call(client, CREATE_DATA_INTEGRATION, **params))

    assert re.fullmatch(UUID_PATTERN, response["Id"])
    assert response["Arn"] == f"arn:aws:app-integrations:{REGION}:{ACCOUNT}:data-integration/{response['Id']}"
    for member in ("Name", "Description", "KmsKey", "SourceURI", "Tags", "ClientToken", "FileConfiguration"):
        assert response[member] == params[member], member
    assert response["ObjectConfiguration"] == params["ObjectConfiguration"]
    # The request's ScheduleConfig comes back under the output shape's name.
    assert response["ScheduleConfiguration"] == params["ScheduleConfig"]


def test_it_gives_a_snapshot_job_an_id_in_the_models_pattern(sandbox, aws_client):
    client = aws_client("partnercentral-selling", region=REGION)

    response = call(client, CREATE_SNAPSHOT_JOB, **valid_params(CREATE_SNAPSHOT_JOB, Catalog="AWS"))

    assert re.fullmatch(r"job-[0-9a-z]{13}", response["Id"])
    assert response["Arn"] == (
        f"arn:aws:partnercentral:{REGION}:{ACCOUNT}:catalog/AWS/resource-snapshot-job/{response['Id']}"
    )


def test_it_names_a_registered_connector_by_its_label(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)

    response = call(client, REGISTER_CONNECTOR, **valid_params(REGISTER_CONNECTOR, connectorLabel="erp_orders-v2"))

    assert response["connectorArn"] == f"arn:aws:appflow:{REGION}:{ACCOUNT}:connector/erp_orders-v2"


def test_it_registers_a_connector_without_a_label_under_a_generated_one(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)

    first = call(client, REGISTER_CONNECTOR)["connectorArn"]
    second = call(client, REGISTER_CONNECTOR)["connectorArn"]

    prefix = f"arn:aws:appflow:{REGION}:{ACCOUNT}:connector/connector-"
    assert first.startswith(prefix)
    assert second.startswith(prefix)
    assert first != second


def test_it_takes_the_region_from_the_request_signature(sandbox, aws_client):
    client = aws_client("appflow", region="ap-southeast-2")

    response = call(client, REGISTER_CONNECTOR, **valid_params(REGISTER_CONNECTOR, connectorLabel="sydney"))

    assert response["connectorArn"] == f"arn:aws:appflow:ap-southeast-2:{ACCOUNT}:connector/sydney"
