"""Telling people what became of requests: who hears of what, the outbox, and its delivery.

A status change (``integrations.lifecycle``) calls ``announce`` once it is committed. From there:

1. ``announce`` publishes the fan-out task and returns: it runs in web processes and in workers
   after every success, so it costs one publish and no exception ever leaves it. If the broker
   refuses, it writes the outbox rows itself (a few queries), due at once, for beat to deliver.
2. ``fan_out`` decides who hears of it (below) and writes one outbox row (``Notification``) per
   (request, event, channel, address). The unique constraint on those makes a repeated or
   redelivered fan-out write nothing new, and only the rows this fan-out wrote are handed over.
3. ``deliver`` claims one row by a compare-and-set on its ``next_attempt_at`` (the hand-over's
   token: a redelivered or stale message finds it changed and sends nothing), sends it with a
   short timeout, and records the outcome: sent; or the error and the time of the next attempt
   (exponential backoff); or failed for good after PORTAL_NOTIFICATION_MAX_ATTEMPTS, or at once
   when retrying cannot help (a webhook answering 404, a mail server refusing the address).
4. ``send_due`` (beat, on the housekeeping queue) hands over the rows that are due: retries whose
   time has come, rows whose message was lost, rows written while the broker was down. Retries are
   times in rows, never countdown messages in the broker (see integrations/broker.py).

Who hears what:

- *awaiting_approval*: every active person who may approve (the approve permission, directly,
  through a group, or as a superuser), except the request's author. Approvers see every request
  (``permissions.may_see_every_request``), so each of them may open the one they are told of.
  And the webhooks of groups that hold the approve permission.
- *approved*, *rejected*, *succeeded*, *failed*: the requester, while their account is active; and
  the webhooks of the requester's groups.

Each person hears only of the events they chose (``NotificationPreference``; without one: every
event, by e-mail), by e-mail when they have an address and the portal has mail (``mail_enabled``),
and by their webhook if they set one. A group webhook hears the events chosen for it in the admin.

What a message holds: what happened, the operation's title, the request's number, the target's
name, who asked (and who decided), the created resource's ARN or the error code, and links to the
request page. Never a parameter value (sensitive or not), an AWS error message (which may quote
values) or a rejection's reason (free text): those stay behind the request page's permissions.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import random
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.models import (
    AwsRequest,
    GroupWebhook,
    Notification,
    NotificationEvent,
    NotificationPreference,
    all_notification_events,
)
from integrations.permissions import APP, APPROVE, approvers
from operations import get_operation

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

EVENTS = frozenset(all_notification_events())
# Events told to the requester; awaiting_approval is told to approvers.
REQUESTER_EVENTS = frozenset(EVENTS - {NotificationEvent.AWAITING_APPROVAL.value})
APPROVE_CODENAME = APPROVE.split(".")[1]
# A handed-over row is not handed over again for this long (its message may still be in a queue);
# a lost message's row is due again after it.
HANDOVER_LEASE = dt.timedelta(minutes=2)
# Rows beat hands over per run: the oldest due first; the rest wait for the next run.
SEND_BATCH = 200
# At most this many approvers are told of one request (a mistaken grant to a huge group must not
# turn one request into thousands of messages).
MAX_APPROVERS = 200
ERROR_LIMIT = 2000
USER_AGENT = "IntegrationsPortal-notifications"


# --- 1. announcing ------------------------------------------------------------------------------


def announce(request_id: int, event: str) -> None:
    """Hand the notifications of ``event`` (a NotificationEvent value) for one request to a worker.

    Called right after a status change's commit, in the web process or a worker: one publish, no
    retry (a silent broker costs its socket timeout once, not a retry policy), and nothing raised.
    When the broker refuses, the outbox rows are written here, due now, for beat to deliver once
    the broker is back: a broker outage delays notifications but loses none.
    """
    from integrations.tasks import fan_out_notifications

    event = str(event)
    try:
        fan_out_notifications.apply_async((request_id, event), retry=False)
        return
    except Exception as exc:  # any broker or transport failure
        logger.warning("Could not hand over the %s notifications of request %s (%s)", event, request_id, _brief(exc))
    try:
        fan_out(request_id, event, hand_over=False)
    except Exception:  # the status change is committed and must not hear of this
        logger.exception("Could not write the %s notifications of request %s", event, request_id)


# --- 2. who hears what --------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One message to write to the outbox."""

    channel: str
    address: str
    recipient_id: int | None
    subject: str
    body: str


