"""The automation API: the forms' operations, validation, permissions and audit, as JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid

import jsonschema
import pytest
import yaml
from django.contrib.auth.models import Permission
from django.utils import timezone
from openapi_spec_validator import validate as validate_openapi

from integrations.api.tokens import create_token
from integrations.models import (
    ApprovalDecision,
    ApprovalRule,
    Attempt,
    AttemptKind,
    AttemptOutcome,
    AwsRequest,
    RequestStatus,
    ResourceStatus,
)
from integrations.permissions import APPROVERS, AUDITORS, OPERATORS
from operations import all_operations
from tests.factories import (
    default_target,
    ingestion_params,
    make_operator,
    make_request,
    make_resource,
    make_target,
    make_user,
)

INGESTION = "appfabric/CreateIngestion"
SUBMIT = f"/api/operations/{INGESTION}/requests/"
EVENT = "supplychain/SendDataIntegrationEvent"
INSTANCE = "2b2b2b2b-1111-2222-3333-444444444444"
PAYLOAD = json.dumps([{"order_id": "PO-SECRET-4711", "customer": "Ada Lovelace", "qty": 3}])
ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/def"
REDACTED = re.compile(r"^<sensitive: (\d+) characters, sha256 ([0-9a-f]+)…>$")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Users are made in every test; the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Api:
    """A client that calls the API as one user, with their token."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self.headers = {"Authorization": f"Token {create_token(user).key}"}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(path, params or {}, headers=self.headers)

    def submit(self, parameters: dict, target: str = "sandbox", key: str | None = None, operation: str = INGESTION):
        return self.post(f"/api/operations/{operation}/requests/", {"target": target, "parameters": parameters}, key)

    def post(self, path: str, body: object, key: str | None = None):
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        return self.client.post(path, json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def operator(db):
    return make_operator("operator")


@pytest.fixture
def api(client, operator) -> Api:
    return Api(client, operator)


@pytest.fixture
def auditor_api(client, db) -> Api:
    return Api(client, make_user("auditor", groups=(AUDITORS,)))


def event_params(**overrides) -> dict:
    params = {
        "instanceId": INSTANCE,
        "eventType": "scn.data.inboundorder",
        "data": PAYLOAD,
        "eventGroupId": "group-17",
        "eventTimestamp": "2026-01-31T14:30:00+00:00",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


# --- operations ----------------------------------------------------------------------------------


def test_the_operations_list_describes_every_runnable_operation(api):
    response = api.get("/api/operations/")

    assert response.status_code == 200
    described = {op["key"]: op for op in response.json()}
    assert set(described) == {op.key for op in all_operations()}
    for op in all_operations():
        entry = described[op.key]
        assert (entry["service"], entry["operation"], entry["title"]) == (op.service, op.name, op.title)
        assert entry["submit_url"] == f"http://testserver/api/operations/{op.service}/{op.name}/requests/"
        schema = entry["parameters_schema"]
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        # The client token is the portal's: never offered to callers, never required of them.
        assert op.token_member not in schema["properties"]
        assert op.token_member not in schema.get("required", [])
        assert set(schema["properties"]) == set(op.model.input_shape.members) - {op.token_member}
        assert set(schema.get("required", [])) == set(op.model.input_shape.required_members) - {op.token_member}


def test_the_parameters_schema_lists_the_required_members_and_the_constraints(api):
    [ingestion] = [op for op in api.get("/api/operations/").json() if op["key"] == INGESTION]
    schema = ingestion["parameters_schema"]

    assert set(schema["required"]) == {"app", "appBundleIdentifier", "tenantId", "ingestionType"}
    assert schema["properties"]["ingestionType"]["enum"] == ["auditLog"]
    tags = schema["properties"]["tags"]
    assert (tags["type"], tags["minItems"], tags["maxItems"]) == ("array", 0, 50)
    key = tags["items"]["properties"]["key"]
    assert (key["type"], key["minLength"], key["maxLength"]) == ("string", 1, 128)
    assert set(tags["items"]["required"]) == {"key", "value"}
    # A valid submission passes the schema; one with the client token does not.
    jsonschema.validate(ingestion_params(tags=[{"key": "team", "value": "ops"}]), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(ingestion_params(clientToken=str(uuid.uuid4())), schema)


def test_the_operations_list_holds_only_what_the_user_may_run(client, db):
    default_target()
    appflow_only = make_user("appflow-only")
    appflow_only.user_permissions.add(Permission.objects.get(codename="run_appflow/RegisterConnector"))

    assert [op["key"] for op in Api(client, appflow_only).get("/api/operations/").json()] == [
        "appflow/RegisterConnector"
    ]
    assert Api(client, make_user("auditor", groups=(AUDITORS,))).get("/api/operations/").json() == []


# --- submit --------------------------------------------------------------------------------------


def test_a_valid_submit_records_a_queued_request_and_answers_with_it(api, operator):
    params = ingestion_params(tags=[{"key": "team", "value": "ops"}])

    response = api.submit(params)

    assert response.status_code == 201
    [recorded] = AwsRequest.objects.all()
    body = response.json()
    assert body["id"] == recorded.pk
    assert body["url"] == f"http://testserver/api/requests/{recorded.pk}/"
    assert body["operation"] == INGESTION
    assert body["status"] == RequestStatus.QUEUED == recorded.status
    assert body["created_by"] == "operator"
    assert (body["target"], body["account_id"], body["region"]) == ("sandbox", "111122223333", "us-east-1")
    assert body["client_token"] == recorded.client_token == str(uuid.UUID(recorded.client_token))
    assert body["parameters"] == params == recorded.parameters
    assert body["attempts"] == []
    assert body["decision"] is None
    assert (recorded.created_by, recorded.target, recorded.idempotency_key) == (operator, default_target(), None)


def test_a_submit_that_needs_approval_waits_for_it(api):
    ApprovalRule.objects.create(operation=INGESTION)

    response = api.submit(ingestion_params())

    assert response.status_code == 201
    assert response.json()["status"] == RequestStatus.AWAITING_APPROVAL
    assert AwsRequest.objects.get().status == RequestStatus.AWAITING_APPROVAL


def test_two_submits_get_two_requests_with_different_client_tokens(api):
    first, second = api.submit(ingestion_params()), api.submit(ingestion_params())

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert first.json()["client_token"] != second.json()["client_token"]
    assert AwsRequest.objects.count() == 2


INVALID = {
    "a constraint": (ingestion_params(appBundleIdentifier="not a bundle"), "appBundleIdentifier", "pattern"),
    "a constraint in a list item": (
        ingestion_params(tags=[{"key": "team", "value": "ops"}, {"key": "", "value": "x"}]),
        "tags[1].key",
        "must have",
    ),
    "a required member": (ingestion_params(tenantId=None), "tenantId", "is required"),
    "an unknown member": (ingestion_params(colour="blue"), "colour", "is not a parameter"),
    "an unknown nested member": (
        ingestion_params(tags=[{"key": "team", "value": "ops", "colour": "blue"}]),
        "tags[0].colour",
        "is not a parameter",
    ),
    "a client token": (ingestion_params(clientToken=str(uuid.uuid4())), "clientToken", "portal"),
    "a list given as a string": (ingestion_params(tags="team=ops"), "tags", "must be a list"),
    "a number given as a string": (ingestion_params(tenantId=7), "tenantId", "must be a string"),
    "a documented value": (ingestion_params(app="NOT-AN-APP"), "app", "must be one of"),
}


@pytest.mark.parametrize(("params", "path", "words"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_submit_answers_400_with_the_errors_per_path_and_records_nothing(api, params, path, words):
    response = api.submit(params)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {path}
    assert all(isinstance(m, str) for m in errors[path])
    assert any(words in m for m in errors[path]), errors
    assert not AwsRequest.objects.exists()


def test_a_documented_rule_is_enforced_like_on_the_form(api):
    params = event_params(eventType="scn.data.dataset", data=json.dumps({"id": 1}))

    response = api.submit(params, operation=EVENT)

    assert response.status_code == 400
    assert response.json() == {"errors": {"datasetTarget": ["is required when eventType is scn.data.dataset"]}}
    assert not AwsRequest.objects.exists()


def test_every_error_is_reported_at_once(api):
    response = api.submit(ingestion_params(tenantId=None, appBundleIdentifier="x", colour="blue"))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"tenantId", "appBundleIdentifier", "colour"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "sandbox"}, "parameters"),
        ({"target": "sandbox", "parameters": ["app", "SLACK"]}, "parameters"),
        ({"parameters": ingestion_params()}, "target"),
    ],
    ids=["no parameters", "parameters not an object", "no target"],
)
def test_a_malformed_body_answers_400(api, body, field):
    response = api.post(SUBMIT, body)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}
    assert not AwsRequest.objects.exists()


