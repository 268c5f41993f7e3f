#!/usr/bin/env python
"""Django's command-line utility for the Integrations Portal."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # No PORTAL_ENVIRONMENT default here (nor in portal/celery.py or portal/wsgi.py): unset means production.
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
