"""The layout of an operation's form: a tree of fields, groups of members and rows.

It follows the operation's input shape, and the submitted keys say how many rows each list and
map has (a person adds and removes rows with plain submit buttons, so the rows are in the data,
not in the model). Building the tree also makes the form fields, because a field's name, label
and whether it is required all depend on where it sits in the tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from botocore.model import Shape
from django import forms

from awsmodel.constraints import describe
from awsmodel.shapes import Path, ShapeWalk, first_paragraph
from integrations.forms.data import field_name, path_label, row_indices
from integrations.forms.fields import make_field
from operations import FieldHint, Operation


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
    # Filled from the form's ``errors`` when the layout is shown (see ``OperationForm.layout``).
    errors: list[str] = field(default_factory=list)
    bound_field: forms.BoundField | None = None
    # A field's scalar shape and hint: what its error messages are worded from.
    shape: Shape | None = field(default=None, repr=False)
    hint: FieldHint | None = field(default=None, repr=False)

    @property
    def add_action(self) -> str:
        return f"add:{self.name}"

    @property
    def remove_action(self) -> str:
        return f"remove:{self.name}"

    def nodes(self) -> Iterator[Node]:
        """This node and every node under it, parents first."""
        yield self
        for child in self.children:
            yield from child.nodes()


class _Slot(NamedTuple):
    """What a parent says of a child it lays out: the layout walk has no value to walk, and carries
    this down instead (a member's name, "item 2", "Key"; whether the parent requires it)."""

    label: str
    required: bool


class _Build(ShapeWalk):
    """The layout of one shape at ``path``, making a form field for every scalar on the way."""

    def __init__(self, operation: Operation, keys: Iterable[str], *, bound: bool) -> None:
        self.operation = operation
        self.keys = list(keys)
        self.bound = bound
        self.fields: dict[str, forms.Field] = {}

    def _hint(self, path: Path) -> FieldHint:
        # Hints are keyed by member names only: one hint serves every row of a list or map.
        return self.operation.hints.get(".".join(p for p in path if isinstance(p, str)), FieldHint())

    def structure(self, shape: Any, slot: _Slot, path: Path) -> Node:
        hint = self._hint(path)
        node = Node("struct", field_name(path), hint.label or slot.label, hint.help or first_paragraph(shape))
        node.required = slot.required
        for member, member_shape in shape.members.items():
            if not path and member == self.operation.token_member:
                continue  # the portal creates and keeps the client token
            member_slot = _Slot(member, member in shape.required_members)
            node.children.append(self.walk(member_shape, member_slot, (*path, member)))
        return node

    def _rows(self, shape: Any, slot: _Slot, path: Path, *, is_map: bool) -> tuple[Node, int]:
        """The group of a list's or map's rows (still empty), and how many rows it has."""
        hint = self._hint(path)
        words = describe(shape, self.operation.pattern_words)
        doc = (hint.help or first_paragraph(shape)) + (f" Constraint: {words}." if words else "")
        node = Node("rows", field_name(path), hint.label or slot.label, doc, is_map=is_map, required=slot.required)
        node.path_label = path_label(path)
        indices = row_indices(self.keys, node.name)
        # A new form offers one empty row to fill; a submitted one has exactly the rows sent.
        count = (max(indices) + 1) if indices else (0 if self.bound else 1)
        return node, count

    def list(self, shape: Any, slot: _Slot, path: Path) -> Node:
        node, count = self._rows(shape, slot, path, is_map=False)
        for i in range(count):
            row = self.walk(shape.member, _Slot(f"item {i + 1}", True), (*path, i))
            if row.kind == "field":  # one value a row: "Folders 2", not the list's own label again
                row.label = self.fields[row.name].label = f"{node.label} {i + 1}"
            node.children.append(row)
        return node

    def map(self, shape: Any, slot: _Slot, path: Path) -> Node:
        node, count = self._rows(shape, slot, path, is_map=True)
        for i in range(count):
            row_path = (*path, i)
            row = Node("struct", field_name(row_path), f"entry {i + 1}")
            row.children = [
                self.walk(shape.key, _Slot("Key", True), (*row_path, "key")),
                self.walk(shape.value, _Slot("Value", True), (*row_path, "value")),
            ]
            node.children.append(row)
        return node

    def scalar(self, shape: Shape, slot: _Slot, path: Path) -> Node:
        name = field_name(path)
        hint = self._hint(path)
        # Only top-level members are required as such; a nested one is required only when its
        # parent is present, which the model validation decides after cleaning.
        self.fields[name] = make_field(
            shape,
            hint,
            slot.label,
            required=slot.required and len(path) == 1,
            sensitive=bool(shape.metadata.get("sensitive")),
            words=self.operation.pattern_words,
        )
        return Node("field", name, hint.label or slot.label, required=slot.required, shape=shape, hint=hint)


def build_layout(operation: Operation, keys: Iterable[str], *, bound: bool) -> tuple[Node, dict[str, forms.Field]]:
    """The layout of ``operation``'s form and its fields, in order, by name.

    ``keys`` are the names of the submitted (or initial) data: they decide how many rows each
    list and map gets. ``bound`` says whether they were submitted: an unbound form offers one
    empty row where no row is given, a bound one shows only the rows that were sent.
    """
    builder = _Build(operation, keys, bound=bound)
    root = builder.walk(operation.input_shape, _Slot("", True))
    return root, builder.fields
