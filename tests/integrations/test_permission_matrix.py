"""Who may do what, as tables: every actor against every page, form submit, decision, export and
API call, including another user's request. A forbidden action answers with its status and
leaves no trace: no request recorded, no decision taken."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from integrations.api.tokens import create_token
from integrations.models import ApprovalDecision, AwsRequest, AwsTarget, Batch, BatchStatus, RequestStatus
from integrations.permissions import ADMINISTRATORS, APPROVERS, AUDITORS, OPERATORS
from operations import all_operations
from tests.factories import (
    default_target,
    form_post,
    ingestion_form_data,
    ingestion_params,
    make_operator,
    make_request,
    make_target,
    make_user,
)

ANONYMOUS = "anonymous"
OPERATOR = "operator"
WITHOUT_OPERATION = "operator_without_operation"
ONE_TARGET = "operator_limited_to_one_target"
AUDITOR = "auditor"
APPROVER = "approver"
ADMINISTRATOR = "administrator"
SUPERUSER = "superuser"
ACTORS = (ANONYMOUS, OPERATOR, WITHOUT_OPERATION, ONE_TARGET, AUDITOR, APPROVER, ADMINISTRATOR, SUPERUSER)
SIGNED_IN = tuple(a for a in ACTORS if a != ANONYMOUS)
# Those who see every user's requests (Auditors and Administrators by view_all; Approvers to judge).
SEE_ALL = {AUDITOR, APPROVER, ADMINISTRATOR, SUPERUSER}

INGESTION = "appfabric/CreateIngestion"
CONNECTOR = "appflow/RegisterConnector"  # the one operation WITHOUT_OPERATION may run
EVENTS = "supplychain/SendDataIntegrationEvent"  # the operation that takes uploaded files
FORM_URL = f"/operations/{INGESTION}/"
API_SUBMIT = f"/api/operations/{INGESTION}/requests/"
CONNECTOR_PARAMS = {
    "connectorLabel": "erp",
    "connectorProvisioningType": "LAMBDA",
    "connectorProvisioningConfig": {"lambda": {"lambdaArn": "arn:aws:lambda:us-east-1:111122223333:function:erp"}},
}

LOGIN = "login"  # expected: redirected to the sign-in page, with the page to come back to
ADMIN_LOGIN = "admin-login"  # expected: redirected to the admin's sign-in page


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Users are made in every test; the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    actor: str
    user: object | None  # None: anonymous
    own: AwsRequest | None  # a request the actor made (None for anonymous)
    others: AwsRequest  # a request someone else made
    sandbox: AwsTarget  # the Operators' target
    team_a: AwsTarget  # the target granted to ONE_TARGET alone
    own_batch: Batch | None  # a batch the actor uploaded (None for anonymous)
    others_batch: Batch  # a batch someone else uploaded

    @property
    def own_or_others(self) -> AwsRequest:
        return self.own or self.others

    @property
    def own_or_others_batch(self) -> Batch:
        return self.own_batch or self.others_batch


def make_batch(user, target: AwsTarget) -> Batch:
    """A checked batch of Supply Chain events, as an upload leaves it."""
    service, name = EVENTS.split("/")
    return Batch.objects.create(
        service=service,
        operation=name,
        target=target,
        account_id=target.account_id,
        region=target.region,
        created_by=user,
        created_by_username=user.get_username(),
        file_name="events.jsonl",
        file_format="jsonl",
        status=BatchStatus.DRAFT,
    )


def make_actor(actor: str):
    """The user playing ``actor``; every target they may use already exists."""
    if actor == ANONYMOUS:
        return None
    if actor == OPERATOR:
        return make_operator("operator")
    if actor == WITHOUT_OPERATION:
        # May run one operation (AppFlow's), in the Operators' target, and nothing else.
        user = make_user("appflow-only")
        user.user_permissions.add(Permission.objects.get(codename="run_appflow/RegisterConnector"))
        default_target().users.add(user)
        return user
    if actor == ONE_TARGET:
        # May run every operation, but only in team-a (not in the Operators' sandbox).
        user = make_user("team-a-operator")
        user.user_permissions.add(*Group.objects.get(name=OPERATORS).permissions.all())
        AwsTarget.objects.get(name="team-a").users.add(user)
        return user
    if actor == AUDITOR:
        return make_user("auditor", groups=(AUDITORS,))
    if actor == APPROVER:
        return make_user("approver", groups=(APPROVERS,))
    if actor == ADMINISTRATOR:
        return make_user("administrator", groups=(ADMINISTRATORS,), is_staff=True)
    if actor == SUPERUSER:
        return get_user_model().objects.create_superuser("root", "root@example.com", "x")
    raise AssertionError(actor)


@pytest.fixture
def world(request, db, client) -> World:
    """The actor (from the test's ``actor`` parameter), signed in, with one request of their own and
    one of someone else's in the history."""
    actor = request.getfixturevalue("actor")
    sandbox = default_target()
    team_a = make_target("team-a", account_id="444455556666", region="eu-west-1")
    user = make_actor(actor)
    someone_else = make_operator("someone-else")
    others = make_request(user=someone_else)
    own = make_request(user=user) if user is not None else None
    others_batch = make_batch(someone_else, sandbox)
    own_batch = make_batch(user, sandbox) if user is not None else None
    if user is not None:
        client.force_login(user)
    return World(actor, user, own, others, sandbox, team_a, own_batch, others_batch)


def expand(table: dict[str, dict[str, object]]) -> list:
    """``{case: {actor: expected}}`` as pytest parameters ``(case, actor, expected)``."""
    assert all(set(row) == set(ACTORS) for row in table.values()), "every actor has an expectation"
    return [pytest.param(case, actor, expected, id=f"{case}-{actor}") for case, row in table.items()
            for actor, expected in row.items()]  # fmt: skip


def row(default: object, anonymous: object = LOGIN, **actors: object) -> dict[str, object]:
    """One table row: ``default`` for every signed-in actor unless named, LOGIN for anonymous."""
    assert set(actors) <= set(SIGNED_IN), f"unknown actors: {set(actors) - set(SIGNED_IN)}"
    return {ANONYMOUS: anonymous, **{a: actors.get(a, default) for a in SIGNED_IN}}


def _may_open_form(actor: str, key: str) -> int:
    if actor in (OPERATOR, ONE_TARGET, SUPERUSER):
        return 200
    if actor == WITHOUT_OPERATION and key == CONNECTOR:
        return 200
    return 403


def assert_outcome(response, path: str, expected: object) -> None:
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"
    elif expected == ADMIN_LOGIN:
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={path}"
    elif isinstance(expected, str):  # a redirect to that page (formatted like the path)
        assert response.status_code == 302
        assert response["Location"] == expected
    else:
        assert response.status_code == expected


def history_ids(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'<td><a href="/requests/(\d+)/">', response.content.decode())}


