"""The request history and the resources created, as each user may see them: filters, pages,
counts and exports.

Shared by the history and Resources pages, their exports and the API, so that they all filter
alike and nobody sees through one what another hides. Everything here stays fast at a million
rows: every filter is a lookup an index answers (dates are ranges of timestamps, never a cast of
the column; a search is a prefix of at least ``MIN_PREFIX`` characters, answered by a pattern
index, never a substring), pages are keyset pages on
(created_at, id) rather than OFFSETs, and the number of matches is counted only up to
``COUNT_CAP``. Requests and resources both have (created_at, id) and the same filters, so the
pages, counts and CSV writing below serve both.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from integrations.models import Attempt, AwsRequest, AwsTarget, RequestStatus, Resource, ResourceStatus
from integrations.permissions import VIEW_SENSITIVE, may_see_every_request, shown_parameters
from operations import all_operations, get_operation

EXPORT_CHUNK = 500
# Counting every match of a filter costs a scan of all of them; beyond this many the pages say
# "more than" instead, which is all a person reading them needs.
COUNT_CAP = 10_000
# A search names one request, or the few that share a start (one app bundle's ingestions): the
# start of an ARN, id, AWS request id or client token. Shorter starts ("arn:aws") name nothing in
# particular and would match most of the history, so they are refused with a word rather than run.
MIN_PREFIX = 8
SEARCH_HELP = f"The start of an ARN or id, AWS request id or client token (at least {MIN_PREFIX} characters)."
SEARCH_TOO_SHORT = (
    "Type at least {n} characters of an ARN, AWS request id or client token: a shorter start matches too much "
    "to tell requests apart (you typed {typed})."
)
# How many matches of one kind a search looks up by id; a start shared by more (every ingestion of a busy
# app bundle) is searched by its own condition instead, read in the history's order (see ``search``).
PREFIX_PROBE = 1000


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the portal's time zone.

    Date filters compare ``created_at`` with such instants (from one day's start to the next
    day's) rather than casting the column to a date, which no index can answer.
    """
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def matching_ids(term: str) -> QuerySet:
    """The ids of the requests ``term`` names exactly: by ARN or id, client token or AWS request id.

    A UNION of three lookups, each answered by its own index; an OR across the join to the
    attempts would scan both tables, and a request with several matching attempts appears once.
    """
    return (
        AwsRequest.objects.order_by()
        .filter(resource_id=term)
        .values("id")
        .union(
            AwsRequest.objects.order_by().filter(client_token=term).values("id"),
            Attempt.objects.order_by().filter(aws_request_id=term).values("request_id"),
        )
    )


def prefix_lookups(prefix: str) -> list[tuple[QuerySet, Q]]:
    """Per kind (ARN or id, client token, AWS request id): the lookup of at most PREFIX_PROBE + 1 ids of the
    requests whose value starts with ``prefix`` (through its pattern index, migration 0013), and the
    condition that stands for all of them."""
    attempts = Attempt.objects.order_by().filter(aws_request_id__startswith=prefix)
    kinds = (
        (AwsRequest.objects.order_by().filter(resource_id__startswith=prefix).values_list("id", flat=True),
         Q(resource_id__startswith=prefix)),
        (AwsRequest.objects.order_by().filter(client_token__startswith=prefix).values_list("id", flat=True),
         Q(client_token__startswith=prefix)),
        (attempts.values_list("request_id", flat=True), Q(pk__in=attempts.values("request_id"))),
    )  # fmt: skip
    return [(lookup[: PREFIX_PROBE + 1], condition) for lookup, condition in kinds]


def search(prefix: str) -> Q:
    """The condition on requests whose ARN or id, client token or an attempt's AWS request id starts with ``prefix``.

    Each kind is first looked up through its pattern index, at most PREFIX_PROBE + 1 ids of it: a start
    that few requests share becomes a list of ids, which the page reads by primary key and sorts. A kind
    with more matches (a broad start, such as an app bundle's ARN) becomes its own condition instead, so
    that the database reads the history newest first and stops at a page, rather than gathering every
    match to sort them. Never the whole history either way; three small queries whatever its size.
    """
    ids: set[int] = set()
    condition = Q(pk__in=[])
    for lookup, broad in prefix_lookups(prefix):
        found = list(lookup)
        if len(found) > PREFIX_PROBE:
            condition |= broad
        else:
            ids.update(found)
    if ids:
        condition |= Q(pk__in=sorted(ids))
    return condition


def operation_titles(rows: QuerySet) -> QuerySet:
    """``rows`` (requests or resources) each with ``operation_title``: "AppFabric: create an ingestion".

    What the history shows instead of API names, in the words its operation filter uses. A CASE over
    the registered operations, computed with the page's own query (no lookup per row); an operation
    no longer registered shows as its service and API name.
    """
    whens = [When(service=op.service, operation=op.name, then=Value(op.title)) for op in all_operations()]
    default = Concat("service", Value(" "), "operation", output_field=CharField())
    return rows.annotate(operation_title=Case(*whens, default=default, output_field=CharField()))


