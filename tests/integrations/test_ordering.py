"""Order per event group (integrations/ordering.py) in-process: what a worker may claim, what is
parked, who hands the next one over, what the sweeper sends, and what makes a group."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone

from integrations import lifecycle, ordering, pipeline
from integrations.models import AwsRequest, RequestStatus
from integrations.tasks import execute_request
from operations import get_operation
from tests.factories import make_operator, make_request, make_target

OPERATION = "supplychain/SendDataIntegrationEvent"
INSTANCE = "8f0e6b1a-1111-4222-8333-444455556666"
S = RequestStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def aws(settings, sandbox):
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 3
    settings.PORTAL_RETRY_BASE_SECONDS = 0.05
    settings.PORTAL_RETRY_CAP_SECONDS = 0.2
    return sandbox


@pytest.fixture(autouse=True)
def sent(monkeypatch, settings):
    """What is handed to the broker, as (request id, queue), instead of sending it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # quick users
    published: list[tuple[int, str | None]] = []
    monkeypatch.setattr(
        execute_request, "apply_async", lambda args, queue=None, **kw: published.append((args[0], queue))
    )
    return published


def event_params(group: str = "order-1", n: int = 1, **overrides: object) -> dict:
    params: dict = {
        "instanceId": INSTANCE,
        "eventType": "scn.data.inboundorder",
        "eventGroupId": group,
        "data": json.dumps({"id": str(n)}),
        "eventTimestamp": "2026-01-31T14:30:00Z",
    }
    params.update(overrides)
    return params


def event(group: str = "order-1", n: int = 1, **fields: object) -> AwsRequest:
    """A recorded Supply Chain event of ``group``, with its order key as ``lifecycle.record`` gives it."""
    params = event_params(group, n)
    target = make_target("sandbox")
    key = ordering.order_key(get_operation(OPERATION), params, target.account_id, target.region)
    return make_request(OPERATION, parameters=params, order_key=key, **fields)


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


HOLDING = {
    "queued": {"status": S.QUEUED},
    "running": {
        "status": S.RUNNING,
        "claim_id": uuid.uuid4(),
        "lease_expires_at": timezone.now() + dt.timedelta(hours=1),
    },
    "retrying": {"status": S.RETRYING, "next_attempt_at": timezone.now() + dt.timedelta(hours=1)},
    "awaiting approval": {"status": S.AWAITING_APPROVAL},
    "failed and not released": {"status": S.FAILED, "error_code": "InternalServerException"},
}
LETTING_GO = {
    "succeeded": {"status": S.SUCCEEDED, "resource_id": "e-1"},
    "cancelled": {"status": S.CANCELLED},
    "rejected": {"status": S.REJECTED},
    "failed and released": {"status": S.FAILED, "order_released": True},
}


class TestClaim:
    @pytest.mark.parametrize("state", HOLDING)
    def test_a_later_event_is_not_claimed_while_an_earlier_one_of_its_group_holds_it(self, aws, state):
        event(n=1, **HOLDING[state])
        later = event(n=2, enqueued_at=timezone.now())

        outcome = pipeline.execute(later.pk)

        assert outcome == "waits for an earlier request of its group, or for its batch to run"
        later.refresh_from_db()
        # Parked: not counted as waiting in the broker; whoever frees the group sends it.
        assert (later.status, later.enqueued_at, later.attempts.count()) == (S.QUEUED, None, 0)
        assert not aws.state.calls

    @pytest.mark.parametrize("state", LETTING_GO)
    def test_an_earlier_event_that_is_final_and_not_failed_or_released_lets_the_later_go(self, aws, state):
        event(n=1, **LETTING_GO[state])
        later = event(n=2)

        assert pipeline.execute(later.pk) == "succeeded"
        assert [c["client_token"] for c in aws.state.calls] == [later.client_token]

    def test_a_later_event_of_another_group_goes_in_parallel(self, aws):
        event(
            group="a",
            status=S.RUNNING,
            claim_id=uuid.uuid4(),
            lease_expires_at=timezone.now() + dt.timedelta(seconds=60),
        )
        other_group = event(group="b")
        other_type = make_request(
            OPERATION,
            parameters=event_params("a", eventType="scn.data.shipment"),
            order_key=ordering.order_key(
                get_operation(OPERATION), event_params("a", eventType="scn.data.shipment"), "111122223333", "us-east-1"
            ),
        )

        assert pipeline.execute(other_group.pk) == "succeeded"
        assert pipeline.execute(other_type.pk) == "succeeded"

    def test_only_an_earlier_event_holds_a_later_one_never_the_other_way_round(self, aws):
        earlier = event(n=1)
        event(n=2, status=S.FAILED)  # a later one failing holds the ones after it, not this one

        assert pipeline.execute(earlier.pk) == "succeeded"

    def test_a_dead_workers_request_is_taken_over_even_while_its_group_waits(self, aws):
        # Its call may have reached AWS: only finishing it with its token says what happened.
        event(n=0, status=S.FAILED)
        taken_over = event(n=1, status=S.RUNNING, claim_id=uuid.uuid4(), lease_expires_at=ago(1))

        assert pipeline.execute(taken_over.pk) == "succeeded"

    def test_an_unordered_operation_is_never_held(self, aws):
        make_request(status=S.FAILED)
        unordered = make_request()

        assert unordered.order_key is None
        assert pipeline.execute(unordered.pk) == "succeeded"


