"""Faults planned through the control API: errors, latency, dropped connections and slow responses."""

from __future__ import annotations

import contextlib
import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from tests.sandbox.support import (
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    call,
    calls,
    control,
    new_token,
    plan_fault,
    resources,
    valid_params,
)

CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)


def _error(operation, client, **params) -> dict:
    with pytest.raises(ClientError) as caught:
        call(client, operation, **params)
    return caught.value.response


def test_a_throttle_sequence_throttles_twice_then_lets_the_call_through(sandbox, aws_client):
    plan_fault(sandbox, {"operation": CREATE_INGESTION.key, "sequence": ["throttle", "throttle", "ok"]})
    client = aws_client("appfabric", region=REGION)  # total_max_attempts=1: each attempt is one call here
    params = valid_params(CREATE_INGESTION, clientToken=new_token())

    errors = [_error(CREATE_INGESTION, client, **params) for _ in range(2)]
    response = client.create_ingestion(**params)

    assert [(e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]) for e in errors] == [
        ("ThrottlingException", 429)
    ] * 2
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert [c["outcome"] for c in calls(sandbox)] == ["ThrottlingException", "ThrottlingException", "created"]
    assert len(resources(sandbox)) == 1
    assert control(sandbox, "GET", "faults") == (200, {"faults": []})  # a used-up sequence is gone


def test_boto3s_own_retries_ride_out_a_throttle_sequence(sandbox, aws_client):
    plan_fault(sandbox, {"operation": REGISTER_CONNECTOR.key, "sequence": ["throttle", "throttle"]})
    client = aws_client("appflow", region=REGION, retries={"total_max_attempts": 3, "mode": "standard"})

    response = client.register_connector(**valid_params(REGISTER_CONNECTOR))

    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert [c["outcome"] for c in calls(sandbox)] == ["ThrottlingException", "ThrottlingException", "created"]
    assert len({c["client_token"] for c in calls(sandbox)}) == 1  # botocore reuses its token across retries


@pytest.mark.parametrize(
    ("kind", "operation", "code", "status"),
    [
        pytest.param("internal", CREATE_INGESTION, "InternalServerException", 500, id="internal"),
        pytest.param("internal", CREATE_DATA_INTEGRATION, "InternalServiceError", 500, id="internal-appintegrations"),
        pytest.param("quota", CREATE_INGESTION, "ServiceQuotaExceededException", 402, id="quota"),
        pytest.param(
            "quota", CREATE_DATA_INTEGRATION, "ResourceQuotaExceededException", 429, id="quota-appintegrations"
        ),
        pytest.param("throttle", CREATE_DATA_INTEGRATION, "ThrottlingException", 429, id="throttle-appintegrations"),
        pytest.param("throttle", SEND_EVENT, "ThrottlingException", 429, id="throttle-supplychain"),
    ],
)
def test_an_error_fault_answers_with_the_services_own_error(sandbox, aws_client, kind, operation, code, status):
    plan_fault(sandbox, {"operation": operation.key, "sequence": [kind]})
    client = aws_client(operation.service, region=REGION)

    error = _error(operation, client, **valid_params(operation))

    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert resources(sandbox) == []
    [logged] = calls(sandbox)
    assert (logged["fault"], logged["outcome"], logged["status"]) == (kind, code, status)


def test_a_latency_fault_delays_the_answer_and_then_serves_it(sandbox, aws_client):
    plan_fault(sandbox, {"operation": CREATE_INGESTION.key, "sequence": [{"kind": "latency", "latency_ms": 200}]})
    client = aws_client("appfabric", region=REGION)

    started = time.monotonic()
    response = client.create_ingestion(**valid_params(CREATE_INGESTION))
    elapsed = time.monotonic() - started

    assert elapsed >= 0.2
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert [(c["fault"], c["outcome"]) for c in calls(sandbox)] == [("latency", "created")]


def test_a_dropped_connection_loses_the_request(sandbox, aws_client):
    plan_fault(sandbox, {"operation": REGISTER_CONNECTOR.key, "sequence": ["drop"]})
    client = aws_client("appflow", region=REGION)
    token = new_token()

    with pytest.raises(CONNECTION_ERRORS):
        client.register_connector(**valid_params(REGISTER_CONNECTOR, clientToken=token))

    assert resources(sandbox) == []
    [logged] = calls(sandbox)
    assert (logged["operation"], logged["client_token"], logged["outcome"]) == (
        REGISTER_CONNECTOR.key,
        token,
        "dropped",
    )


