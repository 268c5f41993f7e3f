"""Optional single sign-on: OpenID Connect is on only when its environment variables are set, and
username and password sign-in stays available either way.

Settings are read once, when a process starts, so the portal with single sign-on on is a real web
server started with those variables; the test process itself runs with them unset.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests as http
from django.conf import settings
from django.urls import NoReverseMatch, reverse

from tests import processes
from tests.factories import PASSWORD, make_operator, make_user

SSO_LINK = "Sign in with single sign-on"
AUTHORIZATION_ENDPOINT = "http://127.0.0.1:9/authorize"  # the discard port: nothing needs to answer
OIDC_ENV = {
    "OIDC_RP_CLIENT_ID": "portal-client",
    "OIDC_RP_CLIENT_SECRET": "portal-secret",
    "OIDC_RP_SIGN_ALGO": "HS256",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": AUTHORIZATION_ENDPOINT,
    "OIDC_OP_TOKEN_ENDPOINT": "http://127.0.0.1:9/token",
    "OIDC_OP_USER_ENDPOINT": "http://127.0.0.1:9/userinfo",
}
ENDPOINTS = ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT")


@pytest.fixture(scope="module")
def oidc_web(portal_env, logs):
    """The portal's web server with single sign-on configured; users come from each test."""
    web, base_url = processes.start_web({**portal_env, **OIDC_ENV}, logs)
    yield base_url
    web.stop()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


# --- on, with the environment variables ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_sign_in_page_offers_single_sign_on(oidc_web):
    page = http.get(f"{oidc_web}/accounts/login/?next=/requests/", timeout=10)

    assert page.status_code == 200
    assert SSO_LINK in page.text
    assert '<a href="/oidc/authenticate/?next=/requests/">' in page.text
    assert 'name="password"' in page.text  # next to the password form, not instead of it


@pytest.mark.django_db(transaction=True)
def test_single_sign_on_starts_at_the_providers_authorization_endpoint(oidc_web):
    session = http.Session()

    answer = session.get(f"{oidc_web}/oidc/authenticate/?next=/requests/", allow_redirects=False, timeout=10)

    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == AUTHORIZATION_ENDPOINT
    query = {k: v for k, [v] in parse_qs(location.query).items()}
    assert query["client_id"] == "portal-client"
    assert query["response_type"] == "code"
    assert "openid" in query["scope"].split()
    assert query["redirect_uri"] == f"{oidc_web}/oidc/callback/"
    assert len(query["state"]) >= 16
    assert len(query["nonce"]) >= 16
    # Each sign-in gets its own state and nonce.
    again = urlsplit(
        session.get(f"{oidc_web}/oidc/authenticate/", allow_redirects=False, timeout=10).headers["Location"]
    )
    again_query = {k: v for k, [v] in parse_qs(again.query).items()}
    assert again_query["state"] != query["state"]
    assert again_query["nonce"] != query["nonce"]


@pytest.mark.django_db(transaction=True)
def test_a_callback_without_a_matching_state_signs_nobody_in(oidc_web):
    session = http.Session()
    session.get(f"{oidc_web}/oidc/authenticate/", allow_redirects=False, timeout=10)

    answer = session.get(f"{oidc_web}/oidc/callback/?code=stolen&state=forged", allow_redirects=False, timeout=10)

    assert answer.status_code == 400  # a forged state is refused outright
    # Without a sign-in under way at all, the callback fails back to the start.
    stranger = http.Session()
    failed = stranger.get(f"{oidc_web}/oidc/callback/?code=stolen&state=forged", allow_redirects=False, timeout=10)
    assert failed.status_code == 302
    for who in (session, stranger):
        after = who.get(f"{oidc_web}/operations/", allow_redirects=False, timeout=10)
        assert after.status_code == 302
        assert after.headers["Location"] == "/accounts/login/?next=/operations/"


@pytest.mark.django_db(transaction=True)
def test_username_and_password_still_sign_in_with_single_sign_on_on(oidc_web):
    # The web server checks the password with the default hashers: created here with them too.
    operator = make_operator("operator")
    session = http.Session()
    page = session.get(f"{oidc_web}/accounts/login/", timeout=10)

    answer = session.post(
        f"{oidc_web}/accounts/login/",
        data={"username": operator.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(page.text)},
        allow_redirects=False,
        timeout=10,
    )

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    operations = session.get(f"{oidc_web}/operations/", allow_redirects=False, timeout=10)
    assert operations.status_code == 200
    assert "Sign out" in operations.text

    wrong = http.Session()
    page = wrong.get(f"{oidc_web}/accounts/login/", timeout=10)
    refused = wrong.post(
        f"{oidc_web}/accounts/login/",
        data={"username": operator.username, "password": "wrong", "csrfmiddlewaretoken": csrf_token(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert refused.status_code == 200
    assert 'role="alert"' in refused.text


# --- off, without them -----------------------------------------------------------------------------


def test_without_the_variables_single_sign_on_is_off():
    assert not settings.OIDC_ENABLED
    assert "mozilla_django_oidc" not in settings.INSTALLED_APPS
    assert settings.AUTHENTICATION_BACKENDS == ["django.contrib.auth.backends.ModelBackend"]
    with pytest.raises(NoReverseMatch):
        reverse("oidc_authentication_init")


@pytest.mark.django_db
def test_without_the_variables_the_sign_in_page_has_only_the_password_form(client):
    page = client.get("/accounts/login/")

    assert page.status_code == 200
    html = page.content.decode()
    assert SSO_LINK not in html
    assert "/oidc/" not in html
    assert 'name="password"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/oidc/authenticate/", "/oidc/callback/?code=x&state=y"])
def test_without_the_variables_the_single_sign_on_urls_do_not_exist(client, path):
    # Not found, for everyone: an unknown address is a 404 before sign-in is even asked for.
    assert client.get(path).status_code == 404
    client.force_login(make_user("alice"))
    assert client.get(path).status_code == 404


# --- half configured -------------------------------------------------------------------------------


def manage_check(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OIDC_")) and k != "DJANGO_SETTINGS_MODULE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=processes.ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ((), ENDPOINTS),
        (("OIDC_OP_AUTHORIZATION_ENDPOINT",), ENDPOINTS[1:]),
        (("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT"), ENDPOINTS[2:]),
    ],
    ids=["no endpoints", "one endpoint", "two endpoints"],
)
def test_a_client_id_without_the_providers_endpoints_stops_the_portal_from_starting(given, missing):
    result = manage_check(OIDC_RP_CLIENT_ID="portal-client", **{name: OIDC_ENV[name] for name in given})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"OIDC_RP_CLIENT_ID is set, so these are needed too: {', '.join(missing)}" in result.stderr


def test_the_full_configuration_passes_the_checks():
    result = manage_check(**OIDC_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