def test_a_body_that_is_not_json_answers_400(api):
    response = api.client.post(SUBMIT, "{not json", content_type="application/json", headers=api.headers)

    assert response.status_code == 400
    assert not AwsRequest.objects.exists()


def raw_submit(api: Api, parameters: str, operation: str = EVENT):
    body = '{"target": "sandbox", "parameters": ' + parameters + "}"
    path = f"/api/operations/{operation}/requests/"
    return api.client.post(path, body, content_type="application/json", headers=api.headers)


def test_a_number_json_cannot_hold_is_refused_not_recorded(api):
    # 1e400 parses as infinity: no JSON (and no database) can store it.
    response = raw_submit(
        api, json.dumps(event_params(eventTimestamp=1)).replace('"eventTimestamp": 1', '"eventTimestamp": 1e400')
    )

    assert response.status_code == 400
    assert response.json() == {"errors": {"eventTimestamp": ["must be a finite number"]}}
    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_json_number_literal_is_refused(api, literal):
    response = raw_submit(api, json.dumps(event_params(eventTimestamp=1)).replace(": 1", f": {literal}"))

    assert response.status_code == 400
    assert not AwsRequest.objects.exists()


def test_a_nul_character_is_refused_like_on_the_form(api):
    response = api.submit(ingestion_params(tenantId="tenant\x00one"))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["tenantId"]
    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("depth", [900, 100_000])
