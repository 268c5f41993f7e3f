"""The rate limit is one bucket for every worker process, and a batch never keeps a single request
waiting: two real worker processes run a Supply Chain batch against the sandbox, whose call log
(the time each call arrived, and its client token) is the judge, with the time each call's attempt
started (before its worker asked for a token).

The limit is 5 calls a second with a burst of 5 (PORTAL_RATE_LIMITS=supplychain=5/5); a batch's
calls leave PORTAL_RATE_INTERACTIVE_RESERVE (0.2, one token) of the bucket to single requests.
Each event is a group of its own, so that only the rate limit paces the batch.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from integrations import batches, lifecycle
from integrations.models import Attempt, AttemptKind, AwsRequest, Batch, BatchStatus, RequestStatus
from operations import get_operation
from tests import processes
from tests.factories import default_target, make_operator
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OPERATION = "supplychain/SendDataIntegrationEvent"
INSTANCE_ID = "11111111-2222-4333-8444-555555555555"
RATE, BURST = 5.0, 5.0
RESERVE = 0.2
IN_FLIGHT = 4
LIMITED = {
    "PORTAL_RATE_LIMITS": f"supplychain={RATE:g}/{BURST:g}",
    "PORTAL_RATE_INTERACTIVE_RESERVE": str(RESERVE),
    "PORTAL_BULK_IN_FLIGHT": str(IN_FLIGHT),
}
# The sandbox's log and the attempts' start times read one clock, the machine's (every process
# runs here): the margin is only for the rounding of their two formats (microseconds).
CLOCK_MARGIN_S = 0.001


def event(group: str) -> dict:
    return {
        "instanceId": INSTANCE_ID,
        "eventType": "scn.data.inboundorder",
        "eventGroupId": group,
        "data": json.dumps({"order_id": group, "change": "UPSERT"}),
    }


def submit_batch(user, target, count: int) -> Batch:
    """Upload ``count`` events, each of its own group, wait for the workers' check, and submit them."""
    lines = b"".join(json.dumps(event(f"rate-{n}")).encode() + b"\n" for n in range(count))
    batch = batches.upload(get_operation(OPERATION), user, target, io.BytesIO(lines), "events.jsonl")
    checked = wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).first(), message="the batch to be checked"
    )
    batches.submit(checked, user)
    return checked


def creates(sandbox) -> list[dict]:
    return [c for c in list(sandbox.state.calls) if c["operation"] == OPERATION]


@pytest.fixture
def two_workers(portal_env, logs):
    """Two worker processes (each its own pool) and beat, sharing the rate limit's bucket. Stopped
    after each test, before its tables are emptied: a worker or beat still writing (a confirmation,
    a sweep) would deadlock with the truncation."""
    env = {**portal_env, **LIMITED}
    workers, beat = processes.start_workers_and_beat(env, logs)
    yield workers
    for process in (*workers, beat):
        process.stop()


@pytest.fixture
def loader(db):
    user = make_operator("bulk-loader")
    default_target().users.add(user)
    return user


def test_two_worker_processes_together_stay_within_the_buckets_rate(two_workers, sandbox, loader):
    batch = submit_batch(loader, default_target(), 40)

    wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, status=BatchStatus.FINISHED).exists(),
        timeout=60,
        message="the batch to finish",
    )

    requests = AwsRequest.objects.filter(batch=batch)
    assert set(requests.values_list("status", flat=True)) == {RequestStatus.SUCCEEDED}
    started = {
        attempt.client_token: attempt.started_at.timestamp()
        for attempt in Attempt.objects.filter(request__batch=batch, kind=AttemptKind.CREATE)
    }
    # Each call's token was taken after its attempt started (recorded before the token is asked
    # for) and before the call reached the sandbox (logged on arrival).
    calls = sorted(
        (dt.datetime.fromisoformat(c["time"]).timestamp(), started[c["client_token"]]) for c in creates(sandbox)
    )
    assert len(calls) == 40  # one call each: nothing was throttled, nothing was retried
    # So the calls i..j (by arrival) took their tokens between the earliest of their starts and
    # the last arrival: at most the burst plus what the bucket refills in that stretch.
    excess = []
    for i in range(len(calls)):
        earliest = calls[i][1]
        for j in range(i, len(calls)):
            earliest = min(earliest, calls[j][1])
            stretch = calls[j][0] - earliest
            if j - i + 1 > BURST + RATE * (stretch + CLOCK_MARGIN_S):
                excess.append((i, j, j - i + 1, stretch))
    assert excess == [], excess[:10]
    # And not by accident: 40 tokens from a bucket of 5 filling at 5 a second take 7 seconds.
    assert calls[-1][0] - min(start for _, start in calls) >= (len(calls) - BURST) / RATE - CLOCK_MARGIN_S
    callers = {
        attempt.worker.rsplit(" pid ", 1)[0]
        for request in requests.prefetch_related("attempts")
        for attempt in request.attempts.filter(kind=AttemptKind.CREATE)
    }
    assert len(callers) == 2, callers  # both workers called AWS, and took their tokens from one bucket


def test_a_single_request_is_not_kept_waiting_behind_a_running_batch(two_workers, sandbox, loader):
    total = 150
    batch = submit_batch(loader, default_target(), total)
    wait_for(
        lambda: AwsRequest.objects.filter(batch=batch, status=RequestStatus.SUCCEEDED).count() >= 2 * BURST,
        timeout=60,
        message="the batch to be running at its rate",
    )

    calls_before = len(creates(sandbox))
    single = lifecycle.submit(get_operation(OPERATION), event("interactive"), loader, default_target()).aws_request
    done = wait_for(
        lambda: AwsRequest.objects.filter(pk=single.pk, status=RequestStatus.SUCCEEDED).first(),
        timeout=30,
        message="the single request to succeed",
    )
    unfinished = AwsRequest.objects.filter(batch=batch).exclude(status=RequestStatus.SUCCEEDED).count()
    batches.cancel(Batch.objects.get(pk=batch.pk), loader)  # the rest is not this test's business

    # Admitted at once: one attempt, never put off by the rate limit.
    assert done.attempts.filter(kind=AttemptKind.CREATE).count() == 1
    assert done.next_attempt_at is None
    assert unfinished > total / 2  # most of the batch was still to come
    calls = creates(sandbox)
    position = next(i for i, c in enumerate(calls) if c["client_token"] == done.client_token)
    batch_calls_first = position - calls_before
    # The batch's calls that got in first: at most those already in flight when it was
    # submitted, and what the reserve left to single requests (a batch's call leaves it).
    assert batch_calls_first <= IN_FLIGHT + BURST * RESERVE, calls[calls_before : position + 1]
