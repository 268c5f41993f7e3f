"""A batch of 100,000 Supply Chain events through the whole pipeline (issue 15, point 4).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/python benchmarks/bulk_events.py \
        [--events 100000] [--groups 2000] [--rate 100/100] [--workers 2] [--throttle-share 0.002] \
        [--broker amqp://guest:guest@127.0.0.1:5672//] [--keep-db]

Runs the deployed processes (deploy/supervisord.conf: an interactive worker on the requests and
retries queues, a bulk worker on the bulk queue, the housekeeper, beat with the sweeper and the
batch feeder) against a scratch database (`bench_bulk` on the DATABASE_URL's PostgreSQL server,
dropped at the end unless --keep-db), the broker, and the sandbox as a process of its own
(`manage.py aws_sandbox`), which throttles a share of the calls at random. Then:

1. writes a JSON-lines file of ``--events`` SendDataIntegrationEvent lines, interleaved over
   ``--groups`` event groups (line i is event i // groups of group i % groups);
2. times ``batches.upload`` (in this process) and the bulk worker's check up to "draft";
3. submits the batch and times the recording and the run to the last event, sampling every
   worker process's resident memory (/proc) meanwhile, and submitting a single interactive event
   (``lifecycle.submit``, a group of its own) at 10, 30, 50, 70 and 90 % of the batch;
4. reads the sandbox's resources (the events it created, in the order it created them, with their
   client tokens) and checks every group's events against the requests' ids: ordering
   violations, duplicates, lost events.

Prints the machine, the settings and every figure as a block to paste into the README; asserts
nothing. With a throttle at random (not tied to the rate), the adaptive rate limit halves the
bucket's rate at most once a second on each throttle and grows it back by a twentieth a second:
a high --throttle-share keeps the rate near its floor (a tenth) by design.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=100_000, help="lines in the file (default 100,000)")
    parser.add_argument("--groups", type=int, default=2_000, help="event groups the lines are spread over")
    parser.add_argument(
        "--rate", default="100/100", help="the portal's limit for the sandbox: supplychain=RATE/BURST (calls a second)"
    )
    parser.add_argument("--workers", type=int, default=2, help="the bulk worker's concurrency (deployed default 2)")
    parser.add_argument("--interactive-workers", type=int, default=2, help="the interactive worker's concurrency")
    parser.add_argument("--throttle-share", type=float, default=0.002, help="share of calls the sandbox throttles")
    parser.add_argument("--in-flight", type=int, default=None, help="PORTAL_BULK_IN_FLIGHT (default: the setting's)")
    parser.add_argument("--broker", default=None, help="broker URL (default CELERY_BROKER_URL), e.g. amqp://…")
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch database bench_bulk afterwards")
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=60.0,
        help="PORTAL_LEASE_SECONDS, which is also every task's time limit, the check's and the recording's too",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="cancel the rest of the batch after it has run this many seconds (after its recording)",
    )
    return parser.parse_args()


ARGS = arguments()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")
if ARGS.broker:
    os.environ["CELERY_BROKER_URL"] = ARGS.broker
# As deployed (no DEBUG, which keeps every query in memory), with the limits asked for; the
# processes started below inherit these.
os.environ["DJANGO_DEBUG"] = "false"
os.environ["PORTAL_RATE_LIMITS"] = f"supplychain={ARGS.rate}"
# Queues of this run's own: a killed earlier run's unacknowledged messages (Redis gives them back
# to the next worker) must not run here, where batch 1 is another batch.
os.environ["PORTAL_QUEUE_PREFIX"] = f"{os.environ.get('PORTAL_QUEUE_PREFIX', '')}bench{os.getpid()}-"
if ARGS.in_flight:
    os.environ["PORTAL_BULK_IN_FLIGHT"] = str(ARGS.in_flight)
from scratch import use_scratch_database  # noqa: E402 - benchmarks/, beside this script

SCRATCH = "bench_bulk"
ADMIN_URL = os.environ.get("DATABASE_URL", "")
if not ADMIN_URL.startswith("postgres"):
    raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
use_scratch_database(SCRATCH)

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
import requests as http  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Count, Max, Min, Q  # noqa: E402

from integrations import batches, lifecycle, ordering  # noqa: E402
from integrations.aws_errors import THROTTLING_CODES  # noqa: E402
from integrations.models import (  # noqa: E402
    Attempt,
    AttemptKind,
    AwsRequest,
    AwsTarget,
    Batch,
    BatchStatus,
    RateBucket,
    RequestStatus,
)
from operations import get_operation  # noqa: E402
from portal.celery import app  # noqa: E402
from tests import processes  # noqa: E402
from tests.factories import default_target, make_operator  # noqa: E402

OPERATION = get_operation("supplychain/SendDataIntegrationEvent")
INSTANCE = "11111111-2222-4333-8444-555555555555"
EVENT_TYPE = "scn.data.inboundorder"
INTERACTIVE_AT = (0.1, 0.3, 0.5, 0.7, 0.9)
POLL_SECONDS = 0.25
RSS_EVERY_SECONDS = 2.0
B = BatchStatus
S = RequestStatus


def say(text: str = "") -> None:
    print(text, flush=True)


# --- the machine -------------------------------------------------------------------------------------


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal:")))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
        # Said, because it decides how soon the planner knows a freshly loaded table's size.
        cursor.execute("SHOW autovacuum")
        postgres += f" (autovacuum {cursor.fetchone()[0]})"
    return [
        f"machine: {os.cpu_count()} cores ({model}), {mem_kib / 1024 / 1024:.1f} GiB, {platform.platform()}",
        f"software: Python {platform.python_version()}, Django {django.get_version()}, "
        f"Celery {__import__('celery').__version__}, PostgreSQL {postgres}, broker {broker_version()}",
    ]


def broker_version() -> str:
    url = app.conf.broker_url
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            if url.startswith("redis"):
                info = conn.default_channel.client.info("server")
                return f"Redis {info['redis_version']}"
            props = conn.connection.server_properties
            return f"RabbitMQ {props.get('version', '?')}"
    except Exception as exc:  # printed, never fatal: the figures matter more
        return f"{url.split('://')[0]} (version unknown: {type(exc).__name__})"


# --- processes and their memory ----------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (a worker's main process and its pool)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """Each live process's own CPU time (user + system), by pid."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def rss_mib(pid: int) -> float:
    total = 0
    for member in tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


