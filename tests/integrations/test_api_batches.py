"""The batch API: upload a file of events, read its report, submit, follow and steer it, as a script.

In this process, a worker's steps (checking the lines, recording the requests) are run by calling
them where the worker would (``batches.check``, ``batches.record``), and what the feeder hands to
the broker is recorded instead (``published``). The last test runs the whole of it against a real
worker, beat and the sandbox.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from integrations import batches, uploads
from integrations.api import batches as batch_api
from integrations.api.tokens import create_token
from integrations.models import ApprovalRule, AwsRequest, Batch, BatchLine, BatchStatus, RequestStatus
from integrations.permissions import APPROVERS, AUDITORS
from tests.factories import default_target, make_operator, make_request, make_target, make_user
from tests.integrations.conftest import wait_for

EVENT = "supplychain/SendDataIntegrationEvent"
UPLOAD = f"/api/operations/{EVENT}/batches/"
INSTANCE = "2b2b2b2b-1111-2222-3333-444444444444"
COLUMNS = ["instanceId", "eventType", "data", "eventGroupId", "eventTimestamp"]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Users are made in every test; the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Api:
    """A client that calls the API as one user, with their token."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self.headers = {"Authorization": f"Token {create_token(user).key}"}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(path, params or {}, headers=self.headers)

    def post(self, path: str, body: object | None = None):
        return self.client.post(path, json.dumps(body or {}), content_type="application/json", headers=self.headers)

    def upload(self, content: bytes, file_name: str = "events.csv", target: str = "sandbox", **fields: str):
        data = {"file": SimpleUploadedFile(file_name, content), "target": target, **fields}
        return self.client.post(UPLOAD, data, headers=self.headers)

    def act(self, batch_id: int, action: str, body: dict | None = None):
        return self.post(f"/api/batches/{batch_id}/{action}/", body)


@pytest.fixture
def operator(db):
    return make_operator("operator")


@pytest.fixture
def api(client, operator) -> Api:
    return Api(client, operator)


@pytest.fixture
def auditor_api(client, db) -> Api:
    return Api(client, make_user("auditor", groups=(AUDITORS,)))


@pytest.fixture
def approver_api(client, db) -> Api:
    default_target()
    return Api(client, make_user("approver", groups=(APPROVERS,)))


def event_row(group: str = "order-1", event_type: str = "scn.data.inboundorder", **overrides: str) -> dict:
    row = {
        "instanceId": INSTANCE,
        "eventType": event_type,
        "data": json.dumps({"order_id": group, "qty": 3}),
        "eventGroupId": group,
        "eventTimestamp": "2026-01-31T14:30:00Z",
    }
    row.update(overrides)
    return row


