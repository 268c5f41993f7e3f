"""AWS Supply Chain SendDataIntegrationEvent: one event (a record or records) into a dataset.

Summarised in docs/aws-operations.md.
"""

import datetime as dt
import json
from typing import Any

from awsmodel.constraints import Violation
from operations import FieldHint, Operation, Picker, ReadBack, register

DATASET_EVENT = "scn.data.dataset"
# Supply Chain fills this field itself for datasets in its own ("asc") namespace.
ASC_INTERNAL_FIELD = "connection_id"

# Each event type and the dataset it feeds, from the documentation.
EVENT_TYPES = (
    ("scn.data.dataset", "Any dataset, named in the dataset target"),
    ("scn.data.supplyplan", "Supply plan"),
    ("scn.data.shipmentstoporder", "Shipment stop order"),
    ("scn.data.shipmentstop", "Shipment stop"),
    ("scn.data.shipment", "Shipment"),
    ("scn.data.reservation", "Reservation"),
    ("scn.data.processproduct", "Process product"),
    ("scn.data.processoperation", "Process operation"),
    ("scn.data.processheader", "Process header"),
    ("scn.data.forecast", "Forecast"),
    ("scn.data.inventorylevel", "Inventory level"),
    ("scn.data.inboundorder", "Inbound order"),
    ("scn.data.inboundorderline", "Inbound order line"),
    ("scn.data.inboundorderlineschedule", "Inbound order line schedule"),
    ("scn.data.outboundorderline", "Outbound order line"),
    ("scn.data.outboundshipment", "Outbound shipment"),
)


def _dataset_namespace(dataset_arn: object) -> str | None:
    parts = str(dataset_arn or "").split("/namespaces/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else None


def _records(document: object) -> list[object]:
    return document if isinstance(document, list) else [document]


def rules(params: dict[str, Any]) -> list[Violation]:
    """The dataset target goes with scn.data.dataset only; data is a JSON object or array, without
    the field Supply Chain fills itself for its own datasets."""
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
        # Where the text stops being JSON, in the words of people who count from 1.
        where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
        found.append(Violation(("data",), "rule", f"must be a JSON object or a JSON array; it is not JSON: {where}"))
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


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


register(
    Operation(
        service="supplychain",
        name="SendDataIntegrationEvent",
        title="Supply Chain: send a data integration event",
        summary="Sends real-time data to an AWS Supply Chain instance, for a dataset of the event's type.",
        result_path=("eventId",),
        docs_url="https://docs.aws.amazon.com/aws-supply-chain/latest/APIReference/API_SendDataIntegrationEvent.html",
        # "The token is active for 8 hours, and within its lifetime, it ensures the request completes only once."
        token_lifetime=dt.timedelta(hours=8),
        pickers={
            "instanceId": Picker(
                "supplychain/ListInstances", value="instanceId", label="instanceName", noun="instances"
            ),
            # Datasets live in a namespace: both of those the documentation names are listed.
            "datasetTarget.datasetIdentifier": Picker(
                "supplychain/ListDataLakeDatasets",
                value="arn",
                label="name",
                depends_on=("instanceId",),
                params=lambda values: [
                    {"instanceId": values["instanceId"], "namespace": namespace} for namespace in ("asc", "default")
                ],
                noun="datasets",
            ),
        },
        read_back=ReadBack(
            "supplychain/GetDataIntegrationEvent",
            lambda params, response: {"instanceId": params["instanceId"], "eventId": response["eventId"]},
            fields={
                "eventType": ("event", "eventType"),
                "eventGroupId": ("event", "eventGroupId"),
                "datasetLoad": ("event", "datasetTargetDetails", "datasetLoadExecution", "status"),
            },
            state="datasetLoad",
        ),
        resource_name=lambda params, response: f"{params['eventType']} {params['eventGroupId']}",
        hints={
            "instanceId": FieldHint(label="Instance ID", help="The AWS Supply Chain instance identifier."),
            "eventType": FieldHint(
                label="Event type",
                help="Which dataset the event feeds: each type feeds the dataset of its name.",
                choices=EVENT_TYPES,
            ),
            "data": FieldHint(
                label="Data (JSON)",
                help="The event's payload: a JSON object for one record, a JSON array for several. "
                "It must follow the target dataset's schema. It is sensitive: stored for audit, "
                "never logged, and shown in lists only as its size and digest.",
                widget="textarea",
            ),
            "eventGroupId": FieldHint(
                label="Event group ID",
                help="Identifies the event for sharding (for example the orderId of an inbound order); "
                "events of one group, type and instance are processed in the order received.",
            ),
            "eventTimestamp": FieldHint(
                label="Event time",
                help="When the event happened (ISO-8601, or epoch seconds); sent as epoch seconds. "
                "Left empty, the time the request is recorded is used.",
                words="a date and time such as 2026-01-31T14:30:00Z, or epoch seconds",
                default=_now,
            ),
            "datasetTarget": FieldHint(
                label="Dataset target",
                help="The dataset the event feeds, for the event type “Any dataset” (scn.data.dataset).",
                shown_when=("eventType", DATASET_EVENT),
            ),
            "datasetTarget.datasetIdentifier": FieldHint(label="Dataset ARN"),
            "datasetTarget.operationType": FieldHint(
                label="Operation type",
                help="How the records change the dataset.",
                choices=(
                    ("APPEND", "Append the records"),
                    ("UPSERT", "Insert or update the records"),
                    ("DELETE", "Delete the records"),
                ),
            ),
        },
        words={
            (
                "arn:aws:scn:([a-z0-9-]+):([0-9]+):instance/([a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-"
                "[a-f0-9]{12})/namespaces/[^/]+/datasets/[^/]+"
            ): "a dataset ARN: arn:aws:scn:REGION:ACCOUNT:instance/INSTANCE-UUID/namespaces/NAMESPACE/datasets/NAME",
        },
        rules=rules,
        json_members=("data",),
        # "Under one eventGroupId of same eventType and instanceId, events are processed
        # sequentially in the order they are received by the server."
        ordered_by=("instanceId", "eventType", "eventGroupId"),
        # Events come by the thousand: a CSV or JSON-lines file of them is one batch.
        bulk_upload=True,
    )
)
