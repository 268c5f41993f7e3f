"""Each of the five operations, as a person runs it: form, preview, run, result, run again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations.models import AwsRequest, RequestStatus
from operations import get_operation
from tests.browser.conftest import check_accessibility, sign_in
from tests.browser.forms import expect_values, fill_form
from tests.browser.test_forms import open_folds
from tests.factories import make_operator
from tests.integrations.test_end_to_end_operations import FORMS

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.mark.parametrize("key", sorted(FORMS))
def test_a_person_fills_previews_and_runs_each_operation_then_runs_it_again(key, page: Page, running_worker, sandbox):
    operation = get_operation(key)
    slug = key.replace("/", "-")
    values = FORMS[key]
    make_operator("olivia")
    sign_in(page, "olivia")

    page.get_by_role("link", name="Operations").click()
    page.get_by_role("link", name=operation.title).click()
    expect(page.get_by_role("heading", level=1, name=operation.title)).to_be_visible()
    check_accessibility(page, f"form-{slug}")

    open_folds(page)
    fill_form(page, values)
    expect(page.locator("#operation-form .errors")).to_have_count(0)
    page.get_by_role("button", name="Preview the call").click()
    page.locator("#preview-code > summary").click()  # the exact call, folded below the review table

    boto3_code = page.locator("#preview-boto3")
    cli_command = page.locator("#preview-cli")
    expect(boto3_code).to_contain_text(f"client = boto3.client('{operation.model.service_model.service_name}'")
    expect(cli_command).to_contain_text(f"aws {operation.model.service_model.service_name} ")
    code, command = boto3_code.inner_text(), cli_command.inner_text()
    # Sensitive members (Supply Chain's data) are shown as their size and digest, never as typed.
    sensitive = {name for name, member in operation.input_shape.members.items() if member.metadata.get("sensitive")}
    for name in sensitive & set(values):
        assert values[name] not in code
        assert values[name] not in command
        assert "<sensitive: " in code
        assert "<sensitive: " in command
    for name, value in values.items():
        if name in sensitive:
            continue
        assert value in code, f"{name}={value!r} is not in the boto3 code:\n{code}"
        assert value in command, f"{name}={value!r} is not in the CLI command:\n{command}"
    assert "us-east-1" in code
    assert "--region us-east-1" in command
    check_accessibility(page, f"preview-{slug}")

    # The sandbox answers this call slowly, so the request page is sure to open before the result.
    sandbox.state.add_fault({"operation": operation.key, "sequence": [{"kind": "latency", "latency_ms": 1500}]})
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    badge = page.locator("#request-status-badge")
    assert badge.inner_text() in ("Queued", "Running")
    pk = int(page.url.rstrip("/").rsplit("/", 1)[1])
    # From here on the page updates itself: no navigation, no reload.
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    page.evaluate("() => { window.__landedOnRequestPage = true; }")

    expect(badge).to_have_text("Succeeded", timeout=30_000)
    assert page.evaluate("() => window.__landedOnRequestPage === true"), "the request page was reloaded"
    assert navigations == []

    done = AwsRequest.objects.get(pk=pk)
    assert done.status == RequestStatus.SUCCEEDED
    assert done.created_by.username == "olivia"
    [resource] = sandbox.state.resources
    assert resource["id"] == done.resource_id
    resource_id = page.locator("#resource-id")
    expect(resource_id).to_have_text(done.resource_id)
    if operation.service == "supplychain":
        assert UUID.match(done.resource_id)
    else:
        assert done.resource_id.startswith("arn:aws:")
    if operation.console_url:
        expect(page.get_by_role("link", name="Open in the AWS console")).to_have_attribute(
            "href", operation.console_link(done.region, done.resource_id)
        )
    copy = page.locator("#request-status button.copy")
    expect(copy).to_have_accessible_name("Copy the ARN or id")
    copy.click()
    expect(copy).to_have_text("Copied")
    expect(copy).to_have_accessible_name("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == done.resource_id
    check_accessibility(page, f"request-{slug}")

    page.get_by_role("button", name="Run again").click()  # a link styled, and announced, as a button
    expect(page).to_have_url(re.compile(rf"/requests/{pk}/again/$"))
    expect(page.get_by_role("status")).to_contain_text(f"A copy of request #{pk}")
    # What the person may not see again is left for them to enter again, said next to the field.
    expect_values(page, {name: value for name, value in values.items() if name not in sensitive})
    for name in sensitive & set(values):
        expect(page.locator(f'[name="{name}"]')).to_have_value("")
    if key == "appintegrations/CreateDataIntegration":  # the longest form, with its note on top
        check_accessibility(page, f"again-{slug}")
