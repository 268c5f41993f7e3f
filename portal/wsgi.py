import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# No PORTAL_ENVIRONMENT default: unset means production (portal/settings.py).
application = get_wsgi_application()
