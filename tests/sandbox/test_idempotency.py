"""Client tokens: a retry with the same token and parameters replays the first answer, as AWS promises."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    BUNDLE_ID,
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    OPERATIONS,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    call,
    calls,
    created_id,
    new_token,
    raw_request,
    resources,
    valid_params,
    without_metadata,
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_the_same_token_and_parameters_replay_the_first_response(sandbox, aws_client, operation):
    client = aws_client(operation.service, region=REGION)
    params = valid_params(operation, **{operation.token_member: new_token()})

    first = call(client, operation, **params)
    second = call(client, operation, **params)

    assert without_metadata(second) == without_metadata(first)
    assert second["ResponseMetadata"]["HTTPStatusCode"] == operation.status
    assert [r["id"] for r in resources(sandbox)] == [created_id(operation, first)]
    assert [c["outcome"] for c in calls(sandbox)] == ["created", "replayed"]


@pytest.mark.parametrize(
    ("operation", "change", "code", "status"),
    [
        pytest.param(
            CREATE_INGESTION, {"tenantId": "another-tenant"}, "IdempotentParameterMismatch", 400, id="appfabric"
        ),
        pytest.param(REGISTER_CONNECTOR, {"description": "changed"}, "ConflictException", 409, id="appflow"),
        pytest.param(SEND_EVENT, {"eventGroupId": "another-group"}, "ConflictException", 409, id="supplychain"),
        pytest.param(
            CREATE_SNAPSHOT_JOB, {"ResourceIdentifier": "O999"}, "ConflictException", 409, id="partnercentral"
        ),
        pytest.param(
            CREATE_DATA_INTEGRATION, {"Description": "changed"}, "ConflictException", 409, id="appintegrations"
        ),
    ],
)
def test_the_same_token_with_different_parameters_is_refused(sandbox, aws_client, operation, change, code, status):
    client = aws_client(operation.service, region=REGION)
    params = valid_params(operation, **{operation.token_member: new_token()})
    call(client, operation, **params)

    with pytest.raises(ClientError) as caught:
        call(client, operation, **{**params, **change})

    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "already used with different parameters" in error["Error"]["Message"]
    assert len(resources(sandbox)) == 1


def test_a_different_token_with_the_same_parameters_creates_another_resource(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)
    params = valid_params(CREATE_INGESTION)

    first = client.create_ingestion(**params, clientToken=new_token())
    second = client.create_ingestion(**params, clientToken=new_token())

    assert first["ingestion"]["arn"] != second["ingestion"]["arn"]
    assert len(resources(sandbox)) == 2


def test_a_token_belongs_to_one_operation(sandbox, aws_client):
    token = new_token()

    aws_client("appflow", region=REGION).register_connector(**valid_params(REGISTER_CONNECTOR, clientToken=token))
    aws_client("supplychain", region=REGION).send_data_integration_event(**valid_params(SEND_EVENT, clientToken=token))

    assert {r["operation"] for r in resources(sandbox)} == {REGISTER_CONNECTOR.key, SEND_EVENT.key}


def test_calls_without_a_token_each_create_a_resource(sandbox):
    # botocore always fills in a token, so this is what a hand-written client (or curl) sends.
    body = json.dumps({"app": "OKTA", "tenantId": "okta-tenant-1", "ingestionType": "auditLog"})
    path = f"/appbundles/{BUNDLE_ID}/ingestions"

    first = raw_request(sandbox.url, "POST", path, body, {"Content-Type": "application/json"})
    second = raw_request(sandbox.url, "POST", path, body, {"Content-Type": "application/json"})

    assert (first.status, second.status) == (201, 201)
    assert first.json()["ingestion"]["arn"] != second.json()["ingestion"]["arn"]
    recorded = resources(sandbox, CREATE_INGESTION)
    assert [r["client_token"] for r in recorded] == [None, None]
    assert [c["outcome"] for c in calls(sandbox)] == ["created", "created"]


def test_concurrent_calls_with_one_token_create_exactly_one_resource(sandbox, aws_client):
    params = valid_params(CREATE_INGESTION, clientToken=new_token())
    # boto3 clients are built one at a time (creating them is not thread-safe), then used at once.
    clients = [aws_client("appfabric", region=REGION) for _ in range(16)]
    start = threading.Barrier(len(clients))
    arns: list[str] = []
    errors: list[BaseException] = []

    def create(client) -> None:
        start.wait()
        try:
            arns.append(client.create_ingestion(**params)["ingestion"]["arn"])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(arns) == 16
    assert len(set(arns)) == 1
    assert [r["id"] for r in resources(sandbox)] == arns[:1]
    outcomes = [c["outcome"] for c in calls(sandbox)]
    assert sorted(outcomes) == ["created"] + ["replayed"] * 15