# --- pages ---------------------------------------------------------------------------------------

PAGES = {
    "/": row(200),
    "/operations/": row(200),
    **{
        f"/operations/{op.key}/": {ANONYMOUS: LOGIN, **{a: _may_open_form(a, op.key) for a in SIGNED_IN}}
        for op in all_operations()
    },
    "/requests/": row(200),
    "/requests/{own}/": row(200),
    "/requests/{others}/": row(404, **dict.fromkeys(SEE_ALL, 200)),
    # Run again: the form filled from a request (own requests are of the ingestion operation).
    "/requests/{own}/again/": {ANONYMOUS: LOGIN, **{a: _may_open_form(a, INGESTION) for a in SIGNED_IN}},
    "/requests/{others}/again/": row(404, **dict.fromkeys(SEE_ALL - {SUPERUSER}, 403), superuser=200),
    # Batches: their own for everyone, everybody's for those who see every request.
    "/batches/": row(200),
    f"/operations/{EVENTS}/batches/new/": {ANONYMOUS: LOGIN, **{a: _may_open_form(a, EVENTS) for a in SIGNED_IN}},
    "/batches/{own_batch}/": row(200),
    "/batches/{others_batch}/": row(404, **dict.fromkeys(SEE_ALL, 200)),
    "/batches/{own_batch}/report.csv": row(200),
    "/batches/{others_batch}/report.csv": row(404, **dict.fromkeys(SEE_ALL, 200)),
    # The live part is a partial for htmx; asked for as a page, it sends the reader to the batch's page.
    "/batches/{own_batch}/progress/": row("/batches/{own_batch}/"),
    "/batches/{others_batch}/progress/": row(404, **dict.fromkeys(SEE_ALL, "/batches/{others_batch}/")),
    "/resources/": row(200),
    "/resources/export.csv": row(403, auditor=200, superuser=200),
    "/resources/export.jsonl": row(403, auditor=200, superuser=200),
    "/presets/": row(200),
    "/notifications/": row(200),
    "/approvals/": row(403, approver=200, superuser=200),
    "/requests/export.csv": row(403, auditor=200, superuser=200),
    "/requests/export.jsonl": row(403, auditor=200, superuser=200),
    "/audit/configuration/": row(403, auditor=200, superuser=200),
    "/audit/configuration/export.csv": row(403, auditor=200, superuser=200),
    "/admin/": row(ADMIN_LOGIN, anonymous=ADMIN_LOGIN, administrator=200, superuser=200),
    "/admin/integrations/awstarget/": row(ADMIN_LOGIN, administrator=200, superuser=200),
    "/admin/integrations/approvalrule/": row(ADMIN_LOGIN, administrator=200, superuser=200),
    "/admin/auth/user/": row(ADMIN_LOGIN, administrator=200, superuser=200),
    "/admin/integrations/awsrequest/": row(ADMIN_LOGIN, administrator=200, superuser=200),
}


