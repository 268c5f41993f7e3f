"""The form's picker choices as an htmx partial (stub: filled in by the pickers work)."""

from django.http import HttpRequest, HttpResponse


def choices(request: HttpRequest, service: str, name: str, member: str) -> HttpResponse:
    return HttpResponse("")