class TestHandOver:
    def test_the_finish_of_the_holder_hands_the_next_one_over(self, aws, sent, django_capture_on_commit_callbacks):
        first = event(n=1)
        second = event(n=2, enqueued_at=timezone.now())
        third = event(n=3, enqueued_at=timezone.now())
        assert pipeline.execute(second.pk).startswith("waits for")

        with django_capture_on_commit_callbacks(execute=True):
            assert pipeline.execute(first.pk) == "succeeded"

        assert [pk for pk, _ in sent] == [second.pk]  # the next one only, not the third
        assert pipeline.execute(third.pk).startswith("waits for")
        with django_capture_on_commit_callbacks(execute=True):
            assert pipeline.execute(second.pk) == "succeeded"
        assert [pk for pk, _ in sent] == [second.pk, third.pk]
        assert [c["client_token"] for c in aws.state.calls] == [first.client_token, second.client_token]

    def test_a_failure_hands_nothing_over_and_its_release_does(
        self, aws, settings, sent, django_capture_on_commit_callbacks
    ):
        settings.PORTAL_RETRY_MAX_ATTEMPTS = 1
        aws.state.add_fault({"operation": OPERATION, "sequence": ["internal"]})
        first = event(n=1)
        second = event(n=2)

        with django_capture_on_commit_callbacks(execute=True):
            assert pipeline.execute(first.pk) == "failed"
        assert sent == []

        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.release(AwsRequest.objects.get(pk=first.pk), first.created_by)
        assert [pk for pk, _ in sent] == [second.pk]
        assert pipeline.execute(second.pk) == "succeeded"

    def test_cancelling_the_holder_hands_the_next_one_over(self, sent, django_capture_on_commit_callbacks):
        first = event(n=1)
        second = event(n=2)

        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.cancel(first, first.created_by, "not this one")

        assert [pk for pk, _ in sent] == [second.pk]

    def test_a_hand_over_sends_nothing_that_is_not_due(self, sent):
        event(n=1, status=S.SUCCEEDED)
        event(n=2, status=S.RETRYING, next_attempt_at=timezone.now() + dt.timedelta(hours=1))

        pipeline.hand_over(
            ordering.order_key(get_operation(OPERATION), event_params(), "111122223333", "us-east-1"), None
        )

        assert sent == []


class TestSweeper:
    def test_the_sweeper_never_sends_a_request_whose_group_is_held(self, sent):
        earlier = event(n=1, created_at=ago(600))
        queued = event(n=2)
        AwsRequest.objects.filter(pk__in=[earlier.pk, queued.pk]).update(created_at=ago(600), enqueued_at=None)

        assert pipeline.sweep() == [earlier.pk]
        assert [pk for pk, _ in sent] == [earlier.pk]

    def test_the_sweeper_never_sends_a_due_retry_whose_group_is_held_again(self, sent):
        # The earlier one failed and was released; the later one ran, was throttled and waits for
        # its retry; then the earlier one was retried by its owner (reopened): it holds the group.
        earlier = event(n=1, status=S.QUEUED, order_released=True, enqueued_at=timezone.now())
        retrying = event(n=2, status=S.RETRYING, next_attempt_at=ago(1), enqueued_at=ago(5))

        assert retrying.pk not in pipeline.sweep()
        assert not AwsRequest.objects.filter(pipeline.due_requests(timezone.now()), pk=retrying.pk).exists()
        assert earlier.pk not in [pk for pk, _ in sent]

    def test_the_sweeper_sends_a_request_once_its_group_is_free(self, sent):
        event(n=1, status=S.SUCCEEDED)
        queued = event(n=2)
        AwsRequest.objects.filter(pk=queued.pk).update(created_at=ago(600), enqueued_at=None)

        assert pipeline.sweep() == [queued.pk]


class TestOrderKey:
    def test_the_key_depends_on_account_region_and_the_ordered_members_only(self):
        operation = get_operation(OPERATION)
        key = ordering.order_key(operation, event_params(), "111122223333", "us-east-1")

        same = event_params(n=99, eventTimestamp="2020-01-01T00:00:00Z", datasetTarget={"operationType": "DELETE"})
        assert ordering.order_key(operation, same, "111122223333", "us-east-1") == key
        for params, account, region in [
            (event_params(group="order-2"), "111122223333", "us-east-1"),
            (event_params(eventType="scn.data.shipment"), "111122223333", "us-east-1"),
            (event_params(instanceId="9f0e6b1a-1111-4222-8333-444455556666"), "111122223333", "us-east-1"),
            (event_params(), "999988887777", "us-east-1"),
            (event_params(), "111122223333", "eu-west-1"),
        ]:
            assert ordering.order_key(operation, params, account, region) != key, (params, account, region)

    def test_values_that_only_look_alike_make_different_groups(self):
        operation = get_operation(OPERATION)

        one = ordering.order_key(operation, event_params(group="a", instanceId="b|c"), "1", "r")
        other = ordering.order_key(operation, event_params(group="b|a", instanceId="b"), "1", "r")

        assert one != other

    def test_an_operation_without_ordered_members_has_no_key(self):
        assert ordering.order_key(get_operation("appfabric/CreateIngestion"), {"app": "SLACK"}, "1", "r") is None

    def test_a_request_recorded_by_the_form_gets_its_key(self):
        operator = make_operator()
        target = make_target("sandbox")

        submission = lifecycle.submit(get_operation(OPERATION), event_params(), operator, target)

        expected = ordering.order_key(get_operation(OPERATION), event_params(), target.account_id, target.region)
        assert submission.aws_request.order_key == expected

    def test_the_holder_is_the_earliest_request_holding_the_group(self):
        event(n=1, status=S.SUCCEEDED)
        second = event(n=2, status=S.FAILED)
        event(n=3)
        fourth = event(n=4)

        assert ordering.holder(fourth).pk == second.pk
        assert ordering.next_in_group(fourth.order_key)[0] == second.pk
