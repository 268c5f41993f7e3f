"""Fixtures for the pipeline's end-to-end tests: the broker, a real worker, beat and users."""

from __future__ import annotations

import time

import kombu.pools
import pytest
from django.conf import settings
from moto.server import ThreadedMotoServer

from integrations import aws_clients
from portal.celery import app as celery_app
from tests import processes
from tests.factories import PASSWORD, make_operator


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """The broker the tests and their processes share: CELERY_BROKER_URL, or a private folder."""
    url = settings.CELERY_BROKER_URL
    folder = tmp_path_factory.mktemp("broker")
    if url.startswith("filesystem://"):
        options = dict(celery_app.conf.broker_transport_options)
        for key, sub in (("data_folder_in", "queue"), ("data_folder_out", "queue"), ("processed_folder", "processed"),
                         ("control_folder", "control")):  # fmt: skip
            (folder / sub).mkdir(exist_ok=True)
            options[key] = str(folder / sub)
        celery_app.conf.broker_transport_options = options
        # Connections and producers made before (tests that published while the options named
        # another folder) would keep sending there, where no worker of these tests looks.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        kombu.pools.reset()
    celery_app.control.purge()  # nothing left over from an earlier run may reach these workers
    return url, folder


@pytest.fixture(scope="session")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("process-logs")


@pytest.fixture(scope="session")
def portal_env(django_db_setup, django_db_blocker, broker, sandbox_server):
    with django_db_blocker.unblock():
        return processes.portal_env(sandbox_server.url, broker[0], broker[1])


@pytest.fixture(scope="module")
def worker(portal_env, logs):
    """The pipeline as deployed: a real Celery worker on both queues, and beat sending the sweeps
    (which hand over due retries and dead workers' requests). Shared by a module's tests.

    Not by the whole session: a worker left running would take the tasks that later modules'
    transactional tests publish, and write to tables while those tests' teardown truncates them
    (a deadlock on PostgreSQL)."""
    # What earlier modules' in-process tests published with no worker to take it (resource checks,
    # notifications, hand-offs of rows long gone) is not this worker's to run.
    celery_app.control.purge()
    process = processes.start_worker(portal_env, logs)
    beat = processes.start_beat(portal_env, logs)
    yield process
    beat.stop()
    process.stop()


@pytest.fixture(scope="module")
def sts_server():
    """moto's server, serving STS on a free local port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(settings, sandbox, sts_server, monkeypatch):
    """Calls to the sandbox, role assumptions to moto; no credentials cached from another test."""
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.AWS_STS_ENDPOINT_URL = sts_server
    monkeypatch.setattr(aws_clients, "_assumed", {})
    return sandbox


@pytest.fixture
def published(monkeypatch):
    """The ids of the requests handed to the broker: the boundary, recorded instead of sent."""
    from integrations.tasks import execute_request

    sent: list[int] = []
    monkeypatch.setattr(execute_request, "apply_async", lambda args, **options: sent.append(args[0]))
    return sent


@pytest.fixture
def operator(db):
    return make_operator("operator")


@pytest.fixture
def signed_in(client, operator):
    client.login(username=operator.username, password=PASSWORD)
    return client


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll until ``predicate()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
