from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
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
