"""The history's filters and its exports: CSV and JSON lines of exactly what the filters select,
in the history's order, streamed row by row, with sensitive data redacted unless one may see it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.db.models.sql import compiler
from django.http import StreamingHttpResponse

from integrations import history
from integrations.models import Attempt, AwsRequest, RequestStatus
from tests.factories import make_request, make_target, make_user

pytestmark = pytest.mark.django_db

EXPORTS = {"csv": "/requests/export.csv", "jsonl": "/requests/export.jsonl"}
INGESTION = "appfabric/CreateIngestion"
SUPPLY_CHAIN = "supplychain/SendDataIntegrationEvent"
ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/def"
SECRET = "PO-SECRET-4711 for Ada Lovelace"
MARKER = re.compile(r"<sensitive: \d+ characters, sha256 [0-9a-f]+…>")


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, minute, second, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def auditor(db):
    """Auditors may see, export, and see the sensitive data of every request."""
    return make_user("auditor", groups=("Auditors",))


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="integrations", codename__in=codenames)
    )
    return user


def created(request: AwsRequest, when: dt.datetime) -> AwsRequest:
    AwsRequest.objects.filter(pk=request.pk).update(created_at=when)
    request.refresh_from_db()
    return request


def event_params(data: str = SECRET) -> dict:
    return {
        "instanceId": "2b2b2b2b-1111-2222-3333-444444444444",
        "eventType": "scn.data.inboundorder",
        "data": data,
        "eventGroupId": "group-17",
    }


@pytest.fixture
def rows(db):
    """Four requests of two users, in two targets, over ten days; named by what tells them apart."""
    alice, bob = make_user("alice"), make_user("bob")
    elsewhere = make_target("elsewhere", account_id="444455556666", region="eu-west-1")
    found = created(
        make_request(INGESTION, user=alice, status=RequestStatus.SUCCEEDED, resource_id=ARN, finished_at=at(10, 13)),
        at(10),
    )
    Attempt.objects.create(
        request=found, number=1, started_at=at(10), client_token=found.client_token, aws_request_id="aws-req-77"
    )
    failed = created(
        make_request(
            SUPPLY_CHAIN,
            user=bob,
            target=elsewhere,
            parameters=event_params(),
            status=RequestStatus.FAILED,
            error_code="ValidationException",
            error_message='Bad "data", line 1',
        ),
        at(15, 0, 0, 0),
    )
    queued = created(make_request(INGESTION, user=alice, target=elsewhere), at(20, 8))
    rejected = created(
        make_request(INGESTION, user=bob, status=RequestStatus.REJECTED, error_code="Rejected", error_message="No."),
        at(20, 23, 59, 59),
    )
    return {"found": found, "failed": failed, "queued": queued, "rejected": rejected}


def content(response) -> str:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content).decode()


def exported(client, fmt: str, query: dict | None = None) -> list[dict]:
    """The rows of an export, as dicts, in the order given."""
    response = client.get(EXPORTS[fmt], query or {})
    text = content(response)
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


def ids(rows_: list[dict]) -> list[int]:
    return [int(r["id"]) for r in rows_]


def listed(client, query: dict) -> list[int]:
    """The requests the history page lists for ``query``, in its order."""
    html = client.get("/requests/", query).content.decode()
    return [int(pk) for pk in re.findall(r'<td><a href="/requests/(\d+)/">', html)]


# --- the filters -----------------------------------------------------------------------------------

FILTERS = [
    ({}, ["rejected", "queued", "failed", "found"]),
    ({"operation": "appfabric/CreateIngestion"}, ["rejected", "queued", "found"]),
    ({"operation": "supplychain/SendDataIntegrationEvent"}, ["failed"]),
    ({"status": "rejected"}, ["rejected"]),
    ({"status": "succeeded"}, ["found"]),
    ({"status": "running"}, []),
    ({"user": "alice"}, ["queued", "found"]),
    ({"user": "nobody"}, []),
    ({"target": "elsewhere"}, ["queued", "failed"]),
    ({"target": "sandbox"}, ["rejected", "found"]),
    ({"created_from": "2026-01-15"}, ["rejected", "queued", "failed"]),
    ({"created_to": "2026-01-15"}, ["failed", "found"]),
    ({"created_from": "2026-01-11", "created_to": "2026-01-19"}, ["failed"]),
    ({"created_from": "2026-01-20", "created_to": "2026-01-20"}, ["rejected", "queued"]),
    ({"created_from": "2026-01-21"}, []),
    ({"q": ARN}, ["found"]),
    ({"q": f"  {ARN}  "}, ["found"]),
    ({"q": "aws-req-77"}, ["found"]),
    ({"q": "aws-req"}, []),  # an identifier, not a substring search
    ({"user": "bob", "status": "failed", "target": "elsewhere"}, ["failed"]),
    ({"user": "bob", "operation": "supplychain/SendDataIntegrationEvent", "created_from": "2026-01-16"}, []),
    # A filter that does not validate is ignored, not fatal.
    ({"created_from": "not-a-date"}, ["rejected", "queued", "failed", "found"]),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=[json.dumps(q) for q, _ in FILTERS])
def test_the_history_page_and_both_exports_select_the_same_requests(auditor_client, rows, query, expected):
    expected_ids = [rows[name].pk for name in expected]

    assert listed(auditor_client, query) == expected_ids
    assert ids(exported(auditor_client, "csv", query)) == expected_ids
    assert ids(exported(auditor_client, "jsonl", query)) == expected_ids


@pytest.mark.parametrize("fmt", EXPORTS)
def test_the_client_token_finds_its_request(auditor_client, rows, fmt):
    token = rows["queued"].client_token

    assert ids(exported(auditor_client, fmt, {"q": token})) == [rows["queued"].pk]


def test_a_request_with_several_attempts_matching_is_exported_once(auditor_client, rows):
    found = rows["found"]
    Attempt.objects.create(
        request=found, number=2, started_at=at(10, 1), client_token=found.client_token, aws_request_id="aws-req-77"
    )

    assert ids(exported(auditor_client, "csv", {"q": "aws-req-77"})) == [found.pk]


# --- who may export --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", EXPORTS)
def test_exporting_needs_the_export_permission(client, rows, fmt):
    client.force_login(make_user("operator", groups=("Operators",)))
    assert client.get(EXPORTS[fmt]).status_code == 403

    client.force_login(make_user("approver", groups=("Approvers",)))  # sees everything, exports nothing
    assert client.get(EXPORTS[fmt]).status_code == 403

    client.logout()
    response = client.get(EXPORTS[fmt])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_history_page_offers_the_exports_only_to_those_who_may(client, auditor, rows):
    client.force_login(make_user("approver", groups=("Approvers",)))
    assert EXPORTS["csv"] not in client.get("/requests/").content.decode()

    client.force_login(auditor)
    html = client.get("/requests/", {"user": "alice", "status": "queued"}).content.decode()
    # The links export what the page shows: they carry its filters.
    assert f'href="{EXPORTS["csv"]}?user=alice&amp;status=queued"' in html
    assert f'href="{EXPORTS["jsonl"]}?user=alice&amp;status=queued"' in html


def test_an_exporter_who_may_not_see_all_requests_exports_only_their_own(client, rows):
    alice = grant(rows["found"].created_by, "export_requests")
    client.force_login(alice)

    assert ids(exported(client, "csv")) == [rows["queued"].pk, rows["found"].pk]
    assert ids(exported(client, "jsonl", {"user": "bob"})) == []


# --- the formats -----------------------------------------------------------------------------------


def test_the_csv_export_has_a_header_and_one_row_per_request(auditor_client, rows):
    response = auditor_client.get(EXPORTS["csv"])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="requests-\d{8}-\d{6}\.csv"', response["Content-Disposition"])
    lines = list(csv.reader(io.StringIO(content(response))))
    assert lines[0] == list(history.EXPORT_COLUMNS)
    assert len(lines) == 1 + 4
    failed = dict(zip(lines[0], lines[3], strict=True))
    assert failed == {
        "id": str(rows["failed"].pk),
        "created_at": "2026-01-15T00:00:00+00:00",
        "user": "bob",
        "operation": "supplychain/SendDataIntegrationEvent",
        "target": "elsewhere",
        "account_id": "444455556666",
        "region": "eu-west-1",
        "status": "failed",
        "client_token": rows["failed"].client_token,
        "resource_id": "",
        "error_code": "ValidationException",
        "error_message": 'Bad "data", line 1',
        "finished_at": "",
        "parameters": json.dumps(event_params(), sort_keys=True),
    }
    found = dict(zip(lines[0], lines[4], strict=True))
    assert (found["resource_id"], found["finished_at"], found["status"]) == (
        ARN,
        "2026-01-10T13:00:00+00:00",
        "succeeded",
    )


def test_the_json_lines_export_has_one_object_per_line_with_the_csvs_fields(auditor_client, rows):
    response = auditor_client.get(EXPORTS["jsonl"])

    assert response["Content-Type"] == "application/x-ndjson"
    assert re.fullmatch(r'attachment; filename="requests-\d{8}-\d{6}\.jsonl"', response["Content-Disposition"])
    text = content(response)
    assert text.endswith("\n")
    objects = [json.loads(line) for line in text.splitlines()]
    assert len(objects) == 4
    assert all(list(o) == list(history.EXPORT_COLUMNS) for o in objects)
    assert objects[2]["parameters"] == event_params()  # an object here, not a string
    assert objects[2]["id"] == rows["failed"].pk
    # The same values as the CSV, field by field.
    as_csv = exported(auditor_client, "csv")
    for obj, row in zip(objects, as_csv, strict=True):
        flat = {
            k: json.dumps(v, ensure_ascii=False, sort_keys=True) if k == "parameters" else str(v)
            for k, v in obj.items()
        }
        assert flat == row


@pytest.mark.parametrize("fmt", EXPORTS)
def test_sensitive_data_is_exported_only_to_those_who_may_view_it(client, auditor, rows, fmt):
    client.force_login(auditor)
    whole = content(client.get(EXPORTS[fmt], {"status": "failed"}))
    assert SECRET in whole
    assert not MARKER.search(whole)

    exporter = grant(make_user("exporter"), "export_requests", "view_all_requests")
    client.force_login(exporter)
    redacted = content(client.get(EXPORTS[fmt], {"status": "failed"}))

    assert SECRET not in redacted
    assert "Ada Lovelace" not in redacted
    assert MARKER.search(redacted)
    assert "group-17" in redacted  # the other parameters are exported as they are
    assert AwsRequest.objects.get(pk=rows["failed"].pk).parameters["data"] == SECRET  # stored whole


# --- streaming -------------------------------------------------------------------------------------

MANY = 1_200


@pytest.fixture
def many(db):
    alice = make_user("alice")
    target = make_target("sandbox")
    AwsRequest.objects.bulk_create(
        AwsRequest(
            service="appfabric",
            operation="CreateIngestion",
            parameters={"app": "SLACK", "tenantId": f"tenant-{i}"},
            target=target,
            account_id=target.account_id,
            region=target.region,
            created_by=alice,
        )
        for i in range(MANY)
    )
    return list(AwsRequest.objects.order_by("-created_at", "-id").values_list("pk", flat=True))


@pytest.fixture
def fetched(monkeypatch):
    """How many rows the database has handed over so far, and in which blocks."""
    blocks: list[int] = []
    real = compiler.cursor_iter

    def spy(*args, **kwargs):
        for rows_ in real(*args, **kwargs):
            blocks.append(len(rows_))
            yield rows_

    monkeypatch.setattr(compiler, "cursor_iter", spy)
    return blocks


@pytest.mark.parametrize("fmt", EXPORTS)
def test_a_large_export_is_streamed_in_chunks_never_loaded_whole(
    auditor_client, many, fetched, django_assert_max_num_queries, fmt
):
    response = auditor_client.get(EXPORTS[fmt])
    fetched.clear()  # the view's own queries (the user, the permissions) are not the export's

    assert response.streaming
    assert isinstance(response, StreamingHttpResponse)
    stream = iter(response.streaming_content)
    first = [next(stream) for _ in range(2 if fmt == "csv" else 1)]
    # The first line is out while most rows are still in the database.
    assert sum(fetched) <= history.EXPORT_CHUNK
    with django_assert_max_num_queries(-(-MANY // history.EXPORT_CHUNK)):
        rest = list(stream)

    chunks = first + rest
    assert len(chunks) == MANY + (1 if fmt == "csv" else 0)  # a chunk per line: nothing buffered
    assert sum(fetched) == MANY
    assert max(fetched) <= history.EXPORT_CHUNK
    assert len([b for b in fetched if b]) == -(-MANY // history.EXPORT_CHUNK)
    text = b"".join(chunks).decode()
    rows_ = list(csv.DictReader(io.StringIO(text))) if fmt == "csv" else [json.loads(x) for x in text.splitlines()]
    assert ids(rows_) == many


def test_the_export_iterates_the_queryset_instead_of_evaluating_it(auditor, many, monkeypatch):
    from django.db.models.query import QuerySet

    calls: list[int | None] = []
    real = QuerySet.iterator

    def iterator(self, chunk_size=None):
        calls.append(chunk_size)
        return real(self, chunk_size=chunk_size)

    def refuse(self):
        raise AssertionError("the export evaluated a whole queryset")

    monkeypatch.setattr(QuerySet, "iterator", iterator)
    _, requests = history.history(auditor, {})
    monkeypatch.setattr(QuerySet, "_fetch_all", refuse)

    assert sum(1 for _ in history.csv_lines(auditor, requests)) == MANY + 1
    assert sum(1 for _ in history.json_lines(auditor, requests)) == MANY
    assert calls == [history.EXPORT_CHUNK, history.EXPORT_CHUNK]
