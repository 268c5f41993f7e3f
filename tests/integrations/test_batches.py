"""Batches in-process (integrations/batches.py): upload, check, submit, record, feed, and the
owner's controls, each function called directly; the broker is the boundary (``sent``)."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from awsmodel.timestamps import parse_timestamp
from integrations import batches, ordering, pipeline
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
from integrations.permissions import APPROVERS, OPERATORS
from integrations.tasks import execute_request
from operations import get_operation
from operations.checks import check_parameters
from tests.factories import default_target, make_operator, make_target, make_user

OPERATION = "supplychain/SendDataIntegrationEvent"
INSTANCE = "8f0e6b1a-1111-4222-8333-444455556666"
B = BatchStatus
S = RequestStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sent(monkeypatch, settings):
    """What the batch code hands to the broker, as (request id, queue), instead of sending it."""
    settings.PORTAL_BULK_IN_FLIGHT = 32
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # quick users
    published: list[tuple[int, str | None]] = []
    monkeypatch.setattr(
        execute_request, "apply_async", lambda args, queue=None, **kw: published.append((args[0], queue))
    )
    return published


@pytest.fixture
def tasks(monkeypatch):
    """The batch tasks (check, record) the code asks for, as (task name, batch id)."""
    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(batches, "_send_task", lambda name, batch_id: asked.append((name, batch_id)))
    return asked


@pytest.fixture
def owner(db):
    return make_operator("owner")


@pytest.fixture
def approver(db):
    return make_user("approver", groups=(APPROVERS,))


def event(group: str = "order-1", n: int = 1, **overrides: object) -> dict:
    params: dict = {
        "instanceId": INSTANCE,
        "eventType": "scn.data.inboundorder",
        "eventGroupId": group,
        "data": json.dumps({"id": str(n)}),
        "eventTimestamp": "2026-01-31T14:30:00Z",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def jsonl(*documents: object) -> bytes:
    return "".join(json.dumps(d) + "\n" for d in documents).encode()


def upload(user, body: bytes, name: str = "events.jsonl", operation: str = OPERATION, target=None) -> Batch:
    return batches.upload(get_operation(operation), user, target or default_target(), io.BytesIO(body), name)


def checked(user, body: bytes, name: str = "events.jsonl") -> Batch:
    batch = upload(user, body, name)
    batches.check(batch.pk)
    batch.refresh_from_db()
    return batch


def recorded(user, *documents: object, skip_invalid: bool = False) -> Batch:
    """A batch of these lines, checked, submitted and recorded (it runs, or awaits approval)."""
    batch = checked(user, jsonl(*documents))
    batches.submit(batch, user, skip_invalid=skip_invalid)
    batches.record(batch.pk)
    batch.refresh_from_db()
    return batch


def lines(batch: Batch) -> list[tuple[int, str, list, bool | None]]:
    return [(line.number, line.raw, line.errors, line.valid) for line in BatchLine.objects.filter(batch=batch)]


def requests_of(batch: Batch) -> list[AwsRequest]:
    return list(AwsRequest.objects.filter(batch=batch).order_by("pk"))


def sent_ids(sent: list[tuple[int, str | None]]) -> list[int]:
    return [pk for pk, _ in sent]


# --- upload ------------------------------------------------------------------------------------------


class TestUpload:
    def test_a_json_lines_file_is_kept_line_by_line_with_its_numbers_to_be_checked(self, owner, tasks):
        batch = upload(owner, jsonl(event(n=1), event(n=2)))

        assert (batch.status, batch.lines, batch.file_format, batch.columns) == (B.CHECKING, 2, "jsonl", None)
        assert [(n, json.loads(raw), errors, valid) for n, raw, errors, valid in lines(batch)] == [
            (1, event(n=1), [], None),
            (2, event(n=2), [], None),
        ]
        assert (batch.created_by, batch.target, batch.account_id) == (owner, default_target(), "111122223333")

    def test_a_csv_file_keeps_its_header_as_the_columns_and_each_record_s_cells(self, owner):
        body = f'instanceId,eventType,eventGroupId,data\n{INSTANCE},scn.data.shipment,g1,"{{""id"": 1}}"\n'

        batch = upload(owner, body.encode(), "events.csv")

        assert (batch.file_format, batch.lines) == ("csv", 1)
        assert batch.columns == ["instanceId", "eventType", "eventGroupId", "data"]
        assert [(n, json.loads(raw)) for n, raw, _, _ in lines(batch)] == [
            (2, [INSTANCE, "scn.data.shipment", "g1", '{"id": 1}'])
        ]

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ("instanceId,bogus,eventType", "Unknown column(s): bogus"),
            ("instanceId,,eventType", "Unknown column(s): (empty)"),
            ("instanceId,clientToken", "Unknown column(s): clientToken"),
            ("instanceId,eventType,instanceId", "Column(s) named twice: instanceId"),
            ("datasetTarget,datasetTarget.operationType", "not both: datasetTarget.operationType"),
            ("datasetTarget.nothing", "Unknown column(s): datasetTarget.nothing"),
        ],
    )
    def test_a_csv_header_that_names_no_member_refuses_the_file_and_keeps_nothing(self, owner, header, message):
        with pytest.raises(batches.UploadError, match=message.replace("(", r"\(").replace(")", r"\)")):
            upload(owner, f"{header}\na,b,c\n".encode(), "events.csv")

        assert not Batch.objects.exists()
        assert not BatchLine.objects.exists()

    def test_a_utf8_byte_order_mark_is_not_part_of_the_first_line(self, owner):
        as_csv = upload(owner, b"\xef\xbb\xbfinstanceId,eventGroupId\nx,g\n", "events.csv")
        as_jsonl = upload(owner, b"\xef\xbb\xbf" + jsonl(event()))

        assert as_csv.columns == ["instanceId", "eventGroupId"]
        [(_, raw, errors, _)] = lines(as_jsonl)
        assert (json.loads(raw), errors) == (event(), [])

    def test_blank_lines_are_skipped_and_the_others_keep_their_numbers_in_the_file(self, owner):
        body = json.dumps(event(n=1)) + "\n\n   \r\n" + json.dumps(event(n=4)) + "\n\n"
        csv_body = "eventGroupId,instanceId\ng1,x\n\n,\ng4,y\n"

        as_jsonl = upload(owner, body.encode())
        as_csv = upload(owner, csv_body.encode(), "events.csv")

        assert [n for n, *_ in lines(as_jsonl)] == [1, 4]
        assert as_jsonl.lines == 2
        assert [n for n, *_ in lines(as_csv)] == [2, 5]

    def test_a_csv_record_with_a_multi_line_quoted_cell_is_numbered_by_its_first_line(self, owner):
        body = 'eventGroupId,data\ng1,"{\n""id"": 1\n}"\ng2,"{}"\n'

        batch = upload(owner, body.encode(), "events.csv")

        assert [(n, json.loads(raw)) for n, raw, _, _ in lines(batch)] == [
            (2, ["g1", '{\n"id": 1\n}']),
            (5, ["g2", "{}"]),
        ]

    def test_a_json_line_that_is_not_utf8_is_reported_as_such_and_the_others_are_kept(self, owner):
        body = jsonl(event(n=1)) + b'{"eventGroupId": "caf\xe9"}\n' + jsonl(event(n=3))

        batch = upload(owner, body)

        assert [(n, errors, valid) for n, _, errors, valid in lines(batch)] == [
            (1, [], None),
            (2, [{"member": "", "message": "is not UTF-8 text (byte 22)"}], False),
            (3, [], None),
        ]

    def test_a_csv_file_that_is_not_utf8_is_refused_naming_where(self, owner):
        body = b"eventGroupId,instanceId\ng1,x\ng2,caf\xe9\ng3,z\n"

        with pytest.raises(batches.UploadError, match="not UTF-8") as refused:
            upload(owner, body, "events.csv")

        # The bad byte is on line 3: the message points there (after line 2), not at the header.
        assert "line 2" in str(refused.value) or "line 3" in str(refused.value), str(refused.value)
        assert not Batch.objects.exists()

    def test_a_nul_character_is_kept_readably_and_the_line_is_invalid(self, owner):
        as_jsonl = checked(owner, b'{"eventGroupId": "a\x00b"}\n')
        as_csv = checked(owner, b"eventGroupId,instanceId\na\x00b,x\n", "events.csv")

        [(_, raw, errors, valid)] = lines(as_jsonl)
        assert "\x00" not in raw
        assert (errors, valid) == ([{"member": "", "message": "holds a NUL character, which cannot be sent"}], False)
        [line] = batches.report(as_csv)
        assert "\x00" not in line.raw
        [error] = line.errors
        assert error["member"] == "eventGroupId"
        assert "NUL" in error["message"]

    def test_a_line_longer_than_the_limit_is_refused_alone_without_being_read_whole(self, owner, monkeypatch):
        monkeypatch.setattr(batches, "MAX_LINE_BYTES", 100)
        long_line = json.dumps({"data": "x" * 300}).encode() + b"\n"
        body = jsonl({"n": 1}) + long_line + jsonl({"n": 3}) + b"y" * 250  # the last one has no newline

        batch = upload(owner, body)

        too_long = [{"member": "", "message": "is longer than 100 bytes"}]
        assert [(n, raw, errors) for n, raw, errors, _ in lines(batch)] == [
            (1, '{"n": 1}', []),
            (2, "", too_long),
            (3, '{"n": 3}', []),
            (4, "", too_long),
        ]

    def test_more_lines_than_allowed_refuses_the_file(self, owner, settings):
        settings.PORTAL_BATCH_MAX_LINES = 3

        assert upload(owner, jsonl({}, {}, {})).lines == 3
        with pytest.raises(batches.UploadError, match="more than 3 lines"):
            upload(owner, jsonl({}, {}, {}, {}))
        assert Batch.objects.count() == 1

    @pytest.mark.parametrize(
        ("body", "name", "message"),
        [
            (b"", "events.jsonl", "holds no lines"),
            (b"\n\n \n", "events.jsonl", "holds no lines"),
            (b"", "events.csv", "The file is empty"),
            (b"instanceId,eventGroupId\n", "events.csv", "holds no lines"),
            (b"instanceId,eventGroupId\n,\n", "events.csv", "holds no lines"),
        ],
    )
    def test_a_file_without_events_is_refused(self, owner, body, name, message):
        with pytest.raises(batches.UploadError, match=message):
            upload(owner, body, name)

        assert not Batch.objects.exists()

    def test_a_file_that_is_neither_csv_nor_json_lines_is_refused(self, owner):
        with pytest.raises(batches.UploadError, match=r"Upload a \.csv file"):
            upload(owner, b"{}", "events.xlsx")
        with pytest.raises(batches.UploadError, match="csv or jsonl"):
            batches.upload(get_operation(OPERATION), owner, default_target(), io.BytesIO(b"{}"), "e.csv", "xml")

    def test_an_invalid_csv_file_is_refused_naming_the_line(self, owner):
        with pytest.raises(batches.UploadError, match="not valid CSV at line 3"):
            upload(owner, b'eventGroupId,instanceId\ng1,x\ng2,"unclosed\n', "events.csv")

    def test_a_person_who_may_not_use_the_target_or_run_the_operation_is_refused(self, owner):
        elsewhere = make_target("elsewhere", account_id="999988887777")
        nobody = make_user("nobody")

        with pytest.raises(PermissionDenied):
            upload(owner, jsonl(event()), target=elsewhere)
        with pytest.raises(PermissionDenied):
            upload(nobody, jsonl(event()))
        assert not Batch.objects.exists()

    def test_an_operation_that_takes_no_files_refuses_one(self, owner):
        with pytest.raises(batches.UploadError, match="does not take uploaded files"):
            upload(owner, jsonl({}), operation="appfabric/CreateIngestion")

    def test_the_upload_asks_a_worker_to_check_it_once_committed(
        self, owner, tasks, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            batch = upload(owner, jsonl(event()))

        assert tasks == [("check_batch", batch.pk)]


# --- check -------------------------------------------------------------------------------------------


class TestCheck:
    def test_the_report_says_line_member_and_message_by_the_rules_of_the_form(self, owner):
        operation = get_operation(OPERATION)
        bad = [
            event(eventGroupId=None),
            event(instanceId="not-an-instance"),
            event(eventType="scn.data.nothing", data="[1, 2"),
            event(eventType="scn.data.dataset"),
            event(color="blue"),
        ]

        batch = checked(owner, jsonl(event(n=0), *bad))

        report = list(batches.report(batch))
        assert [line.number for line in report] == [2, 3, 4, 5, 6]
        for line, params in zip(report, bad, strict=True):
            expected = [
                {"member": v.dotted_path, "message": v.message}
                for v in check_parameters(operation, params, strict=True)
            ]
            assert expected, params
            assert line.errors == expected

    def test_a_line_that_is_not_a_json_object_says_why(self, owner):
        batch = checked(owner, b'{"eventGroupId": \n[1]\nNaN\n"text"\n')

        assert [(line.number, line.errors[0]["message"]) for line in batches.report(batch)] == [
            (1, "is not JSON: Expecting value at column 18"),
            (2, "must be a JSON object of the operation's members"),
            (3, "is not JSON: NaN is not JSON"),
            (4, "must be a JSON object of the operation's members"),
        ]

    def test_defaults_are_applied_as_the_form_applies_them(self, owner):
        before = timezone.now().replace(microsecond=0)

        batch = checked(owner, jsonl(event(eventTimestamp=None), event(n=2)))

        first, second = BatchLine.objects.filter(batch=batch)
        assert first.valid
        assert second.valid
        assert before <= parse_timestamp(first.parameters["eventTimestamp"]) <= timezone.now()
        assert second.parameters["eventTimestamp"] == "2026-01-31T14:30:00Z"

    def test_csv_cells_are_typed_by_their_member_and_nested_columns_make_a_structure(self, owner):
        arn = f"arn:aws:scn:us-east-1:111122223333:instance/{INSTANCE}/namespaces/default/datasets/orders"
        body = (
            "instanceId,eventType,eventGroupId,data,eventTimestamp,datasetTarget.datasetIdentifier,"
            "datasetTarget.operationType\n"
            f'{INSTANCE},scn.data.dataset,g1,"{{""id"": 1}}",2026-01-31T14:30:00Z,{arn},UPSERT\n'
            f'{INSTANCE},scn.data.shipment,g2,"[]",1767225600,,\n'
        )

        batch = checked(owner, body.encode(), "events.csv")

        first, second = BatchLine.objects.filter(batch=batch).order_by("number")
        assert (first.errors, second.errors) == ([], [])
        assert first.parameters == {
            "instanceId": INSTANCE,
            "eventType": "scn.data.dataset",
            "eventGroupId": "g1",
            "data": '{"id": 1}',
            "eventTimestamp": parse_timestamp("2026-01-31T14:30:00Z").isoformat(),
            "datasetTarget": {"datasetIdentifier": arn, "operationType": "UPSERT"},
        }
        assert second.parameters["eventTimestamp"] == parse_timestamp("1767225600").isoformat()
        assert "datasetTarget" not in second.parameters  # empty cells are members left out

    def test_a_json_cell_for_a_structure_is_read_and_an_unreadable_cell_is_reported_once(self, owner):
        arn = f"arn:aws:scn:us-east-1:111122223333:instance/{INSTANCE}/namespaces/default/datasets/orders"
        target = json.dumps({"datasetIdentifier": arn, "operationType": "DELETE"}).replace('"', '""')
        body = (
            "instanceId,eventType,eventGroupId,data,datasetTarget,eventTimestamp\n"
            f'{INSTANCE},scn.data.dataset,g1,"{{}}","{target}",\n'
            f"{INSTANCE},scn.data.dataset,g2,{{}},not json,yesterday\n"
            f"{INSTANCE},scn.data.dataset,g3\n"
        )

        batch = checked(owner, body.encode(), "events.csv")

        good = BatchLine.objects.get(batch=batch, number=2)
        assert good.parameters["datasetTarget"] == {"datasetIdentifier": arn, "operationType": "DELETE"}
        assert [(line.number, line.errors) for line in batches.report(batch)] == [
            (
                3,
                [
                    {"member": "datasetTarget", "message": "must be a JSON object"},
                    {
                        "member": "eventTimestamp",
                        "message": "must be a date and time such as 2026-01-31T14:30:00Z, or epoch seconds",
                    },
                ],
            ),
            (4, [{"member": "", "message": "has 3 cells; the header has 6 columns"}]),
        ]

    def test_the_counts_are_exact_the_batch_becomes_a_draft_and_a_second_check_finds_nothing(self, owner, monkeypatch):
        monkeypatch.setattr(batches, "CHUNK_LINES", 2)
        body = jsonl(event(n=1), event(eventGroupId=None), event(n=3), {"x": 1}, event(n=5))
        batch = upload(owner, body + b'{"eventGroupId": "caf\xe9"}\n')

        assert batches.check(batch.pk) == 5
        assert batches.check(batch.pk) == 0

        batch.refresh_from_db()
        assert (batch.status, batch.lines, batch.checked_lines, batch.invalid_lines) == (B.DRAFT, 6, 6, 3)
        assert [line.number for line in batches.report(batch)] == [2, 4, 6]

    def test_a_check_interrupted_part_way_resumes_with_the_lines_not_checked_yet(self, owner, monkeypatch):
        monkeypatch.setattr(batches, "CHUNK_LINES", 2)
        batch = upload(owner, jsonl(*(event(n=n) for n in range(5))))
        real = batches.read_line
        calls = []

        def crash_on_the_third(*args):
            calls.append(args)
            if len(calls) == 3:
                raise RuntimeError("the worker died")
            return real(*args)

        monkeypatch.setattr(batches, "read_line", crash_on_the_third)
        with pytest.raises(RuntimeError):
            batches.check(batch.pk)
        monkeypatch.setattr(batches, "read_line", real)

        assert batches.check(batch.pk) == 3
        batch.refresh_from_db()
        assert (batch.status, batch.checked_lines, batch.invalid_lines) == (B.DRAFT, 5, 0)

    # --- submit and record -------------------------------------------------------------------------------

    def test_a_json_line_may_give_the_data_as_the_document_itself_and_it_is_sent_as_its_text(self, owner):
        batch = checked(owner, jsonl(event(data={"id": "o-1", "lines": [1, 2]}), event(data="not json")))

        [line] = BatchLine.objects.filter(batch=batch, valid=True)
        assert json.loads(line.parameters["data"]) == {"id": "o-1", "lines": [1, 2]}
        [bad] = batches.report(batch)
        assert [e["member"] for e in bad.errors] == ["data"]

    def test_a_check_works_in_slices_and_hands_the_rest_to_a_new_task(self, owner, tasks, monkeypatch):
        monkeypatch.setattr(batches, "CHUNK_LINES", 2)
        batch = upload(owner, jsonl(*(event(group=f"g{n}") for n in range(5))))
        tasks.clear()
        clock = iter(range(0, 1000, 15))  # each look at the clock, 15 s later
        monkeypatch.setattr(batches.time, "monotonic", lambda: next(clock))

        checked_now = batches.check(batch.pk)

        batch.refresh_from_db()
        assert checked_now == 2  # one chunk in its 20 s slice (started at 0, looked at 15, then 30)
        assert tasks == [("check_batch", batch.pk)]
        assert batch.status == BatchStatus.CHECKING
        monkeypatch.setattr(batches.time, "monotonic", lambda: 0)
        assert batches.check(batch.pk) == 3
        batch.refresh_from_db()
        assert (batch.status, batch.checked_lines, batch.invalid_lines) == (BatchStatus.DRAFT, 5, 0)


class TestSubmitAndRecord:
    def test_a_batch_with_invalid_lines_is_refused_whole_by_default(self, owner, tasks):
        batch = checked(owner, jsonl(event(n=1), event(eventGroupId=None)))

        with pytest.raises(batches.BatchError, match="1 line"):
            batches.submit(batch, owner)

        batch.refresh_from_db()
        assert batch.status == B.DRAFT
        assert tasks == []
        assert not AwsRequest.objects.exists()

    def test_skipping_invalid_lines_records_only_the_valid_ones_and_keeps_the_report(self, owner, sent):
        batch = recorded(owner, event(n=1), event(eventGroupId=None), event(n=3), skip_invalid=True)

        assert (batch.status, batch.skip_invalid, batch.requests_recorded) == (B.RUNNING, True, 2)
        assert [r.batch_line for r in requests_of(batch)] == [1, 3]
        assert [line.number for line in batches.report(batch)] == [2]

    def test_a_batch_with_no_valid_line_cannot_be_submitted_even_skipping(self, owner):
        batch = checked(owner, jsonl(event(eventGroupId=None)))

        with pytest.raises(batches.BatchError, match="nothing to submit"):
            batches.submit(batch, owner, skip_invalid=True)

    def test_only_the_uploader_submits_and_only_a_draft(self, owner, tasks):
        batch = checked(owner, jsonl(event()))
        other = make_operator("other")

        with pytest.raises(PermissionDenied):
            batches.submit(batch, other)
        batches.submit(batch, owner)
        assert tasks == []  # on commit
        with pytest.raises(batches.BatchError, match="only a checked batch"):
            batches.submit(batch, owner)

    def test_each_line_becomes_a_request_of_its_own_in_line_order(self, owner, sent):
        documents = [event(group=f"g{n % 3}", n=n) for n in range(7)]

        batch = recorded(owner, *documents)

        operation = get_operation(OPERATION)
        made = requests_of(batch)
        assert [r.batch_line for r in made] == list(range(1, 8))
        assert len({r.client_token for r in made}) == 7
        for aws_request, document in zip(made, documents, strict=True):
            assert aws_request.parameters == document
            assert aws_request.batch_id == batch.pk
            assert (aws_request.status, aws_request.created_by, aws_request.account_id) == (
                S.QUEUED,
                owner,
                "111122223333",
            )
            assert aws_request.order_key == ordering.order_key(operation, document, "111122223333", "us-east-1")
        assert not BatchLine.objects.filter(batch=batch).exists()  # valid lines live on as requests

    def test_a_recording_resumed_after_a_crash_records_no_line_twice(self, owner, monkeypatch, sent):
        monkeypatch.setattr(batches, "CHUNK_LINES", 2)
        batch = checked(owner, jsonl(*(event(n=n) for n in range(5))))
        batches.submit(batch, owner)
        real = ordering.order_key
        calls = []

        def crash_in_the_second_chunk(*args):
            calls.append(args)
            if len(calls) == 3:
                raise RuntimeError("the worker died")
            return real(*args)

        monkeypatch.setattr(ordering, "order_key", crash_in_the_second_chunk)
        with pytest.raises(RuntimeError):
            batches.record(batch.pk)
        assert AwsRequest.objects.filter(batch=batch).count() == 2
        monkeypatch.setattr(ordering, "order_key", real)

        assert batches.record(batch.pk) == 3
        assert batches.record(batch.pk) == 0  # running now: nothing more to record

        batch.refresh_from_db()
        assert [r.batch_line for r in requests_of(batch)] == [1, 2, 3, 4, 5]
        assert (batch.status, batch.requests_recorded) == (B.RUNNING, 5)

    def test_a_cancel_during_recording_stops_it_and_cancels_what_was_recorded(self, owner, monkeypatch, sent):
        monkeypatch.setattr(batches, "CHUNK_LINES", 2)
        batch = checked(owner, jsonl(*(event(n=n) for n in range(5))))
        batches.submit(batch, owner)
        real = ordering.order_key
        calls = []

        def crash_in_the_second_chunk(*args):
            calls.append(args)
            if len(calls) == 3:
                raise RuntimeError("the worker died")
            return real(*args)

        monkeypatch.setattr(ordering, "order_key", crash_in_the_second_chunk)
        with pytest.raises(RuntimeError):
            batches.record(batch.pk)
        monkeypatch.setattr(ordering, "order_key", real)

        assert batches.cancel(batch, owner, "wrong file") == 2
        assert batches.record(batch.pk) == 0

        batch.refresh_from_db()
        assert batch.status == B.CANCELLED
        assert [r.status for r in requests_of(batch)] == [S.CANCELLED, S.CANCELLED]
        assert sent == []

    def test_submitting_asks_a_worker_to_record_once_committed(self, owner, tasks, django_capture_on_commit_callbacks):
        batch = checked(owner, jsonl(event()))

        with django_capture_on_commit_callbacks(execute=True):
            batches.submit(batch, owner)

        assert tasks == [("record_batch", batch.pk)]
        batch.refresh_from_db()
        assert batch.status == B.RECORDING
        assert batch.submitted_at is not None


class TestApproval:
    @pytest.fixture(autouse=True)
    def rule(self, db):
        return ApprovalRule.objects.create(operation=OPERATION)

    def test_a_batch_under_an_approval_rule_waits_whole_and_sends_nothing(self, owner, sent):
        batch = recorded(owner, event(n=1), event(n=2))

        assert batch.status == B.AWAITING_APPROVAL
        assert {r.status for r in requests_of(batch)} == {S.AWAITING_APPROVAL}
        assert sent == []

    def test_one_approval_queues_every_request_and_starts_sending(
        self, owner, approver, sent, django_capture_on_commit_callbacks
    ):
        batch = recorded(owner, event(group="a"), event(group="b"))

        with django_capture_on_commit_callbacks(execute=True):
            batches.decide(batch, approver, approve=True)

        batch.refresh_from_db()
        assert (batch.status, batch.decided_by) == (B.RUNNING, approver)
        assert {r.status for r in requests_of(batch)} == {S.QUEUED}
        assert sorted(sent_ids(sent)) == [r.pk for r in requests_of(batch)]

    def test_one_rejection_rejects_every_request_with_the_reason(self, owner, approver, sent):
        batch = recorded(owner, event(n=1), event(n=2))

        with pytest.raises(batches.BatchError, match="Say why"):
            batches.decide(batch, approver, approve=False)
        batches.decide(batch, approver, approve=False, reason="Not this week")

        batch.refresh_from_db()
        assert (batch.status, batch.decision_reason) == (B.REJECTED, "Not this week")
        assert {r.status for r in requests_of(batch)} == {S.REJECTED}
        assert all("Not this week" in r.error_message for r in requests_of(batch))
        with pytest.raises(batches.BatchError, match="not awaiting approval"):
            batches.decide(batch, approver, approve=True)
        assert sent == []

    def test_the_author_cannot_decide_even_as_an_approver_nor_can_an_operator(self, db):
        author = make_user("author", groups=(OPERATORS, APPROVERS))
        batch = recorded(author, event())

        with pytest.raises(PermissionDenied):
            batches.decide(batch, author, approve=True)
        with pytest.raises(PermissionDenied):
            batches.decide(batch, make_operator("someone"), approve=True)
        assert not batches.can_decide(author, batch)
        batch.refresh_from_db()
        assert batch.status == B.AWAITING_APPROVAL


# --- feeding, pause, resume, cancel ------------------------------------------------------------------


class TestFeeding:
    def test_at_most_the_limit_in_flight_are_sent_to_the_bulk_queue(self, owner, sent, settings):
        settings.PORTAL_BULK_IN_FLIGHT = 3
        batch = recorded(owner, *(event(group=f"g{n}") for n in range(10)))

        made = requests_of(batch)
        assert sent == [(r.pk, settings.PORTAL_BULK_QUEUE) for r in made[:3]]
        assert batches.top_up(batch.pk) == []  # three in the broker already

        AwsRequest.objects.filter(pk=made[0].pk).update(status=S.SUCCEEDED, finished_at=timezone.now())
        assert batches.top_up(batch.pk) == [made[3].pk]

    def test_only_the_head_of_each_group_is_sent(self, owner, sent):
        batch = recorded(owner, event(group="a", n=1), event(group="a", n=2), event(group="b", n=3))

        a1, a2, b3 = requests_of(batch)
        assert sent_ids(sent) == [a1.pk, b3.pk]

        AwsRequest.objects.filter(pk=a1.pk).update(status=S.SUCCEEDED, finished_at=timezone.now())
        assert batches.top_up(batch.pk) == [a2.pk]

    def test_retries_that_are_due_go_before_queued_requests(self, owner, sent, settings):
        settings.PORTAL_BULK_IN_FLIGHT = 2
        batch = recorded(owner, *(event(group=f"g{n}") for n in range(5)))
        made = requests_of(batch)
        now = timezone.now()
        AwsRequest.objects.filter(pk=made[0].pk).update(status=S.SUCCEEDED, finished_at=now)
        AwsRequest.objects.filter(pk=made[1].pk).update(status=S.SUCCEEDED, finished_at=now)
        AwsRequest.objects.filter(pk=made[4].pk).update(
            status=S.RETRYING, next_attempt_at=now - dt.timedelta(seconds=1), enqueued_at=now - dt.timedelta(seconds=5)
        )
        AwsRequest.objects.filter(pk=made[3].pk).update(
            status=S.RETRYING, next_attempt_at=now + dt.timedelta(hours=1), enqueued_at=None
        )
        sent.clear()

        assert batches.top_up(batch.pk) == [made[4].pk, made[2].pk]

    def test_requests_waiting_for_their_retry_do_not_count_as_in_flight_so_the_batch_goes_on(
        self, owner, sent, sandbox, settings
    ):
        settings.AWS_ENDPOINT_URL = sandbox.url
        settings.PORTAL_BULK_IN_FLIGHT = 2
        batch = recorded(owner, *(event(group=f"g{n}") for n in range(3)))
        first, second, third = requests_of(batch)
        sandbox.state.add_fault({"operation": OPERATION, "fault": "throttle"})
        assert pipeline.execute(first.pk) == "retrying"
        assert pipeline.execute(second.pk) == "retrying"
        sandbox.state.reset()
        sent.clear()

        # Both wait in the database for their time, not in the broker: there is room for the third.
        assert batches.top_up(batch.pk) == [third.pk]
        # As a retry's time comes: sent (then failed) before it, due now.
        AwsRequest.objects.filter(pk__in=[first.pk, second.pk]).update(
            enqueued_at=timezone.now() - dt.timedelta(seconds=10),
            next_attempt_at=timezone.now() - dt.timedelta(seconds=1),
        )
        AwsRequest.objects.filter(pk=third.pk).update(status=S.SUCCEEDED, finished_at=timezone.now())
        # Their time has come: the feeder (the only one that sends a batch's retries) sends them.
        assert sorted(batches.top_up(batch.pk)) == [first.pk, second.pk]

    def test_a_paused_batch_sends_nothing_more_and_resuming_sends_again(self, owner, sent, settings):
        settings.PORTAL_BULK_IN_FLIGHT = 1
        batch = recorded(owner, event(group="a"), event(group="b"))
        first, second = requests_of(batch)

        batches.pause(batch, owner)
        AwsRequest.objects.filter(pk=first.pk).update(status=S.SUCCEEDED, finished_at=timezone.now())

        assert batches.top_up(batch.pk) == []
        assert batches.feed() == 0
        batch.refresh_from_db()
        assert (batch.status, batch.paused_by) == (B.PAUSED, owner)

        batches.resume(batch, owner)
        assert sent_ids(sent) == [first.pk, second.pk]
        batch.refresh_from_db()
        assert batch.status == B.RUNNING

    def test_a_paused_batch_s_request_already_in_the_broker_is_not_claimed_but_parked(self, owner, sent, sandbox):
        batch = recorded(owner, event())
        [aws_request] = requests_of(batch)

        batches.pause(batch, owner)

        assert pipeline.execute(aws_request.pk).startswith("waits for")
        aws_request.refresh_from_db()
        assert (aws_request.status, aws_request.enqueued_at) == (S.QUEUED, None)
        assert not sandbox.state.calls

    def test_only_the_owner_or_an_approver_steers_a_batch(self, owner, approver, sent):
        batch = recorded(owner, event())

        with pytest.raises(PermissionDenied):
            batches.pause(batch, make_operator("someone"))
        batches.pause(batch, approver)
        with pytest.raises(batches.BatchError, match="paused now"):
            batches.pause(batch, owner)

    def test_cancel_cancels_every_request_not_started_and_running_ones_finish(self, owner, sent):
        batch = recorded(owner, event(group="a"), event(group="b"), event(group="c"))
        first, _, _ = requests_of(batch)
        AwsRequest.objects.filter(pk=first.pk).update(status=S.RUNNING, claim_id=uuid.uuid4())

        assert batches.cancel(batch, owner, "wrong file") == 2

        assert [r.status for r in requests_of(batch)] == [S.RUNNING, S.CANCELLED, S.CANCELLED]
        batch.refresh_from_db()
        assert (batch.status, batch.cancelled_by) == (B.CANCELLED, owner)
        with pytest.raises(batches.BatchError):
            batches.resume(batch, owner)

    def test_the_feeder_finishes_a_batch_once_every_request_is_final(self, owner, sent):
        batch = recorded(owner, event(group="a"), event(group="b"))
        first, second = requests_of(batch)
        AwsRequest.objects.filter(pk=first.pk).update(status=S.SUCCEEDED, finished_at=timezone.now())

        batches.feed()
        batch.refresh_from_db()
        assert batch.status == B.RUNNING

        AwsRequest.objects.filter(pk=second.pk).update(status=S.FAILED, finished_at=timezone.now())
        batches.feed()
        batch.refresh_from_db()
        assert (batch.status, batch.finished_at is not None) == (B.FINISHED, True)

    def test_the_feeder_sends_again_a_check_or_a_recording_that_stalled(self, owner, tasks):
        checking = upload(owner, jsonl(event()))
        recording = checked(owner, jsonl(event()))
        batches.submit(recording, owner)
        fresh = upload(owner, jsonl(event()))
        long_ago = timezone.now() - batches.STALLED_AFTER - dt.timedelta(seconds=1)
        Batch.objects.filter(pk__in=[checking.pk, recording.pk]).update(updated_at=long_ago)
        tasks.clear()

        batches.feed()

        assert sorted(tasks) == [("check_batch", checking.pk), ("record_batch", recording.pk)]
        assert fresh.pk not in [pk for _, pk in tasks]
        tasks.clear()
        batches.feed()
        assert tasks == []  # not again until it stalls again

    def test_the_feeder_discards_old_drafts_and_their_lines(self, owner, settings):
        old = checked(owner, jsonl(event(), event(eventGroupId=None)))
        recent = checked(owner, jsonl(event()))
        Batch.objects.filter(pk=old.pk).update(
            created_at=timezone.now() - dt.timedelta(hours=settings.PORTAL_BATCH_DRAFT_HOURS, minutes=1)
        )

        batches.feed()

        old.refresh_from_db()
        recent.refresh_from_db()
        assert (old.status, recent.status) == (B.DISCARDED, B.DRAFT)
        assert not BatchLine.objects.filter(batch=old).exists()
        assert BatchLine.objects.filter(batch=recent).exists()

    def test_the_owner_discards_a_draft_nobody_else_does(self, owner):
        batch = checked(owner, jsonl(event()))

        with pytest.raises(PermissionDenied):
            batches.discard(batch, make_operator("someone"))
        batches.discard(batch, owner)

        batch.refresh_from_db()
        assert batch.status == B.DISCARDED
        assert not BatchLine.objects.filter(batch=batch).exists()


# --- the batch page's figures, failures, retry and release -------------------------------------------


class TestProgressAndFailures:
    def test_progress_counts_by_status_the_rate_and_the_time_left(self, owner, sent):
        batch = recorded(owner, *(event(group=f"g{n}") for n in range(6)))
        made = requests_of(batch)
        now = timezone.now()
        AwsRequest.objects.filter(pk__in=[r.pk for r in made[:2]]).update(status=S.SUCCEEDED, finished_at=now)
        AwsRequest.objects.filter(pk=made[2].pk).update(status=S.FAILED, finished_at=now)
        AwsRequest.objects.filter(pk=made[3].pk).update(
            status=S.SUCCEEDED, finished_at=now - batches.RATE_WINDOW - dt.timedelta(seconds=1)
        )

        progress = batches.progress(batch, now=now)

        assert progress.counts == {S.SUCCEEDED: 3, S.FAILED: 1, S.QUEUED: 2}
        assert (progress.total, progress.finished, progress.unfinished, progress.held) == (6, 4, 2, 1)
        assert progress.rate == pytest.approx(3 / 60)
        assert progress.seconds_left == pytest.approx(2 / (3 / 60))

    def test_a_batch_with_nothing_finished_lately_has_no_rate_and_no_time_left(self, owner, sent):
        batch = recorded(owner, event())

        assert batches.progress(batch).seconds_left is None
        assert batches.progress(batch).rate == 0

    def test_failures_are_listed_in_line_order_and_a_released_one_no_longer_holds(self, owner, sent):
        batch = recorded(owner, *(event(group=f"g{n}") for n in range(4)))
        made = requests_of(batch)
        AwsRequest.objects.filter(pk__in=[made[3].pk, made[1].pk]).update(status=S.FAILED, finished_at=timezone.now())

        assert [r.pk for r in batches.failures(batch)] == [made[1].pk, made[3].pk]
        batches.release(AwsRequest.objects.get(pk=made[1].pk), owner)
        assert batches.progress(batch).held == 1


def fail_by_the_sandbox(aws_request: AwsRequest, sandbox, settings, fault: str = "internal") -> None:
    """Run a request against the sandbox until it fails for good (one attempt allowed)."""
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 1
    sandbox.state.add_fault({"operation": OPERATION, "sequence": [fault]})
    assert pipeline.execute(aws_request.pk) == "failed"
    aws_request.refresh_from_db()


class TestRetryAndRelease:
    def test_a_retry_reopens_the_request_with_its_own_client_token_in_its_place(
        self, owner, sent, sandbox, settings, django_capture_on_commit_callbacks
    ):
        batch = recorded(owner, event(group="a", n=1), event(group="a", n=2))
        first, _ = requests_of(batch)
        fail_by_the_sandbox(first, sandbox, settings)
        sent.clear()

        with django_capture_on_commit_callbacks(execute=True):
            batches.retry(first, owner)

        first.refresh_from_db()
        assert (first.status, first.error_code) == (S.QUEUED, "Reopened")
        assert sent == [(first.pk, settings.PORTAL_BULK_QUEUE)]
        assert pipeline.execute(first.pk) == "succeeded"
        assert [c["client_token"] for c in sandbox.state.calls] == [first.client_token, first.client_token]
        assert AwsRequest.objects.filter(batch=batch).count() == 2  # the same request, no new one

    def test_a_retry_is_refused_when_the_token_may_no_longer_protect_the_call(self, owner, sent, sandbox, settings):
        batch = recorded(owner, event())
        [aws_request] = requests_of(batch)
        fail_by_the_sandbox(aws_request, sandbox, settings)
        Attempt.objects.filter(request=aws_request).update(started_at=timezone.now() - dt.timedelta(hours=9))

        with pytest.raises(batches.BatchError, match="Not retried"):
            batches.retry(aws_request, owner)

        aws_request.refresh_from_db()
        assert aws_request.status == S.FAILED

    def test_retrying_in_a_finished_batch_runs_the_batch_again(self, owner, sent, sandbox, settings):
        batch = recorded(owner, event())
        [aws_request] = requests_of(batch)
        fail_by_the_sandbox(aws_request, sandbox, settings)
        batches.feed()
        batch.refresh_from_db()
        assert batch.status == B.FINISHED

        batches.retry(aws_request, owner)

        batch.refresh_from_db()
        assert (batch.status, batch.finished_at) == (B.RUNNING, None)
        aws_request.refresh_from_db()
        assert aws_request.status == S.QUEUED

    def test_only_the_owner_or_an_approver_retries_and_not_in_a_cancelled_batch(self, owner, sent, sandbox, settings):
        batch = recorded(owner, event(group="a"), event(group="b"))
        first, _ = requests_of(batch)
        fail_by_the_sandbox(first, sandbox, settings)

        with pytest.raises(PermissionDenied):
            batches.retry(first, make_operator("someone"))
        batches.cancel(batch, owner)
        with pytest.raises(batches.BatchError, match="not run any more"):
            batches.retry(AwsRequest.objects.get(pk=first.pk), owner)

    def test_releasing_a_failed_request_lets_the_next_of_its_group_go(
        self, owner, sent, sandbox, settings, django_capture_on_commit_callbacks
    ):
        batch = recorded(owner, event(group="a", n=1), event(group="a", n=2))
        first, second = requests_of(batch)
        fail_by_the_sandbox(first, sandbox, settings)
        assert batches.top_up(batch.pk) == []  # the failure holds its group

        with pytest.raises(PermissionDenied):
            batches.release(first, make_operator("someone"))
        with django_capture_on_commit_callbacks(execute=True):
            batches.release(first, owner)

        first.refresh_from_db()
        assert first.order_released
        assert "Group released" in first.error_message
        assert (second.pk, settings.PORTAL_BULK_QUEUE) in sent
        with pytest.raises(batches.BatchError, match="released already"):
            batches.release(first, owner)

    def test_a_request_that_finishes_hands_over_more_of_its_batch(
        self, owner, sent, sandbox, settings, django_capture_on_commit_callbacks
    ):
        settings.AWS_ENDPOINT_URL = sandbox.url
        settings.PORTAL_BULK_IN_FLIGHT = 1
        batch = recorded(owner, event(group="a"), event(group="b"))
        first, second = requests_of(batch)
        assert sent_ids(sent) == [first.pk]

        with django_capture_on_commit_callbacks(execute=True):
            assert pipeline.execute(first.pk) == "succeeded"

        assert sent_ids(sent) == [first.pk, second.pk]
        assert Attempt.objects.get(request=first).outcome == AttemptOutcome.SUCCEEDED
