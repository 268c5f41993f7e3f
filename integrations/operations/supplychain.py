"""AWS Supply Chain SendDataIntegrationEvent (../shared/seeds/001_3cb6165748c4fe14.txt)."""

import datetime as dt

from integrations.operations import FieldHint, Operation, register

# Each event type and the dataset it feeds, from the documentation.
EVENT_TYPES = (
    ("scn.data.dataset", "scn.data.dataset: any dataset named in the dataset target"),
    ("scn.data.supplyplan", "scn.data.supplyplan: supply_plan"),
    ("scn.data.shipmentstoporder", "scn.data.shipmentstoporder: shipment_stop_order"),
    ("scn.data.shipmentstop", "scn.data.shipmentstop: shipment_stop"),
    ("scn.data.shipment", "scn.data.shipment: shipment"),
    ("scn.data.reservation", "scn.data.reservation: reservation"),
    ("scn.data.processproduct", "scn.data.processproduct: process_product"),
    ("scn.data.processoperation", "scn.data.processoperation: process_operation"),
    ("scn.data.processheader", "scn.data.processheader: process_header"),
    ("scn.data.forecast", "scn.data.forecast: forecast"),
    ("scn.data.inventorylevel", "scn.data.inventorylevel: inv_level"),
    ("scn.data.inboundorder", "scn.data.inboundorder: inbound_order"),
    ("scn.data.inboundorderline", "scn.data.inboundorderline: inbound_order_line"),
    ("scn.data.inboundorderlineschedule", "scn.data.inboundorderlineschedule: inbound_order_line_schedule"),
    ("scn.data.outboundorderline", "scn.data.outboundorderline: outbound_order_line"),
    ("scn.data.outboundshipment", "scn.data.outboundshipment: outbound_shipment"),
)


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
        hints={
            "instanceId": FieldHint(label="Instance ID", help="The AWS Supply Chain instance identifier."),
            "eventType": FieldHint(
                label="Event type",
                help="The data event type, shown with the dataset it feeds.",
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
                label="Dataset target", help="Only for the scn.data.dataset event type, where it is required."
            ),
            "datasetTarget.datasetIdentifier": FieldHint(label="Dataset ARN"),
            "datasetTarget.operationType": FieldHint(
                label="Operation type", help="How the records change the dataset: APPEND, UPSERT or DELETE."
            ),
        },
    )
)
