"""botocore's service models as the single source of truth for AWS parameters.

Both sides of the portal read the same model: the forms validate what a user typed against it,
and the sandbox validates what arrives on the wire against it. Keeping one validator means the
portal can never accept something the (sandbox) service refuses, or the other way round.

botocore's own ``ParamValidator`` checks types, required members and minimum lengths only; AWS
also enforces maximum lengths, patterns, enums and collection sizes server-side, so this module
checks every constraint the model carries.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import botocore.session
import regex
from botocore.model import OperationModel, ServiceModel, Shape

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


_JAVA_CLASSES = {"w": "A-Za-z0-9_", "d": "0-9", "s": " \\t\\n\\x0B\\f\\r"}


def _java_shorthands(pattern: str) -> str:
    """Rewrite \\w, \\d and \\s to Java's ASCII meaning, leaving \\p{L} classes Unicode."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _JAVA_CLASSES:
                out.append(_JAVA_CLASSES[nxt] if in_class else f"[{_JAVA_CLASSES[nxt]}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


@functools.cache
def compiled_pattern(pattern: str) -> regex.Pattern:
    # AWS services match the whole value (Java's Pattern.matches), and Java's \w and \s are ASCII,
    # while \p{L}-style classes (Partner Central's tags) stay Unicode: the `regex` package reads
    # those, which the standard `re` module rejects.
    return regex.compile(_java_shorthands(pattern))


@dataclass(frozen=True)
class Violation:
    """One broken constraint, located by its path from the top of the input."""

    path: Path
    constraint: str  # required, type, length, pattern, enum, size, range, rule
    message: str
    on_key: bool = False  # the violation is about a map entry's key, not its value

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _plurals(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else _plurals(word)}"


def _bounds(shape: Shape, unit: str) -> tuple[int | None, int | None, str]:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and hi is not None:
        text = f"{lo}–{hi} {_plurals(unit)}" if lo != hi else _plural(lo, unit)
    elif lo is not None:
        text = f"at least {_plural(lo, unit)}"
    elif hi is not None:
        text = f"at most {_plural(hi, unit)}"
    else:
        text = ""
    return lo, hi, text


def pattern_words(shape: Shape) -> str | None:
    """The shape's pattern in words, or None when nobody has said it in words yet."""
    from integrations.pattern_words import PATTERN_WORDS

    pattern = shape.metadata.get("pattern")
    return PATTERN_WORDS.get(pattern) if pattern else None


def describe(shape: Shape) -> str:
    """The constraint of a shape in words, for help texts and errors: "1–255 characters: …"."""
    parts = []
    unit = {"string": "character", "list": "item", "map": "entry"}.get(shape.type_name)
    if unit:
        _, _, text = _bounds(shape, unit)
        if text:
            parts.append(text)
    if shape.type_name in ("integer", "long", "float", "double"):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if lo is not None or hi is not None:
            parts.append(f"a number from {lo if lo is not None else '…'} to {hi if hi is not None else '…'}")
    enum = getattr(shape, "enum", None)
    if enum:
        parts.append("one of " + ", ".join(enum))
    pattern = shape.metadata.get("pattern")
    if pattern:
        parts.append(pattern_words(shape) or f"matching {pattern}")
    return ": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if len(parts) > 2 else "")


def redact_sensitive(shape: Shape, value: object) -> object:
    """``value`` with every member the model marks sensitive replaced by its size and digest.

    For logs, lists and anything shown to people who need to know that a payload was sent,
    not what it said.
    """
    if value is None:
        return None
    if shape.metadata.get("sensitive"):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return f"<sensitive: {len(text)} characters, sha256 {digest}…>"
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        return {k: redact_sensitive(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [redact_sensitive(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, Mapping):
        return {k: redact_sensitive(shape.value, v) for k, v in value.items()}
    return value


def first_paragraph(shape: Shape) -> str:
    """The first paragraph of the model's documentation of ``shape``, as plain text."""
    html = shape.documentation or ""
    text = regex.sub(r"<[^>]+>", "", html.split("</p>", 1)[0])
    return " ".join(text.split())


def _described(schema: dict, description: str) -> dict:
    return {**schema, "description": description} if description else schema


def json_schema(shape: Shape, skip: str | None = None) -> dict:
    """A JSON Schema of a botocore shape, for API callers (patterns are the model's own)."""
    kind = shape.type_name
    schema: dict = {}
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if kind == "structure":
        members = {k: v for k, v in shape.members.items() if k != skip}
        schema = {
            "type": "object",
            "properties": {k: _described(json_schema(v), first_paragraph(v)) for k, v in members.items()},
            "additionalProperties": False,
        }
        required = [k for k in shape.required_members if k in members]
        if required:
            schema["required"] = required
    elif kind == "list":
        schema = {"type": "array", "items": json_schema(shape.member)}
        schema.update({k: v for k, v in (("minItems", lo), ("maxItems", hi)) if v is not None})
    elif kind == "map":
        schema = {"type": "object", "additionalProperties": json_schema(shape.value)}
        schema["propertyNames"] = json_schema(shape.key)
        schema.update({k: v for k, v in (("minProperties", lo), ("maxProperties", hi)) if v is not None})
    elif kind == "string":
        schema = {"type": "string"}
        schema.update({k: v for k, v in (("minLength", lo), ("maxLength", hi)) if v is not None})
        if getattr(shape, "enum", None):
            schema["enum"] = list(shape.enum)
        if shape.metadata.get("pattern"):
            schema["pattern"] = shape.metadata["pattern"]
    elif kind in ("integer", "long"):
        schema = {"type": "integer"}
        schema.update({k: v for k, v in (("minimum", lo), ("maximum", hi)) if v is not None})
    elif kind in ("float", "double"):
        schema = {"type": "number"}
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "timestamp":
        schema = {"type": ["string", "number"], "description": "ISO-8601 date and time, or epoch seconds"}
    elif kind == "blob":
        schema = {"type": "string", "contentEncoding": "base64"}
    return schema


_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "list": (list, tuple),
    "map": (dict,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "blob": (bytes, bytearray, str),
    "timestamp": (int, float, str, dt.datetime),
}


def validate(shape: Shape, value: object, path: Path = ()) -> list[Violation]:
    """Every constraint of ``shape`` that ``value`` breaks, nested members included."""
    return list(_walk(shape, value, path))


def _walk(shape: Shape, value: object, path: Path) -> Iterator[Violation]:
    kind = shape.type_name
    allowed = _TYPES.get(kind, (object,))
    if not isinstance(value, allowed) or (kind in ("integer", "long", "float", "double") and isinstance(value, bool)):
        yield Violation(path, "type", f"must be a {kind}, got {type(value).__name__}")
        return
    if kind == "structure":
        assert isinstance(value, Mapping)
        for name in shape.required_members:
            if value.get(name) is None:
                yield Violation((*path, name), "required", "is required")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                yield from _walk(member, value[name], (*path, name))
    elif kind == "list":
        yield from _size(shape, len(value), path, "item")
        for i, item in enumerate(value):
            yield from _walk(shape.member, item, (*path, i))
    elif kind == "map":
        assert isinstance(value, Mapping)
        yield from _size(shape, len(value), path, "entry")
        for key, item in value.items():
            for v in _walk(shape.key, key, (*path, key)):
                yield Violation(v.path, v.constraint, f"key {v.message}", on_key=True)
            yield from _walk(shape.value, item, (*path, key))
    elif kind == "string":
        assert isinstance(value, str)
        yield from _size(shape, len(value), path, "character")
        if shape.enum and value not in shape.enum:
            yield Violation(path, "enum", "must be one of " + ", ".join(shape.enum))
        pattern = shape.metadata.get("pattern")
        if pattern and not compiled_pattern(pattern).fullmatch(value):
            yield Violation(path, "pattern", f"must match the pattern {pattern}")
    elif kind in ("integer", "long", "float", "double"):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            yield Violation(path, "range", f"must be {describe(shape)}")
    elif kind == "timestamp" and isinstance(value, str):
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            yield Violation(path, "type", "must be a date and time (ISO-8601) or epoch seconds")


def _size(shape: Shape, n: int, path: Path, unit: str) -> Iterator[Violation]:
    lo, hi, text = _bounds(shape, unit)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        yield Violation(path, "length" if unit == "character" else "size", f"must have {text} (has {n})")