def fan_out(request_id: int, event: str, *, hand_over: bool = True) -> list[int]:
    """Write the outbox rows of one event of one request; hand over the ones written here.

    Returns the ids of the rows this call wrote. Rows that exist already (an earlier or concurrent
    fan-out of the same event) are left alone: the unique constraint decides, and each call knows
    its own rows by the ``next_attempt_at`` it wrote (its hand-over token). Without ``hand_over``
    (the broker is down) the rows are due at once, for ``send_due``.
    """
    if event not in EVENTS:
        logger.warning("Not an event anybody is told of: %r (request %s)", event, request_id)
        return []
    aws_request = AwsRequest.objects.select_related("target", "created_by").filter(pk=request_id).first()
    if aws_request is None:
        return []
    messages = list(messages_for(aws_request, event))
    if not messages:
        return []
    now = timezone.now()
    token = _token(now) if hand_over else now
    Notification.objects.bulk_create(
        [
            Notification(
                request=aws_request,
                event=event,
                channel=m.channel,
                address=m.address,
                recipient_id=m.recipient_id,
                subject=m.subject,
                body=m.body,
                next_attempt_at=token,
            )
            for m in messages
        ],
        ignore_conflicts=True,
    )
    written = list(
        Notification.objects.filter(
            request=aws_request, event=event, status=Notification.Status.PENDING, next_attempt_at=token
        ).values_list("pk", flat=True)
    )
    if hand_over:
        for notification_id in written:
            if not _hand_over(notification_id, token):
                break  # the broker is down: the rows are due again one lease later
    return written


def messages_for(aws_request: AwsRequest, event: str) -> Iterable[Message]:
    """Every message ``event`` of ``aws_request`` makes: to people, then to group webhooks.

    Two messages to one address (a webhook two people share) are one: the first wins.
    """
    seen: set[tuple[str, str]] = set()
    for message in (*_to_people(aws_request, event), *_to_groups(aws_request, event)):
        if (message.channel, message.address) not in seen:
            seen.add((message.channel, message.address))
            yield message


def people_told(aws_request: AwsRequest, event: str) -> list[User]:
    """Who may be told of ``event``: approvers for awaiting_approval, else the requester."""
    if event == NotificationEvent.AWAITING_APPROVAL:
        return list(approvers(exclude=aws_request.created_by_id).order_by("pk")[:MAX_APPROVERS])
    author = aws_request.created_by
    return [author] if author.is_active else []


def _to_people(aws_request: AwsRequest, event: str) -> Iterable[Message]:
    people = people_told(aws_request, event)
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user__in=people)}
    mail: tuple[str, str] | None = None  # the same words for every person: rendered once
    webhook: tuple[str, str] | None = None
    for person in people:
        preference = preferences.get(person.pk) or NotificationPreference(user=person)
        if event not in preference.events:
            continue
        if preference.by_email and person.email and mail_enabled():
            mail = mail or render_mail(aws_request, event, audience="person")
            yield Message(Notification.Channel.EMAIL, person.email, person.pk, *mail)
        if preference.webhook_url:
            webhook = webhook or render_webhook(aws_request, event, audience="person")
            yield Message(Notification.Channel.WEBHOOK, preference.webhook_url, person.pk, *webhook)


def _to_groups(aws_request: AwsRequest, event: str) -> Iterable[Message]:
    """A group's webhook hears of its members' requests, and of requests awaiting approval when
    the group holds the approve permission (its members are the ones to decide)."""
    if event == NotificationEvent.AWAITING_APPROVAL:
        webhooks = GroupWebhook.objects.filter(
            group__permissions__content_type__app_label=APP, group__permissions__codename=APPROVE_CODENAME
        )
    else:
        webhooks = GroupWebhook.objects.filter(group__user=aws_request.created_by_id)
    words: tuple[str, str] | None = None
    for webhook in webhooks.distinct().order_by("pk"):
        if event in webhook.events:
            words = words or render_webhook(aws_request, event, audience="group")
            yield Message(Notification.Channel.WEBHOOK, webhook.url, None, *words)