class HistoryFilter(forms.Form):
    operation = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "All"), *RequestStatus.choices])
    user = forms.CharField(required=False)
    target = forms.ModelChoiceField(queryset=AwsTarget.objects.all(), required=False, to_field_name="name")
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(
        required=False,
        max_length=2048,
        label="ARN, AWS request id or client token",
        help_text=SEARCH_HELP,
    )
    # The requests of one uploaded batch (the batch page's "all requests of this batch" link),
    # answered by awsrequest_batch_status_idx. Hidden: it is followed, not typed.
    batch = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Target names are shown to those who may see every request, or else the user's own.
        if user is not None and not may_see_every_request(user):
            self.fields["target"].queryset = AwsTarget.usable_by(user)
        self.fields["operation"].choices = [("", "All")] + [(op.key, op.title) for op in all_operations()]

    def clean_q(self) -> str:
        term = self.cleaned_data["q"].strip()
        if term and len(term) < MIN_PREFIX:
            raise forms.ValidationError(SEARCH_TOO_SHORT.format(n=MIN_PREFIX, typed=len(term)), code="too_short")
        return term

    @property
    def chosen_batch(self) -> int | None:
        """The batch whose requests are shown (``?batch=<id>``), once the filter was applied."""
        return getattr(self, "cleaned_data", {}).get("batch") or None

    @property
    def filtering(self) -> bool:
        """Whether any filter is set (the page then offers to clear them); a page's cursor is no filter."""
        return self.is_bound and any(self.data.get(name) for name in self.fields)

    def apply(self, requests: QuerySet) -> QuerySet:
        """``requests`` narrowed by every valid filter; an invalid one is ignored, not fatal.

        Except the search: one that cannot run (too short) matches nothing, so that a page, an
        export or the API never answers a search with the whole history. The form says why.
        """
        self.is_valid()
        data = self.cleaned_data  # the fields that did validate
        requests = _apply_shared(requests, data)
        if data.get("batch"):
            requests = requests.filter(batch_id=data["batch"])
        if "q" in self.errors:
            return requests.none()
        if data.get("q"):
            requests = requests.filter(search(data["q"]))
        return requests


def _apply_shared(rows: QuerySet, data: dict) -> QuerySet:
    """The filters the history and the resources share (both rows carry service, operation, status,
    created_by, target and created_at, each with an index beside created_at)."""
    if data.get("operation"):
        operation = get_operation(data["operation"])
        rows = rows.filter(service=operation.service, operation=operation.name)
    if data.get("status"):
        rows = rows.filter(status=data["status"])
    if data.get("user"):
        rows = rows.filter(created_by__username=data["user"])
    if data.get("target"):
        rows = rows.filter(target=data["target"])
    if data.get("created_from"):
        rows = rows.filter(created_at__gte=day_start(data["created_from"]))
    if data.get("created_to"):
        rows = rows.filter(created_at__lt=day_start(data["created_to"] + dt.timedelta(days=1)))
    return rows


def history(user, query: dict | None = None) -> tuple[HistoryFilter, QuerySet]:
    """The filter form bound to ``query`` and the requests ``user`` may see that match it."""
    form = HistoryFilter(query or None, user=user)
    requests: QuerySet = operation_titles(AwsRequest.objects.select_related("created_by", "target").visible_to(user))
    if query:
        requests = form.apply(requests)
    return form, requests


# --- pages -----------------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Dated(Protocol):
    """A row pages are made of: a request or a resource."""

    pk: Any
    created_at: dt.datetime


@dataclass(frozen=True)
class Cursor:
    """A position in the history (or the resources), newest first: the (created_at, id) of a row, and which way to go.

    Written in links as ``o<microseconds>_<id>`` (the rows older than that one) or ``n…`` (the
    rows newer), so that a page is found through the index wherever it lies, never by an OFFSET.
    """

    created_at: dt.datetime
    pk: int
    older: bool = True

    def token(self) -> str:
        micros = (self.created_at - _EPOCH) // dt.timedelta(microseconds=1)
        return f"{'o' if self.older else 'n'}{micros}_{self.pk}"

    @classmethod
    def parse(cls, token: str | None) -> Cursor | None:
        """The cursor a link carries, or None for anything else (then the first page is shown)."""
        if not token or token[0] not in "on":
            return None
        micros, _, pk = token[1:].partition("_")
        # Digits only, and few enough for a timestamp and a 64-bit id: anything else is no cursor.
        if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in (micros, pk)):
            return None
        try:
            created_at = _EPOCH + dt.timedelta(microseconds=int(micros))
        except OverflowError:  # beyond year 9999
            return None
        return cls(created_at, int(pk), older=token[0] == "o")

    @classmethod
    def of(cls, row: Dated, older: bool) -> Cursor:
        return cls(row.created_at, row.pk, older)


