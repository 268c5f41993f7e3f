"""The pages of batches: upload a file, read its report, submit it, watch it run (integrations/batches.py).

Every change is a POST with CSRF; what cannot be done is said on the page (the messages
framework) and what may not be done is a 403 page, never a 500. The batch page's live part
(``_batch_live.html``) is polled with htmx every POLL_SECONDS while the batch can change by itself,
and answered with 286 (stop polling) once it cannot.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from integrations import batches, history, lifecycle, uploads
from integrations.models import AwsRequest, AwsTarget, Batch, BatchStatus, RequestStatus
from integrations.permissions import operation_or_404, runnable_operations
from integrations.views import PortalRequest, _duration
from operations import Operation, get_operation, operation_key

B = BatchStatus
POLL_SECONDS = 2
REPORT_PAGE = 100
LIST_PAGE = 50
FAILURES_SHOWN = 100
# The batch changes by itself (a worker checks, records or runs it) only in these states.
LIVE = (B.CHECKING, B.RECORDING, B.AWAITING_APPROVAL, B.RUNNING, B.PAUSED)
STEERABLE = {
    "pause": (B.RUNNING,),
    "resume": (B.PAUSED,),
    "cancel": (B.RECORDING, B.AWAITING_APPROVAL, B.RUNNING, B.PAUSED),
}
FORMAT_CHOICES = (("", "By the file's name (.csv, .jsonl)"), ("csv", "CSV"), ("jsonl", "JSON lines"))


# --- 1. upload ----------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    """Where the events run, the file, and (optionally) its format. The file comes last on the page:
    fields after a file that was too large are never read (the upload stops there)."""

    target = forms.ModelChoiceField(
        queryset=AwsTarget.objects.none(),
        empty_label=None,
        label="AWS target",
        help_text="The account and region every event of the file is sent to.",
        error_messages={"invalid_choice": "You may not use this AWS target."},
    )
    file_format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False, label="Format")
    file = forms.FileField(
        label="File",
        help_text="A .csv or .jsonl file.",
        error_messages={"required": "Choose a file to upload.", "empty": "The file is empty."},
    )

    def __init__(self, targets: QuerySet[AwsTarget], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["target"].queryset = targets  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Member:
    """A column (CSV) or key (JSON lines) of an uploaded file, as the upload page lists it."""

    name: str
    label: str
    kind: str
    required: bool


def file_members(operation: Operation) -> list[Member]:
    """The operation's members a file may hold (the client token is the portal's), nested ones as
    ``parent.member`` after their parent."""
    shape = operation.input_shape
    found = []
    for name, member in shape.members.items():
        if name == operation.token_member:
            continue
        hint = operation.hints.get(name)
        kind = "JSON text" if name in operation.json_members else _kind(member.type_name)
        found.append(Member(name, hint.label if hint and hint.label else name, kind, name in shape.required_members))
        for child, child_shape in getattr(member, "members", {}).items():
            dotted = f"{name}.{child}"
            hint = operation.hints.get(dotted)
            label = hint.label if hint and hint.label else child
            required = child in member.required_members
            found.append(Member(dotted, label, _kind(child_shape.type_name), required))
    return found


def _kind(type_name: str) -> str:
    return {
        "structure": "JSON object",
        "map": "JSON object",
        "list": "JSON array",
        "timestamp": "date and time",
        "integer": "whole number",
        "long": "whole number",
        "boolean": "true or false",
    }.get(type_name, "text")


# A line of a file for the upload page's examples, per operation (any other: each required member's name).
EXAMPLE_LINES: dict[str, list[dict[str, str]]] = {
    "supplychain/SendDataIntegrationEvent": [
        {
            "instanceId": "2b2b2b2b-1111-2222-3333-444444444444",
            "eventType": "scn.data.inboundorder",
            "eventGroupId": "order-1001",
            "data": json.dumps({"id": "order-1001", "order_status": "OPEN"}),
        },
        {
            "instanceId": "2b2b2b2b-1111-2222-3333-444444444444",
            "eventType": "scn.data.inboundorder",
            "eventGroupId": "order-1001",
            "data": json.dumps({"id": "order-1001", "order_status": "CLOSED"}),
            "eventTimestamp": "2026-01-31T14:30:00Z",
        },
    ]
}


def examples(operation: Operation, members: list[Member]) -> tuple[str, str]:
    """A short CSV file and the same lines as JSON lines."""
    lines = EXAMPLE_LINES.get(operation.key) or [{m.name: m.name for m in members if m.required and "." not in m.name}]
    columns = list(dict.fromkeys(name for line in lines for name in line))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([line.get(name, "") for name in columns] for line in lines)
    jsonl = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    return out.getvalue().rstrip("\n"), jsonl


def _upload_page(
    request: PortalRequest, operation: Operation, form: UploadForm, has_targets: bool, status: int = 200
) -> HttpResponse:
    members = file_members(operation)
    csv_example, jsonl_example = examples(operation, members)
    context = {
        "operation": operation,
        "form": form,
        "has_targets": has_targets,
        "members": members,
        "nested": [member.name for member in members if "." in member.name],
        "csv_example": csv_example,
        "jsonl_example": jsonl_example,
        "max_lines": settings.PORTAL_BATCH_MAX_LINES,
        "max_megabytes": f"{settings.PORTAL_BATCH_MAX_BYTES / 1024 / 1024:,.0f}",
    }
    return render(request, "integrations/batch_upload.html", context, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def batch_upload(request: PortalRequest, service: str, name: str) -> HttpResponse:
    """The upload page. Exempt from the middleware's CSRF check only because that check reads the
    body before the size-limited handler is in place; ``_upload`` checks the token itself."""
    handler = uploads.accept(request)
    return _upload(request, service, name, handler)


@csrf_protect
def _upload(request: PortalRequest, service: str, name: str, handler: uploads.LimitedUpload) -> HttpResponse:
    operation = operation_or_404(operation_key(service, name))
    if not operation.bulk_upload:
        raise Http404(f"{operation.key} does not take uploaded files")
    lifecycle.authorize(request.user, operation)
    targets = AwsTarget.usable_by(request.user)
    if request.method == "GET":
        return _upload_page(request, operation, UploadForm(targets), targets.exists())
    form = UploadForm(targets, request.POST, request.FILES)
    valid = form.is_valid()
    if handler.too_large:
        form.errors.pop("file", None)
        form.add_error("file", uploads.too_large_message())
        valid = False
    if not valid:
        return _upload_page(request, operation, form, targets.exists(), status=400)
    uploaded = form.cleaned_data["file"]
    try:
        batch = batches.upload(
            operation,
            request.user,
            form.cleaned_data["target"],
            uploads.uploaded_stream(uploaded),
            uploaded.name,
            form.cleaned_data["file_format"] or None,
        )
    except batches.UploadError as exc:
        form.add_error("file", str(exc))
        return _upload_page(request, operation, form, targets.exists(), status=400)
    except lifecycle.TargetNotPermitted as exc:
        form.add_error("target", str(exc))
        return _upload_page(request, operation, form, targets.exists(), status=400)
    messages.success(request, f"{uploaded.name} uploaded: {batch.lines:,} line(s), now being checked.")
    return redirect(batch)


# --- 2. the batch page ------------------------------------------------------------------------------


def _visible_batch(request: PortalRequest, pk: int) -> Batch:
    return get_object_or_404(
        batches.visible_to(request.user).select_related(
            "target", "created_by", "paused_by", "decided_by", "cancelled_by"
        ),
        pk=pk,
    )


def _report_page(request: PortalRequest, batch: Batch) -> Page:
    paginator = Paginator(batches.report(batch).only("number", "errors"), REPORT_PAGE)
    return paginator.get_page(request.GET.get("page"))


def _polls(batch: Batch, progress: batches.Progress | None) -> bool:
    """Whether the page keeps asking: while a worker may change the batch, and after a cancel while
    requests already running finish."""
    if batch.status in LIVE:
        return True
    return batch.status == B.CANCELLED and progress is not None and progress.unfinished > 0


def _live_context(request: PortalRequest, batch: Batch) -> dict:
    """What the polled part of the page shows, for the batch's status."""
    steer = batches.can_steer(request.user, batch)
    progress = None
    context: dict = {"batch": batch}
    if batch.status == B.DRAFT:
        context |= {"report": _report_page(request, batch), "valid_lines": batch.lines - batch.invalid_lines}
    elif batch.status not in (B.CHECKING, B.DISCARDED):
        progress = batches.progress(batch)
        failed = list(batches.failures(batch).defer("parameters", "response").select_related(None)[:FAILURES_SHOWN])
        context |= {
            "progress": progress,
            "counts": [
                (value, label, progress.counts[value])
                for value, label in RequestStatus.choices
                if value in progress.counts
            ],
            "rate": f"{progress.rate:.1f}",
            "time_left": _duration(progress.seconds_left) if progress.seconds_left is not None else "",
            "failures": failed,
            "failed_count": progress.counts.get(RequestStatus.FAILED, 0),
            "failures_shown": FAILURES_SHOWN,
            "can_pause": steer and batch.status in STEERABLE["pause"],
            "can_resume": steer and batch.status in STEERABLE["resume"],
            "can_cancel": steer and batch.status in STEERABLE["cancel"],
            "can_decide": batch.status == B.AWAITING_APPROVAL and batches.can_decide(request.user, batch),
            "can_fix_failures": steer and batch.status in (B.RUNNING, B.PAUSED, B.FINISHED),
        }
    context |= {
        "is_owner": batch.created_by_id == request.user.pk,
        "poll": _polls(batch, progress),
        "poll_seconds": POLL_SECONDS,
        "reason_limit": lifecycle.REASON_LIMIT,
    }
    return context


