"""Between API parameters and form data, both ways.

A form names each value by its path ("FileConfiguration__Filters__0__key"); the API nests it.
``collect_params`` turns a cleaned form into the parameters (and remembers which form name each
parameter came from, so that a violation of the model can be shown on what the person typed);
``params_to_data`` turns recorded parameters back into form data ("Run again"); ``edit_rows`` adds
or removes a row of a list or map in submitted data.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.model import Shape

from awsmodel.constraints import Violation
from awsmodel.shapes import Path, ShapeWalk
from operations import Operation

if TYPE_CHECKING:
    from integrations.forms.layout import Node

SEP = "__"
# The submit button that adds or removes a row: its value is "add:<rows>" or "remove:<rows>__<i>".
ROWS_ACTION = "_rows"
# Names the one field to check when a person leaves it (the whole form is sent, for the rules).
FIELD = "_field"


def field_name(parts: Path) -> str:
    """The form name of the value at ``parts``: ``Tags__0__key``."""
    return SEP.join(str(p) for p in parts)


def path_label(parts: Path) -> str:
    """``parts`` in words, counting rows from 1 as people do: ``Tags › item 1 › key``."""
    return " › ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in parts)


# A row number as the form writes it: ASCII digits without a leading zero. One longer than
# ROW_DIGITS is beyond every list's maximum, and is read as BEYOND rather than converted (Python
# refuses to read an int of more than 4,300 digits, and a row that far is refused anyway).
ROW_DIGITS = 9
BEYOND = 10**ROW_DIGITS
_ROW_NUMBER = re.compile(r"0|[1-9][0-9]*")


def row_number(part: str) -> int | None:
    """The row index a part of a form name stands for ("3" is row 3), or None if it is not one."""
    if not _ROW_NUMBER.fullmatch(part):
        return None
    return int(part) if len(part) <= ROW_DIGITS else BEYOND


class RowIndex:
    """The rows sent for each list and map, found by the group's form name.

    The keys are sorted once, so the keys under one group are a contiguous run found by bisection:
    laying out a form reads each key once per group it sits in, not every key for every group.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = sorted(k for k in keys if isinstance(k, str))

    def rows(self, name: str) -> list[tuple[int, str]]:
        """The rows of the group ``name`` that were sent: (index, the index as sent), by index."""
        prefix = name + SEP
        found: dict[int, str] = {}
        at = bisect.bisect_left(self.keys, prefix)
        while at < len(self.keys) and self.keys[at].startswith(prefix):
            part = self.keys[at][len(prefix) :].split(SEP, 1)[0]
            index = row_number(part)
            if index is not None:
                found.setdefault(index, part)
            at += 1
        return sorted(found.items())


def row_indices(keys: Iterable[str], name: str) -> list[int]:
    """The row numbers of the list or map ``name`` that appear in the form's ``keys``."""
    return [index for index, _ in RowIndex(keys).rows(name)]


# --- form -> parameters ---------------------------------------------------------------------------


def applies(node: Node, values: Mapping[str, Any]) -> bool:
    """Whether a node shown only for one choice (``Node.shown_when``) applies to these form values."""
    if node.shown_when is None:
        return True
    controller, expected = node.shown_when
    return str(values.get(controller) or "") == expected


@dataclass
class Collected:
    """The API parameters of a cleaned form, and where each of them came from in the form."""

    params: dict[str, Any]
    # Found while collecting: a map entry without a key, with a key given above, or without a value.
    violations: list[Violation] = field(default_factory=list)
    # Parameter path -> form name of the field or group it was collected from.
    origins: dict[Path, str] = field(default_factory=dict)
    # Map entry path -> form name of the field its key was typed in.
    key_origins: dict[Path, str] = field(default_factory=dict)

    def name_for(self, violation: Violation) -> str:
        """The form name a violation belongs on: the field or group at its path, or the closest
        one above it, with the rest of the path appended (a name no field has, if the violation
        is about something the form never sent)."""
        if violation.on_key and violation.path in self.key_origins:
            return self.key_origins[violation.path]
        path = violation.path
        cut = len(path)
        while cut and path[:cut] not in self.origins:
            cut -= 1
        base = self.origins.get(path[:cut], "")
        rest = field_name(path[cut:])
        return SEP.join(p for p in (base, rest) if p)