def test_a_connection_dropped_after_the_work_leaves_the_resource_behind(sandbox, aws_client):
    plan_fault(sandbox, {"operation": REGISTER_CONNECTOR.key, "sequence": [{"kind": "drop", "after": True}]})
    client = aws_client("appflow", region=REGION)
    params = valid_params(REGISTER_CONNECTOR, clientToken=new_token())

    with pytest.raises(CONNECTION_ERRORS):
        client.register_connector(**params)
    [resource] = resources(sandbox)
    retried = client.register_connector(**params)

    assert retried["connectorArn"] == resource["id"]
    assert len(resources(sandbox)) == 1
    assert [(c["fault"], c["outcome"]) for c in calls(sandbox)] == [("drop", "created"), (None, "replayed")]


def test_a_slow_response_times_out_the_client_but_the_resource_exists_and_a_retry_replays_it(sandbox, aws_client):
    plan_fault(sandbox, {"operation": CREATE_INGESTION.key, "sequence": [{"kind": "slow", "delay_s": 1.5}]})
    client = aws_client("appfabric", region=REGION, read_timeout=0.5)
    params = valid_params(CREATE_INGESTION, clientToken=new_token())

    with pytest.raises(ReadTimeoutError):
        client.create_ingestion(**params)
    [resource] = resources(sandbox)
    retried = client.create_ingestion(**params)

    assert retried["ingestion"]["arn"] == resource["id"]
    assert len(resources(sandbox)) == 1
    assert [(c["fault"], c["outcome"]) for c in calls(sandbox)] == [("slow", "created"), (None, "replayed")]


def test_a_fault_with_probability_one_always_strikes(sandbox, aws_client):
    plan_fault(sandbox, {"operation": REGISTER_CONNECTOR.key, "fault": "throttle", "probability": 1.0})
    client = aws_client("appflow", region=REGION)

    codes = [_error(REGISTER_CONNECTOR, client, **valid_params(REGISTER_CONNECTOR))["Error"]["Code"] for _ in range(5)]

    assert codes == ["ThrottlingException"] * 5
    assert resources(sandbox) == []
    assert len(control(sandbox, "GET", "faults")[1]["faults"]) == 1  # a probabilistic fault stays planned


def test_a_fault_with_probability_zero_never_strikes(sandbox, aws_client):
    plan_fault(sandbox, {"operation": REGISTER_CONNECTOR.key, "fault": "internal", "probability": 0.0})
    client = aws_client("appflow", region=REGION)

    for _ in range(5):
        client.register_connector(**valid_params(REGISTER_CONNECTOR))

    assert len(resources(sandbox)) == 5
    assert {c["fault"] for c in calls(sandbox)} == {None}


def _outcomes_of_a_seeded_plan(sandbox, client, seed: int) -> list[str]:
    control(sandbox, "POST", "reset")
    plan_fault(sandbox, {"operation": "*", "fault": "throttle", "probability": 0.5, "seed": seed})
    for _ in range(16):
        with contextlib.suppress(ClientError):
            client.register_connector(**valid_params(REGISTER_CONNECTOR))
    return [c["outcome"] for c in calls(sandbox)]


def test_a_seed_makes_a_random_fault_plan_reproducible(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)

    first = _outcomes_of_a_seeded_plan(sandbox, client, seed=1)
    again = _outcomes_of_a_seeded_plan(sandbox, client, seed=1)
    other = _outcomes_of_a_seeded_plan(sandbox, client, seed=2)

    assert first == again
    assert set(first) == {"created", "ThrottlingException"}
    assert other != first


def test_a_fault_for_one_operation_leaves_the_others_alone(sandbox, aws_client):
    plan_fault(sandbox, {"operation": REGISTER_CONNECTOR.key, "fault": "throttle"})

    aws_client("appfabric", region=REGION).create_ingestion(**valid_params(CREATE_INGESTION))
    error = _error(REGISTER_CONNECTOR, aws_client("appflow", region=REGION), **valid_params(REGISTER_CONNECTOR))

    assert error["Error"]["Code"] == "ThrottlingException"
    assert [(c["operation"], c["outcome"]) for c in calls(sandbox)] == [
        (CREATE_INGESTION.key, "created"),
        (REGISTER_CONNECTOR.key, "ThrottlingException"),
    ]


