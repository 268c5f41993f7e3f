"""``manage.py create_api_token <username>``: an API token for a user, printed once."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.api.tokens import create_token


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print it (only a digest is stored: it cannot be shown again). "
        "It expires after PORTAL_API_TOKEN_TTL_HOURS; its owner revokes it at /accounts/tokens/."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, **options) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist:
            raise CommandError(f"No user {options['username']!r}.") from None
        if not user.is_active:
            raise CommandError(f"{options['username']!r} is deactivated: a token of theirs would not work.")
        issued = create_token(user)
        self.stderr.write(f"Token for {user.get_username()}, expires {issued.expiry:%Y-%m-%d %H:%M} UTC:")
        self.stdout.write(issued.key)
