"""Rules the AWS documentation states but the botocore model cannot express.

Kept apart from the model's constraints so that the sandbox (which plays the service) and the
portal's forms (which must not submit what the service refuses) enforce the same ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from integrations.awsmodel import Violation

DATASET_EVENT = "scn.data.dataset"


def _send_data_integration_event(params: dict) -> list[Violation]:
    found = []
    if params.get("eventType") == DATASET_EVENT and not params.get("datasetTarget"):
        found.append(Violation(("datasetTarget",), "rule", f"is required when eventType is {DATASET_EVENT}"))
    data = params.get("data")
    if isinstance(data, str):
        try:
            document = json.loads(data)
        except ValueError:
            document = None
        if not isinstance(document, (dict, list)):
            found.append(Violation(("data",), "rule", "must be a JSON object or a JSON array"))
    return found


_RULES: dict[tuple[str, str], Callable[[dict], list[Violation]]] = {
    ("supplychain", "SendDataIntegrationEvent"): _send_data_integration_event,
}


def documented_rules(service: str, operation: str, params: dict) -> list[Violation]:
    """Violations of the documented cross-field rules of one operation."""
    rule = _RULES.get((service, operation))
    return rule(params) if rule else []