def csv_file(rows: list[dict], columns: list[str] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def good_rows(count: int = 3, groups: int = 3) -> list[dict]:
    return [event_row(group=f"order-{n % groups}", data=json.dumps({"line": n})) for n in range(count)]


BAD_LINES = [event_row(event_type="scn.data.nothing"), event_row(eventGroupId="")]


def uploaded(api: Api, rows: list[dict]) -> dict:
    """Upload ``rows`` as CSV and check them as the worker does; the batch as the API reads it then."""
    response = api.upload(csv_file(rows))
    assert response.status_code == 201, response.content
    batches.check(response.json()["id"])
    return api.get(response["Location"]).json()


def running(api: Api, published: list[int], rows: list[dict] | None = None) -> dict:
    """A batch submitted and recorded (as the worker records it): running, its first requests sent."""
    batch = uploaded(api, rows or good_rows())
    assert api.act(batch["id"], "submit").status_code == 200
    batches.record(batch["id"])
    return api.get(f"/api/batches/{batch['id']}/").json()


# --- upload ------------------------------------------------------------------------------------------


def test_an_uploaded_file_becomes_a_batch_being_checked_and_nothing_is_recorded(api, operator):
    response = api.upload(csv_file([*good_rows(2), *BAD_LINES]))

    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get()
    assert response["Location"] == f"http://testserver/api/batches/{batch.pk}/"
    assert (body["id"], body["status"], body["lines"], body["checked_lines"]) == (batch.pk, "checking", 4, 0)
    assert (body["operation"], body["target"], body["created_by"]) == (EVENT, "sandbox", "operator")
    assert (body["file_name"], body["file_format"]) == ("events.csv", "csv")
    assert body["links"] == {
        "report": f"http://testserver/api/batches/{batch.pk}/report/",
        "failures": f"http://testserver/api/batches/{batch.pk}/failures/",
        "page": f"http://testserver/batches/{batch.pk}/",
        "requests": f"http://testserver/api/requests/?batch={batch.pk}",
    }
    assert body["progress"]["total"] == 0
    assert batch.created_by == operator
    assert BatchLine.objects.filter(batch=batch).count() == 4
    assert not AwsRequest.objects.exists()


def test_once_checked_the_report_names_each_invalid_line_and_member(api):
    batch = uploaded(api, [*good_rows(2), *BAD_LINES])

    assert (batch["status"], batch["checked_lines"], batch["invalid_lines"]) == ("draft", 4, 2)
    report = api.get(batch["links"]["report"])
    assert report.status_code == 200
    lines = report.json()["results"]
    # The header is line 1: the bad events are lines 4 and 5.
    assert [line["line"] for line in lines] == [4, 5]
    assert [e["member"] for e in lines[0]["errors"]] == ["eventType"]
    assert lines[0]["errors"][0]["message"].startswith("must be one of ")
    assert lines[1]["errors"] == [{"member": "eventGroupId", "message": "is required"}]


def test_the_report_is_paged_by_a_cursor(api, monkeypatch):
    monkeypatch.setattr(batch_api.ByLine, "page_size", 2)
    batch = uploaded(api, [event_row(eventGroupId="") for _ in range(3)])

    first = api.get(batch["links"]["report"]).json()
    second = api.get(first["next"]).json()

    assert [line["line"] for line in first["results"]] == [2, 3]
    assert [line["line"] for line in second["results"]] == [4]
    assert second["next"] is None
    refused = api.get(batch["links"]["report"], {"cursor": "not-a-cursor"})
    assert refused.status_code == 400
    assert refused.json() == {"cursor": ["Not a cursor of this API: follow the next and previous links as they are."]}


def test_json_lines_are_read_by_the_declared_format(api):
    text = "\n".join(json.dumps({**event_row(group=f"g{n}"), "eventTimestamp": 1769869800}) for n in range(2))

    response = api.upload(text.encode(), file_name="export.txt", format="jsonl")

    assert response.status_code == 201, response.content
    assert (response.json()["file_format"], response.json()["lines"]) == ("jsonl", 2)
    batches.check(response.json()["id"])
    assert api.get(response["Location"]).json()["invalid_lines"] == 0


def test_a_file_larger_than_allowed_is_refused_on_its_file_field(api, settings):
    settings.PORTAL_BATCH_MAX_BYTES = 1000

    response = api.upload(csv_file(good_rows(40)))

    assert response.status_code == 400
    assert response.json() == {"errors": {"file": [uploads.too_large_message()]}}
    assert not Batch.objects.exists()


def test_a_signed_in_page_uploading_too_large_a_file_is_told_so_after_its_csrf_check(operator, settings):
    """The session's CSRF check reads the body while authenticating: the limit is in place by then."""
    settings.PORTAL_BATCH_MAX_BYTES = 1000
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    secret = "s" * 32
    browser.cookies["csrftoken"] = secret
    data = {"file": SimpleUploadedFile("events.csv", csv_file(good_rows(40))), "target": "sandbox"}

    without_token = browser.post(UPLOAD, data)
    data["file"].seek(0)
    too_large = browser.post(UPLOAD, data, headers={"X-CSRFToken": secret})

    assert without_token.status_code == 403
    assert (too_large.status_code, too_large.json()) == (400, {"errors": {"file": [uploads.too_large_message()]}})
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    ("file_name", "fields", "field", "words"),
    [
        ("events.txt", {}, "file", "Upload a .csv file or a JSON-lines file"),
        ("events.csv", {"format": "xml"}, "format", "not a valid choice"),
    ],
)
def test_a_file_of_no_known_format_is_refused(api, file_name, fields, field, words):
    response = api.upload(csv_file(good_rows(1)), file_name=file_name, **fields)

    assert response.status_code == 400
    [message] = response.json()["errors"][field]
    assert words in message
    assert not Batch.objects.exists()


