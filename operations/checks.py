"""The one validation path of an operation's parameters, for the forms and the API alike.

In order, each step only once the ones before it found nothing to say (a later step reads values
the earlier ones have vouched for):

1. what nothing can store or send: NUL and lone surrogates anywhere (map keys included), numbers
   that are not finite. Reported alone, since every other message would have to quote them;
2. the botocore model's constraints (``awsmodel.constraints``), unknown members and the client
   token (``strict``), and ``null`` given for an optional member (refused: leave it out);
3. botocore's own client-side validation and serialization of the final parameters, the client
   token included: the floor. Nothing botocore would refuse in the worker is ever recorded;
4. JSON documents held in a string (Supply Chain's ``data``) read as RFC 8259 JSON;
5. the documented values and cross-field rules (the operation's ``rules``).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.serialize import Serializer, create_serializer
from botocore.validate import ParamValidationDecorator, ParamValidator

from awsmodel.characters import must_not_contain, unstorable_character
from awsmodel.constraints import Violation, validate
from awsmodel.shapes import Path, ShapeCheck, ShapeWalk
from awsmodel.timestamps import FORMAT_WORDS, TimestampError, read_moment
from operations import Operation

# Violation is part of this module's answer, so it is exported with it.
__all__ = ["SAMPLE_TOKEN", "Violation", "check_parameters"]

# Stands in for the token the portal creates when it records the request, so that validation
# sees the input exactly as it will be sent.
SAMPLE_TOKEN = "00000000-0000-4000-8000-000000000000"

NULL_WORDS = "must not be null: leave the member out when it is not given"


class _UnknownMembers(ShapeCheck):
    def structure(self, shape: StructureShape, value: Any, path: Path) -> Iterator[Violation]:
        if isinstance(value, Mapping):
            for name, item in value.items():
                if name not in shape.members:
                    yield Violation((*path, name), "unknown", "is not a parameter of this operation")
                else:
                    yield from self.walk(shape.members[name], item, (*path, name))


class _NullMembers(ShapeCheck):
    """Optional members given as ``null`` (a JSON body can; a form cannot). Required ones are
    reported by the model's validator as missing; list items and map values as of the wrong type."""

    def __init__(self, skip: str | None) -> None:
        self.skip = skip

    def structure(self, shape: StructureShape, value: Any, path: Path) -> Iterator[Violation]:
        if isinstance(value, Mapping):
            for name in shape.members:
                optional = name not in shape.required_members and (path or name != self.skip)
                if optional and name in value and value[name] is None:
                    yield Violation((*path, name), "type", NULL_WORDS)
        yield from super().structure(shape, value, path)


