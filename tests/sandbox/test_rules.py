"""Rules the AWS documentation states and the botocore model cannot: unique names, cross-field rules."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    CREATE_DATA_INTEGRATION,
    DATASET_ARN,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    calls,
    resources,
    valid_params,
)


def test_it_refuses_a_second_data_integration_with_an_existing_name(sandbox, aws_client):
    client = aws_client("appintegrations", region=REGION)
    client.create_data_integration(**valid_params(CREATE_DATA_INTEGRATION, Name="erp-orders"))

    with pytest.raises(ClientError) as caught:
        client.create_data_integration(**valid_params(CREATE_DATA_INTEGRATION, Name="erp-orders"))

    error = caught.value.response
    assert error["Error"]["Code"] == "DuplicateResourceException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "Name 'erp-orders' already exists" in error["Error"]["Message"]
    assert len(resources(sandbox, CREATE_DATA_INTEGRATION)) == 1


def test_it_refuses_a_second_connector_with_an_existing_label(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)
    client.register_connector(**valid_params(REGISTER_CONNECTOR, connectorLabel="erp"))

    with pytest.raises(ClientError) as caught:
        client.register_connector(**valid_params(REGISTER_CONNECTOR, connectorLabel="erp", description="other"))

    error = caught.value.response
    assert error["Error"]["Code"] == "ConflictException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "connectorLabel 'erp' already exists" in error["Error"]["Message"]
    assert len(resources(sandbox, REGISTER_CONNECTOR)) == 1
    assert [c["outcome"] for c in calls(sandbox)] == ["created", "ConflictException"]


def test_names_are_unique_per_operation_not_across_services(sandbox, aws_client):
    aws_client("appintegrations", region=REGION).create_data_integration(
        **valid_params(CREATE_DATA_INTEGRATION, Name="erp")
    )

    aws_client("appflow", region=REGION).register_connector(**valid_params(REGISTER_CONNECTOR, connectorLabel="erp"))

    assert len(resources(sandbox)) == 2


def test_it_requires_a_dataset_target_for_a_dataset_event(sandbox, aws_client):
    client = aws_client("supplychain", region=REGION)

    with pytest.raises(ClientError) as caught:
        client.send_data_integration_event(**valid_params(SEND_EVENT, eventType="scn.data.dataset"))

    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "datasetTarget is required when eventType is scn.data.dataset" in error["Error"]["Message"]
    assert resources(sandbox) == []


def test_it_accepts_a_dataset_event_with_its_target(sandbox, aws_client):
    client = aws_client("supplychain", region=REGION)
    target = {"datasetIdentifier": DATASET_ARN, "operationType": "UPSERT"}

    response = client.send_data_integration_event(
        **valid_params(SEND_EVENT, eventType="scn.data.dataset", datasetTarget=target)
    )

    [resource] = resources(sandbox, SEND_EVENT)
    assert resource["id"] == response["eventId"]
    assert resource["parameters"]["datasetTarget"] == target


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("42", id="number"),
        pytest.param("not json", id="not-json"),
        pytest.param('"a JSON string"', id="string"),
        pytest.param("null", id="null"),
        pytest.param('{"order_id": "PO-1"', id="truncated-object"),
    ],
)
def test_it_refuses_event_data_that_is_not_a_json_object_or_array(sandbox, aws_client, data):
    client = aws_client("supplychain", region=REGION)

    with pytest.raises(ClientError) as caught:
        client.send_data_integration_event(**valid_params(SEND_EVENT, data=data))

    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "data must be a JSON object or a JSON array" in error["Error"]["Message"]
    assert resources(sandbox) == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param('{"qty": NaN}', id="nan"),
        pytest.param('[{"qty": -Infinity}]', id="infinity"),
        pytest.param("[" * 5000 + "]" * 5000, id="nested-past-pythons-parser"),
    ],
)
def test_it_refuses_event_data_that_is_not_rfc_8259_json_as_the_portal_does(sandbox, aws_client, data):
    client = aws_client("supplychain", region=REGION)

    with pytest.raises(ClientError) as caught:
        client.send_data_integration_event(**valid_params(SEND_EVENT, data=data))

    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert "data must be JSON as RFC 8259 defines it" in error["Error"]["Message"]
    assert resources(sandbox) == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps([{"order_id": "PO-1"}, {"order_id": "PO-2"}]), id="array"),
        pytest.param(json.dumps({"order_id": "PO-1"}), id="object"),
    ],
)
def test_it_accepts_event_data_that_is_a_json_object_or_array(sandbox, aws_client, data):
    client = aws_client("supplychain", region=REGION)

    response = client.send_data_integration_event(**valid_params(SEND_EVENT, data=data))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(resources(sandbox, SEND_EVENT)) == 1
