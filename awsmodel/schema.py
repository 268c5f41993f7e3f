"""A JSON Schema of a botocore shape, for API callers (patterns are the model's own)."""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from awsmodel.shapes import Path, ShapeWalk, first_paragraph


def _described(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description} if description else schema


def _bounded(schema: dict[str, Any], shape: Shape, low: str, high: str) -> dict[str, Any]:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    schema.update({k: v for k, v in ((low, lo), (high, hi)) if v is not None})
    return schema


class _Schema(ShapeWalk):
    def __init__(self, skip: str | None) -> None:
        self.skip = skip  # a top-level member left out (the client token the portal keeps)

    def structure(self, shape: StructureShape, value: Any, path: Path) -> dict[str, Any]:
        members = {k: v for k, v in shape.members.items() if path or k != self.skip}
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                k: _described(self.walk(v, None, (*path, k)), first_paragraph(v)) for k, v in members.items()
            },
            "additionalProperties": False,
        }
        required = [k for k in shape.required_members if k in members]
        if required:
            schema["required"] = required
        return schema

    def list(self, shape: ListShape, value: Any, path: Path) -> dict[str, Any]:
        return _bounded(
            {"type": "array", "items": self.walk(shape.member, None, (*path, 0))}, shape, "minItems", "maxItems"
        )

    def map(self, shape: MapShape, value: Any, path: Path) -> dict[str, Any]:
        schema = {"type": "object", "additionalProperties": self.walk(shape.value, None, path)}
        schema["propertyNames"] = self.walk(shape.key, None, path)
        return _bounded(schema, shape, "minProperties", "maxProperties")

    def scalar(self, shape: Shape, value: Any, path: Path) -> dict[str, Any]:
        kind = shape.type_name
        if kind == "string":
            schema = _bounded({"type": "string"}, shape, "minLength", "maxLength")
            if getattr(shape, "enum", None):
                schema["enum"] = list(shape.enum)  # type: ignore[attr-defined]
            if shape.metadata.get("pattern"):
                schema["pattern"] = shape.metadata["pattern"]
            return schema
        if kind in ("integer", "long"):
            return _bounded({"type": "integer"}, shape, "minimum", "maximum")
        if kind in ("float", "double"):
            return {"type": "number"}
        if kind == "boolean":
            return {"type": "boolean"}
        if kind == "timestamp":
            return {"type": ["string", "number"], "description": "ISO-8601 date and time, or epoch seconds"}
        if kind == "blob":
            return {"type": "string", "contentEncoding": "base64"}
        return {}


def json_schema(shape: Shape, skip: str | None = None) -> dict[str, Any]:
    """The JSON Schema of ``shape``; ``skip`` leaves one top-level member out."""
    schema: dict[str, Any] = _Schema(skip).walk(shape)
    return schema
