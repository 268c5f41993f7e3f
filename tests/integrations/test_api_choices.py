"""The API's picker choices (/api/operations/<service>/<name>/choices/<member>/) and where the
operation listing says they are."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from openapi_spec_validator import validate as validate_openapi

from operations import all_operations
from tests.factories import default_target, make_operator, make_target, make_user
from tests.integrations.test_api import Api

LAMBDA = "/api/operations/appflow/RegisterConnector/choices/connectorProvisioningConfig.lambda.lambdaArn/"
DATASET = "/api/operations/supplychain/SendDataIntegrationEvent/choices/datasetTarget.datasetIdentifier/"
BUNDLE = "/api/operations/appfabric/CreateIngestion/choices/appBundleIdentifier/"
OPPORTUNITY = "/api/operations/partnercentral-selling/CreateResourceSnapshotJob/choices/ResourceIdentifier/"
EUROPE = "22222222-3333-4444-8555-666666666666"


@pytest.fixture(autouse=True)
def _fast_passwords_and_an_empty_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(client, db) -> Api:
    return Api(client, make_operator("operator"))


def list_calls(sandbox, operation: str) -> list[dict]:
    return [c for c in sandbox.state.calls if c["operation"] == operation]


# --- the choices ------------------------------------------------------------------------------------


def test_the_choices_come_back_as_values_and_labels_from_every_page(aws, api):
    response = api.get(LAMBDA, {"target": "sandbox"})

    assert response.status_code == 200
    body = response.json()
    assert body["member"] == "connectorProvisioningConfig.lambda.lambdaArn"
    assert len(body["choices"]) == 60
    assert body["choices"][0] == {
        "value": "arn:aws:lambda:us-east-1:111122223333:function:custom-connector",
        "label": "custom-connector",
    }
    assert body["truncated"] is False
    assert body["error"] is None
    assert len(list_calls(aws, "lambda/ListFunctions")) == 2


def test_q_narrows_the_choices_without_another_call(aws, api):
    api.get(LAMBDA, {"target": "sandbox"})
    response = api.get(LAMBDA, {"target": "sandbox", "q": "SYNC-5"})

    assert [c["label"] for c in response.json()["choices"]] == [f"erp-sync-5{n}" for n in range(10)]
    assert len(list_calls(aws, "lambda/ListFunctions")) == 2


def test_a_capped_listing_says_it_is_truncated(aws, api, settings):
    settings.PORTAL_CHOICES_MAX_ITEMS = 5

    body = api.get(LAMBDA, {"target": "sandbox"}).json()

    assert len(body["choices"]) == 5
    assert body["truncated"] is True


def test_the_members_it_depends_on_are_query_parameters_named_by_their_path(aws, api):
    waiting = api.get(DATASET, {"target": "sandbox"}).json()
    listed = api.get(DATASET, {"target": "sandbox", "instanceId": EUROPE}).json()

    assert waiting["choices"] == []
    assert waiting["error"] == "Choose the Instance ID first to see the datasets."
    assert [c["label"] for c in listed["choices"]] == ["inventory_level"]
    assert listed["error"] is None


def test_the_opportunities_follow_the_catalog_and_the_engagement(aws, api):
    params = {"target": "sandbox", "Catalog": "Sandbox", "EngagementIdentifier": "eng-a1b2c3d4e5f6g7"}

    body = api.get(OPPORTUNITY, params).json()

    assert [c["value"] for c in body["choices"]] == ["O1234567", "O1234568"]


def test_aws_refusing_the_list_is_an_answer_with_the_reason_not_an_error_status(aws, api):
    aws.state.add_fault({"operation": "appfabric/ListAppBundles", "sequence": ["denied"]})

    response = api.get(BUNDLE, {"target": "sandbox"})

    assert response.status_code == 200
    assert response.json() == {
        "member": "appBundleIdentifier",
        "choices": [],
        "truncated": False,
        "error": "The app bundles could not be listed: the target's role may not list app bundles "
        "(AccessDeniedException). Type the value instead.",
    }


def test_aws_throttling_the_list_says_so(aws, api):
    aws.state.add_fault({"operation": "appfabric/ListAppBundles", "sequence": ["throttle"]})

    body = api.get(BUNDLE, {"target": "sandbox"}).json()

    assert "AWS is throttling this account's calls just now (ThrottlingException)" in body["error"]


# --- refusals ---------------------------------------------------------------------------------------


def test_a_member_without_choices_is_a_400_naming_those_with_them(aws, api):
    response = api.get("/api/operations/appfabric/CreateIngestion/choices/tenantId/", {"target": "sandbox"})

    assert response.status_code == 400
    [message] = response.json()["errors"]["member"]
    assert "members with choices: appBundleIdentifier" in message


def test_a_missing_target_is_a_400(aws, api):
    response = api.get(BUNDLE)

    assert response.status_code == 400
    assert response.json() == {"errors": {"target": ["This parameter is required."]}}


@pytest.mark.parametrize("name", ["no-such-target", "someone-elses", "retired"])
def test_a_target_that_is_unknown_not_granted_or_retired_is_a_403(aws, api, name):
    make_target("someone-elses")
    make_target("retired", is_active=False).users.add(api.user)

    response = api.get(BUNDLE, {"target": name})

    assert response.status_code == 403
    assert response.json()["detail"] == "You may not use this AWS target, or it does not exist."
    assert list_calls(aws, "appfabric/ListAppBundles") == []


def test_a_caller_who_may_not_run_the_operation_is_a_403(aws, client, db):
    viewer = make_user("viewer")
    default_target().users.add(viewer)

    response = Api(client, viewer).get(BUNDLE, {"target": "sandbox"})

    assert response.status_code == 403


def test_an_unknown_operation_is_a_404(aws, api):
    assert api.get("/api/operations/appfabric/Nope/choices/x/", {"target": "sandbox"}).status_code == 404


def test_an_anonymous_caller_is_a_401(aws, client, db):
    assert client.get(BUNDLE, {"target": "sandbox"}).status_code == 401


# --- the operation listing and the document -----------------------------------------------------------


def test_the_operation_listing_says_where_each_pickers_choices_are_and_what_they_depend_on(api):
    described = {op["key"]: op for op in api.get("/api/operations/").json()}

    for operation in all_operations():
        pickers = described[operation.key]["pickers"]
        assert set(pickers) == set(operation.pickers)
    supply_chain = described["supplychain/SendDataIntegrationEvent"]["pickers"]
    assert supply_chain["datasetTarget.datasetIdentifier"] == {
        "choices_url": f"http://testserver{DATASET}",
        "depends_on": ["instanceId"],
    }
    assert supply_chain["instanceId"]["depends_on"] == []
    partner = described["partnercentral-selling/CreateResourceSnapshotJob"]["pickers"]
    assert partner["ResourceIdentifier"]["depends_on"] == ["Catalog", "EngagementIdentifier"]


def test_every_listed_choices_url_answers(aws, api):
    described = api.get("/api/operations/").json()

    urls = [picker["choices_url"] for op in described for picker in op["pickers"].values()]
    answers = [api.get(url.removeprefix("http://testserver"), {"target": "sandbox"}) for url in urls]

    assert len(urls) == 7
    assert [a.status_code for a in answers] == [200] * 7


def test_the_document_describes_the_choices_endpoint(api):
    spec = api.get("/api/schema/", {"format": "json"}).json()

    validate_openapi(spec)
    get = spec["paths"]["/api/operations/{service}/{name}/choices/{member}/"]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"service", "name", "member", "target", "q"}
    assert set(get["responses"]) >= {"200", "400"}
