"""Pickers, as a person uses them: every identifier chosen from a list loaded from the target,
never typed; the request confirmed in AWS; a refused target leaves a text box that says why; and
changing the target lists again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations.models import AwsRequest, RequestStatus
from integrations.permissions import OPERATORS
from operations import get_operation
from sandbox import demo
from tests.browser.conftest import check_accessibility, settle, sign_in
from tests.browser.forms import fill_form
from tests.browser.test_forms import open_folds
from tests.factories import make_operator, make_target
from tests.integrations.test_end_to_end_operations import FORMS

ACCOUNT = "111122223333"
REGION = "us-east-1"
NORTH_AMERICA = "11111111-2222-4333-8444-555555555555"

# What each form's pickers are set to, by form name, in the order they are picked (a dependent
# member after what it depends on): every one a demo resource of the sandbox, chosen from its list.
PICKS = {
    "appfabric/CreateIngestion": {
        "appBundleIdentifier": f"arn:aws:appfabric:{REGION}:{ACCOUNT}:appbundle/{demo.APP_BUNDLES[1]}",
    },
    "supplychain/SendDataIntegrationEvent": {
        "instanceId": NORTH_AMERICA,
        "datasetTarget__datasetIdentifier": (
            f"arn:aws:scn:{REGION}:{ACCOUNT}:instance/{NORTH_AMERICA}/namespaces/default/datasets/orders"
        ),
    },
    "appintegrations/CreateDataIntegration": {"KmsKey": "alias/orders"},
    "partnercentral-selling/CreateResourceSnapshotJob": {
        "EngagementIdentifier": "eng-h8i9j0k1l2m3n4",
        "ResourceIdentifier": "O2345678",
    },
    "appflow/RegisterConnector": {
        "connectorProvisioningConfig__lambda__lambdaArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:erp-sync-42",
    },
}


@pytest.fixture
def sandbox_target(sandbox, db):
    """The operators' target, whose calls (the pickers' and the worker's) go to the sandbox."""
    return make_target("sandbox", groups=(OPERATORS,), endpoint_url=sandbox.url, region=REGION)


def picker(page: Page, name: str):
    return page.locator(f"#id_{name}")


def option(page: Page, name: str, value: str):
    return page.locator(f"#id_{name}_listbox [role=option][data-value='{value}']")


def pick(page: Page, name: str, value: str) -> None:
    """Open the field's list with a click and click the choice: nothing typed."""
    box = picker(page, name)
    expect(box).to_have_attribute("role", "combobox")  # its choices have loaded
    box.click()
    expect(box).to_have_attribute("aria-expanded", "true")
    option(page, name, value).click()
    expect(box).to_have_value(value)
    settle(page)
    expect(picker(page, name)).to_have_value(value)


def test_every_picker_is_a_combobox_after_load_and_a_plain_text_box_before(page: Page, sandbox_target):
    make_operator("olivia")
    sign_in(page, "olivia")
    page.goto("/operations/appflow/RegisterConnector/")
    box = picker(page, "connectorProvisioningConfig__lambda__lambdaArn")

    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_attribute("aria-controls", "id_connectorProvisioningConfig__lambda__lambdaArn_listbox")
    expect(page.locator("#id_connectorProvisioningConfig__lambda__lambdaArn_choices_status")).to_have_text(
        "60 Lambda functions. Pick one, or type the value."
    )
    check_accessibility(page, "picker-closed")
    box.click()
    expect(page.locator("#id_connectorProvisioningConfig__lambda__lambdaArn_listbox [role=option]")).to_have_count(60)
    check_accessibility(page, "picker-open")


@pytest.mark.parametrize("key", sorted(PICKS))
def test_a_person_picks_every_identifier_runs_the_request_and_sees_it_confirmed_in_aws(
    key, page: Page, running_worker, sandbox, sandbox_target
):
    operation = get_operation(key)
    slug = key.replace("/", "-")
    picks = PICKS[key]
    # Everything but the identifiers is typed (names, tenant ids, documents) or chosen from a select.
    typed = {name: value for name, value in FORMS[key].items() if name not in picks}
    make_operator("olivia")
    sign_in(page, "olivia")

    page.get_by_role("link", name="Operations").click()
    page.get_by_role("link", name=operation.title).click()
    expect(page.get_by_role("heading", level=1, name=operation.title)).to_be_visible()
    open_folds(page)
    fill_form(page, typed)
    for name, value in picks.items():
        pick(page, name, value)
    check_accessibility(page, f"picked-{slug}")
    expect(page.locator("#operation-form .errors")).to_have_count(0)

    page.get_by_role("button", name="Preview the call").click()
    for value in picks.values():
        expect(page.locator("#preview-boto3")).to_contain_text(value)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    expect(page.locator("#request-status-badge")).to_have_text("Succeeded", timeout=30_000)
    confirmation = page.locator("#confirmation")
    expect(confirmation).to_contain_text("Confirmed in AWS", timeout=30_000)
    check_accessibility(page, f"confirmed-{slug}")

    done = AwsRequest.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert done.status == RequestStatus.SUCCEEDED
    for name, value in picks.items():
        path = name.split("__")
        sent = done.parameters
        for part in path:
            sent = sent[part]
        assert sent == value