class MemorySampler(threading.Thread):
    """Every RSS_EVERY_SECONDS, each named process tree's resident memory: (seconds, {name: MiB});
    and the CPU time each process of each tree (and each PostgreSQL backend on the scratch
    database) used while it was seen, for CPU per event."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.started_at = time.monotonic()
        self.done = threading.Event()
        self.cpu_first: dict[str, dict[int, float]] = {}
        self.cpu_last: dict[str, dict[int, float]] = {}
        self.marks: dict[str, dict[str, float]] = {}
        self.admin = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
        self.lock = threading.Lock()

    def backends(self) -> list[int]:
        rows = self.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return [row[0] for row in rows]

    def sample_cpu(self) -> None:
        trees = {name: tree(pid) for name, pid in self.pids.items()}
        trees["postgres"] = self.backends()
        with self.lock:
            for name, members in trees.items():
                seen = cpu_seconds(members)
                first = self.cpu_first.setdefault(name, {})
                for pid, used in seen.items():
                    first.setdefault(pid, used)
                self.cpu_last.setdefault(name, {}).update(seen)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each tree, since its processes were first seen."""
        with self.lock:
            return {
                name: sum(used - self.cpu_first[name].get(pid, used) for pid, used in last.items())
                for name, last in self.cpu_last.items()
            }

    def mark(self, label: str) -> None:
        self.sample_cpu()
        self.marks[label] = self.cpu()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.monotonic() - self.started_at, {n: rss_mib(p) for n, p in self.pids.items()}))
            self.sample_cpu()
            self.done.wait(RSS_EVERY_SECONDS)

    def stop(self) -> list[tuple[float, dict[str, float]]]:
        self.done.set()
        self.join()
        self.admin.close()
        return self.samples


# --- the file ----------------------------------------------------------------------------------------


def group_id(group: int) -> str:
    return f"order-{group:06d}"


def write_file(path: Path, events: int, groups: int) -> int:
    """JSON-lines, one event a line, groups interleaved; the file's size in bytes."""
    with path.open("w", encoding="utf-8") as out:
        for line in range(events):
            group, sequence = line % groups, line // groups
            data = {"order_id": group_id(group), "sequence": sequence, "quantity": line % 97 + 1, "status": "OPEN"}
            event = {
                "instanceId": INSTANCE,
                "eventType": EVENT_TYPE,
                "eventGroupId": group_id(group),
                "data": json.dumps(data),
            }
            out.write(json.dumps(event) + "\n")
    return path.stat().st_size


