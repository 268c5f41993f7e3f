"""``manage.py stuck_requests``: requests no worker will pick up, and requests waiting too long."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from integrations.operator import ListedRequest, duration, list_stuck


def minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not 0 < value <= 525_600:  # a year: anything longer is a typo
        raise argparse.ArgumentTypeError("must be more than 0 and at most 525600 minutes (a year)")
    return value


class Command(BaseCommand):
    help = (
        "List the requests no worker will pick up unless they are handed over again (never enqueued, lost in "
        "the queue, overdue for retry, abandoned by a dead worker: what the sweeper hands over), and with "
        "--older-than every unfinished request made longer ago than that. Exit status 0: none; 1: some listed; "
        "2: bad options. `manage.py sweep_once` hands the stuck ones over."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=minutes,
            metavar="MINUTES",
            help="also list unfinished requests (awaiting approval, queued, retrying, running) older than this",
        )
        parser.add_argument("--json", action="store_true", help="print a JSON list (one object per request)")

    def handle(self, *args, **options) -> None:
        older_than = dt.timedelta(minutes=options["older_than"]) if options["older_than"] else None
        listed = list_stuck(timezone.now(), older_than)
        if options["json"]:
            self.stdout.write(json.dumps([row.as_json() for row in listed], indent=2))
        elif listed:
            self.stdout.write(table(listed))
        else:
            waiting = f" and no unfinished request older than {options['older_than']:g} min" if older_than else ""
            self.stdout.write(f"No stuck request{waiting}.")
        if listed:
            raise SystemExit(1)


def table(listed: list[ListedRequest]) -> str:
    header = ("id", "operation", "status", "age", "last enqueued", "attempts", "why")
    rows = [
        (
            f"#{row.id}",
            row.operation,
            row.status,
            duration(row.age),
            row.enqueued_at.strftime("%Y-%m-%d %H:%M:%S") if row.enqueued_at else "never",
            str(row.attempts),
            row.why,
        )
        for row in listed
    ]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[-1]
             for line in [header, *rows]]  # fmt: skip
    stuck = sum(row.stuck for row in listed)
    lines.append(f"{len(listed)} request(s), {stuck} stuck (all times UTC).")
    return "\n".join(lines)
