"""API tokens: stored as digests only, shown once, expiring, revoked by their owner alone, made on
/accounts/tokens/ or by ``manage.py create_api_token``; and wrong tokens throttled per address."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from integrations.api.tokens import create_token
from tests.factories import make_operator, make_user

PAGE = "/accounts/tokens/"
KEY = re.compile(r'<code id="token-key">([0-9a-f]{64})</code>')


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_throttle_history():
    """The failed-token counts live in the cache, which outlives a test: start and leave it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator(db):
    return make_operator("operator")


def call(client, key: str, **extra):
    return client.get("/api/requests/", headers={"Authorization": f"Token {key}"}, **extra)


def make_on_the_page(client, user) -> str:
    client.force_login(user)
    response = client.post(PAGE)
    assert response.status_code == 200
    client.logout()
    return KEY.search(response.content.decode())[1]


# --- made on the page, shown once, stored as a digest -----------------------------------------------


def test_a_token_made_on_the_page_works_and_is_shown_once(client, operator):
    key = make_on_the_page(client, operator)

    assert call(client, key).status_code == 200
    client.force_login(operator)
    listing = client.get(PAGE)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert key not in html
    assert key[:8] in html  # listed by its first characters, to tell tokens apart
    assert html.count("Revoke</button>") == 1


def test_the_page_that_shows_a_key_is_not_cached(client, operator):
    client.force_login(operator)

    response = client.post(PAGE)

    assert "no-store" in response["Cache-Control"]


