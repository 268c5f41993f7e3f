"""/healthz says the process answers; /readyz says whether the database, the broker, a worker and
beat are there, 503 naming what is not, without revealing anything about the infrastructure."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import ProcessHeartbeat
from portal.celery import app as celery_app

ALL_OK = {name: {"status": "ok"} for name in ("database", "broker", "worker", "beat")}


@contextlib.contextmanager
def unreachable_database() -> Iterator[None]:
    """The default connection pointed where no database answers, for real driver errors.

    Needs a transactional test: the open connection is closed first.
    """
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-folder/portal.sqlite3"
    else:
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


@contextlib.contextmanager
def listening_but_silent() -> Iterator[int]:
    """A port that accepts TCP connections and never says anything: a hung broker."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def heartbeat(kind: str, seconds_ago: float, name: str | None = None) -> ProcessHeartbeat:
    seen = timezone.now() - dt.timedelta(seconds=seconds_ago)
    return ProcessHeartbeat.objects.create(name=name or f"{kind}@host", kind=kind, seen_at=seen, started_at=seen)


@pytest.fixture
def alive(db):
    heartbeat("worker", 1)
    heartbeat("beat", 1)


def checks(response) -> dict:
    return json.loads(response.content)["checks"]


# --- /healthz ----------------------------------------------------------------------------------------


def test_healthz_answers_ok_to_anyone(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_healthz_sets_no_cookie_and_is_not_cached(client):
    response = client.get("/healthz")
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]


def test_healthz_answers_even_when_the_database_is_down(client, transactional_db):
    with unreachable_database():
        assert client.get("/healthz").status_code == 200


def test_healthz_refuses_anything_but_get_and_head(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


# --- /readyz -----------------------------------------------------------------------------------------


def test_readyz_is_ready_with_the_database_the_broker_a_worker_and_beat(client, alive):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ready", "checks": ALL_OK}


def test_readyz_answers_without_a_session_and_sets_no_cookie(client, alive):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert not response.cookies


def test_readyz_is_not_ready_when_the_last_worker_was_seen_too_long_ago(client, db, settings):
    settings.PORTAL_READY_HEARTBEAT_AGE_SECONDS = 30
    heartbeat("worker", 31)
    heartbeat("beat", 1)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content)["status"] == "not ready"
    assert checks(response)["worker"] == {"status": "failed", "reason": "no worker seen in the last 30 s"}
    assert checks(response)["beat"] == {"status": "ok"}


def test_one_fresh_worker_among_dead_ones_is_enough(client, db):
    heartbeat("worker", 3600, name="old@host")
    heartbeat("worker", 1, name="new@host")
    heartbeat("beat", 1)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_not_ready_when_beat_has_never_been_seen(client, db):
    heartbeat("worker", 1)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["beat"] == {"status": "failed", "reason": "no beat has ever been seen"}


def test_readyz_says_database_unavailable_with_503_not_500(client, transactional_db):
    with unreachable_database():
        response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["database"] == {"status": "failed", "reason": "unavailable"}
    assert checks(response)["worker"] == {"status": "failed", "reason": "unknown: the database is unavailable"}
    assert checks(response)["broker"] == {"status": "ok"}


def test_readyz_reveals_nothing_about_the_database_it_could_not_reach(client, transactional_db):
    with unreachable_database():
        secrets = {str(v) for k, v in connection.settings_dict.items() if k in ("NAME", "HOST", "PORT", "USER") and v}
        body = client.get("/readyz").content.decode()
    assert secrets
    assert not [secret for secret in secrets if secret in body]
    assert "Error" not in body


@pytest.fixture
def broker_at(monkeypatch):
    """Point the portal's Celery app's publishing connection at another broker URL for the test."""

    def point(url: str) -> None:
        # The raw key, not the attribute: the attribute is computed from broker_url when unset.
        monkeypatch.setitem(celery_app.conf, "broker_write_url", url)

    return point


def test_readyz_says_broker_unavailable_when_it_refuses_connections(client, alive, broker_at):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    broker_at(f"amqp://portal-user:broker-password@127.0.0.1:{port}//")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["broker"] == {"status": "failed", "reason": "unavailable"}
    body = response.content.decode()
    for secret in ("portal-user", "broker-password", "127.0.0.1", str(port), "amqp"):
        assert secret not in body


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_readyz_gives_up_on_a_broker_that_never_answers(client, alive, broker_at, scheme):
    with listening_but_silent() as port:
        broker_at(f"{scheme}://127.0.0.1:{port}/0" if scheme == "redis" else f"amqp://127.0.0.1:{port}//")
        response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["broker"] == {"status": "failed", "reason": "unavailable"}


def test_readyz_logs_what_failed_in_one_line_without_a_traceback(client, transactional_db, caplog):
    with unreachable_database(), caplog.at_level("WARNING", logger="portal.health"):
        client.get("/readyz")
    lines = [r for r in caplog.records if r.name == "portal.health"]
    assert [r.getMessage() for r in lines] == ["Readiness: the database is unavailable (OperationalError)"]
    assert lines[0].exc_info is None


def test_readyz_refuses_posts(client, alive):
    assert client.post("/readyz").status_code == 405
