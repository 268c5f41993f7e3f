"""Signing in and staying signed in: the sign-in form and the admin's, with the lockout after too
many failed passwords (django-axes), single-sign-on-only mode, password reset only where mail is
configured, and the idle and absolute session timeouts.

Settings (portal/settings.py, "Accounts"): PORTAL_PASSWORD_SIGN_IN, PORTAL_LOGIN_FAILURE_LIMIT,
PORTAL_LOGIN_COOLOFF_SECONDS, PORTAL_SESSION_IDLE_SECONDS, PORTAL_SESSION_MAX_SECONDS,
PORTAL_TRUSTED_PROXY_COUNT, EMAIL_HOST. Every one is read when a request comes, not at import.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

PASSWORD_SIGN_IN_OFF = "Password sign-in is turned off here: sign in with single sign-on."


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind PORTAL_TRUSTED_PROXY_COUNT reverse proxies the
    address the outermost trusted one saw (X-Forwarded-For counted from the right, as DRF does)."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.PORTAL_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote


def password_sign_in() -> bool:
    return bool(settings.PORTAL_PASSWORD_SIGN_IN)


def password_reset_available() -> bool:
    """Reset mails a link: offered only with mail configured, and only where passwords are used."""
    return password_sign_in() and bool(settings.EMAIL_HOST)


# --- the lockout and single-sign-on-only checks, shared by both sign-in pages -----------------------


def _refused(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "registration/login.html",
        {"password_sign_in": False, "refused": PASSWORD_SIGN_IN_OFF, "next": request.GET.get("next", "")},
        status=403,
    )


def _locked_out(request: HttpRequest) -> HttpResponse | None:
    """The lockout page when this username and address are locked out, before any password is
    checked (so the right password is refused too); None to go on. Failures themselves are
    recorded by axes from Django's user_login_failed signal."""
    if not settings.AXES_ENABLED:
        return None
    username = request.POST.get("username")
    credentials = {"username": username} if username else None
    if AxesProxyHandler.is_allowed(request, credentials):
        return None
    return get_lockout_response(request, None, credentials)


def _password_post_refusal(request: HttpRequest) -> HttpResponse | None:
    if request.method != "POST":
        return None
    if not password_sign_in():
        return _refused(request)
    return _locked_out(request)


class LoginView(auth_views.LoginView):
    """Django's sign-in page, refusing locked-out attempts and, in single-sign-on-only mode, any."""

    def post(self, request, *args, **kwargs):
        return _password_post_refusal(request) or super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            password_sign_in=password_sign_in(), password_reset=password_reset_available(), **kwargs
        )


@login_not_required
def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin's sign-in with the same checks; in single-sign-on-only mode it sends people to the
    portal's sign-in page (which offers single sign-on) and back."""
    refusal = _password_post_refusal(request)
    if refusal is not None:
        return refusal
    if not password_sign_in():
        next_url = request.GET.get("next") or reverse("admin:index")
        if request.user.is_authenticated:
            if not request.user.is_staff:
                raise PermissionDenied("This account may not use the admin.")
            return admin.site.login(request, extra_context)  # redirects a signed-in member of staff
        return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
    return admin.site.login(request, extra_context)


def _needs(available: Callable[[], bool]):
    """A view that exists only when ``available()``: otherwise 404, as if never routed."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not available():
                raise Http404("Not available here.")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


_passwords = _needs(password_sign_in)
_reset = _needs(password_reset_available)

# What django.contrib.auth.urls routes, by the same names, with the checks above.
urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", _passwords(auth_views.PasswordChangeView.as_view()), name="password_change"),
    path(
        "password_change/done/",
        _passwords(auth_views.PasswordChangeDoneView.as_view()),
        name="password_change_done",
    ),
    path("password_reset/", _reset(auth_views.PasswordResetView.as_view()), name="password_reset"),
    path("password_reset/done/", _reset(auth_views.PasswordResetDoneView.as_view()), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        _reset(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path("reset/done/", _reset(auth_views.PasswordResetCompleteView.as_view()), name="password_reset_complete"),
]


# --- sessions ---------------------------------------------------------------------------------------

LAST_ACTIVITY = "portal_last_activity"
# The last activity is written at most this often: writing it on every request saved the whole
# session on every request, so two overlapping requests (a field checked while the preview loads)
# could each save their own copy and lose what the other put there (the review's held sensitive
# values). The idle timeout is then exact to within this many seconds.
ACTIVITY_RESOLUTION = 60.0
SIGNED_IN_AT = "portal_signed_in_at"
# The request page's status polls itself every second (hx-trigger="every 1s" on #request-status):
# that is the page, not the person, so it neither keeps a session alive nor counts as activity.
POLLING_TRIGGERS = frozenset({"request-status"})
TIMED_OUT = "You were signed out after a while without activity. Sign in again to go on."
TOO_OLD = "Your session reached its longest allowed time. Sign in again to go on."


def is_activity(request: HttpRequest) -> bool:
    """Anything a person does; not the htmx polling of a page left open."""
    polling = (
        request.method == "GET"
        and request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Trigger") in POLLING_TRIGGERS
    )
    return not polling


class SessionTimeoutMiddleware:
    """Signs out a session idle for PORTAL_SESSION_IDLE_SECONDS, or signed in more than
    PORTAL_SESSION_MAX_SECONDS ago, whatever its activity. Timestamps live in the session; the last
    activity is written on each request that counts as activity (so not on polling)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ended = self._check(request)
        if ended is not None:
            return ended
        response = self.get_response(request)
        # Signed in during this request (the sign-in page, the single sign-on callback): start the
        # clocks. The session says so, not request.user, which DRF sets for a token too.
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session and SIGNED_IN_AT not in session:
            now = time.time()
            session[SIGNED_IN_AT] = now
            session[LAST_ACTIVITY] = now
        return response

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        if not request.user.is_authenticated:
            return None
        session = request.session
        now = time.time()
        signed_in_at = session.get(SIGNED_IN_AT)
        last_activity = session.get(LAST_ACTIVITY)
        if signed_in_at is not None and now - signed_in_at > settings.PORTAL_SESSION_MAX_SECONDS:
            return self._end(request, TOO_OLD)
        if last_activity is not None and now - last_activity > settings.PORTAL_SESSION_IDLE_SECONDS:
            return self._end(request, TIMED_OUT)
        if signed_in_at is None:  # a session from before these clocks (or force_login): start them now
            session[SIGNED_IN_AT] = now
            session[LAST_ACTIVITY] = now
        elif is_activity(request) and (last_activity is None or now - last_activity >= ACTIVITY_RESOLUTION):
            session[LAST_ACTIVITY] = now
        return None

    def _end(self, request: HttpRequest, why: str) -> HttpResponse | None:
        logout(request)  # request.user is now anonymous: LoginRequiredMiddleware sends them to sign in
        messages.info(request, why)
        if request.headers.get("HX-Request") == "true":
            # A fragment (e.g. the status polling) would swap the sign-in page into the page: reload
            # the whole page instead, which then goes to the sign-in page and back.
            return HttpResponse(status=200, headers={"HX-Refresh": "true"})
        return None
