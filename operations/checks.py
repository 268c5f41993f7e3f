"""The one validation path of an operation's parameters, for the forms and the API alike.

The botocore model's constraints first; the documented rules only once those hold (they read
members whose types the model has already checked).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.model import StructureShape

from awsmodel.constraints import Violation, validate
from awsmodel.shapes import Path, ShapeCheck
from operations import Operation

# Violation is part of this module's answer, so it is exported with it.
__all__ = ["SAMPLE_TOKEN", "Violation", "check_parameters"]

# Stands in for the token the portal creates when it records the request, so that validation
# sees the input exactly as it will be sent.
SAMPLE_TOKEN = "00000000-0000-4000-8000-000000000000"


class _UnknownMembers(ShapeCheck):
    def structure(self, shape: StructureShape, value: Any, path: Path) -> Iterator[Violation]:
        if isinstance(value, Mapping):
            for name, item in value.items():
                if name not in shape.members:
                    yield Violation((*path, name), "unknown", "is not a parameter of this operation")
                else:
                    yield from self.walk(shape.members[name], item, (*path, name))


def _unstorable(params: Mapping[str, Any]) -> list[Violation]:
    """Values JSON (and so the record) cannot hold: infinite or NaN numbers, NUL characters.

    A form never sends them (its fields refuse NUL, like Django's); a JSON body can (1e400 parses
    as infinity), and the database would refuse the row instead of the caller getting a 400.
    Walked without recursion: a body may nest as deep as the JSON parser allowed.
    """
    found = []
    stack: list[tuple[object, Path]] = [(params, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append(Violation(path, "type", "must be a finite number"))
        elif isinstance(value, str) and "\x00" in value:
            found.append(Violation(path, "pattern", "must not contain NUL characters"))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    found.append(Violation((*path, key), "pattern", "key must not contain NUL", on_key=True))
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
    return found


def check_parameters(operation: Operation, params: Mapping[str, Any], *, strict: bool = False) -> list[Violation]:
    """Every way ``params`` (without the client token) break the model or the docs.

    ``strict`` also refuses members the model does not have and a client token given by the
    caller: a form cannot send either, an API caller can.
    """
    shape = operation.model.input_shape
    assert shape is not None, f"{operation.key} has no input shape"  # every registered operation has one
    found: list[Violation] = _unstorable(params)
    token = operation.token_member
    if strict:
        if token and token in params:
            found.append(Violation((token,), "unknown", "is created and kept by the portal; leave it out"))
        found += list(_UnknownMembers().walk(shape, {k: v for k, v in params.items() if k != token}))
    candidate = {**params, **({token: SAMPLE_TOKEN} if token else {})}
    found += validate(shape, candidate)
    if not found:
        found = operation.documented_rules(candidate)
    return found
