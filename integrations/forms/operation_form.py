"""The form of one registered operation: the layout's fields, cleaned, turned into API parameters,
and checked by the same model validator and documented rules the sandbox uses, so the form
accepts exactly what the service accepts.

Each violation is shown where the person can fix it: on its field, or on its group of rows (a
list's or map's size) or members. Both are in Django's ``errors``, a group's under its name, so
``errors`` is the whole truth and ``is_valid`` is Django's own.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from django import forms

from awsmodel.constraints import Violation, pattern_words
from integrations.forms.data import SEP, collect_params, path_label
from integrations.forms.layout import Node, build_layout
from operations import Operation
from operations.checks import check_parameters


class OperationForm(forms.Form):
    """The form of one registered operation; ``params`` holds the API parameters once valid."""

    def __init__(
        self,
        operation: Operation,
        data: Mapping[str, Any] | None = None,
        *,
        initial: MutableMapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data=data, initial=initial)
        self.operation = operation
        source = data if data is not None else (initial or {})
        layout = build_layout(operation, source.keys(), bound=self.is_bound)
        self.root = layout.root
        self.fields.update(layout.fields)
        # Groups sent a row beyond what they can hold (the row was not built): their errors.
        self._refused_rows = layout.refused
        nodes = list(self.root.nodes())
        self._field_nodes = {node.name: node for node in nodes if node.kind == "field"}
        # Lists, maps and structures (the root's name is ""): errors there belong to no field.
        self._group_names = {node.name for node in nodes if node.kind != "field"}
        self.params: dict[str, Any] = {}

    # --- rendering --------------------------------------------------------------------------------

    @property
    def layout(self) -> Node:
        """The layout tree, each node carrying its bound field and its errors."""
        if self.is_bound:
            self.errors  # noqa: B018 - runs validation, which places the errors
        self._attach(self.root)
        return self.root

    def find(self, name: str) -> Node | None:
        """The field node called ``name``, with its bound field and errors, if the form has it.

        A field of a row that was refused (numbered beyond what its list or map can hold, so
        never built) is answered with that group instead, which carries the error.
        """
        self.layout  # noqa: B018 - attaches the bound fields and errors
        node = self._field_nodes.get(name)
        if node is None and self.is_bound:
            groups = [g for g in self._refused_rows if name.startswith(g + SEP)]
            if groups:
                longest = max(groups, key=len)
                node = next(n for n in self.root.nodes() if n.kind == "rows" and n.name == longest)
        return node

    def _attach(self, node: Node) -> None:
        if node.kind == "field":
            node.bound_field = self[node.name]
        else:
            node.errors = [str(e) for e in self.errors.get(node.name, ())] if self.is_bound else []
            for child in node.children:
                self._attach(child)

    @property
    def group_errors(self) -> dict[str, list[str]]:
        """The errors of groups of rows or members, by group name: the part of ``errors`` that no
        field shows (a view, for callers and tests that look at groups only)."""
        return {name: [str(m) for m in messages] for name, messages in self.errors.items() if name in self._group_names}

    # --- validation -------------------------------------------------------------------------------

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        for group, message in self._refused_rows.items():
            self._add_group_error(group, message)
        collected = collect_params(self.operation, self.root, self.cleaned_data, failed=self.errors)
        for violation in collected.violations + check_parameters(self.operation, collected.params):
            self._place(violation, collected.name_for(violation))
        self.params = collected.params
        return cleaned

    def _place(self, violation: Violation, name: str) -> None:
        message = self._message(violation, name)
        if name in self.fields:
            if not self.has_error(name):
                self.add_error(name, message)
        elif name in self._group_names:
            self._add_group_error(name, message)
        else:
            self.add_error(None, f"{path_label(violation.path)}: {message}")

    def _add_group_error(self, name: str, message: str) -> None:
        """``add_error`` for a group: Django's own refuses names that are not fields, yet a group's
        error must count like any other (``is_valid``, ``errors``), so it is stored the same way."""
        errors = self.errors  # the ErrorDict being filled: validation is under way
        if name not in errors:
            errors[name] = self.error_class(renderer=self.renderer)
        errors[name].extend(forms.ValidationError(message).error_list)

    def _message(self, violation: Violation, name: str) -> str:
        """The violation in the words of the form: a field's own words for its pattern, and
        "This field is required." for any required value left blank, as Django says it."""
        node = self._field_nodes.get(name)
        hint = node.hint if node else None
        left_blank = violation.constraint != "rule" and self.cleaned_data.get(name) == ""
        if violation.constraint == "required" or left_blank:
            return "This field is required."
        shape = node.shape if node else None
        words = (hint.words if hint else None) or (
            pattern_words(shape, self.operation.pattern_words) if shape is not None else None
        )
        if violation.constraint == "pattern" and words:
            return f"Enter {words}."
        text = violation.message
        return text[0].upper() + text[1:] + "."
