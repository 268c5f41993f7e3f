"""``manage.py ensure_local_admin``: a sign-in and a sandbox target for `make run`."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.models import AwsTarget
from sandbox.behaviours import SANDBOX_ACCOUNT_ID

USERNAME = "admin"
PASSWORD = "admin"  # local development only; refused in production below
SANDBOX_TARGET = "Sandbox"


class Command(BaseCommand):
    help = "Create the local admin user (admin/admin) and the sandbox target if missing; say how to sign in."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("ensure_local_admin creates a well-known password; it never runs in production.")
        user_model = get_user_model()
        if not user_model.objects.filter(username=USERNAME).exists():
            user_model.objects.create_superuser(USERNAME, "admin@localhost", PASSWORD)
            self.stdout.write(f"Created the local admin user {USERNAME!r}.")
        target, created = AwsTarget.objects.get_or_create(
            name=SANDBOX_TARGET,
            defaults={"account_id": SANDBOX_ACCOUNT_ID, "region": settings.AWS_DEFAULT_REGION},
        )
        if created:
            self.stdout.write(f"Created the AWS target {target} (calls go to {settings.AWS_ENDPOINT_URL}).")
        self.stdout.write(f"Sign in at http://127.0.0.1:8000/ as {USERNAME} / {PASSWORD}")
