"""Presets: a person's saved forms (stub: filled in by the presets work)."""

from django.http import HttpRequest, HttpResponse


def preset_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")


def preset_save(request: HttpRequest, service: str, name: str) -> HttpResponse:
    return HttpResponse("")


def preset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("")
