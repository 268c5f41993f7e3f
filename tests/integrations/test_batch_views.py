"""The batch pages (integrations/batch_views.py), through Django's test client, in this process: the
upload and its refusals, the report and its export, submitting, steering, the progress poll.

The worker's steps (check, record) are called here directly (``batches.check``, ``batches.record``):
the page tests are about what the pages show and accept, not about the worker; the browser test
(tests/browser/test_batches.py) runs them in a real worker.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_htmx.http import HTMX_STOP_POLLING

from integrations import batches
from integrations.models import (
    ApprovalRule,
    Attempt,
    AttemptOutcome,
    AwsRequest,
    Batch,
    BatchLine,
    BatchStatus,
    RequestStatus,
)
from integrations.permissions import APPROVERS
from operations import get_operation
from tests.factories import PASSWORD, default_target, make_operator, make_target, make_user

EVENT = get_operation("supplychain/SendDataIntegrationEvent")
UPLOAD_URL = "/operations/supplychain/SendDataIntegrationEvent/batches/new/"
HTMX = {"HX-Request": "true"}
INSTANCE = "2b2b2b2b-1111-2222-3333-444444444444"
HEADER = "instanceId,eventType,eventGroupId,data"


def good_row(group: str = "order-1", n: int = 1) -> str:
    return f'{INSTANCE},scn.data.inboundorder,{group},"{{""id"": {n}}}"'


def bad_row() -> str:
    """A line whose event type is not one of Supply Chain's."""
    return f'{INSTANCE},scn.data.nothing,order-9,"{{}}"'


def csv_file(*rows: str, name: str = "events.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\n".join((HEADER, *rows)).encode(), content_type="text/csv")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def upload(client: Client, file: SimpleUploadedFile, **fields: str):
    return client.post(UPLOAD_URL, {"target": str(default_target().pk), **fields, "file": file})