# --- waiting -----------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], object], what: str, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def batch_status(batch_id: int) -> str:
    return Batch.objects.filter(pk=batch_id).values_list("status", flat=True).get()


def by_status(batch_id: int) -> Counter[str]:
    rows = AwsRequest.objects.filter(batch_id=batch_id).values_list("status").annotate(n=Count("pk")).order_by()
    return Counter(dict(rows))


# --- the run -----------------------------------------------------------------------------------------


def start_processes(sandbox_port: int, log_dir: Path) -> dict[str, processes.Process]:
    env = processes.portal_env(
        f"http://127.0.0.1:{sandbox_port}",
        app.conf.broker_url,
        log_dir / "broker",
        # Production timeouts, leases and sweeps; the retry backoff is the setting's (1 s, up to 60 s).
        DJANGO_DEBUG="false",
        PORTAL_LEASE_SECONDS=str(ARGS.lease_seconds),
        PORTAL_STUCK_AFTER_SECONDS="30",
        PORTAL_SWEEP_INTERVAL_SECONDS="1",
        PORTAL_AWS_CONNECT_TIMEOUT="5",
        PORTAL_AWS_READ_TIMEOUT="20",
    )
    for test_only in ("PORTAL_RETRY_BASE_SECONDS", "PORTAL_RETRY_CAP_SECONDS"):
        env.pop(test_only, None)
    prefix = env["PORTAL_QUEUE_PREFIX"]
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    options = ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    tag = f"{prefix}{sandbox_port}"
    commands = {
        "sandbox": [sys.executable, "manage.py", "aws_sandbox", "--port", str(sandbox_port)],
        "worker": [*celery, "worker", "--queues", f"{prefix}requests,{prefix}retries", "--concurrency",
                   str(ARGS.interactive_workers), "--hostname", f"bench-worker-{tag}@%h", *options],
        "bulk-worker": [*celery, "worker", "--queues", f"{prefix}bulk", "--concurrency", str(ARGS.workers),
                        "--hostname", f"bench-bulk-{tag}@%h", *options],
        "housekeeper": [*celery, "worker", "--queues", f"{prefix}housekeeping", "--concurrency", "1",
                        "--hostname", f"bench-housekeeper-{tag}@%h", *options],
        "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(log_dir / "beat-schedule")],
    }  # fmt: skip
    started: dict[str, processes.Process] = {}
    try:
        for name, command in commands.items():
            started[name] = processes.Process(name, command, env, log_dir)
        started["sandbox"].wait_for_output("AWS sandbox on")
        for name in ("worker", "bulk-worker", "housekeeper"):
            started[name].wait_for_output("ready.", timeout=60)
        started["beat"].wait_for_output("beat: Starting...")
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(started: dict[str, processes.Process]) -> None:
    for process in reversed(started.values()):
        process.stop()


def main() -> None:
    call_command("migrate", verbosity=0)
    user = make_operator("bench")
    target = default_target()
    target.users.add(user)
    app.control.purge()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    sandbox_port = processes.free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    lines = [*machine()]
    rate, burst = settings.PORTAL_RATE_LIMITS["supplychain"]
    lines.append(
        f"settings: {ARGS.events:,} events in {ARGS.groups:,} groups; "
        f"PORTAL_RATE_LIMITS=supplychain={rate:g}/{burst:g} "
        f"(interactive reserve {settings.PORTAL_RATE_INTERACTIVE_RESERVE:.0%}); sandbox throttles "
        f"{ARGS.throttle_share:.2%} of calls at random; workers: interactive {ARGS.interactive_workers}, "
        f"bulk {ARGS.workers}, housekeeper 1; PORTAL_BULK_IN_FLIGHT={settings.PORTAL_BULK_IN_FLIGHT}; "
        f"retry backoff {settings.PORTAL_RETRY_BASE_SECONDS:g} s up to {settings.PORTAL_RETRY_CAP_SECONDS:g} s; "
        f"PORTAL_LEASE_SECONDS={ARGS.lease_seconds:g} (tasks' hard time limit); "
        f"broker {app.conf.broker_url.split('://')[0]}"
    )
    for line in lines:
        say(line)
    started = start_processes(sandbox_port, log_dir)
    try:
        figures = run(sandbox_url, user, target, started, log_dir)
    finally:
        stop_all(started)
        say(f"(process logs in {log_dir})")
    say()
    say("```text")
    for line in [*lines, *figures]:
        say(line)
    say("```")