@dataclass(frozen=True)
class KeysetPage:
    """One page of the history (or the resources), newest first, with the cursors of the pages
    either side (or None)."""

    rows: list[Any]
    older: Cursor | None
    newer: Cursor | None


def keyset_page(requests: QuerySet, cursor: Cursor | None, size: int) -> KeysetPage:
    """The ``size`` requests (or resources) after ``cursor`` (the newest ones without it), in one query.

    The condition ``created_at <= t`` is what the index on created_at answers; the OR beside it
    only breaks ties between rows created in the same microsecond, by id.
    """
    if cursor is None or cursor.older:
        ordered = requests.order_by("-created_at", "-id")
        if cursor is not None:
            t = cursor.created_at
            ordered = ordered.filter(Q(created_at__lt=t) | Q(created_at=t, id__lt=cursor.pk), created_at__lte=t)
        rows = list(ordered[: size + 1])
        more, rows = len(rows) > size, rows[:size]
        return KeysetPage(
            rows,
            older=Cursor.of(rows[-1], older=True) if more else None,
            newer=Cursor.of(rows[0], older=False) if cursor is not None and rows else None,
        )
    t = cursor.created_at
    ordered = requests.order_by("created_at", "id").filter(
        Q(created_at__gt=t) | Q(created_at=t, id__gt=cursor.pk), created_at__gte=t
    )
    rows = list(ordered[: size + 1])
    more, rows = len(rows) > size, rows[:size][::-1]
    return KeysetPage(
        rows,
        older=Cursor.of(rows[-1], older=True) if rows else None,
        newer=Cursor.of(rows[0], older=False) if more else None,
    )


@dataclass(frozen=True)
class CappedCount:
    """How many requests (or resources: ``noun``) match, exactly up to COUNT_CAP and "more than" beyond."""

    n: int
    capped: bool
    noun: str = "request"

    def __str__(self) -> str:
        if self.capped:
            return f"More than {self.n:,} {self.noun}s (counted up to {self.n:,})"
        return f"{self.n:,} {self.noun}{'' if self.n == 1 else 's'}"


def capped_count(requests: QuerySet, noun: str = "request") -> CappedCount:
    """Count the matches, stopping after COUNT_CAP + 1: an exact COUNT(*) of a million rows is slow."""
    cap = COUNT_CAP
    n = requests.order_by().values("pk")[: cap + 1].count()
    return CappedCount(min(n, cap), n > cap, noun)


def requested_by(aws_request: AwsRequest | Resource) -> str:
    """Who made the request, by the username recorded when they submitted it.

    What pages, exports and the API show, so that renaming an account does not rewrite the
    history. A row made without going through ``lifecycle.record`` (a fixture, the shell) may
    have no recorded name: it shows the account's name, as the migration recorded it for the
    rows made before names were kept.
    """
    return aws_request.created_by_username or aws_request.created_by.get_username()


def users_with_requests() -> QuerySet:
    """The people who may be picked in the history's user filter: those who made a request.

    One EXISTS per account, each answered by the index on created_by; a JOIN with DISTINCT
    would read every request on every page.
    """
    made = AwsRequest.objects.order_by().filter(created_by=OuterRef("pk"))
    return get_user_model().objects.filter(Exists(made)).order_by("username")


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


# What export_row reads: a day's export is ten thousand rows, and loading (and parsing) the columns
# it never shows (the response, the lease, the account behind created_by) doubled its time.
EXPORTED_FIELDS = (
    "id", "created_at", "created_by", "created_by_username", "created_by__username", "service", "operation",
    "target", "target__name", "account_id", "region", "status", "client_token", "resource_id", "error_code",
    "error_message", "finished_at", "parameters",
)  # fmt: skip


def _exported(requests: QuerySet) -> QuerySet:
    return requests.only(*EXPORTED_FIELDS).order_by("-created_at", "-id")


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
        for aws_request in _exported(requests).iterator(chunk_size=EXPORT_CHUNK):
            row = export_row(aws_request, show)
            row["parameters"] = json.dumps(row["parameters"], ensure_ascii=False, sort_keys=True)
            yield [row[c] for c in EXPORT_COLUMNS]

    yield from csv_rows(EXPORT_COLUMNS, rows())


def json_lines(user, requests: QuerySet) -> Iterator[str]:
    show = user.has_perm(VIEW_SENSITIVE)
    for aws_request in _exported(requests).iterator(chunk_size=EXPORT_CHUNK):
        yield json.dumps(export_row(aws_request, show), ensure_ascii=False) + "\n"


