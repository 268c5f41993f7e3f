"""Created resources read back from AWS: the confirmation after a create, and what a check records.

Every call goes to the sandbox over boto3's wire protocol; its call log shows what left the portal.
"""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from integrations import lifecycle, pipeline, resources
from integrations.models import AttemptKind, AttemptOutcome, AwsRequest, RequestStatus, Resource, ResourceStatus
from operations import get_operation
from tests.factories import make_operator, make_target
from tests.sandbox import support

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "appfabric/CreateIngestion": support.CREATE_INGESTION,
    "supplychain/SendDataIntegrationEvent": support.SEND_EVENT,
    "appintegrations/CreateDataIntegration": support.CREATE_DATA_INTEGRATION,
    "partnercentral-selling/CreateResourceSnapshotJob": support.CREATE_SNAPSHOT_JOB,
    "appflow/RegisterConnector": support.REGISTER_CONNECTOR,
}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """The checks the pipeline sends: recorded here, and run by the test itself when it says so."""
    sent: list[int] = []
    monkeypatch.setattr(resources, "dispatch", lambda resource_id, **options: sent.append(resource_id) or True)
    monkeypatch.setattr(pipeline, "dispatch", lambda request_id, **options: True)
    return sent


def created(key: str = "appfabric/CreateIngestion") -> AwsRequest:
    """A request run to success against the sandbox, as a worker runs it."""
    operation = get_operation(key)
    params = support.valid_params(OPERATIONS[key])
    params.pop(operation.token_member or "", None)
    user = make_operator()
    target = make_target("eu", users=[user], region="eu-west-1")
    aws_request = lifecycle.record(operation, params, user, target)
    assert pipeline.execute(aws_request.pk) == "succeeded"
    aws_request.refresh_from_db()
    return aws_request


def calls_of(sandbox, operation: str) -> list[dict]:
    return [call for call in sandbox.state.calls if call["operation"] == operation]


def read_backs(aws_request: AwsRequest) -> list:
    return list(aws_request.attempts.filter(kind=AttemptKind.READ_BACK).order_by("number"))


# --- made with the success ------------------------------------------------------------------------


def test_a_successful_request_leaves_a_resource_due_for_its_confirmation_and_sends_its_check(aws, no_broker):
    aws_request = created()

    resource = Resource.objects.get(request=aws_request)
    assert resource.resource_id == aws_request.resource_id
    assert resource.status == ResourceStatus.PENDING
    assert resource.next_check_at is not None
    assert resource.next_check_at <= timezone.now()
    assert (resource.service, resource.operation, resource.region) == ("appfabric", "CreateIngestion", "eu-west-1")
    assert resource.name == "OKTA okta-tenant-1"
    assert resource.created_by_username == aws_request.created_by_username
    assert no_broker == [resource.pk]


def test_a_failed_request_leaves_no_resource(aws):
    aws.state.add_fault({"operation": "appfabric/CreateIngestion", "fault": "throttle"})
    operation = get_operation("appfabric/CreateIngestion")
    params = support.valid_params(support.CREATE_INGESTION)
    user = make_operator()
    aws_request = lifecycle.record(operation, params, user, make_target("sandbox", users=[user]))
    while pipeline.execute(aws_request.pk) == "retrying":
        AwsRequest.objects.filter(pk=aws_request.pk).update(next_attempt_at=timezone.now())

    aws_request.refresh_from_db()
    assert aws_request.status == RequestStatus.FAILED
    assert not Resource.objects.filter(request=aws_request).exists()


# --- the confirmation -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", OPERATIONS)
def test_every_operation_is_confirmed_by_its_own_read_call_recorded_as_a_read_back(aws, key):
    aws_request = created(key)
    resource = aws_request.resource
    read_call = get_operation(key).read_back.call

    checked = resources.check(resource.pk)

    assert checked is not None
    assert checked.status == ResourceStatus.CONFIRMED
    resource.refresh_from_db()
    assert resource.status == ResourceStatus.CONFIRMED
    assert resource.baseline == resource.observed
    assert resource.baseline
    assert resource.checked_at is not None
    assert resource.check_error == ""
    # The read went out once, as the service's own read call, and no create was sent again.
    assert len(calls_of(aws, read_call)) == 1
    assert len(calls_of(aws, key)) == 1
    [read_back] = read_backs(aws_request)
    assert (read_back.number, read_back.read_call, read_back.outcome) == (2, read_call, AttemptOutcome.SUCCEEDED)
    assert read_back.client_token == ""
    assert read_back.aws_request_id == calls_of(aws, read_call)[0]["request_id"]


def test_the_confirmation_records_the_state_aws_reports(aws):
    resource = created().resource

    resources.check(resource.pk)

    resource.refresh_from_db()
    assert resource.state == "enabled"  # AppFabric's ingestion state
    assert resource.observed["app"] == "OKTA"
    assert resource.observed["tenantId"] == "okta-tenant-1"


def test_a_read_back_carries_no_client_token_and_leaves_the_request_as_it_was(aws):
    aws_request = created()
    before = AwsRequest.objects.values().get(pk=aws_request.pk)

    resources.check(aws_request.resource.pk)

    [read] = calls_of(aws, "appfabric/GetIngestion")
    assert read["client_token"] is None
    assert AwsRequest.objects.values().get(pk=aws_request.pk) == before


