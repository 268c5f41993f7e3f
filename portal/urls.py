from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from integrations import accounts, metrics
from portal import health

urlpatterns = [
    # For probes and scrapers, open to anyone who can reach the port (metrics need their token):
    # docs/monitoring.md.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # django.contrib.auth.urls' routes and names, with the lockout, single-sign-on-only mode and
    # password reset only where mail is configured (integrations/accounts.py).
    path("accounts/", include(accounts.urlpatterns)),
    # Your API tokens: make one (shown once), list, revoke (integrations/api/tokens.py).
    path("accounts/tokens/", include("integrations.api.tokens")),
    # Before the admin's own routes: the admin's sign-in, with the same checks as the portal's.
    path("admin/login/", accounts.admin_login),
    path("admin/", admin.site.urls),
    # The API reference (Swagger UI over /api/schema/) for signed-in people: the split view serves its
    # start-up script from its own address (?script), since the Content-Security-Policy refuses inline
    # scripts; the page is the portal's own (templates/api_reference.html), not drf-spectacular's, whose
    # inline <style> the policy refuses too. DRF marks its views login_not_required (it authenticates
    # itself, answering 401): login_required sends a signed-out visitor to sign in instead, like any page.
    path(
        "api/reference/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_reference.html")),
        name="api_reference",
    ),
    path("api/", include("integrations.api.urls")),
    path("", include("integrations.urls")),
]

if settings.OIDC_ENABLED:
    from mozilla_django_oidc import views as oidc

    # The sign-in round trip happens before anyone is signed in.
    urlpatterns.insert(
        0,
        path(
            "oidc/",
            include(
                [
                    path(
                        "authenticate/",
                        login_not_required(oidc.OIDCAuthenticationRequestView.as_view()),
                        name="oidc_authentication_init",
                    ),
                    path(
                        "callback/",
                        login_not_required(oidc.OIDCAuthenticationCallbackView.as_view()),
                        name="oidc_authentication_callback",
                    ),
                    path("logout/", oidc.OIDCLogoutView.as_view(), name="oidc_logout"),
                ]
            ),
        ),
    )