def test_a_token_is_stored_as_a_digest_never_as_its_key(client, operator):
    key = make_on_the_page(client, operator)

    [token] = AuthToken.objects.all()
    assert token.digest == hashlib.sha512(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert not any(key in value for value in stored)
    assert not any(value == key[: len(value)] and len(value) > 15 for value in stored)  # only a short prefix


def test_drf_authtoken_is_gone_with_its_admin(admin_client):
    from django.contrib import admin

    assert "rest_framework.authtoken" not in django_settings.INSTALLED_APPS
    assert not any(model._meta.app_label == "authtoken" for model in admin.site._registry)


def test_the_admin_lists_tokens_without_their_keys(admin_client, operator):
    issued = create_token(operator)

    html = admin_client.get("/admin/knox/authtoken/").content.decode()

    assert issued.token.digest in html  # a digest is not a key
    assert issued.key not in html


def test_the_page_needs_a_signed_in_person(client, db):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={PAGE}"
    assert client.post(PAGE).status_code == 302
    assert not AuthToken.objects.exists()


def test_the_authorization_header_keeps_its_token_form(client, operator):
    issued = create_token(operator)

    assert client.get("/api/requests/", headers={"Authorization": f"Token {issued.key}"}).status_code == 200
    assert client.get("/api/requests/", headers={"Authorization": f"token {issued.key}"}).status_code == 200
    refused = client.get("/api/requests/", headers={"Authorization": f"Bearer {issued.key}"})
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Token"


# --- expiry ------------------------------------------------------------------------------------------


def test_a_token_expires_after_the_configured_time(client, operator, settings):
    settings.PORTAL_API_TOKEN_TTL_HOURS = 2
    before = timezone.now()

    issued = create_token(operator)

    assert before + timedelta(hours=2) <= issued.expiry <= timezone.now() + timedelta(hours=2)
    assert call(client, issued.key).status_code == 200
    AuthToken.objects.filter(pk=issued.token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert call(client, issued.key).status_code == 401
    assert not AuthToken.objects.filter(pk=issued.token.pk).exists()  # an expired token is deleted when seen


def test_the_default_lifetime_is_ninety_days(operator):
    issued = create_token(operator)

    assert django_settings.PORTAL_API_TOKEN_TTL_HOURS == 90 * 24
    assert abs(issued.expiry - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)


def test_an_expired_token_is_not_listed(client, operator):
    issued = create_token(operator)
    AuthToken.objects.filter(pk=issued.token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    client.force_login(operator)

    assert issued.key[:8] not in client.get(PAGE).content.decode()


# --- revocation --------------------------------------------------------------------------------------


def test_the_owner_revokes_a_token(client, operator):
    kept, revoked = create_token(operator), create_token(operator)
    client.force_login(operator)

    response = client.post(f"{PAGE}revoke/", {"digest": revoked.token.digest})

    assert response.status_code == 302
    assert response["Location"] == PAGE
    client.logout()
    assert call(client, revoked.key).status_code == 401
    assert call(client, kept.key).status_code == 200


def test_nobody_else_revokes_a_token(client, operator):
    issued = create_token(operator)
    client.force_login(make_user("mallory", is_staff=True))

    response = client.post(f"{PAGE}revoke/", {"digest": issued.token.digest})

    assert response.status_code == 404
    client.logout()
    assert call(client, issued.key).status_code == 200


def test_nobody_sees_another_persons_tokens(client, operator):
    issued = create_token(operator)
    client.force_login(make_user("mallory"))

    html = client.get(PAGE).content.decode()

    assert issued.key[:8] not in html
    assert "You have no tokens." in html


# --- the command -------------------------------------------------------------------------------------


def test_the_command_prints_a_working_token_once(client, operator):
    out, err = StringIO(), StringIO()

    call_command("create_api_token", "operator", stdout=out, stderr=err)

    key = out.getvalue().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert "expires" in err.getvalue()
    assert call(client, key).status_code == 200


@pytest.mark.parametrize("username", ["nobody", "gone"])
def test_the_command_refuses_an_unknown_or_deactivated_user(db, username):
    make_user("gone", is_active=False)

    with pytest.raises(CommandError):
        call_command("create_api_token", username, stdout=StringIO(), stderr=StringIO())
    assert not AuthToken.objects.exists()


# --- guessing: wrong tokens throttled per address ----------------------------------------------------


@pytest.fixture
def three_a_minute(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token_failures": "3/min"}}


def test_wrong_tokens_are_throttled_and_then_even_a_right_one_waits(client, operator, three_a_minute):
    issued = create_token(operator)

    wrong = [call(client, f"{i:064x}").status_code for i in range(3)]
    throttled = call(client, f"{99:064x}")
    right = call(client, issued.key)

    assert wrong == [401, 401, 401]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["detail"].startswith("Too many wrong tokens from this address.")
    assert right.status_code == 429  # no answer says whether a guess was right while throttled
    # Another address is not held back, nor is the session.
    assert call(client, issued.key, REMOTE_ADDR="10.9.8.7").status_code == 200
    client.force_login(operator)
    assert client.get("/api/requests/").status_code == 200


def test_right_tokens_do_not_count(client, operator, three_a_minute):
    issued = create_token(operator)

    assert {call(client, issued.key).status_code for _ in range(5)} == {200}
    assert call(client, f"{1:064x}").status_code == 401


def test_what_cannot_be_a_token_is_refused_and_not_counted_as_a_guess(client, operator, three_a_minute):
    # Not 64 hex digits: no token could match, so no lookup is made and no guess is counted.
    malformed = ["not-a-key", f"{1:063x}", f"{1:065x}", "g" * 64, f"{1:064X}".replace("0", "A")]

    assert [call(client, key).status_code for key in malformed * 2] == [401] * 10
    assert call(client, create_token(operator).key).status_code == 200


def test_the_throttle_lifts_after_its_window(client, operator, three_a_minute, monkeypatch):
    from integrations.api.tokens import FailedTokenThrottle

    issued = create_token(operator)
    for i in range(3):
        call(client, f"{i:064x}")
    assert call(client, issued.key).status_code == 429

    later = FailedTokenThrottle.timer() + 61
    monkeypatch.setattr(FailedTokenThrottle, "timer", lambda self: later)

    assert call(client, issued.key).status_code == 200


def test_a_forwarded_for_header_does_not_dodge_the_throttle(client, operator, three_a_minute):
    for i in range(3):
        call(client, f"{i:064x}", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")

    assert call(client, create_token(operator).key, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_the_default_rate(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_token_failures"] == "10/min"
