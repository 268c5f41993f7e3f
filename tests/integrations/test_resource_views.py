"""The Resources page: what was created through the portal and what AWS last said of it, filtered,
paged and counted like the history; its "Check again" button; and the auditors' export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from integrations import history, resource_views
from integrations.models import Resource, ResourceStatus
from integrations.tasks import check_resource
from tests.factories import make_operator, make_resource, make_target, make_user

pytestmark = pytest.mark.django_db

INGESTION = "appfabric/CreateIngestion"
CONNECTOR = "appflow/RegisterConnector"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return make_operator("alice")


@pytest.fixture
def auditor(db):
    return make_user("auditor", groups=("Auditors",))


@pytest.fixture
def sent(monkeypatch):
    """The checks handed to the broker: (resource id, options), recorded instead of sent."""
    checks: list[tuple[int, dict]] = []
    monkeypatch.setattr(check_resource, "apply_async", lambda args, kwargs=None, **o: checks.append((args[0], kwargs)))
    return checks


def listed(client, viewer, /, **query) -> list[int]:
    """The ids of the resources the page lists for ``viewer``, in order."""
    client.force_login(viewer)
    response = client.get("/resources/", query)
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'<tr id="resource-(\d+)"', response.content.decode())]


def row(text: str, resource: Resource) -> str:
    """The resource's row of the page (the filters above it name every status too)."""
    start = text.index(f'<tr id="resource-{resource.pk}"')
    return text[start : text.index("</tr>", start)]


def on(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


# --- the page --------------------------------------------------------------------------------------


def test_the_page_shows_each_resource_with_its_type_name_where_who_when_request_state_and_last_check(client, alice):
    checked = timezone.now() - dt.timedelta(minutes=5)
    resource = make_resource(user=alice, name="SLACK tenant-1", state="enabled", checked_at=checked)

    client.force_login(alice)
    text = client.get("/resources/").content.decode()

    shown_row = row(text, resource)
    for shown in (
        "AppFabric: create an ingestion",
        "SLACK tenant-1",
        resource.resource_id,
        "sandbox",
        "111122223333",
        "us-east-1",
        "alice",
        f'href="/requests/{resource.request_id}/"',
        "Confirmed in AWS",
        "<td>enabled</td>",
        "5\xa0minutes ago",
    ):
        assert shown in shown_row, shown
    assert "1 resource" in text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        pytest.param({"status": ResourceStatus.PENDING}, ["Not confirmed yet"], id="pending"),
        pytest.param({"status": ResourceStatus.CONFIRMED}, ["Confirmed in AWS"], id="confirmed"),
        pytest.param(
            {
                "status": ResourceStatus.CHANGED,
                "changes": [{"field": "tenantId", "was": "tenant-1", "now": "tenant-2"}],
            },
            ["Changed outside the portal", "<code>tenantId</code>: tenant-1 → tenant-2"],
            id="changed",
        ),
        pytest.param(
            {"status": ResourceStatus.GONE, "status_changed_at": on(2)},
            ["Gone", "AWS says it no longer exists (since"],
            id="gone",
        ),
        pytest.param(
            {"status": ResourceStatus.UNCONFIRMED, "check_error": "AccessDeniedException: not allowed"},
            ["Could not be confirmed", "Why: AccessDeniedException: not allowed"],
            id="unconfirmed",
        ),
        pytest.param(
            {"status": ResourceStatus.CONFIRMED, "check_error": "ThrottlingException: Rate exceeded"},
            ["Confirmed in AWS", "The last check could not tell: ThrottlingException: Rate exceeded"],
            id="confirmed-but-last-check-could-not-tell",
        ),
    ],
)
def test_each_status_is_said_in_words_with_what_explains_it(client, alice, fields, words):
    resource = make_resource(user=alice, **fields)

    client.force_login(alice)
    shown = row(client.get("/resources/").content.decode(), resource)

    for word in words:
        assert word in shown


def test_a_resource_never_checked_says_so(client, alice):
    resource = make_resource(user=alice, status=ResourceStatus.PENDING)

    client.force_login(alice)
    assert "Not yet" in row(client.get("/resources/").content.decode(), resource)


def test_an_operator_sees_only_their_own_resources_and_an_auditor_sees_everyones(client, alice, auditor):
    own = make_resource(user=alice)
    others = make_resource(user=make_operator("bob"))

    assert listed(client, alice) == [own.pk]
    assert listed(client, auditor) == [others.pk, own.pk]
    assert listed(client, alice, user="bob") == []  # naming another person shows nothing more


def test_the_newest_come_first(client, alice):
    older = make_resource(user=alice, created_at=on(1))
    newer = make_resource(user=alice, created_at=on(2))

    assert listed(client, alice) == [newer.pk, older.pk]


