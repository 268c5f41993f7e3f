"""Exactly once under every fault at once: a broker restart, a killed worker, severed database
connections and a throttling, slow AWS, with real workers, beat, a web server and a real broker.

Requests are submitted through the API as a script would. While they run, the broker is stopped
(more requests are submitted while it is down) and started again, with workers holding
unacknowledged and countdown messages; a pool process is SIGKILLed in the middle of an AWS call;
on PostgreSQL every database connection of the portal's processes is terminated, twice. Then every
request must reach a final state, once: no request lost, none recorded twice, one AWS resource per
request, the sandbox's call log in step with the attempt rows, and no worker left dead.

The broker: a redis-server of the test's own (restarted for real, losing every message, as the
CI machine's Redis, which keeps nothing on disk, would); or, when the run's broker is RabbitMQ (the
second run of `make test` in CI), the machine's RabbitMQ, restarted with `rabbitmqctl`.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time

import psycopg
import pytest
import requests as http
from django.conf import settings
from django.db import connection
from kombu import Connection

from integrations.api.tokens import create_token
from integrations.broker import REDIS_TRANSPORT
from integrations.models import Attempt, AttemptKind, AttemptOutcome, AwsRequest, RequestStatus
from portal.celery import app as portal_app
from tests import processes
from tests.factories import default_target, ingestion_params
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OPERATION = "appfabric/CreateIngestion"
API_PATH = "/api/operations/appfabric/CreateIngestion/requests/"
BEFORE_THE_RESTART = 24
WHILE_THE_BROKER_IS_DOWN = 3
AFTER_THE_RESTART = 9


class RabbitMQ:
    """The machine's RabbitMQ, restarted with rabbitmqctl (its queues and messages are durable)."""

    def __init__(self, url: str):
        self.url = url

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)


@pytest.fixture
def restartable_broker(tmp_path):
    if settings.CELERY_BROKER_URL.startswith(("amqp://", "pyamqp://")):
        yield RabbitMQ(settings.CELERY_BROKER_URL)
        return
    server = processes.PrivateRedis(tmp_path)
    yield server
    server.stop()


