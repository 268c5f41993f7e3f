"""A person's notification settings: which events they hear of, by e-mail and/or their webhook.

Any signed-in person has the page (LoginRequiredMiddleware). What is told, and to whom, is
``integrations.notifications``; this page only keeps the person's ``NotificationPreference``.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from integrations import notifications
from integrations.models import NotificationEvent, NotificationPreference, all_notification_events
from integrations.permissions import APPROVE


class NotificationSettingsForm(forms.Form):
    events = forms.MultipleChoiceField(
        label="Tell me when", required=False, widget=forms.CheckboxSelectMultiple, choices=NotificationEvent.choices
    )
    by_email = forms.BooleanField(label="By e-mail", required=False)
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=2048,
        validators=[notifications.validate_webhook_url],
        help_text="A Slack-compatible incoming webhook (a JSON body with a text member), or empty for none.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: object, may_approve: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        offered = offered_events(may_approve)
        field = cast(forms.MultipleChoiceField, self.fields["events"])
        field.choices = [(value, label) for value, label in NotificationEvent.choices if value in offered]


def offered_events(may_approve: bool) -> list[str]:
    """The events the page offers: only approvers are asked about requests waiting for approval,
    the others are not offered what never comes to them."""
    return [e for e in all_notification_events() if may_approve or e != NotificationEvent.AWAITING_APPROVAL]

    def clean_webhook_url(self) -> str:
        return self.cleaned_data["webhook_url"].strip()


@never_cache
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    preference = NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)
    may_approve = user.has_perm(APPROVE)
    if request.method == "POST" and request.POST.get("action") == "test":
        for line in notifications.send_test(user, preference):
            messages.info(request, line)
        return HttpResponseRedirect(reverse("notification_settings"))
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST, may_approve=may_approve)
        if form.is_valid():
            offered = offered_events(may_approve)
            # An event the page does not offer keeps its stored choice (an approver's, kept should
            # they become one again); the ones it offers are as ticked.
            kept = [e for e in preference.events if e not in offered]
            preference.events = [e for e in all_notification_events() if e in {*kept, *form.cleaned_data["events"]}]
            preference.by_email = form.cleaned_data["by_email"]
            preference.webhook_url = form.cleaned_data["webhook_url"]
            preference.save()
            messages.success(request, "Your notification settings are saved.")
            return HttpResponseRedirect(reverse("notification_settings"))
    else:
        form = NotificationSettingsForm(
            initial={
                "events": preference.events,
                "by_email": preference.by_email,
                "webhook_url": preference.webhook_url,
            },
            may_approve=may_approve,
        )
    context = {
        "form": form,
        "preference": preference,
        "mail_enabled": notifications.mail_enabled(),
        "may_approve": may_approve,
        "production": settings.PRODUCTION,
    }
    # A refused form is answered 200, as Django's forms are: a 4xx page is a console error in browsers.
    return render(request, "integrations/notification_settings.html", context)