def test_an_unknown_column_is_refused_with_the_members_named(api):
    response = api.upload(csv_file([{**event_row(), "colour": "blue"}], [*COLUMNS, "colour"]))

    assert response.status_code == 400
    [message] = response.json()["errors"]["file"]
    assert message.startswith("Unknown column(s): colour. The columns are the operation's members: ")
    assert "eventGroupId" in message
    assert not Batch.objects.exists()


def test_a_post_without_a_file_or_a_target_is_refused_per_field(api):
    response = api.client.post(UPLOAD, {}, headers=api.headers)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"file", "target"}


def test_an_operation_that_takes_no_files_is_not_found(api):
    response = api.client.post(
        "/api/operations/appfabric/CreateIngestion/batches/",
        {"file": SimpleUploadedFile("a.csv", b"app\nSLACK\n"), "target": "sandbox"},
        headers=api.headers,
    )

    assert response.status_code == 404
    assert not Batch.objects.exists()


def test_an_operation_the_user_may_not_run_is_forbidden(auditor_api):
    default_target()

    assert auditor_api.upload(csv_file(good_rows(1))).status_code == 403
    assert not Batch.objects.exists()


@pytest.mark.parametrize("target", ["nowhere", "elsewhere"])
def test_a_target_the_user_may_not_use_is_forbidden(api, target):
    make_target("elsewhere")  # exists, but the operator is given no right to it

    response = api.upload(csv_file(good_rows(1)), target=target)

    assert response.status_code == 403
    assert not Batch.objects.exists()


# --- reading -----------------------------------------------------------------------------------------


def test_the_list_holds_ones_own_batches_newest_first(api, client):
    older = uploaded(api, good_rows(1))
    newer = uploaded(api, good_rows(1))
    uploaded(Api(client, make_operator("someone-else")), good_rows(1))

    response = api.get("/api/batches/")

    assert response.status_code == 200
    assert [b["id"] for b in response.json()["results"]] == [newer["id"], older["id"]]


def test_an_auditor_sees_every_batch(api, auditor_api):
    batch = uploaded(api, good_rows(1))

    assert [b["id"] for b in auditor_api.get("/api/batches/").json()["results"]] == [batch["id"]]
    assert auditor_api.get(f"/api/batches/{batch['id']}/").status_code == 200


@pytest.mark.parametrize("path", ["", "report/", "failures/"])
def test_someone_elses_batch_is_not_found(api, client, path):
    theirs = uploaded(Api(client, make_operator("someone-else")), good_rows(1))

    assert api.get(f"/api/batches/{theirs['id']}/{path}").status_code == 404
    assert api.act(theirs["id"], "discard").status_code == 404
    assert api.get(f"/api/batches/999999/{path}").status_code == 404
    assert Batch.objects.get(pk=theirs["id"]).status == BatchStatus.DRAFT


def test_an_unauthenticated_call_answers_401(client, db):
    assert client.get("/api/batches/").status_code == 401
    assert client.post(UPLOAD, {"target": "sandbox"}).status_code == 401


# --- submitting and steering -------------------------------------------------------------------------


