"""GET /api/resources/: the Resources page's list as JSON, with its filters and keyset pages, and
only what the caller may see."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.api.tokens import create_token
from integrations.models import ResourceStatus
from tests.factories import make_operator, make_target, make_user
from tests.integrations.test_resource_views import make_resource

pytestmark = pytest.mark.django_db

LIST = "/api/resources/"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def call(client, caller, /, path: str = LIST, **query):
    return client.get(path, query, headers={"Authorization": f"Token {create_token(caller).key}"})


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def on(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC)


def test_a_resource_is_listed_with_what_aws_last_said_of_it_and_a_link_to_its_request(client):
    alice = make_operator("alice")
    changes = [{"field": "tenantId", "was": "tenant-1", "now": "tenant-2"}]
    resource = make_resource(
        user=alice, status=ResourceStatus.CHANGED, changes=changes, state="enabled", checked_at=on(2), created_at=on(1)
    )

    [row] = call(client, alice).json()["results"]

    assert row == {
        "id": resource.pk,
        "operation": "appfabric/CreateIngestion",
        "type": "AppFabric: create an ingestion",
        "name": resource.name,
        "resource_id": resource.resource_id,
        "target": "sandbox",
        "account_id": "111122223333",
        "region": "us-east-1",
        "created_by": "alice",
        "created_at": "2026-03-01T12:00:00Z",
        "request": f"http://testserver/api/requests/{resource.request_id}/",
        "status": "changed",
        "status_label": "Changed outside the portal",
        "state": "enabled",
        "changes": changes,
        "checked_at": "2026-03-02T12:00:00Z",
        "check_error": "",
        "status_changed_at": None,
    }


def test_an_operator_gets_only_their_own_resources_and_an_auditor_everyones(client):
    alice, bob = make_operator("alice"), make_operator("bob")
    own, others = make_resource(user=alice), make_resource(user=bob)

    assert ids(call(client, alice)) == [own.pk]
    assert ids(call(client, alice, user="bob")) == []
    assert ids(call(client, make_user("auditor", groups=("Auditors",)))) == [others.pk, own.pk]


def test_the_filters_are_the_pages(client):
    auditor = make_user("auditor", groups=("Auditors",))
    europe = make_target("europe", account_id="444455556666", region="eu-west-1")
    first = make_resource(created_at=on(1))
    gone = make_resource("appflow/RegisterConnector", target=europe, created_at=on(5), status=ResourceStatus.GONE)

    assert ids(call(client, auditor, status="gone")) == [gone.pk]
    assert ids(call(client, auditor, operation="appflow/RegisterConnector")) == [gone.pk]
    assert ids(call(client, auditor, target="europe")) == [gone.pk]
    assert ids(call(client, auditor, created_to="2026-03-02")) == [first.pk]
    assert ids(call(client, auditor, q=first.resource_id)) == [first.pk]
    assert ids(call(client, auditor, status="no-such-status")) == [gone.pk, first.pk]  # ignored, as on the page


def test_pages_follow_next_and_previous_cursors(client, monkeypatch):
    from integrations.api.resources import ResourcePagination

    monkeypatch.setattr(ResourcePagination, "page_size", 2)
    alice = make_operator("alice")
    newest_first = [make_resource(user=alice, created_at=on(day)).pk for day in range(5, 0, -1)]

    first = call(client, alice).json()
    second = call(client, alice, path=first["next"].removeprefix("http://testserver")).json()
    back = call(client, alice, path=second["previous"].removeprefix("http://testserver")).json()

    assert first["previous"] is None
    assert [r["id"] for r in first["results"]] == newest_first[:2]
    assert [r["id"] for r in second["results"]] == newest_first[2:4]
    assert [r["id"] for r in back["results"]] == newest_first[:2]


@pytest.mark.parametrize(("query", "field"), [({"cursor": "not-a-cursor"}, "cursor"), ({"page": "2"}, "page")])
def test_a_bad_cursor_or_a_page_number_is_a_400_that_says_why(client, query, field):
    alice = make_operator("alice")

    response = call(client, alice, **query)

    assert response.status_code == 400
    assert field in response.json()


def test_the_list_needs_a_signed_in_caller(client):
    assert client.get(LIST).status_code in (401, 403)


def test_the_schema_documents_the_list_its_filters_and_its_rows(client):
    alice = make_operator("alice")

    document = call(client, alice, path="/api/schema/", format="json").json()

    operation = document["paths"][LIST]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names >= {"operation", "status", "user", "target", "created_from", "created_to", "q", "cursor"}
    [status] = [p for p in operation["parameters"] if p["name"] == "status"]
    assert set(status["schema"]["enum"]) == set(ResourceStatus.values)
    row = document["components"]["schemas"]["Resource"]["properties"]
    assert {"resource_id", "status", "changes", "checked_at", "request"} <= set(row)
