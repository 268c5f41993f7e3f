"""``manage.py sweep_once``: the sweeper, run once, by hand."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from integrations import pipeline


class Command(BaseCommand):
    help = (
        "Run the sweeper once, as beat does every few seconds: hand every stuck request (see "
        "`manage.py stuck_requests`) to the broker again, and print their ids. Safe while beat runs: rows are "
        "claimed with SKIP LOCKED, and a request handed over twice still runs once. Exit status 0."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the ids handed over as a JSON list")

    def handle(self, *args, **options) -> None:
        ids = pipeline.sweep()
        if options["json"]:
            self.stdout.write(json.dumps(ids))
        elif ids:
            self.stdout.write(f"Handed over {len(ids)} request(s): " + ", ".join(f"#{pk}" for pk in ids))
        else:
            self.stdout.write("Nothing to hand over: no request is stuck.")
