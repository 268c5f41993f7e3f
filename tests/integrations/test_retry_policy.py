"""backoff_seconds(): exponential backoff with full jitter, capped, honouring the service's wait."""

from __future__ import annotations

import random

import pytest

from integrations.retry_policy import backoff_seconds, max_attempts

DRAWS = 2000


@pytest.fixture
def policy(settings):
    settings.PORTAL_RETRY_BASE_SECONDS = 0.5
    settings.PORTAL_RETRY_CAP_SECONDS = 10.0
    return settings


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 10.0)])
def test_it_waits_between_zero_and_the_capped_exponential(policy, attempt, ceiling):
    rng = random.Random(attempt)

    waits = [backoff_seconds(attempt, rng=rng) for _ in range(DRAWS)]

    assert all(0 <= w <= ceiling for w in waits)
    # Full jitter spreads over the whole range, not only near its top or its bottom.
    assert min(waits) < ceiling * 0.05
    assert max(waits) > ceiling * 0.95


@pytest.mark.parametrize("attempt", [7, 20, 100])
def test_it_never_waits_longer_than_the_cap_however_many_attempts(policy, attempt):
    rng = random.Random(attempt)

    waits = [backoff_seconds(attempt, rng=rng) for _ in range(DRAWS)]

    assert all(0 <= w <= 10.0 for w in waits)
    assert max(waits) > 9.5


def test_full_jitter_actually_varies(policy):
    waits = {backoff_seconds(3) for _ in range(50)}

    assert len(waits) > 40


def test_it_reads_base_and_cap_from_settings_when_called(settings):
    settings.PORTAL_RETRY_BASE_SECONDS = 3.0
    settings.PORTAL_RETRY_CAP_SECONDS = 5.0
    rng = random.Random(7)

    waits = [backoff_seconds(1, rng=rng) for _ in range(DRAWS)] + [backoff_seconds(2, rng=rng) for _ in range(DRAWS)]

    assert all(0 <= w <= 5.0 for w in waits)
    assert max(waits) > 4.5


def test_a_wait_the_service_asked_for_is_honoured(policy):
    rng = random.Random(1)

    waits = [backoff_seconds(1, retry_after=7.0, rng=rng) for _ in range(200)]

    assert set(waits) == {7.0}


def test_a_wait_the_service_asked_for_never_shortens_a_longer_backoff(policy):
    rng = random.Random(2)

    waits = [backoff_seconds(6, retry_after=0.1, rng=rng) for _ in range(DRAWS)]

    assert all(0.1 <= w <= 10.0 for w in waits)
    assert max(waits) > 9.5


def test_a_wait_the_service_asked_for_is_capped(policy):
    assert backoff_seconds(1, retry_after=3600.0, rng=random.Random(3)) == 10.0


def test_a_seeded_random_gives_the_same_waits_again(policy):
    first = [backoff_seconds(n, rng=random.Random(42)) for n in range(1, 8)]
    again = [backoff_seconds(n, rng=random.Random(42)) for n in range(1, 8)]
    other = [backoff_seconds(n, rng=random.Random(43)) for n in range(1, 8)]

    assert first == again
    assert first != other


def test_the_number_of_attempts_comes_from_settings(settings):
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 4

    assert max_attempts() == 4