def test_the_filters_select_by_operation_status_person_target_dates_and_exact_arn(client, auditor):
    alice, bob = make_operator("alice"), make_operator("bob")
    europe = make_target("europe", users=(bob,), account_id="444455556666", region="eu-west-1")
    ingestion = make_resource(user=alice, created_at=on(1))
    connector = make_resource(CONNECTOR, user=bob, target=europe, created_at=on(5), status=ResourceStatus.GONE)
    changed = make_resource(user=bob, created_at=on(9), status=ResourceStatus.CHANGED)

    assert listed(client, auditor, operation=CONNECTOR) == [connector.pk]
    assert listed(client, auditor, status="gone") == [connector.pk]
    assert listed(client, auditor, user="bob") == [changed.pk, connector.pk]
    assert listed(client, auditor, target="europe") == [connector.pk]
    assert listed(client, auditor, created_from="2026-03-02", created_to="2026-03-05") == [connector.pk]
    assert listed(client, auditor, created_to="2026-03-01") == [ingestion.pk]
    assert listed(client, auditor, q=f"  {ingestion.resource_id} ") == [ingestion.pk]
    assert listed(client, auditor, q=ingestion.resource_id[:-1]) == []  # whole ARNs only, never part of one
    assert listed(client, auditor, status="changed", user="bob") == [changed.pk]


@pytest.mark.parametrize(
    "query",
    [
        {"status": "exploded"},
        {"operation": "no/SuchThing"},
        {"created_from": "yesterday"},
        {"created_to": "2026-02-30"},
        {"target": "nowhere"},
        {"cursor": "o12x_3"},
        {"cursor": "n" + "9" * 40 + "_1"},
        {"q": "\x00"},
    ],
)
def test_a_bad_filter_or_cursor_is_ignored_never_a_500(client, alice, query):
    resource = make_resource(user=alice)

    assert listed(client, alice, **query) in ([resource.pk], [])


def test_the_page_is_paged_by_cursor_newer_and_older(client, alice, monkeypatch):
    monkeypatch.setattr(resource_views, "PAGE_SIZE", 2)
    made = [make_resource(user=alice, created_at=on(day)) for day in range(1, 6)]
    newest_first = [r.pk for r in reversed(made)]
    client.force_login(alice)

    first = client.get("/resources/", {"status": "confirmed"}).content.decode()
    older = re.search(r'href="\?([^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    second_page = client.get(f"/resources/?{older}").content.decode()
    newer = re.search(r'href="\?([^"]*)" rel="prev"', second_page).group(1).replace("&amp;", "&")

    assert "status=confirmed" in older  # the filters stay with the pages
    assert listed(client, alice, status="confirmed") == newest_first[:2]
    assert [int(pk) for pk in re.findall(r'<tr id="resource-(\d+)"', second_page)] == newest_first[2:4]
    assert [
        int(pk) for pk in re.findall(r'<tr id="resource-(\d+)"', client.get(f"/resources/?{newer}").content.decode())
    ] == newest_first[:2]


def test_the_count_stops_at_the_cap_and_says_more_than(client, alice, monkeypatch):
    monkeypatch.setattr(history, "COUNT_CAP", 2)
    for _ in range(3):
        make_resource(user=alice)
    client.force_login(alice)

    assert "More than 2 resources (counted up to 2)" in client.get("/resources/").content.decode()


def test_htmx_gets_the_table_alone_and_the_answer_varies_by_it(client, alice):
    make_resource(user=alice)
    client.force_login(alice)

    response = client.get("/resources/", {"status": "confirmed"}, headers={"HX-Request": "true"})

    text = response.content.decode()
    assert text.startswith('<div id="resource-table">')
    assert "<h1>" not in text
    assert "HX-Request" in response["Vary"]


def test_the_export_links_are_shown_only_to_those_who_may_export(client, alice, auditor):
    make_resource(user=alice)

    client.force_login(alice)
    assert "/resources/export.csv" not in client.get("/resources/").content.decode()
    client.force_login(auditor)
    assert "/resources/export.csv?status=gone" in client.get("/resources/", {"status": "gone"}).content.decode()


# --- Check again -----------------------------------------------------------------------------------


def test_check_again_sends_an_audited_forced_check_and_goes_back_to_the_page_it_was_on(client, alice, sent):
    resource = make_resource(user=alice)
    client.force_login(alice)

    response = client.post(f"/resources/{resource.pk}/recheck/", {"next": "/resources/?status=confirmed"})

    assert (response.status_code, response["Location"]) == (302, "/resources/?status=confirmed")
    assert sent == [(resource.pk, {"force": True, "audit": True})]
    assert "A new check of SLACK tenant-" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "back", ["https://evil.example/resources/", "//evil.example/", "/admin/", "/resources/1/recheck/"]
)
def test_check_again_goes_back_only_to_a_resources_page(client, alice, sent, back):
    resource = make_resource(user=alice)
    client.force_login(alice)

    response = client.post(f"/resources/{resource.pk}/recheck/", {"next": back})

    assert response["Location"] == "/resources/"


