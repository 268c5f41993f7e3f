"""Every registered operation, from its form through a real worker to the sandbox and back."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from integrations.models import AwsRequest, RequestStatus
from operations import all_operations
from tests import processes
from tests.factories import form_post
from tests.integrations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BUNDLE = "2b2b2b2b-1111-2222-3333-444444444444"
INSTANCE = "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
SECRET = "payload-marker-9d41c7"  # stands out in any log line that would leak the data

FORMS = {
    "appfabric/CreateIngestion": {
        "app": "OKTA",
        "appBundleIdentifier": f"arn:aws:appfabric:us-east-1:111122223333:appbundle/{BUNDLE}",
        "ingestionType": "auditLog",
        "tenantId": "okta-tenant",
        "tags__0__key": "team",
        "tags__0__value": "security",
    },
    "supplychain/SendDataIntegrationEvent": {
        "instanceId": INSTANCE,
        "eventType": "scn.data.dataset",
        "data": f'[{{"id": "1", "note": "{SECRET}"}}, {{"id": "2"}}]',
        "eventGroupId": "order-42",
        "datasetTarget__datasetIdentifier": (
            f"arn:aws:scn:us-east-1:111122223333:instance/{INSTANCE}/namespaces/default/datasets/orders"
        ),
        "datasetTarget__operationType": "UPSERT",
    },
    "appintegrations/CreateDataIntegration": {
        "Name": "crm-accounts",
        "Description": "Accounts from the CRM",
        "KmsKey": "alias/portal",
        "SourceURI": "s3://crm-export/accounts",
        "ScheduleConfig__ScheduleExpression": "rate(1 hour)",
        "ScheduleConfig__Object": "Account",
        "ScheduleConfig__FirstExecutionFrom": "1767225600000",
        "Tags__0__key": "owner",
        "Tags__0__value": "sales-ops",
        "FileConfiguration__Folders__0": "exports/daily",
        "FileConfiguration__Filters__0__key": "type",
        "FileConfiguration__Filters__0__value__0": "csv",
        "ObjectConfiguration__0__key": "Account",
        "ObjectConfiguration__0__value__0__key": "fields",
        "ObjectConfiguration__0__value__0__value__0": "Name",
        "ObjectConfiguration__0__value__0__value__1": "Industry",
    },
    "partnercentral-selling/CreateResourceSnapshotJob": {
        "Catalog": "Sandbox",
        "EngagementIdentifier": "eng-0a1b2c3d4e5f6g",
        "ResourceType": "Opportunity",
        "ResourceIdentifier": "O1234567",
        "ResourceSnapshotTemplateIdentifier": "OpportunitySummary",
        "Tags__0__Key": "Équipe",
        "Tags__0__Value": "ventes",
    },
    "appflow/RegisterConnector": {
        "connectorLabel": "erp-connector",
        "description": "ERP orders",
        "connectorProvisioningType": "LAMBDA",
        "connectorProvisioningConfig__lambda__lambdaArn": "arn:aws:lambda:us-east-1:111122223333:function:erp",
    },
}


def test_every_registered_operation_has_an_end_to_end_case():
    assert set(FORMS) == {op.key for op in all_operations()}


@pytest.mark.parametrize("key", sorted(FORMS))
def test_each_operation_succeeds_through_a_real_worker_and_records_its_arn_or_id(key, signed_in, worker, sandbox):
    service, name = key.split("/")
    response = signed_in.post(reverse("operation_form", args=[service, name]), form_post(FORMS[key]))
    assert response.status_code == 302, response.content.decode()[:3000]
    request = AwsRequest.objects.get()

    done = wait_for(lambda: AwsRequest.objects.filter(pk=request.pk, status__in=["succeeded", "failed"]).first())

    assert done.status == RequestStatus.SUCCEEDED, (done.error_code, done.error_message)
    [resource] = sandbox.state.resources
    assert resource["operation"] == key
    assert resource["client_token"] == done.client_token
    assert done.resource_id == resource["id"]
    if service == "supplychain":
        assert str(uuid.UUID(done.resource_id)) == done.resource_id  # the eventId
    else:
        assert done.resource_id.startswith("arn:aws:")
    if service == "partnercentral-selling":
        assert done.response["Id"].startswith("job-")
    if service == "appintegrations":
        # The configuration AppIntegrations returns is recorded with the ARN.
        assert done.response["ObjectConfiguration"] == {"Account": {"fields": ["Name", "Industry"]}}


def test_the_supply_chain_payload_never_reaches_the_logs(signed_in, portal_env, logs, sandbox, caplog):
    caplog.set_level("DEBUG")
    # A worker logging everything it can: DEBUG for Celery and for the portal's root logger.
    worker = processes.start_worker({**portal_env, "PORTAL_LOG_LEVEL": "DEBUG"}, logs, loglevel="DEBUG")
    try:
        response = signed_in.post(reverse("operation_form", args=["supplychain", "SendDataIntegrationEvent"]),
                                  form_post(FORMS["supplychain/SendDataIntegrationEvent"]))  # fmt: skip
        assert response.status_code == 302
        request = AwsRequest.objects.get()
        done = wait_for(lambda: AwsRequest.objects.filter(pk=request.pk, status="succeeded").first())
        assert SECRET in done.parameters["data"]  # stored for audit
    finally:
        worker.stop()

    assert "DEBUG" in worker.output  # the worker really logged at DEBUG
    assert SECRET not in worker.output
    assert SECRET not in caplog.text
    assert SECRET not in str(sandbox.state.resources)