@pytest.mark.parametrize(("page", "actor", "expected"), expand(PAGES))
def test_pages(client, world, page, actor, expected):
    ids = {
        "own": world.own_or_others.pk,
        "others": world.others.pk,
        "own_batch": world.own_or_others_batch.pk,
        "others_batch": world.others_batch.pk,
    }
    path = page.format(**ids)
    expected = expected.format(**ids) if isinstance(expected, str) else expected

    response = client.get(path)

    assert_outcome(response, path, expected)


def test_the_table_covers_every_page_of_the_portal():
    from integrations.urls import urlpatterns

    # Every page but the POST-only ones (tested below, and in test_resource_views, test_presets and
    # test_views) and the pickers' choices (a partial of the form, whose permissions
    # test_choices tests) has a row.
    routes = {p.pattern._route for p in urlpatterns} - {
        "requests/<int:pk>/decide/",
        "requests/<int:pk>/cancel/",
        "operations/<str:service>/<str:name>/validate/",
        "operations/<str:service>/<str:name>/choices/<str:member>/",
        "resources/<int:pk>/recheck/",
        "presets/save/<str:service>/<str:name>/",
        "presets/<int:pk>/delete/",
        # Batches' and groups' actions: POST-only, tested in test_batch_views.
        "batches/<int:pk>/<str:action>/",
        "requests/<int:pk>/group/<str:action>/",
    }
    covered = {re.sub(r"\{\w+\}", "<int:pk>", page).lstrip("/") for page in PAGES}
    covered |= {"operations/<str:service>/<str:name>/", "operations/<str:service>/<str:name>/batches/new/"}
    assert routes <= covered


@pytest.mark.parametrize("actor", ACTORS)
def test_the_history_page_lists_only_what_the_actor_may_see(client, world, actor):
    response = client.get("/requests/")

    if actor == ANONYMOUS:
        assert_outcome(response, "/requests/", LOGIN)
    elif actor in SEE_ALL:
        assert history_ids(response) == {world.own.pk, world.others.pk}
    else:
        assert history_ids(response) == {world.own.pk}


@pytest.mark.parametrize("actor", ACTORS)
def test_the_history_page_filtered_by_another_user_still_shows_only_what_the_actor_may_see(client, world, actor):
    response = client.get("/requests/?user=someone-else")

    if actor == ANONYMOUS:
        assert response.status_code == 302
    else:
        assert history_ids(response) == ({world.others.pk} if actor in SEE_ALL else set())


@pytest.mark.parametrize("actor", ACTORS)
def test_the_operation_list_shows_only_runnable_operations(client, world, actor):
    response = client.get("/operations/")

    if actor == ANONYMOUS:
        assert_outcome(response, "/operations/", LOGIN)
        return
    listed = set(re.findall(r'<a href="/operations/([\w-]+/\w+)/">', response.content.decode()))
    expected = {
        OPERATOR: {op.key for op in all_operations()},
        ONE_TARGET: {op.key for op in all_operations()},
        SUPERUSER: {op.key for op in all_operations()},
        WITHOUT_OPERATION: {CONNECTOR},
    }.get(actor, set())
    assert listed == expected


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("actor", [AUDITOR, SUPERUSER])
def test_an_export_holds_every_request_the_actor_may_see(client, world, actor, fmt):
    response = client.get(f"/requests/export.{fmt}")

    body = b"".join(response.streaming_content).decode()
    if fmt == "csv":
        ids = {int(r["id"]) for r in csv.DictReader(io.StringIO(body))}
    else:
        ids = {json.loads(line)["id"] for line in body.splitlines()}
    assert ids == {world.own.pk, world.others.pk}


