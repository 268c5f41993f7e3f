"""A picker's choices: what a member naming an existing resource may be, listed from the target.

The form's pickers and the API ask the same question here: for one operation's member, in one
target, as one person, with the form's other values (a dataset follows its instance), which
values exist? The answer comes from the service's own List call (the member's ``Picker`` in
``operations/``), made as the worker makes its calls (the target's endpoint, the target's role
assumed for the person, so CloudTrail shows who listed), but with short timeouts: a person is
waiting on a web request, never for a worker's 20 seconds.

Every listing is bounded (pages and items are capped; "type to narrow" says so), kept briefly per
target, person, member and the values it depends on (typing filters what was listed, without a
call), and never raises for AWS's sake: a refusal, a throttle, a timeout or no credentials is an
answer with no choices and the reason in words, and the field stays a text box.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache

from integrations import aws_clients, lifecycle
from integrations.aws_errors import THROTTLING_CODES, Failure, classify
from integrations.models import AwsTarget
from operations import Operation, Picker

logger = logging.getLogger(__name__)

# The filter text is a person's typing: longer than any identifier it could narrow to is cut.
MAX_FILTER_LENGTH = 256
CACHE_PREFIX = "integrations.choices"
# A listing asks for no new page after this many read timeouts (10 s by default).
LISTING_BUDGET = 2

_local = threading.local()


class UnknownMemberError(LookupError):
    """The operation has no picker for this member."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str = ""


@dataclass(frozen=True)
class Choices:
    """One picker's answer: the choices matching the filter, or why there are none.

    ``truncated``: the listing stopped at the cap, so more exist than were listed. ``error``: the
    choices could not be listed (in words, for the person). ``waiting_for``: members this one
    depends on that are still empty (nothing was listed).
    """

    member: str
    noun: str
    choices: list[Choice] = field(default_factory=list)
    listed: int = 0
    truncated: bool = False
    error: str | None = None
    waiting_for: tuple[str, ...] = ()
    filter_text: str = ""

    @property
    def message(self) -> str:
        """What the field says beside the text box about its choices."""
        if self.error:
            return self.error
        if self.waiting_for:
            return f"Choose {' and '.join(f'the {name}' for name in self.waiting_for)} first to see the {self.noun}."
        if not self.listed:
            return f"No {self.noun} in this target: type the value."
        more = f"more than {self.listed}" if self.truncated else str(self.listed)
        if self.filter_text:
            found = f"{len(self.choices)} of {more} {self.noun} match “{self.filter_text}”"
        else:
            found = f"{more} {self.noun}"
        narrow = " — type to narrow" if self.truncated else ""
        return f"{found}{narrow}. Pick one, or type the value."


def picker_for(operation: Operation, member: str) -> Picker:
    """The picker of ``member`` (a dotted path); UnknownMemberError if it has none."""
    picker = operation.pickers.get(member)
    if picker is None:
        raise UnknownMemberError(f"{operation.key} has no choices for {member!r}")
    return picker


def member_label(operation: Operation, member: str) -> str:
    """A member as the form labels it ("Instance ID"), for "Choose the … first"."""
    hint = operation.hints.get(member)
    return (hint.label if hint and hint.label else None) or member.rsplit(".", 1)[-1]


def choices_for(
    operation: Operation,
    member: str,
    target: AwsTarget,
    user: User,
    values: Mapping[str, str],
    filter_text: str = "",
) -> Choices:
    """The choices of ``member`` in ``target`` for ``user``, given the form's other ``values``
    (by dotted member path), narrowed to those containing ``filter_text``.

    Raises PermissionDenied (``lifecycle.authorize``) unless the user may run the operation in
    the target, and UnknownMemberError for a member without a picker; AWS's own failures are
    answered, not raised.
    """
    picker = picker_for(operation, member)
    lifecycle.authorize(user, operation, target)
    text = filter_text.strip()[:MAX_FILTER_LENGTH]
    base = Choices(member=member, noun=picker.noun, filter_text=text)
    parameter_sets = picker.call_params(values)
    if parameter_sets is None:
        missing = tuple(member_label(operation, name) for name in picker.depends_on if not values.get(name))
        return _replace(base, waiting_for=missing)
    key = _cache_key(operation, member, target, user, {name: values.get(name, "") for name in picker.depends_on})
    listed = cache.get(key)
    if listed is None:
        try:
            listed = _list(picker, parameter_sets, target, user.get_username())
        except (BotoCoreError, ClientError) as exc:  # AWS's failures are answered in words; bugs are not
            failure = classify(exc)
            logger.info("Choices of %s %s in target %s not listed: %s", operation.key, member, target.pk, failure.code)
            return _replace(base, error=failure_words(failure, picker.noun))
        cache.set(key, listed, settings.PORTAL_CHOICES_CACHE_SECONDS)
    items, truncated = listed
    everything = [Choice(value, label) for value, label in items]
    return _replace(base, choices=_matching(everything, text), listed=len(everything), truncated=bool(truncated))