def test_a_batch_with_invalid_lines_is_submitted_only_when_skipping_them(api, published):
    batch = uploaded(api, [*good_rows(2), *BAD_LINES])

    refused = api.act(batch["id"], "submit")
    assert refused.status_code == 409
    [message] = refused.json()["errors"]["batch"]
    assert "2 line(s) break the operation's rules" in message

    accepted = api.act(batch["id"], "submit", {"skip_invalid": True})
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["skip_invalid"]) == ("recording", True)
    assert batches.record(batch["id"]) == 2
    recorded = list(AwsRequest.objects.order_by("pk"))
    assert [r.batch_line for r in recorded] == [2, 3]
    assert sorted(published) == [r.pk for r in recorded]
    body = api.get(f"/api/batches/{batch['id']}/").json()
    assert (body["status"], body["requests_recorded"]) == ("running", 2)
    assert body["progress"]["total"] == 2
    # The report still holds the invalid lines after the valid ones became requests.
    assert [line["line"] for line in api.get(batch["links"]["report"]).json()["results"]] == [4, 5]


def test_a_request_of_a_batch_names_its_batch_and_line(api, operator, published):
    batch = running(api, published)
    first = AwsRequest.objects.order_by("pk").first()
    alone = make_request(user=operator)

    body = api.get(f"/api/requests/{first.pk}/").json()

    assert body["batch"] == {"id": batch["id"], "url": f"http://testserver/api/batches/{batch['id']}/"}
    assert body["batch_line"] == 2
    alone_body = api.get(f"/api/requests/{alone.pk}/").json()
    assert (alone_body["batch"], alone_body["batch_line"]) == (None, None)


def test_the_requests_link_lists_the_batchs_requests_only(api, operator, published):
    batch = running(api, published, good_rows(2))
    make_request(user=operator)  # one of the operator's own, outside the batch

    listed = api.get(batch["links"]["requests"]).json()["results"]

    assert sorted(r["id"] for r in listed) == sorted(
        AwsRequest.objects.filter(batch_id=batch["id"]).values_list("pk", flat=True)
    )


def test_the_owner_pauses_resumes_and_cancels_the_rest(api, published):
    batch = running(api, published, good_rows(4, groups=1))  # one group: one request sent at a time

    paused = api.act(batch["id"], "pause")
    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    assert paused.json()["paused_at"] is not None
    again = api.act(batch["id"], "pause")
    assert again.status_code == 409
    assert again.json()["errors"]["batch"] == ["This batch is paused now; that cannot be done to it."]

    published.clear()
    resumed = api.act(batch["id"], "resume")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "running")

    cancelled = api.act(batch["id"], "cancel", {"reason": "Wrong instance."})
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    requests = AwsRequest.objects.filter(batch_id=batch["id"])
    assert set(requests.values_list("status", flat=True)) == {RequestStatus.CANCELLED}
    assert set(requests.values_list("cancel_reason", flat=True)) == {"Wrong instance."}
    assert cancelled.json()["progress"]["counts"] == {"cancelled": 4}


def test_a_checked_batch_is_discarded_with_its_lines(api):
    batch = uploaded(api, good_rows(2))

    response = api.act(batch["id"], "discard")

    assert (response.status_code, response.json()["status"]) == (200, "discarded")
    assert not BatchLine.objects.exists()
    assert api.act(batch["id"], "submit").status_code == 409


def test_one_who_may_see_a_batch_but_not_steer_it_is_forbidden(api, auditor_api, published):
    draft = uploaded(api, good_rows(1))
    batch = running(api, published)

    assert auditor_api.act(draft["id"], "submit").status_code == 403
    assert auditor_api.act(batch["id"], "pause").status_code == 403
    assert Batch.objects.get(pk=batch["id"]).status == BatchStatus.RUNNING