def _unstorable(params: Mapping[str, Any]) -> list[Violation]:
    """Values the record cannot hold and botocore cannot send: NaN and infinite numbers, NUL and
    lone surrogates (``awsmodel.characters``), in values and in map keys.

    A form never sends them (a browser's text is UTF-8, and Django reads a surrogate's bytes as
    U+FFFD); a JSON body can (1e400 parses as infinity, "\\ud800" as a lone surrogate), and the
    database would refuse the row instead of the caller getting a 400. Walked without recursion:
    a body may nest as deep as the JSON parser allowed.
    """
    found = []
    stack: list[tuple[object, Path]] = [(params, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append(Violation(path, "type", "must be a finite number"))
        elif isinstance(value, str):
            character = unstorable_character(value)
            if character is not None:
                found.append(Violation(path, "character", must_not_contain(character)))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                character = unstorable_character(key) if isinstance(key, str) else None
                if character is not None:
                    found.append(
                        Violation((*path, key), "character", f"key {must_not_contain(character)}", on_key=True)
                    )
                stack.append((item, (*path, key)))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
    found.reverse()  # the stack reads the input backwards
    return found


# --- the floor: botocore's own validation and serialization ---------------------------------------


class _BotocoreNames(ShapeWalk):
    """Where each name botocore's validator reports (".tags[0].key", ".Tags (key: env)") sits in the
    input, with its shape: botocore names values, the portal's violations locate them by path."""

    def __init__(self, shape: Shape) -> None:
        # botocore's name -> (path, shape, whether it names a map entry's key)
        self.names: dict[str, tuple[Path, Shape | None, bool]] = {"": ((), shape, False)}
        self._name = ""

    def _descend(self, shape: Shape, value: Any, path: Path, name: str) -> None:
        self.names.setdefault(name, (path, shape, False))
        outer, self._name = self._name, name
        self.walk(shape, value, path)
        self._name = outer

    def structure(self, shape: StructureShape, value: Any, path: Path) -> None:
        if isinstance(value, Mapping):
            name = self._name
            for member, item in value.items():
                if member in shape.members:
                    self._descend(shape.members[member], item, (*path, member), f"{name}.{member}")

    def list(self, shape: ListShape, value: Any, path: Path) -> None:
        if isinstance(value, (list, tuple)):
            name = self._name
            for i, item in enumerate(value):
                self._descend(shape.member, item, (*path, i), f"{name}[{i}]")

    def map(self, shape: MapShape, value: Any, path: Path) -> None:
        if isinstance(value, Mapping):
            name = self._name
            for key, item in value.items():
                self.names.setdefault(f"{name} (key: {key})", ((*path, key), shape.key, True))
                self._descend(shape.value, item, (*path, key), f"{name}.{key}")


def _type_words(shape: Shape | None) -> str:
    if shape is None:
        return "is not of a type botocore accepts"
    if shape.type_name == "timestamp":
        return f"must be {FORMAT_WORDS}"
    return f"must be a {shape.type_name}"


def _from_botocore(reason: str, name: str, details: Mapping[str, Any], names: _BotocoreNames) -> Violation:
    """One entry of botocore's validation report as a violation at its member's path."""
    path, shape, on_key = names.names.get(name, ((), None, False))
    if reason == "missing required field":
        return Violation((*path, str(details.get("required_name"))), "required", "is required")
    if reason == "unknown field":
        return Violation((*path, str(details.get("unknown_param"))), "unknown", "is not a parameter of this operation")
    key = "key " if on_key else ""
    if reason == "invalid type":
        return Violation(path, "type", key + _type_words(shape), on_key=on_key)
    if reason == "invalid range":
        return Violation(path, "range", f"{key}must be at least {details.get('min_allowed')}", on_key=on_key)
    if reason == "invalid length":
        least = details.get("min_allowed")
        unit = {"string": "character", "list": "item", "map": "entry"}.get(shape.type_name if shape else "", "")
        units = "" if not unit else unit if least == 1 else unit[:-1] + "ies" if unit.endswith("y") else unit + "s"
        message = f"{key}must have at least {least} {units}".rstrip()
        return Violation(path, "length" if unit == "character" else "size", message, on_key=on_key)
    if reason in ("more than one input", "empty input"):
        return Violation(path, "rule", "must set exactly one of its members")
    return Violation(path, "type", f"{key}is refused by botocore ({reason})", on_key=on_key)


@functools.cache
def _serializer(protocol: str) -> Serializer | ParamValidationDecorator:
    # Without validation (the stubs name the validating wrapper either way): ParamValidator ran already.
    return create_serializer(protocol, include_validation=False)


def _botocore_floor(model: OperationModel, candidate: Mapping[str, Any]) -> list[Violation]:
    """What botocore itself refuses of the final parameters: its ``ParamValidator`` (the check
    ``validate_parameters`` makes before every call), then its serializer (what it cannot send)."""
    shape = model.input_shape
    if shape is None:
        return []
    try:
        report = ParamValidator().validate(candidate, shape)
    except Exception as error:  # botocore's checks must never become a 500: a refusal is the safe answer
        return [Violation((), "type", f"cannot be checked by botocore ({type(error).__name__})")]
    if report.has_errors():
        entries = getattr(report, "_errors", None)  # (reason, name, details): botocore's own report
        if not isinstance(entries, list) or not entries:
            return [Violation((), "type", "are refused by botocore's own validation")]
        names = _BotocoreNames(shape)
        names.walk(shape, candidate)
        return [_from_botocore(reason, name, details, names) for reason, name, details in entries]
    try:
        _serializer(model.metadata["protocol"]).serialize_to_request(candidate, model)
    except Exception as error:
        return [Violation((), "type", f"cannot be sent by botocore ({type(error).__name__}: {str(error)[:200]})")]
    return []


# --- documents and rules ----------------------------------------------------------------------------


def check_parameters(operation: Operation, params: Mapping[str, Any], *, strict: bool = False) -> list[Violation]:
    """Every way ``params`` (without the client token) break the model, botocore or the docs.

    ``strict`` also refuses members the model does not have and a client token given by the
    caller: a form cannot send either, an API caller can.
    """
    shape = operation.input_shape
    found = _unstorable(params)
    if found:
        return found
    token = operation.token_member
    if strict:
        if token and token in params:
            found.append(Violation((token,), "unknown", "is created and kept by the portal; leave it out"))
        found += list(_UnknownMembers().walk(shape, {k: v for k, v in params.items() if k != token}))
    found += list(_NullMembers(token).walk(shape, params))
    candidate = {**params, **({token: SAMPLE_TOKEN} if token else {})}
    found += validate(shape, candidate)
    if found:
        return found
    # Timestamps go to botocore's checks as the moments they were read as (``validate`` proved
    # botocore reads them the same): its validator and serializer would each parse them again.
    return _botocore_floor(operation.model, _Moments().walk(shape, candidate)) or operation.documented_rules(candidate)


class _Moments(ShapeWalk):
    """The parameters with every timestamp as a datetime (values already accepted by ``validate``)."""

    def scalar(self, shape: Shape, value: Any, path: Path) -> Any:
        if shape.type_name != "timestamp" or value is None or isinstance(value, dt.datetime):
            return value
        try:
            return read_moment(value)
        except TimestampError:
            return value  # not accepted: botocore's checks say so in their own words