def checked_batch(client: Client, *rows: str) -> Batch:
    """A batch uploaded through the page and checked (as a worker would)."""
    response = upload(client, csv_file(*rows))
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = Batch.objects.get()
    batches.check(batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DRAFT
    return batch


def running_batch(client: Client, *rows: str) -> Batch:
    """A batch submitted through its page and recorded (its requests handed to the broker are
    recorded by the ``published`` fixture instead)."""
    batch = checked_batch(client, *rows)
    client.post(f"/batches/{batch.pk}/submit/")
    batches.record(batch.pk)
    batch.refresh_from_db()
    return batch


def sign_in(client: Client, user) -> Client:
    client.login(username=user.username, password=PASSWORD)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the upload page --------------------------------------------------------------------------------


def test_the_upload_page_names_the_members_which_are_required_and_shows_an_example_of_each_format(signed_in):
    response = signed_in.get(UPLOAD_URL)

    assert response.status_code == 200
    page = text(response)
    for member in ("instanceId", "eventType", "eventGroupId", "data"):
        assert re.search(rf"<td><code>{member}</code></td><td>[^<]+</td><td>[^<]+</td><td>Required</td>", page)
    assert re.search(r"<td><code>eventTimestamp</code></td>.*?<td>Optional</td>", page)
    assert "<code>clientToken</code>" not in page  # the portal makes the token
    assert "<code>datasetTarget.datasetIdentifier</code>" in page
    assert "100,000 lines" in page
    assert 'id="csv-example"' in page
    assert 'id="jsonl-example"' in page
    assert HEADER.split(",")[0] in response.context["csv_example"].splitlines()[0]
    first = json.loads(response.context["jsonl_example"].splitlines()[0])
    assert isinstance(first["data"], str)
    assert json.loads(first["data"])["id"] == "order-1001"


def test_the_upload_page_offers_only_the_targets_the_user_may_use(signed_in):
    make_target("elsewhere", account_id="999988887777")

    response = signed_in.get(UPLOAD_URL)

    targets = list(response.context["form"].fields["target"].queryset)
    assert targets == [default_target()]


def test_an_operation_that_takes_no_files_has_no_upload_page(signed_in):
    assert signed_in.get("/operations/appfabric/CreateIngestion/batches/new/").status_code == 404
    assert signed_in.get("/operations/nothing/Nothing/batches/new/").status_code == 404


def test_someone_who_may_not_run_the_operation_gets_the_403_page(client, db):
    sign_in(client, make_user("visitor"))

    assert client.get(UPLOAD_URL).status_code == 403
    assert upload(client, csv_file(good_row())).status_code == 403
    assert not Batch.objects.exists()


def test_a_good_file_becomes_a_batch_being_checked_and_its_page_follows_the_check(signed_in, operator):
    response = upload(signed_in, csv_file(good_row("a", 1), good_row("b", 2)))

    batch = Batch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/batches/{batch.pk}/"
    assert (batch.status, batch.lines, batch.created_by, batch.file_name) == (
        BatchStatus.CHECKING, 2, operator, "events.csv"
    )  # fmt: skip
    page = signed_in.get(response["Location"])
    assert "Checked 0 of 2 lines" in text(page)
    assert f'hx-get="/batches/{batch.pk}/progress/"' in text(page)
    assert "events.csv uploaded: 2 line(s), now being checked." in messages_of(page)


def test_a_json_lines_file_is_read_as_json_lines(signed_in):
    line = {"instanceId": INSTANCE, "eventType": "scn.data.inboundorder", "eventGroupId": "g", "data": '{"id": 1}'}
    file = SimpleUploadedFile("events.jsonl", (json.dumps(line) + "\n").encode())

    assert upload(signed_in, file).status_code == 302
    batch = Batch.objects.get()
    assert batch.file_format == "jsonl"
    batches.check(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.invalid_lines) == (BatchStatus.DRAFT, 0)


def test_the_chosen_format_wins_over_the_files_name(signed_in):
    file = SimpleUploadedFile("events.txt", "\n".join((HEADER, good_row())).encode())

    assert upload(signed_in, file, file_format="csv").status_code == 302
    assert Batch.objects.get().file_format == "csv"


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (csv_file(good_row(), name="events.xlsx"), "Upload a .csv file or a JSON-lines file"),
        (SimpleUploadedFile("events.csv", b"instanceId,colour\nx,red\n"), "Unknown column(s): colour."),
        (SimpleUploadedFile("events.csv", b"instanceId,eventType,eventGroupId,data\n"), "The file holds no lines"),
        (SimpleUploadedFile("events.csv", b""), "The file is empty."),
    ],
    ids=["extension", "unknown-column", "no-lines", "empty"],
)
def test_a_file_that_cannot_be_a_batch_is_refused_next_to_the_file_and_nothing_is_kept(signed_in, file, message):
    response = upload(signed_in, file)

    assert response.status_code == 400
    errors = response.context["form"].errors["file"]
    assert any(message in error for error in errors), errors
    assert re.search(
        r'<div class="errors" id="id_file_error" role="alert"><p>[^<]*' + re.escape(message), text(response)
    )
    assert not Batch.objects.exists()
    assert not BatchLine.objects.exists()


def test_more_lines_than_allowed_are_refused(signed_in, settings):
    settings.PORTAL_BATCH_MAX_LINES = 2

    response = upload(signed_in, csv_file(good_row(), good_row(), good_row()))

    assert response.status_code == 400
    assert "The file has more than 2 lines; split it." in response.context["form"].errors["file"]
    assert not Batch.objects.exists()
    assert not BatchLine.objects.exists()


def test_no_file_is_refused_next_to_the_file_field(signed_in):
    response = signed_in.post(UPLOAD_URL, {"target": str(default_target().pk)})

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == ["Choose a file to upload."]
    assert not Batch.objects.exists()


def test_a_target_the_user_may_not_use_is_refused_next_to_the_target_field(signed_in):
    elsewhere = make_target("elsewhere", account_id="999988887777")

    response = signed_in.post(UPLOAD_URL, {"target": str(elsewhere.pk), "file": csv_file(good_row())})

    assert response.status_code == 400
    assert response.context["form"].errors["target"] == ["You may not use this AWS target."]
    assert not Batch.objects.exists()


