"""The Resources page at half a million resources: p50/p95 and query count of the page, each
filter, a deep cursor page, the export of a day, the API list and the admin change list; and the
reconciliation's selection of due checks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/resources_at_scale.py

PostgreSQL only. Drops and recreates a scratch database (`portal_bench_resources` on the
DATABASE_URL's server), migrates it, and seeds it once with SQL (INSERT … SELECT …
generate_series): BENCH_RESOURCES (500,000) succeeded requests over 90 days, for 20 users in three
targets, each with its resource in the five operations' real shapes and a realistic spread of
statuses (mostly confirmed; some changed, gone, pending, unconfirmed), and a tenth due for a check.
Then VACUUM ANALYZE, and each page is fetched in this process through Django's test Client,
signed in as a superuser: BENCH_WARMUP (3) times unmeasured, then BENCH_SAMPLES (30) times
measured, and once more counting its queries.

Prints a table and the machine; asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")
os.environ.setdefault("DJANGO_DEBUG", "false")  # as in production: DEBUG keeps every query in memory
SCRATCH = "portal_bench_resources"
RESOURCES = int(os.environ.get("BENCH_RESOURCES", "500000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
USERS = 20
DAYS = 90
HTMX = "#htmx"  # marks a page fetched as htmx fetches it (HX-Request)

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit(
        "resources_at_scale.py measures PostgreSQL only: set DATABASE_URL=postgres://… (a server where it may "
        f"drop and create the database {SCRATCH})."
    )

from scratch import use_scratch_database  # noqa: E402 - benchmarks/, beside this script

use_scratch_database(SCRATCH)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import StreamingHttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from integrations import history, resources  # noqa: E402
from integrations.models import AwsRequest, AwsTarget, Resource  # noqa: E402

WHERE = "us-east-1:111122223333"
# One row per operation: how its ARN or id looks (SQL, from the row's number ``g`` and a uuid ``u``).
OPERATIONS = [
    ("appfabric", "CreateIngestion", f"'arn:aws:appfabric:{WHERE}:appbundle/' || u || '/ingestion/' || g"),
    ("appflow", "RegisterConnector", f"'arn:aws:appflow:{WHERE}:connector/erp-' || g"),
    ("appintegrations", "CreateDataIntegration", f"'arn:aws:app-integrations:{WHERE}:data-integration/' || u"),
    ("partnercentral-selling", "CreateResourceSnapshotJob",
     f"'arn:aws:partnercentral:{WHERE}:catalog/AWS/resource-snapshot-job/job-' || g"),
    ("supplychain", "SendDataIntegrationEvent", "u"),
]  # fmt: skip
# Out of 100 resources: what a year of reconciliation finds.
STATUSES = ["confirmed"] * 88 + ["changed"] * 4 + ["gone"] * 4 + ["unconfirmed"] * 3 + ["pending"]


def seed() -> None:
    """The users and targets through the ORM; the requests and their resources in two SQL statements."""
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
    statuses = "ARRAY[" + ", ".join(f"'{s}'" for s in STATUSES) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute(
            f"""
            INSERT INTO integrations_awsrequest (
                service, operation, parameters, target_id, account_id, region, idempotency_key, client_token,
                created_by_id, created_by_username, created_at, updated_at, status, enqueued_at,
                next_attempt_at, claim_id, lease_expires_at, finished_at, resource_id, response, error_code,
                error_message, handoffs, attempt_base, retry_of_id)
            SELECT ({services})[op], ({names})[op], jsonb_build_object('name', 'bench-' || g),
                   {first_target} + g % 3, '111122223333', CASE g % 3 WHEN 2 THEN 'eu-west-1' ELSE 'us-east-1' END,
                   NULL, md5('token' || g)::uuid::text,
                   {first_user} + g % {USERS}, 'user' || lpad((g % {USERS})::text, 2, '0'), at, at, 'succeeded', at,
                   NULL, NULL, NULL, at + interval '2 seconds', {resource}, jsonb_build_object('id', u), '', '', 0, 0,
                   NULL
            FROM (
                SELECT g, 1 + (hashint4(g) & 2147483647) % {len(OPERATIONS)} AS op,
                       md5('resource' || g)::uuid::text AS u,
                       now() - interval '{DAYS} days' * (1 - g::float8 / {RESOURCES}) AS at
                FROM generate_series(1, {RESOURCES}) AS g
            ) AS seeds
            """
        )
        # Each request's resource, made as it succeeded; checked within the last six hours, a tenth
        # of them due now (the reconciliation's backlog).
        cursor.execute(
            f"""
            INSERT INTO integrations_resource (
                request_id, service, operation, resource_id, name, target_id, account_id, region, created_by_id,
                created_by_username, created_at, status, state, baseline, observed, changes, checked_at,
                check_error, checks, failed_checks, next_check_at, check_started_at, check_sent_at,
                status_changed_at)
            SELECT r.id, r.service, r.operation, r.resource_id, 'bench ' || r.id, r.target_id, r.account_id,
                   r.region, r.created_by_id, r.created_by_username, r.finished_at, s.status,
                   CASE WHEN s.status IN ('confirmed', 'changed') THEN 'enabled' ELSE '' END,
                   CASE WHEN s.status IN ('pending', 'unconfirmed') THEN NULL
                        ELSE jsonb_build_object('state', 'enabled', 'tenantId', 'tenant-' || r.id) END,
                   CASE WHEN s.status IN ('pending', 'unconfirmed') THEN NULL
                        ELSE jsonb_build_object('state', 'enabled', 'tenantId', 'tenant-' || r.id) END,
                   CASE WHEN s.status = 'changed'
                        THEN jsonb_build_array(jsonb_build_object('field', 'tenantId', 'was', 'tenant-' || r.id,
                                                                  'now', 'renamed'))
                        ELSE '[]'::jsonb END,
                   now() - interval '6 hours' * ((r.id % 97) / 97.0),
                   CASE WHEN s.status = 'unconfirmed' THEN 'AccessDeniedException: not authorized' ELSE '' END,
                   1 + r.id % 50, 0,
                   CASE WHEN r.id % 10 = 0 THEN now() - interval '1 minute' ELSE now() + interval '3 hours' END,
                   NULL, NULL, NULL
            FROM integrations_awsrequest AS r,
                 LATERAL (SELECT ({statuses})[1 + (hashint4(r.id::int + 11) & 2147483647) % 100] AS status) AS s
            """
        )
    with connection.cursor() as cursor:
        for table in ("integrations_awsrequest", "integrations_resource"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def timed(run: Callable[[], object]) -> tuple[float, float, int]:
    """p50 and p95 in ms of ``run``, and the queries of one more run."""
    for _ in range(WARMUP):
        run()
    times = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        run()
    cuts = statistics.quantiles(times, n=20, method="inclusive")
    return statistics.median(times), cuts[18], len(queries)


def page_fetch(client: Client, path: str) -> Callable[[], int]:
    headers = {"HX-Request": "true"} if path.endswith(HTMX) else {}
    path = path.removesuffix(HTMX)

    def fetch() -> int:
        response = client.get(path, headers=headers)
        if isinstance(response, StreamingHttpResponse):
            b"".join(response.streaming_content)
        assert response.status_code == 200, (path, response.status_code)
        return response.status_code

    return fetch


def pages() -> list[tuple[str, str]]:
    """Every page to measure, with its path, found in the seeded data."""
    middle_pk = Resource.objects.order_by("pk").values_list("pk", flat=True)[RESOURCES // 2]
    middle = Resource.objects.get(pk=middle_pk)
    deep = history.Cursor.of(middle, older=True).token()
    day = timezone.localdate(middle.created_at).isoformat()
    week_before = (timezone.localdate(middle.created_at) - dt.timedelta(days=7)).isoformat()

    def q(path: str, **query: str) -> str:
        return f"{path}?{urlencode(query)}"

    return [
        ("resources, first page", "/resources/"),
        (f"resources, deep page (cursor, {RESOURCES // 2:,} rows in)", q("/resources/", cursor=deep)),
        ("resources, htmx table only", "/resources/" + HTMX),
        ("resources, operation", q("/resources/", operation="appflow/RegisterConnector")),
        ("resources, status changed", q("/resources/", status="changed")),
        ("resources, status pending (rare)", q("/resources/", status="pending")),
        ("resources, user", q("/resources/", user="user07")),
        ("resources, target", q("/resources/", target="europe")),
        ("resources, one day", q("/resources/", created_from=day, created_to=day)),
        ("resources, user + week", q("/resources/", user="user07", created_from=week_before, created_to=day)),
        ("resources, status + operation, deep",
         q("/resources/", status="gone", operation="supplychain/SendDataIntegrationEvent", cursor=deep)),
        ("resources, ARN search", q("/resources/", q=middle.resource_id)),
        ("CSV export, one day", q("/resources/export.csv", created_from=day, created_to=day)),
        ("JSON lines export, one day", q("/resources/export.jsonl", created_from=day, created_to=day)),
        ("API list, first page", "/api/resources/"),
        ("API list, deep page (cursor)", q("/api/resources/", cursor=deep)),
        ("API list, status + day", q("/api/resources/", status="confirmed", created_from=day, created_to=day)),
        ("admin change list", "/admin/integrations/resource/"),
        ("admin change list, status + operation",
         q("/admin/integrations/resource/", status__exact="gone", operation_key="appflow/RegisterConnector")),
        ("admin change list, ARN search", q("/admin/integrations/resource/", q=middle.resource_id)),
    ]  # fmt: skip


def main() -> None:
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    seed()
    seeded = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    counted = Resource.objects.count(), AwsRequest.objects.count()
    client = Client()
    client.force_login(User.objects.get(username="bench-admin"))
    rows = [(name, *timed(page_fetch(client, path))) for name, path in pages()]
    # The reconciliation's selection (no publish): what beat's housekeeper does every run.
    per_target = resources.per_target_limit()
    rows.append(
        (
            f"reconciliation: select due ({per_target} a target)",
            *timed(lambda: resources.select_due(timezone.now(), per_target)),
        )
    )

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"database: PostgreSQL {server_version}, {counted[0]:,} resources of {counted[1]:,} requests, {USERS} users")
    print(f"seeded in {seeded - migrated:.0f} s; {SAMPLES} samples a page after {WARMUP} unmeasured")
    print()
    print("| page | p50 ms | p95 ms | queries |")
    print("|---|---:|---:|---:|")
    for name, p50, p95, queries in rows:
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {queries} |")


if __name__ == "__main__":
    main()