class _EmptyValue(ShapeWalk):
    """What a map entry with a key and nothing under it stands for: a real entry with an empty
    value, which the model then judges ("" or no items); ``None`` where no empty value exists."""

    def structure(self, shape: Any, value: Any, path: Path) -> dict[str, Any]:
        return {}

    def list(self, shape: Any, value: Any, path: Path) -> list[Any]:
        return []

    def map(self, shape: Any, value: Any, path: Path) -> dict[str, Any]:
        return {}

    def scalar(self, shape: Shape, value: Any, path: Path) -> str | None:
        return "" if shape.type_name == "string" else None


class _Collect(ShapeWalk):
    """The API value of a layout node (the walk's value) from cleaned data; None when left empty.

    The path is the parameter's path: rows left empty are skipped, so a list's indices are
    renumbered, and a map's entries are keyed by what was typed as their key.
    """

    def __init__(self, operation: Operation, cleaned_data: Mapping[str, Any], failed: Container[str]) -> None:
        self.token_member = operation.token_member
        self.cleaned_data = cleaned_data
        self.failed = failed
        self.found = Collected({})

    def walk(self, shape: Shape, value: Any = None, path: Path = ()) -> Any:
        node: Node = value
        self.found.origins[path] = node.name
        if not applies(node, self.cleaned_data):
            return None  # hidden in the browser (and not sent); ignored when sent without JavaScript
        return super().walk(shape, node, path)

    def scalar(self, shape: Shape, node: Node, path: Path) -> Any:
        value = self.cleaned_data.get(node.name)
        default = node.hint.default if node.hint else None
        # A default fills a field left empty, never one whose value could not be read.
        if value in (None, "") and default is not None and node.name not in self.failed:
            value = default()
        return None if value in (None, "") else value

    def structure(self, shape: Any, node: Node, path: Path) -> dict[str, Any] | None:
        members = [m for m in shape.members if not (not path and m == self.token_member)]
        out = {}
        blanks = []
        for child, member in zip(node.children, members, strict=True):
            value = self.walk(shape.members[member], child, (*path, member))
            if value is not None:
                out[member] = value
            elif child.kind == "field" and self.cleaned_data.get(child.name) == "":
                blanks.append(member)
        if out:
            # In a structure that is present, an empty required string is sent as "" (some
            # models allow it, e.g. an empty tag value); the model judges it like any value.
            for member in blanks:
                if member in shape.required_members and shape.members[member].type_name == "string":
                    out[member] = ""
        return out or None

    def list(self, shape: Any, node: Node, path: Path) -> list[Any] | None:
        items: list[Any] = []
        for row in node.children:
            value = self.walk(shape.member, row, (*path, len(items)))
            if value is not None:
                items.append(value)
        return items or None

    def map(self, shape: Any, node: Node, path: Path) -> dict[str, Any] | None:
        entries: dict[str, Any] = {}
        for row in node.children:
            key_node, value_node = row.children
            slot = (*path, f"<key of {row.name}>")
            key = self.walk(shape.key, key_node, slot)
            fresh = key is not None and key not in entries
            value_at = (*path, key) if fresh else (*path, f"<value of {row.name}>")
            value = self.walk(shape.value, value_node, value_at)
            if key is None and value is None:
                continue
            if value is None:
                # A key with nothing under it is a real entry with an empty value; the model
                # decides whether the service accepts that ("" or no items).
                value = _EmptyValue().walk(shape.value)
                if value is None:
                    self.found.violations.append(Violation(value_at, "required", "is required"))
            if not fresh:
                # A missing key, or one given above: an error on this row's key, never a silent overwrite.
                problem = "is required" if key is None else "repeats a key given above"
                self.found.key_origins[slot] = key_node.name
                self.found.violations.append(
                    Violation(slot, "required" if key is None else "rule", problem, on_key=True)
                )
            if value is None or not fresh:
                continue
            self.found.key_origins[(*path, key)] = key_node.name
            entries[key] = value
        return entries or None


