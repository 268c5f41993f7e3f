"""Order per event group under faults: interleaved Supply Chain events of many groups, sent through
real workers and beat while the sandbox throttles, fails with 5xx and answers after the read
timeout at random, and a worker is killed (SIGKILL, the whole process group) in the middle of a
call and replaced by a new one.

The sandbox's record is the judge, not the portal's: its resources list holds the events in the
order it created them, each with its client token, and its call log every call in the order it
arrived. Each client token maps back to the portal's request (and batch line). For every group
the events must be created in the order recorded, and no call of an event may reach the sandbox
before the last call of an earlier event of its group (the earlier one was final by then: the
portal sends an event only once every earlier one of its group is finished). No event is created
twice, none is lost, and every request succeeds.

Once as a batch (uploaded in-process with ``batches.upload``; the workers check, record and feed
it), once as single requests (``lifecycle.submit``) of the same groups.
"""

from __future__ import annotations

import io
import json
import random
from collections import defaultdict

import pytest

from integrations import batches, lifecycle
from integrations.models import Attempt, AttemptOutcome, AwsRequest, Batch, BatchStatus, RequestStatus
from operations import get_operation
from tests import processes
from tests.factories import default_target, make_operator
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OPERATION = "supplychain/SendDataIntegrationEvent"
INSTANCE_ID = "11111111-2222-4333-8444-555555555555"
GROUPS = 24
EVENTS_PER_GROUP = 10
# The worker gives up on a call after PORTAL_AWS_READ_TIMEOUT (3 s in tests.processes.portal_env);
# a "slow" answer comes later than that, after the sandbox created the event.
SLOW = {"kind": "slow", "delay_s": 4}
# Enough attempts that no event fails for want of them: a failed event would hold its group.
ENV = {"PORTAL_RETRY_MAX_ATTEMPTS": "15"}


def event(group: int, step: int) -> dict:
    """Event ``step`` of order ``group``: upserts, and now and then the order deleted and made again."""
    change = "DELETE" if step % 4 == 3 else "UPSERT"
    return {
        "instanceId": INSTANCE_ID,
        "eventType": "scn.data.inboundorder",
        "eventGroupId": f"order-{group}",
        "data": json.dumps({"order_id": f"order-{group}", "change": change, "step": step}),
    }


def interleaved_events() -> list[dict]:
    """Every group's first event, then every group's second, and so on."""
    return [event(group, step) for step in range(EVENTS_PER_GROUP) for group in range(GROUPS)]


def plan_faults(sandbox, seed: int) -> None:
    """Throttles, 5xx and late answers at random (seeded, so a failure can be replayed): drawn for
    more calls than the events, so that retries meet faults too."""
    rng = random.Random(seed)
    steps = rng.choices(["ok", "throttle", "internal", SLOW], [72, 14, 12, 2], k=2 * GROUPS * EVENTS_PER_GROUP)
    sandbox.state.add_fault({"operation": OPERATION, "sequence": steps})


def kill_a_worker_mid_call(sandbox, workers: list[processes.Process]) -> int:
    """Wait for a late answer in flight (the event already created, the worker waiting for the
    response), SIGKILL the worker holding the call with all its pool processes, and return the
    request whose call was cut off."""

    def in_flight() -> tuple[processes.Process, int] | None:
        slow = {c["client_token"] for c in list(sandbox.state.calls) if c["fault"] == "slow"}
        for attempt in Attempt.objects.filter(outcome=AttemptOutcome.IN_PROGRESS, client_token__in=slow):
            pid = int(attempt.worker.rsplit(" pid ", 1)[1])
            for worker in workers:
                if pid in worker.children():
                    return worker, attempt.request_id
        return None

    victim, request_id = wait_for(in_flight, timeout=60, message="a late answer in flight")
    victim.crash()
    return request_id


def every_event_finished() -> bool:
    unfinished = AwsRequest.objects.exclude(status__in=(RequestStatus.SUCCEEDED, RequestStatus.FAILED))
    return AwsRequest.objects.count() == GROUPS * EVENTS_PER_GROUP and not unfinished.exists()


def run_under_faults(sandbox, portal_env, logs, send, done=every_event_finished) -> tuple[list[AwsRequest], int]:
    """Start two workers and beat, ``send()`` the events, kill a worker mid-call and start a new
    one, and wait until ``done()``; the requests, and the one whose call was cut off."""
    plan_faults(sandbox, seed=15)
    env = {**portal_env, **ENV}
    workers, beat = processes.start_workers_and_beat(env, logs)
    try:
        send()
        cut_off = kill_a_worker_mid_call(sandbox, workers)
        workers.append(processes.start_worker(env, logs))
        wait_for(done, timeout=150, message="every event to be sent")
    finally:
        beat.stop()
        for worker in workers:
            worker.stop()
    return list(AwsRequest.objects.order_by("pk")), cut_off


