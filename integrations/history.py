"""The request history as each user may see it: filters, and exports streamed row by row.

Shared by the history page, the exports and the API, so that they all filter alike and
nobody sees through one what another hides.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from integrations.models import AwsRequest, AwsTarget, RequestStatus
from integrations.permissions import VIEW_SENSITIVE, may_see_every_request, shown_parameters
from operations import all_operations, get_operation

EXPORT_CHUNK = 500


class HistoryFilter(forms.Form):
    operation = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "All"), *RequestStatus.choices])
    user = forms.CharField(required=False)
    target = forms.ModelChoiceField(queryset=AwsTarget.objects.all(), required=False, to_field_name="name")
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, label="ARN, AWS request id or client token")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Target names are shown to those who may see every request, or else the user's own.
        if user is not None and not may_see_every_request(user):
            self.fields["target"].queryset = AwsTarget.usable_by(user)
        self.fields["operation"].choices = [("", "All")] + [(op.key, op.title) for op in all_operations()]

    def apply(self, requests: QuerySet) -> QuerySet:
        """``requests`` narrowed by every valid filter; an invalid one is ignored, not fatal."""
        self.is_valid()
        data = self.cleaned_data  # the fields that did validate
        if data.get("operation"):
            operation = get_operation(data["operation"])
            requests = requests.filter(service=operation.service, operation=operation.name)
        if data.get("status"):
            requests = requests.filter(status=data["status"])
        if data.get("user"):
            requests = requests.filter(created_by__username=data["user"])
        if data.get("target"):
            requests = requests.filter(target=data["target"])
        if data.get("created_from"):
            requests = requests.filter(created_at__date__gte=data["created_from"])
        if data.get("created_to"):
            requests = requests.filter(created_at__date__lte=data["created_to"])
        if data.get("q"):
            q = data["q"].strip()
            requests = requests.filter(Q(resource_id=q) | Q(client_token=q) | Q(attempts__aws_request_id=q)).distinct()
        return requests


def history(user, query: dict | None = None) -> tuple[HistoryFilter, QuerySet]:
    """The filter form bound to ``query`` and the requests ``user`` may see that match it."""
    form = HistoryFilter(query or None, user=user)
    requests: QuerySet = AwsRequest.objects.select_related("created_by", "target").visible_to(user)
    if query:
        requests = form.apply(requests)
    return form, requests


def requested_by(aws_request: AwsRequest) -> str:
    """Who made the request, by the username recorded when they submitted it.

    What pages, exports and the API show, so that renaming an account does not rewrite the
    history. A row made without going through ``lifecycle.record`` (a fixture, the shell) may
    have no recorded name: it shows the account's name, as the migration recorded it for the
    rows made before names were kept.
    """
    return aws_request.created_by_username or aws_request.created_by.get_username()


def users_with_requests():
    return get_user_model().objects.filter(aws_requests__isnull=False).distinct().order_by("username")


EXPORT_COLUMNS = (
    "id",
    "created_at",
    "user",
    "operation",
    "target",
    "account_id",
    "region",
    "status",
    "client_token",
    "resource_id",
    "error_code",
    "error_message",
    "finished_at",
    "parameters",
)


def export_row(aws_request: AwsRequest, show_sensitive: bool) -> dict:
    parameters = shown_parameters(aws_request, show_sensitive)
    return {
        "id": aws_request.pk,
        "created_at": aws_request.created_at.isoformat(),
        "user": requested_by(aws_request),
        "operation": aws_request.operation_key,
        "target": aws_request.target.name if aws_request.target else "",
        "account_id": aws_request.account_id,
        "region": aws_request.region,
        "status": aws_request.status,
        "client_token": aws_request.client_token,
        "resource_id": aws_request.resource_id,
        "error_code": aws_request.error_code,
        "error_message": aws_request.error_message,
        "finished_at": aws_request.finished_at.isoformat() if aws_request.finished_at else "",
        "parameters": parameters,
    }


# A spreadsheet opening the CSV takes a cell that starts with one of these for a formula: a
# rejection reason "=HYPERLINK(...)" or a name "@SUM(...)" would run (CSV injection). Such a cell is
# written with a leading single quote, as OWASP advises, which spreadsheets show as text. Every text
# cell is treated alike, free text with a leading "-" included (the export has no negative numbers).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> object:
    """``value`` as a spreadsheet will show it rather than run it; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_rows(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Any CSV export, one line at a time, every cell neutralised against spreadsheet formulas."""
    writer = csv.writer(_Echo())
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([neutralise_formula(value) for value in row])


def csv_lines(user, requests: QuerySet) -> Iterator[str]:
    """The CSV export, one line at a time: never the whole history in memory, never a formula."""
    show = user.has_perm(VIEW_SENSITIVE)

    def rows() -> Iterator[list[object]]:
        for aws_request in requests.order_by("-created_at", "-id").iterator(chunk_size=EXPORT_CHUNK):
            row = export_row(aws_request, show)
            row["parameters"] = json.dumps(row["parameters"], ensure_ascii=False, sort_keys=True)
            yield [row[c] for c in EXPORT_COLUMNS]

    yield from csv_rows(EXPORT_COLUMNS, rows())


def json_lines(user, requests: QuerySet) -> Iterator[str]:
    show = user.has_perm(VIEW_SENSITIVE)
    for aws_request in requests.order_by("-created_at", "-id").iterator(chunk_size=EXPORT_CHUNK):
        yield json.dumps(export_row(aws_request, show), ensure_ascii=False) + "\n"


def export_filename(extension: str) -> str:
    return f"requests-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.{extension}"
