"""The admin: targets and approval rules are managed here; the audit record is read-only.

Superusers may do anything. Administrators (staff in the Administrators group) manage targets and
approval rules, create accounts, put other people into the groups whose grants they could make,
and give such groups the portal's run permissions (and what administrators hold themselves). They
never touch the superuser and staff flags, other people's passwords, direct permissions, their own
account or groups they are in, the reserved groups (Approvers, Auditors, Administrators), or an
account holding more than they could grant. So nobody raises themselves, or an account they
control, to approver: four eyes stay four (``integrations.permissions``, "who administers whom").
"""

import json
from typing import cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.html import format_html

from integrations import history
from integrations.models import (
    ApprovalDecision,
    ApprovalRule,
    Attempt,
    AwsRequest,
    AwsTarget,
    Batch,
    Preset,
    RateBucket,
    Resource,
)
from integrations.permissions import (
    RESERVED_GROUPS,
    VIEW_SENSITIVE,
    assignable_groups,
    grantable_permissions,
    may_administer_group,
    may_administer_user,
    shown_parameters,
)
from operations import all_operations, get_operation


class ReadOnlyAdmin(admin.ModelAdmin):
    """The portal never rewrites or deletes history, and neither does the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Attempt._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OperationListFilter(admin.SimpleListFilter):
    """The operations of the registry, which the filter reads instead of the table: a list filter
    on the service and operation columns would run SELECT DISTINCT over every request."""

    title = "operation"
    parameter_name = "operation_key"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [(op.key, op.title) for op in all_operations()]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            operation = get_operation(self.value())
        except LookupError:
            return queryset.none()
        return queryset.filter(service=operation.service, operation=operation.name)


class MoreThan(int):
    """A count that stopped at its cap: shown as "more than 10,000" wherever the admin prints it."""

    def __str__(self) -> str:
        return f"more than {int(self):,}"


class CappedCountPaginator(Paginator):
    """Django's paginator, counting only up to ``history.COUNT_CAP`` matches (an exact COUNT(*)
    of a million requests costs more than the page); the pages beyond are not offered."""

    @cached_property
    def count(self) -> int:
        counted = history.capped_count(cast(QuerySet, self.object_list))
        return MoreThan(counted.n) if counted.capped else counted.n


@admin.register(AwsRequest)
class AwsRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "service", "operation", "status", "created_by_username", "target", "created_at", "resource_id",
    )  # fmt: skip
    list_select_related = ("target",)
    list_filter = ("status", OperationListFilter, "target")
    # Exact matches on indexed columns only (see get_search_results): a case-insensitive
    # "contains" reads every row of both tables.
    search_fields = ("=client_token",)
    search_help_text = history.SEARCH_HELP
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice, over every request
    paginator = CappedCountPaginator
    inlines = [AttemptInline]
    # The stored parameters are never shown as they are: see get_readonly_fields.
    exclude = ("parameters",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(pk__in=history.matching_ids(term)), False

    def get_readonly_fields(self, request, obj=None):
        shown = parameters_whole if request.user.has_perm(VIEW_SENSITIVE) else parameters_redacted
        return [*super().get_readonly_fields(request, obj), shown]


def _parameters_html(aws_request: AwsRequest, may_see_sensitive: bool) -> str:
    shown = shown_parameters(aws_request, may_see_sensitive)
    return format_html("<pre>{}</pre>", json.dumps(shown, indent=2, ensure_ascii=False))


# Two fixed functions rather than one made per request, so the admin sees the same field each time
# it asks for the read-only fields of one page.
@admin.display(description="parameters")
def parameters_redacted(aws_request: AwsRequest) -> str:
    """The parameters, sensitive members as their size and digest (``shown_parameters``)."""
    return _parameters_html(aws_request, False)


@admin.display(description="parameters")
def parameters_whole(aws_request: AwsRequest) -> str:
    """The parameters as sent, for those who may view sensitive parameters."""
    return _parameters_html(aws_request, True)


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    # Three attempts a request: the same care as the requests' change list (no full count, exact
    # search on indexed columns: the AWS request id's own index, the client token's on the request).
    list_display = ("request", "number", "outcome", "http_status", "error_code", "started_at")
    list_select_related = ("request",)
    list_filter = ("outcome",)
    search_fields = ("=aws_request_id", "=request__client_token")
    search_help_text = "An exact AWS request id or client token."
    show_full_result_count = False
    paginator = CappedCountPaginator


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(ReadOnlyAdmin):
    list_display = ("request", "approved", "decided_by", "decided_at", "reason")
    list_select_related = ("request", "decided_by")
    show_full_result_count = False
    paginator = CappedCountPaginator


@admin.register(Resource)
class ResourceAdmin(ReadOnlyAdmin):
    """What the portal created and what AWS last said of it, as the requests' change list is kept
    fast: no full count, filters from fixed choices (never a DISTINCT over the table), an exact
    search on the indexed ARN or id, the request and target joined rather than asked per row."""

    list_display = ("id", "service", "operation", "resource_id", "status", "state", "target", "created_by_username",
                    "created_at", "checked_at")  # fmt: skip
    list_select_related = ("target",)
    list_filter = ("status", OperationListFilter, "target")
    search_fields = ("=resource_id",)
    search_help_text = "An exact ARN or id."
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator

    def get_search_results(self, request, queryset, search_term):
        # The admin's "=" is a case-insensitive match (UPPER(...) = UPPER(...)), which no index answers:
        # 0.7 s at half a million resources, against milliseconds for the exact match on resource_id.
        term = search_term.strip()
        return (queryset.filter(resource_id=term) if term else queryset), False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    """Uploaded batches, to look at: steered on their own page (pause, resume, cancel, decide), never
    here. Kept fast as the requests' list is: filters from fixed choices and the targets table (never
    a DISTINCT over batches), no date hierarchy (a DISTINCT over dates), no full count, the target
    joined. The file's lines are not shown (they hold the events' payloads, unredacted; the batch
    page's report shows what is wrong with them)."""

    list_display = ("id", "service", "operation", "status", "created_by_username", "target", "lines",
                    "invalid_lines", "requests_recorded", "created_at", "finished_at")  # fmt: skip
    list_select_related = ("target",)
    list_filter = ("status", OperationListFilter, "target")
    ordering = ("-created_at", "-id")
    search_fields = ("=id",)
    search_help_text = "A batch's number."
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        if not (term.isascii() and term.isdigit() and len(term) <= 18):
            return queryset.none(), False
        return queryset.filter(pk=int(term)), False


