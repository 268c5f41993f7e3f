"""Loading botocore's models, and the one walk over their shapes that every use shares.

A botocore input is a tree of structures, lists and maps with scalars at the leaves. Validation,
redaction, the JSON Schema, the portal's forms and the sandbox's wire code all walk that tree; the
dispatch on the kind of shape is written here, once (``ShapeWalk``), and each use overrides only
the kinds it treats differently.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, cast

import botocore.session
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from awsmodel.characters import printable

# Where a value sits in an input: member names, list indices and map keys from the top.
Path = tuple[str | int, ...]


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The botocore model of ``service`` (botocore's name, e.g. ``partnercentral-selling``)."""
    return _session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def idempotency_token_member(op: OperationModel) -> str | None:
    """Name of the input member botocore would auto-fill with a fresh UUID on every call."""
    for name, shape in op.input_shape.members.items() if op.input_shape else ():
        if shape.metadata.get("idempotencyToken"):
            return name
    return None


def format_path(path: Path) -> str:
    """``tags[0].key``: a path as API callers write it. A map key holding a character that cannot
    be encoded or stored (a lone surrogate, NUL) is written as its escape, as JSON wrote it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{printable(part)}" if out else printable(str(part)))
    return out


def first_paragraph(shape: Shape) -> str:
    """The first paragraph of the model's documentation of ``shape``, as plain text."""
    html = shape.documentation or ""
    text = regex.sub(r"<[^>]+>", "", html.split("</p>", 1)[0])
    return " ".join(text.split())


class ShapeWalk:
    """One walk over a botocore shape and a value shaped by it (or ``None`` for the shape alone).

    ``walk`` dispatches on the shape's kind; override ``structure``, ``list``, ``map`` or
    ``scalar`` and recurse with ``self.walk``. The defaults rebuild the value: members the
    shape does not know and values of an unexpected type pass through unchanged, so a walk
    that changes only leaves overrides only ``scalar``.
    """

    def walk(self, shape: Shape, value: Any = None, path: Path = ()) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self.structure(cast(StructureShape, shape), value, path)
        if kind == "list":
            return self.list(cast(ListShape, shape), value, path)
        if kind == "map":
            return self.map(cast(MapShape, shape), value, path)
        return self.scalar(shape, value, path)

    def structure(self, shape: StructureShape, value: Any, path: Path) -> Any:
        if not isinstance(value, Mapping):
            return value
        members = shape.members
        return {
            name: self.walk(members[name], item, (*path, name)) if name in members else item
            for name, item in value.items()
        }

    def list(self, shape: ListShape, value: Any, path: Path) -> Any:
        if not isinstance(value, list):
            return value
        return [self.walk(shape.member, item, (*path, i)) for i, item in enumerate(value)]

    def map(self, shape: MapShape, value: Any, path: Path) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {key: self.walk(shape.value, item, (*path, key)) for key, item in value.items()}

    def scalar(self, shape: Shape, value: Any, path: Path) -> Any:
        return value


class ShapeCheck(ShapeWalk):
    """A walk that reports findings (violations, unknown members): each kind yields its own and
    those of the values under it. Override a kind and ``yield from super()...`` to add to it."""

    def walk(self, shape: Shape, value: Any = None, path: Path = ()) -> Iterator[Any]:
        return iter(super().walk(shape, value, path))

    def structure(self, shape: StructureShape, value: Any, path: Path) -> Iterator[Any]:
        if isinstance(value, Mapping):
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    yield from self.walk(member, value[name], (*path, name))

    def list(self, shape: ListShape, value: Any, path: Path) -> Iterator[Any]:
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from self.walk(shape.member, item, (*path, i))

    def map(self, shape: MapShape, value: Any, path: Path) -> Iterator[Any]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield from self.walk(shape.value, item, (*path, key))

    def scalar(self, shape: Shape, value: Any, path: Path) -> Iterator[Any]:
        return iter(())
