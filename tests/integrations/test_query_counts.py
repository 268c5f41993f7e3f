"""Every history page, the home page, the request page, the API list and the admin change list run
the same number of queries whatever the number of requests: none makes a query per row.

Each page is fetched with a few requests in the history, then again with thirty more (each with
its attempts), and must run exactly as many queries the second time while showing more rows.
Below them, what else keeps these pages fast at a million requests and can be seen at three: the
indexes are in the database, counts stop at a cap, and searches are exact.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations import history
from integrations.models import Attempt, AwsRequest, RequestStatus, Resource, ResourceStatus
from tests.factories import make_operator, make_request, make_resource, make_target, make_user

pytestmark = pytest.mark.django_db

ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/def"
FEW, MORE = 3, 30
# How each kind of page shows a request: the ids it lists.
SHOWN = {
    "page": re.compile(r'href="/requests/(\d+)/"'),
    "admin": re.compile(r'href="/admin/integrations/awsrequest/(\d+)/change/'),
    "resources": re.compile(r'<tr id="resource-(\d+)"'),
    "resources admin": re.compile(r'href="/admin/integrations/resource/(\d+)/change/'),
}


def sign_in(client, user) -> None:
    """Sign in, and make one request, which starts the session's clocks: a first request writes the
    session, later ones (within a minute) do not, and the counts below compare later ones."""
    client.force_login(user)
    assert client.get("/healthz").status_code == 200


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return make_operator("alice")


@pytest.fixture
def add(alice) -> Callable[[int], None]:
    """Adds ``n`` requests of alice and bob, in two targets, with two attempts each."""
    bob = make_operator("bob")
    targets = (make_target(), make_target("elsewhere", users=(alice, bob), account_id="444455556666"))
    made = itertools.count()

    def add(n: int) -> None:
        for i in range(n):
            aws_request = make_request(
                user=(alice, bob)[i % 2],
                target=targets[i % 3 > 0],
                status=RequestStatus.SUCCEEDED if i % 2 else RequestStatus.FAILED,
                resource_id=f"{ARN}-{next(made)}",
            )
            for number in (1, 2):
                Attempt.objects.create(
                    request=aws_request, number=number, started_at=timezone.now(),
                    client_token=aws_request.client_token, aws_request_id=f"aws-request-{aws_request.pk}-{number}",
                )  # fmt: skip

    return add


def fetch(client, path: str, headers: dict | None = None) -> tuple[int, str]:
    """The queries a page ran, and its text."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers or {})
    assert response.status_code == 200, (path, response.status_code)
    return len(captured), response.content.decode()


def shown(kind: str, text: str) -> set[int]:
    if kind in ("api", "resources api"):
        return {row["id"] for row in json.loads(text)["results"]}
    return {int(pk) for pk in SHOWN[kind].findall(text)}


def today() -> str:
    return timezone.localdate().isoformat()


def newest_cursor() -> str:
    """A later page: the requests older than the newest one."""
    return history.Cursor.of(AwsRequest.objects.order_by("-created_at", "-id").first(), older=True).token()


def oldest_searchable() -> str:
    return AwsRequest.objects.order_by("pk").first().resource_id


def oldest_client_token() -> str:
    return AwsRequest.objects.order_by("pk").first().client_token


def oldest_aws_request_id() -> str:
    return Attempt.objects.order_by("pk").first().aws_request_id


