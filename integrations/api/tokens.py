"""API tokens: django-rest-knox's, sent as ``Authorization: Token <key>``.

Only a digest of each token is stored (and the first characters, to find it); the key is shown once,
when it is made. Each expires PORTAL_API_TOKEN_TTL_HOURS after it is made. Its owner makes, lists
and revokes theirs on /accounts/tokens/; ``manage.py create_api_token <username>`` makes one from
the command line. An address that sends wrong tokens (well-formed ones that match none: guesses)
at PORTAL_API_TOKEN_FAILURE_RATE is answered 429 for any token until the window has passed, so
guessing is throttled before a token is checked. The counts live in Django's default cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser, User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.accounts import client_ip

HEX_DIGITS = frozenset(b"0123456789abcdef")


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: ``key`` is what the caller sends, and exists nowhere else."""

    token: AuthToken
    key: str

    @property
    def expiry(self) -> datetime:
        return self.token.expiry


def create_token(user: AbstractBaseUser) -> IssuedToken:
    """A new token for ``user``, expiring PORTAL_API_TOKEN_TTL_HOURS from now."""
    token, key = AuthToken.objects.create(user=user, expiry=timedelta(hours=settings.PORTAL_API_TOKEN_TTL_HOURS))
    return IssuedToken(token, key)


def tokens_of(user: AbstractBaseUser):
    """The user's tokens that still work, newest first (expired ones are deleted as found)."""
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")


def revoke(user: AbstractBaseUser, digest: str) -> bool:
    """Delete ``user``'s token with this digest (what is stored, not the key); False if none is theirs."""
    deleted, _ = AuthToken.objects.filter(user=user, digest=digest).delete()
    return bool(deleted)


# --- authentication, with failed tokens throttled ----------------------------------------------------


class FailedTokenThrottle(SimpleRateThrottle):
    """Counts wrong tokens per address (DRF's sliding window in the cache); once the rate is
    reached, the address is refused before any token is looked at."""

    scope = "api_token_failures"
    num_requests: int  # set by SimpleRateThrottle.__init__ from the rate
    duration: int

    def get_rate(self) -> str | None:
        # Read on each use, so that a changed setting applies.
        return cast(str | None, api_settings.DEFAULT_THROTTLE_RATES[self.scope])

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}

    def blocked(self, request) -> bool:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        self.throttle_success()  # DRF's name for "remember this one"


def well_formed(key: bytes) -> bool:
    """Whether ``key`` could be a token at all: knox's prefix, then its length of hex digits."""
    prefix = knox_settings.TOKEN_PREFIX.encode()
    body = key[len(prefix) :] if key.startswith(prefix) else b""
    return len(body) == knox_settings.AUTH_TOKEN_CHARACTER_LENGTH and all(c in HEX_DIGITS for c in body)


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's ``Token <key>`` authentication, refusing an address that keeps sending wrong tokens.

    A guess is a well-formed token that matches none: those are counted, per address. Anything
    else after ``Token`` cannot match any token, so it is refused (401) without a lookup and is
    not counted, being a broken client rather than a guess."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.authenticate_header(request).encode().lower():
            return None  # no token offered: nothing guessed, and other schemes may answer
        throttle = FailedTokenThrottle()
        if throttle.blocked(request):
            raise exceptions.Throttled(throttle.wait(), detail="Too many wrong tokens from this address.")
        if len(header) != 2:
            return super().authenticate(request)  # knox's own refusal of "Token" with no or two keys
        if not well_formed(header[1]):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.record_failure()
            raise


class TokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI document's name and description of the scheme."""

    target_class = "integrations.api.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: make one at /accounts/tokens/ (it is shown once, and expires).",
        }


# --- the owner's page: make (shown once), list, revoke -----------------------------------------------


def _owner(request: HttpRequest) -> User:
    """The signed-in person (LoginRequiredMiddleware lets nobody else reach these pages)."""
    return cast(User, request.user)


def _page(request: HttpRequest, issued: IssuedToken | None = None) -> HttpResponse:
    response = render(
        request,
        "integrations/api_tokens.html",
        {"tokens": tokens_of(_owner(request)), "issued": issued, "ttl_hours": settings.PORTAL_API_TOKEN_TTL_HOURS},
    )
    response["Cache-Control"] = "no-store"  # the new key must not stay in any cache
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: your tokens (no keys). POST: a new token, its key shown on this one answer only."""
    if request.method == "POST":
        # Rendered, not redirected: the key is never stored, not even for the next page.
        return _page(request, issued=create_token(_owner(request)))
    return _page(request)


@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    if not revoke(_owner(request), request.POST.get("digest", "")):
        raise Http404("No such token of yours.")
    messages.success(request, "The token is revoked: it no longer works.")
    return HttpResponseRedirect(reverse("api_tokens"))


urlpatterns = [
    path("", token_list, name="api_tokens"),
    path("revoke/", token_revoke, name="api_token_revoke"),
]
