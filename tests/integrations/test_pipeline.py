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
    """What the pipeline hands to the broker: the boundary, recorded instead of sent."""
    sent: list[tuple[int, float | None]] = []
    monkeypatch.setattr(
        execute_request, "apply_async", lambda args, countdown=None, **kw: sent.append((args[0], countdown))
    )
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

    def test_a_request_held_by_a_live_lease_is_left_alone_and_checked_again_when_it_ends(self, aws, published):
        request = make_request(
            status=RequestStatus.RUNNING,
            claim_id=uuid.uuid4(),
            lease_expires_at=timezone.now() + dt.timedelta(seconds=30),
        )

        assert pipeline.execute(request.pk).startswith("held by another worker")

        assert not aws.state.calls
        [(request_id, countdown)] = published
        assert request_id == request.pk
        assert 29 < countdown <= 31

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
        assert len(published) == 2  # two retries scheduled, none after the last attempt

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


@pytest.mark.django_db
class TestSweeper:
    def test_it_hands_over_a_request_the_broker_never_took(self, published, settings):
        request = make_request()
        type(request).objects.filter(pk=request.pk).update(created_at=ago(10))

        assert pipeline.sweep() == [request.pk]

        request.refresh_from_db()
        assert request.enqueued_at is not None
        assert published == [(request.pk, None)]

    def test_it_leaves_a_fresh_request_to_its_own_hand_off(self, published):
        make_request()

        assert pipeline.sweep() == []

    def test_it_hands_over_a_queued_request_whose_message_was_lost(self, published, settings):
        settings.PORTAL_STUCK_AFTER_SECONDS = 30
        lost = make_request(enqueued_at=ago(31))
        make_request(enqueued_at=ago(5))  # still on its way to a worker

        assert pipeline.sweep() == [lost.pk]

    def test_it_hands_over_an_overdue_retry_but_not_one_still_waiting(self, published, settings):
        settings.PORTAL_STUCK_AFTER_SECONDS = 30
        overdue = make_request(status=RequestStatus.RETRYING, next_attempt_at=ago(31), enqueued_at=ago(40))
        make_request(status=RequestStatus.RETRYING, next_attempt_at=timezone.now(), enqueued_at=ago(1))

        assert pipeline.sweep() == [overdue.pk]

    def test_it_hands_over_a_running_request_whose_lease_ran_out(self, published):
        abandoned = make_request(status=RequestStatus.RUNNING, lease_expires_at=ago(1), enqueued_at=ago(120))
        make_request(status=RequestStatus.RUNNING, lease_expires_at=timezone.now() + dt.timedelta(seconds=30))

        assert pipeline.sweep() == [abandoned.pk]

    def test_it_never_touches_finished_requests(self, published):
        make_request(status=RequestStatus.SUCCEEDED, enqueued_at=ago(3600))
        make_request(status=RequestStatus.FAILED, enqueued_at=ago(3600))

        assert pipeline.sweep() == []

    def test_a_second_sweep_right_after_does_not_hand_the_same_request_over_again(self, published):
        request = make_request()
        type(request).objects.filter(pk=request.pk).update(created_at=ago(10))

        pipeline.sweep()
        pipeline.sweep()

        assert published == [(request.pk, None)]

    def test_beat_runs_the_sweeper_at_the_configured_interval(self, settings):
        from portal.celery import app

        entry = app.conf.beat_schedule["sweep-stuck-requests"]
        assert entry["task"] == "integrations.tasks.sweep_stuck_requests"
        assert entry["schedule"] == settings.PORTAL_SWEEP_INTERVAL_SECONDS


def test_the_celery_settings_keep_tasks_through_a_worker_crash():
    from portal.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