def mail_enabled() -> bool:
    """Whether the portal can send mail: an SMTP host is set, or another backend (console, files)."""
    return bool(settings.EMAIL_HOST) or settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend"


# --- the words ----------------------------------------------------------------------------------

# What happened, as told to the person concerned and as told to a group's channel.
HEADLINES = {
    NotificationEvent.AWAITING_APPROVAL: ("Request #{n} waits for your approval", "Request #{n} waits for approval"),
    NotificationEvent.APPROVED: ("Your request #{n} was approved", "Request #{n} was approved"),
    NotificationEvent.REJECTED: ("Your request #{n} was rejected", "Request #{n} was rejected"),
    NotificationEvent.SUCCEEDED: ("Your request #{n} succeeded", "Request #{n} succeeded"),
    NotificationEvent.FAILED: ("Your request #{n} failed", "Request #{n} failed"),
}


def absolute_url(path: str) -> str:
    """``path`` on the portal as people reach it (PORTAL_BASE_URL): a message is read elsewhere."""
    return f"{settings.PORTAL_BASE_URL}{path}"


def message_context(aws_request: AwsRequest, event: str, audience: str) -> dict:
    """What a message may say: nothing from the parameters, no error message, no free text."""
    try:
        title = get_operation(aws_request.operation_key).title
    except LookupError:  # an operation no longer registered
        title = aws_request.operation_key
    decision = getattr(aws_request, "decision", None) if event in ("approved", "rejected") else None
    headline = HEADLINES[NotificationEvent(event)][0 if audience == "person" else 1].format(n=aws_request.pk)
    return {
        "event": event,
        "audience": audience,
        "headline": headline,
        "number": aws_request.pk,
        "operation_title": title,
        "operation_key": aws_request.operation_key,
        "target": aws_request.target.name if aws_request.target else "",
        "account_id": aws_request.account_id,
        "region": aws_request.region,
        "requested_by": aws_request.created_by_username or aws_request.created_by.get_username(),
        "decided_by": decision.decided_by.get_username() if decision else "",
        "resource_id": aws_request.resource_id if event == NotificationEvent.SUCCEEDED else "",
        "error_code": aws_request.error_code if event == NotificationEvent.FAILED else "",
        "link": absolute_url(aws_request.get_absolute_url()),
        "settings_link": absolute_url(reverse("notification_settings")),
    }


def _one_line(text: str, limit: int = 255) -> str:
    """A mail subject: one line (a newline in a header is refused), within the column's length."""
    return " ".join(text.split())[:limit]


def render_mail(aws_request: AwsRequest, event: str, *, audience: str) -> tuple[str, str]:
    context = message_context(aws_request, event, audience)
    subject = render_to_string("notifications/subject.txt", context)
    return _one_line(subject), render_to_string("notifications/body.txt", context)


def _slack_escaped(value: object) -> str:
    # Slack's three control characters in message text; other services show the text as it is.
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_webhook(aws_request: AwsRequest, event: str, *, audience: str) -> tuple[str, str]:
    context = message_context(aws_request, event, audience)
    subject = _one_line(render_to_string("notifications/subject.txt", context))
    shown = {k: _slack_escaped(v) if isinstance(v, str) else v for k, v in context.items()}
    return subject, render_to_string("notifications/webhook.txt", shown).strip()


# --- 3. delivering ------------------------------------------------------------------------------