def test_a_body_nested_too_deep_is_a_400(api, depth):
    response = raw_submit(api, '{"tags": ' + "[" * depth + "]" * depth + "}", operation=INGESTION)

    assert response.status_code == 400
    assert not AwsRequest.objects.exists()


def test_an_operation_the_user_may_not_run_is_forbidden_even_with_an_invalid_body(client, db):
    default_target()
    auditor = Api(client, make_user("auditor", groups=(AUDITORS,)))

    valid, invalid = auditor.submit(ingestion_params()), auditor.submit({"colour": "blue"})

    assert (valid.status_code, invalid.status_code) == (403, 403)
    assert "errors" not in invalid.json()
    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("target", ["elsewhere", "nowhere", "retired", ""])
def test_a_target_the_user_may_not_use_is_forbidden(api, target):
    make_target("elsewhere", account_id="444455556666", region="eu-west-1")
    make_target("retired", groups=(OPERATORS,), is_active=False)

    response = api.submit(ingestion_params(), target=target)

    assert response.status_code == (400 if target == "" else 403)
    assert not AwsRequest.objects.exists()


def test_an_unknown_operation_is_not_found(api):
    assert api.submit(ingestion_params(), operation="appfabric/DeleteIngestion").status_code == 404
    assert api.submit(ingestion_params(), operation="nosuchservice/CreateIngestion").status_code == 404
    assert not AwsRequest.objects.exists()


# --- idempotency ---------------------------------------------------------------------------------


def test_a_retried_post_with_the_same_key_returns_the_first_request(api):
    first = api.submit(ingestion_params(), key="order-42")
    again = api.submit(ingestion_params(), key="order-42")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["client_token"] == first.json()["client_token"]
    [recorded] = AwsRequest.objects.all()
    assert recorded.idempotency_key == "order-42"