def run(
    sandbox_url: str, user: User, target: AwsTarget, started: dict[str, processes.Process], log_dir: Path
) -> list[str]:
    figures: list[str] = []
    throttle = {
        "operation": OPERATION.key,
        "fault": {"kind": "throttle"},
        "probability": ARGS.throttle_share,
        "seed": 15,
    }
    if ARGS.throttle_share > 0:
        http.post(f"{sandbox_url}/_sandbox/faults", json=throttle, timeout=5).raise_for_status()
    pids = {name: started[name].popen.pid for name in ("worker", "bulk-worker", "housekeeper", "beat", "sandbox")}
    sampler = MemorySampler(pids)
    sampler.start()

    # 1. The file, its upload and its check.
    path = log_dir / "events.jsonl"
    size = write_file(path, ARGS.events, ARGS.groups)
    say(f"wrote {ARGS.events:,} lines ({size / 1024 / 1024:.1f} MiB) to {path}")
    sampler.mark("upload")
    began = time.perf_counter()
    with path.open("rb") as stream:
        batch = batches.upload(OPERATION, user, target, stream, path.name)
    uploaded = time.perf_counter() - began
    wait_for(lambda: batch_status(batch.pk) != B.CHECKING, "the check", timeout=3600)
    checked = time.perf_counter() - began - uploaded
    sampler.mark("draft")
    # The check's CPU, robust to other work sharing the cores (the wall times are not).
    check_cpu = sampler.marks["draft"]["bulk-worker"] - sampler.marks["upload"]["bulk-worker"]
    check_db = sampler.marks["draft"]["postgres"] - sampler.marks["upload"].get("postgres", 0.0)
    batch.refresh_from_db()
    if batch.status != B.DRAFT or batch.invalid_lines >= batch.lines:
        raise SystemExit(f"the batch is {batch.status} with {batch.invalid_lines} invalid lines")
    for bad in batches.report(batch)[:5]:
        # Every line written is valid: one reported invalid is a finding, said and then skipped.
        say(f"UNEXPECTED: line {bad.number} reported invalid: {bad.errors}")
    total = uploaded + checked
    figures.append(
        f"upload ({size / 1024 / 1024:.1f} MiB JSON-lines, in-process batches.upload): {uploaded:.1f} s, "
        f"{ARGS.events / uploaded:,.0f} lines/s"
    )
    figures.append(
        f"check to draft (bulk worker): {checked:.1f} s, {ARGS.events / checked:,.0f} lines/s, "
        f"{batch.invalid_lines} reported invalid "
        f"(CPU {check_cpu * 1000 / ARGS.events:.2f} ms a line in the worker, "
        f"{check_db * 1000 / ARGS.events:.2f} ms in PostgreSQL); "
        f"upload + check: {total:.1f} s, {ARGS.events / total:,.0f} lines/s"
    )
    say(figures[-2])
    say(figures[-1])

    # 2. Submit, record, run; single requests meanwhile.
    sampler.mark("submit")
    stats_before = database_stats()
    submitted = time.perf_counter()
    batches.submit(batch, user, skip_invalid=bool(batch.invalid_lines))
    wait_for(lambda: batch_status(batch.pk) != B.RECORDING, "the recording", timeout=3600)
    recording = time.perf_counter() - submitted
    say(f"recorded in {recording:.1f} s; the batch is {batch_status(batch.pk)}")
    interactive: list[int] = []
    running_since = last_report = time.perf_counter()
    while True:
        status = batch_status(batch.pk)
        counts = by_status(batch.pk)
        finished = sum(n for s, n in counts.items() if s not in ordering.UNFINISHED)
        while len(interactive) < len(INTERACTIVE_AT) and finished >= INTERACTIVE_AT[len(interactive)] * ARGS.events:
            interactive.append(submit_single(user, target, len(interactive)))
        if status not in (B.RUNNING, B.PAUSED):
            break
        now = time.perf_counter()
        if ARGS.time_limit and now - running_since > ARGS.time_limit:
            cancelled = batches.cancel(batch, user, "The benchmark's time limit ran out.")
            say(f"time limit: cancelled the {cancelled:,} requests not started")
            wait_for(
                lambda: not AwsRequest.objects.filter(batch_id=batch.pk, status=S.RUNNING).exists(),
                "the running requests",
                timeout=120,
            )
            break
        if now - last_report >= 30:
            last_report = now
            rss = sampler.samples[-1][1] if sampler.samples else {}
            say(
                f"  {now - submitted:7.0f} s: {finished:,} finished ({dict(counts)}); "
                f"bulk worker {rss.get('bulk-worker', 0):.0f} MiB, worker {rss.get('worker', 0):.0f} MiB"
            )
        time.sleep(1.0)
    ended = time.perf_counter()
    sampler.mark("end")
    samples = sampler.stop()
    stats_after = database_stats()
    elapsed = ended - submitted
    counts = by_status(batch.pk)
    succeeded = counts.get(S.SUCCEEDED, 0)
    span = AwsRequest.objects.filter(batch_id=batch.pk, status=S.SUCCEEDED).aggregate(done=Max("finished_at"))
    first_call = Attempt.objects.filter(request__batch_id=batch.pk).aggregate(t=Min("started_at"))["t"]
    sending = (span["done"] - first_call).total_seconds() if span["done"] and first_call else float("nan")
    figures.append(
        f"batch {batch_status(batch.pk)}: {dict(counts)} in {elapsed:.1f} s from submit: "
        f"{succeeded / elapsed:.1f} events/s end to end; recording {recording:.1f} s "
        f"({ARGS.events / recording:,.0f} requests/s); first call to last success {sending:.1f} s "
        f"({succeeded / sending:.1f} events/s)"
    )
    figures.append(cost_line(sampler.marks, stats_before, stats_after, succeeded))

    # 3. Throttles and attempts.
    attempts = Attempt.objects.filter(request__batch_id=batch.pk, kind=AttemptKind.CREATE)  # not the read-backs
    codes = Counter(dict(attempts.values_list("error_code").annotate(n=Count("pk")).order_by()))
    throttled = sum(n for code, n in codes.items() if code in THROTTLING_CODES)
    other = {code: n for code, n in codes.items() if code and code not in THROTTLING_CODES}
    bucket = RateBucket.objects.filter(key__endswith="/supplychain").values("rate", "throttles").first()
    throttle_signals, end_rate = (bucket["throttles"], bucket["rate"]) if bucket else (0, 0.0)
    figures.append(
        f"attempts: {sum(codes.values()):,} for {succeeded:,} events sent; throttles received "
        f"(attempts answered with a throttling error): {throttled:,}; other errors: {other or 0}; "
        f"rate limit's throttle signals: {throttle_signals}, its rate at the end {end_rate:.1f}/s"
    )

    # 4. Order, duplicates, lost: the sandbox's own record of what it created, in order.
    figures.append(ordering_check(sandbox_url, batch.pk))

    # 5. Memory and the single requests.
    figures.append(memory_line(samples))
    figures.append(interactive_line(interactive))
    for line in figures[-6:]:
        say(line)
    return figures


