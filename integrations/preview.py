"""The exact call a worker will make, shown before it is made: as boto3 code and as an AWS CLI
command, with the values filled in, sensitive ones as their size and digest.

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

from botocore import xform_name

from integrations.permissions import Call, shown_parameters
from operations import Operation

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
