"""The pipeline's round trips: few statements per request, and none that repeat work.

The worker claims with one ``UPDATE … RETURNING`` and records the attempt in the same transaction;
a submit answers without reading back the row it wrote; workers keep their database connection
from task to task and replace one the server dropped; the request page's one-second poll neither
loads nor redacts the parameters it does not show. The guarantees themselves (claims, leases,
committed attempts) are tested in test_pipeline.py and test_lifecycle.py.
"""

from __future__ import annotations

import datetime as dt
import re

import psycopg
import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations import lifecycle, permissions, pipeline, resources
from integrations.api.tokens import create_token
from integrations.models import Attempt, AwsRequest, RateBucket, RequestStatus, Resource
from integrations.tasks import _check_database_connections, execute_request
from portal.celery import app as celery_app
from tests.factories import (
    default_target,
    form_post,
    ingestion_form_data,
    ingestion_params,
    make_operator,
    make_request,
)
from tests.integrations.test_sensitive_data import SUPPLY_CHAIN, event_params

# Transactional: a submit's or a claim's transaction is then the real, outermost one, so a savepoint
# in the captured statements would be one the code made, not the test's wrapping.
pytestmark = pytest.mark.django_db(transaction=True)

API_URL = reverse("api-submit", args=["appfabric", "CreateIngestion"])
FORM_URL = reverse("operation_form", args=["appfabric", "CreateIngestion"])
TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)", re.IGNORECASE)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def transactions(captured: CaptureQueriesContext) -> list[list[str]]:
    """The statements between each BEGIN and its COMMIT (Django logs both on every backend)."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for sql in statements(captured):
        if sql.upper().startswith("BEGIN"):
            current = []
        elif sql.upper().startswith("COMMIT"):
            assert current is not None, "a COMMIT without a BEGIN"
            groups.append(current)
            current = None
        elif current is not None:
            current.append(sql)
    return groups


def touches(sql: str, verb: str, model) -> bool:
    """Whether ``sql`` is a SELECT from, an UPDATE of or an INSERT into ``model``'s table."""
    table = f'"{model._meta.db_table}"'
    where = {"SELECT": f"FROM {table}", "UPDATE": f"UPDATE {table}", "INSERT": f"INTO {table}"}[verb]
    return sql.startswith(verb) and where in sql


# --- the worker ----------------------------------------------------------------------------------------


def test_a_worker_claims_records_its_attempt_and_finishes_in_two_transactions_without_a_select_of_the_row(
    settings, sandbox
):
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.PORTAL_RATE_LIMIT_DEFAULT = (100.0, 100.0)
    # The target's rate-limit bucket exists after its first call: measured on the next one.
    assert pipeline.execute(make_request().pk) == "succeeded"
    aws_request = make_request()

    with CaptureQueriesContext(connection) as captured:
        assert pipeline.execute(aws_request.pk) == "succeeded"

    claim, finish = transactions(captured)
    assert touches(claim[0], "UPDATE", AwsRequest)
    assert "RETURNING" in claim[0]
    assert touches(claim[1], "UPDATE", RateBucket), "a token is taken in the claim's transaction"
    assert [sql for sql in claim if touches(sql, "INSERT", Attempt)], "the attempt row is in the claim's commit"
    assert len(claim) == 4  # the claim, the token, the attempt row, the target the call goes to
    # The attempt closed, the request succeeded and the resource it created recorded, in one commit.
    assert touches(finish[0], "UPDATE", Attempt)
    assert touches(finish[1], "UPDATE", AwsRequest)
    assert touches(finish[2], "INSERT", Resource)
    assert len(finish) == 3
    assert not [sql for sql in statements(captured) if touches(sql, "SELECT", AwsRequest)]
    assert not [sql for sql in statements(captured) if "SAVEPOINT" in sql.upper()]
    assert len([sql for sql in statements(captured) if not TRANSACTION_CONTROL.match(sql)]) == 7


def test_a_claim_whose_attempt_row_cannot_be_written_is_not_kept(settings, sandbox, monkeypatch):
    settings.AWS_ENDPOINT_URL = sandbox.url
    aws_request = make_request()

    def refused(**kwargs):
        raise RuntimeError("the attempt row could not be written")

    monkeypatch.setattr(Attempt.objects, "create", refused)
    with pytest.raises(RuntimeError):
        pipeline.execute(aws_request.pk)

    aws_request.refresh_from_db()
    assert (aws_request.status, aws_request.claim_id, aws_request.lease_expires_at) == (
        RequestStatus.QUEUED,
        None,
        None,
    )
    assert list(sandbox.state.calls) == []


def test_the_claim_brings_back_the_row_as_stored_and_counts_a_dead_workers_open_attempt():
    now = timezone.now()
    aws_request = make_request(
        status=RequestStatus.RUNNING, lease_expires_at=now - dt.timedelta(seconds=1), parameters={"tenantId": "é ✓"}
    )
    aws_request.attempts.create(number=1, started_at=now, client_token=aws_request.client_token)

    claimed = lifecycle.claim_attempt(aws_request.pk, now, worker="w pid 1")

    assert claimed is not None
    assert claimed.attempt is not None
    stored = AwsRequest.objects.get(pk=aws_request.pk)
    assert (claimed.aws_request.parameters, claimed.aws_request.claim_id) == (stored.parameters, stored.claim_id)
    assert claimed.claim_id == stored.claim_id
    assert (claimed.aws_request.created_at, claimed.aws_request.status) == (stored.created_at, RequestStatus.RUNNING)
    assert claimed.attempt.number == 2
    assert list(stored.attempts.values_list("number", "outcome")) == [(1, "interrupted"), (2, "in_progress")]