def collect_params(
    operation: Operation, root: Node, cleaned_data: Mapping[str, Any], failed: Container[str] = ()
) -> Collected:
    """The API parameters of ``operation`` that the cleaned form data under ``root`` stands for.

    ``failed`` names the fields that did not clean: their defaults are not filled in, so that a
    value that could not be read is reported rather than silently replaced.
    """
    walk = _Collect(operation, cleaned_data, failed)
    walk.found.params = walk.walk(operation.input_shape, root) or {}
    return walk.found


# --- parameters -> form ---------------------------------------------------------------------------


class _ToData(ShapeWalk):
    """Form data from a value, into ``data``. The path is the form's: a map entry is a row of its
    own, with its key in ``<row>__key`` and its value under ``<row>__value``. A value of the wrong
    kind for its shape is written as text, so the form shows (and the model refuses) it."""

    def __init__(self, operation: Operation) -> None:
        self.token_member = operation.token_member
        self.data: dict[str, str] = {}

    def walk(self, shape: Shape, value: Any = None, path: Path = ()) -> None:
        if value is not None:
            super().walk(shape, value, path)

    def structure(self, shape: Any, value: Any, path: Path) -> None:
        if not isinstance(value, Mapping):
            return self.scalar(shape, value, path)
        for member, member_shape in shape.members.items():
            if not path and member == self.token_member:
                continue  # a new request gets a new token
            self.walk(member_shape, value.get(member), (*path, member))
        return None

    def list(self, shape: Any, value: Any, path: Path) -> None:
        if not isinstance(value, list):
            return self.scalar(shape, value, path)
        for i, item in enumerate(value):
            self.data.setdefault(field_name((*path, i)), "")  # the row, even if its item is empty
            self.walk(shape.member, item, (*path, i))
        return None

    def map(self, shape: Any, value: Any, path: Path) -> None:
        if not isinstance(value, Mapping):
            return self.scalar(shape, value, path)
        for i, (key, item) in enumerate(value.items()):
            self.data[field_name((*path, i, "key"))] = str(key)
            self.walk(shape.value, item, (*path, i, "value"))
        return None

    def scalar(self, shape: Shape, value: Any, path: Path) -> None:
        if shape.type_name == "boolean":
            self.data[field_name(path)] = "true" if value else "false"
        else:
            self.data[field_name(path)] = str(value)


def params_to_data(operation: Operation, params: Mapping[str, Any]) -> dict[str, str]:
    """The form data that fills ``operation``'s form with ``params`` again (for "run again")."""
    walk = _ToData(operation)
    walk.walk(operation.input_shape, params)
    data = walk.data
    # Row markers for lists of structures carry no value of their own.
    return {k: v for k, v in data.items() if v != "" or not any(o.startswith(k + SEP) for o in data)}


# --- rows -----------------------------------------------------------------------------------------


def edit_rows(data: Mapping[str, str], action: str) -> dict[str, str]:
    """The form data after "add:<rows>" or "remove:<rows>__<i>", with later rows renumbered.

    Renumbering keeps the rows contiguous, so the row numbers never leave a gap where a row was
    removed (the layout shows the rows sent, whatever their numbers).
    """
    values = {k: v for k, v in data.items() if k not in (ROWS_ACTION, "csrfmiddlewaretoken")}
    verb, _, target = action.partition(":")
    if verb == "add":
        indices = row_indices(values.keys(), target)
        values[field_name((target, (max(indices) + 1) if indices else 0))] = ""
        return values
    if verb == "remove":
        rows, _, index_text = target.rpartition(SEP)
        removed = row_number(index_text)
        if removed is None or removed == BEYOND:
            return values
        pattern = re.compile(rf"^{re.escape(rows)}{SEP}([0-9]+)((?:{SEP}.*)?)$", re.DOTALL)
        out = {}
        for key, value in values.items():
            match = pattern.match(key)
            index = row_number(match[1]) if match else None
            if match is None or index is None or index < removed or index == BEYOND:
                out[key] = value
            elif index > removed:
                out[f"{rows}{SEP}{index - 1}{match[2]}"] = value
        return out
    return values
