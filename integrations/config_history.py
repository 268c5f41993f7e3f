"""The history of the portal's configuration: who changed an AWS target, an approval rule, a user,
a group, a permission grant or an API token, when, and from what to what.

django-simple-history keeps a historical row per change from model signals, so a change made in a
shell, a fixture or a script is kept as well as one made in the admin (whose own log keeps only
field names, and only its own changes); its middleware names the signed-in person. It is
registered here, from the app's ``ready``, for the portal's models and for Django's and knox's
without touching them. Not kept: password hashes and token digests (only that the row was saved),
and sign-in times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from knox.models import AuthToken
from simple_history import register
from simple_history.models import HistoricalRecords

from integrations.models import ApprovalRule, AwsTarget

# Saves that change nothing anybody configured: Django updates last_login on every sign-in.
UNTRACKED_UPDATES = frozenset({"last_login"})
KINDS = {"+": "created", "~": "changed", "-": "deleted"}


class ConfigurationRecords(HistoricalRecords):
    """simple-history's records, without a row for a sign-in's ``last_login`` update."""

    def post_save(self, instance: Any, created: bool, using: str | None = None, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields and set(update_fields) <= UNTRACKED_UPDATES:
            return
        super().post_save(instance, created, using=using, **kwargs)


# What is tracked, as people call it, in the order of the audit page's filter.
TRACKED: dict[str, type[models.Model]] = {
    "AWS target": AwsTarget,
    "approval rule": ApprovalRule,
    "user": User,
    "group": Group,
    "API token": AuthToken,
}


def register_models() -> None:
    """Give every tracked model its history; called once, from IntegrationsConfig.ready."""
    common: dict[str, Any] = {"app": "integrations", "records_class": ConfigurationRecords}
    register(AwsTarget, m2m_fields=["users", "groups"], **common)
    register(ApprovalRule, **common)
    register(User, m2m_fields=["groups", "user_permissions"], excluded_fields=["password", "last_login"], **common)
    register(Group, m2m_fields=["permissions"], **common)
    register(AuthToken, excluded_fields=["digest"], **common)


@dataclass(frozen=True)
class Change:
    """One change as an auditor reads it."""

    at: dt.datetime
    by: str  # the signed-in person; "" for a change made outside a request (a shell, a script)
    kind: str  # created, changed, deleted
    what: str  # "AWS target", "user", …
    object: str
    fields: tuple[tuple[str, str, str], ...]  # (field, old, new)

    @property
    def summary(self) -> str:
        if self.fields:
            return "; ".join(f"{name}: {old} → {new}" for name, old, new in self.fields)
        if self.kind == "changed":
            return "saved with no tracked value changed (a password change shows this way)"
        return ""


def _names(model: type[models.Model], field: str, rows: Iterable[dict[str, Any]]) -> str:
    """An m2m field's value (through rows) as the names of the objects it points to."""
    related = model._meta.get_field(field).related_model
    assert related is not None
    assert not isinstance(related, str)
    key = related._meta.model_name
    ids = sorted({row[key] for row in rows if key in row})
    found = {obj.pk: str(obj) for obj in related._default_manager.filter(pk__in=ids)}
    return ", ".join(found.get(pk, f"#{pk} (deleted)") for pk in ids) or "—"


def _shown(model: type[models.Model], field: str, value: Any) -> str:
    if isinstance(value, list):
        return _names(model, field, value)
    return "—" if value in (None, "") else str(value)


def _object_name(record: Any) -> str:
    try:
        return str(record.history_object)
    except ObjectDoesNotExist:  # its __str__ reads a related row that is gone
        return f"#{record.id}"


def _changes_of(what: str, model: type[models.Model], since: dt.datetime | None) -> Iterator[Change]:
    records = model.history.select_related("history_user").order_by("history_date", "history_id")  # type: ignore[attr-defined]
    if since is not None:
        records = records.filter(history_date__gte=since)
    for record in records:
        fields: tuple[tuple[str, str, str], ...] = ()
        previous = record.prev_record if record.history_type == "~" else None
        if previous is not None:
            fields = tuple(
                (c.field, _shown(model, c.field, c.old), _shown(model, c.field, c.new))
                for c in record.diff_against(previous).changes
            )
        user = record.history_user
        yield Change(
            at=record.history_date,
            by=user.get_username() if user is not None else "",
            kind=KINDS.get(record.history_type, record.history_type),
            what=what,
            object=_object_name(record),
            fields=fields,
        )


def configuration_changes(what: str = "", since: dt.datetime | None = None) -> list[Change]:
    """Every kept change, newest first; ``what`` narrows it to one kind of object."""
    found = [c for label, model in TRACKED.items() if what in ("", label) for c in _changes_of(label, model, since)]
    return sorted(found, key=lambda c: c.at, reverse=True)
