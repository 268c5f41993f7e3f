"""Notifications, against a real local SMTP server (aiosmtpd) and a local webhook receiver: who is
told what, that no message holds anything sensitive, that a failing mail server never blocks or
loses a status change (its messages are retried, then given up as failed), and that a redelivered
task sends nothing twice.

The broker is the boundary: the tasks it would carry are recorded and run here, in this process,
in the order a worker would take them (``broker.drain()``), or run twice to act out a redelivery.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.utils import timezone

from integrations import lifecycle, notifications
from integrations.aws_errors import Failure
from integrations.models import (
    ApprovalRule,
    AwsRequest,
    GroupWebhook,
    Notification,
    NotificationEvent,
    NotificationPreference,
    RequestStatus,
)
from integrations.permissions import APPROVERS, OPERATORS
from integrations.tasks import deliver_notification, execute_request, fan_out_notifications
from operations import get_operation
from tests.factories import default_target, ingestion_params, make_request, make_user

INGESTION = "appfabric/CreateIngestion"
SUPPLY_CHAIN = "supplychain/SendDataIntegrationEvent"
ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/b/ingestion/42"
BASE_URL = "https://portal.example.com"
# Values of a Supply Chain request that no message may hold: the sensitive payload, and every
# other parameter value too (messages carry no parameter values at all).
SECRET_PAYLOAD = '{"order_id": "PO-SECRET-4711", "customer": "Ada Lovelace"}'
PARAMETER_VALUES = ("PO-SECRET-4711", "Ada Lovelace", "group-eventgroup-8812", "scn.data.inboundorder", "9f9f9f9f")
SUPPLY_CHAIN_PARAMS = {
    "instanceId": "9f9f9f9f-1111-2222-3333-444444444444",
    "eventType": "scn.data.inboundorder",
    "data": SECRET_PAYLOAD,
    "eventGroupId": "group-eventgroup-8812",
}


# --- the local stand-ins ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd's handler: keeps each message; ``refuse`` answers RCPT TO with that SMTP reply."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def mailbox(settings):
    """A real SMTP server on a free local port, and the portal's mail pointed at it."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    yield box
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhooks():
    """A local HTTP server taking webhook POSTs on a thread; ``status`` is what it answers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    server.received = []
    server.status = 200
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Broker:
    """The messages the portal published, to be run here as a worker would run them."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, tuple]] = []
        self.refusing = False

    def publish(self, task, args, **options):
        if self.refusing:
            raise ConnectionRefusedError("the broker is down")
        self.sent.append((task, tuple(args)))

    def drain(self) -> list[object]:
        outcomes = []
        while self.sent:
            task, args = self.sent.pop(0)
            outcomes.append(task.apply(args=args).get())
        return outcomes


@pytest.fixture
def broker(monkeypatch, settings):
    settings.PORTAL_BASE_URL = BASE_URL
    settings.PORTAL_NOTIFICATION_TIMEOUT_SECONDS = 1.0
    recorded = Broker()
    # Requests approved here are not run: their hand-off to the pipeline is dropped.
    monkeypatch.setattr(execute_request, "apply_async", lambda args, **options: None)
    for task in (fan_out_notifications, deliver_notification):
        monkeypatch.setattr(task, "apply_async", lambda args, _task=task, **o: recorded.publish(_task, args, **o))
    return recorded


def body_of(message: EmailMessage) -> str:
    """A message's text as the portal wrote it (SMTP carries its lines ending in CRLF)."""
    return message.get_content().replace("\r\n", "\n")


# --- people -------------------------------------------------------------------------------------


@pytest.fixture
def requester(db):
    default_target()
    return make_user("requester", groups=(OPERATORS,), email="requester@example.com")


@pytest.fixture
def approver(db):
    return make_user("approver", groups=(APPROVERS,), email="approver@example.com")


def awaiting(requester, operation: str = INGESTION, params: dict | None = None) -> AwsRequest:
    """A request recorded under an approval rule, its announcement made as the commit would."""
    ApprovalRule.objects.get_or_create(operation=operation, target=None)
    op = get_operation(operation)
    return lifecycle.record(op, params or ingestion_params(), requester, default_target())


