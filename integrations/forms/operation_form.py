"""The form of one registered operation: the layout's fields, cleaned, turned into API parameters,
and checked by the same model validator and documented rules the sandbox uses, so the form
accepts exactly what the service accepts.

Each violation is shown where the person can fix it: on its field, or on its group of rows (a
list's or map's size) or members. Both are in Django's ``errors``, a group's under its name, so
``errors`` is the whole truth and ``is_valid`` is Django's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from django import forms

from awsmodel.constraints import Violation, pattern_words
from integrations.forms.data import SEP, applies, collect_params, path_label, row_number
from integrations.forms.layout import Node, build_layout
from operations import Operation
from operations.checks import check_parameters

# A member name as a rule's message says it: camelCase or PascalCase of two words at least
# ("eventType", "KmsKey", "SourceURI"). Plain words ("data", "Name", "Object") are left alone, since a
# sentence uses them as words too.
_MEMBER_NAME = re.compile(r"[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+[A-Z]\w*")


@dataclass(frozen=True)
class SummaryItem:
    """One line of the error summary: what is wrong, and the id of the element to go to."""

    anchor: str
    text: str


class OperationForm(forms.Form):
    """The form of one registered operation; ``params`` holds the API parameters once valid.

    ``mirror_rules``: a cross-field rule's error is also put on every other field it names (off
    when one field is checked as it is left: the person has not reached the others yet).
    ``unfold``: the name of a group whose rows were just added or removed; it and the groups
    around it are shown open, whatever they hold.
    """

    def __init__(
        self,
        operation: Operation,
        data: Mapping[str, Any] | None = None,
        *,
        initial: MutableMapping[str, Any] | None = None,
        mirror_rules: bool = True,
        unfold: str = "",
    ) -> None:
        super().__init__(data=data, initial=initial)
        self.operation = operation
        self.mirror_rules = mirror_rules
        self.unfold = unfold
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
        self._nodes = {node.name: node for node in nodes if node.name}
        # Members by the name a rule's message gives them: nodes outside any row, with a name
        # that reads as a member's (one per name; a name two members share names neither).
        named: dict[str, list[Node]] = {}
        for node in nodes:
            parts = node.name.split(SEP)
            if node.name and all(row_number(p) is None for p in parts):
                for said in {parts[-1], ".".join(parts)}:
                    if _MEMBER_NAME.fullmatch(said) or "." in said:
                        named.setdefault(said, []).append(node)
        self._named = {said: found[0] for said, found in named.items() if len(found) == 1}
        # A rule's sentence -> the id the summary links it to: the first field to fill in.
        self._rule_anchors: dict[str, str] = {}
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

    def _attach(self, node: Node) -> tuple[bool, bool]:
        """Attach bound fields and errors under ``node``; whether it holds a value, and an error.

        A folded group opens when it holds either, or when its rows were just edited: nothing the
        person typed or must correct is ever folded away. A value the form chose itself (a single
        documented value) is not the person's, and opens nothing.
        """
        if node.kind == "field":
            node.bound_field = self[node.name]
            return self._typed(node), bool(node.bound_field.errors)
        node.errors = [str(e) for e in self.errors.get(node.name, ())] if self.is_bound else []
        has_value, has_error = False, bool(node.errors)
        for child in node.children:
            value, error = self._attach(child)
            has_value, has_error = has_value or value, has_error or error
        edited = bool(self.unfold) and (self.unfold == node.name or self.unfold.startswith(node.name + SEP))
        node.open = has_value or has_error or edited
        return has_value, has_error

    def _typed(self, node: Node) -> bool:
        """Whether a field holds a value of the person's: not empty, and not the one the form chose."""
        value = self[node.name].value()
        return value not in (None, "") and value != self.fields[node.name].initial

    @property
    def error_summary(self) -> list[SummaryItem]:
        """Every error of a submitted form, in the order of the form, each linking to its field (or
        group): what the summary at the top lists. A rule's sentence, put on every field it names, is
        listed once, linking to the first field to fill in."""
        if not self.is_bound or not self.errors:
            return []
        self.layout  # noqa: B018 - places the errors
        items: list[SummaryItem] = []
        seen: set[str] = set()
        for message in self.non_field_errors():
            items.append(SummaryItem("operation-form", str(message)))
        for node in self.root.nodes():
            if not node.name:
                continue
            if node.kind == "field":
                messages, anchor = [str(m) for m in self.errors.get(node.name, ())], f"id_{node.name}"
            else:
                messages, anchor = node.errors, f"{'rows' if node.kind == 'rows' else 'group'}-{node.name}"
            for message in messages:
                if message not in self._rule_anchors:
                    items.append(SummaryItem(anchor, f"{node.words}: {message}"))
                elif message not in seen:  # a rule's sentence names its fields itself: listed once
                    seen.add(message)
                    items.append(SummaryItem(self._rule_anchors[message], message))
        return items

    @property
    def group_errors(self) -> dict[str, list[str]]:
        """The errors of groups of rows or members, by group name: the part of ``errors`` that no
        field shows (a view, for callers and tests that look at groups only)."""
        return {name: [str(m) for m in messages] for name, messages in self.errors.items() if name in self._group_names}

    # --- validation -------------------------------------------------------------------------------

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        self._ignore_what_does_not_apply()
        for group, message in self._refused_rows.items():
            self._add_group_error(group, message)
        collected = collect_params(self.operation, self.root, self.cleaned_data, failed=self.errors)
        for violation in collected.violations + check_parameters(self.operation, collected.params):
            self._place(violation, collected.name_for(violation))
        self._check_json_documents(collected.params)
        self.params = collected.params
        return cleaned

    def _ignore_what_does_not_apply(self) -> None:
        """Fields shown only for a choice not made are ignored, errors and all: the browser hides them
        and does not send them, so a value sent without JavaScript must not refuse the form either."""
        for node in self.root.nodes():
            if node.shown_when is not None and not applies(node, self.cleaned_data):
                for inner in node.nodes():
                    if inner.kind == "field":
                        self.errors.pop(inner.name, None)
                        self.cleaned_data.pop(inner.name, None)

    def _check_json_documents(self, params: dict[str, Any]) -> None:
        """Text that is not JSON at all, in a member whose text is a JSON document: said at once, even
        while other fields are still missing (the operation's rules, which say it too, run only once
        the model's constraints hold), so that a person leaving the field learns where it breaks."""
        for member in self.operation.json_members:
            text = params.get(member)
            if not isinstance(text, str) or member not in self.fields or self.has_error(member):
                continue
            try:
                json.loads(text)
            except json.JSONDecodeError as error:
                where = f"{error.msg} at line {error.lineno}, column {error.colno}"
                self._place_rule(
                    Violation((member,), "rule", f"must be JSON; it is not JSON: {where}"), self._nodes[member]
                )
            except (ValueError, RecursionError):
                continue  # the one validation path judges what the parser alone cannot (operations.checks)

    def _place(self, violation: Violation, name: str) -> None:
        if violation.constraint == "rule" and name in self._nodes:
            self._place_rule(violation, self._nodes[name])
            return
        message = self._message(violation, name)
        if name in self.fields:
            if not self.has_error(name):
                self.add_error(name, message)
        elif name in self._group_names:
            self._add_group_error(name, message)
        else:
            self.add_error(None, f"{path_label(violation.path)}: {message}")

    def _place_rule(self, violation: Violation, node: Node) -> None:
        """A documented rule's error, in the words of the labels ("Lambda function ARN is required when
        Provisioning type is LAMBDA."), on its field or group and, with ``mirror_rules``, on every
        other field it names and on the required fields of a group it is about, so that each field
        to change is marked, not only the group."""
        said = self._named_pattern().sub(lambda m: self._named[m[0]].label, violation.message)
        message = f"{node.label} {said.rstrip('.')}."
        empty = [c for c in node.children if c.kind == "field" and c.required and not self._typed(c)]
        first = empty[0] if empty else node
        self._rule_anchors.setdefault(message, f"id_{first.name}" if first.kind == "field" else f"group-{first.name}")
        marked = [node]
        if self.mirror_rules:
            marked += [self._named[m[0]] for m in self._named_pattern().finditer(violation.message)]
            marked += empty
        for target in {n.name: n for n in marked}.values():  # each once, in order
            if target.kind == "field":
                if not self.has_error(target.name):
                    self.add_error(target.name, message)
            else:
                self._add_group_error(target.name, message)

    def _named_pattern(self) -> re.Pattern[str]:
        """The member names this form's rules may mention, longest first (a dotted path before its parts)."""
        names = sorted(self._named, key=len, reverse=True) or ["(?!)"]
        return re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w.])")

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
