"""The pipeline in-process against the real sandbox: claiming, attempts, retries, the sweeper."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from integrations import pipeline
from integrations.models import Attempt, AttemptOutcome, RequestStatus
from integrations.tasks import execute_request
from tests.factories import ingestion_params, make_request

OPERATION = "appfabric/CreateIngestion"


@pytest.fixture
def aws(settings, sandbox):
    """Point the portal's AWS client at the sandbox, with retries that wait at most 0.2 s."""
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 3
    settings.PORTAL_RETRY_BASE_SECONDS = 0.05
    settings.PORTAL_RETRY_CAP_SECONDS = 0.2
    return sandbox


@pytest.fixture
def published(monkeypatch):
    """What the pipeline hands to the broker: the boundary, recorded instead of sent.

    Each as (request id, queue): None is the work queue (first attempts), the default route."""
    sent: list[tuple[int, str | None]] = []
    monkeypatch.setattr(execute_request, "apply_async", lambda args, queue=None, **kw: sent.append((args[0], queue)))
    return sent


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


@pytest.mark.django_db
class TestExecute:
    def test_it_sends_the_stored_client_token_and_records_the_arn(self, aws):
        request = make_request()

        assert pipeline.execute(request.pk) == "succeeded"

        request.refresh_from_db()
        [call] = aws.state.calls
        assert call["client_token"] == request.client_token
        assert request.status == RequestStatus.SUCCEEDED
        assert request.resource_id == aws.state.resources[0]["id"]
        assert request.finished_at is not None
        [attempt] = request.attempts.all()
        assert (attempt.outcome, attempt.http_status, attempt.client_token) == (
            AttemptOutcome.SUCCEEDED,
            201,
            request.client_token,
        )

    def test_a_throttled_attempt_schedules_a_retry_within_the_backoff_cap(self, aws, published):
        aws.state.add_fault({"operation": OPERATION, "sequence": ["throttle"]})
        request = make_request()
        before = timezone.now()

        assert pipeline.execute(request.pk) == "retrying"

        request.refresh_from_db()
        assert request.status == RequestStatus.RETRYING
        assert request.error_code == "ThrottlingException"
        assert before <= request.next_attempt_at <= timezone.now() + dt.timedelta(seconds=0.2)
        [attempt] = request.attempts.all()
        assert attempt.outcome == AttemptOutcome.RETRYABLE_ERROR

    def test_a_retry_that_is_not_due_yet_is_not_executed(self, aws):
        request = make_request(status=RequestStatus.RETRYING, next_attempt_at=timezone.now() + dt.timedelta(hours=1))

        assert pipeline.execute(request.pk) == "not claimable"
        assert not aws.state.calls
        assert not request.attempts.exists()

    def test_a_finished_request_is_never_executed_again(self, aws):
        request = make_request(status=RequestStatus.SUCCEEDED, resource_id="arn:aws:appfabric:x")

        assert pipeline.execute(request.pk) == "not claimable"
        assert not aws.state.calls

    def test_a_request_held_by_a_live_lease_is_left_alone_and_nothing_is_scheduled_in_the_broker(self, aws, published):
        request = make_request(
            status=RequestStatus.RUNNING,
            claim_id=uuid.uuid4(),
            lease_expires_at=timezone.now() + dt.timedelta(seconds=30),
        )

        assert pipeline.execute(request.pk).startswith("held by another worker")

        assert not aws.state.calls
        assert published == []  # the sweeper takes it over if the lease runs out

    def test_a_dead_workers_expired_lease_is_taken_over_and_its_open_attempt_marked_interrupted(self, aws):
        request = make_request(status=RequestStatus.RUNNING, claim_id=uuid.uuid4(), lease_expires_at=ago(1))
        Attempt.objects.create(request=request, number=1, started_at=ago(60), client_token=request.client_token)

        assert pipeline.execute(request.pk) == "succeeded"

        outcomes = list(request.attempts.values_list("outcome", flat=True))
        assert outcomes == [AttemptOutcome.INTERRUPTED, AttemptOutcome.SUCCEEDED]

    def test_the_last_allowed_attempt_failing_retryably_fails_the_request_saying_so(
        self, aws, published, django_capture_on_commit_callbacks
    ):
        aws.state.add_fault({"operation": OPERATION, "fault": "internal"})
        request = make_request()

        for _ in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                pipeline.execute(request.pk)
            request.refresh_from_db()
            if request.status == RequestStatus.RETRYING:
                request.next_attempt_at = timezone.now()
                request.save(update_fields=["next_attempt_at"])

        assert request.status == RequestStatus.FAILED
        assert request.error_code == "InternalServerException"
        assert request.error_message.startswith("Gave up after 3 attempts")
        assert request.attempts.count() == 3
        assert len(aws.state.calls) == 3
        assert published == []  # retries are scheduled in the database, never as countdown messages

    def test_a_validation_error_fails_at_once_without_a_retry(self, aws, published):
        request = make_request(parameters=ingestion_params(tenantId="x" * 1025))

        assert pipeline.execute(request.pk) == "failed"

        request.refresh_from_db()
        assert (request.status, request.error_code) == (RequestStatus.FAILED, "ValidationException")
        assert published == []

    def test_an_unreachable_endpoint_is_a_retryable_connection_error(self, aws, settings, published):
        settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
        request = make_request()

        assert pipeline.execute(request.pk) == "retrying"

        [attempt] = request.attempts.all()
        assert attempt.error_code == "EndpointConnectionError"