@admin.register(RateBucket)
class RateBucketAdmin(ReadOnlyAdmin):
    """The shared rate limits as the workers see them (integrations/rate_limits.py): each bucket's
    current rate (lowered after a throttle from AWS), the tokens left, and the throttles received.
    Read-only: a bucket is the workers' bookkeeping; its configured rate is a setting."""

    list_display = ("key", "rate", "tokens", "throttles", "throttled_at")
    ordering = ("key",)
    search_fields = ("key",)
    search_help_text = "Part of a bucket's key: an account, a region or a service."
    readonly_fields = ("key", "rate", "tokens", "stamp", "throttles", "throttled_at")


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    """People's saved forms: looked at and deleted here, never written (only ``integrations.presets``
    saves one, which is what keeps sensitive members out of them)."""

    list_display = ("name", "service", "operation", "owner", "shared_with", "target", "updated_at")
    list_select_related = ("owner", "shared_with", "target")
    list_filter = (OperationListFilter, "shared_with")
    search_fields = ("name", "owner__username")
    readonly_fields = ("name", "owner", "shared_with", "service", "operation", "target", "data", "created_at",
                       "updated_at")  # fmt: skip
    show_full_result_count = False
    paginator = CappedCountPaginator

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AwsTarget)
class AwsTargetAdmin(admin.ModelAdmin):
    list_display = ("name", "account_id", "region", "role_arn", "is_active")
    list_filter = ("is_active", "region")
    filter_horizontal = ("users", "groups")


def operation_choices() -> list[tuple[str, str]]:
    """The registered operations, asked each time the form is built (a new one appears at once)."""
    return [("", "Any operation"), *((op.key, f"{op.title} ({op.key})") for op in all_operations())]


class ApprovalRuleForm(forms.ModelForm):
    """The operation is picked from the registry; a key that is not registered (a rule saved before
    its operation was removed, a crafted post) is refused by ``ApprovalRule.clean``, with its reason."""

    operation = forms.CharField(required=False, widget=forms.Select, help_text="Empty for any operation.")

    class Meta:
        model = ApprovalRule
        fields = ("operation", "target")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = operation_choices()
        current = self.instance.operation
        if current and current not in {key for key, _ in choices}:
            # Shown as it is, so that saving the rule unchanged is refused rather than widened to any.
            choices.append((current, f"{current} (not registered)"))
        self.fields["operation"].widget.choices = choices


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    form = ApprovalRuleForm
    list_display = ("operation", "target")


# --- users and groups ---------------------------------------------------------------------------


class AdministeredUserForm(forms.ModelForm):
    """An account as an administrator may change it: no password, flags or direct permissions."""

    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email", "is_active", "groups")


class AdministeredGroupForm(forms.ModelForm):
    """A group as an administrator may make it: never one of the reserved groups, not even by name
    (the grants made after every migrate would land on it)."""

    class Meta:
        model = Group
        fields = ("name", "permissions")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if name.casefold() in {reserved.casefold() for reserved in RESERVED_GROUPS}:
            raise ValidationError(f"Only a superuser may make the group {name}.")
        return name


if admin.site.is_registered(User):
    admin.site.unregister(User)
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(User)
class PortalUserAdmin(DjangoUserAdmin):
    """Django's user admin for superusers; for administrators, the accounts they may administer
    (``may_administer_user``), with only names, email, active and assignable groups to change."""

    administered_fieldsets = (
        (None, {"fields": ("username",)}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        (
            "Access",
            {
                "fields": ("is_active", "groups"),
                "description": "Approvers, Auditors and Administrators, the staff and superuser flags, "
                "passwords and direct permissions are given by a superuser.",
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.administered_fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None and not request.user.is_superuser:
            kwargs["form"] = AdministeredUserForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            fields += ["last_login", "date_joined"]
            if obj.email:
                # Password resets are mailed there: changing it would take the account over.
                fields.append("email")
        return fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = assignable_groups()
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_administer_user(request.user, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_administer_user(request.user, obj))

    def user_change_password(self, request, id, form_url=""):  # noqa: A002 - the URL passes it by this name
        # Anyone changes their own at /admin/password_change/; another person's, only a superuser.
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser may set another person's password.")
        return super().user_change_password(request, id, form_url)


@admin.register(Group)
class PortalGroupAdmin(DjangoGroupAdmin):
    """Django's group admin for superusers; administrators make groups of the permissions they may
    grant (``grantable_permissions``) and change those groups they are not in."""

    def get_form(self, request, obj=None, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = AdministeredGroupForm
        return super().get_form(request, obj, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "permissions" and not request.user.is_superuser:
            kwargs["queryset"] = grantable_permissions()
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_administer_group(request.user, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_administer_group(request.user, obj))


# The notifications' admin lives beside them.
from integrations import admin_notifications  # noqa: E402, F401
