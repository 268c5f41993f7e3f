"""Presets' pages: save a filled form as a preset, list them, delete one (integrations/presets.py holds the rules).

"Save as preset" is a button of the operation's form (``_preset_form.html``): it posts the whole
form here with ``preset_name`` and an optional ``preset_group``. htmx gets a message in place, so
the person keeps their form; without JavaScript the answer is a redirect to the form filled from
the preset just saved.
"""

from __future__ import annotations

from itertools import groupby
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from integrations import presets
from integrations.models import AwsTarget, Preset
from integrations.permissions import can_run, operation_or_404
from integrations.views import PortalRequest
from operations import Operation, get_operation, operation_key

# The Presets page lists at most this many (each person has at most presets.MAX_PER_OWNER of their
# own, but the presets shared with their groups have no such bound).
PRESET_PAGE = 500


def start_url(preset: Preset) -> str:
    """The operation's form, to be filled from ``preset`` (the form reads ``?preset=``)."""
    return reverse("operation_form", args=[preset.service, preset.operation]) + "?" + urlencode({"preset": preset.pk})


def _digits(value: str) -> int | None:
    # ASCII digits only ("²" is a digit to str.isdigit), and few enough for a primary key.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _chosen_group(request: PortalRequest) -> Group | None:
    """The group named by ``preset_group`` (a group id; empty: private). One the user is not in is refused."""
    raw = request.POST.get("preset_group", "").strip()
    if not raw:
        return None
    pk = _digits(raw)
    group = request.user.groups.filter(pk=pk).first() if pk is not None else None
    if group is None:
        raise presets.PresetError("Share a preset only with one of your own groups.")
    return group


def _chosen_target(request: PortalRequest) -> AwsTarget | None:
    """The form's target if the user may use it; any other (or none) leaves the preset without one."""
    pk = _digits(request.POST.get(presets.TARGET_FIELD, ""))
    return AwsTarget.usable_by(request.user).filter(pk=pk).first() if pk is not None else None


def _left_out_words(operation: Operation, names: list[str]) -> str:
    """ "Data is sensitive and was not saved …", naming the members by their form labels."""
    members = sorted({name.split("__", 1)[0] for name in names})
    labels = [(operation.hints[m].label if m in operation.hints else None) or m for m in members]
    return f"{', '.join(labels)} is sensitive and was not saved: enter it each time." if labels else ""


@require_POST
def preset_save(request: PortalRequest, service: str, name: str) -> HttpResponse:
    """Save the posted form as a preset; a message in place for htmx, else back to the form filled from it."""
    operation = operation_or_404(operation_key(service, name))
    if not can_run(request.user, operation):
        raise PermissionDenied("You may not run this operation.")
    preset_name = request.POST.get("preset_name", "")
    try:
        group = _chosen_group(request)
        preset = presets.save(
            request.user, operation, _chosen_target(request), request.POST, preset_name, shared_with=group
        )
    except presets.PresetError as exc:
        return _refused(request, operation, str(exc))
    shared = f", shared with {preset.shared_with.name}" if preset.shared_with else " (only you see it)"
    saved = f"Saved the preset “{preset.name}”{shared}."
    left_out = _left_out_words(operation, presets.left_out_sensitive(operation, request.POST))
    if request.htmx:
        context = {"saved": saved, "left_out": left_out, "preset": preset, "start_url": start_url(preset)}
        return _vary(render(request, "integrations/_preset_saved.html", context))
    messages.success(request, saved)
    if left_out:
        messages.warning(request, left_out)
    return redirect(start_url(preset))


def _refused(request: PortalRequest, operation: Operation, error: str) -> HttpResponse:
    """Why the preset was not saved. htmx: the message in place (200, so htmx swaps it in). Otherwise a
    page to correct the name or group that carries the form's storable values (never a sensitive one)."""
    if request.htmx:
        return _vary(render(request, "integrations/_preset_saved.html", {"error": error}))
    carried = list(presets.storable_data(operation, request.POST).items())
    target = _chosen_target(request)
    if target is not None:
        carried.append((presets.TARGET_FIELD, str(target.pk)))
    context = {
        "operation": operation,
        "error": error,
        "carried": carried,
        "preset_name": request.POST.get("preset_name", "")[: presets.NAME_MAX * 2],
        "form_url": reverse("operation_form", args=[operation.service, operation.name]),
    }
    return _vary(render(request, "integrations/_preset_save_page.html", context, status=400))


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def preset_list(request: PortalRequest) -> HttpResponse:
    """The presets a person may start a request from, per operation: their own and their groups'."""
    found = list(
        presets.usable(request.user)
        .select_related("owner", "shared_with", "target")
        .order_by("service", "operation", "name", "id")[: PRESET_PAGE + 1]
    )
    more, found = len(found) > PRESET_PAGE, found[:PRESET_PAGE]
    sections = []
    for key, group in groupby(found, key=lambda p: p.operation_key):
        operation = get_operation(key)  # usable() lists registered operations only
        rows = [(preset, start_url(preset)) for preset in group]
        sections.append((operation, rows))
    sections.sort(key=lambda section: section[0].title)
    context = {"sections": sections, "more": more, "page_size": PRESET_PAGE}
    return render(request, "integrations/preset_list.html", context)


@require_POST
def preset_delete(request: PortalRequest, pk: int) -> HttpResponse:
    """Delete a preset: its owner only. One the person cannot see is a 404, like any other missing one."""
    preset = get_object_or_404(presets.visible(request.user), pk=pk)
    if preset.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who saved a preset may delete it.")
    preset.delete()
    messages.success(request, f"Deleted the preset “{preset.name}”.")
    return redirect("preset_list")
