"""List operations page by their model: page size, opaque continuation tokens, boto3's paginators."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import INSTANCE_ID, REGION

# (service, boto3 method, its required parameters, the member holding the items, an item's identity)
LISTS = [
    pytest.param("appfabric", "list_app_bundles", {}, "appBundleSummaryList", "arn", id="appfabric-bundles"),
    pytest.param("supplychain", "list_instances", {}, "instances", "instanceId", id="supplychain-instances"),
    pytest.param(
        "supplychain",
        "list_data_lake_datasets",
        {"instanceId": INSTANCE_ID, "namespace": "asc"},
        "datasets",
        "arn",
        id="supplychain-datasets",
    ),
    pytest.param(
        "partnercentral-selling",
        "list_engagements",
        {"Catalog": "AWS"},
        "EngagementSummaryList",
        "Id",
        id="engagements",
    ),
    pytest.param(
        "partnercentral-selling",
        "list_engagement_resource_associations",
        {"Catalog": "AWS"},
        "EngagementResourceAssociationSummaries",
        "ResourceId",
        id="associations",
    ),
    pytest.param(
        "partnercentral-selling",
        "list_opportunities",
        {"Catalog": "AWS"},
        "OpportunitySummaries",
        "Id",
        id="opportunities",
    ),
    pytest.param("kms", "list_aliases", {}, "Aliases", "AliasArn", id="kms-aliases"),
    pytest.param("lambda", "list_functions", {}, "Functions", "FunctionArn", id="lambda-functions"),
]


@pytest.mark.parametrize(("service", "method", "params", "items", "identity"), LISTS)
def test_a_paginator_with_pages_of_one_yields_every_item_once(
    sandbox, aws_client, service, method, params, items, identity
):
    client = aws_client(service, region=REGION)

    pages = list(client.get_paginator(method).paginate(**params, PaginationConfig={"PageSize": 1}))
    one_by_one = [item[identity] for page in pages for item in page[items]]
    whole = [item[identity] for page in client.get_paginator(method).paginate(**params) for item in page[items]]

    assert len(pages) == len(whole) > 1
    assert one_by_one == whole
    assert len(set(one_by_one)) == len(one_by_one)


def test_a_default_page_of_functions_does_not_hold_them_all(sandbox, aws_client):
    client = aws_client("lambda", region=REGION)

    first = client.list_functions()
    second = client.list_functions(Marker=first["NextMarker"])
    asked_for_more = client.list_functions(MaxItems=500)

    assert len(first["Functions"]) == 50
    assert "NextMarker" not in second
    names = [f["FunctionName"] for f in first["Functions"] + second["Functions"]]
    assert len(names) == len(set(names)) == 60
    assert len(asked_for_more["Functions"]) == 50  # Lambda's documented ceiling, whatever MaxItems says
    everything = [f for page in client.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert [f["FunctionName"] for f in everything] == names


def test_kms_says_whether_the_list_is_truncated(sandbox, aws_client):
    client = aws_client("kms", region=REGION)

    first = client.list_aliases(Limit=3)
    last = client.list_aliases(Limit=3, Marker=first["NextMarker"])

    assert (first["Truncated"], len(first["Aliases"])) == (True, 3)
    assert last["Truncated"] is False
    assert "NextMarker" not in last


def test_a_page_skips_nothing_when_an_item_before_it_is_deleted(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)
    first = client.list_app_bundles(maxResults=1)
    [shown] = first["appBundleSummaryList"]
    sandbox.state.delete_resource(shown["arn"], REGION)

    rest = client.list_app_bundles(nextToken=first["nextToken"])["appBundleSummaryList"]

    assert len(rest) == 2
    assert shown not in rest


@pytest.mark.parametrize(
    ("service", "method", "params", "token", "code"),
    [
        pytest.param("appfabric", "list_app_bundles", {}, "nextToken", "ValidationException", id="appfabric"),
        pytest.param("supplychain", "list_instances", {}, "nextToken", "ValidationException", id="supplychain"),
        pytest.param(
            "partnercentral-selling",
            "list_engagements",
            {"Catalog": "AWS"},
            "NextToken",
            "ValidationException",
            id="partnercentral",
        ),
        pytest.param("kms", "list_aliases", {}, "Marker", "InvalidMarkerException", id="kms"),
        pytest.param("lambda", "list_functions", {}, "Marker", "InvalidParameterValueException", id="lambda"),
    ],
)
def test_an_invalid_token_gets_the_services_validation_error(sandbox, aws_client, service, method, params, token, code):
    client = aws_client(service, region=REGION)

    with pytest.raises(ClientError) as caught:
        getattr(client, method)(**params, **{token: "not-a-token-we-gave"})

    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_token_from_another_list_is_refused(sandbox, aws_client):
    functions = aws_client("lambda", region=REGION).list_functions(MaxItems=1)

    with pytest.raises(ClientError) as caught:
        aws_client("kms", region=REGION).list_aliases(Marker=functions["NextMarker"])

    assert caught.value.response["Error"]["Code"] == "InvalidMarkerException"
