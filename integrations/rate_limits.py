"""How fast the portal calls AWS: a token bucket per (account, region, service), shared by every worker.

AWS throttles each API per account and region. Sending a burst as fast as the workers allow
only gets most of it throttled and retried, and one person's bulk upload then delays everybody's
single requests. So every create call first takes a token from its bucket:

- the bucket fills at ``rate`` tokens a second up to ``burst`` (PORTAL_RATE_LIMITS per service,
  PORTAL_RATE_LIMIT_DEFAULT otherwise), and taking one is a single compare-and-set ``UPDATE`` of
  the bucket's row, so every worker process on every machine shares it (the database is the one
  thing they all have; no extra service to run);
- a batch's requests leave a reserve in the bucket (PORTAL_RATE_INTERACTIVE_RESERVE of the burst)
  that only interactive requests may take, so a single request finds a token at once while a
  batch runs;
- a throttle from AWS halves the bucket's rate (at most once a second, down to a tenth of the
  configured rate) and empties it; the rate then grows back by a twentieth of the configured one
  each second (additive increase, multiplicative decrease, as TCP does), counted in the same
  UPDATE that takes a token, so a call costs one statement whatever the bucket's state.

A request refused a token is not called and has no attempt recorded: it waits (``lifecycle.defer``)
for as long as the bucket needs to fill, and the sweeper or the batch feeder sends it again.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest, Least
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from integrations.models import RateBucket

# How far one throttle lowers the rate, how low it may go, and how much of the configured rate
# comes back each second after it.
DECREASE = 0.5
FLOOR = 0.1
RECOVERY_PER_SECOND = 0.05
# Throttles within this many seconds of the last one are one signal, not several halvings.
THROTTLE_SPACING = 1.0


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens a second; 0: unlimited
    burst: float  # the bucket's size


def limit_for(service: str) -> Limit:
    rate, burst = settings.PORTAL_RATE_LIMITS.get(service, settings.PORTAL_RATE_LIMIT_DEFAULT)
    return Limit(float(rate), float(burst))


def bucket_key(account_id: str, region: str, service: str) -> str:
    return f"{account_id or '-'}/{region}/{service}"


def _available(limit: Limit, now: float) -> Least:
    """The tokens in the bucket at ``now``: what was left, plus what the current rate refilled."""
    rate = Least(F("rate"), Value(limit.rate))
    return Least(Value(limit.burst), F("tokens") + Greatest(Value(now) - F("stamp"), Value(0.0)) * rate)


def take(account_id: str, region: str, service: str, *, bulk: bool = False, now: float | None = None) -> float:
    """Take a token for one call: 0.0 if taken, else how many seconds to wait before asking again.

    ``bulk`` calls (a batch's) must leave the interactive reserve in the bucket.
    """
    limit = limit_for(service)
    if limit.rate <= 0:
        return 0.0
    now = time.time() if now is None else now
    key = bucket_key(account_id, region, service)
    need = 1.0 + (_reserve(limit) if bulk else 0.0)
    available = _available(limit, now)
    elapsed = Greatest(Value(now) - F("stamp"), Value(0.0))
    recovered = Least(Value(limit.rate), F("rate") + elapsed * Value(limit.rate * RECOVERY_PER_SECOND))
    taken = RateBucket.objects.filter(GreaterThanOrEqual(available, Value(need)), key=key).update(
        tokens=available - 1.0, stamp=Greatest(F("stamp"), Value(now)), rate=recovered
    )
    if taken:
        return 0.0
    bucket = RateBucket.objects.filter(key=key).values("tokens", "stamp", "rate").first()
    if bucket is None:
        _create(key, limit, now)
        return take(account_id, region, service, bulk=bulk, now=now)
    rate = min(bucket["rate"], limit.rate)
    tokens = min(limit.burst, bucket["tokens"] + max(0.0, now - bucket["stamp"]) * rate)
    return max((need - tokens) / rate, 0.001)


def _create(key: str, limit: Limit, now: float) -> None:
    try:
        with transaction.atomic():
            RateBucket.objects.create(key=key, tokens=limit.burst, stamp=now, rate=limit.rate)
    except IntegrityError:
        pass  # another worker made it first


def throttled(account_id: str, region: str, service: str, *, now: float | None = None) -> bool:
    """AWS throttled a call: halve the bucket's rate and empty it. True if this lowered it."""
    limit = limit_for(service)
    if limit.rate <= 0:
        return False
    now = time.time() if now is None else now
    at = timezone.now()
    recent = at - dt.timedelta(seconds=THROTTLE_SPACING)
    not_just_now = Q(throttled_at__isnull=True) | Q(throttled_at__lt=recent)
    return bool(
        RateBucket.objects.filter(not_just_now, key=bucket_key(account_id, region, service)).update(
            rate=Greatest(Least(F("rate"), Value(limit.rate)) * DECREASE, Value(limit.rate * FLOOR)),
            tokens=Least(F("tokens"), Value(0.0)),
            stamp=Greatest(F("stamp"), Value(now)),
            throttled_at=at,
            throttles=F("throttles") + 1,
        )
    )


def bulk_budget(account_id: str, region: str, service: str, within: float, *, now: float | None = None) -> float:
    """How many calls a batch may expect to make in the next ``within`` seconds: the tokens above the
    interactive reserve now, plus what the bucket refills meanwhile (infinite without a limit).

    The batch feeder sends no more than this, so that a batch's requests are mostly admitted
    rather than claimed, refused and deferred (work for nothing, on a loaded database).
    """
    limit = limit_for(service)
    if limit.rate <= 0:
        return float("inf")
    now = time.time() if now is None else now
    bucket = (
        RateBucket.objects.filter(key=bucket_key(account_id, region, service)).values("tokens", "stamp", "rate").first()
    )
    if bucket is None:
        return limit.burst + limit.rate * within
    rate = min(bucket["rate"], limit.rate)
    tokens = min(limit.burst, bucket["tokens"] + max(0.0, now - bucket["stamp"]) * rate)
    return max(0.0, tokens - _reserve(limit)) + rate * within


def _reserve(limit: Limit) -> float:
    """The tokens a batch leaves for single requests: a share of the burst, but never so much that a
    batch could not take one at all (a burst of 1 leaves nothing to share)."""
    return min(limit.burst * settings.PORTAL_RATE_INTERACTIVE_RESERVE, limit.burst - 1.0)
