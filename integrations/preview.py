"""The exact call a worker will make, shown before it is made: as a table of what is sent, in the
form's words (``review_rows``), and as boto3 code and an AWS CLI command, with the values filled
in, sensitive ones as their size and digest.

Redacted for everyone, those who may view sensitive parameters included, by the same function as
every other page (``permissions.shown_parameters``): the person previewing typed the value and has
it in the form already, while a preview is the page that gets pasted into a ticket, shared on a
screen, printed or kept by a browser or a proxy. Shortening is not redaction: a payload's first
characters are often exactly its secret (a customer's name, an order number).
"""

from __future__ import annotations

import json
import pprint
import shlex
from typing import Any, NamedTuple

from botocore import xform_name

from integrations.forms.fields import choice_words
from integrations.permissions import Call, either_of, shown_parameters
from operations import FieldHint, Operation

TOKEN_PLACEHOLDER = "<created when the request is recorded>"


def _shown(operation: Operation, params: dict) -> dict:
    """The parameters as the preview shows them: sensitive members as their size and digest."""
    return dict(shown_parameters(Call(operation.key, params), may_see_sensitive=False))


def boto3_code(operation: Operation, params: dict, region: str) -> str:
    shown = _shown(operation, params)
    if operation.token_member:
        shown[operation.token_member] = TOKEN_PLACEHOLDER
    lines = [
        "import boto3",
        "",
        f"client = boto3.client({operation.model.service_model.service_name!r}, region_name={region!r})",
        f"response = client.{xform_name(operation.name)}(",
    ]
    for name, value in shown.items():
        text = pprint.pformat(value, indent=1, width=88, sort_dicts=False).replace("\n", "\n    ")
        lines.append(f"    {name}={text},")
    lines.append(")")
    return "\n".join(lines)


def cli_command(operation: Operation, params: dict, region: str) -> str:
    shape = operation.input_shape
    shown = _shown(operation, params)
    if operation.token_member:
        shown[operation.token_member] = TOKEN_PLACEHOLDER
    parts = ["aws", operation.model.service_model.service_name, xform_name(operation.name, "-"), "--region", region]
    for name, value in shown.items():
        member = shape.members[name]
        flag = f"--{xform_name(name, '-')}"
        if member.type_name in ("structure", "list", "map"):
            parts += [flag, shlex.quote(json.dumps(value, ensure_ascii=False))]
        else:
            parts += [flag, shlex.quote(str(value))]
    return " \\\n  ".join(_pairs(parts))


def _pairs(parts: list[str]) -> list[str]:
    """The command's words, a flag and its value per line."""
    head, rest = " ".join(parts[:5]), parts[5:]
    return [head] + [f"{rest[i]} {rest[i + 1]}" for i in range(0, len(rest), 2)]


class ReviewRow(NamedTuple):
    """One value sent, as the review table shows it: where it sits in the form's words, and the value."""

    label: str
    value: str


def review_rows(operation: Operation, params: dict) -> list[ReviewRow]:
    """What will be sent, one row per value, labelled as the form labels it ("Tag 1 › Key"), in the
    order of the input shape; documented values in words with the raw value beside them, sensitive
    values as their size and digest (as everywhere on this page). The client token is the portal's."""
    rows: list[ReviewRow] = []
    _review(operation, operation.input_shape, _shown(operation, params), (), "", rows)
    if operation.token_member:
        rows.append(ReviewRow("Client token", TOKEN_PLACEHOLDER))
    return rows


def _hint(operation: Operation, members: tuple[str, ...]) -> FieldHint:
    return operation.hints.get(".".join(members), FieldHint())


def _join(within: str, label: str) -> str:
    return f"{within} › {label}" if within else label


def _review(
    operation: Operation, shape: Any, value: Any, members: tuple[str, ...], within: str, rows: list[ReviewRow]
) -> None:
    """Rows for ``value`` of ``shape``; ``members`` is its path without row numbers (what hints are keyed by)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for member, member_shape in shape.members.items():
            if member in value and not (not members and member == operation.token_member):
                label = _hint(operation, (*members, member)).label or member
                _review(operation, member_shape, value[member], (*members, member), _join(within, label), rows)
        return
    hint = _hint(operation, members)
    item = hint.item_label or hint.label or (members[-1] if members else "")
    if kind == "list" and isinstance(value, list):
        # ``within`` ends with the list's own label: rows are named in its place ("Folder 1").
        base = within.rpartition(" › ")[0]
        for i, entry in enumerate(value, start=1):
            _review(operation, shape.member, entry, members, _join(base, f"{item} {i}"), rows)
        return
    if kind == "map" and isinstance(value, dict):
        base = within.rpartition(" › ")[0]
        key_label = _hint(operation, (*members, "key")).label or "Key"
        for i, (key, entry) in enumerate(value.items(), start=1):
            row = _join(base, f"{item} {i}")
            rows.append(ReviewRow(_join(row, key_label), str(key)))
            value_label = _hint(operation, (*members, "value")).label or "Value"
            _review(operation, shape.value, entry, (*members, "value"), _join(row, value_label), rows)
        return
    rows.append(ReviewRow(within, _scalar_words(hint, shape, value)))


def _scalar_words(hint: FieldHint, shape: Any, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    labels = dict(c for c in hint.choices or () if not isinstance(c, str))
    if isinstance(value, str) and value in labels:
        return choice_words(value, labels[value])
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def approval_words(needed: bool, approvers: list[str], named: int) -> str:
    """Whether the request will wait for approval, and for whom, in a sentence for the review.

    ``approvers`` are the usernames of those who may approve it (one more than ``named`` when there
    are more than ``named``): said before Run, so that nobody is surprised by a request that waits,
    or waits for nobody.
    """
    if not needed:
        return "Not needed: it runs as soon as you press Run."
    if not approvers:
        return (
            "Needed, but nobody else may approve it: it would wait until an administrator gives the approve "
            "permission (the Approvers group) to someone other than you."
        )
    return f"Needed: it waits until {either_of(approvers, named)} approves it, then runs."
