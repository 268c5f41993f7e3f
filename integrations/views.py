"""The portal's pages: operations and their forms, the history, exports and approvals."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from integrations import committed, config_history, history, lifecycle, preview
from integrations.error_help import explain
from integrations.forms import FIELD, ROWS_ACTION, OperationForm, edit_rows, params_to_data
from integrations.models import AwsRequest, AwsTarget, RequestStatus, Resource, ResourceStatus
from integrations.permissions import (
    APPROVE,
    EXPORT,
    VIEW_ALL,
    VIEW_CONFIGURATION_HISTORY,
    VIEW_SENSITIVE,
    Call,
    operation_or_404,
    runnable_operations,
    shown_parameters,
    withheld_parameters,
)
from operations import Operation, operation_key


class PortalRequest(HttpRequest):
    """What every page receives: a signed-in user (LoginRequiredMiddleware lets nobody else in)
    and django-htmx's reading of the request."""

    user: User
    htmx: HtmxDetails


PAGE_SIZE = 25
CONFIGURATION_PAGE = 500
PREVIEW = "_preview"
EDIT = "_edit"
# The preview keeps sensitive values in the session, not in its page: HELD names them there.
HELD = "_held"
HELD_SESSION_KEY = "integrations.preview_held"
HELD_KEPT = 5  # previews whose Run (or Back) is still possible, per session


