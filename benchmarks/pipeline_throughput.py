"""The pipeline against a plain boto3 loop: what a request costs the portal on top of its AWS call.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/python benchmarks/pipeline_throughput.py

Runs the production processes (gunicorn with portal/gunicorn.conf.py; a worker on the requests
and retries queues; the housekeeper; beat) against a scratch database (`portal_bench_pipeline` on
the DATABASE_URL's PostgreSQL server, or a temporary SQLite file), the broker, and the sandbox as a
process of its own. For 0 ms and 50 ms of added sandbox latency (its `latency` fault):

- throughput: BENCH_REQUESTS requests (default 2,000) submitted through the API by
  BENCH_SUBMITTERS threads (default 8), from the first submit until the last is finished, against
  the same number of CreateIngestion calls by a plain boto3 loop of BENCH_CONCURRENCY threads
  (default 4, the worker's concurrency too), and the ratio;
- submit-to-first-attempt p50/p95 (created_at to the first attempt's started_at), under that load
  and with the workers free (BENCH_LATENCY_REQUESTS, default 200, submitted one at a time);
- CPU ms per request of the web server and of the worker (their processes and children, from
  /proc/<pid>/stat), and, on PostgreSQL, the database sessions and committed transactions per
  request (`pg_stat_database`, less the benchmark's own statements);

then resident memory of the web server and the worker before and after BENCH_MEMORY_REQUESTS
(default 10,000) more requests at 0 ms. Prints figures and the machine; asserts nothing.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")
from scratch import use_scratch_database  # noqa: E402 - benchmarks/, beside this script

SCRATCH = "portal_bench_pipeline"
POSTGRES = use_scratch_database(SCRATCH)
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
SUBMITTERS = int(os.environ.get("BENCH_SUBMITTERS", "8"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
LATENCY_REQUESTS = int(os.environ.get("BENCH_LATENCY_REQUESTS", "200"))
MEMORY_REQUESTS = int(os.environ.get("BENCH_MEMORY_REQUESTS", "10000"))
LATENCIES_MS = (0, 50)
# PostgreSQL's backends report their statistics at most once a second, and an idle one within 10 s.
STATS_SETTLE_SECONDS = 11

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
import psycopg  # noqa: E402
import requests as http  # noqa: E402
from botocore.config import Config  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import F, Min  # noqa: E402

from integrations.api.tokens import create_token  # noqa: E402
from integrations.models import AwsRequest, RequestStatus  # noqa: E402
from portal.celery import app  # noqa: E402
from tests import processes  # noqa: E402
from tests.factories import default_target, ingestion_params, make_operator  # noqa: E402

API_PATH = "/api/operations/appfabric/CreateIngestion/requests/"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- processes and what they cost ----------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
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


def cpu_seconds(pid: int) -> float:
    """CPU time of a process tree: each live process's own, and that of the children it reaped
    (gunicorn replaces a worker after PORTAL_WEB_MAX_REQUESTS requests)."""
    ticks = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    total = 0
    for member in tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


class Stats:
    """pg_stat_database's counters for the scratch database, less this connection's own statements."""

    def __init__(self) -> None:
        self.own = 0
        self.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) if POSTGRES else None

    def execute(self, sql: str) -> tuple:
        if self.conn is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()
        self.own += 1
        row = self.conn.execute(sql).fetchone()
        assert row is not None
        return row

    def counters(self) -> tuple[int, int]:
        if self.conn is None:
            return 0, 0
        self.execute("SELECT pg_stat_clear_snapshot()")
        sessions, commits = self.execute(
            "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return sessions, commits - self.own

    def finished(self) -> int:
        done = (RequestStatus.SUCCEEDED.value, RequestStatus.FAILED.value)
        return self.execute(f"SELECT COUNT(*) FROM integrations_awsrequest WHERE status IN {done!r}")[0]


# --- load ------------------------------------------------------------------------------------------------


def in_threads(count: int, threads: int, work: Callable[[int], None]) -> float:
    """``work(i)`` for i in range(count), spread over ``threads`` threads; the seconds it took."""
    items = iter(range(count))
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                i = next(items, None)
            if i is None:
                return
            work(i)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started


class Submitter:
    def __init__(self, web_url: str, token: str) -> None:
        self.url = web_url + API_PATH
        self.headers = {"Authorization": f"Token {token}"}
        self.local = threading.local()

    def __call__(self, i: int) -> None:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = http.Session()
        body = {"target": "sandbox", "parameters": ingestion_params(tenantId=f"t{uuid.uuid4().hex[:12]}")}
        answer = session.post(self.url, json=body, headers=self.headers, timeout=30)
        if answer.status_code != 201:
            raise SystemExit(f"submit answered {answer.status_code}: {answer.text[:500]}")


def plain_loop(sandbox_url: str, calls: int, threads: int) -> float:
    """The same call from boto3 alone, a client per thread, no retries: calls per second."""
    local = threading.local()

    def call(i: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = boto3.session.Session().client(
                "appfabric",
                region_name="us-east-1",
                endpoint_url=sandbox_url,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            )
        params = ingestion_params(tenantId=f"p{uuid.uuid4().hex[:12]}")
        client.create_ingestion(clientToken=str(uuid.uuid4()), **params)

    in_threads(threads * 10, threads, call)  # the threads' clients made and connected
    return calls / in_threads(calls, threads, call)


def first_attempt_ms(since_pk: int) -> tuple[float, float]:
    """p50 and p95 of submit (the row's created_at) to its first attempt's start, in ms."""
    rows = (
        AwsRequest.objects.filter(pk__gt=since_pk)
        .annotate(first=Min("attempts__started_at"))
        .annotate(wait=F("first") - F("created_at"))
        .values_list("wait", flat=True)
    )
    waits = sorted(w.total_seconds() * 1000 for w in rows if w is not None)
    cuts = statistics.quantiles(waits, n=100)
    return cuts[49], cuts[94]


def last_pk() -> int:
    return AwsRequest.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def wait_until_finished(stats: Stats, total: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while stats.finished() < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {stats.finished()} of {total} requests finished")
        time.sleep(0.05)


# --- the run ---------------------------------------------------------------------------------------------


def main() -> None:
    call_command("migrate", verbosity=0)
    user = make_operator("bench")
    default_target().users.add(user)
    token = create_token(user).key
    app.control.purge()
    log_dir = Path(tempfile.mkdtemp())
    sandbox_port, web_port = processes.free_port(), processes.free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = processes.portal_env(
        sandbox_url,
        app.conf.broker_url,
        log_dir / "broker",
        # As deployed: no DEBUG (which keeps every query), production timeouts and sweeps.
        DJANGO_DEBUG="false",
        PORTAL_LEASE_SECONDS="60",
        PORTAL_STUCK_AFTER_SECONDS="30",
        PORTAL_SWEEP_INTERVAL_SECONDS="1",
        PORTAL_AWS_CONNECT_TIMEOUT="5",
        PORTAL_AWS_READ_TIMEOUT="20",
        PORTAL_WEB_BIND=f"127.0.0.1:{web_port}",
    )
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    prefix = env["PORTAL_QUEUE_PREFIX"]
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    options = ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    commands = {
        "sandbox": [sys.executable, "manage.py", "aws_sandbox", "--port", str(sandbox_port)],
        "web": [sys.executable, "-m", "gunicorn", "portal.wsgi", "--config", "portal/gunicorn.conf.py"],
        "worker": [*celery, "worker", "--queues", f"{prefix}requests,{prefix}retries", "--concurrency",
                   str(CONCURRENCY), "--hostname", f"bench-worker-{web_port}@%h", *options],
        "housekeeper": [*celery, "worker", "--queues", f"{prefix}housekeeping", "--concurrency", "1",
                        "--hostname", f"bench-housekeeper-{web_port}@%h", *options],
        "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(log_dir / "beat-schedule")],
    }  # fmt: skip
    started = {name: processes.Process(name, command, env, log_dir) for name, command in commands.items()}
    sandbox, web, worker = started["sandbox"], started["web"], started["worker"]
    try:
        sandbox.wait_for_output("AWS sandbox on")
        web.wait_for_output("Booting worker")
        worker.wait_for_output("ready.")
        started["housekeeper"].wait_for_output("ready.")
        started["beat"].wait_for_output("beat: Starting...")
        run(sandbox_url, f"http://127.0.0.1:{web_port}", token, web.popen.pid, worker.popen.pid)
    finally:
        for process in reversed(started.values()):
            process.stop()
    print(f"(process logs in {log_dir})")


def set_latency(sandbox_url: str, latency_ms: int) -> None:
    http.post(f"{sandbox_url}/_sandbox/reset", timeout=5).raise_for_status()
    if latency_ms:
        fault = {"operation": "*", "fault": {"kind": "latency", "latency_ms": latency_ms}}
        http.post(f"{sandbox_url}/_sandbox/faults", json=fault, timeout=5).raise_for_status()


def run(sandbox_url: str, web_url: str, token: str, web_pid: int, worker_pid: int) -> None:
    stats = Stats()
    submit = Submitter(web_url, token)
    cores = os.cpu_count()
    print(f"machine: {platform.node()}, {cores} cores, Python {platform.python_version()}, {platform.platform()}")
    print(
        f"database: {connection.vendor} {connection.get_database_version()}, broker: {app.conf.broker_url.split('://')[0]}"
    )
    web_processes = os.environ.get("PORTAL_WEB_WORKERS") or 2 * (cores or 1) + 1
    print(
        f"requests: {REQUESTS} per latency, {SUBMITTERS} submitting threads; worker concurrency and "
        f"plain loop threads: {CONCURRENCY}; gunicorn: {web_processes} processes"
    )
    # Warm-up: every gunicorn process and pool process has imported, connected and served.
    total = 0
    in_threads(50, SUBMITTERS, submit)
    total += 50
    wait_until_finished(stats, total)

    rows = []
    for latency_ms in LATENCIES_MS:
        set_latency(sandbox_url, latency_ms)
        # Free workers: one request at a time, far below what the workers can take.
        since = last_pk()
        for i in range(LATENCY_REQUESTS):
            submit(i)
            total += 1
            time.sleep(0.02 + latency_ms / 1000)
        wait_until_finished(stats, total)
        idle_p50, idle_p95 = first_attempt_ms(since)

        since = last_pk()
        time.sleep(STATS_SETTLE_SECONDS)
        sessions0, commits0 = stats.counters()
        web0, worker0 = cpu_seconds(web_pid), cpu_seconds(worker_pid)
        began = time.perf_counter()
        in_threads(REQUESTS, SUBMITTERS, submit)
        total += REQUESTS
        wait_until_finished(stats, total)
        portal_rps = REQUESTS / (time.perf_counter() - began)
        web_ms = (cpu_seconds(web_pid) - web0) * 1000 / REQUESTS
        worker_ms = (cpu_seconds(worker_pid) - worker0) * 1000 / REQUESTS
        time.sleep(STATS_SETTLE_SECONDS)
        sessions1, commits1 = stats.counters()
        busy_p50, busy_p95 = first_attempt_ms(since)

        set_latency(sandbox_url, latency_ms)
        plain_rps = plain_loop(sandbox_url, REQUESTS, CONCURRENCY)
        rows.append(
            (latency_ms, portal_rps, plain_rps, idle_p50, idle_p95, busy_p50, busy_p95, web_ms, worker_ms,
             (sessions1 - sessions0) / REQUESTS, (commits1 - commits0) / REQUESTS)
        )  # fmt: skip

    print()
    print("| added latency | portal req/s | plain boto3 calls/s | ratio | submit→1st attempt p50 / p95, free workers "
          "| same, under load | web CPU ms/req | worker CPU ms/req | DB sessions/req | DB commits/req |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for latency_ms, portal, plain, ip50, ip95, bp50, bp95, web_ms, worker_ms, sessions, commits in rows:
        db = f"{sessions:.3f} | {commits:.2f}" if POSTGRES else "n/a (SQLite) | n/a"
        print(
            f"| {latency_ms} ms | {portal:.0f} | {plain:.0f} | {portal / plain:.2f}× | {ip50:.0f} / {ip95:.0f} ms "
            f"| {bp50:.0f} / {bp95:.0f} ms | {web_ms:.1f} | {worker_ms:.1f} | {db} |"
        )

    if MEMORY_REQUESTS:
        set_latency(sandbox_url, 0)
        web_before, worker_before = rss_mib(web_pid), rss_mib(worker_pid)
        in_threads(MEMORY_REQUESTS, SUBMITTERS, submit)
        total += MEMORY_REQUESTS
        wait_until_finished(stats, total)
        web_after, worker_after = rss_mib(web_pid), rss_mib(worker_pid)
        print()
        print(f"resident memory over {MEMORY_REQUESTS} more requests (after the {total - MEMORY_REQUESTS} above):")
        for name, before, after in (("web", web_before, web_after), ("worker", worker_before, worker_after)):
            print(f"  {name}: {before:.1f} MiB -> {after:.1f} MiB ({(after - before) / before:+.1%})")


if __name__ == "__main__":
    main()
