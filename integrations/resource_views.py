"""The Resources page: every resource created through the portal (stub: filled in by the resources work)."""

from django.http import HttpRequest, HttpResponse


def resource_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")


def resource_export(request: HttpRequest, fmt: str) -> HttpResponse:
    return HttpResponse("")


def resource_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("")