STAT_INDEXES = ("awsrequest_order_idx", "integration_status_4b754f_idx", "awsrequest_batch_status_idx")


def database_stats() -> dict[str, int]:
    """The scratch database's counters: commits, rows read, and index entries read in the indexes
    that the ordering rule, the sweeper and the feeder walk (PostgreSQL reports them within a second
    or so; what this process reads itself is counted too, a few statements a second)."""
    time.sleep(1.5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit, tup_returned, tup_fetched FROM pg_stat_database WHERE datname = current_database()"
        )
        commits, returned, fetched = cursor.fetchone()
        cursor.execute(
            "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = ANY(%s)",
            [list(STAT_INDEXES)],
        )
        found = {"commits": commits, "returned": returned, "fetched": fetched}
        for name, scans, read in cursor.fetchall():
            found[f"{name} scans"], found[f"{name} read"] = scans, read
    return found


def cost_line(marks: dict[str, dict[str, float]], before: dict[str, int], after: dict[str, int], events: int) -> str:
    """CPU ms per event of each process tree and of the database, and the database's work per event."""
    if not events:
        return "cost per event: no event sent"
    start, end = marks.get("submit", {}), marks.get("end", {})
    cpu = ", ".join(f"{name} {(end[name] - start.get(name, 0.0)) * 1000 / events:.1f}" for name in end)
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    indexes = "; ".join(
        f"{name}: {delta.get(f'{name} scans', 0) / events:.1f} scans, {delta.get(f'{name} read', 0) / events:,.0f} "
        "entries read"
        for name in STAT_INDEXES
    )
    return (
        f"cost per event sent (from submit): CPU ms {cpu}; database: {delta['commits'] / events:.1f} commits, "
        f"{delta['returned'] / events:,.0f} rows returned by scans, {delta['fetched'] / events:,.0f} fetched; {indexes}"
    )