def running(requester, operation: str = INGESTION, params: dict | None = None) -> tuple[AwsRequest, uuid.UUID]:
    claim = uuid.uuid4()
    aws_request = make_request(
        operation,
        user=requester,
        parameters=params or ingestion_params(),
        status=RequestStatus.RUNNING,
        claim_id=claim,
        created_by_username=requester.username,
    )
    return aws_request, claim


def status_of(aws_request: AwsRequest) -> str:
    return AwsRequest.objects.values_list("status", flat=True).get(pk=aws_request.pk)


# --- who hears what -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_approvers_hear_of_a_request_waiting_for_them_and_nobody_else_does(
    broker, mailbox, requester, approver, django_capture_on_commit_callbacks
):
    other_approver = make_user("approver2", groups=(APPROVERS,), email="approver2@example.com")
    superuser = make_user("root", is_superuser=True, email="root@example.com")
    make_user("retired", groups=(APPROVERS,), email="retired@example.com", is_active=False)
    make_user("colleague", groups=(OPERATORS,), email="colleague@example.com")
    make_user("no-address", groups=(APPROVERS,))
    # The author may approve too, but never their own request: they are not asked.
    requester.groups.add(Group.objects.get(name=APPROVERS))

    with django_capture_on_commit_callbacks(execute=True):
        aws_request = awaiting(requester)
    broker.drain()

    assert sorted(m["To"] for m in mailbox.messages) == sorted([approver.email, other_approver.email, superuser.email])
    message = mailbox.to(approver.email)[0]
    assert message["Subject"] == (
        f"[Integrations Portal] Request #{aws_request.pk} waits for your approval: AppFabric: create an ingestion"
    )
    body = body_of(message)
    assert f"Approve or reject it on its page:\n{BASE_URL}/requests/{aws_request.pk}/" in body
    assert "Requested by: requester" in body
    assert "Target:       sandbox (111122223333, us-east-1)" in body
    assert Notification.objects.filter(request=aws_request, status=Notification.Status.SENT).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_the_requester_hears_of_the_decision_and_approvers_do_not(
    approve, broker, mailbox, requester, approver, django_capture_on_commit_callbacks
):
    aws_request = awaiting(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.decide(aws_request, approver, approve=approve, reason="" if approve else "Not this tenant, Ada")
    broker.drain()

    verdict = "approved" if approve else "rejected"
    assert [m["To"] for m in mailbox.messages] == [requester.email]
    message = mailbox.messages[0]
    assert message["Subject"].startswith(f"[Integrations Portal] Your request #{aws_request.pk} was {verdict}")
    assert f"{verdict.capitalize()} by:  approver" in body_of(message)
    # The reason is free text: it stays on the request page.
    assert "Ada" not in body_of(message)


@pytest.mark.django_db
def test_the_requester_hears_of_success_with_the_arn_and_of_failure_with_the_error_code(
    broker, mailbox, requester, django_capture_on_commit_callbacks
):
    succeeded, claim = running(requester)
    failed, other_claim = running(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(succeeded, claim, response={}, resource_id=ARN)
        lifecycle.fail(failed, other_claim, Failure("ValidationException", "tenant-1 is wrong", retryable=False))
    broker.drain()

    success, failure = mailbox.to(requester.email)
    assert success["Subject"].endswith(f"Your request #{succeeded.pk} succeeded: AppFabric: create an ingestion")
    assert f"Created:      {ARN}" in body_of(success)
    assert failure["Subject"].endswith(f"Your request #{failed.pk} failed: AppFabric: create an ingestion")
    assert "Error code:   ValidationException" in body_of(failure)
    assert "tenant-1 is wrong" not in body_of(failure)


@pytest.mark.django_db
def test_each_person_hears_only_the_events_they_chose_by_the_channels_they_chose(
    broker, mailbox, webhooks, requester, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(
        user=requester, events=["failed"], by_email=False, webhook_url=f"{webhooks.url}/mine"
    )
    succeeded, claim = running(requester)
    failed, other_claim = running(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(succeeded, claim, response={}, resource_id=ARN)
        lifecycle.fail(failed, other_claim, Failure("AccessDeniedException", "no", retryable=False))
    broker.drain()

    assert mailbox.messages == []
    [(path, content_type, body)] = webhooks.received
    assert (path, content_type) == ("/mine", "application/json")
    assert set(body) == {"text"}
    assert body["text"].startswith(f"Your request #{failed.pk} failed: AppFabric: create an ingestion in sandbox")
    assert f"Open it: {BASE_URL}/requests/{failed.pk}/" in body["text"]


@pytest.mark.django_db
def test_nobody_is_mailed_without_an_address_or_without_a_mail_server(broker, settings, requester):
    requester.email = ""
    requester.save()
    aws_request, claim = running(requester)
    lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)

    assert notifications.fan_out(aws_request.pk, "succeeded") == []

    requester.email = "requester@example.com"
    requester.save()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    assert notifications.fan_out(aws_request.pk, "succeeded") == []


@pytest.mark.django_db
def test_group_webhooks_hear_of_their_members_requests_and_approver_groups_of_waiting_ones(
    broker, webhooks, requester, approver, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""  # webhooks only, here
    team = Group.objects.create(name="Team Slack")
    requester.groups.add(team)
    GroupWebhook.objects.create(group=team, url=f"{webhooks.url}/team", events=["succeeded", "failed"])
    GroupWebhook.objects.create(group=Group.objects.get(name=APPROVERS), url=f"{webhooks.url}/approvers")
    GroupWebhook.objects.create(group=Group.objects.create(name="Strangers"), url=f"{webhooks.url}/strangers")

    with django_capture_on_commit_callbacks(execute=True):
        aws_request = awaiting(requester)
    broker.drain()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.decide(aws_request, approver, approve=True)
    broker.drain()
    claim = lifecycle.claim(aws_request.pk, timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)
    broker.drain()

    heard = [(path, body["text"].split(":")[0]) for path, _, body in webhooks.received]
    assert heard == [
        ("/approvers", f"Request #{aws_request.pk} waits for approval"),
        ("/team", f"Request #{aws_request.pk} succeeded"),
    ]
    assert "requested by requester" in webhooks.received[1][2]["text"]


# --- nothing sensitive --------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_message_holds_the_sensitive_payload_or_any_parameter_value(
    broker, mailbox, webhooks, requester, approver, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(user=requester, webhook_url=f"{webhooks.url}/requester")
    NotificationPreference.objects.create(user=approver, webhook_url=f"{webhooks.url}/approver")
    GroupWebhook.objects.create(group=Group.objects.get(name=OPERATORS), url=f"{webhooks.url}/operators")
    GroupWebhook.objects.create(group=Group.objects.get(name=APPROVERS), url=f"{webhooks.url}/approvers")

    with django_capture_on_commit_callbacks(execute=True):
        first = awaiting(requester, SUPPLY_CHAIN, SUPPLY_CHAIN_PARAMS)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.decide(first, approver, approve=False, reason=f"It holds {SECRET_PAYLOAD}")
    second = awaiting(requester, SUPPLY_CHAIN, SUPPLY_CHAIN_PARAMS)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.decide(second, approver, approve=True)
    succeeded, claim = running(requester, SUPPLY_CHAIN, SUPPLY_CHAIN_PARAMS)
    failed, other_claim = running(requester, SUPPLY_CHAIN, SUPPLY_CHAIN_PARAMS)
    echoed = f"Value {SECRET_PAYLOAD} at 'data' failed to satisfy constraint"
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(succeeded, claim, response={"eventId": "evt-1"}, resource_id="evt-1")
        lifecycle.fail(failed, other_claim, Failure("ValidationException", echoed, retryable=False))
    broker.drain()

    events = set(Notification.objects.values_list("event", flat=True))
    assert events == set(NotificationEvent.values)  # every kind of message was made and looked at
    assert len(mailbox.raw) >= 5
    assert len(webhooks.received) >= 8
    everything = [
        *(raw.decode(errors="replace") for raw in mailbox.raw),
        *(json.dumps(body) for _, _, body in webhooks.received),
        *(f"{n.subject}\n{n.body}" for n in Notification.objects.all()),
    ]
    for text in everything:
        assert "Supply Chain" in text
        for value in PARAMETER_VALUES:
            assert value not in text, (value, text)
        assert "failed to satisfy" not in text


# --- failing mail servers never block or lose a status change ----------------------------------


@pytest.mark.django_db
def test_a_refused_connection_never_blocks_the_decision_and_is_retried_then_given_up(
    broker, settings, requester, approver, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens: the connection is refused
    settings.PORTAL_NOTIFICATION_MAX_ATTEMPTS = 3
    aws_request = awaiting(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.decide(aws_request, approver, approve=True)
    assert broker.drain() == [1, "retrying"]  # the fan-out wrote one message, which did not go out...
    assert status_of(aws_request) == RequestStatus.QUEUED  # ...and the decision stands

    notification = Notification.objects.get(request=aws_request)
    outcomes = []
    for _ in range(5):
        # Beat hands it over when due; a message handed over is run by a worker.
        if notifications.send_due(now=notification.next_attempt_at or timezone.now()):
            outcomes += broker.drain()
        notification.refresh_from_db()
    assert outcomes == ["retrying", "failed"]
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 3
    assert notification.last_error.startswith("could not reach the mail server (ConnectionRefusedError")
    assert status_of(aws_request) == RequestStatus.QUEUED


@pytest.mark.django_db
def test_a_mail_server_that_never_answers_costs_one_timeout_and_the_message_waits_for_a_retry(
    broker, settings, requester, django_capture_on_commit_callbacks
):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are taken by the kernel; no greeting ever comes
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
    settings.PORTAL_NOTIFICATION_TIMEOUT_SECONDS = 0.5
    aws_request, claim = running(requester)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)
        assert status_of(aws_request) == RequestStatus.SUCCEEDED
        started = time.monotonic()
        assert broker.drain() == [1, "retrying"]
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    assert elapsed < 3
    notification = Notification.objects.get(request=aws_request)
    assert notification.status == Notification.Status.PENDING
    assert "timed out" in notification.last_error.lower()
    waited = notification.next_attempt_at - timezone.now()
    assert dt.timedelta(seconds=10) < waited <= dt.timedelta(seconds=settings.PORTAL_NOTIFICATION_RETRY_BASE_SECONDS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("550 5.1.1 No such user", "failed"), ("451 4.3.0 Try again later", "retrying")],
    ids=["permanent", "temporary"],
)
def test_a_refused_address_is_given_up_at_once_and_a_temporary_refusal_is_retried(
    reply, outcome, broker, mailbox, requester, django_capture_on_commit_callbacks
):
    mailbox.refuse = reply
    aws_request, claim = running(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)

    assert broker.drain() == [1, outcome]
    notification = Notification.objects.get(request=aws_request)
    assert notification.status == (Notification.Status.FAILED if outcome == "failed" else Notification.Status.PENDING)
    assert notification.last_error == f"the mail server refused the address (SMTP {reply[:3]})"


@pytest.mark.django_db
def test_the_status_change_stands_when_announcing_itself_breaks(
    broker, monkeypatch, requester, approver, django_capture_on_commit_callbacks
):
    broker.refusing = True

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(notifications, "fan_out", broken)
    aws_request = awaiting(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.decide(aws_request, approver, approve=True)

    assert status_of(aws_request) == RequestStatus.QUEUED
    assert aws_request.decision.approved


# --- nothing twice, nothing lost ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_redelivered_fan_out_or_delivery_sends_nothing_twice(
    broker, mailbox, requester, django_capture_on_commit_callbacks
):
    aws_request, claim = running(requester)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)
    [(fan_out_task, fan_out_args)] = broker.sent

    assert fan_out_task.apply(args=fan_out_args).get() == 1
    assert fan_out_task.apply(args=fan_out_args).get() == 0  # the redelivery writes nothing new
    notifications.announce(aws_request.pk, "succeeded")  # nor does a repeated announcement
    [(deliver_task, deliver_args)] = broker.sent[1:2]
    assert broker.sent[2:] == [(fan_out_notifications, (aws_request.pk, "succeeded"))]
    broker.sent[:] = broker.sent[2:]
    assert broker.drain() == [0]

    assert deliver_task.apply(args=deliver_args).get() == "sent"
    assert deliver_task.apply(args=deliver_args).get() == "not ours"

    assert len(mailbox.messages) == 1
    assert Notification.objects.get().status == Notification.Status.SENT


@pytest.mark.django_db
def test_messages_written_while_the_broker_is_down_are_delivered_by_beat(
    broker, mailbox, requester, django_capture_on_commit_callbacks
):
    broker.refusing = True
    aws_request, claim = running(requester)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)
    notification = Notification.objects.get(request=aws_request)
    assert notification.next_attempt_at <= timezone.now()  # written here, due at once

    broker.refusing = False
    assert notifications.send_due() == [notification.pk]
    assert notifications.send_due() == []  # handed over: not again while its message may be queued
    assert broker.drain() == ["sent"]
    assert [m["To"] for m in mailbox.messages] == [requester.email]


@pytest.mark.django_db
def test_a_lost_delivery_message_is_handed_over_again_after_its_lease(broker, mailbox, requester):
    aws_request, claim = running(requester)
    lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)
    notifications.fan_out(aws_request.pk, "succeeded")
    broker.sent.clear()  # the delivery's message is lost
    notification = Notification.objects.get(request=aws_request)

    assert notifications.send_due() == []
    later = notification.next_attempt_at + dt.timedelta(seconds=1)
    assert notifications.send_due(now=later) == [notification.pk]
    assert broker.drain() == ["sent"]
    assert len(mailbox.messages) == 1


# --- webhooks -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "outcome"), [(404, "failed"), (503, "retrying"), (429, "retrying")])
def test_a_webhook_that_is_gone_is_given_up_and_one_that_is_busy_is_retried(
    status, outcome, broker, webhooks, requester, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    webhooks.status = status
    NotificationPreference.objects.create(user=requester, webhook_url=webhooks.url)
    aws_request, claim = running(requester)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)

    assert broker.drain() == [1, outcome]
    assert Notification.objects.get().last_error == f"the webhook answered HTTP {status}"


@pytest.mark.parametrize(
    ("url", "production", "problem"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", True, None),
        ("http://hooks.example.com/x", False, None),
        ("http://hooks.example.com/x", True, "Enter an https:// URL: messages are not sent over plain HTTP."),
        ("ftp://hooks.example.com/x", False, "Enter an http:// or https:// URL."),
        ("javascript:alert(1)", False, "Enter an http:// or https:// URL."),
        ("https://user:secret@hooks.example.com/x", False, "Leave the user name and password out of the URL."),
        ("https://[::1", False, "Enter a valid URL."),
    ],
)
def test_a_webhook_url_is_http_or_https_and_https_only_in_production(url, production, problem, settings):
    settings.PRODUCTION = production

    assert notifications.webhook_url_problem(url) == problem


def test_in_production_a_webhook_inside_the_portals_network_is_not_posted_to(settings):
    settings.PRODUCTION = True

    with pytest.raises(notifications.DeliveryError) as refused:
        notifications.post_webhook("https://127.0.0.1:9/hook", "hello")

    assert refused.value.permanent
    assert str(refused.value) == "The webhook's host 127.0.0.1 is inside the portal's network."


# --- the admin ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_edits_group_webhooks_and_shows_the_outbox_read_only(client, broker, requester, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    aws_request, claim = running(requester)
    lifecycle.succeed(aws_request, claim, response={}, resource_id=ARN)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    [notification_id] = notifications.fan_out(aws_request.pk, "succeeded", hand_over=False)
    team = Group.objects.create(name="Team")

    listed = client.get("/admin/integrations/notification/", {"q": f"#{aws_request.pk}"})
    shown = client.get(f"/admin/integrations/notification/{notification_id}/change/")
    refused = client.post(
        "/admin/integrations/groupwebhook/add/", {"group": team.pk, "url": "ftp://x.example.com/", "events": ["failed"]}
    )
    added = client.post(
        "/admin/integrations/groupwebhook/add/",
        {"group": team.pk, "url": "https://hooks.example.com/T0/x", "events": ["failed"]},
    )

    assert listed.status_code == 200
    assert requester.email in listed.content.decode()
    assert shown.status_code == 200
    assert 'name="_save"' not in shown.content.decode()  # read only
    assert "Enter an http:// or https:// URL." in refused.content.decode()
    assert added.status_code == 302
    assert GroupWebhook.objects.get(group=team).events == ["failed"]
