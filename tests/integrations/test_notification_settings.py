"""The notification settings page: any signed-in person chooses the events they hear of, e-mail
on or off and a webhook URL (http(s), https only in production); bad input is said next to the
field and nothing is saved; "Send a test" reaches the saved channels."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from integrations.models import NotificationPreference, all_notification_events
from integrations.permissions import APPROVERS, OPERATORS
from tests.factories import make_user

URL = "/notifications/"
REQUESTER_EVENTS = ["approved", "rejected", "succeeded", "failed"]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def person(client):
    user = make_user("person", groups=(OPERATORS,), email="person@example.com")
    client.force_login(user)
    return user


def saved(user) -> NotificationPreference:
    return NotificationPreference.objects.get(user=user)


def test_the_page_asks_which_events_and_where_in_labelled_fieldsets(client, person):
    response = client.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<legend>Tell me when</legend>" in html
    assert "<legend>Where</legend>" in html
    for event in REQUESTER_EVENTS:
        assert re.search(rf'<input type="checkbox" name="events" value="{event}"[^>]*checked', html), event
    # Not an approver: not asked about requests waiting for approval.
    assert 'value="awaiting_approval"' not in html
    assert "To person@example.com." in html or "sends no e-mail" in html
    for id_ in re.findall(r'<input[^>]*\bid="([^"]+)"', html):
        if id_ != "id_csrf":
            assert f'for="{id_}"' in html, f"the input {id_} has no label"
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"


def test_approvers_are_asked_about_requests_waiting_for_them(client):
    client.force_login(make_user("judge", groups=(APPROVERS,)))

    html = client.get(URL).content.decode()

    assert 'value="awaiting_approval"' in html


def test_saving_keeps_the_chosen_events_the_email_switch_and_the_webhook(client, person):
    response = client.post(
        URL, {"events": ["failed", "succeeded"], "webhook_url": " https://hooks.example.com/T0/x ", "action": "save"}
    )

    assert response.status_code == 302
    preference = saved(person)
    # As ticked, in the events' order; awaiting approval (not offered) keeps its default.
    assert preference.events == ["awaiting_approval", "succeeded", "failed"]
    assert preference.by_email is False
    assert preference.webhook_url == "https://hooks.example.com/T0/x"
    assert "Your notification settings are saved." in client.get(URL).content.decode()


def test_an_event_the_page_does_not_offer_keeps_its_stored_choice(client, person):
    NotificationPreference.objects.create(user=person, events=all_notification_events())

    client.post(URL, {"events": ["failed"], "by_email": "on", "action": "save"})

    assert saved(person).events == ["awaiting_approval", "failed"]


@pytest.mark.parametrize(
    ("url", "production", "error"),
    [
        ("ftp://hooks.example.com/x", False, "Enter an http:// or https:// URL."),
        ("javascript:alert(1)", False, "Enter an http:// or https:// URL."),
        ("https://user:pw@hooks.example.com/x", False, "Leave the user name and password out of the URL."),
        ("http://hooks.example.com/x", True, "Enter an https:// URL: messages are not sent over plain HTTP."),
        ("https://hooks.example.com/" + "x" * 2100, False, "Ensure this value has at most 2048 characters"),
    ],
    ids=["ftp", "javascript", "credentials", "http-in-production", "too-long"],
)
def test_a_bad_webhook_url_is_refused_next_to_its_field_and_nothing_is_saved(
    client, person, settings, url, production, error
):
    settings.PRODUCTION = production

    response = client.post(URL, {"events": ["failed"], "by_email": "on", "webhook_url": url, "action": "save"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "The settings were not saved" in html
    assert error in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="webhook-help webhook-errors"' in html
    assert not NotificationPreference.objects.filter(user=person).exists()


def test_an_unknown_event_is_refused(client, person):
    response = client.post(URL, {"events": ["everything"], "action": "save"})

    assert "Select a valid choice. everything is not one of the available choices." in response.content.decode()
    assert not NotificationPreference.objects.filter(user=person).exists()


def test_the_page_needs_a_signed_in_person(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_saving_needs_the_csrf_token(person):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(person)

    response = strict.post(URL, {"events": ["failed"], "action": "save"})

    assert response.status_code == 403
    assert not NotificationPreference.objects.filter(user=person).exists()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_send_a_test_posts_to_the_saved_webhook_and_says_so(client, person, webhook, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""  # no mail on this portal: the webhook only
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    NotificationPreference.objects.create(user=person, webhook_url=url)

    response = client.post(URL, {"action": "test"}, follow=True)

    assert "The webhook took the test message." in response.content.decode()
    [body] = webhook.received
    assert body["text"].startswith("This is a test from the Integrations Portal for person.")


def test_send_a_test_says_when_there_is_nothing_to_send_to(client, person, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""

    response = client.post(URL, {"action": "test"}, follow=True)

    assert "Nothing to test" in response.content.decode()