def _render(request: PortalRequest, full: str, partial: str, context: dict, status: int = 200) -> HttpResponse:
    """The whole page, or only its changing part when htmx asks for it."""
    response = render(request, partial if request.htmx else full, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


class TargetForm(forms.Form):
    """Where the request runs: one of the AWS targets granted to the user."""

    target = forms.ModelChoiceField(queryset=AwsTarget.objects.none(), empty_label=None, label="AWS target")

    def __init__(self, targets, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets
        self.fields["target"].help_text = "The account and region the call is made in."


@require_GET
def home(request: PortalRequest) -> HttpResponse:
    """What a person wants first: their recent requests, the last day at a glance, what failed."""
    visible = history.operation_titles(
        AwsRequest.objects.select_related("created_by", "target")
        .defer("parameters", "response")
        .visible_to(request.user)
    )
    since = timezone.now() - dt.timedelta(days=1)
    counts = dict(
        visible.filter(created_at__gte=since).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    context = {
        "recent": visible.filter(created_by=request.user)[:10],
        "counts": [(value, label, counts.get(value, 0)) for value, label in RequestStatus.choices],
        "failures": visible.filter(status=RequestStatus.FAILED, created_at__gte=timezone.now() - dt.timedelta(days=7))[
            :10
        ],
        "waiting": visible.filter(status=RequestStatus.AWAITING_APPROVAL).exclude(created_by=request.user)[:10]
        if request.user.has_perm(APPROVE)
        else [],
        "operations": runnable_operations(request.user),
    }
    return render(request, "integrations/home.html", context)


@require_GET
def operation_list(request: PortalRequest) -> HttpResponse:
    return render(request, "integrations/operation_list.html", {"operations": runnable_operations(request.user)})


def _allowed_targets(request: PortalRequest, operation: Operation):
    """The targets to offer, after refusing (403) a user who may not run the operation at all.

    A POST naming a target the user may not use is refused here too, before the form is even
    validated, so it learns nothing; ``lifecycle.submit`` decides again when it records.
    """
    lifecycle.authorize(request.user, operation)
    targets = AwsTarget.usable_by(request.user)
    chosen = request.POST.get("target", "")
    # ASCII digits only: "²" is a digit to str.isdigit() but not a primary key.
    known = chosen.isascii() and chosen.isdigit() and targets.filter(pk=chosen).exists()
    if request.method == "POST" and (not targets.exists() or (chosen and not known)):
        raise lifecycle.TargetNotPermitted("You may not use this AWS target.")
    return targets


def _form_page(request: PortalRequest, operation: Operation, form, target_form, targets) -> HttpResponse:
    context = {"operation": operation, "form": form, "target_form": target_form, "has_targets": targets.exists()}
    return _render(request, "integrations/operation_form.html", "integrations/_operation_form.html", context)


@require_http_methods(["GET", "POST"])
def operation_form(request: PortalRequest, service: str, name: str) -> HttpResponse:
    """The form; its Preview button shows the exact call, whose Run button records the request.

    A POST without PREVIEW (the preview's Run, or a script) records it at once.
    """
    operation = operation_or_404(operation_key(service, name))
    targets = _allowed_targets(request, operation)
    if request.method == "GET":
        return _form_page(request, operation, OperationForm(operation), TargetForm(targets), targets)
    posted = _with_held_values(request)
    if posted.get(ROWS_ACTION) or posted.get(EDIT):
        # Adding or removing a row, or back from the preview: the form again with what was typed.
        data = edit_rows(posted, posted.get(ROWS_ACTION, ""))
        data = {k: v for k, v in data.items() if k not in (EDIT, PREVIEW)}
        form = OperationForm(operation, initial=data)
        return _form_page(
            request, operation, form, TargetForm(targets, initial={"target": data.get("target")}), targets
        )
    form = OperationForm(operation, posted)
    target_form = TargetForm(targets, posted)
    if not (target_form.is_valid() & form.is_valid()):
        return _form_page(request, operation, form, target_form, targets)
    target = target_form.cleaned_data["target"]
    if posted.get(PREVIEW):
        # The preview shows sensitive values as their size and digest (``preview``), and carries
        # the rest of the form for its Run and Back buttons; sensitive values wait in the session.
        held = _hold_sensitive_values(request, operation, form.params, posted)
        carried = [(k, v) for k, v in posted.items() if k not in ("csrfmiddlewaretoken", PREVIEW, *held)]
        if held:
            carried.append((HELD, held[HELD]))
        context = {
            "operation": operation,
            "target": target,
            "carried": carried,
            "boto3_code": preview.boto3_code(operation, form.params, target.region),
            "cli_command": preview.cli_command(operation, form.params, target.region),
        }
        return _render(request, "integrations/preview.html", "integrations/_preview.html", context)
    # The form checked these parameters by the same rules, so submit raises no InvalidParametersError;
    # its PermissionDenied is a 403 like the checks above.
    aws_request = lifecycle.submit(operation, form.params, request.user, target).aws_request
    # Recorded: from here on the answer is its page, whatever fails later (integrations/committed.py).
    if request.htmx:
        return committed.answer(request, HttpResponseClientRedirect(aws_request.get_absolute_url()), aws_request.pk)
    return committed.answer(request, redirect(aws_request), aws_request.pk)


def _hold_sensitive_values(
    request: PortalRequest, operation: Operation, params: dict, posted: QueryDict
) -> dict[str, str]:
    """Keep the form's sensitive values in the session for the preview's Run and Back buttons.

    Returns the names of the fields held (with ``HELD``: the reference the preview carries), or
    nothing when the call has no sensitive value. The page then never holds the payload, not even
    in a hidden field.
    """
    _, withheld = withheld_parameters(Call(operation.key, params), may_see_sensitive=False)
    names = [name for name in params_to_data(operation, withheld) if name in posted]
    if not names:
        return {}
    reference = uuid.uuid4().hex
    kept = dict(list(request.session.get(HELD_SESSION_KEY, {}).items())[-(HELD_KEPT - 1) :])
    kept[reference] = {name: posted[name] for name in names}
    request.session[HELD_SESSION_KEY] = kept
    return {**dict.fromkeys(names, ""), HELD: reference}


def _with_held_values(request: PortalRequest) -> QueryDict:
    """The POST, with the sensitive values its preview held in the session put back (once)."""
    reference = request.POST.get(HELD)
    if not reference:
        return request.POST
    kept = request.session.get(HELD_SESSION_KEY, {})
    values = kept.pop(reference, None)
    request.session[HELD_SESSION_KEY] = kept
    posted = request.POST.copy()
    del posted[HELD]
    # Gone (used already, or the session ended): the field is empty and the form says so.
    for name, value in (values or {}).items():
        posted[name] = value
    return posted


@require_POST
def operation_validate(request: PortalRequest, service: str, name: str) -> HttpResponse:
    """One field checked as the person leaves it, by the same rules as on submit."""
    operation = operation_or_404(operation_key(service, name))
    _allowed_targets(request, operation)
    form = OperationForm(operation, request.POST)
    node = form.find(request.POST.get(FIELD, ""))
    if node is None:
        return HttpResponse(status=204)
    return render(request, "integrations/_node.html", {"node": node, "operation": operation})


@require_GET
def request_again(request: PortalRequest, pk: int) -> HttpResponse:
    """Run again: the request's form filled with its parameters; a new client token when run."""
    aws_request = _visible_request_or_404(request, pk)
    operation = operation_or_404(aws_request.operation_key)
    targets = _allowed_targets(request, operation)
    # Sensitive values come back only to those who may see them (``shown_parameters`` decides);
    # for anyone else their fields are left empty, with a note, and the value is never on the page.
    kept, withheld = withheld_parameters(aws_request, request.user.has_perm(VIEW_SENSITIVE))
    data = params_to_data(operation, kept)
    emptied = [name for name in params_to_data(operation, withheld) if name not in data]
    form = OperationForm(operation, initial={**data, **dict.fromkeys(emptied, "")})
    labels = []
    for name in emptied:
        field = form.fields.get(name)
        if field is not None:
            labels.append(str(field.label or name))
            field.help_text = (
                f"Not copied from request #{aws_request.pk}: this value is sensitive, so it must be entered again. "
                f"{field.help_text}"
            ).strip()
    target_form = TargetForm(targets, initial={"target": aws_request.target_id})
    messages.info(request, f"A copy of request #{aws_request.pk}: check it, then preview and run.")
    if labels:
        messages.warning(request, f"Enter {', '.join(labels)} again: sensitive values are not copied.")
    return _form_page(request, operation, form, target_form, targets)


@require_GET
def request_list(request: PortalRequest) -> HttpResponse:
    """The history, newest first, a keyset page at a time ("newer"/"older" links carry a cursor).

    No exact count and no OFFSET, so that the thousandth page costs what the first does.
    """
    filters, requests = history.history(request.user, request.GET)
    # The columns the table shows; the stored parameters and response stay in the database.
    page = history.keyset_page(
        requests.defer("parameters", "response"), history.Cursor.parse(request.GET.get("cursor")), PAGE_SIZE
    )
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "count": history.capped_count(requests),
        "filters": filters,
        # Only people who may see others' requests may pick them by name.
        "users": history.users_with_requests() if request.user.has_perm(VIEW_ALL) else [],
        "filter_query": query.urlencode(),
        "can_export": request.user.has_perm(EXPORT),
    }
    return _render(request, "integrations/request_list.html", "integrations/_request_table.html", context)


@require_GET
def request_export(request: PortalRequest, fmt: str) -> StreamingHttpResponse:
    if not request.user.has_perm(EXPORT):
        raise PermissionDenied("You may not export the history.")
    _, requests = history.history(request.user, request.GET)
    if fmt == "csv":
        lines, content_type = history.csv_lines(request.user, requests), "text/csv; charset=utf-8"
    else:
        lines, content_type = history.json_lines(request.user, requests), "application/x-ndjson"
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{history.export_filename(fmt)}"'
    return response


def _visible_request_or_404(request: PortalRequest, pk: int) -> AwsRequest:
    return get_object_or_404(AwsRequest.objects.select_related("created_by", "target").visible_to(request.user), pk=pk)


@require_GET
def request_detail(request: PortalRequest, pk: int) -> HttpResponse:
    """A request's page; its status section alone when htmx polls it (every second while it runs).

    The poll shows the status, the result and the attempts: it neither loads the parameters (up
    to a MiB) nor redacts them (a digest of every sensitive value), nor reads anything else only
    the whole page shows. Every viewer of a running request asks this every second.
    """
    visible = AwsRequest.objects.select_related("created_by", "target", "resource").visible_to(request.user)
    if request.htmx:
        visible = visible.defer("parameters")
    aws_request = get_object_or_404(visible, pk=pk)
    operation = operation_or_404(aws_request.operation_key)
    resource = getattr(aws_request, "resource", None)
    context = {
        "aws_request": aws_request,
        "operation": operation,
        "resource": resource,
        # The page keeps asking while the request runs, and after its success until AWS confirmed it.
        "polling": _still_changing(aws_request, resource),
        "console_url": operation.console_link(aws_request.region, aws_request.resource_id),
        "error_help": explain(aws_request.error_code, operation),
        "attempts": aws_request.attempts.all(),
    }
    if not request.htmx:
        parameters = shown_parameters(aws_request, request.user.has_perm(VIEW_SENSITIVE))
        context |= {
            "parameters": json.dumps(parameters, indent=2, ensure_ascii=False),
            "decision": getattr(aws_request, "decision", None),
            # An operator's retry with a new client token (manage.py retry_request), if the viewer may see it.
            "retried_as": aws_request.retries.visible_to(request.user).order_by("pk"),
            "can_decide": aws_request.status == RequestStatus.AWAITING_APPROVAL
            and lifecycle.can_decide(request.user, aws_request),
        }
    response = _render(request, "integrations/request_detail.html", "integrations/_request_status.html", context)
    if request.htmx and not context["polling"]:
        # 286 stops htmx polling; its body (the final state) is still swapped in.
        response.status_code = HTMX_STOP_POLLING
    return response


def _still_changing(aws_request: AwsRequest, resource: Resource | None) -> bool:
    """Whether the status section may still change by itself (a worker's or the confirmation's doing)."""
    if aws_request.status == RequestStatus.AWAITING_APPROVAL:
        return False
    if not aws_request.is_finished:
        return True
    return resource is not None and resource.status == ResourceStatus.PENDING


APPROVAL_QUEUE_PAGE = 100


@require_GET
def approval_queue(request: PortalRequest) -> HttpResponse:
    if not request.user.has_perm(APPROVE):
        raise PermissionDenied("You may not approve requests.")
    waiting = AwsRequest.objects.filter(status=RequestStatus.AWAITING_APPROVAL).exclude(created_by=request.user)
    # The oldest first, a page of them: a queue of thousands (a long weekend) must not be a page of
    # thousands of rows, nor an exact count of them (the index on status and created_at serves both).
    context = {
        "waiting": waiting.select_related("created_by", "target").order_by("created_at", "id")[:APPROVAL_QUEUE_PAGE],
        "count": history.capped_count(waiting),
        "page_size": APPROVAL_QUEUE_PAGE,
    }
    return render(request, "integrations/approval_queue.html", context)


@require_POST
def request_decide(request: PortalRequest, pk: int) -> HttpResponse:
    aws_request = _visible_request_or_404(request, pk)
    approve = request.POST.get("decision") == "approve"
    try:
        lifecycle.decide(aws_request, request.user, approve=approve, reason=request.POST.get("reason", ""))
    except lifecycle.DecisionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{aws_request.pk} {'approved' if approve else 'rejected'}.")
    return redirect(aws_request)


@require_GET
def configuration_history(request: PortalRequest, fmt: str = "") -> HttpResponse | StreamingHttpResponse:
    """Who changed targets, approval rules, users, groups, grants and API tokens: for auditors.

    The page shows the newest CONFIGURATION_PAGE changes of the chosen kind; the CSV export
    streams all of them, cells neutralised against formulas like the request history's.
    """
    if not request.user.has_perm(VIEW_CONFIGURATION_HISTORY):
        raise PermissionDenied("You may not read the configuration history.")
    what = request.GET.get("what", "")
    if what not in config_history.TRACKED:
        what = ""
    changes = config_history.configuration_changes(what)
    if fmt == "csv":
        columns = ("at", "by", "kind", "what", "object", "changes")
        rows = ((c.at.isoformat(), c.by, c.kind, c.what, c.object, c.summary) for c in changes)
        response = StreamingHttpResponse(history.csv_rows(columns, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="configuration-{history.export_filename("csv")}"'
        return response
    context = {"changes": changes[:CONFIGURATION_PAGE], "total": len(changes), "what": what,
               "kinds": list(config_history.TRACKED)}  # fmt: skip
    return render(request, "integrations/configuration_history.html", context)
