"""One form for every operation, built from the operation's botocore input shape.

Each scalar member becomes a field named by its path ("ScheduleConfig__ScheduleExpression");
lists and maps become rows ("tags__0__key", "Tags__0__value"), added and removed with plain
submit buttons so they work with and without JavaScript. The cleaned data is turned back into
API parameters and checked with the same model validator and documented rules the sandbox
uses, so the form accepts exactly what the service accepts; each violation lands on the field
(or group of rows) it belongs to.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.model import Shape
from django import forms
from django.utils import timezone

from awsmodel.constraints import Violation, describe, pattern_words
from awsmodel.shapes import Path, first_paragraph
from operations import FieldHint, Operation
from operations.checks import check_parameters

SEP = "__"
ROWS_ACTION = "_rows"
# Names the one field to check when a person leaves it (the whole form is sent, for the rules).
FIELD = "_field"


def field_name(parts: Path) -> str:
    return SEP.join(str(p) for p in parts)


def path_label(parts: Path) -> str:
    return " › ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in parts)


def _row_indices(keys, name: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(name)}{SEP}(\d+)(?:{SEP}|$)")
    return sorted({int(m[1]) for k in keys if (m := pattern.match(k))})


class TimestampField(forms.Field):
    """A date and time (ISO-8601) or epoch seconds; sent to botocore as an ISO-8601 string."""

    widget = forms.TextInput

    def to_python(self, value: object) -> str | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        try:
            moment = dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise forms.ValidationError(
                    "Enter a date and time such as 2026-01-31T14:30:00Z, or epoch seconds."
                ) from None
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat()


def make_field(
    shape: Shape, hint: FieldHint, label: str, required: bool, sensitive: bool, words: Mapping[str, str]
) -> forms.Field:
    """A form field for one scalar member, with the model's limits and the docs' help."""
    help_parts = [hint.help or first_paragraph(shape)]
    # Declared choices are the real constraint (the model only says "1–255 characters").
    said = hint.words or (f"one of {', '.join(hint.choice_values)}" if hint.choices else describe(shape, words))
    if said:
        help_parts.append(f"Constraint: {said}.")
    common = {"label": hint.label or label, "required": required, "help_text": " ".join(p for p in help_parts if p)}
    kind = shape.type_name
    choices = hint.choices or (tuple(shape.enum) if getattr(shape, "enum", None) else None)
    if choices:
        pairs = [(c, c) if isinstance(c, str) else c for c in choices]
        return forms.ChoiceField(choices=[("", "—"), *pairs], **common)
    if kind in ("integer", "long"):
        return forms.IntegerField(min_value=shape.metadata.get("min"), max_value=shape.metadata.get("max"), **common)
    if kind in ("float", "double"):
        return forms.FloatField(**common)
    if kind == "boolean":
        return forms.TypedChoiceField(
            choices=[("", "—"), ("true", "true"), ("false", "false")],
            coerce=lambda v: v == "true",
            empty_value=None,
            **common,
        )
    if kind == "timestamp":
        return TimestampField(**common)
    widget = forms.Textarea(attrs={"rows": 6}) if (hint.widget == "textarea" or sensitive) else forms.TextInput
    # No stripping: a value AWS accepts with its spaces must arrive with them.
    return forms.CharField(widget=widget, strip=False, **common)


@dataclass
class Node:
    """The layout of a form: fields, groups of members, and rows of lists and maps."""

    kind: str  # "field", "struct" or "rows"
    name: str
    label: str
    help: str = ""
    children: list[Node] = field(default_factory=list)
    is_map: bool = False
    required: bool = False
    # Where the node sits, in words: names a row's buttons apart from a nested group's.
    path_label: str = ""
    errors: list[str] = field(default_factory=list)
    bound_field: forms.BoundField | None = None

    @property
    def add_action(self) -> str:
        return f"add:{self.name}"

    @property
    def remove_action(self) -> str:
        return f"remove:{self.name}"


class OperationForm(forms.Form):
    """The form of one registered operation; ``params`` holds the API parameters once valid."""

    def __init__(self, operation: Operation, data: Mapping | None = None, *, initial: Mapping | None = None):
        super().__init__(data=data, initial=initial)
        self.operation = operation
        self._source = data if data is not None else (initial or {})
        self._origins: dict[Path, str] = {}
        self._key_origins: dict[Path, str] = {}
        self._hints_by_field: dict[str, FieldHint] = {}
        self._shapes_by_field: dict[str, Shape] = {}
        self.params: dict = {}
        self.group_errors: dict[str, list[str]] = {}
        shape = operation.model.input_shape
        self.root = self._build(shape, (), (), "", required=True, top=True)

    # --- building ---------------------------------------------------------------------------------

    def _hint(self, hint_path: tuple[str, ...]) -> FieldHint:
        return self.operation.hints.get(".".join(hint_path), FieldHint())

    def _build(self, shape: Shape, parts: Path, hint_path: tuple[str, ...], label: str, required: bool, top: bool):
        name = field_name(parts)
        hint = self._hint(hint_path)
        kind = shape.type_name
        doc = hint.help or first_paragraph(shape)
        if kind == "structure":
            node = Node("struct", name, hint.label or label, doc, required=required)
            for member, member_shape in shape.members.items():
                if not parts and member == self.operation.token_member:
                    continue  # the portal creates and keeps the client token
                node.children.append(
                    self._build(
                        member_shape,
                        (*parts, member),
                        (*hint_path, member),
                        member,
                        required=member in shape.required_members,
                        top=top and not parts,
                    )
                )
            return node
        if kind in ("list", "map"):
            words = describe(shape, self.operation.pattern_words)
            node = Node("rows", name, hint.label or label, doc + (f" Constraint: {words}." if words else ""))
            node.path_label = path_label(parts)
            node.is_map, node.required = kind == "map", required
            indices = _row_indices(self._source.keys(), name)
            count = (max(indices) + 1) if indices else (0 if self.is_bound else 1)
            for i in range(count):
                row_parts = (*parts, i)
                if kind == "list":
                    row = self._build(shape.member, row_parts, hint_path, f"item {i + 1}", required=True, top=False)
                    if row.kind == "field":  # one value a row: "Folders 2", not the list's own label again
                        row.label = self.fields[row.name].label = f"{node.label} {i + 1}"
                else:
                    row = Node("struct", field_name(row_parts), f"entry {i + 1}")
                    row.children = [
                        self._build(shape.key, (*row_parts, "key"), (*hint_path, "key"), "Key", True, False),
                        self._build(shape.value, (*row_parts, "value"), (*hint_path, "value"), "Value", True, False),
                    ]
                node.children.append(row)
            return node
        sensitive = bool(shape.metadata.get("sensitive"))
        # Only top-level members are required as such; a nested one is required only when its
        # parent is present, which the model validation decides after cleaning.
        self.fields[name] = make_field(
            shape, hint, label, required=required and top, sensitive=sensitive, words=self.operation.pattern_words
        )
        self._hints_by_field[name] = hint
        self._shapes_by_field[name] = shape
        return Node("field", name, hint.label or label, required=required)

    # --- rendering --------------------------------------------------------------------------------

    @property
    def layout(self) -> Node:
        """The layout tree, each node carrying its bound field and its errors."""
        if self.is_bound:
            self.errors  # noqa: B018 - runs validation, which fills the groups' errors
        self._attach(self.root)
        return self.root

    def find(self, name: str) -> Node | None:
        """The field node called ``name``, with its bound field and errors, if the form has it."""
        stack = [self.layout]
        while stack:
            node = stack.pop()
            if node.kind == "field" and node.name == name:
                return node
            stack.extend(node.children)
        return None

    def _attach(self, node: Node) -> None:
        if node.kind == "field":
            node.bound_field = self[node.name]
        else:
            node.errors = self.group_errors.get(node.name, []) if self.is_bound else []
            for child in node.children:
                self._attach(child)

    # --- parameters -------------------------------------------------------------------------------

    def _collect(self, node: Node, shape: Shape, at: Path, extra: list[Violation]) -> object:
        """The API value of ``node`` from cleaned data (None when left empty)."""
        self._origins[at] = node.name
        kind = shape.type_name
        if node.kind == "field":
            value = self.cleaned_data.get(node.name)
            default = self._hints_by_field[node.name].default
            if value in (None, "") and default is not None and node.name not in self.errors:
                value = default()
            return None if value in (None, "") else value
        if kind == "structure":
            members = [m for m in shape.members if not (not at and m == self.operation.token_member)]
            out = {}
            blanks = []
            for child, member in zip(node.children, members, strict=True):
                value = self._collect(child, shape.members[member], (*at, member), extra)
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
        if kind == "list":
            items: list = []
            for row in node.children:
                value = self._collect(row, shape.member, (*at, len(items)), extra)
                if value is not None:
                    items.append(value)
            return items or None
        entries: dict = {}
        for row in node.children:
            key_node, value_node = row.children
            slot = (*at, f"<key of {row.name}>")
            key = self._collect(key_node, shape.key, slot, extra)
            fresh = key is not None and key not in entries
            value_at = (*at, key) if fresh else (*at, f"<value of {row.name}>")
            value = self._collect(value_node, shape.value, value_at, extra)
            if key is None and value is None:
                continue
            if value is None:
                # A key with nothing under it is a real entry with an empty value; the model
                # decides whether the service accepts that ("" or no items).
                value = {"string": "", "list": [], "map": {}, "structure": {}}.get(shape.value.type_name)
                if value is None:
                    extra.append(Violation(value_at, "required", "is required"))
            if not fresh:
                # A missing key, or one given above: an error on this row's key, never a silent overwrite.
                problem = "is required" if key is None else "repeats a key given above"
                self._key_origins[slot] = key_node.name
                extra.append(Violation(slot, "required" if key is None else "rule", problem, on_key=True))
            if value is None or not fresh:
                continue
            self._key_origins[(*at, key)] = key_node.name
            entries[key] = value
        return entries or None

    def _place(self, violation: Violation) -> None:
        if violation.on_key and violation.path in self._key_origins:
            name = self._key_origins[violation.path]
        else:
            path = violation.path
            cut = len(path)
            while cut and path[:cut] not in self._origins:
                cut -= 1
            base = self._origins.get(path[:cut], "")
            rest = field_name(path[cut:])
            name = SEP.join(p for p in (base, rest) if p)
        message = self._message(violation, name)
        if name in self.fields:
            if not self.has_error(name):
                self.add_error(name, message)
        elif name in self._group_names():
            self.group_errors.setdefault(name, []).append(message)
        else:
            self.add_error(None, f"{path_label(violation.path)}: {message}")

    def _group_names(self) -> set[str]:
        names, stack = set(), [self.root]
        while stack:
            node = stack.pop()
            if node.kind != "field":
                names.add(node.name)
                stack.extend(node.children)
        return names

    def _message(self, violation: Violation, name: str) -> str:
        hint = self._hints_by_field.get(name)
        left_blank = violation.constraint != "rule" and self.cleaned_data.get(name) == ""
        if violation.constraint == "required" or left_blank:
            return "This field is required."
        shape = self._shapes_by_field.get(name)
        words = (hint.words if hint else None) or (
            pattern_words(shape, self.operation.pattern_words) if shape is not None else None
        )
        if violation.constraint == "pattern" and words:
            return f"Enter {words}."
        text = violation.message
        return text[0].upper() + text[1:] + "."

    def clean(self) -> dict:
        cleaned = super().clean()
        self.group_errors: dict[str, list[str]] = {}
        self._origins.clear()
        self._key_origins.clear()
        extra: list[Violation] = []
        shape = self.operation.model.input_shape
        params = self._collect(self.root, shape, (), extra) or {}
        for violation in extra + check_parameters(self.operation, params):
            self._place(violation)
        self.params = params
        return cleaned

    @property
    def group_errors_any(self) -> bool:
        return bool(getattr(self, "group_errors", None))

    def is_valid(self) -> bool:
        return super().is_valid() and not self.group_errors_any


def params_to_data(operation: Operation, params: Mapping) -> dict[str, str]:
    """The form data that fills ``operation``'s form with ``params`` again (for "run again")."""
    data: dict[str, str] = {}

    def walk(shape: Shape, value: object, parts: Path) -> None:
        kind = shape.type_name
        if value is None:
            return
        if kind == "structure" and isinstance(value, Mapping):
            for member, member_shape in shape.members.items():
                if not parts and member == operation.token_member:
                    continue
                walk(member_shape, value.get(member), (*parts, member))
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                data.setdefault(field_name((*parts, i)), "")
                walk(shape.member, item, (*parts, i))
        elif kind == "map" and isinstance(value, Mapping):
            for i, (key, item) in enumerate(value.items()):
                data[field_name((*parts, i, "key"))] = str(key)
                walk(shape.value, item, (*parts, i, "value"))
        elif kind == "boolean":
            data[field_name(parts)] = "true" if value else "false"
        else:
            data[field_name(parts)] = str(value)

    walk(operation.model.input_shape, params, ())
    # Row markers for lists of structures carry no value of their own.
    return {k: v for k, v in data.items() if v != "" or not any(o.startswith(k + SEP) for o in data)}


def edit_rows(data: Mapping, action: str) -> dict[str, str]:
    """The form data after "add:<rows>" or "remove:<rows>__<i>", with later rows renumbered."""
    values = {k: v for k, v in data.items() if k not in (ROWS_ACTION, "csrfmiddlewaretoken")}
    verb, _, target = action.partition(":")
    if verb == "add":
        indices = _row_indices(values.keys(), target)
        values[field_name((target, (max(indices) + 1) if indices else 0))] = ""
        return values
    if verb == "remove":
        rows, _, index_text = target.rpartition(SEP)
        if not index_text.isdigit():
            return values
        removed = int(index_text)
        pattern = re.compile(rf"^{re.escape(rows)}{SEP}(\d+)((?:{SEP}.*)?)$")
        out = {}
        for key, value in values.items():
            match = pattern.match(key)
            if not match or int(match[1]) < removed:
                out[key] = value
            elif int(match[1]) > removed:
                out[f"{rows}{SEP}{int(match[1]) - 1}{match[2]}"] = value
        return out
    return values
