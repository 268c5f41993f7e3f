from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"oidc_enabled": settings.OIDC_ENABLED}
