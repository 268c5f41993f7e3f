"""The portal's pages: operations and their forms, and the history of requests."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect

from integrations import pipeline
from integrations.awsmodel import operation_model, redact_sensitive
from integrations.forms import ROWS_ACTION, OperationForm, edit_rows
from integrations.models import Request, RequestStatus
from integrations.operations import all_operations, get_operation_or_404

PAGE_SIZE = 25


def _render(request: HttpRequest, full: str, partial: str, context: dict, status: int = 200) -> HttpResponse:
    """The whole page, or only its changing part when htmx asks for it."""
    response = render(request, partial if request.htmx else full, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("operation_list")


@require_GET
def operation_list(request: HttpRequest) -> HttpResponse:
    return render(request, "integrations/operation_list.html", {"operations": all_operations()})


@require_http_methods(["GET", "POST"])
def operation_form(request: HttpRequest, service: str, name: str) -> HttpResponse:
    operation = get_operation_or_404(service, name)
    if request.method == "POST" and request.POST.get(ROWS_ACTION):
        # Adding or removing a row: show the form again with what was typed, judged on submit.
        form = OperationForm(operation, initial=edit_rows(request.POST, request.POST[ROWS_ACTION]))
    elif request.method == "POST":
        form = OperationForm(operation, request.POST)
        if form.is_valid():
            recorded = pipeline.submit(operation, form.params, request.user)
            if request.htmx:
                return HttpResponseClientRedirect(recorded.get_absolute_url())
            return redirect(recorded)
    else:
        form = OperationForm(operation)
    context = {"operation": operation, "form": form}
    return _render(request, "integrations/operation_form.html", "integrations/_operation_form.html", context)


@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    requests = Request.objects.select_related("created_by")
    operation = request.GET.get("operation", "")
    status = request.GET.get("status", "")
    user = request.GET.get("user", "")
    if operation.count("/") == 1:
        service, name = operation.split("/")
        requests = requests.filter(service=service, operation=name)
    if status in RequestStatus.values:
        requests = requests.filter(status=status)
    if user:
        requests = requests.filter(created_by__username=user)
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    context = {
        "page": page,
        "operations": all_operations(),
        "statuses": RequestStatus.choices,
        "users": get_user_model().objects.filter(aws_requests__isnull=False).distinct().order_by("username"),
        "selected": {"operation": operation, "status": status, "user": user},
        "filter_query": filters.urlencode(),
    }
    return _render(request, "integrations/request_list.html", "integrations/_request_table.html", context)


@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    recorded = get_object_or_404(Request.objects.select_related("created_by"), pk=pk)
    shape = operation_model(recorded.service, recorded.operation).input_shape
    context = {
        "req": recorded,
        "attempts": recorded.attempts.all(),
        # Sensitive members (Supply Chain's data) show as their size and digest only.
        "parameters": json.dumps(redact_sensitive(shape, recorded.parameters), indent=2, ensure_ascii=False),
    }
    response = _render(request, "integrations/request_detail.html", "integrations/_request_status.html", context)
    if request.htmx and recorded.is_finished:
        # 286 stops htmx polling; its body (the final state) is still swapped in.
        response.status_code = HTMX_STOP_POLLING
    return response