def test_a_replay_answers_with_the_requests_current_state(api):
    first = api.submit(ingestion_params(), key="order-42").json()
    AwsRequest.objects.filter(pk=first["id"]).update(status=RequestStatus.SUCCEEDED, resource_id=ARN)

    again = api.submit(ingestion_params(), key="order-42")

    assert again.status_code == 200
    assert (again.json()["status"], again.json()["resource_id"]) == (RequestStatus.SUCCEEDED, ARN)


TAGGED = ingestion_params(tags=[{"key": "team", "value": "ops"}])
CONFLICTS = {
    # change: (the first body, the retry's submit arguments)
    "another value": (TAGGED, {"parameters": {**TAGGED, "tenantId": "tenant-2"}}),
    "a member left out": (TAGGED, {"parameters": ingestion_params()}),
    "a member added": (ingestion_params(), {"parameters": TAGGED}),
    "another target": (TAGGED, {"parameters": TAGGED, "target": "second"}),
    "another operation": (TAGGED, {"parameters": {"connectorLabel": "erp"}, "operation": "appflow/RegisterConnector"}),
}


@pytest.mark.parametrize(("first", "retry"), CONFLICTS.values(), ids=CONFLICTS.keys())
def test_the_same_key_with_a_different_request_is_a_conflict(api, operator, first, retry):
    make_target("second", users=(operator,), account_id="444455556666", region="eu-west-1")
    assert api.submit(first, key="order-42").status_code == 201

    response = api.submit(**retry, key="order-42")

    assert response.status_code == 409
    assert set(response.json()["errors"]) == {"Idempotency-Key"}
    assert AwsRequest.objects.count() == 1


def test_a_key_is_one_users_own(client, operator, api):
    other = Api(client, make_operator("other"))

    mine, theirs = api.submit(ingestion_params(), key="order-42"), other.submit(ingestion_params(), key="order-42")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_refused_post_does_not_use_up_its_key(api):
    assert api.submit(ingestion_params(tenantId=None), key="order-42").status_code == 400

    response = api.submit(ingestion_params(), key="order-42")

    assert response.status_code == 201
    assert AwsRequest.objects.get().idempotency_key == "order-42"


def test_without_a_key_every_post_is_a_new_request(api):
    api.submit(ingestion_params())
    api.submit(ingestion_params())

    assert AwsRequest.objects.count() == 2
    assert not AwsRequest.objects.exclude(idempotency_key=None).exists()


# --- one request ---------------------------------------------------------------------------------


def test_a_request_is_read_with_its_attempts(api, operator):
    recorded = make_request(user=operator, status=RequestStatus.RETRYING)
    started = timezone.now()
    Attempt.objects.create(
        request=recorded, number=1, started_at=started, finished_at=started, outcome=AttemptOutcome.RETRYABLE_ERROR,
        http_status=429, error_code="ThrottlingException", error_message="Rate exceeded",
        aws_request_id="aws-req-first", client_token=recorded.client_token,
    )  # fmt: skip
    Attempt.objects.create(
        request=recorded, number=2, started_at=started, client_token=recorded.client_token,
        aws_request_id="aws-req-second",
    )  # fmt: skip

    response = api.get(f"/api/requests/{recorded.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["client_token"]) == (recorded.pk, "retrying", recorded.client_token)
    first, second = body["attempts"]
    assert first["number"] == 1
    assert first["outcome"] == AttemptOutcome.RETRYABLE_ERROR
    assert (first["http_status"], first["error_code"], first["error_message"]) == (
        429,
        "ThrottlingException",
        "Rate exceeded",
    )
    assert first["aws_request_id"] == "aws-req-first"
    assert first["client_token"] == second["client_token"] == recorded.client_token
    assert (second["number"], second["outcome"], second["finished_at"]) == (2, AttemptOutcome.IN_PROGRESS, None)


def test_a_succeeded_request_is_read_with_its_read_back_and_what_aws_says_of_its_resource(api, operator):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id="arn:aws:appfabric:x")
    started = timezone.now()
    Attempt.objects.create(
        request=recorded, number=1, started_at=started, outcome=AttemptOutcome.SUCCEEDED,
        client_token=recorded.client_token,
    )  # fmt: skip
    Attempt.objects.create(
        request=recorded, number=2, started_at=started, outcome=AttemptOutcome.SUCCEEDED,
        kind=AttemptKind.READ_BACK, read_call="appfabric/GetIngestion",
    )  # fmt: skip
    make_resource(user=operator, request=recorded, state="enabled")

    body = api.get(f"/api/requests/{recorded.pk}/").json()

    create, read_back = body["attempts"]
    assert (create["kind"], create["read_call"], create["client_token"]) == ("create", "", recorded.client_token)
    assert (read_back["kind"], read_back["read_call"], read_back["client_token"]) == (
        "read_back",
        "appfabric/GetIngestion",
        "",
    )
    assert body["resource"]["status"] == ResourceStatus.CONFIRMED
    assert body["resource"]["status_label"] == "Confirmed in AWS"
    assert body["resource"]["state"] == "enabled"