def test_a_wildcard_fault_strikes_every_operation(sandbox, aws_client):
    plan_fault(sandbox, {"operation": "*", "fault": "internal"})

    for operation in (CREATE_INGESTION, SEND_EVENT, REGISTER_CONNECTOR):
        error = _error(operation, aws_client(operation.service, region=REGION), **valid_params(operation))
        assert error["Error"]["Code"] == "InternalServerException"

    assert resources(sandbox) == []


def test_the_first_matching_plan_decides(sandbox, aws_client):
    plan_fault(sandbox, {"operation": CREATE_INGESTION.key, "sequence": ["quota"]})
    plan_fault(sandbox, {"operation": "*", "sequence": ["internal", "internal"]})
    fabric, flow = aws_client("appfabric", region=REGION), aws_client("appflow", region=REGION)

    first = _error(CREATE_INGESTION, fabric, **valid_params(CREATE_INGESTION))
    second = _error(CREATE_INGESTION, fabric, **valid_params(CREATE_INGESTION))
    third = _error(REGISTER_CONNECTOR, flow, **valid_params(REGISTER_CONNECTOR))
    fourth = flow.register_connector(**valid_params(REGISTER_CONNECTOR))

    assert [e["Error"]["Code"] for e in (first, second, third)] == [
        "ServiceQuotaExceededException",
        "InternalServerException",
        "InternalServerException",
    ]
    assert fourth["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_call_log_records_operation_token_outcome_and_time(sandbox, aws_client):
    plan_fault(sandbox, {"operation": SEND_EVENT.key, "sequence": ["throttle"]})
    client = aws_client("supplychain", region=REGION)
    token = new_token()
    before = dt.datetime.now(dt.UTC)

    _error(SEND_EVENT, client, **valid_params(SEND_EVENT, clientToken=token))
    client.send_data_integration_event(**valid_params(SEND_EVENT, clientToken=token))

    logged = calls(sandbox, SEND_EVENT)
    assert [(c["operation"], c["client_token"], c["outcome"], c["fault"]) for c in logged] == [
        (SEND_EVENT.key, token, "ThrottlingException", "throttle"),
        (SEND_EVENT.key, token, "created", None),
    ]
    times = [dt.datetime.fromisoformat(c["time"]) for c in logged]
    assert before <= times[0] <= times[1] <= dt.datetime.now(dt.UTC)
    assert all(c["request_id"] for c in logged)
    assert calls(sandbox, REGISTER_CONNECTOR) == []


# --- faults on reads: planned by the read's key, answered in its service's words -------------------


@pytest.mark.parametrize(
    ("kind", "service", "method", "key", "code", "status"),
    [
        pytest.param(
            "throttle", "appfabric", "list_app_bundles", "appfabric/ListAppBundles", "ThrottlingException", 429
        ),
        pytest.param("throttle", "lambda", "list_functions", "lambda/ListFunctions", "TooManyRequestsException", 429),
        pytest.param("internal", "lambda", "list_functions", "lambda/ListFunctions", "ServiceException", 500),
        pytest.param("internal", "kms", "list_aliases", "kms/ListAliases", "KMSInternalException", 500),
        pytest.param("throttle", "kms", "list_aliases", "kms/ListAliases", "ThrottlingException", 429),
    ],
)
def test_an_error_fault_on_a_read_answers_with_the_services_own_error(
    sandbox, aws_client, kind, service, method, key, code, status
):
    plan_fault(sandbox, {"operation": key, "sequence": [kind, "ok"]})
    client = aws_client(service, region=REGION)

    with pytest.raises(ClientError) as caught:
        getattr(client, method)()
    getattr(client, method)()

    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert [(c["operation"], c["fault"], c["outcome"]) for c in calls(sandbox)] == [
        (key, kind, code),
        (key, None, "read"),
    ]


def test_a_fault_for_a_create_leaves_the_reads_of_its_service_alone(sandbox, aws_client):
    plan_fault(sandbox, {"operation": CREATE_INGESTION.key, "fault": "throttle"})

    bundles = aws_client("appfabric", region=REGION).list_app_bundles()["appBundleSummaryList"]

    assert len(bundles) == 3
    assert [c["outcome"] for c in calls(sandbox)] == ["read"]


def test_a_dropped_read_gets_no_answer(sandbox, aws_client):
    plan_fault(sandbox, {"operation": "supplychain/ListInstances", "sequence": ["drop"]})

    with pytest.raises(CONNECTION_ERRORS):
        aws_client("supplychain", region=REGION).list_instances()

    assert [(c["operation"], c["outcome"]) for c in calls(sandbox)] == [("supplychain/ListInstances", "dropped")]
