"""``manage.py cancel_request <id>``: take back a request no worker is running."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integrations.management.commands.retry_request import find_request, find_user
from integrations.operator import CancelRefusedError, cancel


class Command(BaseCommand):
    help = (
        "Cancel a request that is awaiting approval, queued or retrying: it becomes final and nothing runs it. "
        "A running request is refused, since its AWS call may be in flight. Who cancelled it (--as, the author, "
        "an approver or a superuser) and why is kept on the request. Exit status 0: cancelled; 2: refused or "
        "bad options."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("id", type=int, help="the request's number (#id)")
        parser.add_argument(
            "--as", dest="username", required=True, help="who cancels: the author, an approver or a superuser"
        )
        parser.add_argument("--reason", default="", help="why, kept on the request with who cancelled it")

    def handle(self, *args, **options) -> None:
        aws_request = find_request(options["id"])
        user = find_user(options["username"])
        try:
            cancel(aws_request, user, options["reason"])
        except CancelRefusedError as refused:
            raise CommandError(str(refused), returncode=2) from None
        self.stdout.write(f"Cancelled request #{aws_request.pk} as {user.get_username()}.")
