"""A picker's choices: listed from the target's sandbox by the service's own List call, paged, capped,
filtered, kept briefly, and answered in words when AWS will not list them; and the form's picker
partial that shows them (integrations/picker_views.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from integrations import aws_clients, lifecycle
from integrations.choices import UnknownMemberError, choices_for
from operations import get_operation
from sandbox import demo
from tests.factories import default_target, make_operator, make_target, make_user

LAMBDA = ("appflow/RegisterConnector", "connectorProvisioningConfig.lambda.lambdaArn")
DATASET = ("supplychain/SendDataIntegrationEvent", "datasetTarget.datasetIdentifier")
INSTANCE = ("supplychain/SendDataIntegrationEvent", "instanceId")
KMS = ("appintegrations/CreateDataIntegration", "KmsKey")
BUNDLE = ("appfabric/CreateIngestion", "appBundleIdentifier")
ENGAGEMENT = ("partnercentral-selling/CreateResourceSnapshotJob", "EngagementIdentifier")
OPPORTUNITY = ("partnercentral-selling/CreateResourceSnapshotJob", "ResourceIdentifier")
NORTH_AMERICA = "11111111-2222-4333-8444-555555555555"
EUROPE = "22222222-3333-4444-8555-666666666666"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test lists from scratch: the choices cache is the process's, shared across tests."""
    cache.clear()
    yield
    cache.clear()


def list_calls(sandbox, operation: str) -> list[dict]:
    return [c for c in sandbox.state.calls if c["operation"] == operation]


def choices(picker, user, target=None, values=None, q=""):
    key, member = picker
    return choices_for(get_operation(key), member, target or default_target(), user, values or {}, q)


# --- listing and paging ------------------------------------------------------------------------------


def test_every_lambda_function_comes_back_though_they_take_more_than_one_page(aws, operator):
    listed = choices(LAMBDA, operator)

    assert len(listed.choices) == len(demo.LAMBDA_FUNCTIONS) == 60
    assert {c.label for c in listed.choices} == set(demo.LAMBDA_FUNCTIONS)
    assert all(c.value.startswith("arn:aws:lambda:us-east-1:111122223333:function:") for c in listed.choices)
    assert len(list_calls(aws, "lambda/ListFunctions")) == 2  # 50, then 10 with the NextMarker
    assert not listed.truncated
    assert listed.error is None
    assert listed.message == "60 Lambda functions. Pick one, or type the value."


def test_the_values_are_what_the_picker_declares_and_the_labels_beside_them(aws, operator):
    listed = choices(INSTANCE, operator)

    assert [(c.value, c.label) for c in listed.choices] == [
        (instance, name) for instance, (name, _, _) in demo.SUPPLY_CHAIN_INSTANCES.items()
    ]


def test_an_app_bundle_has_no_label_and_is_offered_by_its_arn(aws, operator):
    listed = choices(BUNDLE, operator)

    assert [c.value.rsplit("/", 1)[1] for c in listed.choices] == list(demo.APP_BUNDLES)
    assert {c.label for c in listed.choices} == {""}


def test_an_alias_without_a_key_is_not_offered(aws, operator):
    listed = choices(KMS, operator)

    assert [c.value for c in listed.choices] == ["alias/integrations", "alias/orders", "alias/supply-chain"]
    assert listed.listed == 3


def test_the_listing_stops_at_the_item_cap_and_says_there_are_more(aws, operator, settings):
    settings.PORTAL_CHOICES_MAX_ITEMS = 10

    listed = choices(LAMBDA, operator)

    assert len(listed.choices) == 10
    assert listed.truncated
    assert listed.message == "more than 10 Lambda functions — type to narrow. Pick one, or type the value."
    assert len(list_calls(aws, "lambda/ListFunctions")) == 1