def test_a_request_that_created_nothing_has_no_resource(api, operator):
    recorded = make_request(user=operator, status=RequestStatus.FAILED)

    assert api.get(f"/api/requests/{recorded.pk}/").json()["resource"] is None


def test_a_decided_request_is_read_with_its_decision(api, operator):
    recorded = make_request(user=operator, status=RequestStatus.REJECTED)
    approver = make_user("approver", groups=(APPROVERS,))
    ApprovalDecision.objects.create(request=recorded, decided_by=approver, approved=False, reason="not today")

    decision = api.get(f"/api/requests/{recorded.pk}/").json()["decision"]

    assert (decision["approved"], decision["decided_by"], decision["reason"]) == (False, "approver", "not today")


def test_someone_elses_request_is_not_found_unless_one_may_see_all(api, auditor_api):
    theirs = make_request(user=make_operator("someone-else"))

    assert api.get(f"/api/requests/{theirs.pk}/").status_code == 404
    assert api.get("/api/requests/999999/").status_code == 404
    assert auditor_api.get(f"/api/requests/{theirs.pk}/").status_code == 200


# --- history -------------------------------------------------------------------------------------


def ids(response) -> list[int]:
    assert response.status_code == 200
    return [r["id"] for r in response.json()["results"]]


def test_the_history_lists_newest_first(api, operator):
    made = [make_request(user=operator) for _ in range(3)]
    now = timezone.now()
    for age, r in zip((3, 2, 1), made, strict=True):
        AwsRequest.objects.filter(pk=r.pk).update(created_at=now - dt.timedelta(minutes=age))

    response = api.get("/api/requests/")

    assert ids(response) == [r.pk for r in reversed(made)]
    # No total: counting a million requests costs more than the page (cursor pagination).
    assert response.json().keys() == {"next", "previous", "results"}


def test_the_history_is_paginated_by_cursor(api, operator):
    made = [make_request(user=operator) for _ in range(51)]
    newest_first = sorted((r.pk for r in made), reverse=True)

    first = api.get("/api/requests/", {"status": "queued"})
    second = api.get(first.json()["next"])

    assert (ids(first), ids(second)) == (newest_first[:50], newest_first[50:])
    assert first.json()["previous"] is None
    assert "status=queued" in first.json()["next"]
    assert second.json()["next"] is None
    assert ids(api.get(second.json()["previous"])) == newest_first[:50]


def test_a_cursor_the_api_did_not_make_is_refused_with_a_reason(api, operator):
    make_request(user=operator)

    response = api.get("/api/requests/", {"cursor": "page-2"})

    assert response.status_code == 400
    assert "cursor" in response.json()


