"""Adding an operation is one declaration in operations/ plus one sandbox behaviour under the same
key: the form, the API, the permission, the pipeline and the sandbox all follow from it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

import operations
from integrations import pipeline
from integrations.api.tokens import create_token
from integrations.forms import OperationForm
from integrations.models import RequestStatus
from integrations.permissions import OPERATORS, run_codename, sync_permissions_and_groups
from operations import Operation, get_operation, register
from sandbox.behaviours import BEHAVIOURS, Behaviour
from tests.factories import make_operator, make_request

KEY = "appintegrations/CreateEventIntegration"
PARAMS = {"Name": "orders", "EventFilter": {"Source": "aws.partner/acme.com/1/orders"}, "EventBridgeBus": "default"}


def _create(params: dict, ctx) -> dict:
    return {
        "EventIntegrationArn": f"arn:aws:app-integrations:{ctx.region}:{ctx.account}:event-integration/{params['Name']}"
    }


@pytest.fixture
def new_operation(monkeypatch):
    """A sixth operation, declared the way a module in operations/ declares one, for this test only."""
    operation = register(
        Operation(
            service="appintegrations",
            name="CreateEventIntegration",
            title="AppIntegrations: create an event integration",
            summary="Creates an EventIntegration for an EventBridge bus.",
            result_path=("EventIntegrationArn",),
        )
    )
    monkeypatch.setitem(
        BEHAVIOURS,
        KEY,
        Behaviour(
            KEY,
            _create,
            resource_id=lambda out: out["EventIntegrationArn"],
            validation_error="InvalidRequestException",
            unique_member="Name",
            unique_error="DuplicateResourceException",
        ),
    )
    yield operation
    operations._REGISTRY.pop(KEY)


def test_the_registry_finds_it_by_its_key(new_operation):
    assert new_operation.key == KEY
    assert get_operation(KEY) is new_operation
    assert new_operation.token_member == "ClientToken"


def test_its_form_is_built_from_the_model(new_operation):
    source = PARAMS["EventFilter"]["Source"]
    form = OperationForm(new_operation, {"Name": "orders", "EventFilter__Source": source, "EventBridgeBus": "default"})

    assert {"Name", "Description", "EventFilter__Source", "EventBridgeBus"} <= set(form.fields)
    assert "ClientToken" not in form.fields
    assert form.is_valid(), form.errors
    assert form.params == PARAMS


@pytest.mark.django_db
def test_its_run_permission_is_created_and_granted_to_operators(new_operation):
    sync_permissions_and_groups()

    permission = Permission.objects.get(codename=run_codename(new_operation))
    assert permission.codename == f"run_{KEY}"
    assert Group.objects.get(name=OPERATORS).permissions.filter(pk=permission.pk).exists()


@pytest.mark.django_db
def test_the_api_lists_it_with_its_parameter_schema_and_its_form_page_opens(new_operation, client):
    sync_permissions_and_groups()
    operator = make_operator()
    token = create_token(operator)

    listed = client.get("/api/operations/", headers={"Authorization": f"Token {token.key}"}).json()
    client.force_login(operator)
    page = client.get("/operations/appintegrations/CreateEventIntegration/")

    [described] = [op for op in listed if op["key"] == KEY]
    assert described["parameters_schema"]["required"] == ["Name", "EventFilter", "EventBridgeBus"]
    assert "ClientToken" not in described["parameters_schema"]["properties"]
    assert page.status_code == 200
    assert 'name="EventBridgeBus"' in page.content.decode()


@pytest.mark.django_db
def test_the_pipeline_runs_it_against_the_sandbox_and_records_its_arn(new_operation, settings, sandbox):
    settings.AWS_ENDPOINT_URL = sandbox.url
    aws_request = make_request(KEY, parameters=PARAMS)

    assert pipeline.execute(aws_request.pk) == "succeeded"

    aws_request.refresh_from_db()
    [resource] = sandbox.state.resources
    assert resource["operation"] == KEY
    assert aws_request.status == RequestStatus.SUCCEEDED
    assert aws_request.resource_id == "arn:aws:app-integrations:us-east-1:111122223333:event-integration/orders"
    assert resource["client_token"] == aws_request.client_token


def test_the_sandbox_serves_it_with_the_models_validation_and_its_behaviour(new_operation, sandbox, aws_client):
    client = aws_client("appintegrations")

    created = client.create_event_integration(**PARAMS)
    with pytest.raises(client.exceptions.DuplicateResourceException):
        client.create_event_integration(**PARAMS)
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.create_event_integration(Name="orders-2", EventFilter={"Source": "x"})

    assert created["EventIntegrationArn"].endswith(":event-integration/orders")
    assert [c["operation"] for c in sandbox.state.calls] == [KEY, KEY, KEY]