def test_a_file_larger_than_the_byte_limit_is_refused_without_being_kept(signed_in, settings):
    settings.PORTAL_BATCH_MAX_BYTES = 1024
    rows = [good_row(f"order-{n}", n) for n in range(100)]  # about 7 KB

    response = upload(signed_in, csv_file(*rows))

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The file is larger than 0 MB (PORTAL_BATCH_MAX_BYTES); split it."
    ]
    assert not Batch.objects.exists()
    assert not BatchLine.objects.exists()


def test_the_upload_checks_the_csrf_token_itself(db):
    operator = make_operator("olivia")
    client = sign_in(Client(enforce_csrf_checks=True), operator)

    refused = upload(client, csv_file(good_row()))

    assert refused.status_code == 403
    assert not Batch.objects.exists()
    token = client.get(UPLOAD_URL).context["csrf_token"]
    accepted = upload(client, csv_file(good_row()), csrfmiddlewaretoken=str(token))
    assert accepted.status_code == 302
    assert Batch.objects.count() == 1


# --- the report --------------------------------------------------------------------------------------


def test_the_report_counts_the_lines_and_lists_each_invalid_ones_member_and_message(signed_in):
    batch = checked_batch(signed_in, good_row(), bad_row(), good_row("order-2", 2))

    page = text(signed_in.get(f"/batches/{batch.pk}/"))

    assert '<strong id="valid-lines">2</strong> valid' in page
    assert '<strong id="invalid-lines">1</strong> invalid' in page
    row = re.search(r"<tr><td>3</td><td><code>eventType</code></td><td class=\"report-error\">([^<]+)</td></tr>", page)
    assert row
    assert row.group(1).startswith("must be one of scn.data.forecast")
    assert "Skip the 1 invalid line and send the 2 valid ones" in page
    assert f'href="{UPLOAD_URL}"' in page  # upload a corrected file
    assert f'action="/batches/{batch.pk}/discard/"' in page


def test_the_report_shows_a_hundred_invalid_lines_a_page(signed_in):
    batch = checked_batch(signed_in, *[bad_row() for _ in range(105)])

    first = signed_in.get(f"/batches/{batch.pk}/")
    second = signed_in.get(f"/batches/{batch.pk}/?page=2")

    numbers = [[line.number for line in response.context["report"]] for response in (first, second)]
    assert numbers == [list(range(2, 102)), list(range(102, 107))]
    assert 'href="?page=2"' in text(first)


def test_the_report_exports_as_csv_one_row_per_error(signed_in):
    batch = checked_batch(signed_in, good_row(), bad_row(), f"{INSTANCE},scn.data.inboundorder,,")

    response = signed_in.get(f"/batches/{batch.pk}/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="batch-{batch.pk}-report.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["line", "member", "message"]
    assert [row[:2] for row in rows[1:]] == [["3", "eventType"], ["4", "data"], ["4", "eventGroupId"]]
    assert rows[2][2] == "is required"


# --- submitting -------------------------------------------------------------------------------------


def test_submit_is_refused_while_lines_are_invalid_unless_they_are_skipped(signed_in, published):
    batch = checked_batch(signed_in, good_row(), bad_row())

    refused = signed_in.post(f"/batches/{batch.pk}/submit/", follow=True)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.DRAFT
    assert any("1 line(s) break the operation's rules" in m for m in messages_of(refused))
    skipped = signed_in.post(f"/batches/{batch.pk}/submit/", {"skip_invalid": "on"}, follow=True)
    batch.refresh_from_db()
    assert (batch.status, batch.skip_invalid) == (BatchStatus.RECORDING, True)
    assert any("Submitted" in m for m in messages_of(skipped))
    assert batches.record(batch.pk) == 1
    assert AwsRequest.objects.get(batch=batch).batch_line == 2


def test_a_valid_batch_is_submitted_whole_and_its_page_shows_its_progress(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1), good_row("b", 2))

    assert batch.status == BatchStatus.RUNNING
    page = text(signed_in.get(f"/batches/{batch.pk}/"))
    assert '<strong id="finished-count">0</strong> of <strong id="total-count">2</strong>' in page
    assert '<progress id="batch-bar" value="0" max="2"' in page
    assert '<strong data-status="queued">2</strong>' in page
    assert f'action="/batches/{batch.pk}/pause/"' in page
    assert "Cancel the rest of this batch" in page


