"""The read operations: each returns what the sandbox created, or the service's not-found error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import (
    ACCOUNT,
    BUNDLE_ID,
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    DATASET_ARN,
    INSTANCE_ID,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    call,
    calls,
    valid_params,
)

UNKNOWN_UUID = "99999999-8888-4777-8666-555555555555"


def _client_error(invoke) -> dict:
    with pytest.raises(ClientError) as caught:
        invoke()
    return caught.value.response


def test_get_ingestion_returns_the_ingestion_create_ingestion_made(sandbox, aws_client):
    client = aws_client("appfabric", region=REGION)
    created = client.create_ingestion(**valid_params(CREATE_INGESTION))["ingestion"]

    by_arn = client.get_ingestion(appBundleIdentifier=BUNDLE_ID, ingestionIdentifier=created["arn"])["ingestion"]
    by_id = client.get_ingestion(
        appBundleIdentifier=created["appBundleArn"], ingestionIdentifier=created["arn"].rsplit("/", 1)[1]
    )["ingestion"]

    assert by_arn == by_id
    assert (by_arn["arn"], by_arn["state"], by_arn["app"], by_arn["tenantId"]) == (
        created["arn"],
        "enabled",
        "OKTA",
        "okta-tenant-1",
    )
    assert by_arn["createdAt"] == created["createdAt"]
    assert [c["outcome"] for c in calls(sandbox)] == ["created", "read", "read"]


def test_get_data_integration_event_returns_the_event_that_was_sent(sandbox, aws_client):
    client = aws_client("supplychain", region=REGION)
    target = {"datasetIdentifier": DATASET_ARN, "operationType": "APPEND"}
    params = valid_params(SEND_EVENT, eventType="scn.data.dataset", datasetTarget=target)
    event_id = client.send_data_integration_event(**params)["eventId"]

    event = client.get_data_integration_event(instanceId=INSTANCE_ID, eventId=event_id)["event"]

    assert (event["eventId"], event["instanceId"], event["eventType"], event["eventGroupId"]) == (
        event_id,
        INSTANCE_ID,
        "scn.data.dataset",
        "orders-2026-11",
    )
    assert event["datasetTargetDetails"]["datasetIdentifier"] == DATASET_ARN
    assert event["datasetTargetDetails"]["datasetLoadExecution"]["status"] == "SUCCEEDED"
    assert "data" not in event  # the sensitive payload is never read back


@pytest.mark.parametrize("identifier", ["Id", "Arn", "Name"])
def test_get_data_integration_finds_it_by_id_arn_or_name(sandbox, aws_client, identifier):
    client = aws_client("appintegrations", region=REGION)
    params = valid_params(CREATE_DATA_INTEGRATION)
    created = call(client, CREATE_DATA_INTEGRATION, **params)

    found = client.get_data_integration(Identifier=created[identifier])

    assert (found["Arn"], found["Id"], found["Name"], found["KmsKey"]) == (
        created["Arn"],
        created["Id"],
        params["Name"],
        "alias/integrations",
    )
    assert found["ScheduleConfiguration"] == {"ScheduleExpression": "rate(1 hour)", "Object": "orders"}


def test_get_resource_snapshot_job_returns_the_job_in_its_catalog(sandbox, aws_client):
    client = aws_client("partnercentral-selling", region=REGION)
    created = client.create_resource_snapshot_job(**valid_params(CREATE_SNAPSHOT_JOB))

    job = client.get_resource_snapshot_job(Catalog="Sandbox", ResourceSnapshotJobIdentifier=created["Id"])

    assert (job["Id"], job["Arn"], job["EngagementId"], job["ResourceId"], job["Status"]) == (
        created["Id"],
        created["Arn"],
        "eng-a1b2c3d4e5f6g7",
        "O1234567",
        "Stopped",
    )
    assert job["ResourceArn"].endswith(":catalog/Sandbox/opportunity/O1234567")
    missing = _client_error(
        lambda: client.get_resource_snapshot_job(Catalog="AWS", ResourceSnapshotJobIdentifier=created["Id"])
    )
    assert missing["Error"]["Code"] == "ResourceNotFoundException"


def test_describe_connector_returns_the_registered_custom_connector(sandbox, aws_client):
    client = aws_client("appflow", region=REGION)
    params = valid_params(REGISTER_CONNECTOR)
    arn = client.register_connector(**params)["connectorArn"]

    configuration = client.describe_connector(connectorType="CustomConnector", connectorLabel=params["connectorLabel"])[
        "connectorConfiguration"
    ]

    assert (configuration["connectorArn"], configuration["connectorLabel"]) == (arn, params["connectorLabel"])
    assert configuration["connectorProvisioningConfig"] == params["connectorProvisioningConfig"]
    assert configuration["connectorDescription"] == "Custom ERP connector"


@pytest.mark.parametrize(
    ("service", "method", "params", "code", "status"),
    [
        pytest.param(
            "appfabric",
            "get_ingestion",
            {"appBundleIdentifier": BUNDLE_ID, "ingestionIdentifier": UNKNOWN_UUID},
            "ResourceNotFoundException",
            404,
            id="appfabric",
        ),
        pytest.param(
            "supplychain",
            "get_data_integration_event",
            {"instanceId": INSTANCE_ID, "eventId": UNKNOWN_UUID},
            "ResourceNotFoundException",
            404,
            id="supplychain",
        ),
        pytest.param(
            "supplychain",
            "list_data_lake_datasets",
            {"instanceId": UNKNOWN_UUID, "namespace": "asc"},
            "ResourceNotFoundException",
            404,
            id="supplychain-datasets-of-unknown-instance",
        ),
        pytest.param(
            "appintegrations",
            "get_data_integration",
            {"Identifier": UNKNOWN_UUID},
            "ResourceNotFoundException",
            404,
            id="appintegrations",
        ),
        pytest.param(
            "partnercentral-selling",
            "get_resource_snapshot_job",
            {"Catalog": "AWS", "ResourceSnapshotJobIdentifier": "job-0000000000000"},
            "ResourceNotFoundException",
            404,
            id="partnercentral",
        ),
        pytest.param(
            "appflow",
            "describe_connector",
            {"connectorType": "CustomConnector", "connectorLabel": "never-registered"},
            "ResourceNotFoundException",
            404,
            id="appflow",
        ),
        pytest.param("kms", "list_aliases", {"KeyId": UNKNOWN_UUID}, "NotFoundException", 400, id="kms-unknown-key"),
    ],
)
def test_an_unknown_resource_gets_the_services_not_found_error(
    sandbox, aws_client, service, method, params, code, status
):
    client = aws_client(service, region=REGION)

    error = _client_error(lambda: getattr(client, method)(**params))

    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    [logged] = calls(sandbox)
    assert (logged["outcome"], logged["status"]) == (code, status)


def test_a_resource_lives_in_the_region_it_was_created_in(sandbox, aws_client):
    created = aws_client("appfabric", region=REGION).create_ingestion(**valid_params(CREATE_INGESTION))["ingestion"]

    elsewhere = _client_error(
        lambda: aws_client("appfabric", region="us-west-2").get_ingestion(
            appBundleIdentifier=BUNDLE_ID, ingestionIdentifier=created["arn"]
        )
    )

    assert elsewhere["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("service", "method", "params", "code"),
    [
        pytest.param(
            "appfabric",
            "get_ingestion",
            {"appBundleIdentifier": BUNDLE_ID, "ingestionIdentifier": "not-a-uuid"},
            "ValidationException",
            id="pattern",
        ),
        pytest.param("partnercentral-selling", "list_engagements", {}, "ValidationException", id="missing"),
        pytest.param(
            "appintegrations", "get_data_integration", {"Identifier": "x" * 300}, "InvalidRequestException", id="length"
        ),
        pytest.param("supplychain", "list_instances", {"maxResults": 21}, "ValidationException", id="page-size"),
        pytest.param("lambda", "list_functions", {"MaxItems": 0}, "InvalidParameterValueException", id="lambda"),
        pytest.param("appflow", "describe_connector", {"connectorType": "Teletype"}, "ValidationException", id="enum"),
    ],
)
def test_a_read_with_invalid_input_gets_the_services_validation_error(
    sandbox, aws_client, service, method, params, code
):
    client = aws_client(service, region=REGION)

    error = _client_error(lambda: getattr(client, method)(**params))

    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_list_data_lake_datasets_lists_the_datasets_of_one_instance_and_namespace(sandbox, aws_client):
    client = aws_client("supplychain", region=REGION)

    asc = client.list_data_lake_datasets(instanceId=INSTANCE_ID, namespace="asc")["datasets"]
    default = client.list_data_lake_datasets(instanceId=INSTANCE_ID, namespace="default")["datasets"]
    europe = client.list_data_lake_datasets(instanceId="22222222-3333-4444-8555-666666666666", namespace="asc")

    assert [d["name"] for d in asc] == ["inbound_order", "inbound_order_line", "outbound_order_line"]
    assert {d["namespace"] for d in asc} == {"asc"}
    assert {d["instanceId"] for d in asc} == {INSTANCE_ID}
    assert sorted(d["name"] for d in default) == ["forecasts", "orders"]
    assert [d["name"] for d in europe["datasets"]] == ["inventory_level"]
    assert DATASET_ARN.replace("/asc/", "/default/") in {d["arn"] for d in default}


def test_list_instances_filters_by_name_and_state(sandbox, aws_client):
    client = aws_client("supplychain", region=REGION)

    active = client.list_instances(instanceStateFilter=["Active"])["instances"]
    named = client.list_instances(instanceNameFilter=["staging"])["instances"]

    assert sorted(i["instanceName"] for i in active) == ["europe", "north-america"]
    assert [(i["instanceName"], i["state"], i["awsAccountId"]) for i in named] == [("staging", "Initializing", ACCOUNT)]


def test_the_opportunities_of_an_engagement_are_its_resource_associations(sandbox, aws_client):
    client = aws_client("partnercentral-selling", region=REGION)

    associations = client.list_engagement_resource_associations(
        Catalog="AWS", EngagementIdentifier="eng-a1b2c3d4e5f6g7"
    )["EngagementResourceAssociationSummaries"]
    opportunities = client.list_opportunities(Catalog="AWS", Identifier=[a["ResourceId"] for a in associations])

    assert [(a["EngagementId"], a["ResourceType"], a["ResourceId"]) for a in associations] == [
        ("eng-a1b2c3d4e5f6g7", "Opportunity", "O1234567"),
        ("eng-a1b2c3d4e5f6g7", "Opportunity", "O1234568"),
    ]
    assert [o["Id"] for o in opportunities["OpportunitySummaries"]] == ["O1234567", "O1234568"]
    assert {o["Customer"]["Account"]["CompanyName"] for o in opportunities["OpportunitySummaries"]} == {"Example Corp"}


def test_list_engagements_filters_by_catalog_and_identifier(sandbox, aws_client):
    client = aws_client("partnercentral-selling", region=REGION)

    everything = client.list_engagements(Catalog="Sandbox")["EngagementSummaryList"]
    one = client.list_engagements(Catalog="Sandbox", EngagementIdentifier=["eng-h8i9j0k1l2m3n4"])
    other_catalog = client.list_engagements(Catalog="Nowhere")["EngagementSummaryList"]

    assert len(everything) == 3
    assert all(":catalog/Sandbox/engagement/" in e["Arn"] for e in everything)
    assert [e["Title"] for e in one["EngagementSummaryList"]] == ["Data lake modernisation"]
    assert other_catalog == []


def test_list_aliases_filters_by_the_target_key(sandbox, aws_client):
    client = aws_client("kms", region=REGION)
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"

    by_id = client.list_aliases(KeyId=key)["Aliases"]
    by_arn = client.list_aliases(KeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")["Aliases"]

    assert [a["AliasName"] for a in by_id] == ["alias/integrations", "alias/supply-chain"]
    assert by_arn == by_id