def test_an_unknown_action_is_not_found(api):
    batch = uploaded(api, good_rows(1))

    assert api.act(batch["id"], "explode").status_code == 404
    assert Batch.objects.get(pk=batch["id"]).status == BatchStatus.DRAFT


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"reason": "x" * 1001}, "too long"),
        ({"reason": "bad \x00 byte"}, "Null characters are not allowed."),
    ],
)
def test_a_reason_that_cannot_be_kept_is_a_400_and_cancels_nothing(api, published, body, words):
    batch = running(api, published)

    response = api.act(batch["id"], "cancel", body)

    assert response.status_code == 400
    [message] = response.json()["errors"]["reason"]
    assert words in message
    assert Batch.objects.get(pk=batch["id"]).status == BatchStatus.RUNNING


def test_one_decision_approves_a_whole_batch(api, approver_api, published):
    ApprovalRule.objects.create(operation=EVENT)
    batch = running(api, published)
    assert batch["status"] == "awaiting_approval"
    assert not published

    assert api.act(batch["id"], "approve").status_code == 403  # nobody approves their own batch
    no_reason = approver_api.act(batch["id"], "reject")
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"]["reason"] == ["Say why the batch is rejected."]

    approved = approver_api.act(batch["id"], "approve", {"reason": "Checked with the buyer."})

    assert (approved.status_code, approved.json()["status"]) == (200, "running")
    decision = approved.json()["decision"]
    assert (decision["approved"], decision["decided_by"], decision["reason"]) == (
        True,
        "approver",
        "Checked with the buyer.",
    )
    assert set(AwsRequest.objects.values_list("status", flat=True)) == {RequestStatus.QUEUED}
    assert approver_api.act(batch["id"], "reject", {"reason": "Too late."}).status_code == 409


def test_a_rejected_batch_says_who_and_why(api, approver_api, published):
    ApprovalRule.objects.create(operation=EVENT)
    batch = running(api, published)

    rejected = approver_api.act(batch["id"], "reject", {"reason": "Not this quarter."})

    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert rejected.json()["decision"]["approved"] is False
    assert set(AwsRequest.objects.values_list("status", flat=True)) == {RequestStatus.REJECTED}


# --- failures and their groups -----------------------------------------------------------------------


def failed(batch_id: int, line: int) -> AwsRequest:
    """What a worker's permanent failure leaves (the pipeline's own tests cover how it gets there)."""
    AwsRequest.objects.filter(batch_id=batch_id, batch_line=line).update(
        status=RequestStatus.FAILED, error_code="ValidationException", error_message="Bad data"
    )
    return AwsRequest.objects.get(batch_id=batch_id, batch_line=line)


def test_a_failed_request_holds_its_group_until_its_owner_releases_it(api, published):
    batch = running(api, published, good_rows(3, groups=1))
    held = failed(batch["id"], 2)

    [failure] = api.get(batch["links"]["failures"]).json()["results"]
    assert failure == {
        "id": held.pk,
        "url": f"http://testserver/api/requests/{held.pk}/",
        "line": 2,
        "error_code": "ValidationException",
        "error_message": "Bad data",
        "holds_group": True,
    }
    assert api.get(f"/api/batches/{batch['id']}/").json()["progress"]["held"] == 1

    released = api.post(f"/api/requests/{held.pk}/group/release/")

    assert released.status_code == 200
    assert released.json()["id"] == held.pk
    assert "Group released" in released.json()["error_message"]
    assert api.get(batch["links"]["failures"]).json()["results"][0]["holds_group"] is False
    again = api.post(f"/api/requests/{held.pk}/group/release/")
    assert again.status_code == 409
    assert "released already" in again.json()["errors"]["batch"][0]


def test_a_failed_request_is_retried_in_its_place_with_its_client_token(api, published):
    batch = running(api, published, good_rows(2, groups=1))
    held = failed(batch["id"], 2)

    retried = api.post(f"/api/requests/{held.pk}/group/retry/")

    assert retried.status_code == 200, retried.content
    assert retried.json()["status"] in (RequestStatus.QUEUED, RequestStatus.RETRYING)
    assert retried.json()["client_token"] == held.client_token
    assert api.post(f"/api/requests/{held.pk}/group/retry/").status_code == 409