PAGES: list[tuple[str, str, Callable[[], str], dict, bool]] = [
    # name, kind, path, headers, whether more requests show more rows
    ("history", "page", lambda: "/requests/", {}, True),
    ("history with htmx", "page", lambda: "/requests/", {"HX-Request": "true"}, True),
    ("history by operation", "page", lambda: "/requests/?operation=appfabric/CreateIngestion", {}, True),
    ("history by status", "page", lambda: "/requests/?status=succeeded", {}, True),
    ("history by user", "page", lambda: "/requests/?user=alice", {}, True),
    ("history by target", "page", lambda: "/requests/?target=elsewhere", {}, True),
    ("history by dates", "page", lambda: f"/requests/?created_from={today()}&created_to={today()}", {}, True),
    ("history by ARN", "page", lambda: f"/requests/?q={oldest_searchable()}", {}, False),
    ("history by AWS request id", "page", lambda: f"/requests/?q={oldest_aws_request_id()}", {}, False),
    # Every ARN starts with ARN: a start shared by all, and one (a client token's first 8) by one.
    ("history by an ARN's start", "page", lambda: f"/requests/?q={ARN}", {}, True),
    ("history by a client token's start", "page", lambda: f"/requests/?q={oldest_client_token()[:8]}", {}, False),
    ("API list by an ARN's start", "api", lambda: f"/api/requests/?q={ARN}", {}, True),
    ("history, a later page", "page", lambda: f"/requests/?cursor={newest_cursor()}", {}, True),
    ("home", "page", lambda: "/", {}, True),
    ("API list", "api", lambda: "/api/requests/", {}, True),
    ("API list, a later page", "api", lambda: f"/api/requests/?cursor={newest_cursor()}", {}, True),
    ("API list by user and dates", "api", lambda: f"/api/requests/?user=alice&created_from={today()}", {}, True),
    ("admin change list", "admin", lambda: "/admin/integrations/awsrequest/", {}, True),
    (
        "admin change list, filtered",
        "admin",
        lambda: "/admin/integrations/awsrequest/?status__exact=failed&operation_key=appfabric/CreateIngestion",
        {},
        True,
    ),
    ("admin change list, searched", "admin",
     lambda: f"/admin/integrations/awsrequest/?q={oldest_searchable()}", {}, False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "path", "headers", "grows"), PAGES, ids=[p[0] for p in PAGES])
def test_a_page_runs_as_many_queries_with_thirty_more_requests(client, add, name, kind, path, headers, grows):
    sign_in(client, make_user("root", is_superuser=True, is_staff=True))
    add(FEW)
    queries_few, text_few = fetch(client, path(), headers)

    add(MORE)
    queries_more, text_more = fetch(client, path(), headers)

    few, more = shown(kind, text_few), shown(kind, text_more)
    assert few, "the page shows requests"
    assert more
    if grows:
        assert len(more) > len(few)
    assert queries_more == queries_few


@pytest.mark.parametrize("path", ["/requests/", "/", "/api/requests/"])
def test_an_operators_pages_run_as_many_queries_with_thirty_more_requests(client, add, alice, path):
    sign_in(client, alice)
    add(FEW)
    queries_few, text_few = fetch(client, path)

    add(MORE)
    queries_more, text_more = fetch(client, path)

    kind = "api" if path.startswith("/api/") else "page"
    assert len(shown(kind, text_more)) > len(shown(kind, text_few)) > 0
    assert queries_more == queries_few


def test_the_request_page_runs_as_many_queries_with_more_attempts_and_requests(client, add, alice):
    sign_in(client, alice)
    add(FEW)
    viewed = AwsRequest.objects.filter(created_by=alice).first()
    queries_few, text_few = fetch(client, f"/requests/{viewed.pk}/")

    add(MORE)
    for number in range(3, 13):
        Attempt.objects.create(
            request=viewed, number=number, started_at=timezone.now(), client_token=viewed.client_token,
            aws_request_id=f"aws-request-{viewed.pk}-{number}",
        )  # fmt: skip
    queries_more, text_more = fetch(client, f"/requests/{viewed.pk}/")

    assert f"aws-request-{viewed.pk}-12" not in text_few
    assert f"aws-request-{viewed.pk}-12" in text_more
    assert queries_more == queries_few


# --- the Resources page, its API list and its admin -------------------------------------------------


