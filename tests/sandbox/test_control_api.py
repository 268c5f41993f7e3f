"""The control API under /_sandbox/: health, the call log, resources, fault plans and reset."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

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
    assert document["status"] == "ok"
    assert document["operations"] == sorted(op.key for op in OPERATIONS)
    assert "appfabric/ListAppBundles" in document["reads"]


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


# --- drift: resources deleted or changed behind the portal's back ---------------------------------


def test_a_deleted_resource_is_gone_from_the_next_read(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)
    created = client.create_ingestion(**valid_params(CREATE_INGESTION))["ingestion"]

    status, document = control(sandbox, "DELETE", "resources", query=f"id={created['arn']}")

    assert (status, document["deleted"]["arn"]) == (200, created["arn"])
    with pytest.raises(ClientError) as caught:
        client.get_ingestion(appBundleIdentifier=created["appBundleArn"], ingestionIdentifier=created["arn"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert [r["id"] for r in resources(sandbox)] == [created["arn"]]  # the log of creates keeps it


def test_a_deleted_demo_resource_leaves_its_list(sandbox, aws_client):
    client = aws_client("lambda", region=REGION)
    victim = client.list_functions()["Functions"][0]["FunctionArn"]

    assert control(sandbox, "DELETE", "resources", query=f"id={victim}&region={REGION}")[0] == 200

    listed = [f["FunctionArn"] for page in client.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert victim not in listed
    assert len(listed) == 59


def test_a_change_is_merged_into_the_resource_and_shows_in_the_next_read(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)
    created = client.create_ingestion(**valid_params(CREATE_INGESTION))["ingestion"]

    status, document = control(
        sandbox, "PATCH", "resources", {"state": "disabled", "tenantId": None}, query=f"id={created['arn']}"
    )
    read = client.get_ingestion(appBundleIdentifier=created["appBundleArn"], ingestionIdentifier=created["arn"])

    assert status == 200
    assert (document["changed"]["state"], "tenantId" in document["changed"]) == ("disabled", False)
    assert read["ingestion"]["state"] == "disabled"
    assert "tenantId" not in read["ingestion"]  # null removes a member (JSON merge patch)
    assert read["ingestion"]["app"] == created["app"]


def test_a_nested_change_merges_member_by_member(sandbox, aws_client):
    client = aws_client("partnercentral-selling", region=REGION)
    [opportunity] = client.list_opportunities(Catalog="AWS", Identifier=["O2345678"])["OpportunitySummaries"]

    control(sandbox, "PATCH", "resources", {"LifeCycle": {"Stage": "Launched"}}, query=f"id={opportunity['Arn']}")

    [changed] = client.list_opportunities(Catalog="AWS", Identifier=["O2345678"])["OpportunitySummaries"]
    assert changed["LifeCycle"] == {**opportunity["LifeCycle"], "Stage": "Launched"}


@pytest.mark.parametrize(
    ("method", "query", "body", "status", "words"),
    [
        pytest.param("DELETE", "", None, 400, "name the resource", id="delete-without-id"),
        pytest.param("DELETE", "id=arn:aws:lambda:us-east-1:1:function:none", None, 404, "no resource", id="unknown"),
        pytest.param("PATCH", "id=nothing-here", {"state": "x"}, 404, "no resource", id="change-unknown"),
        pytest.param("PATCH", f"id=arn:aws:kms:{REGION}:111122223333:alias/orders", [1], 400, "JSON object", id="list"),
        pytest.param("PATCH", f"id=arn:aws:kms:{REGION}:111122223333:alias/orders", "{", 400, "", id="not-json"),
    ],
)
def test_a_bad_drift_request_gets_a_clear_error(sandbox, method, query, body, status, words):
    answer, document = control(sandbox, method, "resources", body, query=query)

    assert answer == status
    assert words in document["error"]
