"""The admin: targets and approval rules are managed here; the audit record is read-only."""

from django.contrib import admin

from integrations.models import ApprovalDecision, ApprovalRule, Attempt, AwsRequest, AwsTarget


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


@admin.register(AwsRequest)
class AwsRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "service", "operation", "status", "created_by", "target", "created_at", "resource_id")
    list_filter = ("status", "service", "operation", "target")
    search_fields = ("client_token", "resource_id", "error_code", "attempts__aws_request_id")
    inlines = [AttemptInline]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ("request", "number", "outcome", "http_status", "error_code", "started_at")
    list_filter = ("outcome",)
    search_fields = ("aws_request_id", "client_token")


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(ReadOnlyAdmin):
    list_display = ("request", "approved", "decided_by", "decided_at", "reason")


@admin.register(AwsTarget)
class AwsTargetAdmin(admin.ModelAdmin):
    list_display = ("name", "account_id", "region", "role_arn", "is_active")
    list_filter = ("is_active", "region")
    filter_horizontal = ("users", "groups")


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    list_display = ("operation", "target")