class DeliveryError(Exception):
    """A message that did not go out; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _token(now: dt.datetime) -> dt.datetime:
    """A hand-over's token: the row's next due time, one lease ahead, told apart by its microseconds."""
    return now + HANDOVER_LEASE + dt.timedelta(microseconds=random.randrange(1_000_000))


def _hand_over(notification_id: int, token: dt.datetime) -> bool:
    """Publish one delivery; False if the broker did not take it (the row is due again at ``token``)."""
    from integrations.tasks import deliver_notification

    try:
        deliver_notification.apply_async((notification_id, token.isoformat()), retry=False)
    except Exception as exc:  # any broker failure; the row says when it is due again
        logger.warning("Could not hand over notification %s (%s); beat will", notification_id, _brief(exc))
        return False
    return True


def send_lease() -> dt.timedelta:
    """How long a delivery holds its row: one send's timeout, with room to record the outcome."""
    return dt.timedelta(seconds=3 * settings.PORTAL_NOTIFICATION_TIMEOUT_SECONDS + 30)


def deliver(notification_id: int, token: str) -> str:
    """Send one outbox row if this hand-over still holds it; what happened, in a word.

    The claim is a compare-and-set on ``next_attempt_at`` (the hand-over's ``token``) that pushes
    it one send lease ahead and counts the attempt: a redelivered message, or one beat sent again
    after its lease, finds the row changed (or sent) and does nothing. A worker that dies mid-send
    leaves the row due again after the lease.
    """
    handed = parse_datetime(token)
    if handed is None:
        return "not ours"
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING, next_attempt_at=handed
    ).update(next_attempt_at=now + send_lease(), attempts=F("attempts") + 1)
    if not claimed:
        return "not ours"
    notification = Notification.objects.get(pk=notification_id)
    try:
        send(notification)
    except DeliveryError as exc:
        return _record_failure(notification, str(exc), permanent=exc.permanent)
    except Exception as exc:  # a bug or an unexpected library error: kept, retried like the rest
        logger.exception("Notification %s could not be sent", notification_id)
        return _record_failure(notification, _brief(exc), permanent=False)
    _record(notification_id, {"status": Notification.Status.SENT, "sent_at": timezone.now(), "last_error": ""})
    return "sent"


def _record(notification_id: int, outcome: dict[str, object]) -> None:
    """Write one delivery's outcome, unless the row is no longer pending: a delivery that outlived
    its lease never overwrites the outcome of the one that took over (sent stays sent)."""
    outcome.setdefault("next_attempt_at", None)
    Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(**outcome)


def _record_failure(notification: Notification, error: str, *, permanent: bool) -> str:
    """Keep the error; try again later, or give up (after the last attempt, or when it cannot help)."""
    error = error[:ERROR_LIMIT]
    if permanent or notification.attempts >= settings.PORTAL_NOTIFICATION_MAX_ATTEMPTS:
        _record(notification.pk, {"status": Notification.Status.FAILED, "last_error": error})
        logger.warning(
            "Gave up notification %s to %s after %d attempt(s): %s",
            notification.pk, notification.channel, notification.attempts, error,
        )  # fmt: skip
        return "failed"
    later = timezone.now() + dt.timedelta(seconds=backoff(notification.attempts))
    _record(notification.pk, {"last_error": error, "next_attempt_at": later})
    return "retrying"


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try after ``attempts`` failed ones: exponential, capped, jittered
    between half and all of it (a notification a little late; never at once again)."""
    ceiling = min(
        settings.PORTAL_NOTIFICATION_RETRY_CAP_SECONDS,
        settings.PORTAL_NOTIFICATION_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1),
    )
    return (rng or random).uniform(ceiling / 2, ceiling)


def send(notification: Notification) -> None:
    """Send one message by its channel; DeliveryError if it did not go out."""
    if notification.channel == Notification.Channel.EMAIL:
        send_mail(notification.address, notification.subject, notification.body)
    else:
        post_webhook(notification.address, notification.body)


def send_mail(address: str, subject: str, body: str) -> None:
    """One message through Django's mail (EMAIL_* settings), bounded by the notification timeout."""
    import smtplib

    try:
        connection = get_connection(fail_silently=False, timeout=settings.PORTAL_NOTIFICATION_TIMEOUT_SECONDS)
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address], connection=connection).send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(f"the mail server refused the address (SMTP {codes[0] if codes else '?'})",
                            permanent=all(500 <= code < 600 for code in codes)) from None  # fmt: skip
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"the mail server answered SMTP {exc.smtp_code}: {_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS
        raise DeliveryError(f"could not reach the mail server ({_brief(exc)})") from None


