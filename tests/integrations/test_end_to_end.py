"""From the browser form through a real Celery worker to the sandbox and into the history."""

from __future__ import annotations

import os
import signal

import pytest
from django.urls import reverse

from integrations import pipeline
from integrations.models import AttemptKind, AttemptOutcome, AwsRequest, RequestStatus, Resource, ResourceStatus
from tests.factories import form_post, ingestion_form_data, ingestion_params, make_request
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FORM_URL = reverse("operation_form", args=["appfabric", "CreateIngestion"])
OPERATION = "appfabric/CreateIngestion"


def finished(request_id: int) -> AwsRequest | None:
    request = AwsRequest.objects.get(pk=request_id)
    return request if request.is_finished else None


def creates(sandbox) -> list[dict]:
    """The create calls in the sandbox's call log (the read backs of the confirmations left out)."""
    return [call for call in sandbox.state.calls if call["operation"] == OPERATION]


def submit(client, **overrides) -> AwsRequest:
    response = client.post(FORM_URL, form_post(ingestion_form_data(**overrides)))
    assert response.status_code == 302, response.content.decode()[:2000]
    return AwsRequest.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_a_submitted_form_succeeds_through_a_real_worker_with_the_sandbox_arn(signed_in, worker, sandbox):
    request = submit(signed_in, tenantId="acme", tags__0__key="team", tags__0__value="ops")

    done = wait_for(lambda: finished(request.pk), message="the request to finish")

    assert done.status == RequestStatus.SUCCEEDED
    [resource] = sandbox.state.resources
    assert done.resource_id == resource["id"]
    assert done.resource_id.startswith("arn:aws:appfabric:us-east-1:111122223333:appbundle/")
    assert done.response["ingestion"]["tenantId"] == "acme"
    assert resource["client_token"] == done.client_token
    assert resource["parameters"]["tags"] == [{"key": "team", "value": "ops"}]
    [attempt] = done.attempts.filter(kind=AttemptKind.CREATE)
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert attempt.http_status == 201
    assert attempt.aws_request_id


def test_a_created_resource_is_read_back_and_confirmed_in_aws_by_the_worker(signed_in, worker, sandbox):
    request = submit(signed_in, tenantId="confirm-me")
    wait_for(lambda: finished(request.pk), message="the request to finish")

    resource = wait_for(
        lambda: Resource.objects.filter(request=request, status=ResourceStatus.CONFIRMED).first(),
        message="the resource to be confirmed in AWS",
    )

    assert resource.state == "enabled"
    [read_back] = request.attempts.filter(kind=AttemptKind.READ_BACK)
    [read] = [c for c in sandbox.state.calls if c["operation"] == "appfabric/GetIngestion"]
    assert read_back.aws_request_id == read["request_id"]
    assert read["client_token"] is None
    assert len([c for c in sandbox.state.calls if c["operation"] == OPERATION]) == 1
    page = signed_in.get(f"/requests/{request.pk}/").content.decode()
    assert "Confirmed in AWS" in page


def test_a_throttled_call_is_retried_with_one_client_token_and_creates_one_resource(signed_in, worker, sandbox):
    sandbox.state.add_fault({"operation": OPERATION, "sequence": ["throttle", "throttle"]})

    request = submit(signed_in)
    done = wait_for(lambda: finished(request.pk), message="the request to finish")

    assert done.status == RequestStatus.SUCCEEDED
    attempts = list(done.attempts.filter(kind=AttemptKind.CREATE))
    assert [a.outcome for a in attempts] == [
        AttemptOutcome.RETRYABLE_ERROR,
        AttemptOutcome.RETRYABLE_ERROR,
        AttemptOutcome.SUCCEEDED,
    ]
    assert [a.error_code for a in attempts[:2]] == ["ThrottlingException"] * 2
    assert [a.http_status for a in attempts] == [429, 429, 201]
    assert {a.client_token for a in attempts} == {done.client_token}
    calls = [c for c in sandbox.state.calls if c["operation"] == OPERATION]
    assert [c["client_token"] for c in calls] == [done.client_token] * 3
    assert len(sandbox.state.resources) == 1


def test_a_refused_call_fails_after_one_attempt_with_the_aws_error_recorded(worker, sandbox, operator):
    # A value the form would refuse, as a future API client or an older form might store it:
    # the service's refusal must be recorded and never retried.
    request = make_request(user=operator, parameters=ingestion_params(appBundleIdentifier="not-a-bundle"))
    pipeline.dispatch(request.pk)

    done = wait_for(lambda: finished(request.pk), message="the request to finish")

    assert done.status == RequestStatus.FAILED
    assert done.error_code == "ValidationException"
    assert "appBundleIdentifier" in done.error_message
    [attempt] = done.attempts.filter(kind=AttemptKind.CREATE)
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.http_status == 400
    assert len(sandbox.state.calls) == 1
    assert sandbox.state.resources == []


def test_a_response_slower_than_the_read_timeout_is_retried_and_replays_the_same_resource(worker, sandbox, operator):
    # The sandbox creates the ingestion, then answers after the worker's 3 s read timeout.
    sandbox.state.add_fault({"operation": OPERATION, "sequence": [{"kind": "slow", "delay_s": 4}]})
    request = make_request(user=operator)
    pipeline.dispatch(request.pk)

    done = wait_for(lambda: finished(request.pk), message="the request to finish")

    assert done.status == RequestStatus.SUCCEEDED
    assert [a.outcome for a in done.attempts.filter(kind=AttemptKind.CREATE)] == [
        AttemptOutcome.RETRYABLE_ERROR,
        AttemptOutcome.SUCCEEDED,
    ]
    assert done.attempts.filter(kind=AttemptKind.CREATE).first().error_code == "ReadTimeoutError"
    assert [c["outcome"] for c in creates(sandbox)] == ["created", "replayed"]
    assert len(sandbox.state.resources) == 1
    assert done.resource_id == sandbox.state.resources[0]["id"]


def test_a_worker_killed_mid_call_gets_its_task_redelivered_and_the_retry_reuses_the_token(worker, sandbox, operator):
    # The sandbox creates the resource and holds the response for 2 s; the pool process making
    # the call is killed meanwhile (as the kernel's OOM killer would), so the portal never
    # learns that the call succeeded. The redelivered task finds the lease held; once the lease
    # runs out, the sweeper hands the request over and the next attempt replays the token.
    sandbox.state.add_fault({"operation": OPERATION, "sequence": [{"kind": "slow", "delay_s": 2}]})
    request = make_request(user=operator)
    pipeline.dispatch(request.pk)
    wait_for(lambda: len(sandbox.state.resources) == 1, message="the sandbox to create the resource")
    [attempt] = request.attempts.filter(kind=AttemptKind.CREATE)
    pid = int(attempt.worker.rsplit(" pid ", 1)[1])
    assert pid in worker.children()
    os.kill(pid, signal.SIGKILL)

    done = wait_for(lambda: finished(request.pk), timeout=45, message="the request to finish")

    assert done.status == RequestStatus.SUCCEEDED
    outcomes = [a.outcome for a in done.attempts.filter(kind=AttemptKind.CREATE)]
    assert outcomes == [AttemptOutcome.INTERRUPTED, AttemptOutcome.SUCCEEDED]
    assert {a.client_token for a in done.attempts.filter(kind=AttemptKind.CREATE)} == {done.client_token}
    assert [c["outcome"] for c in creates(sandbox)] == ["created", "replayed"]
    assert len(sandbox.state.resources) == 1