def test_a_page_number_is_refused_rather_than_answered_with_the_first_page(api, operator):
    make_request(user=operator)

    response = api.get("/api/requests/", {"page": 2})

    assert response.status_code == 400
    assert "next and previous links" in response.json()["page"][0]


def test_the_history_filters_by_operation_and_status(api, operator):
    ingestion = make_request(user=operator)
    failed = make_request(user=operator, status=RequestStatus.FAILED)
    event = make_request("supplychain/SendDataIntegrationEvent", user=operator, parameters=event_params())

    assert ids(api.get("/api/requests/", {"operation": EVENT})) == [event.pk]
    assert set(ids(api.get("/api/requests/", {"operation": INGESTION}))) == {ingestion.pk, failed.pk}
    assert ids(api.get("/api/requests/", {"status": "failed"})) == [failed.pk]
    assert ids(api.get("/api/requests/", {"status": "failed", "operation": EVENT})) == []


def test_the_history_filters_by_user(auditor_api):
    alices = make_request(user=make_operator("alice"))
    make_request(user=make_operator("bob"))

    assert ids(auditor_api.get("/api/requests/", {"user": "alice"})) == [alices.pk]


def test_the_history_filters_by_target(api, operator):
    elsewhere = make_target("elsewhere", users=(operator,), account_id="444455556666", region="eu-west-1")
    in_sandbox = make_request(user=operator)
    in_elsewhere = make_request(user=operator, target=elsewhere)

    assert ids(api.get("/api/requests/", {"target": "sandbox"})) == [in_sandbox.pk]
    assert ids(api.get("/api/requests/", {"target": "elsewhere"})) == [in_elsewhere.pk]


def test_the_history_filters_by_date(api, operator):
    old, new = make_request(user=operator), make_request(user=operator)
    AwsRequest.objects.filter(pk=old.pk).update(created_at=dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC))
    AwsRequest.objects.filter(pk=new.pk).update(created_at=dt.datetime(2025, 3, 5, 12, tzinfo=dt.UTC))

    assert ids(api.get("/api/requests/", {"created_from": "2025-03-02"})) == [new.pk]
    assert ids(api.get("/api/requests/", {"created_to": "2025-03-02"})) == [old.pk]
    assert ids(api.get("/api/requests/", {"created_from": "2025-03-01", "created_to": "2025-03-01"})) == [old.pk]


def test_the_history_finds_a_request_by_arn_client_token_or_aws_request_id(api, operator):
    found = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN)
    Attempt.objects.create(
        request=found, number=1, started_at=timezone.now(), client_token=found.client_token,
        aws_request_id="aws-req-77",
    )  # fmt: skip
    make_request(user=operator)

    for q in (ARN, found.client_token, "aws-req-77"):
        assert ids(api.get("/api/requests/", {"q": q})) == [found.pk], q


def test_an_invalid_filter_is_ignored_not_fatal(api, operator):
    made = make_request(user=operator)

    for query in ({"status": "nonsense"}, {"created_from": "yesterday"}, {"operation": "no/Such"}):
        assert ids(api.get("/api/requests/", query)) == [made.pk], query


# --- sensitive data ------------------------------------------------------------------------------


def assert_redacted(value: str) -> None:
    [(size, digest)] = [REDACTED.match(value).groups()]
    assert int(size) == len(PAYLOAD)
    assert hashlib.sha256(PAYLOAD.encode()).hexdigest().startswith(digest)


def test_an_operator_reads_sensitive_data_only_as_its_size_and_digest(api, operator):
    recorded = make_request("supplychain/SendDataIntegrationEvent", user=operator, parameters=event_params())

    detail = api.get(f"/api/requests/{recorded.pk}/")
    listed = api.get("/api/requests/")

    for response in (detail, listed):
        assert "PO-SECRET-4711" not in response.content.decode()
    assert_redacted(detail.json()["parameters"]["data"])
    assert_redacted(listed.json()["results"][0]["parameters"]["data"])
    assert detail.json()["parameters"]["eventGroupId"] == "group-17"


