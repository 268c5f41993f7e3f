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
from django.conf import settings

from awsmodel.constraints import describe
from awsmodel.shapes import Path, ShapeWalk, first_paragraph
from awsmodel.sizes import max_items
from integrations.forms.data import BEYOND, ROW_DIGITS, RowIndex, field_name, path_label
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
    # A member naming an existing resource: its dotted path (the picker's key, in the choices URL)
    # and the form names of the members its choices depend on (they are sent along).
    picker_member: str = ""
    picker_depends: tuple[str, ...] = ()
    # Where the node sits, in the labels' words ("File configuration › Folder 1"): what the error
    # summary links say.
    words: str = ""
    # One row of a list or map in words ("Folder"), for row labels and the row buttons.
    item_label: str = ""
    # Applies only when a top-level field has one value: (that field's form name, the value).
    shown_when: tuple[str, str] | None = None
    # An optional group, folded (a <details>) until it holds a value or an error, so that a form
    # of many nested groups fits a screen; ``open`` is decided when the form is shown.
    collapsible: bool = False
    open: bool = False

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
        self.rows = RowIndex(keys)
        self.bound = bound
        self.fields: dict[str, forms.Field] = {}
        # Groups sent a row beyond what they can hold: group name -> the error, in words.
        self.refused: dict[str, str] = {}

    def _hint(self, path: Path) -> FieldHint:
        # Hints are keyed by member names only: one hint serves every row of a list or map.
        return self.operation.hints.get(".".join(p for p in path if isinstance(p, str)), FieldHint())

    def structure(self, shape: Any, slot: _Slot, path: Path) -> Node:
        hint = self._hint(path)
        node = Node("struct", field_name(path), hint.label or slot.label, hint.help or first_paragraph(shape))
        node.required = slot.required
        node.shown_when = _condition(hint, path)
        for member, member_shape in shape.members.items():
            if not path and member == self.operation.token_member:
                continue  # the portal creates and keeps the client token
            member_slot = _Slot(member, member in shape.required_members)
            node.children.append(self.walk(member_shape, member_slot, (*path, member)))
        return node

    def _rows(self, shape: Any, slot: _Slot, path: Path, *, is_map: bool) -> tuple[Node, list[int]]:
        """The group of a list's or map's rows (still empty), and the indices of its rows.

        A submitted form has exactly the rows sent, and only those are built: the work follows
        what was sent, never the highest index in it. An index beyond what the model allows
        (``max_items``) is not built either, but refused on the group; rows below it are kept even
        when there are more of them than the model allows, so that the model's own "at most"
        error shows them all.
        """
        hint = self._hint(path)
        words = describe(shape, self.operation.pattern_words)
        doc = (hint.help or first_paragraph(shape)) + (f" Constraint: {words}." if words else "")
        node = Node("rows", field_name(path), hint.label or slot.label, doc, is_map=is_map, required=slot.required)
        node.path_label = path_label(path)
        node.item_label = hint.item_label or node.label
        node.shown_when = _condition(hint, path)
        sent = self.rows.rows(node.name)
        if not sent:
            # A new form offers one empty row to fill; a submitted one has exactly the rows sent.
            return node, ([] if self.bound else [0])
        most = max_items(shape)
        cap = max(most if most is not None else unbounded_rows_cap(), len(sent))
        beyond = [text for index, text in sent if index >= cap]
        if beyond:
            self.refused[node.name] = _beyond_words(beyond[0], is_map, most, cap)
        return node, [index for index, _ in sent if index < cap]

    def list(self, shape: Any, slot: _Slot, path: Path) -> Node:
        node, indices = self._rows(shape, slot, path, is_map=False)
        for position, i in enumerate(indices, start=1):
            row = self.walk(shape.member, _Slot(f"item {position}", True), (*path, i))
            if row.kind == "field":  # one value a row: "Folder 2", not the list's own label again
                row.label = self.fields[row.name].label = f"{node.item_label} {position}"
            node.children.append(row)
        return node

    def map(self, shape: Any, slot: _Slot, path: Path) -> Node:
        node, indices = self._rows(shape, slot, path, is_map=True)
        for position, i in enumerate(indices, start=1):
            row_path = (*path, i)
            row = Node("struct", field_name(row_path), f"entry {position}")
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
        node = Node("field", name, hint.label or slot.label, required=slot.required, shape=shape, hint=hint)
        node.shown_when = _condition(hint, path)
        # Pickers are declared for members, never for rows of a list or map.
        dotted = ".".join(p for p in path if isinstance(p, str))
        picker = self.operation.pickers.get(dotted) if all(isinstance(p, str) for p in path) else None
        if picker is not None:
            node.picker_member = dotted
            node.picker_depends = tuple(field_name(tuple(d.split("."))) for d in picker.depends_on)
            # The browser's own autofill list would cover the choices; the text is still typed freely.
            self.fields[name].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        return node


