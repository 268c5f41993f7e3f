"""``manage.py preflight``: is everything the portal needs there? One line per check."""

from __future__ import annotations

import argparse
import json

from django.core.management.base import BaseCommand

from integrations.operator import preflight


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 60 seconds")
    return value


class Command(BaseCommand):
    help = (
        "Check what the portal needs and print one line per check: the database (connects, migrations "
        "applied), the broker (connects, both queues declared), each active AWS target's credentials (STS "
        "GetCallerIdentity, then the target's role assumption) and, in production, the deployment settings "
        "(Django's deploy checks among them). Every check gives up after --timeout seconds; no secret is "
        "printed. Exit status 0: all passed (skipped ones say why); 1: something failed; 2: bad options."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--timeout", type=seconds, default=5.0, metavar="SECONDS", help="per check (default 5, at most 60)"
        )
        parser.add_argument("--json", action="store_true", help="print a JSON list (one object per check)")

    def handle(self, *args, **options) -> None:
        checks = preflight(options["timeout"])
        if options["json"]:
            self.stdout.write(json.dumps([check.as_json() for check in checks], indent=2))
        else:
            width = max(len(check.name) for check in checks)
            for check in checks:
                self.stdout.write(f"{check.word:<4}  {check.name:<{width}}  {check.detail}")
        failed = [check for check in checks if check.ok is False]
        if failed:
            if not options["json"]:
                self.stdout.write(f"{len(failed)} of {len(checks)} check(s) failed.")
            raise SystemExit(1)
