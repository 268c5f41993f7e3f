"""Helpers of the trust tests (hostile input, the botocore floor): one valid request per operation,
the places a string sits in it, and the ways in (the form, validate/, preview, the API)."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

from awsmodel.shapes import Path, ShapeWalk
from operations import Operation, all_operations
from tests.factories import default_target, ingestion_params
from tests.integrations.test_operation_forms import (
    FULL_CONNECTOR_PARAMS,
    FULL_EVENT_PARAMS,
    FULL_INTEGRATION_PARAMS,
    FULL_SNAPSHOT_PARAMS,
)

OPERATIONS = all_operations()
# One valid request per operation, with every member it can have (lists and maps included).
VALID: dict[str, dict[str, Any]] = {
    "appfabric/CreateIngestion": ingestion_params(tags=[{"key": "team", "value": "ops"}]),
    "supplychain/SendDataIntegrationEvent": FULL_EVENT_PARAMS,
    "appintegrations/CreateDataIntegration": FULL_INTEGRATION_PARAMS,
    "partnercentral-selling/CreateResourceSnapshotJob": FULL_SNAPSHOT_PARAMS,
    "appflow/RegisterConnector": FULL_CONNECTOR_PARAMS,
}


def valid(operation: Operation) -> dict[str, Any]:
    return copy.deepcopy(VALID[operation.key])


class _Places(ShapeWalk):
    """Every string of a value: (path, kind, shape type), kind "value" or "key" (a map entry's key)."""

    def __init__(self) -> None:
        self.found: list[tuple[Path, str]] = []

    def map(self, shape: Any, value: Any, path: Path) -> Any:
        for key in value:
            self.found.append(((*path, key), "key"))
        return super().map(shape, value, path)

    def scalar(self, shape: Any, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            self.found.append((path, "value"))
        return value


def string_places(operation: Operation, params: dict) -> list[tuple[Path, str]]:
    walk = _Places()
    walk.walk(operation.input_shape, params)
    return walk.found


def optional_members(operation: Operation, params: dict) -> list[Path]:
    """The paths of every optional structure member present in ``params``."""
    found: list[Path] = []

    class Walk(ShapeWalk):
        def structure(self, shape: Any, value: Any, path: Path) -> Any:
            for name in value:
                if name in shape.members and name not in shape.required_members:
                    found.append((*path, name))
            return super().structure(shape, value, path)

    Walk().walk(operation.input_shape, params)
    return found


def replaced(params: dict, path: Path, kind: str, new: Any) -> dict:
    """A copy of ``params`` with the value (or the map key) at ``path`` replaced by ``new``."""
    out = copy.deepcopy(params)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "key":
        rebuilt = {(new if k == last else k): v for k, v in parent.items()}
        parent.clear()
        parent.update(rebuilt)
    else:
        parent[last] = new
    return out


def page(operation: Operation, suffix: str = "") -> str:
    return f"/operations/{operation.service}/{operation.name}/{suffix}"


def api_post(client, operation: Operation, parameters: Any, key: str | None = None, raw: str | None = None):
    """The API's submit, as a script sends it (``raw`` for a body json.dumps would not write)."""
    body = raw if raw is not None else json.dumps({"target": "sandbox", "parameters": parameters})
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/operations/{operation.key}/requests/", body, content_type="application/json", headers=headers
    )


def form_fields(data: dict[str, str], **extra: str) -> dict[str, str]:
    return {"target": str(default_target().pk), **data, **extra}


def post_urlencoded(client, url: str, fields: dict[str, str]):
    """A POST as a browser sends a form (no multipart: every character as typed)."""
    return client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")