@pytest.fixture
def add_resources(alice) -> Callable[[int], None]:
    """Adds ``n`` resources of alice and bob, in two targets, in every status."""
    bob = make_operator("bob")
    targets = (make_target(), make_target("elsewhere", users=(alice, bob), account_id="444455556666"))
    statuses = itertools.cycle(ResourceStatus.values)

    def add(n: int) -> None:
        for i in range(n):
            status = next(statuses)
            changes = [{"field": "tenantId", "was": "a", "now": "b"}] if status == ResourceStatus.CHANGED else []
            make_resource(user=(alice, bob)[i % 2], target=targets[i % 3 > 0], status=status, changes=changes,
                          check_error="ThrottlingException: slow down" if i % 4 == 0 else "")  # fmt: skip

    return add


def newest_resource_cursor() -> str:
    return history.Cursor.of(Resource.objects.order_by("-created_at", "-id").first(), older=True).token()


def oldest_resource_id() -> str:
    return Resource.objects.order_by("pk").first().resource_id


RESOURCE_PAGES: list[tuple[str, str, Callable[[], str], dict, bool]] = [
    ("resources", "resources", lambda: "/resources/", {}, True),
    ("resources with htmx", "resources", lambda: "/resources/", {"HX-Request": "true"}, True),
    ("resources by operation", "resources", lambda: "/resources/?operation=appfabric/CreateIngestion", {}, True),
    ("resources by status", "resources", lambda: "/resources/?status=confirmed", {}, True),
    ("resources by user", "resources", lambda: "/resources/?user=alice", {}, True),
    ("resources by target", "resources", lambda: "/resources/?target=elsewhere", {}, True),
    ("resources by dates", "resources", lambda: f"/resources/?created_from={today()}&created_to={today()}", {}, True),
    ("resources by ARN", "resources", lambda: f"/resources/?q={oldest_resource_id()}", {}, False),
    ("resources, a later page", "resources", lambda: f"/resources/?cursor={newest_resource_cursor()}", {}, True),
    ("resources API list", "resources api", lambda: "/api/resources/", {}, True),
    ("resources API list, a later page", "resources api",
     lambda: f"/api/resources/?cursor={newest_resource_cursor()}", {}, True),
    ("resources API list by status and dates", "resources api",
     lambda: f"/api/resources/?status=confirmed&created_from={today()}", {}, True),
    ("resources admin change list", "resources admin", lambda: "/admin/integrations/resource/", {}, True),
    ("resources admin change list, filtered", "resources admin",
     lambda: "/admin/integrations/resource/?status__exact=confirmed&operation_key=appfabric/CreateIngestion", {}, True),
    ("resources admin change list, searched", "resources admin",
     lambda: f"/admin/integrations/resource/?q={oldest_resource_id()}", {}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind", "path", "headers", "grows"), RESOURCE_PAGES, ids=[p[0] for p in RESOURCE_PAGES]
)
def test_a_resources_page_runs_as_many_queries_with_thirty_more_resources(
    client, add_resources, name, kind, path, headers, grows
):
    sign_in(client, make_user("root", is_superuser=True, is_staff=True))
    add_resources(FEW)
    queries_few, text_few = fetch(client, path(), headers)

    add_resources(MORE)
    queries_more, text_more = fetch(client, path(), headers)

    few, more = shown(kind, text_few), shown(kind, text_more)
    assert few, "the page shows resources"
    if grows:
        assert len(more) > len(few)
    assert queries_more == queries_few


@pytest.mark.parametrize(("path", "kind"), [("/resources/", "resources"), ("/api/resources/", "resources api")])
def test_an_operators_resources_run_as_many_queries_with_thirty_more_resources(
    client, add_resources, alice, path, kind
):
    sign_in(client, alice)
    add_resources(FEW)
    queries_few, text_few = fetch(client, path)

    add_resources(MORE)
    queries_more, text_more = fetch(client, path)

    assert len(shown(kind, text_more)) > len(shown(kind, text_few)) > 0
    assert queries_more == queries_few


# --- what else keeps them fast ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name", "columns"),
    [
        (AwsRequest, "awsrequest_user_created_idx", ["created_by_id", "created_at"]),
        (AwsRequest, "awsrequest_target_created_idx", ["target_id", "created_at"]),
        (AwsRequest, "awsrequest_resource_id_idx", ["resource_id"]),
        (Attempt, "attempt_aws_request_id_idx", ["aws_request_id"]),
        # The searches by a start (LIKE 'prefix%'), with the pattern operator class on PostgreSQL.
        (AwsRequest, "awsrequest_resource_id_like", ["resource_id"]),
        (AwsRequest, "awsrequest_client_token_like", ["client_token"]),
        (Attempt, "attempt_aws_request_id_like", ["aws_request_id"]),
        (Resource, "resource_status_created_idx", ["status", "created_at"]),
        (Resource, "resource_operation_created_idx", ["service", "operation", "created_at"]),
        (Resource, "resource_user_created_idx", ["created_by_id", "created_at"]),
        (Resource, "resource_target_created_idx", ["target_id", "created_at"]),
        (Resource, "resource_created_idx", ["created_at"]),
        (Resource, "resource_resource_id_idx", ["resource_id"]),
    ],
)
def test_the_migrations_build_the_index_each_filter_and_search_needs(model, name, columns):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)

    assert constraints[name]["index"]
    assert constraints[name]["columns"] == columns