def _replace(base: Choices, **changes: Any) -> Choices:
    return Choices(**{**base.__dict__, **changes})


def _matching(choices: list[Choice], text: str) -> list[Choice]:
    """Those choices whose value or label contains ``text``, ignoring case."""
    needle = text.casefold()
    if not needle:
        return choices
    return [c for c in choices if needle in c.value.casefold() or needle in c.label.casefold()]


def _cache_key(operation: Operation, member: str, target: AwsTarget, user: User, depends: Mapping[str, str]) -> str:
    # Hashed: the values are a person's typing, of any length and any characters.
    identity = json.dumps([target.pk, user.pk, operation.key, member, sorted(depends.items())])
    return f"{CACHE_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()}"


def _list(
    picker: Picker, parameter_sets: list[dict[str, Any]], target: AwsTarget, username: str
) -> tuple[list[tuple[str, str]], bool]:
    """Every (value, label) the picker's List call returns for each parameter set, in order and
    without repeats, and whether a cap stopped the listing. Raises botocore's errors.

    Bounded three ways: items, pages, and time. No new page is asked for once LISTING_BUDGET read
    timeouts have passed, so a slow service holds the web request for at most that plus one call,
    never pages times calls.
    """
    client = list_client(picker.service, target, username)
    method = xform_name(picker.operation)
    found: dict[str, str] = {}
    pages = 0
    deadline = time.monotonic() + LISTING_BUDGET * settings.PORTAL_CHOICES_READ_TIMEOUT
    for params in parameter_sets:
        for page in _pages(client, method, params):
            pages += 1
            for item in page:
                if not isinstance(item, dict) or (picker.keep is not None and not picker.keep(item)):
                    continue
                value = item.get(picker.value)
                if not isinstance(value, str) or not value or value in found:
                    continue
                if len(found) >= settings.PORTAL_CHOICES_MAX_ITEMS:
                    return list(found.items()), True
                label = item.get(picker.label) if picker.label else None
                found[value] = label if isinstance(label, str) else ""
            if pages >= settings.PORTAL_CHOICES_MAX_PAGES or time.monotonic() > deadline:
                # Whether the last page read was the last one is unknown without another call,
                # so the listing says "more than" to be safe.
                return list(found.items()), True
    return list(found.items()), False


def _pages(client: BaseClient, method: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    """The items of each page of one List call, by botocore's paginator where the service has one
    (it follows the service's own tokens: nextToken, NextMarker, …)."""
    if not client.can_paginate(method):
        yield _items(getattr(client, method)(**params))
        return
    paginator: Any = client.get_paginator(method)
    result_key = paginator.result_keys[0]  # every picker's List call has one result list
    for response in paginator.paginate(**params):
        yield result_key.search(response) or []


def _items(response: dict[str, Any]) -> list[Any]:
    """The one list in a response of a call botocore cannot page."""
    lists = [v for k, v in response.items() if isinstance(v, list) and k != "ResponseMetadata"]
    return lists[0] if lists else []


# --- the client: the worker's identity, a web request's timeouts -----------------------------------


def list_client(service: str, target: AwsTarget, username: str) -> BaseClient:
    """A client for ``target``'s List calls, as ``username``: the worker's endpoint and identity (the
    target's role assumed with a session named after the person), each send bounded by
    PORTAL_CHOICES_CONNECT_TIMEOUT / PORTAL_CHOICES_READ_TIMEOUT, since a person is waiting."""
    timeouts = (settings.PORTAL_CHOICES_CONNECT_TIMEOUT, settings.PORTAL_CHOICES_READ_TIMEOUT)
    return aws_clients.get_client(service, target.region, target, username, timeouts=timeouts)


# --- failures in words -------------------------------------------------------------------------------

_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException")
_TIMEOUTS = ("ReadTimeoutError", "ConnectTimeoutError")
_UNREACHABLE = ("EndpointConnectionError", "ConnectionClosedError", "ConnectionError", "ProxyConnectionError")


def failure_words(failure: Failure, noun: str) -> str:
    """Why the choices could not be listed, in plain words, ending with what to do instead."""
    code = failure.code
    if code in _DENIED or failure.http_status == 403:
        why = f"the target's role may not list {noun} ({code})"
    elif code in THROTTLING_CODES or failure.http_status == 429:
        why = f"AWS is throttling this account's calls just now ({code}); try again in a moment"
    elif code in _TIMEOUTS:
        why = "AWS did not answer in time"
    elif code in _UNREACHABLE:
        why = "AWS could not be reached"
    elif code in ("NoCredentials", "NoCredentialsError", "PartialCredentialsError"):
        why = "the portal has no AWS credentials for this target"
    elif code in ("ValidationException", "ParamValidationError", "InvalidParameterValueException"):
        why = f"AWS refused the values this list depends on ({code})"
    else:
        why = f"AWS answered {code}"
    return f"The {noun} could not be listed: {why}. Type the value instead."