def test_the_listing_stops_at_the_page_cap(aws, operator, settings):
    settings.PORTAL_CHOICES_MAX_PAGES = 1

    listed = choices(LAMBDA, operator)

    assert len(listed.choices) == 50
    assert listed.truncated
    assert len(list_calls(aws, "lambda/ListFunctions")) == 1


def test_the_listing_asks_for_no_new_page_once_its_time_is_up(aws, operator, settings, monkeypatch):
    settings.PORTAL_CHOICES_READ_TIMEOUT = 1.0
    monkeypatch.setattr("integrations.choices.LISTING_BUDGET", 0.2)  # 0.2 s, less than one slow page
    aws.state.add_fault({"operation": "lambda/ListFunctions", "fault": {"kind": "latency", "latency_ms": 400}})

    listed = choices(LAMBDA, operator)

    assert len(listed.choices) == 50
    assert listed.truncated
    assert len(list_calls(aws, "lambda/ListFunctions")) == 1


def test_the_calls_are_made_as_the_targets_role_for_the_person(aws, db):
    role = "arn:aws:iam::111122223333:role/portal-pickers"
    target = make_target("with-role", role_arn=role)
    olivia = make_operator("olivia")
    target.users.add(olivia)

    listed = choices(BUNDLE, olivia, target)

    assert len(listed.choices) == 3
    [call] = list_calls(aws, "appfabric/ListAppBundles")
    # moto's STS hands out temporary keys (ASIA…); the portal's own sandbox key is AKIDPORTALSANDBOX.
    assert call["access_key_id"].startswith("ASIA")


# --- filtering ------------------------------------------------------------------------------------


def test_typing_narrows_the_choices_by_value_ignoring_case(aws, operator):
    listed = choices(LAMBDA, operator, q="  ERP-SYNC-0")

    assert [c.label for c in listed.choices] == [f"erp-sync-0{n}" for n in range(1, 10)]
    assert listed.listed == 60
    assert listed.message == "9 of 60 Lambda functions match “ERP-SYNC-0”. Pick one, or type the value."


def test_typing_narrows_the_choices_by_label_too(aws, operator):
    listed = choices(INSTANCE, operator, q="euro")

    assert [c.value for c in listed.choices] == [EUROPE]


def test_typing_what_nothing_contains_leaves_no_choices_and_says_so(aws, operator):
    listed = choices(LAMBDA, operator, q="no-such-function")

    assert listed.choices == []
    assert listed.message.startswith("0 of 60 Lambda functions match")


# --- the cache ------------------------------------------------------------------------------------


def test_a_second_load_makes_no_call_even_with_other_text_typed(aws, operator):
    first = choices(LAMBDA, operator)
    again = choices(LAMBDA, operator, q="erp-sync-4")

    assert len(first.choices) == 60
    assert len(again.choices) == 10
    assert len(list_calls(aws, "lambda/ListFunctions")) == 2  # the first load's two pages only


def test_another_person_lists_again(aws, operator):
    choices(BUNDLE, operator)
    choices(BUNDLE, make_operator("another"))

    assert len(list_calls(aws, "appfabric/ListAppBundles")) == 2


def test_another_target_lists_again(aws, operator):
    other = make_target("other-region", region="eu-west-1")
    other.users.add(operator)

    home = choices(BUNDLE, operator)
    away = choices(BUNDLE, operator, other)

    assert len(list_calls(aws, "appfabric/ListAppBundles")) == 2
    assert all(":us-east-1:" in c.value for c in home.choices)
    assert all(":eu-west-1:" in c.value for c in away.choices)


def test_other_values_of_a_member_it_depends_on_list_again(aws, operator):
    choices(DATASET, operator, values={"instanceId": NORTH_AMERICA})
    choices(DATASET, operator, values={"instanceId": EUROPE})
    choices(DATASET, operator, values={"instanceId": NORTH_AMERICA})

    # Two namespaces per instance: one call each; the third load is the first one's, kept.
    assert len(list_calls(aws, "supplychain/ListDataLakeDatasets")) == 4