# --- form submit ---------------------------------------------------------------------------------

SUBMIT = {
    # The ingestion form posted with the Operators' sandbox target.
    "sandbox": row(
        403,
        operator="recorded",
        superuser="recorded",
        operator_limited_to_one_target=403,
        operator_without_operation=403,
    ),
}


@pytest.mark.parametrize(("case", "actor", "expected"), expand(SUBMIT))
def test_form_submit(client, world, case, actor, expected):
    before = set(AwsRequest.objects.values_list("pk", flat=True))

    response = client.post(FORM_URL, form_post(ingestion_form_data(), target=world.sandbox))

    new = AwsRequest.objects.exclude(pk__in=before)
    if expected == "recorded":
        [recorded] = new
        assert response.status_code == 302
        assert response["Location"] == f"/requests/{recorded.pk}/"
        assert (recorded.created_by, recorded.target, recorded.operation_key) == (world.user, world.sandbox, INGESTION)
        assert recorded.parameters == ingestion_params()
    else:
        assert_outcome(response, FORM_URL, expected)
        assert not new.exists()


def test_an_operator_limited_to_one_target_may_submit_in_that_target(client, db):
    default_target()
    team_a = make_target("team-a", account_id="444455556666", region="eu-west-1")
    user = make_actor(ONE_TARGET)
    client.force_login(user)

    response = client.post(FORM_URL, form_post(ingestion_form_data(), target=team_a))

    [recorded] = AwsRequest.objects.all()
    assert response.status_code == 302
    assert (recorded.target, recorded.account_id, recorded.region) == (team_a, "444455556666", "eu-west-1")


def test_an_operator_limited_to_one_target_is_offered_only_that_target(client, db):
    default_target()
    team_a = make_target("team-a", account_id="444455556666", region="eu-west-1")
    client.force_login(make_actor(ONE_TARGET))

    html = client.get(FORM_URL).content.decode()

    assert re.findall(r'<option value="(\d+)"', html) == [str(team_a.pk)]


@pytest.mark.parametrize("target", ["unknown", "not-a-number", "inactive"])
def test_a_submit_to_an_unknown_or_inactive_target_is_forbidden_and_records_nothing(client, db, target):
    operator = make_operator("operator")
    inactive = make_target("retired", groups=(OPERATORS,), is_active=False, account_id="999988887777")
    client.force_login(operator)
    value = {"unknown": "999999", "not-a-number": "sandbox", "inactive": str(inactive.pk)}[target]

    response = client.post(FORM_URL, {**form_post(ingestion_form_data()), "target": value})

    assert response.status_code == 403
    assert not AwsRequest.objects.exists()


def test_an_operator_without_an_operation_may_still_submit_the_one_granted(client, db):
    user = make_actor(WITHOUT_OPERATION)
    client.force_login(user)
    data = {
        "connectorLabel": "erp",
        "connectorProvisioningType": "LAMBDA",
        "connectorProvisioningConfig__lambda__lambdaArn": CONNECTOR_PARAMS["connectorProvisioningConfig"]["lambda"][
            "lambdaArn"
        ],
    }

    response = client.post(f"/operations/{CONNECTOR}/", form_post(data))

    [recorded] = AwsRequest.objects.all()
    assert response.status_code == 302, response.content.decode()[:2000]
    assert (recorded.operation_key, recorded.created_by) == (CONNECTOR, user)


VALIDATE = {
    # Checking one field as it is left; with no target, and with the Operators' sandbox.
    "no target": row(403, operator=200, superuser=200, operator_limited_to_one_target=200),
    "sandbox": row(403, operator=200, superuser=200),
}


