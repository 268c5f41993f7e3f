"""The admin of notifications: group webhooks (edited here) and the outbox (read only).

The outbox grows with every status change, so its change list is kept as lean as the requests':
no full count, the request and recipient joined rather than asked per row, filters from fixed
choices (never a DISTINCT over the table), an exact search on the request's number.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from integrations import notifications
from integrations.admin import CappedCountPaginator, ReadOnlyAdmin
from integrations.models import GroupWebhook, Notification, NotificationEvent, all_notification_events


class GroupWebhookForm(forms.ModelForm):
    # Checked by the same rules as a person's webhook (``notifications.webhook_url_problem``).
    url = forms.CharField(label="webhook URL", max_length=2048, validators=[notifications.validate_webhook_url])
    events = forms.MultipleChoiceField(
        choices=NotificationEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=all_notification_events,
        help_text="Awaiting approval is told to groups that hold the approve permission; the others, "
        "of requests made by the group's members.",
    )

    class Meta:
        model = GroupWebhook
        fields = ("group", "url", "events")


@admin.register(GroupWebhook)
class GroupWebhookAdmin(admin.ModelAdmin):
    form = GroupWebhookForm
    list_display = ("group", "url", "events")
    list_select_related = ("group",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "request", "event", "channel", "address", "status", "attempts", "created_at", "sent_at")
    list_select_related = ("request",)
    list_filter = ("status", "event", "channel")
    search_fields = ("=request__id",)
    search_help_text = "A request's number."
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    raw_id_fields = ("request", "recipient")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        return (queryset.filter(request_id=int(term)) if term.isdigit() and len(term) < 19 else queryset.none()), False