@pytest.fixture
def depth(monkeypatch):
    """The work queue's depth as the sweeper reads it from the broker: set by the test."""
    reading: dict[str, int | None] = {"messages": 0}
    monkeypatch.setattr(pipeline, "queue_depth", lambda: reading["messages"])
    return reading


@pytest.mark.django_db
class TestSweeper:
    def test_it_hands_over_a_request_the_broker_never_took_and_counts_the_hand_off(self, published, depth, settings):
        request = make_request()
        type(request).objects.filter(pk=request.pk).update(created_at=ago(10))

        assert pipeline.sweep() == [request.pk]

        request.refresh_from_db()
        assert request.enqueued_at is not None
        assert request.handoffs == 1
        assert published == [(request.pk, settings.PORTAL_RETRY_QUEUE)]

    def test_it_leaves_a_fresh_request_to_its_own_hand_off(self, published, depth):
        make_request()

        assert pipeline.sweep() == []

    def test_it_sends_a_retry_when_its_time_comes_and_not_before(self, published, depth, settings):
        due = make_request(status=RequestStatus.RETRYING, next_attempt_at=ago(0.1), enqueued_at=ago(5))
        make_request(status=RequestStatus.RETRYING, next_attempt_at=timezone.now() + dt.timedelta(seconds=30))

        assert pipeline.sweep() == [due.pk]
        # On the retry queue: it does not wait behind every first attempt queued since it failed.
        assert published == [(due.pk, settings.PORTAL_RETRY_QUEUE)]

        due.refresh_from_db()
        assert due.handoffs == 0  # ordinary scheduling, not a hand-off
        assert pipeline.sweep() == []  # sent once for this due time

    def test_it_resends_only_as_many_waiting_requests_as_the_queue_is_missing_oldest_first(
        self, published, depth, settings
    ):
        settings.PORTAL_STUCK_AFTER_SECONDS = 30
        oldest = make_request(enqueued_at=ago(50))
        older = make_request(enqueued_at=ago(40))
        make_request(enqueued_at=ago(35))
        make_request(enqueued_at=ago(5))  # on its way to a worker
        depth["messages"] = 2  # four sent and waiting, two in the queue: the two oldest are lost

        assert pipeline.sweep() == [oldest.pk, older.pk]

    def test_a_long_but_healthy_queue_is_not_flooded_with_duplicates(self, published, depth, settings):
        settings.PORTAL_STUCK_AFTER_SECONDS = 30
        for seconds in (300, 200, 100):
            make_request(enqueued_at=ago(seconds))
        depth["messages"] = 3

        assert pipeline.sweep() == []
        assert published == []

    def test_when_the_broker_cannot_say_every_request_waiting_too_long_is_resent(self, published, depth, settings):
        settings.PORTAL_STUCK_AFTER_SECONDS = 30
        waiting = [make_request(enqueued_at=ago(seconds)).pk for seconds in (60, 45)]
        depth["messages"] = None

        assert pipeline.sweep() == waiting

    def test_a_request_waiting_past_the_resend_bound_is_resent_whatever_the_queue_says(
        self, published, depth, settings
    ):
        settings.PORTAL_STUCK_AFTER_SECONDS = 30
        settings.PORTAL_RESEND_AFTER_SECONDS = 600
        ancient = make_request(enqueued_at=ago(601))
        make_request(enqueued_at=ago(60))
        depth["messages"] = 5

        assert pipeline.sweep() == [ancient.pk]

    def test_it_hands_over_a_running_request_whose_lease_ran_out_once(self, published, depth):
        abandoned = make_request(status=RequestStatus.RUNNING, lease_expires_at=ago(1), enqueued_at=ago(120))
        make_request(status=RequestStatus.RUNNING, lease_expires_at=timezone.now() + dt.timedelta(seconds=30))

        assert pipeline.sweep() == [abandoned.pk]
        depth["messages"] = 1
        assert pipeline.sweep() == []

        abandoned.refresh_from_db()
        assert abandoned.handoffs == 1

    def test_it_never_touches_finished_or_cancelled_requests(self, published, depth):
        for status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED, RequestStatus.CANCELLED):
            make_request(status=status, enqueued_at=ago(3600))

        assert pipeline.sweep() == []

    def test_a_second_sweep_right_after_does_not_hand_the_same_request_over_again(self, published, depth):
        request = make_request()
        type(request).objects.filter(pk=request.pk).update(created_at=ago(10))

        pipeline.sweep()
        depth["messages"] = 1
        pipeline.sweep()

        assert [request_id for request_id, _ in published] == [request.pk]

    def test_beat_runs_the_sweeper_at_the_configured_interval_on_its_own_queue(self, settings):
        from portal.celery import app

        entry = app.conf.beat_schedule["sweep-stuck-requests"]
        assert entry["task"] == "integrations.tasks.sweep_stuck_requests"
        assert entry["schedule"] == settings.PORTAL_SWEEP_INTERVAL_SECONDS
        assert entry["options"]["expires"] >= settings.PORTAL_SWEEP_INTERVAL_SECONDS  # late sweeps are dropped
        route = app.amqp.router.route({}, "integrations.tasks.sweep_stuck_requests")
        assert route["queue"].name == settings.PORTAL_HOUSEKEEPING_QUEUE
        assert (
            app.amqp.router.route({}, "integrations.tasks.execute_request")["queue"].name == settings.PORTAL_WORK_QUEUE
        )


def test_the_celery_settings_keep_tasks_through_a_worker_crash():
    from portal.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    # A call in flight when the broker connection drops is finished and recorded, not cancelled.
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False
