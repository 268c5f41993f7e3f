"""The history at a million requests: p50/p95 and query count of every history page, filter, search
(exact, and by a start of 8 characters or more) and export, the request page, the home page, the
API list and the admin change list.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/history_at_scale.py

PostgreSQL only (the sizes that matter are PostgreSQL's plans). Drops and recreates a scratch
database (`portal_bench_history` on the DATABASE_URL's server), migrates it, and seeds it once with
SQL (INSERT … SELECT … generate_series): BENCH_REQUESTS requests (1,000,000) and about three
attempts each, over 90 days, for 20 users, in the five operations' real shapes (ARNs and ids,
AWS request ids, statuses, errors). Then VACUUM ANALYZE, and each page is fetched in this process
through Django's test Client, signed in as a superuser: BENCH_WARMUP (3) times unmeasured, then
BENCH_SAMPLES (30) times measured, and once more counting its queries.

Prints a table and the machine; asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")
# As in production: DEBUG keeps every query in memory and renders more.
os.environ.setdefault("DJANGO_DEBUG", "false")
SCRATCH = "portal_bench_history"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
USERS = 20
DAYS = 90
HTMX = "#htmx"  # marks a page fetched as htmx fetches it (HX-Request)

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit(
        "history_at_scale.py measures PostgreSQL only: set DATABASE_URL=postgres://… (a server where it may "
        f"drop and create the database {SCRATCH})."
    )

from scratch import use_scratch_database  # noqa: E402 - benchmarks/, beside this script

use_scratch_database(SCRATCH)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from integrations import history  # noqa: E402
from integrations.models import Attempt, AwsRequest, AwsTarget  # noqa: E402

# One row per operation: how its ARN or id looks (SQL, from the request's id ``g`` and a uuid ``u``).
WHERE = "us-east-1:111122223333"
OPERATIONS = [
    ("appfabric", "CreateIngestion", f"'arn:aws:appfabric:{WHERE}:appbundle/' || u || '/ingestion/' || g"),
    ("appflow", "RegisterConnector", f"'arn:aws:appflow:{WHERE}:connector/erp-' || g"),
    ("appintegrations", "CreateDataIntegration", f"'arn:aws:app-integrations:{WHERE}:data-integration/' || u"),
    ("partnercentral-selling", "CreateResourceSnapshotJob",
     f"'arn:aws:partnercentral:{WHERE}:catalog/AWS/resource-snapshot-job/job-' || g"),
    ("supplychain", "SendDataIntegrationEvent", "u"),
]  # fmt: skip


def seed() -> None:
    """The users and targets through the ORM; the requests and attempts in two SQL statements."""
    User.objects.create_superuser("bench-admin", password=None)
    users = [User.objects.create_user(f"user{i:02}", password=None) for i in range(USERS)]
    targets = [
        AwsTarget.objects.create(name=name, account_id="111122223333", region=region)
        for name, region in (("production", "us-east-1"), ("staging", "us-east-1"), ("europe", "eu-west-1"))
    ]
    first_user, first_target = users[0].pk, targets[0].pk
    services = "ARRAY[" + ", ".join(f"'{s}'" for s, _, _ in OPERATIONS) + "]"
    names = "ARRAY[" + ", ".join(f"'{n}'" for _, n, _ in OPERATIONS) + "]"
    resource = "CASE op " + " ".join(f"WHEN {i} THEN {expr}" for i, (_, _, expr) in enumerate(OPERATIONS, 1)) + " END"
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        # Statuses as a team a year in sees them: mostly succeeded, some failed, a few in flight.
        cursor.execute(
            f"""
            INSERT INTO integrations_awsrequest (
                service, operation, parameters, target_id, account_id, region, idempotency_key, client_token,
                created_by_id, created_by_username, created_at, updated_at, status, enqueued_at,
                next_attempt_at, claim_id, lease_expires_at, finished_at, resource_id, response, error_code,
                error_message, handoffs, attempt_base, retry_of_id, cancel_reason)
            SELECT ({services})[op], ({names})[op], jsonb_build_object('name', 'bench-' || g),
                   {first_target} + g % 3, '111122223333', CASE g % 3 WHEN 2 THEN 'eu-west-1' ELSE 'us-east-1' END,
                   NULL, md5('token' || g)::uuid::text,
                   {first_user} + g % {USERS}, 'user' || lpad((g % {USERS})::text, 2, '0'), at, at, status, at,
                   NULL, NULL, NULL,
                   CASE WHEN status IN ('succeeded', 'failed', 'rejected', 'cancelled')
                        THEN at + interval '2 seconds' END,
                   CASE WHEN status = 'succeeded' THEN {resource} ELSE '' END,
                   CASE WHEN status = 'succeeded' THEN jsonb_build_object('id', u) END,
                   CASE WHEN status = 'failed' THEN 'ValidationException' ELSE '' END,
                   CASE WHEN status = 'failed' THEN 'Value at ''name'' failed to satisfy constraint' ELSE '' END,
                   0, 0, NULL, ''
            FROM (
                SELECT g, 1 + (hashint4(g) & 2147483647) % {len(OPERATIONS)} AS op,
                       md5('resource' || g)::uuid::text AS u,
                       now() - interval '{DAYS} days' * (1 - g::float8 / {REQUESTS}) AS at,
                       CASE WHEN g > {REQUESTS} - 50 THEN (ARRAY['queued', 'running', 'retrying'])[1 + g % 3]
                            ELSE (ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded',
                                        'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded',
                                        'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded',
                                        'succeeded', 'failed', 'failed', 'rejected', 'awaiting_approval'])
                                 [1 + (hashint4(g + 7) & 2147483647) % 20] END AS status
                FROM generate_series(1, {REQUESTS}) AS g
            ) AS seeds
            """
        )
        # One to six attempts a request (three on average, none for a request that never ran): the
        # last one as the request ended, the ones before it throttled.
        cursor.execute(
            """
            INSERT INTO integrations_attempt (
                request_id, number, started_at, finished_at, outcome, http_status, error_code, error_message,
                aws_request_id, client_token, worker, kind, read_call)
            SELECT r.id, n, r.created_at + n * interval '100 ms',
                   r.created_at + n * interval '100 ms' + interval '50 ms',
                   CASE WHEN n < k THEN 'retryable_error' WHEN r.status = 'succeeded' THEN 'succeeded'
                        WHEN r.status = 'failed' THEN 'failed' ELSE 'in_progress' END,
                   CASE WHEN n < k THEN 429 WHEN r.status = 'failed' THEN 400 ELSE 200 END,
                   CASE WHEN n < k THEN 'ThrottlingException' WHEN r.status = 'failed' THEN 'ValidationException'
                        ELSE '' END,
                   '', md5('aws' || r.id || '-' || n)::uuid::text, r.client_token, 'celery@bench', 'create', ''
            FROM (SELECT id, created_at, status, client_token, 1 + id % 5 + (id % 3 = 0)::int AS k
                  FROM integrations_awsrequest WHERE status NOT IN ('awaiting_approval', 'rejected')) AS r,
                 LATERAL generate_series(1, r.k) AS n
            """
        )
    with connection.cursor() as cursor:
        for table in ("integrations_awsrequest", "integrations_attempt"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def measure(client: Client, path: str, headers: dict[str, str]) -> tuple[float, float, int, int]:
    """p50 and p95 in ms, the queries of one fetch, and its status code."""

    def fetch() -> int:
        response = client.get(path, headers=headers)
        if response.streaming:
            b"".join(response.streaming_content)
        return response.status_code

    for _ in range(WARMUP):
        fetch()
    times = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        fetch()
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        code = fetch()
    cuts = statistics.quantiles(times, n=20, method="inclusive")
    return statistics.median(times), cuts[18], len(queries), code


def pages() -> list[tuple[str, str]]:
    """Every page to measure, with its path, found in the seeded data."""
    middle = AwsRequest.objects.get(pk=AwsRequest.objects.order_by("pk").values_list("pk", flat=True)[REQUESTS // 2])
    deep = history.Cursor.of(middle, older=True).token()
    succeeded = AwsRequest.objects.filter(pk__gte=middle.pk, status="succeeded").order_by("pk").first()
    attempt = Attempt.objects.filter(request__gte=middle.pk).order_by("pk").first()
    assert succeeded is not None
    assert attempt is not None
    day = middle.created_at.date().isoformat()
    week_before = (middle.created_at.date() - dt.timedelta(days=7)).isoformat()
    api_later = f"/api/requests/?cursor={history.Cursor.of(middle, older=True).token()}"

    def q(path: str, **query: str) -> str:
        return f"{path}?{urlencode(query)}"

    return [
        ("history, first page", "/requests/"),
        (f"history, deep page (cursor, {REQUESTS // 2:,} rows in)", q("/requests/", cursor=deep)),
        ("history, htmx table only", "/requests/" + HTMX),
        ("history, operation", q("/requests/", operation="appflow/RegisterConnector")),
        ("history, status failed", q("/requests/", status="failed")),
        ("history, status running (rare)", q("/requests/", status="running")),
        ("history, user", q("/requests/", user="user07")),
        ("history, target", q("/requests/", target="europe")),
        ("history, one day", q("/requests/", created_from=day, created_to=day)),
        ("history, user + week", q("/requests/", user="user07", created_from=week_before, created_to=day)),
        ("history, status + operation, deep",
         q("/requests/", status="failed", operation="supplychain/SendDataIntegrationEvent", cursor=deep)),
        ("history, ARN search", q("/requests/", q=succeeded.resource_id)),
        ("history, AWS request id search", q("/requests/", q=attempt.aws_request_id)),
        ("history, client token search", q("/requests/", q=middle.client_token)),
        # Searches by a start (integrations/history.py ``search``), through the pattern indexes of 0013.
        ("history, ARN prefix (one request's, end cut)", q("/requests/", q=succeeded.resource_id[:-4])),
        ("history, ARN prefix of ~1,800 old requests", q("/requests/", q=f"arn:aws:appflow:{WHERE}:connector/erp-12")),
        ("history, ARN prefix of every connector (~160,000)", q("/requests/", q=f"arn:aws:appflow:{WHERE}:connector/")),
        ("history, ARN prefix of every connector, deep", q("/requests/", q=f"arn:aws:appflow:{WHERE}:", cursor=deep)),
        ("history, AWS request id prefix (8)", q("/requests/", q=attempt.aws_request_id[:8])),
        ("history, client token prefix (8)", q("/requests/", q=middle.client_token[:8])),
        ("history, search too short (7, refused)", q("/requests/", q="arn:aws")),
        ("history, ARN prefix, htmx table only", q("/requests/", q=succeeded.resource_id[:-4]) + HTMX),
        ("request page", f"/requests/{middle.pk}/"),
        ("home page", "/"),
        ("CSV export, one day", q("/requests/export.csv", created_from=day, created_to=day)),
        ("API list, first page", "/api/requests/"),
        ("API list, later page (cursor)", api_later),
        ("API list, user + day", q("/api/requests/", user="user07", created_from=day, created_to=day)),
        ("API list, ARN prefix of every connector", q("/api/requests/", q=f"arn:aws:appflow:{WHERE}:connector/")),
        ("CSV export, client token prefix (8)", q("/requests/export.csv", q=middle.client_token[:8])),
        ("admin change list", "/admin/integrations/awsrequest/"),
        ("admin change list, filtered (status)", q("/admin/integrations/awsrequest/", status__exact="failed")),
        ("admin change list, two filters (status + operation)",
         q("/admin/integrations/awsrequest/", status__exact="failed", operation_key="appflow/RegisterConnector")),
        ("admin change list, later page", "/admin/integrations/awsrequest/?p=50"),
        ("admin change list, ARN search", q("/admin/integrations/awsrequest/", q=succeeded.resource_id)),
    ]  # fmt: skip


def main() -> None:
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    seed()
    seeded = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    requests, attempts = AwsRequest.objects.count(), Attempt.objects.count()
    client = Client()
    client.force_login(User.objects.get(username="bench-admin"))
    rows = []
    for name, path in pages():
        htmx = path.endswith(HTMX)
        headers = {"HX-Request": "true"} if htmx else {}
        rows.append((name, *measure(client, path.removesuffix(HTMX), headers)))

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"database: PostgreSQL {server_version}, {requests:,} requests, {attempts:,} attempts, {USERS} users")
    print(f"seeded in {seeded - migrated:.0f} s; {SAMPLES} samples a page after {WARMUP} unmeasured")
    print()
    print("| page | p50 ms | p95 ms | queries | status |")
    print("|---|---:|---:|---:|---:|")
    for name, p50, p95, queries, code in rows:
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {queries} | {code} |")
    print()
    # How the search by a start finds its matches: each kind through its pattern index (0013).
    prefix = AwsRequest.objects.exclude(resource_id="").values_list("resource_id", flat=True)[0][:-4]
    kinds = ("resource_id", "client_token", "aws_request_id")
    for kind, (lookup, _) in zip(kinds, history.prefix_lookups(prefix), strict=True):
        print(f"plan of the {kind} lookup:\n{lookup.explain()}\n")


if __name__ == "__main__":
    main()
