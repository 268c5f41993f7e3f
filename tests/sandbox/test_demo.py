"""The demo resources: valid by their models, accepted by the portal's operations, back after a reset."""

from __future__ import annotations

import pytest

from awsmodel.constraints import validate
from sandbox.behaviours import Context
from sandbox.reads import READS
from sandbox.state import SandboxState
from tests.sandbox.support import (
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    call,
    control,
    valid_params,
)

LIST_PARAMS = {
    "appfabric/ListAppBundles": {},
    "supplychain/ListInstances": {},
    "supplychain/ListDataLakeDatasets": {"instanceId": "11111111-2222-4333-8444-555555555555", "namespace": "asc"},
    "partnercentral-selling/ListEngagements": {"Catalog": "Sandbox"},
    "partnercentral-selling/ListEngagementResourceAssociations": {"Catalog": "Sandbox"},
    "partnercentral-selling/ListOpportunities": {"Catalog": "Sandbox"},
    "kms/ListAliases": {},
    "lambda/ListFunctions": {},
}


@pytest.mark.parametrize("key", sorted(LIST_PARAMS))
def test_every_listed_demo_resource_fits_its_output_model(key):
    read = READS[key]
    output = SandboxState().read(read, LIST_PARAMS[key], Context(REGION))

    assert validate(read.model.output_shape, output) == []
    assert len(next(iter(output.values()))) >= 2


def test_every_list_read_is_covered_here():
    lists = {key for key, read in READS.items() if read.select is not None}

    assert lists == set(LIST_PARAMS)


def test_the_portals_operations_accept_identifiers_picked_from_the_lists(sandbox, aws_client):
    """What a picker offers must pass the create's validation: every id here comes from a list."""
    picked_bundle = aws_client("appfabric", region=REGION).list_app_bundles()["appBundleSummaryList"][0]["arn"]
    supplychain = aws_client("supplychain", region=REGION)
    instance = supplychain.list_instances()["instances"][0]["instanceId"]
    dataset = supplychain.list_data_lake_datasets(instanceId=instance, namespace="asc")["datasets"][0]["arn"]
    alias = aws_client("kms", region=REGION).list_aliases()["Aliases"][0]["AliasName"]
    partner = aws_client("partnercentral-selling", region=REGION)
    engagement = partner.list_engagements(Catalog="Sandbox")["EngagementSummaryList"][0]["Id"]
    opportunity = partner.list_engagement_resource_associations(Catalog="Sandbox", EngagementIdentifier=engagement)[
        "EngagementResourceAssociationSummaries"
    ][0]["ResourceId"]
    function = aws_client("lambda", region=REGION).list_functions()["Functions"][-1]["FunctionArn"]

    calls = [
        (CREATE_INGESTION, {"appBundleIdentifier": picked_bundle}),
        (
            SEND_EVENT,
            {
                "instanceId": instance,
                "eventType": "scn.data.dataset",
                "datasetTarget": {"datasetIdentifier": dataset, "operationType": "APPEND"},
            },
        ),
        (CREATE_DATA_INTEGRATION, {"KmsKey": alias}),
        (CREATE_SNAPSHOT_JOB, {"EngagementIdentifier": engagement, "ResourceIdentifier": opportunity}),
        (REGISTER_CONNECTOR, {"connectorProvisioningConfig": {"lambda": {"lambdaArn": function}}}),
    ]
    for operation, picked in calls:
        response = call(aws_client(operation.service, region=REGION), operation, **valid_params(operation, **picked))
        assert response["ResponseMetadata"]["HTTPStatusCode"] in (200, 201), operation


def test_a_reset_brings_deleted_and_changed_demo_resources_back(sandbox, aws_client):
    client = aws_client("lambda", region=REGION)
    before = client.list_functions()["Functions"]
    first, second = before[0]["FunctionArn"], before[1]["FunctionArn"]
    control(sandbox, "DELETE", "resources", query=f"id={first}")
    control(sandbox, "PATCH", "resources", {"State": "Inactive"}, query=f"id={second}")

    assert control(sandbox, "POST", "reset") == (200, {"reset": True})

    assert client.list_functions()["Functions"] == before
