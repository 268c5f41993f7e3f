"""The control API under /_sandbox/: health, the call log, resources, fault plans and reset."""

from __future__ import annotations

import pytest

from tests.sandbox.support import (
    CREATE_INGESTION,
    OPERATIONS,
    REGION,
    REGISTER_CONNECTOR,
    calls,
    control,
    plan_fault,
    raw_request,
    resources,
    valid_params,
)


def test_health_lists_the_emulated_operations(sandbox):
    status, document = control(sandbox, "GET", "health")

    assert status == 200
    assert document == {"status": "ok", "operations": sorted(op.key for op in OPERATIONS)}


def test_resources_and_calls_can_be_filtered_by_operation(sandbox, aws_client):
    aws_client("appfabric", region=REGION).create_ingestion(**valid_params(CREATE_INGESTION))
    aws_client("appflow", region=REGION).register_connector(**valid_params(REGISTER_CONNECTOR))

    assert [r["operation"] for r in resources(sandbox)] == [CREATE_INGESTION.key, REGISTER_CONNECTOR.key]
    assert [r["operation"] for r in resources(sandbox, REGISTER_CONNECTOR)] == [REGISTER_CONNECTOR.key]
    assert [c["operation"] for c in calls(sandbox, CREATE_INGESTION)] == [CREATE_INGESTION.key]


def test_reset_forgets_resources_calls_faults_and_tokens(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)
    params = valid_params(REGISTER_CONNECTOR, clientToken="token-before-reset")
    client.register_connector(**params)
    plan_fault(sandbox, {"operation": "*", "fault": "throttle", "probability": 0.0})

    assert control(sandbox, "POST", "reset") == (200, {"reset": True})

    assert resources(sandbox) == []
    assert calls(sandbox) == []
    assert control(sandbox, "GET", "faults") == (200, {"faults": []})
    # The token and the label are forgotten too: the same call creates a resource again.
    client.register_connector(**params)
    assert [c["outcome"] for c in calls(sandbox)] == ["created"]


def test_planned_faults_are_listed_and_can_be_cleared(sandbox):
    planned = plan_fault(sandbox, {"operation": CREATE_INGESTION.key, "sequence": ["throttle", {"kind": "drop"}]})
    plan_fault(sandbox, {"operation": "*", "fault": {"kind": "slow", "delay_s": 2}, "probability": 0.25})

    status, document = control(sandbox, "GET", "faults")

    assert status == 200
    assert [f["id"] for f in document["faults"]] == [planned["id"], planned["id"] + 1]
    sequence_fault, random_fault = document["faults"]
    assert [step["kind"] for step in sequence_fault["sequence"]] == ["throttle", "drop"]
    assert sequence_fault["operation"] == CREATE_INGESTION.key
    assert (random_fault["fault"]["kind"], random_fault["fault"]["delay_s"], random_fault["fault"]["after"]) == (
        "slow",
        2,
        True,
    )
    assert random_fault["probability"] == 0.25
    assert control(sandbox, "DELETE", "faults") == (200, {"faults": []})
    assert control(sandbox, "GET", "faults") == (200, {"faults": []})


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        pytest.param({"operation": "*", "fault": "meltdown"}, "unknown fault kind 'meltdown'", id="unknown-kind"),
        pytest.param({"operation": "*", "sequence": ["ok", {"kind": "explode"}]}, "unknown fault kind", id="bad-step"),
        pytest.param(
            {"operation": "s3/PutObject", "fault": "throttle"},
            "unknown operation 's3/PutObject'",
            id="unknown-operation",
        ),
        pytest.param(
            {"operation": "*", "sequence": ["throttle"], "fault": "throttle"},
            "either 'sequence'",
            id="sequence-and-fault",
        ),
        pytest.param({"operation": "*"}, "either 'sequence'", id="neither"),
        pytest.param({"operation": "*", "sequence": []}, "non-empty list", id="empty-sequence"),
        pytest.param({"operation": "*", "fault": "throttle", "probability": 1.5}, "between 0 and 1", id="probability"),
        pytest.param(
            {"operation": "*", "fault": "throttle", "chance": 0.5}, "unknown fault field(s): chance", id="field"
        ),
        pytest.param(
            {"operation": "*", "sequence": [{"kind": "latency", "ms": 5}]}, "unknown fault step field(s): ms", id="step"
        ),
        pytest.param(
            {"operation": "*", "sequence": [{"kind": "latency", "latency_ms": "soon"}]},
            "latency_ms must be a non-negative number",
            id="latency-not-a-number",
        ),
        pytest.param(
            {"operation": "*", "fault": {"kind": "slow", "delay_s": -1}},
            "delay_s must be a non-negative number",
            id="negative-delay",
        ),
        pytest.param(
            {"operation": "*", "sequence": [{"kind": "drop", "after": "yes"}]},
            "after must be true or false",
            id="after",
        ),
        pytest.param(["throttle"], "a fault is a JSON object", id="not-an-object"),
        pytest.param(b"{oops", "Expecting property name", id="not-json"),
    ],
)
def test_a_bad_fault_spec_is_refused_with_a_reason(sandbox, aws_client, spec, words):
    status, document = control(sandbox, "POST", "faults", spec)

    assert status == 400
    assert words in document["error"]
    assert control(sandbox, "GET", "faults") == (200, {"faults": []})
    # Nothing half-planned: calls go through untouched.
    aws_client("appflow", region=REGION).register_connector(**valid_params(REGISTER_CONNECTOR))
    assert [c["fault"] for c in calls(sandbox)] == [None]


@pytest.mark.parametrize(
    ("method", "action"),
    [("GET", "nope"), ("POST", "health"), ("GET", "reset"), ("PUT", "faults"), ("GET", "")],
)
def test_an_unknown_control_action_is_not_found(sandbox, method, action):
    status, document = control(sandbox, method, action)

    assert status == 404
    assert document["error"] == f"no control action {method} /_sandbox/{action}"


def test_the_control_api_also_answers_under_a_path_prefix(sandbox):
    response = raw_request(sandbox.url, "GET", "/some/prefix/_sandbox/health")

    assert response.status == 200
    assert response.json()["status"] == "ok"
