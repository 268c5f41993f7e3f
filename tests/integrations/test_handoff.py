"""A submit never hangs or fails on the broker, and a request the broker missed still runs.

The web server runs as its own process with a broker that refuses connections, or one that
accepts them and never answers; then a worker and beat on the real broker pick the request up.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

import pytest
import requests as http

from integrations.models import AwsRequest, RequestStatus
from tests import processes
from tests.factories import PASSWORD, form_post, ingestion_form_data
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
FORM_PATH = "/operations/appfabric/CreateIngestion/"
# "A submit must answer within a few seconds even when the broker is unreachable."
SUBMIT_LIMIT_SECONDS = 10


@contextlib.contextmanager
def silent_broker():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def sign_in(base_url: str, username: str) -> http.Session:
    session = http.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        timeout=10,
    )
    assert "Sign out" in answer.text
    return session


def submit_form(session: http.Session, base_url: str) -> tuple[http.Response, float]:
    page = session.get(base_url + FORM_PATH, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    started = time.monotonic()
    answer = session.post(
        base_url + FORM_PATH,
        data={**form_post(ingestion_form_data()), "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=60,
    )
    return answer, time.monotonic() - started


@pytest.mark.parametrize("broken", ["refusing", "silent"])
def test_a_submit_with_the_broker_down_records_the_request_and_answers_promptly(broken, portal_env, logs, operator):
    with contextlib.ExitStack() as stack:
        if broken == "refusing":
            broker_url = f"redis://127.0.0.1:{processes.free_port()}/0"
        else:
            broker_url = stack.enter_context(silent_broker())
        web, base_url = processes.start_web({**portal_env, "CELERY_BROKER_URL": broker_url}, logs)
        stack.callback(web.stop)
        session = sign_in(base_url, operator.username)

        answer, seconds = submit_form(session, base_url)

    assert answer.status_code == 302, answer.text[:2000]
    assert seconds < SUBMIT_LIMIT_SECONDS, f"the submit took {seconds:.1f}s"
    request = AwsRequest.objects.get()
    assert answer.headers["Location"] == request.get_absolute_url()
    assert request.status == RequestStatus.QUEUED
    assert request.enqueued_at is None  # the broker never took it
    # An expected condition, said in one line: no traceback.
    assert f"Could not enqueue request {request.pk}" in web.output
    assert "Traceback" not in web.output


def test_a_request_the_broker_missed_is_run_once_the_sweeper_finds_it(portal_env, logs, operator, sandbox, worker):
    web, base_url = processes.start_web(
        {**portal_env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{processes.free_port()}/0"}, logs
    )
    try:
        answer, _ = submit_form(sign_in(base_url, operator.username), base_url)
    finally:
        web.stop()
    assert answer.status_code == 302
    request = AwsRequest.objects.get()
    assert request.enqueued_at is None

    # The worker fixture's beat sends the sweeps; the housekeeping queue is consumed by the worker.
    done = wait_for(lambda: AwsRequest.objects.filter(pk=request.pk, status=RequestStatus.SUCCEEDED).first())

    assert done.enqueued_at is not None
    assert done.handoffs == 1
    assert done.resource_id == sandbox.state.resources[0]["id"]
    assert [c["client_token"] for c in sandbox.state.calls if c["operation"] == done.operation_key] == [
        done.client_token
    ]
