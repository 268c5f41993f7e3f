"""``manage.py retry_request <id>``: retry a failed request, with its client token when that is safe."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.models import AwsRequest
from integrations.operator import RetryRefusedError, retry


def find_request(pk: int) -> AwsRequest:
    try:
        return AwsRequest.objects.select_related("target", "created_by").get(pk=pk)
    except AwsRequest.DoesNotExist:
        raise CommandError(f"There is no request #{pk}.", returncode=2) from None


def find_user(username: str):
    user_model = get_user_model()
    try:
        user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
    except user_model.DoesNotExist:
        raise CommandError(f"There is no user {username!r}.", returncode=2) from None
    if not user.is_active:
        raise CommandError(f"{username!r} is deactivated.", returncode=2)
    return user


class Command(BaseCommand):
    help = (
        "Retry a failed request. When its last failure may have reached AWS (retries used up on a timeout, "
        "throttle, 5xx or an interrupted call) and its client token is still honoured (8 hours from its first "
        "call where the docs say so, and assumed where they say nothing), the request itself is reopened and "
        "called again with the same token, so AWS returns what the first call made. Otherwise a new request, "
        "with a new client token, is made for --as (default: the author) through the portal's rules (approval "
        "rules apply) and linked to the old one; when the old call may have made the resource but its token "
        "has expired, that is refused unless --accept-duplicate-risk. Exit status 0: retried; 2: refused or bad "
        "options."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("id", type=int, help="the failed request's number (#id)")
        parser.add_argument(
            "--as", dest="username", help="who retries: may run the operation in the target (default: the author)"
        )
        parser.add_argument(
            "--accept-duplicate-risk",
            action="store_true",
            help="make a new request even though the old call may have made the resource (check the account first)",
        )

    def handle(self, *args, **options) -> None:
        aws_request = find_request(options["id"])
        user = find_user(options["username"]) if options["username"] else aws_request.created_by
        try:
            result = retry(aws_request, user, accept_duplicate_risk=options["accept_duplicate_risk"])
        except RetryRefusedError as refused:
            raise CommandError(str(refused), returncode=2) from None
        retried = result.aws_request
        if result.plan.path == "reopen":
            self.stdout.write(
                f"Reopened request #{retried.pk} with the same client token {retried.client_token}: "
                f"{result.plan.reason}. Its attempts count again from {retried.attempt_base + 1}; "
                f"status: {retried.get_status_display().lower()}."
            )
        else:
            risk = " (duplicate risk accepted)" if result.plan.duplicate_risk else ""
            self.stdout.write(
                f"Recorded request #{retried.pk} (retry of #{aws_request.pk}) with a new client token, for "
                f"{user.get_username()}{risk}: {result.plan.reason}. Status: {retried.get_status_display().lower()}."
            )
