"""When to try again: exponential backoff with full jitter, capped, for a bounded number of tries."""

from __future__ import annotations

import random

from django.conf import settings


def max_attempts() -> int:
    return settings.PORTAL_RETRY_MAX_ATTEMPTS


def backoff_seconds(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Full jitter (uniform between 0 and the capped exponential) spreads retries of many requests
    throttled together; a wait the service asked for is honoured, within the cap.
    """
    cap = settings.PORTAL_RETRY_CAP_SECONDS
    ceiling = min(cap, settings.PORTAL_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
