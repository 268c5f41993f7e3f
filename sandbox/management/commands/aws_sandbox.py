"""``manage.py aws_sandbox``: serve the local AWS sandbox until interrupted."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox.behaviours import BEHAVIOURS
from sandbox.reads import READS
from sandbox.server import CONTROL_PREFIX, SandboxServer


class Command(BaseCommand):
    help = (
        "Serve the local AWS sandbox (the portal's operations and the reads behind its pickers, with faults on demand)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.AWS_SANDBOX_PORT)
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to bind (default 127.0.0.1: the sandbox has no authentication)",
        )

    def handle(self, *args, port: int, host: str, verbosity: int, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("The AWS sandbox is a development and test tool; it never runs in production.")
        if verbosity > 1:
            logging.getLogger("sandbox").setLevel(logging.DEBUG)
        try:
            server = SandboxServer((host, port))
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write(
            f"AWS sandbox on {server.url} ({len(BEHAVIOURS)} operations, {len(READS)} reads)", ending="\n"
        )
        self.stdout.write(f"Control API: {server.url}{CONTROL_PREFIX}", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
