"""Valid example calls of the five emulated operations, and plain-HTTP access to the sandbox."""

from __future__ import annotations

import http.client
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

REGION = "eu-west-1"  # not the default, so ARNs prove they carry the caller's region
ACCOUNT = "111122223333"
BUNDLE_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
INSTANCE_ID = "11111111-2222-4333-8444-555555555555"
LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:custom-connector"
DATASET_ARN = f"arn:aws:scn:{REGION}:{ACCOUNT}:instance/{INSTANCE_ID}/namespaces/asc/datasets/orders"

UUID_PATTERN = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"


@dataclass(frozen=True)
class Operation:
    service: str  # botocore's service name
    name: str  # the operation's model name
    method: str  # boto3's method name
    token_member: str
    status: int  # HTTP status of a success

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    def __str__(self) -> str:
        return self.key


CREATE_INGESTION = Operation("appfabric", "CreateIngestion", "create_ingestion", "clientToken", 201)
SEND_EVENT = Operation("supplychain", "SendDataIntegrationEvent", "send_data_integration_event", "clientToken", 200)
CREATE_DATA_INTEGRATION = Operation(
    "appintegrations", "CreateDataIntegration", "create_data_integration", "ClientToken", 200
)
CREATE_SNAPSHOT_JOB = Operation(
    "partnercentral-selling", "CreateResourceSnapshotJob", "create_resource_snapshot_job", "ClientToken", 200
)
REGISTER_CONNECTOR = Operation("appflow", "RegisterConnector", "register_connector", "clientToken", 200)

OPERATIONS = (CREATE_INGESTION, SEND_EVENT, CREATE_DATA_INTEGRATION, CREATE_SNAPSHOT_JOB, REGISTER_CONNECTOR)


def valid_params(operation: Operation, **overrides: object) -> dict:
    """A valid, realistic call of ``operation``; unique members get fresh values each time."""
    suffix = uuid.uuid4().hex[:8]
    params: dict = {
        CREATE_INGESTION: lambda: {
            "appBundleIdentifier": BUNDLE_ID,
            "app": "OKTA",
            "tenantId": "okta-tenant-1",
            "ingestionType": "auditLog",
            "tags": [{"key": "team", "value": "integrations"}],
        },
        SEND_EVENT: lambda: {
            "instanceId": INSTANCE_ID,
            "eventType": "scn.data.inboundorder",
            "data": json.dumps({"order_id": "PO-1001", "quantity": 12}),
            "eventGroupId": "orders-2026-11",
        },
        CREATE_DATA_INTEGRATION: lambda: {
            "Name": f"orders-{suffix}",
            "Description": "Orders from the ERP bucket",
            "KmsKey": "alias/integrations",
            "SourceURI": "s3://erp-exports/orders",
            "ScheduleConfig": {"ScheduleExpression": "rate(1 hour)", "Object": "orders"},
            "Tags": {"team": "integrations"},
            "FileConfiguration": {"Folders": ["exports/orders"]},
            "ObjectConfiguration": {"orders": {"columns": ["order_id", "quantity"]}},
        },
        CREATE_SNAPSHOT_JOB: lambda: {
            "Catalog": "Sandbox",
            "ClientToken": f"snapshot-{suffix}",
            "EngagementIdentifier": "eng-a1b2c3d4e5f6g7",
            "ResourceType": "Opportunity",
            "ResourceIdentifier": "O1234567",
            "ResourceSnapshotTemplateIdentifier": "OpportunitySummary",
            "Tags": [{"Key": "team", "Value": "integrations"}],
        },
        REGISTER_CONNECTOR: lambda: {
            "connectorLabel": f"erp-connector-{suffix}",
            "description": "Custom ERP connector",
            "connectorProvisioningType": "LAMBDA",
            "connectorProvisioningConfig": {"lambda": {"lambdaArn": LAMBDA_ARN}},
        },
    }[operation]()
    params.update(overrides)
    return params


def new_token() -> str:
    """A fresh client token that fits every operation's model (a UUID: appfabric wants one)."""
    return str(uuid.uuid4())


def call(client, operation: Operation, **params: object) -> dict:
    return getattr(client, operation.method)(**params)


def created_id(operation: Operation, response: dict) -> str:
    """The id the sandbox records for the resource a response describes (an ARN, or supplychain's event id)."""
    return {
        CREATE_INGESTION: lambda: response["ingestion"]["arn"],
        SEND_EVENT: lambda: response["eventId"],
        CREATE_DATA_INTEGRATION: lambda: response["Arn"],
        CREATE_SNAPSHOT_JOB: lambda: response["Arn"],
        REGISTER_CONNECTOR: lambda: response["connectorArn"],
    }[operation]()


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# --- plain HTTP -----------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def raw_request(
    base_url: str, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None
) -> RawResponse:
    """One unsigned HTTP request, as any non-SDK client would send it."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        payload = body.encode() if isinstance(body, str) else body
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def control(sandbox, method: str, action: str, body: object = None, query: str = "") -> tuple[int, dict]:
    """Call the sandbox's control API; returns (status, JSON document)."""
    payload = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
    path = f"/_sandbox/{action}" + (f"?{query}" if query else "")
    response = raw_request(sandbox.url, method, path, payload, {"Content-Type": "application/json"})
    return response.status, response.json()


def plan_fault(sandbox, spec: dict) -> dict:
    status, document = control(sandbox, "POST", "faults", spec)
    assert status == 201, document
    return document


def calls(sandbox, operation: Operation | None = None) -> list[dict]:
    status, document = control(sandbox, "GET", "calls", query=f"operation={operation.key}" if operation else "")
    assert status == 200
    return document["calls"]


def resources(sandbox, operation: Operation | None = None) -> list[dict]:
    status, document = control(sandbox, "GET", "resources", query=f"operation={operation.key}" if operation else "")
    assert status == 200
    return document["resources"]
