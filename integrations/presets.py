"""Presets: a filled form saved under a name, to start a request from, private or shared with a group.

A preset holds what a person typed, never what they may not keep: only the form names that are
members of the operation's input (so no client token, CSRF token, row button, preview or edit
control, nor anything else a POST carries), and of those none the model marks sensitive (Supply
Chain's ``data``), at any depth — the same trait ``awsmodel.redaction`` hides on every other
surface. Values that are sensitive are typed again each time, as in "Run again".

Who sees a preset: its owner, and the members of the group it is shared with (``visible``); who
may start a request from it is decided by the operation's form as for any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from integrations.forms import SEP
from integrations.forms.data import row_number
from integrations.models import AwsTarget, Preset
from integrations.permissions import can_run
from operations import Operation, all_operations

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NAME_MAX = 100
# Enough for every preset a team uses weekly; the Presets page shows them all on one page.
MAX_PER_OWNER = 200
# The form's target field: kept as the preset's target, not as form data.
TARGET_FIELD = "target"


class PresetError(ValueError):
    """A preset that cannot be saved as asked; the message says why, in words for the person."""


MEMBER, SENSITIVE, OTHER = "member", "sensitive", "other"


def _classify(operation: Operation, name: str) -> str:
    """What the form name ``name`` is: a MEMBER of the operation's input, a SENSITIVE one, or OTHER.

    Follows the name ("Tags__0__key", "datasetTarget__loadType") through the input shape as the
    form builds it: structure members by name, list rows by number, map rows by number and then
    ``key`` or ``value``. A name that leaves the shape is no member (a control field, the CSRF
    token, the target), nor is the client token; a name reaching or passing through a shape the
    model marks sensitive is SENSITIVE.
    """
    parts = name.split(SEP)
    if parts[0] == operation.token_member:
        return OTHER
    shape: Any = operation.input_shape
    at = 0
    while at < len(parts):
        if shape.metadata.get("sensitive"):
            return SENSITIVE
        part = parts[at]
        if shape.type_name == "structure" and part in shape.members:
            shape = shape.members[part]
        elif shape.type_name == "list" and row_number(part) is not None:
            shape = shape.member
        elif shape.type_name == "map" and row_number(part) is not None:
            if at + 1 == len(parts):  # the row itself, without its key or value
                return MEMBER
            at += 1
            if parts[at] not in ("key", "value"):
                return OTHER
            shape = shape.key if parts[at] == "key" else shape.value
        else:  # not a member, or under a scalar
            return OTHER
        at += 1
    return SENSITIVE if shape.metadata.get("sensitive") else MEMBER


def _filled(form_data: Mapping[str, Any]) -> dict[str, str]:
    # A QueryDict's item is its last value, as the form reads it.
    return {name: form_data[name] for name in form_data if isinstance(form_data[name], str) and form_data[name] != ""}


def storable_data(operation: Operation, form_data: Mapping[str, Any]) -> dict[str, str]:
    """What of ``form_data`` a preset of ``operation`` keeps: the input's non-sensitive values, not empty."""
    return {name: value for name, value in _filled(form_data).items() if _classify(operation, name) == MEMBER}


def left_out_sensitive(operation: Operation, form_data: Mapping[str, Any]) -> list[str]:
    """The form names of the sensitive values filled in, which a preset leaves out (to say so)."""
    return sorted(name for name in _filled(form_data) if _classify(operation, name) == SENSITIVE)


def clean_name(name: str) -> str:
    """The preset's name as kept (surrounding spaces dropped); PresetError unless 1–100 characters."""
    name = (name or "").strip()
    if not name:
        raise PresetError("Give the preset a name.")
    if len(name) > NAME_MAX:
        raise PresetError(f"A preset's name has at most {NAME_MAX} characters (this one has {len(name)}).")
    return name


def save(
    user: User,
    operation: Operation,
    target: AwsTarget | None,
    form_data: Mapping[str, str],
    name: str,
    shared_with: Group | None,
) -> Preset:
    """Save the filled form ``form_data`` of ``operation`` as ``user``'s preset ``name``.

    Saving again under a name the user already gave a preset of this operation replaces it (its
    values, target and sharing). Refused (PermissionDenied) for an operation the user may not run,
    and (PresetError) for a bad name, a group the user is not in, a target they may not use, or
    more than MAX_PER_OWNER presets.
    """
    if not can_run(user, operation):
        raise PermissionDenied("You may not run this operation, so you may not save presets of it.")
    name = clean_name(name)
    if shared_with is not None and not user.groups.filter(pk=shared_with.pk).exists():
        raise PresetError(f"You are not a member of {shared_with.name}: share a preset only with your own groups.")
    if target is not None and not AwsTarget.usable_by(user).filter(pk=target.pk).exists():
        raise PresetError("You may not use this AWS target.")
    mine = Preset.objects.filter(owner=user)
    same = mine.filter(service=operation.service, operation=operation.name, name=name)
    if not same.exists() and mine.count() >= MAX_PER_OWNER:
        raise PresetError(f"You have {MAX_PER_OWNER} presets already: delete some you no longer use first.")
    preset, _ = Preset.objects.update_or_create(
        owner=user,
        service=operation.service,
        operation=operation.name,
        name=name,
        defaults={"target": target, "shared_with": shared_with, "data": storable_data(operation, form_data)},
    )
    return preset


def visible(user: User) -> QuerySet[Preset]:
    """The presets ``user`` sees: their own, and those shared with one of their groups."""
    return Preset.objects.filter(Q(owner=user) | Q(shared_with__in=user.groups.all())).distinct()


def usable(user: User) -> QuerySet[Preset]:
    """The visible presets of the operations ``user`` may run: what the Presets page lists."""
    runnable = Q(pk__in=[])
    for operation in all_operations():
        if can_run(user, operation):
            runnable |= Q(service=operation.service, operation=operation.name)
    return visible(user).filter(runnable)


def form_data(preset: Preset) -> dict[str, str]:
    """What to fill the operation's form with: the saved values, and the target (``target``) if it still exists.

    Filtered again as when saved, so a member the model has since marked sensitive is never filled.
    """
    from operations import get_operation

    try:
        operation = get_operation(preset.operation_key)
    except LookupError:
        return {}
    data = storable_data(operation, preset.data if isinstance(preset.data, dict) else {})
    if preset.target_id is not None:
        data[TARGET_FIELD] = str(preset.target_id)
    return data
