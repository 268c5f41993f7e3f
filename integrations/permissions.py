"""Who may do what: one permission per operation, plus history, sensitive data, export, approval.

Run permissions are derived from the operation registry (so a new operation needs no
migration) and kept in step, with the built-in groups' grants, after every migrate.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from integrations.awsmodel import operation_model, redact_sensitive
from integrations.operations import Operation, all_operations

APP = "integrations"
VIEW_ALL = f"{APP}.view_all_requests"
VIEW_SENSITIVE = f"{APP}.view_sensitive_parameters"
EXPORT = f"{APP}.export_requests"
APPROVE = f"{APP}.approve_request"

OPERATORS, AUDITORS, APPROVERS, ADMINISTRATORS = "Operators", "Auditors", "Approvers", "Administrators"


def run_codename(operation: Operation) -> str:
    return f"run_{operation.service}_{operation.name}".lower().replace("-", "_")


def can_run(user, operation: Operation) -> bool:
    return user.has_perm(f"{APP}.{run_codename(operation)}")


def runnable_operations(user) -> list[Operation]:
    return [op for op in all_operations() if can_run(user, op)]


def visible_requests(user, requests: QuerySet) -> QuerySet:
    """Everyone sees their own requests; auditors and approvers see everybody's."""
    if user.has_perm(VIEW_ALL) or user.has_perm(APPROVE):
        return requests
    return requests.filter(created_by=user)


def shown_parameters(request, may_see_sensitive: bool) -> dict:
    """A request's parameters for a reader: sensitive members (Supply Chain's data) shown as their
    size and digest unless the reader may see them."""
    if may_see_sensitive:
        return request.parameters
    shape = operation_model(request.service, request.operation).input_shape
    return redact_sensitive(shape, request.parameters)


def sync_permissions_and_groups(**kwargs: object) -> None:
    """Create a run permission per registered operation and give the built-in groups theirs."""
    from integrations.models import Request

    request_type = ContentType.objects.get_for_model(Request)
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
            "view_request",
            "view_attempt",
            "view_approvaldecision",
        ),
        APPROVERS: perms("approve_request", "view_all_requests"),
        ADMINISTRATORS: perms(
            "view_all_requests",
            "view_request",
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
