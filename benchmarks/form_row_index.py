"""Time and peak memory of validating an operation's form, by the highest row index it was sent.

    .venv/bin/python benchmarks/form_row_index.py

The form builds only the rows that were sent: a row numbered 99,999,999 costs what a row numbered
1 costs (and is refused), instead of building every row below it. For scale, the largest form any
registered operation can need (every bounded list and map at its model maximum) is measured too.
Needs no database; prints figures only.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENVIRONMENT", "development")

import django

django.setup()

from integrations.forms import OperationForm  # noqa: E402
from operations import Operation, get_operation, largest_form_size  # noqa: E402
from tests.factories import ingestion_form_data  # noqa: E402
from tests.integrations.test_trust_limits import largest_data_integration  # noqa: E402


def measure(label: str, operation: Operation, data: dict[str, str], repeat: int = 5) -> None:
    OperationForm(operation, data).is_valid()  # warm caches (the model, compiled patterns)
    started = time.perf_counter()
    for _ in range(repeat):
        form = OperationForm(operation, data)
        valid = form.is_valid()
    elapsed = (time.perf_counter() - started) / repeat
    tracemalloc.start()  # measured apart: tracing slows everything down
    OperationForm(operation, data).is_valid()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    errors = "; ".join(str(m) for messages in form.errors.values() for m in messages)[:70]
    print(f"{label:<34} {elapsed * 1000:8.2f} ms  peak {peak / 1e6:6.2f} MB  fields {len(form.fields):>5}  "
          f"{'valid' if valid else errors}")  # fmt: skip


def main() -> None:
    ingestion = get_operation("appfabric/CreateIngestion")
    for index in (0, 49, 50, 100_000, 99_999_999):
        measure(f"tags__{index}__key", ingestion, ingestion_form_data(**{f"tags__{index}__key": "k"}))
    measure("tags__<5,000 digits>__key", ingestion, ingestion_form_data(**{"tags__" + "9" * 5000 + "__key": "k"}))
    largest = largest_data_integration()
    measure(f"largest form ({largest_form_size():,} fields)", get_operation("appintegrations/CreateDataIntegration"),
            largest, repeat=3)  # fmt: skip


if __name__ == "__main__":
    main()
