"""The Resources page: every resource created through the portal that the user may see, what AWS
last said of it, a "Check again" button, and the auditors' export.

Filtered, paged and counted like the history (``integrations.history``): keyset pages on
(created_at, id), counts capped, every filter an index of ``Resource`` answers; so the page costs
the same at a million resources as at ten.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from integrations import history, resources
from integrations.models import Resource, ResourceStatus
from integrations.permissions import EXPORT, VIEW_ALL
from integrations.views import PortalRequest

PAGE_SIZE = 25
# The page never shows the key fields as first and last read (JSON documents of each resource).
NOT_SHOWN = ("baseline", "observed")
# The history's badge colours (static/portal/portal.css), by what each status means to the reader.
BADGES: dict[str, str] = {
    ResourceStatus.CONFIRMED: "status-succeeded",
    ResourceStatus.GONE: "status-failed",
    ResourceStatus.CHANGED: "status-retrying",
    ResourceStatus.UNCONFIRMED: "status-retrying",
    ResourceStatus.PENDING: "status-queued",
}
RECHECK_SENT = "A new check of {name} is on its way: its status changes here when AWS has answered."
RECHECK_NOT_SENT = "The check of {name} could not be sent just now; the reconciliation will check it soon."


def _shown(resource: Resource) -> Resource:
    """The row as the table shows it: its type in words and its badge's colour (no query: the
    operation's title comes from the registry)."""
    resource.type_title = history.resource_type(resource)  # type: ignore[attr-defined]
    resource.badge = BADGES.get(resource.status, "")  # type: ignore[attr-defined]
    return resource


@require_GET
def resource_list(request: PortalRequest) -> HttpResponse:
    """The resources, newest first, a keyset page at a time; the table alone when htmx asks."""
    filters, found = history.created_resources(request.user, request.GET)
    page = history.keyset_page(found.defer(*NOT_SHOWN), history.Cursor.parse(request.GET.get("cursor")), PAGE_SIZE)
    for resource in page.rows:
        _shown(resource)
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "count": history.capped_count(found, noun="resource"),
        "filters": filters,
        "users": history.users_with_resources() if request.user.has_perm(VIEW_ALL) else [],
        "filter_query": query.urlencode(),
        "this_page": request.get_full_path(),
        "can_export": request.user.has_perm(EXPORT),
    }
    template = "integrations/_resource_table.html" if request.htmx else "integrations/resource_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def resource_export(request: PortalRequest, fmt: str) -> StreamingHttpResponse:
    """What the Resources page's filters select, streamed (never all of it in memory), for auditors."""
    if not request.user.has_perm(EXPORT):
        raise PermissionDenied("You may not export the resources.")
    _, found = history.created_resources(request.user, request.GET)
    if fmt == "csv":
        lines, content_type = history.resource_csv_lines(found), "text/csv; charset=utf-8"
    else:
        lines, content_type = history.resource_json_lines(found), "application/x-ndjson"
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{history.export_filename(fmt, "resources")}"'
    return response


@require_POST
def resource_recheck(request: PortalRequest, pk: int) -> HttpResponse:
    """Read one resource back from AWS again now, for anyone who may see it (404 for anyone else).

    The read runs in a worker (as the target's role for the person who created it) and is
    recorded in the audit like a confirmation; the answer only says it is on its way. With htmx,
    the row again with that message; without, back to the page the button was on.
    """
    resource = get_object_or_404(
        Resource.objects.select_related("created_by", "target").defer(*NOT_SHOWN).visible_to(request.user), pk=pk
    )
    sent = resources.request_recheck(resource)
    name = resource.name or resource.resource_id
    words = (RECHECK_SENT if sent else RECHECK_NOT_SENT).format(name=name)
    if request.htmx:
        context = {
            "r": _shown(resource),
            "notice": words,
            "this_page": _back(request.POST.get("next", "")),
        }
        response = render(request, "integrations/_resource_row.html", context)
        patch_vary_headers(response, ("HX-Request",))
        return response
    (messages.success if sent else messages.warning)(request, words)
    return redirect(_back(request.POST.get("next", "")))


def _back(path: str) -> str:
    """Where the button was: a Resources page (with its filters and cursor), never anywhere else."""
    home = reverse("resource_list")
    if (path == home or path.startswith(f"{home}?")) and url_has_allowed_host_and_scheme(path, allowed_hosts=None):
        return path
    return home