@dataclass
class Layout:
    """A form's layout tree, its fields in order by name, and the groups refused a row they
    cannot hold (group name -> the error in words)."""

    root: Node
    fields: dict[str, forms.Field]
    refused: dict[str, str]


def build_layout(operation: Operation, keys: Iterable[str], *, bound: bool) -> Layout:
    """The layout of ``operation``'s form and its fields, in order, by name.

    ``keys`` are the names of the submitted (or initial) data: they decide which rows each list
    and map gets. ``bound`` says whether they were submitted: an unbound form offers one empty row
    where no row is given, a bound one shows only the rows that were sent.
    """
    builder = _Build(operation, keys, bound=bound)
    root = builder.walk(operation.input_shape, _Slot("", True))
    for child in root.children:
        _finish(child, "", conditional=False)
    return Layout(root, builder.fields, builder.refused)


def _condition(hint: FieldHint, path: Path) -> tuple[str, str] | None:
    """The hint's ``shown_when`` as form names; declared for members only, never for rows."""
    if hint.shown_when is None or not all(isinstance(p, str) for p in path):
        return None
    member, value = hint.shown_when
    return field_name(tuple(member.split("."))), value


def _words(within: str, label: str) -> str:
    return f"{within} › {label}" if within else label


def _finish(node: Node, within: str, *, conditional: bool) -> None:
    """Name each node in words and decide which groups fold.

    Every optional group folds, except one shown only for some choices (and what it holds): it
    appears because it now applies, and the operation's rules then require it, so folding it would
    hide what the person must fill in.
    """
    node.words = _words(within, node.label)
    conditional = conditional or node.shown_when is not None
    if node.kind == "field":
        return
    node.collapsible = not node.required and not conditional
    if node.kind == "struct":
        for child in node.children:
            _finish(child, node.words, conditional=conditional)
        return
    for position, row in enumerate(node.children, start=1):
        row_words = _words(within, f"{node.item_label} {position}")
        if row.kind == "field":
            row.words = row_words
            continue
        row.words = row_words
        for child in row.children:
            _finish(child, row_words, conditional=conditional)


def unbounded_rows_cap() -> int:
    """The most rows a list or map without a model maximum may be numbered up to: no form can send
    more fields than Django reads (``DATA_UPLOAD_MAX_NUMBER_FIELDS``), so no row beyond them."""
    return settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or BEYOND


def _beyond_words(index_text: str, is_map: bool, most: int | None, cap: int) -> str:
    """The error of a group sent a row numbered beyond what it can hold, counting from 1 as people do."""
    number = str(int(index_text) + 1) if len(index_text) <= ROW_DIGITS else index_text[:ROW_DIGITS] + "…"
    unit, units = ("Entry", "entries") if is_map else ("Item", "items")
    if most is not None:
        holds = f"this {'map' if is_map else 'list'} holds at most {most} {units}"
    else:
        holds = f"a form sends at most {cap} {units}"
    return f"{unit} {number} cannot be added: {holds}."