def test_only_the_uploader_submits_or_discards(signed_in, client, published):
    batch = checked_batch(signed_in, good_row())
    approver = make_user("alex", groups=(APPROVERS,))
    other = sign_in(Client(), approver)

    assert other.post(f"/batches/{batch.pk}/submit/").status_code == 403
    assert other.post(f"/batches/{batch.pk}/discard/").status_code == 403
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DRAFT
    signed_in.post(f"/batches/{batch.pk}/discard/")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DISCARDED
    assert not batch.file_lines.exists()


# --- steering ---------------------------------------------------------------------------------------


def test_the_owner_pauses_and_resumes_and_a_paused_batch_sends_nothing_more(signed_in, published):
    batch = running_batch(signed_in, *[good_row(f"g{n}", n) for n in range(3)])
    sent = len(published)

    signed_in.post(f"/batches/{batch.pk}/pause/")
    AwsRequest.objects.filter(batch=batch).update(enqueued_at=None)  # as if the broker lost them
    batches.feed()

    batch.refresh_from_db()
    assert batch.status == BatchStatus.PAUSED
    assert len(published) == sent
    page = text(signed_in.get(f"/batches/{batch.pk}/"))
    assert f'action="/batches/{batch.pk}/resume/"' in page
    assert f'action="/batches/{batch.pk}/pause/"' not in page
    signed_in.post(f"/batches/{batch.pk}/resume/")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    assert len(published) > sent


def test_an_operator_who_did_not_upload_it_neither_sees_nor_steers_a_batch(signed_in, published):
    batch = running_batch(signed_in, good_row())
    other = sign_in(Client(), make_operator("otto"))

    assert other.get(f"/batches/{batch.pk}/").status_code == 404
    assert other.post(f"/batches/{batch.pk}/pause/").status_code == 404
    assert other.get("/batches/").context["rows"] == []


def test_an_approver_sees_and_may_pause_someone_elses_batch_but_not_submit_it(signed_in, published):
    batch = running_batch(signed_in, good_row())
    approver = sign_in(Client(), make_user("alex", groups=(APPROVERS,)))

    page = text(approver.get(f"/batches/{batch.pk}/"))
    assert f'action="/batches/{batch.pk}/pause/"' in page
    approver.post(f"/batches/{batch.pk}/pause/")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PAUSED


def test_an_auditor_may_see_a_batch_but_not_steer_it(signed_in, published):
    batch = running_batch(signed_in, good_row())
    auditor = sign_in(Client(), make_user("audrey", groups=("Auditors",)))

    page = text(auditor.get(f"/batches/{batch.pk}/"))
    assert f'action="/batches/{batch.pk}/pause/"' not in page
    assert auditor.post(f"/batches/{batch.pk}/pause/").status_code == 403
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING


def test_cancel_takes_a_reason_and_cancels_every_request_not_sent(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1), good_row("b", 2))

    response = signed_in.post(f"/batches/{batch.pk}/cancel/", {"reason": "Wrong instance."}, follow=True)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLED
    assert set(AwsRequest.objects.filter(batch=batch).values_list("status", "cancel_reason")) == {
        (RequestStatus.CANCELLED, "Wrong instance.")
    }
    assert any("Cancelled: 2 request(s) will not be sent" in m for m in messages_of(response))


def test_what_cannot_be_done_now_is_said_on_the_page_not_a_500(signed_in, published):
    batch = running_batch(signed_in, good_row())

    response = signed_in.post(f"/batches/{batch.pk}/resume/", follow=True)

    assert response.status_code == 200
    assert f"Batch #{batch.pk}: This batch is running now; that cannot be done to it." in messages_of(response)
    too_long = signed_in.post(f"/batches/{batch.pk}/cancel/", {"reason": "x" * 2000}, follow=True)
    assert any("The reason is too long" in m for m in messages_of(too_long))


def test_an_unknown_action_is_a_404_and_actions_are_posts(signed_in, published):
    batch = checked_batch(signed_in, good_row())

    assert signed_in.post(f"/batches/{batch.pk}/explode/").status_code == 404
    assert signed_in.get(f"/batches/{batch.pk}/discard/").status_code == 405
    assert signed_in.post("/batches/999999/pause/").status_code == 404