def test_group_actions_refuse_what_the_caller_may_not_do(api, auditor_api, client, published):
    batch = running(api, published, good_rows(2, groups=1))
    held = failed(batch["id"], 2)
    others = Api(client, make_operator("someone-else"))

    assert others.post(f"/api/requests/{held.pk}/group/release/").status_code == 404
    assert auditor_api.post(f"/api/requests/{held.pk}/group/release/").status_code == 403
    assert api.post(f"/api/requests/{held.pk}/group/explode/").status_code == 404
    assert AwsRequest.objects.get(pk=held.pk).order_released is False


# --- the whole of it, with a real worker ---------------------------------------------------------------


def creates(sandbox) -> list[dict]:
    return [call for call in sandbox.state.calls if call["operation"] == EVENT]


def checked_by_the_worker(api: Api, location: str) -> dict:
    """The batch once the worker has checked every line (a draft)."""

    def draft() -> dict | None:
        batch = api.get(location).json()
        return batch if batch["status"] == "draft" else None

    return wait_for(draft, message="the worker to check the file")


@pytest.mark.django_db(transaction=True)
def test_a_script_uploads_fixes_submits_pauses_and_resumes_a_batch(client, worker, sandbox):
    api = Api(client, make_operator("scripted"))
    # Each call takes a while, so that the batch is still running when it is paused.
    sandbox.state.add_fault({"operation": EVENT, "fault": {"kind": "latency", "latency_ms": 250}})
    rows = good_rows(12, groups=4)

    # A file with bad lines: the worker checks it; the report says which and why.
    first = api.upload(csv_file([*rows[:6], *BAD_LINES, *rows[6:]]))
    assert first.status_code == 201, first.content
    checked = checked_by_the_worker(api, first["Location"])
    assert checked["invalid_lines"] == 2
    report = api.get(checked["links"]["report"]).json()["results"]
    assert [line["line"] for line in report] == [8, 9]

    # The fixed file: checked clean, submitted whole.
    fixed = api.upload(csv_file(rows))
    batch = checked_by_the_worker(api, fixed["Location"])
    assert batch["invalid_lines"] == 0
    assert api.act(batch["id"], "submit").status_code == 200
    detail = f"/api/batches/{batch['id']}/"

    def progress() -> dict:
        return api.get(detail).json()["progress"]

    wait_for(lambda: progress()["finished"] >= 1, message="the batch to advance")
    paused = api.act(batch["id"], "pause")
    assert paused.status_code == 200, paused.content
    # What was running when it paused finishes; then nothing more is sent.
    wait_for(lambda: not progress()["counts"].get("running"), message="the running calls to finish")
    sent = len(creates(sandbox))
    assert sent < len(rows)
    # A single request runs meanwhile, through the same worker: time passes, the batch stays put.
    single = api.post(
        "/api/operations/supplychain/SendDataIntegrationEvent/requests/",
        {"target": "sandbox", "parameters": {**event_row(group="single"), "eventTimestamp": 1769869800}},
    )
    assert single.status_code == 201, single.content
    wait_for(lambda: AwsRequest.objects.get(pk=single.json()["id"]).is_finished, message="the single request")
    assert len(creates(sandbox)) == sent + 1
    assert progress()["finished"] == sent

    assert api.act(batch["id"], "resume").status_code == 200
    wait_for(lambda: progress()["finished"] == len(rows), timeout=60, message="every line to finish")

    final = api.get(detail).json()
    assert final["progress"]["counts"] == {"succeeded": len(rows)}
    assert api.get(final["links"]["failures"]).json()["results"] == []
    tokens = [c["client_token"] for c in creates(sandbox)]
    assert len(tokens) == len(set(tokens)) == len(rows) + 1
    # Beat's feeder marks it finished once every request is final.
    wait_for(lambda: api.get(detail).json()["status"] == "finished", message="the batch to be finished")