def test_check_again_with_htmx_answers_the_row_with_the_message(client, alice, sent):
    resource = make_resource(user=alice)
    client.force_login(alice)

    response = client.post(f"/resources/{resource.pk}/recheck/", headers={"HX-Request": "true"})

    text = response.content.decode()
    assert text.startswith(f'<tr id="resource-{resource.pk}"')
    assert "A new check of" in text
    assert len(sent) == 1


def test_check_again_says_so_when_the_broker_does_not_take_it(client, alice, monkeypatch):
    resource = make_resource(user=alice)

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(check_resource, "apply_async", refuse)
    client.force_login(alice)

    response = client.post(f"/resources/{resource.pk}/recheck/", follow=True)

    assert response.status_code == 200
    assert "could not be sent just now; the reconciliation will check it soon" in response.content.decode()


def test_check_again_of_someone_elses_resource_is_not_found_and_sends_nothing(client, alice, sent):
    resource = make_resource(user=make_operator("bob"))
    client.force_login(alice)

    assert client.post(f"/resources/{resource.pk}/recheck/").status_code == 404
    assert client.post("/resources/999999/recheck/").status_code == 404
    assert sent == []


def test_check_again_is_a_post_with_the_csrf_token(alice, sent):
    resource = make_resource(user=alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.get(f"/resources/{resource.pk}/recheck/").status_code == 405
    assert browser.post(f"/resources/{resource.pk}/recheck/").status_code == 403
    assert sent == []


# --- the export ------------------------------------------------------------------------------------


def exported(client, viewer, fmt: str, /, **query) -> tuple[int, str]:
    client.force_login(viewer)
    response = client.get(f"/resources/export.{fmt}", query)
    if response.status_code != 200:
        return response.status_code, ""
    assert isinstance(response, StreamingHttpResponse)  # streamed, never built whole in memory
    return 200, b"".join(response.streaming_content).decode()


def test_the_export_is_refused_to_those_without_the_export_permission(client, alice):
    make_resource(user=alice)

    assert exported(client, alice, "csv")[0] == 403
    assert exported(client, alice, "jsonl")[0] == 403


def test_the_csv_export_has_the_filtered_resources_newest_first_with_their_status_and_changes(client, auditor):
    make_resource(created_at=on(1))
    changes = [{"field": "tenantId", "was": "a", "now": "b"}]
    changed = make_resource(created_at=on(3), status=ResourceStatus.CHANGED, changes=changes, state="enabled")
    gone = make_resource(created_at=on(4), status=ResourceStatus.GONE)

    status, text = exported(client, auditor, "csv", created_from="2026-03-02")

    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200
    assert [int(r["id"]) for r in rows] == [gone.pk, changed.pk]
    assert rows[1]["status"] == "changed"
    assert rows[1]["state"] == "enabled"
    assert json.loads(rows[1]["changes"]) == changes
    assert rows[1]["operation"] == INGESTION
    assert rows[1]["resource_id"] == changed.resource_id
    assert int(rows[1]["request_id"]) == changed.request_id
    assert rows[1]["user"] == changed.created_by_username


def test_the_csv_export_neutralises_formulas_and_json_lines_keep_the_values(client, auditor):
    make_resource(name='=HYPERLINK("http://evil.example")', check_error="@SUM(A1)", state="+1")

    _, text = exported(client, auditor, "csv")
    [row] = list(csv.DictReader(io.StringIO(text)))
    _, lines = exported(client, auditor, "jsonl")
    [line] = [json.loads(line) for line in lines.splitlines()]

    assert (row["name"], row["check_error"], row["state"]) == (
        '\'=HYPERLINK("http://evil.example")',
        "'@SUM(A1)",
        "'+1",
    )
    assert (line["name"], line["check_error"], line["state"]) == ('=HYPERLINK("http://evil.example")', "@SUM(A1)", "+1")


def test_the_export_shows_an_auditor_only_what_the_filters_select(client, auditor):
    make_resource(user=make_operator("alice"))
    bobs = make_resource(user=make_operator("bob"))

    _, lines = exported(client, auditor, "jsonl", user="bob")

    assert [json.loads(line)["id"] for line in lines.splitlines()] == [bobs.pk]
