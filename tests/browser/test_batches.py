"""A file of Supply Chain events, as the person uploading it sees it: the report of its bad lines, a
corrected file, the submit, the progress moving by itself, a pause that stops the sends, the resume,
and the end. The check, the recording and the calls are made by the real worker against the
sandbox; beat's feeder marks the batch finished."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from integrations.models import AwsRequest, Batch, BatchStatus, RequestStatus
from tests import processes
from tests.browser.conftest import check_accessibility, settle, sign_in
from tests.factories import make_operator
from tests.integrations.conftest import wait_for

UPLOAD_URL = "/operations/supplychain/SendDataIntegrationEvent/batches/new/"
SEND_EVENT = "supplychain/SendDataIntegrationEvent"
INSTANCE = "2b2b2b2b-1111-2222-3333-444444444444"
HEADER = "instanceId,eventType,eventGroupId,data"
EVENTS = 24
GROUPS = 6
# Each call to the sandbox takes this long: slow enough that a pause lands mid-batch.
LATENCY_MS = 400


def event_row(n: int, event_type: str = "scn.data.inboundorder") -> str:
    data = json.dumps({"id": f"order-{n % GROUPS}", "line": n}).replace('"', '""')
    return f'{INSTANCE},{event_type},order-{n % GROUPS},"{data}"'


def csv_bytes(rows: list[str]) -> bytes:
    return "\n".join((HEADER, *rows)).encode()


def choose_file(page: Page, name: str, content: bytes) -> None:
    page.locator("#id_file").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})


def sends(sandbox) -> list[dict]:
    return [call for call in list(sandbox.state.calls) if call["operation"] == SEND_EVENT]


@pytest.fixture
def beat(portal_env, logs):
    """Beat's rounds: the feeder tops the batch up and marks it finished once every request is final."""
    process = processes.start_beat(portal_env, logs)
    yield process
    process.stop()


def test_a_file_with_bad_lines_is_fixed_submitted_paused_resumed_and_finished(
    page: Page, running_worker, beat, sandbox
):
    make_operator("olivia")
    sign_in(page, "olivia")

    # 1. The upload page says what a file looks like.
    page.goto(UPLOAD_URL)
    expect(page.get_by_role("heading", name="What the file looks like")).to_be_visible()
    expect(page.locator("#csv-example")).to_contain_text(HEADER)
    check_accessibility(page, "batch-upload")

    # 2. A file with two bad lines: its report, before anything is recorded.
    rows = [event_row(n) for n in range(EVENTS)]
    bad = [*rows[:3], event_row(3, "scn.data.nothing"), *rows[4:10], f"{INSTANCE},scn.data.inboundorder,,", *rows[11:]]
    choose_file(page, "events.csv", csv_bytes(bad))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#batch-status")).to_have_text("Checked, not submitted", timeout=30_000)
    expect(page.locator("#invalid-lines")).to_have_text("2")
    expect(page.locator("#valid-lines")).to_have_text(str(EVENTS - 2))
    report = page.locator("#report tbody tr")
    expect(report.nth(0)).to_contain_text("5")  # line 5: the header is line 1
    expect(report.nth(0)).to_contain_text("eventType")
    expect(page.locator("#report")).to_contain_text("is required")
    assert not AwsRequest.objects.exists()
    check_accessibility(page, "batch-report")
    # Submitting all of it is refused while lines are invalid.
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="break the operation's rules")).to_be_visible()
    assert not AwsRequest.objects.exists()

    # 3. The corrected file: every line valid.
    page.get_by_role("button", name="Upload a corrected file").click()
    choose_file(page, "events-fixed.csv", csv_bytes(rows))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#invalid-lines")).to_have_text("0", timeout=30_000)
    batch = Batch.objects.get(file_name="events-fixed.csv")
    expect(page).to_have_url(re.compile(rf"/batches/{batch.pk}/$"))

    # 4. Submitted, with every call slowed down: the progress moves by itself.
    sandbox.state.add_fault({"operation": SEND_EVENT, "fault": {"kind": "latency", "latency_ms": LATENCY_MS}})
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#batch-status")).to_have_text("Running", timeout=30_000)
    page.wait_for_function("() => Number(document.querySelector('#finished-count')?.textContent) > 0", timeout=30_000)
    expect(page.locator("#total-count")).to_have_text(str(EVENTS))
    check_accessibility(page, "batch-progress")

    # 5. Paused: the calls under way finish, then nothing more is sent.
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#batch-status")).to_have_text("Paused")
    wait_for(
        lambda: not AwsRequest.objects.filter(batch=batch, status=RequestStatus.RUNNING).exists(),
        message="the calls under way to finish",
    )
    sent = len(sends(sandbox))
    done = AwsRequest.objects.filter(batch=batch, status=RequestStatus.SUCCEEDED).count()
    assert 0 < done < EVENTS
    # Three of the page's polls later (six seconds, and many of beat's feeder rounds), still nothing more.
    for _ in range(3):
        with page.expect_response(lambda r: f"/batches/{batch.pk}/progress/" in r.url):
            pass
    assert len(sends(sandbox)) == sent
    assert AwsRequest.objects.filter(batch=batch, status=RequestStatus.SUCCEEDED).count() == done
    expect(page.locator("#finished-count")).to_have_text(str(done))
    check_accessibility(page, "batch-paused")

    # 6. Resumed: it runs to the end, and the page stops asking.
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#batch-status")).to_have_text("Finished", timeout=60_000)
    expect(page.locator("#finished-count")).to_have_text(str(EVENTS))
    expect(page).to_have_title(f"Finished · Batch #{batch.pk} · Integrations Portal")
    settle(page)
    created = [call["client_token"] for call in sends(sandbox) if call["outcome"] == "created"]
    assert len(created) == len(set(created)) == EVENTS  # each event sent once
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FINISHED
    assert set(AwsRequest.objects.filter(batch=batch).values_list("status", flat=True)) == {RequestStatus.SUCCEEDED}