def test_one_approval_decides_the_whole_batch_and_a_rejection_needs_a_reason(signed_in, published):
    ApprovalRule.objects.create(operation=EVENT.key, target=default_target())
    batch = running_batch(signed_in, good_row("a", 1), good_row("b", 2))
    assert batch.status == BatchStatus.AWAITING_APPROVAL
    assert "Approve and run" not in text(signed_in.get(f"/batches/{batch.pk}/"))  # nobody approves their own
    approver = sign_in(Client(), make_user("alex", groups=(APPROVERS,)))
    assert "Approve and run" in text(approver.get(f"/batches/{batch.pk}/"))

    unexplained = approver.post(f"/batches/{batch.pk}/reject/", {"reason": " "}, follow=True)

    assert f"Batch #{batch.pk}: Say why the batch is rejected." in messages_of(unexplained)
    approver.post(f"/batches/{batch.pk}/reject/", {"reason": "Not during the freeze."})
    batch.refresh_from_db()
    assert (batch.status, batch.decision_reason) == (BatchStatus.REJECTED, "Not during the freeze.")
    assert set(AwsRequest.objects.filter(batch=batch).values_list("status", flat=True)) == {RequestStatus.REJECTED}
    assert signed_in.post(f"/batches/{batch.pk}/approve/").status_code == 403


# --- the progress poll ------------------------------------------------------------------------------


def test_the_progress_poll_is_the_live_part_and_stops_with_286_once_the_batch_is_final(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1), good_row("b", 2))
    url = f"/batches/{batch.pk}/progress/"

    polled = signed_in.get(url, headers=HTMX)

    assert polled.status_code == 200
    assert "HX-Request" in polled["Vary"]
    assert text(polled).strip().startswith('<section id="batch-live"')
    assert "<html" not in polled.content.decode()
    assert f'hx-get="{url}"' in text(polled)
    AwsRequest.objects.filter(batch=batch).update(status=RequestStatus.SUCCEEDED)
    batches.feed()
    final = signed_in.get(url, headers=HTMX)
    assert final.status_code == HTMX_STOP_POLLING
    assert "Finished: every request has reached a final state." in text(final)
    assert "hx-get" not in text(final)
    assert '<strong id="finished-count">2</strong> of <strong id="total-count">2</strong>' in text(final)


def test_the_progress_url_without_htmx_is_the_batch_page(signed_in, published):
    batch = running_batch(signed_in, good_row())

    response = signed_in.get(f"/batches/{batch.pk}/progress/")

    assert response.status_code == 302
    assert response["Location"] == f"/batches/{batch.pk}/"
    assert "HX-Request" in response["Vary"]


def test_a_draft_is_not_polled(signed_in):
    batch = checked_batch(signed_in, good_row())

    response = signed_in.get(f"/batches/{batch.pk}/progress/", headers=HTMX)

    assert response.status_code == HTMX_STOP_POLLING
    assert "Report" in text(response)


def test_the_check_poll_shows_lines_checked_so_far(signed_in):
    upload(signed_in, csv_file(*[good_row(f"g{n}", n) for n in range(3)]))
    batch = Batch.objects.get()
    Batch.objects.filter(pk=batch.pk).update(checked_lines=2)

    response = signed_in.get(f"/batches/{batch.pk}/progress/", headers=HTMX)

    assert response.status_code == 200
    assert "Checked 2 of 3 lines" in text(response)
    assert '<progress id="check-bar" value="2" max="3"' in text(response)


# --- failures -------------------------------------------------------------------------------------


def test_a_failure_holding_its_group_is_shown_with_release_and_retry(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1), good_row("a", 2))
    first, _second = AwsRequest.objects.filter(batch=batch).order_by("pk")
    AwsRequest.objects.filter(pk=first.pk).update(
        status=RequestStatus.FAILED, error_code="ValidationException", error_message="Bad data."
    )

    page = text(signed_in.get(f"/batches/{batch.pk}/"))

    row = re.search(rf'<tr id="failure-{first.pk}">.*?</tr>', page)
    assert row, page
    assert f'<a href="/requests/{first.pk}/">#{first.pk}</a>' in row.group(0)
    assert "<strong>ValidationException</strong> Bad data." in row.group(0)
    assert "Holds its group" in row.group(0)
    assert f'action="/requests/{first.pk}/group/release/"' in row.group(0)
    assert f'action="/requests/{first.pk}/group/retry/"' in row.group(0)
    response = signed_in.post(f"/requests/{first.pk}/group/release/", follow=True)
    assert response.redirect_chain[-1][0] == f"/batches/{batch.pk}/"
    first.refresh_from_db()
    assert first.order_released
    assert "Released" in text(signed_in.get(f"/batches/{batch.pk}/"))