@pytest.mark.parametrize(("case", "actor", "expected"), expand(VALIDATE))
def test_field_validation(client, world, case, actor, expected):
    path = f"{FORM_URL}validate/"
    data = {**ingestion_form_data(tenantId=""), "_field": "tenantId"}
    if case == "sandbox":
        data["target"] = str(world.sandbox.pk)

    response = client.post(path, data)

    assert_outcome(response, path, expected)
    if expected == 200:
        assert "This field is required." in response.content.decode()
    assert AwsRequest.objects.count() == (0 if world.own is None else 1) + 1


# --- approval decisions --------------------------------------------------------------------------

DECIDE = {
    # Approving someone else's request that awaits approval.
    "others": row(
        404,
        auditor=403,
        administrator=403,
        approver="approved",
        superuser="approved",
    ),
    # Approving one's own (anonymous: someone else's).
    "own": row(403),
}


@pytest.mark.parametrize(("case", "actor", "expected"), expand(DECIDE))
def test_decide(client, world, case, actor, expected):
    waiting = world.others if case == "others" else world.own_or_others
    AwsRequest.objects.filter(pk=waiting.pk).update(status=RequestStatus.AWAITING_APPROVAL)
    path = f"/requests/{waiting.pk}/decide/"

    response = client.post(path, {"decision": "approve"})

    waiting.refresh_from_db()
    if expected == "approved":
        assert response.status_code == 302
        assert response["Location"] == f"/requests/{waiting.pk}/"
        assert waiting.status == RequestStatus.QUEUED
        assert ApprovalDecision.objects.get(request=waiting).decided_by == world.user
    else:
        assert_outcome(response, path, expected)
        assert waiting.status == RequestStatus.AWAITING_APPROVAL
        assert not ApprovalDecision.objects.exists()


@pytest.mark.parametrize("actor", [OPERATOR, AUDITOR, APPROVER])
def test_a_rejection_by_someone_who_may_not_decide_changes_nothing(client, world, actor):
    AwsRequest.objects.filter(pk=world.others.pk).update(status=RequestStatus.AWAITING_APPROVAL)

    response = client.post(f"/requests/{world.others.pk}/decide/", {"decision": "reject", "reason": "no"})

    world.others.refresh_from_db()
    if actor == APPROVER:
        assert response.status_code == 302
        assert world.others.status == RequestStatus.REJECTED
    else:
        assert response.status_code == {OPERATOR: 404, AUDITOR: 403}[actor]
        assert world.others.status == RequestStatus.AWAITING_APPROVAL
        assert not ApprovalDecision.objects.exists()


# --- the API -------------------------------------------------------------------------------------


def api(client, world, method: str, path: str, body: dict | None = None, **headers: str):
    if world.user is not None:
        headers["Authorization"] = f"Token {create_token(world.user).key}"
    if method == "get":
        return client.get(path, headers=headers)
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


API = {
    "GET /api/operations/": row(200, anonymous=401),
    "GET /api/requests/": row(200, anonymous=401),
    "GET /api/requests/{own}/": row(200, anonymous=401),
    "GET /api/requests/{others}/": row(404, anonymous=401, **dict.fromkeys(SEE_ALL, 200)),
    "GET /api/requests/999999/": row(404, anonymous=401),
    "GET /api/schema/": row(200, anonymous=401),
    "GET /api/resources/": row(200, anonymous=401),
    "GET /api/batches/": row(200, anonymous=401),
    "GET /api/batches/{own_batch}/": row(200, anonymous=401),
    "GET /api/batches/{others_batch}/": row(404, anonymous=401, **dict.fromkeys(SEE_ALL, 200)),
    "GET /api/batches/{own_batch}/report/": row(200, anonymous=401),
    "GET /api/batches/{others_batch}/report/": row(404, anonymous=401, **dict.fromkeys(SEE_ALL, 200)),
    "GET /api/batches/{own_batch}/failures/": row(200, anonymous=401),
    "GET /api/batches/{others_batch}/failures/": row(404, anonymous=401, **dict.fromkeys(SEE_ALL, 200)),
    f"POST {API_SUBMIT}": row(403, anonymous=401, operator=201, superuser=201),
    f"POST /api/operations/{CONNECTOR}/requests/": row(
        403,
        anonymous=401,
        operator=201,
        superuser=201,
        operator_without_operation=201,
        operator_limited_to_one_target=403,
    ),
}


