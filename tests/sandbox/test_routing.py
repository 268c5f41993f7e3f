"""How a request finds its operation: signature scope, X-Amz-Target, method and path; and what else gets."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import DUMMY_CREDENTIALS
from tests.sandbox.support import (
    ACCOUNT,
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    REGION,
    REGISTER_CONNECTOR,
    call,
    calls,
    raw_request,
    resources,
    valid_params,
)

JSON = {"Content-Type": "application/json"}
SNAPSHOT_TARGET = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "AWSPartnerCentralSelling.CreateResourceSnapshotJob",
}


@pytest.mark.parametrize("operation", [REGISTER_CONNECTOR, CREATE_INGESTION, CREATE_SNAPSHOT_JOB], ids=str)
def test_it_serves_an_endpoint_url_with_a_path_prefix(sandbox, aws_client, operation):
    client = aws_client(operation.service, region=REGION, endpoint_url=sandbox.url + "/some/prefix")

    response = call(client, operation, **valid_params(operation))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == operation.status
    assert [r["operation"] for r in resources(sandbox)] == [operation.key]


def test_the_aws_endpoint_url_variable_points_boto3_at_the_sandbox(sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.url)
    monkeypatch.delenv("AWS_ENDPOINT_URL_APPFLOW", raising=False)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    client = session.client("appflow", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    response = client.register_connector(**valid_params(REGISTER_CONNECTOR, connectorLabel="from-env"))

    assert response["connectorArn"] == f"arn:aws:appflow:{REGION}:{ACCOUNT}:connector/from-env"
    assert [c["outcome"] for c in calls(sandbox)] == ["created"]


@pytest.mark.parametrize(
    ("service", "method", "params", "operation"),
    [
        pytest.param(
            "appfabric",
            "list_ingestions",
            {"appBundleIdentifier": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
            "appfabric/ListIngestions",
            id="rest-json",
        ),
        pytest.param(
            "partnercentral-selling",
            "list_solutions",
            {"Catalog": "AWS"},
            "partnercentral-selling/ListSolutions",
            id="json",
        ),
        pytest.param(
            "appintegrations", "list_data_integrations", {}, "appintegrations/ListDataIntegrations", id="rest-json-get"
        ),
    ],
)
def test_an_operation_the_sandbox_does_not_emulate_gets_unknown_operation(
    sandbox, aws_client, service, method, params, operation
):
    client = aws_client(service, region=REGION)

    with pytest.raises(ClientError) as caught:
        getattr(client, method)(**params)

    error = caught.value.response
    assert error["Error"]["Code"] == "UnknownOperationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert operation in error["Error"]["Message"]
    assert resources(sandbox) == []


@pytest.mark.parametrize(
    ("service", "method"),
    [pytest.param("sqs", "list_queues", id="sqs"), pytest.param("dynamodb", "list_tables", id="dynamodb")],
)
def test_a_service_the_sandbox_does_not_emulate_gets_an_aws_error(sandbox, aws_client, service, method):
    client = aws_client(service, region=REGION)

    with pytest.raises(ClientError) as caught:
        getattr(client, method)()

    error = caught.value.response
    assert error["Error"]["Code"] == "UnknownOperationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert f"does not emulate the '{service}' service" in error["Error"]["Message"]


def test_an_unsigned_rest_json_request_is_routed_by_method_and_path(sandbox):
    response = raw_request(sandbox.url, "POST", "/register-connector", '{"connectorLabel": "unsigned"}', JSON)

    assert response.status == 200
    # Without a signature there is no region to read: the sandbox answers as us-east-1.
    assert response.json() == {"connectorArn": f"arn:aws:appflow:us-east-1:{ACCOUNT}:connector/unsigned"}
    assert response.headers["x-amzn-requestid"]


def test_an_unsigned_json_request_is_routed_by_its_target(sandbox):
    params = valid_params(CREATE_SNAPSHOT_JOB)

    response = raw_request(sandbox.url, "POST", "/", json.dumps(params), SNAPSHOT_TARGET)

    assert response.status == 200
    assert response.headers["content-type"] == "application/x-amz-json-1.0"
    assert response.json()["Id"].startswith("job-")
    assert [r["client_token"] for r in resources(sandbox)] == [params["ClientToken"]]


def test_an_unknown_target_of_an_emulated_service_gets_unknown_operation(sandbox):
    headers = {**SNAPSHOT_TARGET, "X-Amz-Target": "AWSPartnerCentralSelling.DeleteEverything"}

    response = raw_request(sandbox.url, "POST", "/", "{}", headers)

    assert response.status == 404
    assert response.json()["__type"].endswith("#UnknownOperationException")
    assert "DeleteEverything" in response.json()["message"]


def test_an_unknown_path_gets_unknown_operation(sandbox):
    response = raw_request(sandbox.url, "POST", "/no/such/operation", "{}", JSON)

    assert response.status == 404
    assert response.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert response.json()["message"] == "No operation matches POST /no/such/operation."


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"Name": "orders", ', id="truncated"),
        pytest.param(b"Name=orders&KmsKey=k", id="form-encoded"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
        pytest.param(b'["Name", "orders"]', id="array-not-object"),
    ],
)
def test_a_malformed_rest_json_body_gets_a_serialization_error(sandbox, body):
    response = raw_request(sandbox.url, "POST", "/dataIntegrations", body, JSON)

    assert response.status == 400
    assert response.headers["x-amzn-errortype"] == "SerializationException"
    assert b"Traceback" not in response.body
    assert resources(sandbox) == []
    [logged] = calls(sandbox)
    assert (logged["operation"], logged["outcome"]) == (CREATE_DATA_INTEGRATION.key, "SerializationException")


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"42"])
def test_a_malformed_json_protocol_body_gets_a_serialization_error(sandbox, body):
    response = raw_request(sandbox.url, "POST", "/", body, SNAPSHOT_TARGET)

    assert response.status == 400
    assert response.json()["__type"] == "awspartnercentralselling#SerializationException"
    assert b"Traceback" not in response.body
    assert resources(sandbox) == []