# --- submitting ------------------------------------------------------------------------------------------


def test_the_api_answers_a_submit_without_reading_back_what_it_wrote_in_one_transaction(client, published):
    operator = make_operator()
    default_target().users.add(operator)
    headers = {"HTTP_AUTHORIZATION": f"Token {create_token(operator).key}"}

    with CaptureQueriesContext(connection) as captured:
        answer = client.post(
            API_URL, {"target": "sandbox", "parameters": ingestion_params()}, content_type="application/json", **headers
        )

    assert answer.status_code == 201, answer.content[:2000]
    body = answer.json()
    assert (body["status"], body["attempts"], body["decision"]) == (RequestStatus.QUEUED, [], None)
    assert body["client_token"] == AwsRequest.objects.get(pk=body["id"]).client_token
    sql = statements(captured)
    inserted = next(i for i, s in enumerate(sql) if touches(s, "INSERT", AwsRequest))
    assert not [s for s in sql[inserted:] if s.upper().startswith("SELECT")]
    assert not [s for s in sql if "SAVEPOINT" in s.upper()]
    [submit] = transactions(captured)  # the checks that read the database, and the row, committed once
    assert [touches(s, "INSERT", AwsRequest) for s in submit] == [False, False, True]
    assert published == [body["id"]]


def test_the_form_redirects_to_the_new_request_without_reading_it_back(client, published):
    operator = make_operator()
    client.force_login(operator)

    with CaptureQueriesContext(connection) as captured:
        answer = client.post(FORM_URL, form_post(ingestion_form_data()))

    [recorded] = AwsRequest.objects.all()
    assert answer.status_code == 302
    assert answer["Location"] == recorded.get_absolute_url()
    sql = statements(captured)
    inserted = next(i for i, s in enumerate(sql) if touches(s, "INSERT", AwsRequest))
    assert not [s for s in sql[inserted:] if touches(s, "SELECT", AwsRequest)]
    assert not [s for s in sql if "SAVEPOINT" in s.upper()]


# --- the request page's poll -----------------------------------------------------------------------------


@pytest.fixture
def redactions(monkeypatch):
    """How many times a request's parameters are redacted (each a digest of every sensitive value)."""
    calls: list[str] = []
    real = permissions.redact_sensitive

    def counted(shape, value):
        calls.append(shape.name)
        return real(shape, value)

    monkeypatch.setattr(permissions, "redact_sensitive", counted)
    return calls


def test_the_request_pages_poll_neither_loads_nor_redacts_the_parameters(client, redactions):
    author = make_operator()
    running = make_request(SUPPLY_CHAIN, user=author, parameters=event_params(), status=RequestStatus.RUNNING)
    client.force_login(author)

    page = client.get(running.get_absolute_url())
    assert page.status_code == 200
    assert len(redactions) == 1  # the whole page shows them, redacted
    with CaptureQueriesContext(connection) as captured:
        poll = client.get(running.get_absolute_url(), headers={"HX-Request": "true"})

    assert poll.status_code == 200
    assert 'id="request-status"' in poll.content.decode()
    assert len(redactions) == 1
    [read] = [s for s in statements(captured) if touches(s, "SELECT", AwsRequest)]
    assert '"parameters"' not in read


def test_the_poll_still_shows_the_status_result_and_attempts(client, settings, sandbox):
    settings.AWS_ENDPOINT_URL = sandbox.url
    author = make_operator()
    aws_request = make_request(user=author)
    pipeline.execute(aws_request.pk)
    aws_request.refresh_from_db()
    client.force_login(author)

    poll = client.get(aws_request.get_absolute_url(), headers={"HX-Request": "true"})
    assert poll.status_code == 200  # finished, but not confirmed in AWS yet: polling goes on
    resources.check(aws_request.resource.pk)
    poll = client.get(aws_request.get_absolute_url(), headers={"HX-Request": "true"})

    html = poll.content.decode()
    assert poll.status_code == 286  # finished and confirmed: polling stops
    assert "Confirmed in AWS" in html
    assert aws_request.resource_id in html
    assert "Succeeded" in html
    assert "<td>1</td>" in html


# --- connections kept by workers -------------------------------------------------------------------------


def a_task(fixup: DjangoWorkerFixup):
    """What a pool process does around each task: Celery's Django fix-up, then ours; the raw
    connection the task's query ran on."""
    fixup.on_task_prerun(sender=execute_request)
    _check_database_connections(sender=execute_request)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
    used = connection.connection
    fixup.on_task_postrun(sender=execute_request)
    _check_database_connections(sender=execute_request)
    return used


def test_a_worker_keeps_its_database_connection_from_task_to_task():
    fixup = DjangoWorkerFixup(celery_app)

    first = a_task(fixup)

    assert a_task(fixup) is first
    assert a_task(fixup) is first


def test_a_connection_the_database_dropped_is_replaced_before_the_next_task(monkeypatch):
    fixup = DjangoWorkerFixup(celery_app)
    first = a_task(fixup)
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        with psycopg.connect(
            host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"], autocommit=True
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [first.info.backend_pid])
    else:
        # SQLite has no server to drop the file: the health check says what a dead server would.
        monkeypatch.setattr(connection, "is_usable", lambda: False)

    second = a_task(fixup)

    assert second is not first