def terminate_the_portals_database_connections() -> int:
    """What a database failover does to every process but this test's own."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"], autocommit=True
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            [connection.connection.info.backend_pid if connection.connection else 0],
        ).fetchall()
    return len(rows)


def hold_countdown_messages(broker_url: str, count: int = 2) -> None:
    """Tasks due in half a minute (for requests that do not exist): the workers hold them unacked."""
    transport = REDIS_TRANSPORT if broker_url.startswith("redis") else None
    with Connection(broker_url, transport=transport) as conn:
        for request_id in range(-count, 0):
            portal_app.send_task("integrations.tasks.execute_request", (request_id,), countdown=30, connection=conn)


def in_flight_pool_process(workers: list[processes.Process]) -> int | None:
    """The pid of a pool process in the middle of an AWS call (an open attempt), if any."""
    children = {pid for worker in workers for pid in worker.children()}
    for attempt in Attempt.objects.filter(outcome=AttemptOutcome.IN_PROGRESS):
        pid = int(attempt.worker.rsplit(" pid ", 1)[1])
        if pid in children:
            return pid
    return None


def test_every_request_finishes_exactly_once_through_broker_worker_and_database_faults(
    portal_env, logs, operator, sandbox, restartable_broker, capsys
):
    broker = restartable_broker
    default_target().users.add(operator)
    headers = {"Authorization": f"Token {create_token(operator).key}"}
    # A third of the calls are slow (the resource is created, the answer comes 1.5 s later), some
    # are throttled, a few fail with a 500: calls are in flight whenever a fault strikes.
    rng = random.Random(11)
    steps = rng.choices(["ok", "throttle", "internal", {"kind": "slow", "delay_s": 1.5}], [45, 15, 5, 35], k=400)
    sandbox.state.add_fault({"operation": OPERATION, "sequence": steps})
    env = {**portal_env, "CELERY_BROKER_URL": broker.url, "PORTAL_RETRY_MAX_ATTEMPTS": "8"}
    faults = {"broker restarts": 0, "pool processes killed": 0, "database connections terminated": 0}

    with contextlib.ExitStack() as stack:
        workers = [processes.start_worker(env, logs), processes.start_worker(env, logs)]
        beat = processes.start_beat(env, logs)
        web, base_url = processes.start_web(env, logs)
        for process in (*workers, beat, web):
            stack.callback(process.stop)
        session = http.Session()
        submitted: list[int] = []

        def submit(count: int) -> None:
            for _ in range(count):
                answer = session.post(
                    base_url + API_PATH,
                    json={"target": "sandbox", "parameters": ingestion_params(tenantId=f"tenant-{len(submitted)}")},
                    headers=headers,
                    timeout=30,
                )
                assert answer.status_code == 201, answer.text[:2000]
                submitted.append(answer.json()["id"])

        submit(BEFORE_THE_RESTART)
        hold_countdown_messages(broker.url)
        wait_for(lambda: in_flight_pool_process(workers), message="an AWS call in flight")

        broker.stop()
        submit(WHILE_THE_BROKER_IS_DOWN)  # recorded, answered; the sweeper hands them over later
        broker.start()
        faults["broker restarts"] += 1

        if connection.vendor == "postgresql":
            faults["database connections terminated"] += terminate_the_portals_database_connections()
        submit(AFTER_THE_RESTART)
        victim = wait_for(lambda: in_flight_pool_process(workers), message="an AWS call in flight after the restart")
        os.kill(victim, signal.SIGKILL)
        faults["pool processes killed"] += 1
        if connection.vendor == "postgresql":
            time.sleep(0.5)
            faults["database connections terminated"] += terminate_the_portals_database_connections()

        everything_finished = wait_for(
            lambda: not AwsRequest.objects.exclude(status__in=(RequestStatus.SUCCEEDED, RequestStatus.FAILED)).exists(),
            timeout=180,
            message="every request to finish",
        )
        worker_deaths = sum(1 for worker in workers if worker.popen.poll() is not None)
        others_alive = beat.popen.poll() is None and web.popen.poll() is None

    assert everything_finished
    requests = list(AwsRequest.objects.order_by("pk").prefetch_related("attempts"))
    calls = [c for c in sandbox.state.calls if c["operation"] == OPERATION]
    resources = sandbox.state.resources
    lost = len(set(submitted) - {r.pk for r in requests})
    recorded_twice = len(requests) - len(set(submitted))
    duplicated = len(resources) - len({r["client_token"] for r in resources})
    retries = sum(r.attempts.filter(kind=AttemptKind.CREATE).count() for r in requests) - len(requests)
    with capsys.disabled():  # the summary belongs in the CI log, whatever the checks below find
        print(
            f"\nfault run ({'RabbitMQ' if isinstance(broker, RabbitMQ) else 'Redis'}, {connection.vendor}): "
            f"{len(requests)} requests, faults {faults}, {retries} retries, {len(calls)} AWS calls, "
            f"lost {lost}, recorded twice {recorded_twice}, duplicated {duplicated}, worker deaths {worker_deaths}"
        )

    assert (lost, recorded_twice, duplicated, worker_deaths) == (0, 0, 0, 0)
    assert others_alive
    assert faults["broker restarts"] == faults["pool processes killed"] == 1
    assert [r.status for r in requests] == [RequestStatus.SUCCEEDED] * len(requests), [
        (r.pk, r.status, r.error_code, r.error_message) for r in requests if r.status != RequestStatus.SUCCEEDED
    ]
    tokens = {r.client_token: r for r in requests}
    assert {r["client_token"] for r in resources} == set(tokens)  # one resource per request, no stray one
    for request in requests:
        attempts = list(request.attempts.filter(kind=AttemptKind.CREATE))
        its_calls = [c for c in calls if c["client_token"] == request.client_token]
        answered = [a for a in attempts if a.http_status is not None]
        # Every call left an attempt row first, and every answer recorded came from a call.
        assert len(answered) <= len(its_calls) <= len(attempts), (request.pk, attempts, its_calls)
        assert {a.client_token for a in attempts} == {request.client_token}
        assert request.resource_id == next(r["id"] for r in resources if r["client_token"] == request.client_token)
