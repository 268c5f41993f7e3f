"""The broker as the pipeline needs it: workers that outlive a Redis restart, and a queue it can count.

The restart tests run real Celery workers of a minimal app (tests/integrations/kombu_redis_restart.py)
against a redis-server of their own, which they stop and start again.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

import pytest
from celery import Celery
from django.conf import settings
from kombu import Connection

from integrations import pipeline
from integrations.broker import REDIS_TRANSPORT
from portal.celery import app as portal_app
from tests import processes
from tests.integrations.conftest import wait_for

TASK = "tests.integrations.kombu_redis_restart.noop"


@pytest.fixture
def redis(tmp_path):
    server = processes.PrivateRedis(tmp_path)
    yield server
    server.stop()


def start_worker(redis: processes.PrivateRedis, log_dir, transport: str | None = None) -> processes.Process:
    # A plain Celery app: no Django, and no CELERY_BROKER_URL, which Celery would prefer to its own broker.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE" and not k.startswith("CELERY_")}
    env.update(REPRO_BROKER_URL=redis.url, PYTHONUNBUFFERED="1")
    if transport:
        env["REPRO_TRANSPORT"] = transport
    worker = processes.Process(
        "repro-worker",
        [sys.executable, "-m", "celery", "-A", "tests.integrations.kombu_redis_restart", "worker", "--loglevel", "INFO",
         "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env,
        log_dir,
    )  # fmt: skip
    worker.wait_for_output("ready.")
    return worker


def send(redis: processes.PrivateRedis, count: int = 1, **options: object) -> None:
    """Send tasks to this Redis (by an explicit connection: Celery prefers CELERY_BROKER_URL to any app's broker)."""
    with Connection(redis.url) as connection:
        for _ in range(count):
            Celery().send_task(TASK, connection=connection, **options)


def hold_countdown_messages(redis: processes.PrivateRedis, worker: processes.Process, count: int = 3) -> None:
    """Send tasks due in a minute: the worker takes them and holds them unacknowledged until then."""
    send(redis, count, countdown=60)
    wait_for(lambda: worker.output.count("received") >= count, message="the worker to hold the messages")


def test_kombus_own_redis_transport_still_kills_a_worker_when_redis_restarts(redis, tmp_path):
    # The upstream bug, reproduced: when this test fails, kombu has fixed it and
    # integrations/broker.py's workaround can go.
    worker = start_worker(redis, tmp_path)
    try:
        hold_countdown_messages(redis, worker)

        redis.restart()

        worker.popen.wait(timeout=30)
        assert "Unrecoverable error: AttributeError(\"'NoneType' object has no attribute 'hostname'\")" in worker.output
    finally:
        worker.stop()


def test_with_the_portals_transport_the_worker_survives_a_redis_restart_and_runs_new_tasks(redis, tmp_path):
    worker = start_worker(redis, tmp_path, transport=REDIS_TRANSPORT)
    try:
        hold_countdown_messages(redis, worker)

        redis.restart()
        wait_for(lambda: worker.output.count("Connected to") >= 2, message="the worker to reconnect")
        send(redis)
        wait_for(lambda: "succeeded" in worker.output, message="a task sent after the restart to run")

        time.sleep(1)  # a worker that was going to die would have died by now
        assert worker.popen.poll() is None, worker.output[-3000:]
        assert "Unrecoverable error" not in worker.output
    finally:
        worker.stop()


def test_redis_urls_get_the_portals_transport_and_rabbitmq_urls_publisher_confirms(monkeypatch):
    settings_file = os.path.join(os.path.dirname(pipeline.__file__), os.pardir, "portal", "settings.py")
    monkeypatch.setenv("PORTAL_ENVIRONMENT", "development")

    monkeypatch.setenv("CELERY_BROKER_URL", "redis://cache.internal:6379/0")
    on_redis = runpy.run_path(settings_file)
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://portal@mq.internal:5672//")
    on_rabbitmq = runpy.run_path(settings_file)

    assert on_redis["CELERY_BROKER_TRANSPORT"] == REDIS_TRANSPORT
    assert "CELERY_BROKER_TRANSPORT" not in on_rabbitmq  # kombu's own py-amqp transport
    assert on_rabbitmq["CELERY_BROKER_TRANSPORT_OPTIONS"]["confirm_publish"] is True


def test_the_sweeper_reads_how_many_messages_wait_in_the_work_queue():
    with portal_app.connection_for_write() as connection:
        # The depth is of the work and retry queues together (earlier tests leave resource checks
        # and notifications in the retry queue, with no worker to take them): both start empty.
        queues = [
            portal_app.amqp.queues[name](connection.default_channel)
            for name in (settings.PORTAL_WORK_QUEUE, settings.PORTAL_RETRY_QUEUE)
        ]
        for queue in queues:
            queue.declare()
            queue.purge()
        try:
            assert pipeline.queue_depth() == 0
            for request_id in (-1, -2, -3):  # no such requests: nothing will act on them
                portal_app.send_task("integrations.tasks.execute_request", (request_id,), connection=connection)

            assert pipeline.queue_depth() == 3
        finally:
            for queue in queues:
                queue.purge()


def test_the_sweeper_gets_no_depth_rather_than_an_error_when_the_broker_is_down(monkeypatch):
    nowhere = f"redis://127.0.0.1:{processes.free_port()}/0"
    monkeypatch.setattr(
        portal_app,
        "connection_for_write",
        lambda **kw: Connection(nowhere, transport=REDIS_TRANSPORT, connect_timeout=1),
    )

    assert pipeline.queue_depth() is None