def post_webhook(url: str, text: str) -> None:
    """POST ``{"text": text}`` (Slack-compatible) to ``url``; any 2xx is delivered.

    A short timeout, no redirects followed (a webhook that moved is the owner's to fix, and a
    redirect could lead anywhere), and in production only https to public addresses.
    """
    problem = webhook_url_problem(url, resolve=True)
    if problem:
        raise DeliveryError(problem, permanent=True)
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=settings.PORTAL_NOTIFICATION_TIMEOUT_SECONDS) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        # 4xx says the URL or the message is wrong (gone, revoked): trying again cannot help,
        # except for "too many requests" and "timeout". 3xx: a redirect, not followed.
        permanent = 300 <= exc.code < 500 and exc.code not in (408, 429)
        raise DeliveryError(f"the webhook answered HTTP {exc.code}", permanent=permanent) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(f"could not reach the webhook ({_brief(exc)})") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


def webhook_url_problem(url: str, *, resolve: bool = False) -> str | None:
    """Why ``url`` may not be a webhook, in words; None if it may.

    http or https with a host, no credentials in it; in production https only, and (with
    ``resolve``, when sending) not an address inside the portal's network: a webhook is a URL any
    signed-in person may type, and the portal POSTs to it from inside.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter an http:// or https:// URL."
    if parts.username or parts.password:
        return "Leave the user name and password out of the URL."
    if settings.PRODUCTION and parts.scheme != "https":
        return "Enter an https:// URL: messages are not sent over plain HTTP."
    if settings.PRODUCTION and resolve:
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(parts.hostname, port or 443)}
        except OSError:
            return f"The webhook's host {parts.hostname} could not be found."
        if any(not ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
            return f"The webhook's host {parts.hostname} is inside the portal's network."
    return None


def validate_webhook_url(url: str) -> None:
    """A form field's validator: ``webhook_url_problem`` as a ValidationError."""
    problem = webhook_url_problem(url)
    if problem:
        raise ValidationError(problem)


# --- 4. beat: what is due -----------------------------------------------------------------------


def send_due(now: dt.datetime | None = None) -> list[int]:
    """Hand over the due rows, the longest-waiting first, at most SEND_BATCH; the ids sent.

    Each is pushed one hand-over lease ahead in the same transaction as its selection (SKIP
    LOCKED: two runs never take one row), so a slow queue is not sent the same row again.
    """
    now = now or timezone.now()
    token = _token(now)
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=Notification.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SEND_BATCH]
        )
        Notification.objects.filter(pk__in=due).update(next_attempt_at=token)
    sent = []
    for notification_id in due:
        if not _hand_over(notification_id, token):
            break
        sent.append(notification_id)
    return sent


# --- a person's "send a test" -------------------------------------------------------------------


def send_test(user: User, preference: NotificationPreference) -> list[str]:
    """Send a test message to each of ``user``'s channels now; what happened, one line each.

    Sent from the web request itself (bounded by the notification timeout), so the person sees
    the outcome; it is not kept in the outbox and never retried.
    """
    subject = "[Integrations Portal] A test notification"
    text = (
        f"This is a test from the Integrations Portal for {user.get_username()}. "
        f"Change what you are told: {absolute_url(reverse('notification_settings'))}"
    )
    results = []
    if preference.by_email and user.email and mail_enabled():
        try:
            send_mail(user.email, subject, text + "\n")
            results.append(f"A test e-mail was sent to {user.email}.")
        except DeliveryError as exc:
            results.append(f"The test e-mail could not be sent: {exc}.")
    if preference.webhook_url:
        try:
            post_webhook(preference.webhook_url, text)
            results.append("The webhook took the test message.")
        except DeliveryError as exc:
            results.append(f"The webhook did not take the test message: {exc}.")
    return results or ["Nothing to test: turn on e-mail (with an address on your account) or set a webhook URL."]


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _brief(exc: BaseException) -> str:
    """An exception as one short line: its type and first line, no traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
