"""Who may do what: one permission per operation, plus history, sensitive data, export, approval.

Run permissions are derived from the operation registry (so a new operation needs no
migration) and kept in step, with the built-in groups' grants, after every migrate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.http import Http404

from awsmodel.redaction import redact_sensitive
from operations import Operation, all_operations, get_operation

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from integrations.models import AwsRequest

APP = "integrations"
VIEW_ALL = f"{APP}.view_all_requests"
VIEW_SENSITIVE = f"{APP}.view_sensitive_parameters"
EXPORT = f"{APP}.export_requests"
APPROVE = f"{APP}.approve_request"

OPERATORS, AUDITORS, APPROVERS, ADMINISTRATORS = "Operators", "Auditors", "Approvers", "Administrators"


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


def may_see_every_request(user: User | AnonymousUser) -> bool:
    """Auditors see everybody's requests, and so do approvers, who must judge them; everyone else
    sees their own (``AwsRequest.objects.visible_to``)."""
    return user.has_perm(VIEW_ALL) or user.has_perm(APPROVE)


def shown_parameters(aws_request: AwsRequest, may_see_sensitive: bool) -> dict:
    """A request's parameters for a reader: sensitive members (Supply Chain's data) shown as their
    size and digest unless the reader may see them."""
    if may_see_sensitive:
        return aws_request.parameters
    shape = get_operation(aws_request.operation_key).input_shape
    shown: dict = redact_sensitive(shape, aws_request.parameters)  # a dict in, a dict out
    return shown


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

    grants = {
        OPERATORS: run,
        AUDITORS: perms(
            "view_all_requests",
            "view_sensitive_parameters",
            "export_requests",
            "view_awsrequest",
            "view_attempt",
            "view_approvaldecision",
        ),
        APPROVERS: perms("approve_request", "view_all_requests"),
        ADMINISTRATORS: perms(
            "view_all_requests",
            "view_awsrequest",
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
        + list(Permission.objects.filter(content_type__app_label="auth")),
    }
    for name, granted in grants.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*granted)
