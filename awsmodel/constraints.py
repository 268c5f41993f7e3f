"""Every constraint a botocore model carries, checked: the one validator of the portal and the sandbox.

botocore's own ``ParamValidator`` checks types, required members and minimum lengths only; AWS
also enforces maximum lengths, patterns, enums and collection sizes server-side, so this module
checks every constraint the model carries, and says each in words for help texts and errors.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

from awsmodel.shapes import Path, ShapeCheck, format_path
from awsmodel.timestamps import TimestampError, parse_timestamp
from awsmodel.words import PATTERN_WORDS

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
def compiled_pattern(pattern: str) -> regex.Pattern[str]:
    # AWS services match the whole value (Java's Pattern.matches), and Java's \w and \s are ASCII,
    # while \p{L}-style classes (Partner Central's tags) stay Unicode: the `regex` package reads
    # those, which the standard `re` module rejects.
    return regex.compile(_java_shorthands(pattern))


@dataclass(frozen=True)
class Violation:
    """One broken constraint, located by its path from the top of the input."""

    path: Path
    constraint: str  # required, type, length, pattern, enum, size, range, rule, character, unknown
    message: str
    on_key: bool = False  # the violation is about a map entry's key, not its value

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)


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


def pattern_words(shape: Shape, words: Mapping[str, str] = PATTERN_WORDS) -> str | None:
    """The shape's pattern in words from ``words`` (keyed by the model's exact pattern), or None
    when nobody has said it in words yet. An operation passes its own table (``Operation.words``)."""
    pattern = shape.metadata.get("pattern")
    return words.get(pattern) if pattern else None


def describe(shape: Shape, words: Mapping[str, str] = PATTERN_WORDS) -> str:
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
        parts.append(pattern_words(shape, words) or f"matching {pattern}")
    return ": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if len(parts) > 2 else "")


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
    return list(_Validate().walk(shape, value, path))


class _Validate(ShapeCheck):
    def walk(self, shape: Shape, value: Any = None, path: Path = ()) -> Iterator[Violation]:
        kind = shape.type_name
        allowed = _TYPES.get(kind, (object,))
        numeric = kind in ("integer", "long", "float", "double")
        if not isinstance(value, allowed) or (numeric and isinstance(value, bool)):
            return iter([Violation(path, "type", f"must be a {kind}, got {type(value).__name__}")])
        return super().walk(shape, value, path)

    def structure(self, shape: StructureShape, value: Any, path: Path) -> Iterator[Violation]:
        for name in shape.required_members:
            if value.get(name) is None:
                yield Violation((*path, name), "required", "is required")
        yield from super().structure(shape, value, path)

    def list(self, shape: ListShape, value: Any, path: Path) -> Iterator[Violation]:
        yield from _size(shape, len(value), path, "item")
        for i, item in enumerate(value):  # a tuple is a list here too
            yield from self.walk(shape.member, item, (*path, i))

    def map(self, shape: MapShape, value: Any, path: Path) -> Iterator[Violation]:
        yield from _size(shape, len(value), path, "entry")
        for key, item in value.items():
            for v in self.walk(shape.key, key, (*path, key)):
                yield Violation(v.path, v.constraint, f"key {v.message}", on_key=True)
            yield from self.walk(shape.value, item, (*path, key))

    def scalar(self, shape: Shape, value: Any, path: Path) -> Iterator[Violation]:
        kind = shape.type_name
        if kind == "string":
            yield from _size(shape, len(value), path, "character")
            enum = getattr(shape, "enum", None)
            if enum and value not in enum:
                yield Violation(path, "enum", "must be one of " + ", ".join(enum))
            pattern = shape.metadata.get("pattern")
            if pattern and not compiled_pattern(pattern).fullmatch(value):
                yield Violation(path, "pattern", f"must match the pattern {pattern}")
        elif kind in ("integer", "long", "float", "double"):
            lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                yield Violation(path, "range", f"must be {describe(shape)}")
        elif kind == "timestamp":
            # ISO-8601 or epoch seconds (a number, or a string of one), in the years botocore can send.
            try:
                parse_timestamp(value)
            except TimestampError as error:
                yield Violation(path, "type", str(error))


def _size(shape: Shape, n: int, path: Path, unit: str) -> Iterator[Violation]:
    lo, hi, text = _bounds(shape, unit)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        yield Violation(path, "length" if unit == "character" else "size", f"must have {text} (has {n})")