def assert_sent_once_each_in_group_order(sandbox, requests: list[AwsRequest]) -> None:
    by_token = {r.client_token: r for r in requests}
    created = [r for r in sandbox.state.resources if r["operation"] == OPERATION]
    calls = [c for c in sandbox.state.calls if c["operation"] == OPERATION]

    assert [r.status for r in requests] == [RequestStatus.SUCCEEDED] * len(requests), [
        (r.pk, r.status, r.error_code) for r in requests if r.status != RequestStatus.SUCCEEDED
    ]
    tokens = [r["client_token"] for r in created]
    assert len(tokens) == len(set(tokens)), "an event was created twice"
    assert set(tokens) == set(by_token), "an event was lost, or one the portal never recorded was created"
    for request in requests:
        assert request.resource_id == next(r["id"] for r in created if r["client_token"] == request.client_token)

    created_in_group: dict[str, list[int]] = defaultdict(list)
    for resource in created:
        request = by_token[resource["client_token"]]
        created_in_group[request.parameters["eventGroupId"]].append(request.pk)
    recorded_in_group: dict[str, list[int]] = defaultdict(list)
    for request in requests:
        recorded_in_group[request.parameters["eventGroupId"]].append(request.pk)
    assert len(recorded_in_group) == GROUPS
    assert created_in_group == recorded_in_group  # every group's events created in the order recorded

    # Stronger than the creations' order: no call of a later event (a failed or timed-out one
    # included) ever reached the sandbox before a call of an earlier event of its group.
    called_in_group: dict[str, list[int]] = defaultdict(list)
    for call in calls:
        request = by_token[call["client_token"]]
        called_in_group[request.parameters["eventGroupId"]].append(request.pk)
    for group, called in called_in_group.items():
        assert called == sorted(called), (group, called)


def assert_the_faults_happened(sandbox, cut_off: int) -> None:
    """The run met every fault it is about: otherwise it proves nothing."""
    faults = {c["fault"] for c in sandbox.state.calls if c["operation"] == OPERATION}
    assert {"throttle", "internal", "slow"} <= faults
    killed = AwsRequest.objects.get(pk=cut_off)
    # The cut-off call created the event: it was taken over with the same token and replayed.
    assert killed.attempts.filter(outcome=AttemptOutcome.IN_PROGRESS).count() == 0
    assert [c["outcome"] for c in sandbox.state.calls if c["client_token"] == killed.client_token][-1] == "replayed"


def test_a_batchs_groups_reach_aws_in_order_once_each_through_faults_and_a_killed_worker(portal_env, logs, sandbox):
    user = make_operator("bulk-loader")
    target = default_target()
    target.users.add(user)
    operation = get_operation(OPERATION)
    lines = b"".join(json.dumps(e).encode() + b"\n" for e in interleaved_events())
    uploaded: list[Batch] = []

    def send() -> None:
        batch = batches.upload(operation, user, target, io.BytesIO(lines), "events.jsonl")
        checked = wait_for(
            lambda: Batch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).first(),
            message="the batch to be checked",
        )
        assert checked.invalid_lines == 0
        batches.submit(checked, user)
        uploaded.append(checked)

    def finished() -> bool:
        # The feeder (beat) marks the batch finished once every request of it is.
        return bool(uploaded) and Batch.objects.filter(pk=uploaded[0].pk, status=BatchStatus.FINISHED).exists()

    requests, cut_off = run_under_faults(sandbox, portal_env, logs, send, done=finished)

    [batch] = uploaded
    assert_sent_once_each_in_group_order(sandbox, requests)
    assert_the_faults_happened(sandbox, cut_off)
    assert [r.batch_line for r in requests] == list(range(1, GROUPS * EVENTS_PER_GROUP + 1))
    assert {r.batch_id for r in requests} == {batch.pk}
    batch.refresh_from_db()
    assert batch.requests_recorded == GROUPS * EVENTS_PER_GROUP


def test_single_requests_of_many_groups_reach_aws_in_order_once_each_through_faults_and_a_killed_worker(
    portal_env, logs, sandbox
):
    user = make_operator("streamer")
    target = default_target()
    target.users.add(user)
    operation = get_operation(OPERATION)

    def send() -> None:
        for params in interleaved_events():
            lifecycle.submit(operation, params, user, target)

    requests, cut_off = run_under_faults(sandbox, portal_env, logs, send)

    assert_sent_once_each_in_group_order(sandbox, requests)
    assert_the_faults_happened(sandbox, cut_off)
    assert {r.batch_id for r in requests} == {None}
