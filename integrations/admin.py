"""The admin shows the audit record read-only: the portal never rewrites or deletes history."""

from django.contrib import admin

from integrations.models import Attempt, Request


class ReadOnlyAdmin(admin.ModelAdmin):
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


@admin.register(Request)
class RequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "service", "operation", "status", "created_by", "created_at", "resource_id")
    list_filter = ("status", "service", "operation")
    search_fields = ("client_token", "resource_id", "error_code")
    inlines = [AttemptInline]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ("request", "number", "outcome", "http_status", "error_code", "started_at")
    list_filter = ("outcome",)
    search_fields = ("aws_request_id", "client_token")
