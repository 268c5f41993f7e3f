"""Who may do what: one permission per operation, plus history, sensitive data, export, approval.

Run permissions are derived from the operation registry (so a new operation needs no
migration) and kept in step, with the built-in groups' grants, after every migrate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import Http404

from awsmodel.redaction import redact_sensitive
from operations import Operation, all_operations, get_operation

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

APP = "integrations"
VIEW_ALL = f"{APP}.view_all_requests"
VIEW_SENSITIVE = f"{APP}.view_sensitive_parameters"
VIEW_CONFIGURATION_HISTORY = f"{APP}.view_configuration_history"
EXPORT = f"{APP}.export_requests"
APPROVE = f"{APP}.approve_request"

OPERATORS, AUDITORS, APPROVERS, ADMINISTRATORS = "Operators", "Auditors", "Approvers", "Administrators"

# What the Administrators group holds of the portal's own permissions: the whole history to look
# at (never its sensitive payloads), targets and approval rules to manage.
ADMINISTRATORS_OWN = (
    "view_all_requests",
    "view_awsrequest",
    # Read-only in the admin, like the requests: uploaded batches, and the rate limits' buckets.
    "view_batch",
    "view_ratebucket",
    "view_attempt",
    "view_approvaldecision",
    "add_awstarget",
    "change_awstarget",
    "delete_awstarget",
    "view_awstarget",
    "add_approvalrule",
    "change_approvalrule",
    "delete_approvalrule",
    "view_approvalrule",
)
# What it holds of Django's auth: users (created, changed, never deleted: their requests keep them)
# and groups. The admin narrows what an administrator may do with them (``integrations.admin``).
ADMINISTRATORS_AUTH = (
    "view_user",
    "add_user",
    "change_user",
    "view_group",
    "add_group",
    "change_group",
    "delete_group",
)
# Groups whose members and permissions only superusers manage, whatever they hold: approving
# (the second pair of eyes), sensitive payloads and exports, and administration itself.
RESERVED_GROUPS = (AUDITORS, APPROVERS, ADMINISTRATORS)


def run_codename(operation: Operation) -> str:
    """The run permission's codename: the operation's key, e.g. ``run_appfabric/CreateIngestion``."""
    return f"run_{operation.key}"


def operation_or_404(key: str) -> Operation:
    """The registered operation called ``key``; a 404 for anything else."""
    try:
        return get_operation(key)
    except LookupError:
        raise Http404(f"No operation {key}") from None


def can_run(user, operation: Operation) -> bool:
    return user.has_perm(f"{APP}.{run_codename(operation)}")


def runnable_operations(user) -> list[Operation]:
    return [op for op in all_operations() if can_run(user, op)]


def approvers(exclude: int | None = None) -> QuerySet:
    """The active accounts that may approve requests, but ``exclude`` (a request's author, who never
    approves their own): superusers, direct grants and their groups' grants, as Django's ModelBackend
    decides. Who a waiting request waits for (its page, the review) and who is told of it.

    Written out rather than ``User.objects.with_perm``, which needs a named backend once single sign-on
    adds one (and in SSO-only mode ModelBackend is not configured at all).
    """
    from django.contrib.auth import get_user_model

    app_label, codename = APPROVE.split(".")
    granted = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    holds = Q(is_superuser=True) | Q(user_permissions__in=granted) | Q(groups__permissions__in=granted)
    users = get_user_model().objects.filter(holds, is_active=True).distinct()
    return users.exclude(pk=exclude) if exclude is not None else users


def approver_names(exclude: int | None, most: int) -> list[str]:
    """The usernames of up to ``most`` + 1 approvers (one more says "there are others")."""
    return list(approvers(exclude).order_by("username").values_list("username", flat=True)[: most + 1])


def either_of(names: list[str], most: int) -> str:
    """ "alex", "alex or blair", "alex, blair or chris", or with more than ``most``: "…or another approver"."""
    shown = names[:most]
    if len(names) > most:
        return f"{', '.join(shown)} or another approver"
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


def may_see_every_request(user: User | AnonymousUser) -> bool:
    """Auditors see everybody's requests, and so do approvers, who must judge them; everyone else
    sees their own (``AwsRequest.objects.visible_to``)."""
    return user.has_perm(VIEW_ALL) or user.has_perm(APPROVE)


class HasParameters(Protocol):
    """What ``shown_parameters`` reads: a recorded ``AwsRequest``, or a ``Call`` not recorded yet."""

    @property
    def operation_key(self) -> str: ...

    @property
    def parameters(self) -> Any: ...


class Call(NamedTuple):
    """A call not recorded yet (the preview's), as ``shown_parameters`` reads it."""

    operation_key: str
    parameters: dict


def shown_parameters(aws_request: HasParameters, may_see_sensitive: bool) -> dict:
    """A request's parameters for a reader: sensitive members (Supply Chain's data) shown as their
    size and digest unless the reader may see them.

    The one place that decides: the request page, the history's exports, the API, the admin's
    request page, "run again" (through ``withheld_parameters``) and the preview all ask it.
    """
    if may_see_sensitive:
        return aws_request.parameters
    shape = get_operation(aws_request.operation_key).input_shape
    shown: dict = redact_sensitive(shape, aws_request.parameters)  # a dict in, a dict out
    return shown


def withheld_parameters(aws_request: HasParameters, may_see_sensitive: bool) -> tuple[dict, dict]:
    """A request's parameters split for filling a form again: ``(kept, withheld)``.

    ``kept`` is what the reader may have back; ``withheld`` holds, with their clear values, the
    members ``shown_parameters`` hides from them: never to be shown, only to name the fields that
    must be typed again (or, for the preview, to keep their values off the page).
    """
    return _split(aws_request.parameters, shown_parameters(aws_request, may_see_sensitive))


def _split(clear: Mapping, shown: Mapping) -> tuple[dict, dict]:
    kept: dict = {}
    withheld: dict = {}
    for name, value in clear.items():
        seen = shown.get(name)
        if seen == value:
            kept[name] = value
        elif isinstance(value, Mapping) and isinstance(seen, Mapping):
            inner_kept, inner_withheld = _split(value, seen)
            if inner_kept:
                kept[name] = inner_kept
            if inner_withheld:
                withheld[name] = inner_withheld
        else:  # redacted: a scalar, or a list with a redacted item (the whole list is typed again)
            withheld[name] = value
    return kept, withheld


# --- who administers whom ---------------------------------------------------------------------------
# Superusers may do anything. An administrator (a staff member with the Administrators group's
# grants) may give a group, or a person through a group, only what cannot break four eyes or reveal
# a payload: the run permissions and what administrators hold themselves. Everything else —
# approving, sensitive payloads, exports, auth's own permissions, the staff and superuser flags,
# the reserved groups' members — is given by superusers only. So an administrator cannot raise
# themselves, nor an account they control (a second one they create, say) above that line.


def grantable_permissions() -> QuerySet[Permission]:
    """The permissions an administrator may give a group: every run permission, and the portal's
    own permissions the Administrators group holds (never approve, sensitive data or export)."""
    return Permission.objects.filter(content_type__app_label=APP).filter(
        Q(codename__startswith="run_") | Q(codename__in=ADMINISTRATORS_OWN)
    )


def assignable_groups() -> QuerySet[Group]:
    """The groups whose members an administrator may change: not a reserved group, and holding
    nothing an administrator could not grant."""
    beyond = Permission.objects.exclude(pk__in=grantable_permissions())
    return Group.objects.exclude(name__in=RESERVED_GROUPS).exclude(permissions__in=beyond)


def holds_only_grantable(user: User) -> bool:
    """Whether everything ``user`` may do is something an administrator could have given them.

    Read from the grants themselves, not ``get_all_permissions`` (which is empty for an inactive
    account: reactivating an approver would otherwise look harmless).
    """
    if user.is_superuser or user.is_staff:
        return False
    if user.groups.exclude(pk__in=assignable_groups()).exists():
        return False
    return not user.user_permissions.exclude(pk__in=grantable_permissions()).exists()


def may_administer_user(actor: User, user: User) -> bool:
    """Whether ``actor`` may change ``user``'s account: superusers any; an administrator another
    person's account holding only what an administrator could grant (never their own)."""
    if actor.is_superuser:
        return True
    return user.pk != actor.pk and holds_only_grantable(user)


def may_administer_group(actor: User, group: Group) -> bool:
    """Whether ``actor`` may change or delete ``group``: superusers any; an administrator a group
    whose members they may choose, and of which they are not a member (no grants to oneself)."""
    if actor.is_superuser:
        return True
    if not assignable_groups().filter(pk=group.pk).exists():
        return False
    return not actor.groups.filter(pk=group.pk).exists()


def sync_permissions_and_groups(**kwargs: object) -> None:
    """Create a run permission per registered operation and give the built-in groups theirs."""
    from integrations.models import AwsRequest

    request_type = ContentType.objects.get_for_model(AwsRequest)
    run = [
        Permission.objects.update_or_create(
            content_type=request_type, codename=run_codename(op), defaults={"name": f"Can run {op.title}"[:255]}
        )[0]
        for op in all_operations()
    ]

    def perms(*names: str) -> list[Permission]:
        return list(Permission.objects.filter(content_type__app_label=APP, codename__in=names))

    auth_perms = list(Permission.objects.filter(content_type__app_label="auth", codename__in=ADMINISTRATORS_AUTH))

    grants = {
        OPERATORS: run,
        AUDITORS: perms(
            "view_configuration_history",
            "view_all_requests",
            "view_sensitive_parameters",
            "export_requests",
            "view_awsrequest",
            "view_attempt",
            "view_approvaldecision",
        ),
        APPROVERS: perms("approve_request", "view_all_requests"),
        ADMINISTRATORS: perms(*ADMINISTRATORS_OWN) + auth_perms,
    }
    for name, granted in grants.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*granted)
    # Administrators once held every auth permission (delete users, and permissions' own): take
    # back what the design no longer gives them. Other grants a superuser added stay.
    administrators = Group.objects.get(name=ADMINISTRATORS)
    administrators.permissions.remove(
        *administrators.permissions.filter(content_type__app_label="auth").exclude(pk__in=[p.pk for p in auth_perms])
    )
