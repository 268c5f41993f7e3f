"""Once a request is recorded, the submit answers with it, even if the database goes away right after.

The database connection is severed at the worst moment: just after the request's commit, when
the on-commit hand-off to the broker runs. The response's own queries and the session's save then
fail; the answer must still name the recorded request, never a 500 that a client would retry.
"""

from __future__ import annotations

import psycopg
import pytest
from django.core.signals import request_finished
from django.db import OperationalError, connection
from django.urls import reverse

from integrations import pipeline
from integrations.api.tokens import create_token
from integrations.models import AwsRequest, RequestStatus
from tests.factories import default_target, form_post, ingestion_form_data, ingestion_params

pytestmark = pytest.mark.django_db(transaction=True)

FORM_URL = reverse("operation_form", args=["appfabric", "CreateIngestion"])
API_URL = reverse("api-submit", args=["appfabric", "CreateIngestion"])


def sever_the_database_connection(monkeypatch) -> None:
    """Cut this process's database connection as a failover or a network drop would, until the
    request has been answered; then reconnect, as a server does for its next request (the test
    client leaves that to the test)."""
    if connection.vendor == "postgresql":
        pid = connection.connection.info.backend_pid
        s = connection.settings_dict
        with psycopg.connect(
            host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"], autocommit=True
        ) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
    else:
        # SQLite has no server to lose: close the file and refuse to open it again this request.
        connection.close()

        def unreachable(*args, **kwargs):
            raise OperationalError("the database connection was lost")

        monkeypatch.setattr(connection, "get_new_connection", unreachable)

    def reconnect_for_the_next_request(**kwargs) -> None:
        monkeypatch.undo()
        connection.close()
        request_finished.disconnect(reconnect_for_the_next_request)

    request_finished.connect(reconnect_for_the_next_request, weak=False)


@pytest.fixture
def severed_after_commit(monkeypatch):
    """The hand-off after the commit cuts the connection first, then hands over as usual."""
    handed_over: list[int] = []
    real_dispatch = pipeline.dispatch
    severing = pytest.MonkeyPatch()

    def dispatch_after_the_connection_dropped(request_id: int) -> bool:
        sever_the_database_connection(severing)
        handed_over.append(request_id)
        return real_dispatch(request_id)

    monkeypatch.setattr(pipeline, "dispatch", dispatch_after_the_connection_dropped)
    yield handed_over
    severing.undo()


def test_the_api_answers_201_with_the_recorded_request_when_the_database_drops_after_the_commit(
    client, operator, severed_after_commit
):
    default_target().users.add(operator)
    token = create_token(operator).key
    client.raise_request_exception = False  # as a real server: what the client sees is the answer

    answer = client.post(
        API_URL,
        {"target": "sandbox", "parameters": ingestion_params(tenantId="after-the-commit")},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )

    assert answer.status_code == 201, answer.content[:2000]
    body = answer.json()
    [recorded] = AwsRequest.objects.all()  # a new connection: the row was committed
    assert body["id"] == recorded.pk == severed_after_commit[0]
    assert body["status"] == RequestStatus.QUEUED
    assert body["client_token"] == recorded.client_token
    assert answer["Location"].endswith(f"/api/requests/{recorded.pk}/")
    assert recorded.parameters["tenantId"] == "after-the-commit"


def test_the_form_redirects_to_the_recorded_request_when_the_database_drops_after_the_commit(
    signed_in, severed_after_commit
):
    signed_in.raise_request_exception = False

    answer = signed_in.post(FORM_URL, form_post(ingestion_form_data(tenantId="form-after-the-commit")))

    [recorded] = AwsRequest.objects.all()
    assert answer.status_code == 302, answer.content[:2000]
    assert answer["Location"] == recorded.get_absolute_url()
    assert recorded.parameters["tenantId"] == "form-after-the-commit"


def test_a_failure_before_anything_is_recorded_is_still_an_error(client, operator, monkeypatch):
    # The committed answer is only for recorded requests: a database gone before the commit is a 500.
    default_target().users.add(operator)
    token = create_token(operator).key

    def no_database(*args, **kwargs):
        raise OperationalError("the database connection was lost")

    monkeypatch.setattr("integrations.lifecycle.record", no_database)
    client.raise_request_exception = False

    answer = client.post(
        API_URL,
        {"target": "sandbox", "parameters": ingestion_params()},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )

    assert answer.status_code == 500
    assert not AwsRequest.objects.exists()
