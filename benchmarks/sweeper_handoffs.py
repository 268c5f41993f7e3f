"""The sweeper under a long queue: no-op deliveries it causes, and how soon a dead worker's request
is taken over.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/python benchmarks/sweeper_handoffs.py

Runs real processes (two Celery workers of concurrency 2 on both queues, beat) against a scratch
database (`portal_bench_sweeper` on the DATABASE_URL's PostgreSQL server, or a temporary SQLite
file), the broker, and an in-process sandbox whose every call takes 100 ms, so that requests wait
in the queue for tens of seconds while PORTAL_STUCK_AFTER_SECONDS is 2 s.

1. Long queue: N requests recorded at once. Prints the task deliveries the workers ran, the no-op
   ones among them (the request was already finished or held: a duplicate), and the hand-offs.
2. Takeover: a request whose call hangs, behind a queue of other requests; its worker is
   SIGKILLed (main process and pool) mid-call. Prints how long after its lease ran out the next
   attempt started on the other worker.

Prints figures and the machine; asserts nothing.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")
from scratch import use_scratch_database  # noqa: E402 - benchmarks/, beside this script

SCRATCH = "portal_bench_sweeper"
use_scratch_database(SCRATCH)
QUEUE_LENGTH = int(os.environ.get("BENCH_REQUESTS", "500"))
LEASE_SECONDS = 8.0

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Sum  # noqa: E402

from integrations import lifecycle  # noqa: E402
from integrations.models import Attempt, AttemptOutcome, AwsRequest, RequestStatus  # noqa: E402
from operations import get_operation  # noqa: E402
from portal.celery import app  # noqa: E402
from sandbox.server import running_sandbox  # noqa: E402
from tests import processes  # noqa: E402
from tests.factories import default_target, ingestion_params, make_operator  # noqa: E402

OPERATION = get_operation("appfabric/CreateIngestion")


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def unfinished() -> int:
    return AwsRequest.objects.exclude(status__in=(RequestStatus.SUCCEEDED, RequestStatus.FAILED)).count()


def deliveries(workers) -> tuple[int, int]:
    text = "".join(w.output for w in workers)
    ran = re.findall(r"execute_request\[[^\]]+\] succeeded in [0-9.e-]+s: '([^']*)'", text)
    return len(ran), sum(1 for outcome in ran if outcome not in ("succeeded", "retrying", "failed"))


def main() -> None:
    call_command("migrate", verbosity=0)
    user = make_operator("bench")
    target = default_target()
    target.users.add(user)
    app.control.purge()
    log_dir = Path(tempfile.mkdtemp())
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.python_version()}, {platform.platform()}")
    print(f"database: {os.environ['DATABASE_URL'].split('@')[-1]}, broker: {app.conf.broker_url.split('@')[-1]}")
    with running_sandbox() as sandbox:
        sandbox.state.add_fault({"operation": "*", "fault": {"kind": "latency", "latency_ms": 100}})
        env = processes.portal_env(
            sandbox.url,
            app.conf.broker_url,
            log_dir / "broker",
            PORTAL_STUCK_AFTER_SECONDS="2",
            PORTAL_SWEEP_INTERVAL_SECONDS="0.5",
            PORTAL_LEASE_SECONDS=str(LEASE_SECONDS),
            PORTAL_AWS_READ_TIMEOUT="3",
        )
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        workers = [processes.start_worker(env, log_dir), processes.start_worker(env, log_dir)]
        beat = processes.start_beat(env, log_dir)
        try:
            started = time.monotonic()
            for i in range(QUEUE_LENGTH):
                lifecycle.record(OPERATION, ingestion_params(tenantId=f"queue-{i}"), user, target)
            wait(lambda: unfinished() == 0, 600, "the queue to drain")
            seconds = time.monotonic() - started
            ran, no_ops = deliveries(workers)
            handoffs = AwsRequest.objects.aggregate(n=Sum("handoffs"))["n"] or 0
            print(
                f"long queue: {QUEUE_LENGTH} requests in {seconds:.1f} s; {ran} deliveries run, "
                f"{no_ops} of them no-ops; {handoffs} hand-offs by the sweeper"
            )

            # Takeover behind a queue: the first call hangs for 30 s (the worker's read timeout is 3 s,
            # but it is killed before), then 200 more requests queue up.
            sandbox.state.clear_faults()
            sandbox.state.add_fault({"operation": "*", "sequence": [{"kind": "slow", "delay_s": 30}]})
            sandbox.state.add_fault({"operation": "*", "fault": {"kind": "latency", "latency_ms": 100}})
            victim = lifecycle.record(OPERATION, ingestion_params(tenantId="takeover"), user, target)
            attempt = wait(
                lambda: Attempt.objects.filter(request=victim, outcome=AttemptOutcome.IN_PROGRESS).first(),
                30,
                "the hanging call",
            )
            for i in range(200):
                lifecycle.record(OPERATION, ingestion_params(tenantId=f"behind-{i}"), user, target)
            pool_pid = int(attempt.worker.rsplit(" pid ", 1)[1])
            dead = next(w for w in workers if pool_pid in w.children())
            os.killpg(dead.popen.pid, signal.SIGKILL)
            victim.refresh_from_db()
            lease_end = victim.lease_expires_at
            second = wait(lambda: Attempt.objects.filter(request=victim, number=2).first(), 120, "the takeover attempt")
            late = (second.started_at - lease_end).total_seconds()
            print(
                f"takeover behind a queue of 200: next attempt {late:.1f} s after the lease ran out "
                f"(lease {LEASE_SECONDS:.0f} s, sweep every 0.5 s)"
            )
        finally:
            beat.stop()
            for worker in workers:
                worker.stop()


if __name__ == "__main__":
    main()