def submit_single(user: User, target: AwsTarget, index: int) -> int:
    """One interactive event, in a group of its own: the time it waits is the batch's cost to others."""
    params = {
        "instanceId": INSTANCE,
        "eventType": EVENT_TYPE,
        "eventGroupId": f"interactive-{index}-{uuid.uuid4().hex[:8]}",
        "data": json.dumps({"order_id": f"single-{index}", "status": "OPEN"}),
    }
    return lifecycle.submit(OPERATION, params, user, target).aws_request.pk


def interactive_line(ids: list[int]) -> str:
    deadline = time.monotonic() + 120
    while AwsRequest.objects.filter(pk__in=ids, status__in=ordering.UNFINISHED).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    rows = (
        AwsRequest.objects.filter(pk__in=ids)
        .order_by("pk")
        .annotate(attempt_count=Count("attempts", filter=Q(attempts__kind=AttemptKind.CREATE)))
    )
    waits = []
    for row in rows:
        if row.status == S.SUCCEEDED and row.finished_at is not None:
            waits.append(f"{(row.finished_at - row.created_at).total_seconds() * 1000:.0f} ms")
        else:
            waits.append(f"{row.status}")
        if row.attempt_count > 1:
            waits[-1] += f" ({row.attempt_count} attempts)"
    if not ids:
        return f"single interactive requests: none sent (the batch never reached {INTERACTIVE_AT[0]:.0%} finished)"
    at = ", ".join(f"{share:.0%}" for share in INTERACTIVE_AT[: len(ids)])
    return f"single interactive requests during the batch (at {at} of it), submit to success: {', '.join(waits)}"


def memory_line(samples: list[tuple[float, dict[str, float]]]) -> str:
    if not samples:
        return "memory: no samples"
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    parts = []
    for name in first[1]:
        peak = max(s[1][name] for s in samples)
        parts.append(f"{name} {first[1][name]:.0f} / {middle[1][name]:.0f} / {last[1][name]:.0f} MiB (peak {peak:.0f})")
    return (
        f"resident memory, all processes of each (start / middle / end, over {last[0]:.0f} s from upload to the "
        f"last event): {'; '.join(parts)}"
    )


def ordering_check(sandbox_url: str, batch_id: int) -> str:
    """Every group's events as the sandbox created them must come in the order of their requests' ids."""
    answer = http.get(f"{sandbox_url}/_sandbox/resources", params={"operation": OPERATION.key}, timeout=120)
    answer.raise_for_status()
    created = answer.json()["resources"]
    requests = {
        token: (pk, key, status)
        for token, pk, key, status in AwsRequest.objects.filter(batch_id=batch_id)
        .values_list("client_token", "pk", "order_key", "status")
        .iterator(chunk_size=5000)
    }
    tokens = Counter(str(r["client_token"]) for r in created)
    duplicates = sum(n - 1 for n in tokens.values() if n > 1)
    last_in_group: dict[str, int] = {}
    violations = 0
    for resource in created:
        known = requests.get(str(resource["client_token"]))
        if known is None:
            continue  # an interactive request's event
        pk, order_key, _ = known
        key = order_key or ""
        if pk < last_in_group.get(key, 0):
            violations += 1
        last_in_group[key] = max(pk, last_in_group.get(key, 0))
    succeeded = {token for token, (_, _, status) in requests.items() if status == S.SUCCEEDED}
    lost = len(succeeded - set(tokens))  # the portal says succeeded, AWS has no such event
    not_sent = len(requests) - len(set(requests) & set(tokens))
    per_group = statistics.mean(Counter(key for _, key, _ in requests.values()).values()) if requests else 0
    return (
        f"order per group, from the sandbox's {len(created):,} created events against the requests' ids: "
        f"{violations} violations, {duplicates} duplicates, {lost} lost (succeeded in the portal, absent in "
        f"the sandbox), {not_sent} of {len(requests):,} requests with no event; {len(last_in_group):,} groups of "
        f"{per_group:.0f} events"
    )


def drop_scratch() -> None:
    connections.close_all()
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


if __name__ == "__main__":
    # A background run (nohup, &) ignores SIGINT: SIGTERM must still stop the processes and drop
    # the scratch database.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        main()
    finally:
        if not ARGS.keep_db:
            drop_scratch()