def test_a_submit_answers_with_the_data_redacted_but_records_it_whole(api):
    response = api.submit(event_params(), operation=EVENT)

    assert response.status_code == 201
    assert "PO-SECRET-4711" not in response.content.decode()
    assert_redacted(response.json()["parameters"]["data"])
    assert AwsRequest.objects.get().parameters["data"] == PAYLOAD


def test_an_auditor_reads_sensitive_data_whole(auditor_api):
    recorded = make_request("supplychain/SendDataIntegrationEvent", parameters=event_params())

    assert auditor_api.get(f"/api/requests/{recorded.pk}/").json()["parameters"]["data"] == PAYLOAD
    assert auditor_api.get("/api/requests/").json()["results"][0]["parameters"]["data"] == PAYLOAD


# --- the OpenAPI document ------------------------------------------------------------------------


def api_paths() -> set[str]:
    """Every route of the API (but the document itself), as OpenAPI writes paths."""
    from integrations.api.urls import urlpatterns

    routes = {"/api/" + p.pattern._route for p in urlpatterns if p.name != "api-schema"}
    return {
        re.sub(r"<(?:\w+:)?pk>", "{id}", re.sub(r"<\w+:(\w+)>", r"{\1}", r)).replace("{pk}", "{id}") for r in routes
    }


def test_the_served_schema_is_valid_openapi_and_names_every_endpoint(api):
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    spec = response.json()
    validate_openapi(spec)
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == api_paths()
    assert set(spec["paths"]["/api/operations/{service}/{name}/requests/"]) == {"post"}
    assert {"get"} == set(spec["paths"]["/api/requests/"]) == set(spec["paths"]["/api/requests/{id}/"])
    submit = spec["paths"]["/api/operations/{service}/{name}/requests/"]["post"]
    assert {p["name"] for p in submit["parameters"]} >= {"Idempotency-Key", "service", "name"}
    listing = spec["paths"]["/api/requests/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "operation", "status", "user", "target", "created_from", "created_to", "q",
    }  # fmt: skip
    assert "tokenAuth" in spec["components"]["securitySchemes"]


def test_the_schema_is_served_as_yaml_by_default(api):
    response = api.get("/api/schema/")

    assert response.status_code == 200
    validate_openapi(yaml.safe_load(response.content))


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/operations/"),
        ("post", SUBMIT),
        ("get", "/api/requests/"),
        ("get", "/api/requests/1/"),
        ("get", "/api/schema/"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Token not-a-key", "Bearer abc"])
def test_an_unauthenticated_call_answers_401_not_a_sign_in_page(client, db, method, path, authorization):
    default_target()
    headers = {"Authorization": authorization} if authorization else {}

    if method == "get":
        response = client.get(path, headers=headers)
    else:
        body = json.dumps({"target": "sandbox", "parameters": ingestion_params()})
        response = client.post(path, body, content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert "Location" not in response
    assert response["WWW-Authenticate"] == "Token"
    # The document's own renderer (YAML) answers for /api/schema/; JSON everywhere else.
    if path != "/api/schema/":
        assert response["Content-Type"].startswith("application/json")
    assert b"detail" in response.content
    assert not AwsRequest.objects.exists()


def test_a_token_of_a_deactivated_user_is_refused(client, operator):
    api = Api(client, operator)
    operator.is_active = False
    operator.save()

    assert api.get("/api/requests/").status_code == 401


# --- cancelling ----------------------------------------------------------------------------------


def cancel_url(aws_request: AwsRequest) -> str:
    return f"/api/requests/{aws_request.pk}/cancel/"


@pytest.mark.parametrize("status", [RequestStatus.AWAITING_APPROVAL, RequestStatus.QUEUED, RequestStatus.RETRYING])
def test_the_requester_cancels_a_waiting_request_with_a_reason_and_reads_who_and_why(api, operator, status):
    waiting = make_request(user=operator, status=status)

    response = api.post(cancel_url(waiting), {"reason": "Wrong tenant."})

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["cancelled_by"], body["cancel_reason"]) == (
        waiting.pk, "cancelled", "operator", "Wrong tenant."
    )  # fmt: skip
    cancelled = AwsRequest.objects.get(pk=waiting.pk)
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancel_reason) == (
        RequestStatus.CANCELLED, operator, "Wrong tenant."
    )  # fmt: skip


