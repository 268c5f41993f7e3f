"""Real processes for end-to-end tests: a Celery worker, beat, and the web server.

They run the project's own commands against the test database, the configured broker (Redis
in CI, kombu's filesystem transport elsewhere) and the sandbox, exactly as `make run` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the tests are using (the test database, once it exists)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process with its output in a file, stopped with its whole process group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.output[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not print {text!r} in {timeout}s:\n{self.output[-3000:]}")

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.popen.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def crash(self) -> None:
        """SIGKILL the process and its children at once, as a machine that loses power would: no
        shutdown, no message acknowledged or given back, calls in flight cut off."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)

    def stop(self, timeout: float = 10) -> None:
        """Ask the main process to stop (it stops its own children), then kill what is left."""
        if self.popen.poll() is None:
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)
        self._log.close()


def broker_urls() -> list[str]:
    """The brokers the end-to-end tests run on: PORTAL_TEST_BROKER_URLS (comma-separated; CI names
    Redis and RabbitMQ), else the configured one (kombu's filesystem broker on a bare machine)."""
    from django.conf import settings

    listed = [u.strip() for u in os.environ.get("PORTAL_TEST_BROKER_URLS", "").split(",") if u.strip()]
    return listed or [settings.CELERY_BROKER_URL]


def broker_name(url: str) -> str:
    """A short name for a broker URL, for test ids: redis, amqp, filesystem."""
    return url.split(":", 1)[0].replace("pyamqp", "amqp").replace("rediss", "redis")


def portal_env(sandbox_url: str, broker_url: str, broker_dir: Path, **extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "AWS_")) and k not in ("DJANGO_SETTINGS_MODULE",)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        # Said explicitly: the settings are production ones (no sandbox, no dummy credentials)
        # unless told otherwise, and these processes talk to the sandbox.
        PORTAL_ENVIRONMENT="development",
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker_url,
        CELERY_BROKER_DIR=str(broker_dir),
        PORTAL_AWS_ENDPOINT_URL=sandbox_url,
        # Fast retries and short leases so that tests of the retry paths take seconds.
        PORTAL_RETRY_BASE_SECONDS="0.05",
        PORTAL_RETRY_CAP_SECONDS="0.3",
        PORTAL_AWS_CONNECT_TIMEOUT="1",
        PORTAL_AWS_READ_TIMEOUT="3",
        PORTAL_LEASE_SECONDS="5",
        PORTAL_STUCK_AFTER_SECONDS="1",
        PORTAL_SWEEP_INTERVAL_SECONDS="0.5",
        PYTHONUNBUFFERED="1",
        # The test process's own queues (PORTAL_QUEUE_PREFIX keeps concurrent runs on one broker apart).
        PORTAL_QUEUE_PREFIX=settings.PORTAL_QUEUE_PREFIX,
    )
    env.update(extra)
    return env


def launch_worker(env: dict[str, str], log_dir: Path, concurrency: int = 2, loglevel: str = "INFO") -> Process:
    """A worker process, started but perhaps not ready yet (``start_worker`` waits for it)."""
    return Process(
        "worker",
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", loglevel, "--pool", "prefork",
         "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--hostname", f"test-{time.monotonic_ns()}@%h"],
        env,
        log_dir,
    )  # fmt: skip


def start_worker(env: dict[str, str], log_dir: Path, concurrency: int = 2, loglevel: str = "INFO") -> Process:
    worker = launch_worker(env, log_dir, concurrency, loglevel)
    worker.wait_for_output("ready.")
    return worker


def launch_beat(env: dict[str, str], log_dir: Path) -> Process:
    """Beat, started but perhaps not sending yet (``start_beat`` waits for it)."""
    return Process(
        "beat",
        [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
         "--schedule", str(log_dir / f"beat-schedule-{time.monotonic_ns()}")],
        env,
        log_dir,
    )  # fmt: skip


def start_beat(env: dict[str, str], log_dir: Path) -> Process:
    beat = launch_beat(env, log_dir)
    beat.wait_for_output("beat: Starting...")
    return beat


def start_workers_and_beat(
    env: dict[str, str], log_dir: Path, workers: int = 2, timeout: float = 60
) -> tuple[list[Process], Process]:
    """``workers`` worker processes and beat, started at once and waited for together: each takes
    seconds to import the project, which started one after the other adds up on a small machine."""
    started = [launch_worker(env, log_dir) for _ in range(workers)]
    beat = launch_beat(env, log_dir)
    try:
        for worker in started:
            worker.wait_for_output("ready.", timeout)
        beat.wait_for_output("beat: Starting...", timeout)
    except BaseException:
        for process in (*started, beat):
            process.stop()
        raise
    return started, beat


def start_web(env: dict[str, str], log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    web = Process("web", [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env, log_dir)
    web.wait_for_output("Quit the server with")
    return web, f"http://127.0.0.1:{port}"


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test may stop and start again.

    Like the CI machine's Redis, it keeps nothing on disk: a restart loses every message, which
    is the worst a broker restart can do.
    """

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log_dir = log_dir
        self.process: Process | None = None
        self.start()

    def start(self) -> None:
        self.process = Process(
            "redis",
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            dict(os.environ),
            self._log_dir,
        )
        self.process.wait_for_output("Ready to accept connections")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def restart(self, down_for: float = 1.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()