@pytest.mark.parametrize(("call", "actor", "expected"), expand(API))
def test_api(client, world, call, actor, expected):
    method, path = call.split(" ", 1)
    path = path.format(
        own=world.own_or_others.pk,
        others=world.others.pk,
        own_batch=world.own_or_others_batch.pk,
        others_batch=world.others_batch.pk,
    )
    params = CONNECTOR_PARAMS if CONNECTOR in path else ingestion_params()
    before = set(AwsRequest.objects.values_list("pk", flat=True))

    response = api(client, world, method.lower(), path, {"target": "sandbox", "parameters": params})

    assert response.status_code == expected, response.content[:500]
    new = AwsRequest.objects.exclude(pk__in=before)
    if expected == 201:
        [recorded] = new
        assert response.json()["id"] == recorded.pk
        assert recorded.created_by == world.user
    else:
        assert not new.exists()
    if expected == 401:
        assert "Location" not in response
        assert response["WWW-Authenticate"] == "Token"


def test_the_api_table_covers_every_api_endpoint():
    from integrations.api.urls import urlpatterns

    # The choices, the cancel and the batches' upload and actions have their own permission tests
    # (test_api_choices, test_api, test_api_batches).
    routes = {"/api/" + p.pattern._route for p in urlpatterns} - {
        "/api/operations/<str:service>/<str:name>/choices/<str:member>/",
        "/api/requests/<int:pk>/cancel/",
        "/api/operations/<str:service>/<str:name>/batches/",
        "/api/batches/<int:pk>/<str:action>/",
        "/api/requests/<int:pk>/group/<str:action>/",
    }
    called = {re.sub(r"\{\w+\}|\d+", "<int:pk>", call.split(" ", 1)[1]) for call in API}
    called = {re.sub(r"/operations/[\w-]+/\w+/", "/operations/<str:service>/<str:name>/", c) for c in called}
    assert routes <= called


@pytest.mark.parametrize("actor", SIGNED_IN)
def test_the_api_submit_in_a_target_the_actor_may_not_use_is_forbidden(client, world, actor):
    response = api(client, world, "post", API_SUBMIT, {"target": "team-a", "parameters": ingestion_params()})

    expected = 201 if actor in (ONE_TARGET, SUPERUSER) else 403
    assert response.status_code == expected
    assert AwsRequest.objects.filter(target=world.team_a).count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize("actor", SIGNED_IN)
def test_the_api_history_lists_only_what_the_actor_may_see(client, world, actor):
    response = api(client, world, "get", "/api/requests/")

    ids = {r["id"] for r in response.json()["results"]}
    assert ids == ({world.own.pk, world.others.pk} if actor in SEE_ALL else {world.own.pk})


@pytest.mark.parametrize("actor", SIGNED_IN)
def test_the_api_history_filtered_by_another_user_still_shows_only_what_the_actor_may_see(client, world, actor):
    response = api(client, world, "get", "/api/requests/?user=someone-else")

    ids = {r["id"] for r in response.json()["results"]}
    assert ids == ({world.others.pk} if actor in SEE_ALL else set())


@pytest.mark.parametrize("actor", SIGNED_IN)
def test_the_api_lists_only_runnable_operations(client, world, actor):
    response = api(client, world, "get", "/api/operations/")

    listed = {op["key"] for op in response.json()}
    everything = {op.key for op in all_operations()}
    expected = {OPERATOR: everything, ONE_TARGET: everything, SUPERUSER: everything, WITHOUT_OPERATION: {CONNECTOR}}
    assert listed == expected.get(actor, set())


@pytest.mark.parametrize("actor", SIGNED_IN)
def test_the_api_with_the_session_answers_like_with_a_token(client, world, actor):
    # Signed in by the world fixture; no token sent.
    detail = client.get(f"/api/requests/{world.others.pk}/")
    submit = client.post(
        API_SUBMIT, json.dumps({"target": "sandbox", "parameters": ingestion_params()}), content_type="application/json"
    )

    assert detail.status_code == (200 if actor in SEE_ALL else 404)
    assert submit.status_code == (201 if actor in (OPERATOR, SUPERUSER) else 403)


def test_a_wrong_token_is_unauthenticated(client, db):
    response = client.get("/api/requests/", headers={"Authorization": "Token not-a-key"})

    assert response.status_code == 401
    assert "Location" not in response
