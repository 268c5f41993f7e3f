"""The "denied" fault: a call refused as AWS refuses a role it does not allow, in one region or all."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import calls, control, plan_fault

REFUSED_REGION = "eu-west-2"
SERVED_REGION = "eu-west-1"


def _refusal(client, method: str, **params) -> dict:
    with pytest.raises(ClientError) as caught:
        getattr(client, method)(**params)
    return caught.value.response


@pytest.mark.parametrize(
    ("service", "operation", "method"),
    [
        pytest.param("kms", "kms/ListAliases", "list_aliases", id="kms-json"),
        pytest.param("lambda", "lambda/ListFunctions", "list_functions", id="lambda-rest-json"),
        pytest.param("appfabric", "appfabric/ListAppBundles", "list_app_bundles", id="appfabric-rest-json"),
    ],
)
def test_a_denied_fault_answers_access_denied_with_http_403(sandbox, aws_client, service, operation, method):
    plan_fault(sandbox, {"operation": operation, "fault": "denied"})

    response = _refusal(aws_client(service, region=SERVED_REGION), method)

    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [c["outcome"] for c in calls(sandbox)] == ["AccessDeniedException"]


def test_a_fault_with_a_region_refuses_only_calls_signed_for_that_region(sandbox, aws_client):
    plan_fault(sandbox, {"operation": "kms/ListAliases", "region": REFUSED_REGION, "fault": "denied"})

    refused = _refusal(aws_client("kms", region=REFUSED_REGION), "list_aliases")
    served = aws_client("kms", region=SERVED_REGION).list_aliases()

    assert refused["Error"]["Code"] == "AccessDeniedException"
    assert {a["AliasName"] for a in served["Aliases"]} >= {"alias/integrations"}
    assert [c["outcome"] for c in calls(sandbox)] == ["AccessDeniedException", "read"]


def test_a_sequence_with_a_region_is_used_up_only_by_that_regions_calls(sandbox, aws_client):
    plan_fault(sandbox, {"operation": "*", "region": REFUSED_REGION, "sequence": ["denied"]})

    aws_client("kms", region=SERVED_REGION).list_aliases()
    refused = _refusal(aws_client("kms", region=REFUSED_REGION), "list_aliases")
    aws_client("kms", region=REFUSED_REGION).list_aliases()

    assert refused["Error"]["Code"] == "AccessDeniedException"
    assert [c["outcome"] for c in calls(sandbox)] == ["read", "AccessDeniedException", "read"]


def test_the_fault_list_shows_the_region_a_fault_is_limited_to(sandbox):
    plan_fault(sandbox, {"operation": "*", "region": REFUSED_REGION, "fault": "denied"})
    plan_fault(sandbox, {"operation": "*", "fault": "throttle", "probability": 0.0})

    status, document = control(sandbox, "GET", "faults")

    assert status == 200
    assert [f["region"] for f in document["faults"]] == [REFUSED_REGION, None]


@pytest.mark.parametrize("region", [pytest.param("", id="empty"), pytest.param(["eu-west-1"], id="a-list")])
def test_a_fault_with_a_region_that_is_not_a_region_name_is_refused(sandbox, region):
    status, document = control(sandbox, "POST", "faults", {"operation": "*", "region": region, "fault": "denied"})

    assert status == 400
    assert "region" in document["error"]