def test_with_no_cache_time_every_load_lists_again(aws, operator, settings):
    settings.PORTAL_CHOICES_CACHE_SECONDS = 0

    choices(BUNDLE, operator)
    choices(BUNDLE, operator)

    assert len(list_calls(aws, "appfabric/ListAppBundles")) == 2


# --- dependent members ------------------------------------------------------------------------------


def test_the_datasets_wait_for_the_instance_and_make_no_call_until_it_is_chosen(aws, operator):
    listed = choices(DATASET, operator)

    assert listed.choices == []
    assert listed.waiting_for == ("Instance ID",)
    assert listed.message == "Choose the Instance ID first to see the datasets."
    assert list_calls(aws, "supplychain/ListDataLakeDatasets") == []


def test_the_datasets_follow_the_instance_across_both_namespaces(aws, operator):
    north = choices(DATASET, operator, values={"instanceId": NORTH_AMERICA})
    europe = choices(DATASET, operator, values={"instanceId": EUROPE})

    assert [c.label for c in north.choices] == [
        "inbound_order",
        "inbound_order_line",
        "outbound_order_line",
        "forecasts",
        "orders",
    ]  # the asc namespace's, then the default one's (each in the service's order)
    assert all(f"instance/{NORTH_AMERICA}/" in c.value for c in north.choices)
    assert [c.label for c in europe.choices] == ["inventory_level"]


def test_the_engagements_wait_for_the_catalog(aws, operator):
    waiting = choices(ENGAGEMENT, operator)
    listed = choices(ENGAGEMENT, operator, values={"Catalog": "Sandbox"})

    assert waiting.message == "Choose the Catalog first to see the engagements."
    assert [c.value for c in listed.choices] == list(demo.ENGAGEMENTS)


def test_the_opportunities_follow_the_catalog_and_the_engagement(aws, operator):
    waiting = choices(OPPORTUNITY, operator, values={"Catalog": "AWS"})
    first = choices(OPPORTUNITY, operator, values={"Catalog": "AWS", "EngagementIdentifier": "eng-a1b2c3d4e5f6g7"})
    second = choices(OPPORTUNITY, operator, values={"Catalog": "AWS", "EngagementIdentifier": "eng-h8i9j0k1l2m3n4"})
    none = choices(OPPORTUNITY, operator, values={"Catalog": "AWS", "EngagementIdentifier": "eng-o5p6q7r8s9t0u1"})

    assert waiting.waiting_for == ("Engagement ID",)
    assert [c.value for c in first.choices] == ["O1234567", "O1234568"]
    assert [c.value for c in second.choices] == ["O2345678"]
    assert none.choices == []
    assert none.message == "No opportunities in this target: type the value."


# --- degrading gracefully -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        pytest.param(
            "throttle",
            "AWS is throttling this account's calls just now (TooManyRequestsException); try again in a moment",
            id="throttle",
        ),
        pytest.param("denied", "the target's role may not list Lambda functions (AccessDeniedException)", id="denied"),
        pytest.param("internal", "AWS answered ServiceException", id="internal"),
    ],
)
def test_an_error_from_aws_leaves_no_choices_and_says_why(aws, operator, fault, words):
    aws.state.add_fault({"operation": "lambda/ListFunctions", "sequence": [fault]})

    listed = choices(LAMBDA, operator)

    assert listed.choices == []
    assert listed.message == f"The Lambda functions could not be listed: {words}. Type the value instead."


def test_a_failure_is_not_kept_the_next_load_lists_again(aws, operator):
    aws.state.add_fault({"operation": "appfabric/ListAppBundles", "sequence": ["throttle"]})

    failed = choices(BUNDLE, operator)
    listed = choices(BUNDLE, operator)

    assert failed.error
    assert not failed.choices
    assert len(listed.choices) == 3