def _failed(batch: Batch, attempted: bool) -> AwsRequest:
    """The batch's request, failed after a server error (with the attempt that met it, if ``attempted``)."""
    failed = AwsRequest.objects.get(batch=batch)
    AwsRequest.objects.filter(pk=failed.pk).update(
        status=RequestStatus.FAILED, error_code="InternalServerException", error_message="Gave up after 5 attempts"
    )
    if attempted:
        Attempt.objects.create(
            request=failed, number=1, started_at=timezone.now(), finished_at=timezone.now(), http_status=500,
            outcome=AttemptOutcome.FAILED, error_code="InternalServerException", client_token=failed.client_token,
        )  # fmt: skip
    return failed


def test_a_failed_request_is_retried_from_its_batch_page_with_its_client_token(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1))
    failed = _failed(batch, attempted=True)

    response = signed_in.post(f"/requests/{failed.pk}/group/retry/", follow=True)

    retried = AwsRequest.objects.get(pk=failed.pk)
    assert retried.status != RequestStatus.FAILED, messages_of(response)
    assert retried.client_token == failed.client_token
    assert any("runs again, with the same client token" in m for m in messages_of(response))


def test_a_retry_the_client_token_cannot_protect_is_refused_with_a_message(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1))
    failed = _failed(batch, attempted=False)  # AWS never saw its token: a new one could duplicate the event

    response = signed_in.post(f"/requests/{failed.pk}/group/retry/", follow=True)

    assert response.status_code == 200
    assert any(m.startswith(f"Request #{failed.pk}: Not retried:") for m in messages_of(response))
    assert AwsRequest.objects.get(pk=failed.pk).status == RequestStatus.FAILED


def test_retrying_a_request_that_is_not_failed_is_said_on_the_page_not_a_500(signed_in, published):
    """Two people on one batch page: one retried the failure, the other's Retry comes second."""
    batch = running_batch(signed_in, good_row("a", 1))
    succeeded = AwsRequest.objects.get(batch=batch)
    AwsRequest.objects.filter(pk=succeeded.pk).update(status=RequestStatus.SUCCEEDED)

    response = signed_in.post(f"/requests/{succeeded.pk}/group/retry/", follow=True)

    assert response.status_code == 200
    assert any(
        m.startswith(f"Request #{succeeded.pk}:") and "only a failed request" in m for m in messages_of(response)
    )


def test_someone_who_may_not_steer_the_batch_may_not_release_its_groups(signed_in, published):
    batch = running_batch(signed_in, good_row("a", 1))
    failed = AwsRequest.objects.get(batch=batch)
    AwsRequest.objects.filter(pk=failed.pk).update(status=RequestStatus.FAILED)
    auditor = sign_in(Client(), make_user("audrey", groups=("Auditors",)))

    assert auditor.post(f"/requests/{failed.pk}/group/release/").status_code == 403
    assert auditor.post(f"/requests/{failed.pk}/group/explode/").status_code == 404
    failed.refresh_from_db()
    assert not failed.order_released


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_the_users_batches_newest_first_with_their_counts(signed_in):
    first = checked_batch(signed_in, good_row(), bad_row())
    upload(signed_in, csv_file(good_row()))
    second = Batch.objects.exclude(pk=first.pk).get()

    response = signed_in.get("/batches/")

    assert [batch for batch, _ in response.context["rows"]] == [second, first]
    page = text(response)
    assert re.search(
        rf'<a href="/batches/{first.pk}/">#{first.pk}</a>.*?Checked, not submitted.*?<td>2</td><td>1</td>', page
    )
    assert f'href="{UPLOAD_URL}"' in page