def test_a_cancel_without_a_body_needs_no_reason(api, operator):
    queued = make_request(user=operator)

    response = api.client.post(cancel_url(queued), headers=api.headers)

    assert response.status_code == 200
    assert response.json()["cancel_reason"] == ""


@pytest.mark.parametrize("status", [RequestStatus.RUNNING, RequestStatus.SUCCEEDED, RequestStatus.CANCELLED])
def test_a_request_that_can_no_longer_be_cancelled_is_a_conflict_with_its_status(api, operator, status):
    aws_request = make_request(user=operator, status=status)
    before = AwsRequest.objects.values().get(pk=aws_request.pk)

    response = api.post(cancel_url(aws_request), {"reason": "too late"})

    assert response.status_code == 409
    assert response.json()["status"] == status
    assert "can no longer be cancelled" in response.json()["detail"]
    assert AwsRequest.objects.values().get(pk=aws_request.pk) == before


def test_a_running_request_is_refused_in_the_words_of_the_race(api, operator):
    running = make_request(user=operator, status=RequestStatus.RUNNING)

    detail = api.post(cancel_url(running), {}).json()["detail"]

    assert detail.startswith("It started running; it can no longer be cancelled")


def test_someone_elses_request_one_may_not_see_is_not_found(api):
    theirs = make_request(user=make_operator("someone-else"))

    assert api.post(cancel_url(theirs), {}).status_code == 404
    assert api.post("/api/requests/999999/cancel/", {}).status_code == 404
    assert AwsRequest.objects.get(pk=theirs.pk).status == RequestStatus.QUEUED


def test_one_who_may_see_a_request_but_not_cancel_it_is_forbidden(auditor_api):
    theirs = make_request(user=make_operator("someone-else"))

    response = auditor_api.post(cancel_url(theirs), {"reason": "no"})

    assert response.status_code == 403
    assert "only its author or an approver" in response.json()["detail"]
    assert AwsRequest.objects.get(pk=theirs.pk).status == RequestStatus.QUEUED


def test_an_approver_cancels_someone_elses_request(client, db):
    theirs = make_request(user=make_operator("someone-else"), status=RequestStatus.AWAITING_APPROVAL)
    approver_api = Api(client, make_user("alex", groups=(APPROVERS,)))

    assert approver_api.post(cancel_url(theirs), {}).json()["cancelled_by"] == "alex"


@pytest.mark.parametrize(
    "body",
    [{"reason": "x" * 1001}, {"reason": "a\x00b"}, {"reason": "a\ud800b"}, {"reason": None}, {"reason": ["a"]}, []],
    ids=["too-long", "nul", "surrogate", "null", "a-list", "not-an-object"],
)
def test_a_reason_that_cannot_be_kept_is_a_400_and_cancels_nothing(api, operator, body):
    queued = make_request(user=operator)

    response = api.post(cancel_url(queued), body)

    assert response.status_code == 400
    assert AwsRequest.objects.get(pk=queued.pk).status == RequestStatus.QUEUED


def test_the_cancel_endpoint_is_documented_with_its_refusals(api):
    spec = api.get("/api/schema/", {"format": "json"}).json()

    cancel = spec["paths"]["/api/requests/{id}/cancel/"]["post"]
    assert set(cancel["responses"]) >= {"200", "400", "403", "404", "409"}
    assert "reason" in json.dumps(cancel["requestBody"])


def test_a_search_too_short_for_the_index_is_refused_with_the_reason(api, operator):
    make_request(user=operator)

    response = api.get("/api/requests/", {"q": "arn:aws"})

    assert response.status_code == 400
    assert "at least 8 characters" in response.json()["q"][0]