def test_a_refusal_in_one_targets_region_does_not_touch_another_target(aws, operator):
    refused = make_target("refused", region="eu-west-2")
    refused.users.add(operator)
    aws.state.add_fault({"operation": "*", "region": "eu-west-2", "fault": "denied"})

    there = choices(BUNDLE, operator, refused)
    here = choices(BUNDLE, operator)

    assert "may not list app bundles (AccessDeniedException)" in there.message
    assert len(here.choices) == 3


def test_an_answer_later_than_the_read_timeout_is_a_timeout_not_a_hang(aws, operator, settings):
    settings.PORTAL_CHOICES_READ_TIMEOUT = 0.3
    aws.state.add_fault({"operation": "appfabric/ListAppBundles", "sequence": [{"kind": "slow", "delay_s": 2}]})

    listed = choices(BUNDLE, operator)

    assert listed.message == "The app bundles could not be listed: AWS did not answer in time. Type the value instead."


def test_a_dropped_connection_says_aws_could_not_be_reached(aws, operator):
    aws.state.add_fault({"operation": "appfabric/ListAppBundles", "sequence": ["drop"]})

    listed = choices(BUNDLE, operator)

    assert "AWS could not be reached" in listed.message


def test_an_endpoint_nobody_listens_on_says_aws_could_not_be_reached(aws, operator):
    nowhere = make_target("nowhere", endpoint_url="http://127.0.0.1:9")
    nowhere.users.add(operator)

    listed = choices(BUNDLE, operator, nowhere)

    assert "AWS could not be reached" in listed.message


