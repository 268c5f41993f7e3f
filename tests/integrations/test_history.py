"""The history page as people read it: operation titles, an error column, absolute times on hover,
a search by the start of an ARN, AWS request id or client token (8 characters or more, through an
index), and a way to clear the filters. The exports and the API filter alike (test_history_export.py)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.utils import timezone

from integrations import history
from integrations.models import Attempt, AwsRequest, Batch, BatchStatus, RequestStatus
from operations import get_operation
from tests.factories import default_target, make_operator, make_request, make_user

pytestmark = pytest.mark.django_db

ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/"
LONG_ERROR = "Value at 'tenantId' failed to satisfy constraint: " + "Member must have length less than 1024. " * 6
SHOWN = re.compile(r'href="/requests/(\d+)/"')
POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return make_operator("alice")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def shown(response) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in SHOWN.findall(response.content.decode())}


def attempt(aws_request: AwsRequest, aws_request_id: str) -> Attempt:
    return Attempt.objects.create(
        request=aws_request,
        number=aws_request.attempts.count() + 1,
        started_at=timezone.now(),
        client_token=aws_request.client_token,
        aws_request_id=aws_request_id,
    )


# --- reading aids ------------------------------------------------------------------------------------


def test_the_table_shows_operation_titles_not_api_names(alice_client, alice):
    make_request("supplychain/SendDataIntegrationEvent", user=alice)

    text = alice_client.get("/requests/").content.decode()

    title = get_operation("supplychain/SendDataIntegrationEvent").title
    assert f"<td>{html.escape(title)}</td>" in text
    assert "SendDataIntegrationEvent</code>" not in text


def test_an_operation_no_longer_registered_shows_its_service_and_api_name(alice_client, alice):
    gone = make_request(user=alice)
    AwsRequest.objects.filter(pk=gone.pk).update(service="oldservice", operation="CreateThing")

    assert "oldservice CreateThing" in alice_client.get("/requests/").content.decode()


def test_the_error_column_shows_the_code_and_the_message_shortened_with_the_whole_in_its_title(alice_client, alice):
    make_request(user=alice, status=RequestStatus.FAILED, error_code="ValidationException", error_message=LONG_ERROR)

    text = alice_client.get("/requests/").content.decode()

    assert '<th scope="col">Error</th>' in text
    assert "<strong>ValidationException</strong>" in text
    assert f'title="{html.escape(LONG_ERROR, quote=True)}"' in text
    shortened = re.search(r"</strong> (Value at [^<]*)</span>", text)
    assert shortened is not None
    assert shortened[1].endswith("…")
    assert len(html.unescape(shortened[1])) <= 80


def test_a_request_without_an_error_shows_a_dash_in_the_error_column(alice_client, alice):
    make_request(user=alice, status=RequestStatus.SUCCEEDED, resource_id=ARN + "1")

    text = alice_client.get("/requests/").content.decode()

    assert re.search(r'<td class="error-cell">—</td>', text)


def test_the_time_says_how_long_ago_and_gives_the_absolute_utc_time_on_hover(alice_client, alice):
    made = make_request(user=alice)
    at = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)
    AwsRequest.objects.filter(pk=made.pk).update(created_at=at)

    text = alice_client.get("/requests/").content.decode()

    assert '<time datetime="2026-11-27T12:00:00+00:00" title="2026-11-27 12:00:00 UTC">' in text
    assert re.search(r'title="2026-11-27 12:00:00 UTC">[^<]+ ago</time>', text)


def test_the_absolute_time_is_utc_whatever_the_portals_time_zone(alice_client, alice, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    made = make_request(user=alice)
    AwsRequest.objects.filter(pk=made.pk).update(created_at=dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC))

    assert 'title="2026-07-01 08:30:00 UTC"' in alice_client.get("/requests/").content.decode()


def test_clear_filters_is_a_link_to_the_unfiltered_history(alice_client, alice):
    make_request(user=alice, status=RequestStatus.SUCCEEDED)

    text = alice_client.get("/requests/?status=failed").content.decode()

    assert '<a href="/requests/" class="clear-filters">Clear filters</a>' in text
    assert 'No requests match. <a href="/requests/">Clear filters</a>' in text


def test_an_empty_history_without_filters_does_not_offer_to_clear_them(alice_client):
    assert "No requests match.</td>" in alice_client.get("/requests/").content.decode()


def test_a_cursor_alone_is_not_a_filter(alice):
    assert not history.HistoryFilter({"cursor": "o1_1"}, user=alice).filtering
    assert history.HistoryFilter({"status": "failed"}, user=alice).filtering


# --- the search by a start -----------------------------------------------------------------------------


@pytest.fixture
def searchable(alice):
    """Three requests of alice's and one of bob's, told apart by their ARN, client token and AWS request ids."""
    bob = make_operator("bob")
    bundle = make_request(user=alice, status=RequestStatus.SUCCEEDED, resource_id=ARN + "first")
    other = make_request(user=alice, status=RequestStatus.SUCCEEDED, resource_id=ARN.replace("abc", "xyz") + "one")
    failed = make_request(user=alice, status=RequestStatus.FAILED, client_token="feedface-0000-4000-8000-000000000001")
    attempt(failed, "0a1b2c3d-9999-4000-8000-00000000cafe")
    theirs = make_request(user=bob, status=RequestStatus.SUCCEEDED, resource_id=ARN + "second")
    return {"bundle": bundle, "other": other, "failed": failed, "theirs": theirs}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (ARN, {"bundle"}),  # alice's own: bob's request is not hers to see
        (ARN + "first", {"bundle"}),  # a whole ARN is a start of itself
        ("arn:aws:appfabric:us-east-1:111122223333:appbundle/", {"bundle", "other"}),
        ("feedface", {"failed"}),  # a client token's first 8 characters
        ("0a1b2c3d", {"failed"}),  # an AWS request id's
        ("  feedface-0000  ", {"failed"}),  # surrounding spaces, as pasted
        ("arn:aws:appfabric:us-west-2:", set()),
    ],
)
def test_the_search_finds_requests_by_any_start_of_8_characters_or_more(alice_client, searchable, term, expected):
    found = shown(alice_client.get("/requests/", {"q": term}))

    assert found == {searchable[name].pk for name in expected}


def test_the_search_is_case_sensitive_as_arns_are(alice_client, searchable):
    if not POSTGRESQL:
        pytest.skip("SQLite's LIKE ignores case; PostgreSQL's (production's) does not")
    assert shown(alice_client.get("/requests/", {"q": ARN.upper()})) == set()


def test_a_request_with_several_matching_attempts_is_listed_once(alice_client, alice):
    made = make_request(user=alice, status=RequestStatus.SUCCEEDED)
    attempt(made, "d00dfeed-0000-4000-8000-000000000001")
    attempt(made, "d00dfeed-0000-4000-8000-000000000002")

    text = alice_client.get("/requests/", {"q": "d00dfeed-0000"}).content.decode()

    assert SHOWN.findall(text) == [str(made.pk)]
    assert "1 request" in text


@pytest.mark.parametrize("term", ["arn:aws", "a", "1234567", "       x"])
def test_a_search_shorter_than_8_characters_is_refused_with_a_message_not_run(alice_client, searchable, term):
    response = alice_client.get("/requests/", {"q": term})

    text = response.content.decode()
    assert shown(response) == set()
    assert "Type at least 8 characters" in text
    assert 'role="alert"' in text


def test_the_refusal_shows_in_the_table_htmx_swaps_in(alice_client, searchable):
    text = alice_client.get("/requests/", {"q": "arn:aws"}, headers={"HX-Request": "true"}).content.decode()

    assert text.startswith('<div id="request-table">') or '<div id="request-table">' in text[:200]
    assert "Type at least 8 characters" in text


def test_the_export_answers_a_refused_search_with_nothing_and_the_api_refuses_it(client, searchable):
    auditor = make_user("auditor", groups=("Auditors",))
    client.force_login(auditor)

    export = b"".join(client.get("/requests/export.jsonl", {"q": "arn:aws"}).streaming_content)
    api = client.get("/api/requests/", {"q": "arn:aws"})

    assert export == b""
    assert api.status_code == 400
    assert "at least 8 characters" in api.json()["q"][0]


def test_the_export_and_the_api_find_by_a_start_as_the_page_does(client, searchable):
    client.force_login(make_user("auditor", groups=("Auditors",)))
    start = "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/"

    exported = b"".join(client.get("/requests/export.jsonl", {"q": start}).streaming_content).decode()
    listed = {row["id"] for row in client.get("/api/requests/", {"q": start}).json()["results"]}

    expected = {searchable["bundle"].pk, searchable["theirs"].pk}
    assert {int(pk) for pk in re.findall(r'"id": (\d+)', exported)} == expected
    assert listed == expected


def test_a_start_shared_by_more_than_the_probe_is_read_newest_first_in_pages(alice_client, alice, monkeypatch):
    monkeypatch.setattr(history, "PREFIX_PROBE", 2)
    monkeypatch.setattr("integrations.views.PAGE_SIZE", 3)
    made = [make_request(user=alice, status=RequestStatus.SUCCEEDED, resource_id=f"{ARN}{i}") for i in range(5)]
    make_request(user=alice, status=RequestStatus.SUCCEEDED, resource_id="arn:aws:appflow:elsewhere")

    first = alice_client.get("/requests/", {"q": ARN})
    older = re.search(r'href="\?([^"]*cursor=o[^"]+)" rel="next"', first.content.decode())
    assert older is not None
    second = alice_client.get("/requests/?" + html.unescape(older[1]))

    assert SHOWN.findall(first.content.decode()) == [str(r.pk) for r in made[::-1][:3]]
    assert SHOWN.findall(second.content.decode()) == [str(r.pk) for r in made[::-1][3:]]
    assert "5 requests" in first.content.decode()


def test_a_broad_start_combines_with_a_narrow_one_of_another_kind(alice, monkeypatch):
    monkeypatch.setattr(history, "PREFIX_PROBE", 1)
    start = "abcdef01"
    by_arn = [make_request(user=alice, resource_id=f"{start}-resource-{i}") for i in range(2)]
    by_token = make_request(user=alice, client_token=f"{start}-0000-4000-8000-000000000001")
    make_request(user=alice, resource_id="unrelated-resource")

    _, found = history.history(alice, {"q": start})

    assert set(found.values_list("pk", flat=True)) == {by_token.pk, *(r.pk for r in by_arn)}


def test_each_kind_is_looked_up_through_its_pattern_index_on_postgresql(alice):
    """The plan of each lookup the search makes, with sequential scans priced out: an index that
    cannot answer LIKE 'prefix%' (a default B-tree outside the "C" collation) would leave a Seq Scan."""
    if not POSTGRESQL:
        pytest.skip("the plans that matter are PostgreSQL's (DATABASE_URL=postgres://…)")
    indexes = ("awsrequest_resource_id", "awsrequest_client_token", "attempt_aws_request_id")
    lookups = [(lookup, index) for (lookup, _), index in zip(history.prefix_lookups("feedface"), indexes, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for queryset, index in lookups:
            plan = queryset.explain()
            assert "Seq Scan" not in plan, plan
            assert re.search(rf"Index (Only )?Scan using ({index}_like|{index}\w*) ", plan), plan
            # The pattern index exists, whatever the planner picked in this database's collation.
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [f"{index}_like"])
            (definition,) = cursor.fetchone()
            assert "varchar_pattern_ops" in definition


def test_outside_the_c_collation_only_the_pattern_index_answers_a_start(alice):
    """Dropping the default index (in this test's transaction) leaves the pattern one: still an index scan."""
    if not POSTGRESQL:
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("DROP INDEX awsrequest_resource_id_idx")
        plan = AwsRequest.objects.filter(resource_id__startswith=ARN).values("id")[:10].explain()

    assert "awsrequest_resource_id_like" in plan, plan
    assert "~>=~" in plan


# --- the requests of one batch ---------------------------------------------------------------------------


def batch_of(user, n: int = 2) -> tuple[Batch, list[AwsRequest]]:
    """A batch of ``user``'s with ``n`` requests (one per line), as ``batches.record`` leaves it."""
    target = default_target()
    batch = Batch.objects.create(
        service="supplychain", operation="SendDataIntegrationEvent", target=target, account_id=target.account_id,
        region=target.region, created_by=user, created_by_username=user.username, file_format="csv",
        status=BatchStatus.RUNNING, requests_recorded=n,
    )  # fmt: skip
    made = [
        make_request("supplychain/SendDataIntegrationEvent", user=user, batch=batch, batch_line=line, status=status)
        for line, status in zip(range(2, n + 2), [RequestStatus.SUCCEEDED, RequestStatus.FAILED] * n, strict=False)
    ]
    return batch, made


def test_the_batch_filter_shows_only_that_batchs_requests_and_links_back_to_it(alice_client, alice):
    batch, made = batch_of(alice)
    batch_of(alice)
    make_request(user=alice)

    response = alice_client.get("/requests/", {"batch": batch.pk})
    text = response.content.decode()

    assert shown(response) == {r.pk for r in made}
    assert f'<a href="/batches/{batch.pk}/">batch #{batch.pk}</a>' in text
    # Kept by the filter form, so that another filter chosen on the page narrows this batch further.
    assert f'<input type="hidden" name="batch" value="{batch.pk}"' in text
    assert shown(alice_client.get("/requests/", {"batch": batch.pk, "status": "failed"})) == {made[1].pk}


def test_without_the_batch_filter_the_page_names_no_batch(alice_client, alice):
    batch_of(alice)

    text = alice_client.get("/requests/").content.decode()

    assert 'id="batch-filter"' not in text
    assert 'name="batch"' not in text


@pytest.mark.parametrize("value", ["abc", "0", "-1", "99999999999999999999", "1.5"])
def test_a_batch_filter_that_names_no_batch_is_ignored_not_fatal(alice_client, alice, value):
    _, made = batch_of(alice)
    single = make_request(user=alice)

    assert shown(alice_client.get("/requests/", {"batch": value})) == {single.pk, *(r.pk for r in made)}


def test_the_batch_filter_shows_only_what_the_user_may_see(alice_client, alice):
    theirs, _ = batch_of(make_operator("bob"))

    assert shown(alice_client.get("/requests/", {"batch": theirs.pk})) == set()


def test_the_export_and_the_api_filter_by_batch_as_the_page_does(client, alice):
    batch, made = batch_of(alice)
    make_request(user=alice)
    client.force_login(make_user("auditor", groups=("Auditors",)))

    exported = b"".join(client.get("/requests/export.jsonl", {"batch": batch.pk}).streaming_content).decode()
    listed = {row["id"] for row in client.get("/api/requests/", {"batch": batch.pk}).json()["results"]}

    expected = {r.pk for r in made}
    assert {int(pk) for pk in re.findall(r'"id": (\d+)', exported)} == expected
    assert listed == expected


def test_a_batchs_page_of_requests_is_read_through_its_batch_index_on_postgresql(alice):
    """A page and the capped count of a batch's requests: through awsrequest_batch_status_idx, never a
    scan of the history (sequential scans priced out, as for the search above)."""
    if not POSTGRESQL:
        pytest.skip("the plans that matter are PostgreSQL's (DATABASE_URL=postgres://…)")
    batch, _ = batch_of(alice)
    auditor = make_user("auditor", groups=("Auditors",))
    _, requests = history.history(auditor, {"batch": str(batch.pk)})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plans = [
            requests.order_by("-created_at", "-id")[:26].explain(),
            requests.order_by().values("pk")[: history.COUNT_CAP + 1].explain(),
        ]
    for plan in plans:
        assert "Seq Scan" not in plan, plan
        # Either index that starts with the batch (the planner picks by its statistics).
        assert re.search(r"Index (Only )?Scan using (awsrequest_batch_status_idx|unique_batch_request_line) ", plan), (
            plan
        )
        assert re.search(r"Index Cond: \(+batch_id = ", plan), plan
