"""Rules the AWS documentation states but the botocore model cannot express.

Kept apart from the model's constraints so that the sandbox (which plays the service) and the
portal's forms (which must not submit what the service refuses) enforce the same ones.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from integrations.awsmodel import Violation

DATASET_EVENT = "scn.data.dataset"

# Members the model types as free text but whose documentation lists the valid values.
APPFABRIC_APPS = ("SLACK", "ASANA", "JIRA", "M365", "M365AUDITLOGS", "ZOOM", "ZENDESK", "OKTA", "GOOGLE",
                  "DROPBOX", "SMARTSHEET", "CISCO")  # fmt: skip
PARTNER_CENTRAL_CATALOGS = ("AWS", "Sandbox")
DOCUMENTED_VALUES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("appfabric", "CreateIngestion"): {"app": APPFABRIC_APPS},
    ("partnercentral-selling", "CreateResourceSnapshotJob"): {"Catalog": PARTNER_CENTRAL_CATALOGS},
}
# Supply Chain fills this field itself for datasets in its own ("asc") namespace.
ASC_INTERNAL_FIELD = "connection_id"


def _dataset_namespace(dataset_arn: object) -> str | None:
    parts = str(dataset_arn or "").split("/namespaces/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else None


def _records(document: object) -> list:
    return document if isinstance(document, list) else [document]


def _send_data_integration_event(params: dict) -> list[Violation]:
    found = []
    event_type = params.get("eventType")
    target = params.get("datasetTarget")
    if event_type == DATASET_EVENT and not target:
        found.append(Violation(("datasetTarget",), "rule", f"is required when eventType is {DATASET_EVENT}"))
    if event_type and event_type != DATASET_EVENT and target:
        found.append(Violation(("datasetTarget",), "rule", f"is only for eventType {DATASET_EVENT}; leave it empty"))
    data = params.get("data")
    if not isinstance(data, str):
        return found
    try:
        document = json.loads(data)
    except ValueError as exc:
        found.append(Violation(("data",), "rule", f"must be a JSON object or a JSON array; it is not JSON ({exc})"))
        return found
    if not isinstance(document, (dict, list)):
        found.append(Violation(("data",), "rule", "must be a JSON object or a JSON array"))
        return found
    namespace = _dataset_namespace(target.get("datasetIdentifier")) if isinstance(target, dict) else None
    asc_dataset = event_type != DATASET_EVENT or namespace == "asc"
    if asc_dataset and any(isinstance(r, dict) and ASC_INTERNAL_FIELD in r for r in _records(document)):
        found.append(
            Violation(
                ("data",),
                "rule",
                f"must not contain {ASC_INTERNAL_FIELD}: AWS Supply Chain fills it for datasets in the asc namespace",
            )
        )
    return found


def _is_epoch_millis_or_iso(text: str) -> bool:
    if text.isdigit():
        return True
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _create_data_integration(params: dict) -> list[Violation]:
    first = (params.get("ScheduleConfig") or {}).get("FirstExecutionFrom")
    if isinstance(first, str) and first.strip() and not _is_epoch_millis_or_iso(first.strip()):
        return [
            Violation(
                ("ScheduleConfig", "FirstExecutionFrom"),
                "rule",
                "must be a Unix timestamp in milliseconds or an ISO-8601 date and time",
            )
        ]
    return []


def _register_connector(params: dict) -> list[Violation]:
    config = params.get("connectorProvisioningConfig") or {}
    if params.get("connectorProvisioningType") == "LAMBDA" and not (config.get("lambda") or {}).get("lambdaArn"):
        return [
            Violation(
                ("connectorProvisioningConfig", "lambda", "lambdaArn"),
                "rule",
                "is required when connectorProvisioningType is LAMBDA",
            )
        ]
    return []


_RULES: dict[tuple[str, str], Callable[[dict], list[Violation]]] = {
    ("supplychain", "SendDataIntegrationEvent"): _send_data_integration_event,
    ("appintegrations", "CreateDataIntegration"): _create_data_integration,
    ("appflow", "RegisterConnector"): _register_connector,
}


def documented_rules(service: str, operation: str, params: dict) -> list[Violation]:
    """Violations of one operation's documented values and cross-field rules."""
    found = [
        Violation((member,), "enum", "must be one of " + ", ".join(allowed))
        for member, allowed in DOCUMENTED_VALUES.get((service, operation), {}).items()
        if params.get(member) is not None and params[member] not in allowed
    ]
    rule = _RULES.get((service, operation))
    return found + (rule(params) if rule else [])