def test_a_dependent_picker_waits_for_and_then_follows_what_it_depends_on(page: Page, sandbox_target):
    make_operator("olivia")
    sign_in(page, "olivia")
    page.goto("/operations/supplychain/SendDataIntegrationEvent/")
    page.locator("#id_eventType").select_option("scn.data.dataset")  # the dataset target applies to it only
    datasets = picker(page, "datasetTarget__datasetIdentifier")
    status = page.locator("#id_datasetTarget__datasetIdentifier_choices_status")

    expect(status).to_have_text("Choose the Instance ID first to see the datasets.")
    expect(datasets).not_to_have_attribute("role", "combobox")
    pick(page, "instanceId", NORTH_AMERICA)
    expect(status).to_have_text("5 datasets. Pick one, or type the value.")
    pick(page, "instanceId", "22222222-3333-4444-8555-666666666666")
    expect(status).to_have_text("1 datasets. Pick one, or type the value.")
    datasets.click()
    expect(page.locator("#id_datasetTarget__datasetIdentifier_listbox [role=option]")).to_have_count(1)


def test_the_keyboard_opens_moves_through_picks_and_closes_the_list(page: Page, sandbox_target):
    make_operator("olivia")
    sign_in(page, "olivia")
    page.goto("/operations/appintegrations/CreateDataIntegration/")
    box = picker(page, "KmsKey")
    expect(box).to_have_attribute("role", "combobox")

    box.focus()
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-activedescendant", "id_KmsKey_option_1")
    box.press("ArrowDown")
    expect(page.locator("#id_KmsKey_option_2")).to_have_attribute("aria-selected", "true")
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    box.press("ArrowUp")  # opens on the last one
    expect(box).to_have_attribute("aria-activedescendant", "id_KmsKey_option_3")
    box.press("Enter")

    expect(box).to_have_value("alias/supply-chain")
    expect(page.locator("#preview-heading")).to_have_count(0)  # Enter picked; it did not submit the form
    settle(page)
    expect(picker(page, "KmsKey")).to_be_focused()


def test_typing_narrows_the_list(page: Page, sandbox_target):
    make_operator("olivia")
    sign_in(page, "olivia")
    page.goto("/operations/appflow/RegisterConnector/")
    name = "connectorProvisioningConfig__lambda__lambdaArn"
    box = picker(page, name)
    expect(box).to_have_attribute("role", "combobox")

    box.press_sequentially("SYNC-4")

    expect(page.locator(f"#id_{name}_listbox [role=option]")).to_have_count(10)
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#id_{name}_choices_status")).to_contain_text("10 of 60 Lambda functions match")


def test_a_refused_target_leaves_a_text_box_that_says_why_and_changing_the_target_lists_again(
    page: Page, sandbox, sandbox_target
):
    refused = make_target("refused", groups=(OPERATORS,), endpoint_url=sandbox.url, region="eu-west-2")
    sandbox.state.add_fault({"operation": "*", "region": "eu-west-2", "fault": "denied"})
    make_operator("olivia")
    sign_in(page, "olivia")
    page.goto("/operations/appfabric/CreateIngestion/")
    box = picker(page, "appBundleIdentifier")
    status = page.locator("#id_appBundleIdentifier_choices_status")
    page.locator("#id_target").select_option(str(sandbox_target.pk))
    expect(box).to_have_attribute("role", "combobox")

    page.locator("#id_target").select_option(str(refused.pk))

    expect(status).to_have_text(
        "The app bundles could not be listed: the target's role may not list app bundles "
        "(AccessDeniedException). Type the value instead."
    )
    expect(box).not_to_have_attribute("role", "combobox")
    expect(box).not_to_have_attribute("aria-expanded", re.compile(".*"))
    expect(page.locator("#id_appBundleIdentifier_listbox")).to_have_count(0)
    check_accessibility(page, "picker-refused")
    # Still a text box: a value typed by hand is checked as ever.
    box.fill("not an arn")
    box.press("Tab")
    settle(page)
    expect(page.locator("#field-appBundleIdentifier .errors")).to_be_visible()

    page.locator("#id_target").select_option(str(sandbox_target.pk))
    expect(status).to_contain_text("3 app bundles")
    expect(box).to_have_attribute("role", "combobox")


def test_changing_the_target_lists_that_targets_choices(page: Page, sandbox, sandbox_target):
    ireland = make_target("ireland", groups=(OPERATORS,), endpoint_url=sandbox.url, region="eu-west-1")
    make_operator("olivia")
    sign_in(page, "olivia")
    page.goto("/operations/appfabric/CreateIngestion/")
    page.locator("#id_target").select_option(str(sandbox_target.pk))
    box = picker(page, "appBundleIdentifier")
    expect(box).to_have_attribute("role", "combobox")
    listed = page.locator("#id_appBundleIdentifier_listbox [role=option]")
    expect(listed.first).to_have_attribute("data-value", re.compile(f":{REGION}:"))

    page.locator("#id_target").select_option(str(ireland.pk))

    expect(listed.first).to_have_attribute("data-value", re.compile(":eu-west-1:"))
    pick(page, "appBundleIdentifier", f"arn:aws:appfabric:eu-west-1:{ACCOUNT}:appbundle/{demo.APP_BUNDLES[2]}")
