"""supervisord keeps the portal running: a process that dies is started again within seconds.

`make run`'s configuration (deploy/supervisord-dev.conf: the sandbox, runserver, a worker on both
queues, beat) runs against the test database and broker; the worker's main process is killed
with SIGKILL, as the kernel's out-of-memory killer or a library bug would end it, and a new one
takes its place and runs the next request while the web server goes on serving.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests as http

from integrations.models import AwsRequest, RequestStatus
from tests import processes
from tests.factories import PASSWORD, form_post, ingestion_form_data, make_operator
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


class Supervisor:
    """supervisord in the foreground with one of deploy/'s configurations, as make runs it.

    ``command`` starts it: supervisord itself by default, or a make target that ends in it.
    """

    def __init__(
        self, config: str, env: dict[str, str], var_dir: Path, log_dir: Path, command: list[str] | None = None
    ):
        self.config = config
        self.var_dir = var_dir
        self.env = {**env, "PATH": f"{BIN}:{env.get('PATH', '')}", "PORTAL_VAR_DIR": str(var_dir)}
        command = command or [str(BIN / "supervisord"), "--configuration", config]
        self.process = processes.Process(Path(command[0]).name, command, self.env, log_dir)

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "supervisorctl"), "--configuration", self.config, *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return result.stdout

    def status_once_running(self, programs: tuple[str, ...], timeout: float = 30) -> str:
        """supervisorctl's status once every one of ``programs`` is RUNNING (a program is, once it
        has stayed up its startsecs), or as it is when ``timeout`` runs out, for the assertion."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.ctl("status")
            every = all(re.search(rf"^{program}\s+RUNNING", status, re.MULTILINE) for program in programs)
            if every or time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def pid(self, program: str) -> int:
        """The program's pid while it is running, else 0."""
        status = self.ctl("status", program)
        running = re.search(r"RUNNING\s+pid (\d+)", status)
        return int(running[1]) if running else 0

    def stop(self) -> None:
        """SIGTERM to supervisord, which stops its programs; whatever it could not stop is killed."""
        started = [int(pid) for pid in self.ctl("pid", "all").split() if pid.isdigit() and pid != "0"]
        pidfile = next(self.var_dir.glob("supervisord*.pid"), None)
        if pidfile is not None:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.popen.wait(60)
        for pid in started:  # each program runs in its own process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.process.stop()
        print(self.process.output[-30000:])  # shown when the test fails


@contextlib.contextmanager
def supervised(config: str, env: dict[str, str], log_dir: Path) -> Iterator[Supervisor]:
    # A short folder: supervisord's control socket lives in it (Unix socket paths are short).
    with tempfile.TemporaryDirectory(prefix="portal-sv-") as folder:
        supervisor = Supervisor(config, env, Path(folder), log_dir)
        try:
            yield supervisor
        finally:
            supervisor.stop()


def answers(url: str) -> bool:
    with contextlib.suppress(http.RequestException):
        return http.get(url, timeout=5).status_code == 200
    return False


def sign_in(base_url: str, username: str) -> http.Session:
    session = http.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        timeout=10,
    )
    return session


def submit(session: http.Session, base_url: str) -> http.Response:
    path = "/operations/appfabric/CreateIngestion/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(base_url + path, timeout=10).text)[1]
    return session.post(
        base_url + path,
        data={**form_post(ingestion_form_data()), "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )


@pytest.mark.timeout(240)
def test_a_worker_killed_with_sigkill_is_started_again_and_runs_the_next_request(tmp_path):
    operator = make_operator("operator")
    web_port, sandbox_port = processes.free_port(), processes.free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    env = processes.portal_env(
        f"http://127.0.0.1:{sandbox_port}",  # the sandbox supervisord runs
        processes.broker_urls()[0],
        tmp_path / "broker",
        PORTAL_WEB_BIND=f"127.0.0.1:{web_port}",
        AWS_SANDBOX_PORT=str(sandbox_port),
    )

    with supervised("deploy/supervisord-dev.conf", env, tmp_path) as supervisor:
        wait_for(lambda: answers(f"{base_url}/healthz"), timeout=60, message="the web server")
        wait_for(lambda: "ready." in supervisor.process.output, timeout=60, message="the worker")
        killed = supervisor.pid("worker")
        os.kill(killed, signal.SIGKILL)

        restarted = wait_for(
            lambda: supervisor.pid("worker") not in (0, killed) and supervisor.pid("worker"),
            timeout=15,
            message="supervisord to start a new worker",
        )
        wait_for(lambda: supervisor.process.output.count("ready.") >= 2, timeout=60, message="the new worker")
        healthz = http.get(f"{base_url}/healthz", timeout=10)
        submitted = submit(sign_in(base_url, operator.username), base_url)
        request = wait_for(
            lambda: AwsRequest.objects.filter(status=RequestStatus.SUCCEEDED).first(),
            timeout=60,
            message="the request to succeed",
        )
        programs = supervisor.status_once_running(("sandbox", "web", "worker", "beat"))

    output = supervisor.process.output
    assert "exited: worker (terminated by SIGKILL" in output
    assert re.search(rf"spawned: 'worker' with pid {restarted}\b", output)
    assert healthz.status_code == 200
    assert submitted.status_code == 302
    assert submitted.headers["Location"] == request.get_absolute_url()
    for program in ("sandbox", "web", "worker", "beat"):
        assert re.search(rf"^{program}\s+RUNNING", programs, re.MULTILINE), programs
