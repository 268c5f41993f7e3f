"""What each emulated AWS operation does once its input is valid: one declaration per operation.

Parsing, validation, idempotency, faults and error formats are shared (``wire``, ``state`` and
``awsmodel``); a declaration holds only what differs between services: the error codes the
service documents, which member must be unique, and how the created resource looks (ARN formats
as the real services write them, ids in their model's patterns). Each is keyed by the operation's
``Operation.key``: the sandbox serves operations the registry declares, with their documented rules.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from awsmodel.constraints import Violation
from operations import Operation, get_operation

SANDBOX_ACCOUNT_ID = "111122223333"


@dataclass(frozen=True)
class Context:
    """Where and when a call is served: the signed region and the sandbox's account."""

    region: str
    account: str = SANDBOX_ACCOUNT_ID
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class Behaviour:
    key: str  # the operation's Operation.key
    create: Callable[[dict, Context], dict]
    resource_id: Callable[[dict], str]
    validation_error: str = "ValidationException"
    # Same client token, different parameters: the error the service documents for it.
    mismatch_error: str = "ConflictException"
    # A member whose value must not exist yet, and the error a second one gets.
    unique_member: str | None = None
    unique_error: str = "ConflictException"

    @property
    def operation(self) -> Operation:
        return get_operation(self.key)

    def rules(self, params: dict) -> list[Violation]:
        return self.operation.documented_rules(params)


def _uuid() -> str:
    return str(uuid.uuid4())


def _base36(n: int) -> str:
    alphabet = string.digits + string.ascii_lowercase
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _create_ingestion(params: dict, ctx: Context) -> dict:
    bundle = params["appBundleIdentifier"]
    if not bundle.startswith("arn:"):
        bundle = f"arn:aws:appfabric:{ctx.region}:{ctx.account}:appbundle/{bundle}"
    return {
        "ingestion": {
            "arn": f"{bundle}/ingestion/{_uuid()}",
            "appBundleArn": bundle,
            "app": params["app"],
            "tenantId": params["tenantId"],
            "createdAt": ctx.now,
            "updatedAt": ctx.now,
            "state": "enabled",
            "ingestionType": params["ingestionType"],
        }
    }


def _send_event(params: dict, ctx: Context) -> dict:
    return {"eventId": _uuid()}


def _create_data_integration(params: dict, ctx: Context) -> dict:
    integration_id = _uuid()
    echoed = {k: v for k, v in params.items() if k != "ScheduleConfig"}
    if "ScheduleConfig" in params:
        echoed["ScheduleConfiguration"] = params["ScheduleConfig"]
    return {
        **echoed,
        "Arn": f"arn:aws:app-integrations:{ctx.region}:{ctx.account}:data-integration/{integration_id}",
        "Id": integration_id,
    }


def _create_snapshot_job(params: dict, ctx: Context) -> dict:
    job_id = f"job-{_base36(13)}"
    catalog = params["Catalog"]
    return {
        "Id": job_id,
        "Arn": f"arn:aws:partnercentral:{ctx.region}:{ctx.account}:catalog/{catalog}/resource-snapshot-job/{job_id}",
    }


def _register_connector(params: dict, ctx: Context) -> dict:
    label = params.get("connectorLabel") or f"connector-{_base36(8)}"
    return {"connectorArn": f"arn:aws:appflow:{ctx.region}:{ctx.account}:connector/{label}"}


BEHAVIOURS: dict[str, Behaviour] = {
    b.key: b
    for b in (
        Behaviour(
            "appfabric/CreateIngestion",
            _create_ingestion,
            resource_id=lambda out: out["ingestion"]["arn"],
            mismatch_error="IdempotentParameterMismatch",
        ),
        Behaviour("supplychain/SendDataIntegrationEvent", _send_event, resource_id=lambda out: out["eventId"]),
        Behaviour(
            "appintegrations/CreateDataIntegration",
            _create_data_integration,
            resource_id=lambda out: out["Arn"],
            validation_error="InvalidRequestException",
            unique_member="Name",
            unique_error="DuplicateResourceException",
        ),
        Behaviour(
            "partnercentral-selling/CreateResourceSnapshotJob",
            _create_snapshot_job,
            resource_id=lambda out: out["Arn"],
        ),
        Behaviour(
            "appflow/RegisterConnector",
            _register_connector,
            resource_id=lambda out: out["connectorArn"],
            unique_member="connectorLabel",
        ),
    )
}