def test_the_admin_counts_only_up_to_the_cap_and_says_more_than(client, add, monkeypatch):
    monkeypatch.setattr(history, "COUNT_CAP", 5)
    sign_in(client, make_user("root", is_superuser=True, is_staff=True))
    add(FEW)

    assert "3 AWS requests" in client.get("/admin/integrations/awsrequest/").content.decode()
    add(FEW)
    assert "more than 5 AWS requests" in client.get("/admin/integrations/awsrequest/").content.decode()


def test_the_admin_finds_a_request_by_its_exact_arn_aws_request_id_or_client_token_only(client, add):
    sign_in(client, make_user("root", is_superuser=True, is_staff=True))
    add(FEW)
    wanted = AwsRequest.objects.order_by("pk").first()
    attempt = wanted.attempts.first()

    def found(term: str) -> set[int]:
        _, text = fetch(client, f"/admin/integrations/awsrequest/?q={term}")
        return shown("admin", text)

    for term in (wanted.resource_id, f"  {attempt.aws_request_id} ", wanted.client_token):
        assert found(term) == {wanted.pk}, term
    assert found(ARN) == set()  # a prefix of every ARN: not a substring search
    assert found(wanted.client_token.upper()) == set()


def test_the_admin_filters_by_the_registrys_operations(client, add):
    sign_in(client, make_user("root", is_superuser=True, is_staff=True))
    add(FEW)
    event = make_request("supplychain/SendDataIntegrationEvent", user=make_operator("carol"))

    _, text = fetch(client, "/admin/integrations/awsrequest/?operation_key=supplychain/SendDataIntegrationEvent")
    assert shown("admin", text) == {event.pk}
    _, text = fetch(client, "/admin/integrations/awsrequest/?operation_key=no/Such")
    assert shown("admin", text) == set()


def test_the_resources_admin_finds_a_resource_by_its_exact_arn_only(client, add_resources):
    sign_in(client, make_user("root", is_superuser=True, is_staff=True))
    add_resources(FEW)
    wanted = Resource.objects.order_by("pk").first()

    def found(term: str) -> set[int]:
        _, text = fetch(client, f"/admin/integrations/resource/?q={term}")
        return shown("resources admin", text)

    assert found(f" {wanted.resource_id} ") == {wanted.pk}
    assert found(wanted.resource_id.upper()) == set()  # exact, so that the index on resource_id answers
    assert found(wanted.resource_id[:-1]) == set()