def export_filename(extension: str, what: str = "requests") -> str:
    return f"{what}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.{extension}"


# --- the resources created through the portal ------------------------------------------------------

RESOURCE_SEARCH_HELP = "An exact match of a whole ARN or id (not part of one)."


class ResourceFilter(forms.Form):
    """The Resources page's filters: the history's, with the resource's status and its ARN or id.

    Each is answered by an index of ``Resource`` (see its Meta.indexes): operation, status, person
    and target each beside created_at, the dates by created_at, the search by resource_id.
    """

    operation = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "All"), *ResourceStatus.choices])
    user = forms.CharField(required=False)
    target = forms.ModelChoiceField(queryset=AwsTarget.objects.all(), required=False, to_field_name="name")
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, label="ARN or id", help_text=RESOURCE_SEARCH_HELP)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and not may_see_every_request(user):
            self.fields["target"].queryset = AwsTarget.usable_by(user)
        self.fields["operation"].choices = [("", "All")] + [(op.key, op.title) for op in all_operations()]

    def apply(self, resources: QuerySet) -> QuerySet:
        """``resources`` narrowed by every valid filter; an invalid one is ignored, not fatal."""
        self.is_valid()
        data = self.cleaned_data
        resources = _apply_shared(resources, data)
        if data.get("q") and data["q"].strip():
            resources = resources.filter(resource_id=data["q"].strip())
        return resources


def created_resources(user, query: dict | None = None) -> tuple[ResourceFilter, QuerySet]:
    """The filter form bound to ``query`` and the resources ``user`` may see that match it."""
    form = ResourceFilter(query or None, user=user)
    resources: QuerySet = Resource.objects.select_related("created_by", "target").visible_to(user)
    if query:
        resources = form.apply(resources)
    return form, resources


def users_with_resources() -> QuerySet:
    """The people who may be picked in the Resources page's user filter: those who created one
    (an EXISTS per account, answered by the index on created_by)."""
    made = Resource.objects.order_by().filter(created_by=OuterRef("pk"))
    return get_user_model().objects.filter(Exists(made)).order_by("username")


def resource_type(resource: Resource) -> str:
    """The operation's title ("AppFabric: create an ingestion"), or its key if it is no longer registered."""
    try:
        return get_operation(resource.operation_key).title
    except LookupError:
        return resource.operation_key


RESOURCE_EXPORT_COLUMNS = (
    "id",
    "created_at",
    "user",
    "operation",
    "name",
    "resource_id",
    "target",
    "account_id",
    "region",
    "status",
    "state",
    "checked_at",
    "check_error",
    "changes",
    "status_changed_at",
    "request_id",
)

# What resource_export_row reads: never the baseline and the last read (JSON documents the export
# does not show), nor the bookkeeping of the checks.
RESOURCE_EXPORTED_FIELDS = (
    "id", "created_at", "created_by", "created_by_username", "created_by__username", "service", "operation",
    "name", "resource_id", "target", "target__name", "account_id", "region", "status", "state", "checked_at",
    "check_error", "changes", "status_changed_at", "request",
)  # fmt: skip


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def resource_export_row(resource: Resource) -> dict:
    return {
        "id": resource.pk,
        "created_at": resource.created_at.isoformat(),
        "user": requested_by(resource),
        "operation": resource.operation_key,
        "name": resource.name,
        "resource_id": resource.resource_id,
        "target": resource.target.name if resource.target else "",
        "account_id": resource.account_id,
        "region": resource.region,
        "status": resource.status,
        "state": resource.state,
        "checked_at": _iso(resource.checked_at),
        "check_error": resource.check_error,
        "changes": resource.changes or [],
        "status_changed_at": _iso(resource.status_changed_at),
        "request_id": resource.request_id,
    }


def _exported_resources(resources: QuerySet) -> Iterator[Resource]:
    return resources.only(*RESOURCE_EXPORTED_FIELDS).order_by("-created_at", "-id").iterator(chunk_size=EXPORT_CHUNK)


def resource_csv_lines(resources: QuerySet) -> Iterator[str]:
    """The Resources export as CSV, one line at a time, every cell neutralised against formulas
    (a resource's name and an AWS error message are text others chose)."""

    def rows() -> Iterator[list[object]]:
        for resource in _exported_resources(resources):
            row = resource_export_row(resource)
            row["changes"] = json.dumps(row["changes"], ensure_ascii=False, sort_keys=True) if row["changes"] else ""
            yield [row[c] for c in RESOURCE_EXPORT_COLUMNS]

    yield from csv_rows(RESOURCE_EXPORT_COLUMNS, rows())


def resource_json_lines(resources: QuerySet) -> Iterator[str]:
    for resource in _exported_resources(resources):
        yield json.dumps(resource_export_row(resource), ensure_ascii=False) + "\n"