def _live_response(request: PortalRequest, batch: Batch, full: bool) -> HttpResponse:
    context = _live_context(request, batch)
    if full:
        context["operation"] = get_operation(batch.operation_key)
        response = render(request, "integrations/batch_detail.html", context)
    else:
        response = render(request, "integrations/_batch_live.html", context)
        if not context["poll"]:
            # 286 stops htmx polling; its body (the final state) is still swapped in.
            response.status_code = HTMX_STOP_POLLING
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def batch_detail(request: PortalRequest, pk: int) -> HttpResponse:
    """The batch page: what, where, who; then its check, its report, or its progress and failures."""
    batch = _visible_batch(request, pk)
    return _live_response(request, batch, full=not request.htmx)


@require_GET
def batch_progress(request: PortalRequest, pk: int) -> HttpResponse:
    """The batch page's live part, for htmx's poll (the page itself for anyone else)."""
    batch = _visible_batch(request, pk)
    if not request.htmx:
        response = redirect(batch)
        patch_vary_headers(response, ("HX-Request",))
        return response
    return _live_response(request, batch, full=False)


@require_GET
def batch_report_export(request: PortalRequest, pk: int) -> StreamingHttpResponse:
    """The report as CSV: one row per error of an invalid line (line, member, message)."""
    batch = _visible_batch(request, pk)

    def rows() -> Iterator[list[object]]:
        for line in batches.report(batch).only("number", "errors").iterator(chunk_size=2000):
            for error in line.errors or [{"member": "", "message": "is invalid"}]:
                yield [line.number, error.get("member", ""), error.get("message", "")]

    response = StreamingHttpResponse(
        history.csv_rows(("line", "member", "message"), rows()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-report.csv"'
    return response


# --- 3. the list ----------------------------------------------------------------------------------


@require_GET
def batch_list(request: PortalRequest) -> HttpResponse:
    """The batches the user may see, newest first."""
    visible = batches.visible_to(request.user).select_related("target").defer("columns")
    page = Paginator(visible.order_by("-created_at", "-id"), LIST_PAGE).get_page(request.GET.get("page"))
    titles = {}
    for batch in page:
        key = batch.operation_key
        if key not in titles:
            try:
                titles[key] = get_operation(key).title
            except LookupError:
                titles[key] = key
    rows = [(batch, titles[batch.operation_key]) for batch in page]
    uploadable = [operation for operation in runnable_operations(request.user) if operation.bulk_upload]
    return render(request, "integrations/batch_list.html", {"page": page, "rows": rows, "uploadable": uploadable})


# --- 4. actions ------------------------------------------------------------------------------------


def _submit(request: PortalRequest, batch: Batch) -> str:
    batches.submit(batch, request.user, skip_invalid=request.POST.get("skip_invalid") == "on")
    return "Submitted: its requests are being recorded, then sent."


def _discard(request: PortalRequest, batch: Batch) -> str:
    batches.discard(batch, request.user)
    return "Discarded: nothing of it was recorded."


def _pause(request: PortalRequest, batch: Batch) -> str:
    batches.pause(batch, request.user)
    return "Paused: nothing more is sent; the requests already running finish."


def _resume(request: PortalRequest, batch: Batch) -> str:
    batches.resume(batch, request.user)
    return "Resumed."


def _cancel(request: PortalRequest, batch: Batch) -> str:
    cancelled = batches.cancel(batch, request.user, request.POST.get("reason", ""))
    return f"Cancelled: {cancelled:,} request(s) will not be sent; those already running finish."


def _approve(request: PortalRequest, batch: Batch) -> str:
    batches.decide(batch, request.user, approve=True, reason=request.POST.get("reason", ""))
    return "Approved: its requests are being sent."


def _reject(request: PortalRequest, batch: Batch) -> str:
    batches.decide(batch, request.user, approve=False, reason=request.POST.get("reason", ""))
    return "Rejected: none of its requests will be sent."


ACTIONS = {
    "submit": _submit,
    "discard": _discard,
    "pause": _pause,
    "resume": _resume,
    "cancel": _cancel,
    "approve": _approve,
    "reject": _reject,
}


@require_POST
def batch_action(request: PortalRequest, pk: int, action: str) -> HttpResponse:
    """Submit, discard, pause, resume, cancel, approve or reject a batch, then back to its page.

    What cannot be done now (BatchError) is said there; PermissionDenied is the 403 page."""
    act = ACTIONS.get(action)
    if act is None:
        raise Http404(f"No batch action {action}")
    batch = _visible_batch(request, pk)
    try:
        done = act(request, batch)
    except batches.BatchError as exc:
        messages.error(request, f"Batch #{batch.pk}: {exc}")
    else:
        messages.success(request, f"Batch #{batch.pk}. {done}")
    return redirect(batch)


GROUP_ACTIONS = {"release": batches.release, "retry": batches.retry}


@require_POST
def request_group_action(request: PortalRequest, pk: int, action: str) -> HttpResponse:
    """Release the group a failed request holds, or retry it (same client token), then back to its
    batch's page (or its own page, for a request of no batch)."""
    act = GROUP_ACTIONS.get(action)
    if act is None:
        raise Http404(f"No group action {action}")
    aws_request = get_object_or_404(
        AwsRequest.objects.select_related("batch", "target").visible_to(request.user), pk=pk
    )
    try:
        act(aws_request, request.user)
    except batches.BatchError as exc:
        messages.error(request, f"Request #{aws_request.pk}: {exc}")
    else:
        done = "its group goes on without it" if action == "release" else "it runs again, with the same client token"
        messages.success(request, f"Request #{aws_request.pk}: {done}.")
    back = aws_request.batch.get_absolute_url() if aws_request.batch_id else reverse("request_detail", args=[pk])
    return redirect(back)