def test_no_credentials_says_so(aws, operator, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(aws_clients, "_base_credentials", dict)

    listed = choices(BUNDLE, operator)

    assert "the portal has no AWS credentials for this target" in listed.message
    assert list_calls(aws, "appfabric/ListAppBundles") == []


def test_values_aws_refuses_to_list_with_are_said_to_be_refused(aws, operator):
    listed = choices(DATASET, operator, values={"instanceId": "not-an-instance"})

    assert "AWS refused the values this list depends on" in listed.message


# --- who may list -------------------------------------------------------------------------------------


def test_a_person_who_may_not_run_the_operation_is_refused(aws, db):
    viewer = make_user("viewer")
    default_target().users.add(viewer)

    with pytest.raises(lifecycle.OperationNotPermitted):
        choices(BUNDLE, viewer)
    assert list_calls(aws, "appfabric/ListAppBundles") == []


def test_a_target_not_granted_to_the_person_is_refused(aws, operator):
    with pytest.raises(lifecycle.TargetNotPermitted):
        choices(BUNDLE, operator, make_target("someone-elses"))


def test_a_retired_target_is_refused(aws, operator):
    retired = make_target("retired", is_active=False)
    retired.users.add(operator)

    with pytest.raises(PermissionDenied):
        choices(BUNDLE, operator, retired)


def test_a_member_without_a_picker_has_no_choices(aws, operator):
    with pytest.raises(UnknownMemberError):
        choices(("appfabric/CreateIngestion", "tenantId"), operator)


# --- the form's picker partial ------------------------------------------------------------------------


def _choices_url(picker) -> str:
    key, member = picker
    service, name = key.split("/")
    return reverse("operation_choices", args=[service, name, member])


def test_the_form_renders_each_picker_as_a_text_box_with_a_place_for_its_choices(signed_in):
    response = signed_in.get(reverse("operation_form", args=["supplychain", "SendDataIntegrationEvent"]))
    html = response.content.decode()

    assert 'id="id_instanceId_choices"' in html
    assert f'hx-get="{_choices_url(INSTANCE)}"' in html
    assert f'hx-get="{_choices_url(DATASET)}"' in html
    assert 'data-depends-on="instanceId"' in html
    assert 'hx-include="#id_target, #id_instanceId"' in html
    # A plain text box until its choices load (and for good without JavaScript).
    assert 'type="text" name="instanceId"' in html
    assert 'autocomplete="off"' in html
    assert 'role="combobox"' not in html
    assert 'id="id_instanceId_choices_status" aria-live="polite"' in html


def test_the_partial_lists_the_choices_as_options_of_a_listbox(aws, signed_in):
    target = default_target()

    response = signed_in.get(_choices_url(LAMBDA), {"target": target.pk, "q": "Erp-Sync-1"})
    html = response.content.decode()

    assert response.status_code == 200
    assert 'id="id_connectorProvisioningConfig__lambda__lambdaArn_listbox" role="listbox"' in html
    assert html.count('role="option"') == 10  # erp-sync-10 … erp-sync-19
    assert 'data-value="arn:aws:lambda:us-east-1:111122223333:function:erp-sync-10"' in html
    assert "10 of 60 Lambda functions match" in html
    assert "no-store" in response["Cache-Control"]


def test_the_partial_sends_the_dependency_by_its_form_name(aws, signed_in):
    response = signed_in.get(_choices_url(DATASET), {"target": default_target().pk, "instanceId": EUROPE})

    assert response.content.decode().count('role="option"') == 1
    assert "inventory_level" in response.content.decode()


def test_the_partial_without_choices_has_no_listbox_and_says_why(aws, signed_in):
    aws.state.add_fault({"operation": "kms/ListAliases", "sequence": ["denied"]})

    response = signed_in.get(_choices_url(KMS), {"target": default_target().pk})
    html = response.content.decode()

    assert response.status_code == 200
    assert 'role="listbox"' not in html
    assert "The KMS keys could not be listed: the target&#x27;s role may not list KMS keys" in html


def test_the_partial_shows_at_most_a_hundred_options(aws, signed_in, settings):
    settings.PORTAL_CHOICES_MAX_ITEMS = 1000
    from integrations import picker_views

    picker_views.SHOWN, shown = 20, picker_views.SHOWN
    try:
        response = signed_in.get(_choices_url(LAMBDA), {"target": default_target().pk})
    finally:
        picker_views.SHOWN = shown

    html = response.content.decode()
    assert html.count('role="option"') == 20
    assert "The first 20 are shown: type to narrow." in html


def test_the_partial_without_a_target_asks_for_one(aws, signed_in):
    response = signed_in.get(_choices_url(BUNDLE))

    assert response.status_code == 200
    assert "Choose an AWS target first." in response.content.decode()


@pytest.mark.parametrize("target", ["999999", "1x", "²", "-1"])
def test_the_partial_refuses_a_target_not_granted_or_not_a_key(aws, signed_in, target):
    make_target("someone-elses")

    assert signed_in.get(_choices_url(BUNDLE), {"target": target}).status_code == 403


def test_the_partial_refuses_a_target_of_someone_else(aws, signed_in):
    other = make_target("someone-elses")

    assert signed_in.get(_choices_url(BUNDLE), {"target": other.pk}).status_code == 403
    assert list_calls(aws, "appfabric/ListAppBundles") == []


def test_the_partial_refuses_a_person_who_may_not_run_the_operation(aws, client, db):
    viewer = make_user("viewer")
    default_target().users.add(viewer)
    client.force_login(viewer)

    assert client.get(_choices_url(BUNDLE), {"target": default_target().pk}).status_code == 403


def test_the_partial_of_a_member_without_a_picker_or_an_unknown_operation_is_not_found(aws, signed_in):
    target = {"target": default_target().pk}

    assert (
        signed_in.get(
            reverse("operation_choices", args=["appfabric", "CreateIngestion", "tenantId"]), target
        ).status_code
        == 404
    )
    assert signed_in.get(reverse("operation_choices", args=["appfabric", "Nope", "x"]), target).status_code == 404


def test_the_partial_answers_only_get(aws, signed_in):
    assert signed_in.post(_choices_url(BUNDLE), {"target": default_target().pk}).status_code == 405
