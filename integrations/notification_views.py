"""A person's notification settings (stub: filled in by the notifications work)."""

from django.http import HttpRequest, HttpResponse


def notification_settings(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
