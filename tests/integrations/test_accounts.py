"""Accounts: the lockout after too many wrong passwords (the sign-in form and the admin's), password
validators, the idle and absolute session timeouts, password reset only with mail, and the
single-sign-on-only mode (in this process; tests/integrations/test_sso_only.py starts a server)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.forms import PasswordChangeForm
from django.core import mail
from django.utils import timezone

from integrations.accounts import LAST_ACTIVITY, SIGNED_IN_AT
from tests.factories import PASSWORD, make_operator, make_user

WRONG = "not the password"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The sign-in tests check passwords many times; the production hasher's rounds would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client, username: str, password: str, path: str = "/accounts/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


# --- lockout ----------------------------------------------------------------------------------------


def test_the_sign_in_form_locks_out_after_the_limit_and_refuses_even_the_right_password(client, db, settings):
    make_user("alice")
    limit = settings.AXES_FAILURE_LIMIT

    answers = [sign_in(client, "alice", WRONG) for _ in range(limit)]
    after = sign_in(client, "alice", PASSWORD)

    assert [a.status_code for a in answers[:-1]] == [200] * (limit - 1)  # the form again, with its error
    assert answers[-1].status_code == 429  # the attempt that reaches the limit gets the lockout page
    assert after.status_code == 429
    assert not signed_in(client)
    html = after.content.decode()
    assert "Sign-in locked" in html
    assert "even with the right password" in html
    assert "for 15 minutes after the last attempt" in html
    assert "Traceback" not in html
    assert client.get("/operations/").status_code == 302


def test_the_lockout_is_per_username_and_address(client, db, settings):
    make_user("alice")
    make_user("bob")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", WRONG)

    assert sign_in(client, "alice", PASSWORD).status_code == 429
    # Another person at the same address, and the same person elsewhere, still sign in.
    assert sign_in(client, "bob", PASSWORD).status_code == 302
    client.logout()
    assert sign_in(client, "alice", PASSWORD, REMOTE_ADDR="10.1.2.3").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, db, settings):
    make_user("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", WRONG)
    assert sign_in(client, "alice", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_successful_sign_in_forgets_the_earlier_failures(client, db, settings):
    make_user("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "alice", WRONG)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()

    # The count starts again: one more failure does not lock.
    assert sign_in(client, "alice", WRONG).status_code == 200
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_the_limit_and_cool_off_come_from_the_settings(client, db, settings):
    settings.AXES_FAILURE_LIMIT = 2
    make_user("alice")

    assert sign_in(client, "alice", WRONG).status_code == 200
    assert sign_in(client, "alice", WRONG).status_code == 429


def test_the_admin_sign_in_locks_out_too(client, db, settings):
    make_user("root", is_staff=True, is_superuser=True)

    answers = [sign_in(client, "root", WRONG, "/admin/login/") for _ in range(settings.AXES_FAILURE_LIMIT)]
    after = sign_in(client, "root", PASSWORD, "/admin/login/")

    assert answers[0].status_code == 200
    assert answers[-1].status_code == 429
    assert after.status_code == 429
    assert "Sign-in locked" in after.content.decode()
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_failures_on_the_form_and_the_admin_count_together(client, db, settings):
    make_user("root", is_staff=True)
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "root", WRONG, "/accounts/login/" if i % 2 else "/admin/login/")

    assert sign_in(client, "root", PASSWORD, "/admin/login/").status_code == 429
    assert sign_in(client, "root", PASSWORD).status_code == 429


def test_a_forwarded_for_header_does_not_dodge_the_lockout(client, db, settings):
    make_user("alice")
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")

    assert sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_counted(client, db, settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    make_user("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", WRONG, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302


# --- password validators -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_password", "reason"),
    [
        ("Sh0rt-pass!", "too short"),  # 11 characters
        ("password1234", "too common"),
        ("480917253608", "entirely numeric"),
        ("alice.lidell@example.com", "too similar"),
    ],
)
def test_a_weak_password_is_refused(db, new_password, reason):
    user = make_user("alice.lidell", email="alice.lidell@example.com")
    form = PasswordChangeForm(
        user, {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password}
    )

    assert not form.is_valid()
    assert reason in " ".join(form.errors["new_password2"])


def test_the_password_change_page_refuses_a_weak_password_and_takes_a_strong_one(client, db):
    user = make_user("alice")
    client.force_login(user)

    weak = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "password1234", "new_password2": "password1234"},
    )
    strong = "a longer passphrase, not common"
    changed = client.post(
        "/accounts/password_change/", {"old_password": PASSWORD, "new_password1": strong, "new_password2": strong}
    )

    assert weak.status_code == 200
    assert "too common" in weak.content.decode()
    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password(strong)


def test_the_minimum_length_is_the_setting(settings):
    [length] = [v for v in settings.AUTH_PASSWORD_VALIDATORS if v["NAME"].endswith("MinimumLengthValidator")]

    assert length["OPTIONS"]["min_length"] == settings.PORTAL_PASSWORD_MIN_LENGTH == 12
    assert {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS} == {
        "UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
        "NumericPasswordValidator",
    }  # fmt: skip


# --- sessions ------------------------------------------------------------------------------------


def set_clock(client, **values: float) -> None:
    session = client.session
    for key, value in values.items():
        session[key] = value
    session.save()


@pytest.fixture
def operator_client(client, db):
    client.force_login(make_operator("operator"))
    assert client.get("/").status_code == 200  # starts the clocks
    return client


def test_signing_in_starts_both_clocks(client, db):
    make_user("alice")
    before = time.time()

    sign_in(client, "alice", PASSWORD)

    assert before <= client.session[SIGNED_IN_AT] == client.session[LAST_ACTIVITY] <= time.time()


def test_an_idle_session_is_signed_out(operator_client, settings):
    set_clock(operator_client, **{LAST_ACTIVITY: time.time() - settings.PORTAL_SESSION_IDLE_SECONDS - 1})

    response = operator_client.get("/operations/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/operations/"
    assert not signed_in(operator_client)
    page = operator_client.get(response["Location"])
    assert "signed out after a while without activity" in page.content.decode()


def test_activity_keeps_a_session_alive(operator_client, settings):
    almost = time.time() - settings.PORTAL_SESSION_IDLE_SECONDS + 60
    set_clock(operator_client, **{LAST_ACTIVITY: almost})

    assert operator_client.get("/operations/").status_code == 200
    assert operator_client.session[LAST_ACTIVITY] > almost + 59


def test_the_last_activity_is_written_once_a_minute_not_on_every_request(operator_client):
    recent = time.time() - 30
    set_clock(operator_client, **{LAST_ACTIVITY: recent})

    assert operator_client.get("/operations/").status_code == 200
    assert operator_client.session[LAST_ACTIVITY] == recent


def test_the_request_pages_status_polling_is_not_activity(operator_client, settings):
    earlier = time.time() - 600
    set_clock(operator_client, **{LAST_ACTIVITY: earlier})
    poll = {"HX-Request": "true", "HX-Trigger": "request-status"}

    operator_client.get("/", headers=poll)
    assert operator_client.session[LAST_ACTIVITY] == earlier
    # Another htmx request (a field checked as it is left, the history's filters) is activity.
    operator_client.get("/", headers={"HX-Request": "true", "HX-Trigger": "filters"})
    assert operator_client.session[LAST_ACTIVITY] > earlier


def test_polling_an_idle_session_reloads_the_page_instead_of_swapping_in_the_sign_in_page(operator_client, settings):
    set_clock(operator_client, **{LAST_ACTIVITY: time.time() - settings.PORTAL_SESSION_IDLE_SECONDS - 1})

    response = operator_client.get("/", headers={"HX-Request": "true", "HX-Trigger": "request-status"})

    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert response.content == b""
    assert not signed_in(operator_client)


def test_a_session_ends_at_its_absolute_maximum_however_active(operator_client, settings):
    set_clock(
        operator_client,
        **{SIGNED_IN_AT: time.time() - settings.PORTAL_SESSION_MAX_SECONDS - 1, LAST_ACTIVITY: time.time()},
    )

    response = operator_client.get("/operations/")

    assert response.status_code == 302
    assert not signed_in(operator_client)
    assert settings.SESSION_COOKIE_AGE == settings.PORTAL_SESSION_MAX_SECONDS


def test_the_idle_time_is_a_setting(operator_client, settings):
    settings.PORTAL_SESSION_IDLE_SECONDS = 5
    set_clock(operator_client, **{LAST_ACTIVITY: time.time() - 6})

    assert operator_client.get("/operations/").status_code == 302


def test_the_defaults(settings):
    assert settings.PORTAL_SESSION_IDLE_SECONDS == 30 * 60
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


# --- password reset ------------------------------------------------------------------------------

RESET_PATHS = ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/MQ/set-password/",
               "/accounts/reset/done/"]  # fmt: skip


@pytest.fixture
def no_mail(settings):
    settings.EMAIL_HOST = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def with_mail(settings):
    settings.EMAIL_HOST = "smtp.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.parametrize("path", RESET_PATHS)
def test_without_mail_the_reset_pages_do_not_exist(client, db, no_mail, path):
    assert client.get(path).status_code == 404
    assert client.post(path, {"email": "alice@example.com"}).status_code == 404


def test_without_mail_the_sign_in_page_offers_no_reset(client, db, no_mail):
    html = client.get("/accounts/login/").content.decode()

    assert "password_reset" not in html
    assert "Forgot" not in html


def test_with_mail_a_reset_link_sets_a_new_password(client, db, with_mail):
    user = make_user("alice", email="alice@example.com")
    assert "/accounts/password_reset/" in client.get("/accounts/login/").content.decode()

    asked = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body)[1]
    form = client.get(link, follow=True)
    weak = client.post(form.redirect_chain[-1][0], {"new_password1": "password1234", "new_password2": "password1234"})
    strong = "a longer passphrase, not common"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": strong, "new_password2": strong})

    assert asked.status_code == 302
    assert message.to == ["alice@example.com"]
    assert form.status_code == 200
    assert weak.status_code == 200
    assert "too common" in weak.content.decode()
    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password(strong)
    assert sign_in(client, "alice", strong).status_code == 302


# --- single sign-on only (the switch read per request; the settings check is test_sso_only.py's) ----


@pytest.fixture
def sso_only(settings):
    settings.PORTAL_PASSWORD_SIGN_IN = False


def test_sso_only_the_sign_in_page_has_no_password_form(client, db, sso_only):
    html = client.get("/accounts/login/").content.decode()

    assert 'name="password"' not in html
    assert 'name="username"' not in html


def test_sso_only_a_posted_password_is_refused(client, db, sso_only):
    make_user("alice")

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 403
    assert "Password sign-in is turned off" in response.content.decode()
    assert not signed_in(client)


def test_sso_only_the_admin_sign_in_sends_to_the_portals_and_refuses_a_password(client, db, sso_only):
    make_user("root", is_staff=True, is_superuser=True)

    page = client.get("/admin/login/?next=/admin/integrations/")
    posted = sign_in(client, "root", PASSWORD, "/admin/login/")

    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=%2Fadmin%2Fintegrations%2F"
    assert posted.status_code == 403
    assert not signed_in(client)


def test_sso_only_a_signed_in_member_of_staff_goes_on_to_the_admin(client, db, sso_only):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    assert client.get("/admin/login/?next=/admin/").status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("path", ["/accounts/password_change/", *RESET_PATHS])
def test_sso_only_there_is_no_password_to_change_or_reset(client, db, sso_only, with_mail, path):
    client.force_login(make_user("alice"))

    assert client.get(path).status_code == 404