def test_a_throttled_confirmation_is_tried_again_soon_and_never_fails_the_request(aws):
    aws_request = created()
    resource = aws_request.resource
    aws.state.add_fault({"operation": "appfabric/GetIngestion", "fault": "throttle"})

    checked = resources.check(resource.pk)

    assert checked is not None
    assert checked.status == ResourceStatus.PENDING
    resource.refresh_from_db()
    assert "ThrottlingException" in resource.check_error
    assert timezone.now() < resource.next_check_at < timezone.now() + dt.timedelta(seconds=30)
    [read_back] = read_backs(aws_request)
    assert (read_back.outcome, read_back.error_code) == (AttemptOutcome.FAILED, "ThrottlingException")
    aws_request.refresh_from_db()
    assert aws_request.status == RequestStatus.SUCCEEDED
    # Not yet due: a check now is not ours to make.
    assert resources.check(resource.pk) is None


def test_a_confirmation_that_never_succeeds_gives_up_with_the_reason_and_no_create_is_resent(aws):
    aws_request = created()
    resource = aws_request.resource
    aws.state.add_fault({"operation": "appfabric/GetIngestion", "fault": "internal"})

    statuses = []
    for _ in range(resources.CONFIRMATION_TRIES):
        Resource.objects.filter(pk=resource.pk).update(next_check_at=timezone.now())
        statuses.append(resources.check(resource.pk).status)

    assert statuses == [ResourceStatus.PENDING] * (resources.CONFIRMATION_TRIES - 1) + [ResourceStatus.UNCONFIRMED]
    resource.refresh_from_db()
    assert resource.check_error.startswith("InternalServerException")
    assert len(read_backs(aws_request)) == resources.CONFIRMATION_TRIES
    assert len(calls_of(aws, "appfabric/CreateIngestion")) == 1
    aws_request.refresh_from_db()
    assert aws_request.status == RequestStatus.SUCCEEDED


def test_a_resource_not_found_at_first_is_looked_for_again_before_it_is_called_unconfirmed(aws):
    aws_request = created()
    resource = aws_request.resource
    # AWS's reads are eventually consistent: the first read may not find what was just created.
    aws.state.delete_resource(resource.resource_id)

    assert resources.check(resource.pk).status == ResourceStatus.PENDING
    resource.refresh_from_db()
    assert resource.check_error.startswith("ResourceNotFoundException")


def test_a_refused_read_back_says_why_at_once_and_a_later_check_can_still_confirm_it(aws, monkeypatch):
    resource = created().resource
    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed to GetIngestion"}}, "GetIngestion"
    )

    def refused(*args):
        raise denied

    with monkeypatch.context() as patched:
        patched.setattr(resources, "get_client", refused)
        assert resources.check(resource.pk).status == ResourceStatus.UNCONFIRMED
    resource.refresh_from_db()
    assert resource.check_error == "AccessDeniedException: not allowed to GetIngestion"
    assert resource.next_check_at > timezone.now() + dt.timedelta(minutes=5)  # the reconciliation's pace

    assert resources.check(resource.pk, force=True).status == ResourceStatus.CONFIRMED


# --- later checks ---------------------------------------------------------------------------------


def confirmed() -> Resource:
    resource = created().resource
    resources.check(resource.pk)
    resource.refresh_from_db()
    return resource


def test_a_resource_deleted_in_aws_is_marked_gone_by_a_later_check(aws):
    resource = confirmed()
    aws.state.delete_resource(resource.resource_id)

    assert resources.check(resource.pk, force=True).status == ResourceStatus.GONE
    resource.refresh_from_db()
    assert resource.status_changed_at is not None
    assert resource.check_error == ""


def test_a_resource_changed_in_aws_is_marked_changed_with_the_difference(aws):
    resource = confirmed()
    aws.state.change_resource(resource.resource_id, {"tenantId": "someone-else"})

    assert resources.check(resource.pk, force=True).status == ResourceStatus.CHANGED
    resource.refresh_from_db()
    assert resource.changes == [{"field": "tenantId", "was": "okta-tenant-1", "now": "someone-else"}]
    assert resource.baseline["tenantId"] == "okta-tenant-1"


def test_a_state_change_alone_is_recorded_but_is_not_a_change_of_the_resource(aws):
    resource = confirmed()
    aws.state.change_resource(resource.resource_id, {"state": "disabled"})

    assert resources.check(resource.pk, force=True).status == ResourceStatus.CONFIRMED
    resource.refresh_from_db()
    assert resource.state == "disabled"


def test_a_later_check_that_cannot_tell_keeps_what_was_known(aws):
    resource = confirmed()
    aws.state.add_fault({"operation": "appfabric/GetIngestion", "fault": "throttle"})

    assert resources.check(resource.pk, force=True).status == ResourceStatus.CONFIRMED
    resource.refresh_from_db()
    assert "ThrottlingException" in resource.check_error


def test_later_checks_are_not_added_to_the_audit_unless_a_person_asked(aws):
    resource = confirmed()

    resources.check(resource.pk, force=True)
    assert len(read_backs(resource.request)) == 1
    resources.check(resource.pk, force=True, audit=True)
    assert len(read_backs(resource.request)) == 2


# --- one check at a time --------------------------------------------------------------------------


def test_a_check_is_claimed_once_however_many_workers_try(aws):
    resource = created().resource
    now = timezone.now()

    assert resources.claim(resource.pk, now) is True
    assert resources.claim(resource.pk, now) is False
    # Even a person's re-check waits for a check in progress…
    assert resources.claim(resource.pk, now, force=True) is False
    # …unless its worker died: after the lease, it may be taken again.
    assert resources.claim(resource.pk, now + resources.check_lease() + dt.timedelta(seconds=1), force=True)


def test_a_resource_not_due_is_not_checked_unless_forced(aws):
    resource = confirmed()

    assert resources.check(resource.pk) is None
    assert resources.check(resource.pk, force=True) is not None
