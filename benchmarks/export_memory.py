"""Peak memory of the streamed history export, for a small and a large history.

    .venv/bin/python benchmarks/export_memory.py

Uses a throwaway SQLite database. If the export streamed nothing, its peak would grow with the
number of rows; streamed (iterator() in chunks), it stays flat. Prints figures only.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
folder = tempfile.mkdtemp()
os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from integrations import history  # noqa: E402
from integrations.models import AwsRequest as Request  # noqa: E402


def measure(user, total: int) -> None:
    have = Request.objects.count()
    Request.objects.bulk_create(
        Request(
            service="appfabric",
            operation="CreateIngestion",
            parameters={"app": "SLACK", "tenantId": f"tenant-{i}", "appBundleIdentifier": "x" * 200},
            region="us-east-1",
            created_by=user,
        )
        for i in range(total - have)
    )
    _, requests = history.history(user)
    tracemalloc.start()
    started = time.perf_counter()
    size = sum(len(line) for line in history.csv_lines(user, requests))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{total:>6} requests: {size / 1e6:.1f} MB of CSV in {elapsed:.2f} s, peak Python memory {peak / 1e6:.1f} MB")


def main() -> None:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", "bench@localhost", "bench")
    for total in (2_000, 20_000):
        measure(user, total)


if __name__ == "__main__":
    main()
