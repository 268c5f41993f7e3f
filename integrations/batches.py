"""Batches: a file of events uploaded as one, checked line by line, then run as ordinary requests.

A batch goes through these steps, each done by the place that can afford it:

1. **Upload** (``upload``, in the web request): the file is streamed from the upload's temporary
   file into one ``BatchLine`` row per line, as uploaded, in chunks: memory stays flat in the
   file's size and nothing is judged yet beyond what makes the file unreadable as a whole (a CSV
   header naming no member, more than PORTAL_BATCH_MAX_LINES lines).
2. **Check** (``check``, a worker's task): every line is read into parameters and judged by the
   operation's rules, exactly as the form and the API judge one request (``check_parameters``),
   and the report is those lines' errors. Nothing is recorded as a request.
3. **Submit** (``submit``): the owner submits the valid lines, all or nothing by default, or
   skipping the invalid ones by choice. A worker records one ``AwsRequest`` per valid line
   (``record``), with its own client token, in line order, so their ids are the order recorded.
4. **Run**: approval applies to the batch as a whole (one decision, ``decide``); then the
   **feeder** (``top_up``, run by beat and after each of the batch's requests finishes) sends at
   most PORTAL_BULK_IN_FLIGHT of them at a time to the bulk queue, each only when its group is
   free (integrations/ordering.py), where workers call AWS at the rate its bucket allows
   (integrations/rate_limits.py). The owner may pause, resume, or cancel the rest.

Every status change of a request is still ``integrations.lifecycle``'s; a batch's own status
changes here, each a compare-and-set on the batch row.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from botocore.model import Shape, StructureShape
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, models, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone

from awsmodel.timestamps import TimestampError, parse_timestamp
from integrations import lifecycle, ordering, pipeline, rate_limits
from integrations.models import (
    ApprovalRule,
    AwsRequest,
    AwsTarget,
    Batch,
    BatchLine,
    BatchStatus,
    RequestStatus,
)
from integrations.permissions import APPROVE, may_see_every_request
from operations import Operation, get_operation
from operations.checks import check_parameters

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

B = BatchStatus
S = RequestStatus
FORMATS = ("csv", "jsonl")
# Lines are written, checked and recorded this many at a time (and at most CHUNK_BYTES of them).
CHUNK_LINES = 500
CHUNK_BYTES = 8 * 1024 * 1024
# A line longer than this is refused without being read whole (the largest member, Supply Chain's
# data, holds up to 1,048,576 characters; JSON escapes can make that up to six times as many bytes).
MAX_LINE_BYTES = 8 * 1024 * 1024
# A check or a recording task works this long, then hands the rest to a new task (far under the
# tasks' time limit, which must never cut a chunk).
SLICE_SECONDS = 20.0
# How many workers check an uploaded file's lines at once (each takes the chunks the others have not).
CHECK_TASKS = 2
# A check or a recording whose batch has not moved for this long is sent to a worker again.
STALLED_AFTER = dt.timedelta(seconds=60)
# The rate shown on the batch page: requests finished in this last stretch of time.
RATE_WINDOW = dt.timedelta(seconds=60)

csv.field_size_limit(MAX_LINE_BYTES)


class BatchError(Exception):
    """What a person asked of a batch cannot be done; the message says why, in their words."""


class UploadError(BatchError):
    """The file cannot be read as a batch at all (its format, its header, its size); nothing is kept."""


def _move(batch_id: int, sources: str | tuple[str, ...], target: str, **changes: object) -> bool:
    """The one place a batch's status is written: a compare-and-set from ``sources`` to ``target``
    (as ``lifecycle._move`` is for a request's). True if this call moved it."""
    sources = (sources,) if isinstance(sources, str) else sources
    changes.setdefault("updated_at", timezone.now())
    return Batch.objects.filter(pk=batch_id, status__in=sources).update(status=target, **changes) == 1


# --- who may do what ---------------------------------------------------------------------------------


def visible_to(user: User) -> QuerySet[Batch]:
    """The batches ``user`` may see: as for requests, their own, or all for auditors and approvers."""
    batches = Batch.objects.all()
    return batches if may_see_every_request(user) else batches.filter(created_by=user)


def can_steer(user: User, batch: Batch) -> bool:
    """The owner pauses, resumes and cancels a batch; approvers may stop other people's too."""
    return batch.created_by_id == user.pk or user.has_perm(APPROVE)


def can_decide(user: User, batch: Batch) -> bool:
    return user.has_perm(APPROVE) and batch.created_by_id != user.pk


# --- 1. upload ---------------------------------------------------------------------------------------


def file_format(file_name: str, declared: str | None = None) -> str:
    """ "csv" or "jsonl", as declared or by the file's extension."""
    if declared:
        if declared not in FORMATS:
            raise UploadError(f"The format must be csv or jsonl, not {declared!r}.")
        return declared
    lowered = file_name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise UploadError("Upload a .csv file or a JSON-lines file (.jsonl, one JSON object per line).")


@dataclass
class _Raw:
    number: int
    raw: str
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.raw)


def upload(
    operation: Operation, user: User, target: AwsTarget, stream: IO[bytes], file_name: str, fmt: str | None = None
) -> Batch:
    """Keep an uploaded file's lines as a new batch, to be checked by a worker; UploadError if the
    file cannot be a batch. PermissionDenied unless ``user`` may run ``operation`` in ``target``."""
    if not operation.bulk_upload:
        raise UploadError("This operation does not take uploaded files.")
    lifecycle.authorize(user, operation, target)
    fmt = file_format(file_name, fmt)
    with transaction.atomic():
        batch = Batch.objects.create(
            service=operation.service,
            operation=operation.name,
            target=target,
            account_id=target.account_id,
            region=target.region,
            created_by=user,
            created_by_username=user.get_username(),
            file_name=file_name[:255],
            file_format=fmt,
        )
        records = _csv_records(operation, stream, batch) if fmt == "csv" else _jsonl_records(stream)
        count = 0
        for chunk in _chunks(records):
            count += len(chunk)
            if count > settings.PORTAL_BATCH_MAX_LINES:
                raise UploadError(f"The file has more than {settings.PORTAL_BATCH_MAX_LINES:,} lines; split it.")
            BatchLine.objects.bulk_create(
                BatchLine(batch=batch, number=r.number, raw=r.raw, errors=r.errors, valid=False if r.errors else None)
                for r in chunk
            )
        if count == 0:
            raise UploadError("The file holds no lines to send.")
        Batch.objects.filter(pk=batch.pk).update(lines=count, columns=batch.columns)
        # Several checks share the lines (each locks the chunk it takes) where the database can
        # lock rows; SQLite has one writer at a time, so one check does it all there.
        checks = CHECK_TASKS if connection.vendor == "postgresql" else 1
        for _ in range(min(checks, -(-count // CHUNK_LINES))):
            transaction.on_commit(lambda: _send_task("check_batch", batch.pk), robust=True)
    batch.refresh_from_db()
    return batch


def _chunks(records: Iterable[_Raw]) -> Iterator[list[_Raw]]:
    chunk: list[_Raw] = []
    size = 0
    for record in records:
        chunk.append(record)
        size += record.size
        if len(chunk) >= CHUNK_LINES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _storable(text: str) -> tuple[str, list[dict[str, str]]]:
    """The text as the database can keep it (PostgreSQL refuses NUL), and the error if it had to change."""
    if "\x00" in text:
        return text.replace("\x00", "\ufffd"), [
            {"member": "", "message": "holds a NUL character, which cannot be sent"}
        ]
    return text, []


def _jsonl_records(stream: IO[bytes]) -> Iterator[_Raw]:
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of it, a piece at a time
                line = stream.readline(MAX_LINE_BYTES)
            too_long = f"is longer than {MAX_LINE_BYTES:,} bytes"
            yield _Raw(number, "", [{"member": "", "message": too_long}])
            continue
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield _Raw(number, "", [{"member": "", "message": f"is not UTF-8 text (byte {exc.start + 1})"}])
            continue
        if not text.strip():
            continue  # blank lines (a trailing newline, spacing) are not events
        raw, errors = _storable(text.rstrip("\r\n"))
        yield _Raw(number, raw, errors)


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one at a time: a byte that is not UTF-8 is named by its line
    (a decoder reading ahead in blocks would blame the line before), and no line is read whole past
    MAX_LINE_BYTES."""
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise UploadError(f"Line {number} is longer than {MAX_LINE_BYTES:,} bytes.")
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise UploadError(f"The file is not UTF-8 text: line {number}, byte {exc.start + 1}.") from None


def _csv_records(operation: Operation, stream: IO[bytes], batch: Batch) -> Iterator[_Raw]:
    reader = csv.reader(_text_lines(stream), strict=True)
    previous_end = 0
    try:
        header = next(reader, None)
        if header is None:
            raise UploadError("The file is empty: its first line must name the members (its columns).")
        batch.columns = _columns(operation, header)
        previous_end = reader.line_num
        for cells in reader:
            number, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            raw, errors = _storable(json.dumps(cells, ensure_ascii=False))
            yield _Raw(number, raw, errors)
    except csv.Error as exc:
        raise UploadError(f"The file is not valid CSV at line {reader.line_num}: {exc}.") from None


def _columns(operation: Operation, header: list[str]) -> list[str]:
    """The header's columns, each a member (top-level, or a nested one as "parent.member")."""
    columns = [name.strip() for name in header]
    unknown = [name or "(empty)" for name in columns if _member_shape(operation, name) is None]
    if unknown:
        known = ", ".join(operation.input_shape.members)
        raise UploadError(f"Unknown column(s): {', '.join(unknown)}. The columns are the operation's members: {known}.")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise UploadError(f"Column(s) named twice: {', '.join(repeated)}.")
    nested = [name for name in columns if "." in name and name.split(".", 1)[0] in columns]
    if nested:
        raise UploadError(f"Give a member as a whole or by its parts, not both: {', '.join(nested)}.")
    return columns


def _member_shape(operation: Operation, dotted: str) -> Shape | None:
    shape: Shape = operation.input_shape
    for part in dotted.split(".") if dotted else [""]:
        if not isinstance(shape, StructureShape) or part not in shape.members:
            return None
        shape = shape.members[part]
    return None if dotted == operation.token_member else shape


def _send_task(name: str, batch_id: int) -> None:
    from integrations import tasks

    try:
        getattr(tasks, name).delay(batch_id)
    except Exception as exc:  # the broker is down: the feeder sends it again (``_restart_stalled``)
        logger.warning("Could not send %s for batch %s (%s)", name, batch_id, type(exc).__name__)


# --- 2. check ----------------------------------------------------------------------------------------


def read_line(operation: Operation, columns: list[str] | None, raw: str) -> tuple[dict[str, Any] | None, list[dict]]:
    """A line's parameters and what is wrong with them, by the rules of the form and the API."""
    params, errors = _parse_csv(operation, columns, raw) if columns is not None else _parse_json_line(operation, raw)
    if params is None:
        return None, errors
    for member, hint in operation.hints.items():
        if "." not in member and hint.default is not None and member not in params:
            params[member] = hint.default()  # as the form does for a member left empty
    # Judged whole, as the form judges a request, except the cells already refused (which would
    # only be reported again as missing).
    unreadable = {error["member"] for error in errors}
    violations = check_parameters(operation, params, strict=True)
    errors += [{"member": v.dotted_path, "message": v.message} for v in violations if v.dotted_path not in unreadable]
    return (None, errors) if errors else (params, [])


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_json_line(operation: Operation, raw: str) -> tuple[dict[str, Any] | None, list[dict]]:
    """A JSON line's parameters. A member whose text is a JSON document (Supply Chain's ``data``)
    may be given as that document itself (an object or array), as a CSV gives it in a cell: it is
    sent as its JSON text."""
    params, errors = _parse_json(raw)
    if params is not None:
        for member in operation.json_members:
            if isinstance(params.get(member), (dict, list)):
                params[member] = json.dumps(params[member], ensure_ascii=False, separators=(",", ":"))
    return params, errors


def _parse_json(raw: str) -> tuple[dict[str, Any] | None, list[dict]]:
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        return None, [{"member": "", "message": "is not JSON: nested too deeply"}]
    except ValueError as exc:
        where = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return None, [{"member": "", "message": f"is not JSON: {where}"}]
    if not isinstance(document, dict):
        return None, [{"member": "", "message": "must be a JSON object of the operation's members"}]
    return document, []


def _parse_csv(operation: Operation, columns: list[str], raw: str) -> tuple[dict[str, Any] | None, list[dict]]:
    """The parameters a CSV record's cells give (those that could be read), and the cells refused."""
    cells = json.loads(raw)
    if len(cells) != len(columns):
        return None, [{"member": "", "message": f"has {len(cells)} cells; the header has {len(columns)} columns"}]
    params: dict[str, Any] = {}
    errors = []
    for name, cell in zip(columns, cells, strict=True):
        if cell == "":
            continue  # an empty cell is a member left out, as an empty form field is
        shape = _member_shape(operation, name)
        assert shape is not None  # the header was checked at upload
        try:
            value = _cell_value(shape, cell)
        except ValueError as exc:
            errors.append({"member": name, "message": str(exc)})
            continue
        *parents, last = name.split(".")
        node = params
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return params, errors


def _cell_value(shape: Shape, cell: str) -> Any:
    kind = shape.type_name
    if kind in ("string", "blob"):
        return cell
    if kind == "timestamp":
        try:
            return parse_timestamp(cell.strip()).isoformat()
        except TimestampError:
            raise ValueError("must be a date and time such as 2026-01-31T14:30:00Z, or epoch seconds") from None
    if kind in ("integer", "long"):
        try:
            return int(cell.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind in ("float", "double"):
        try:
            return float(cell.strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if kind == "boolean":
        if cell.strip().lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return cell.strip().lower() == "true"
    # A structure, list or map: its JSON in the cell.
    expected = {"structure": (dict, "object"), "map": (dict, "object"), "list": (list, "array")}[kind]
    try:
        value = json.loads(cell, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, expected[0]):
        raise ValueError(f"must be a JSON {expected[1]}")
    return value


def check(batch_id: int) -> int:
    """Check a batch's lines not checked yet, a chunk at a time; the number checked. Safe to run
    twice at once (each takes the lines the other has not locked) and to resume after a crash."""
    batch = Batch.objects.filter(pk=batch_id, status=B.CHECKING).first()
    if batch is None:
        return 0
    if batch.checked_lines == 0:
        _analyze(BatchLine)  # fresh rows: without statistics, each chunk's query sorted them all
    operation = get_operation(batch.operation_key)
    checked, last, started = 0, 0, time.monotonic()
    while True:
        if time.monotonic() - started > SLICE_SECONDS:
            # A task is one slice: a time limit never cuts a chunk, and other work gets its turn.
            _send_task("check_batch", batch_id)
            return checked
        with transaction.atomic():
            lines = list(
                BatchLine.objects.select_for_update(skip_locked=True)
                .filter(batch_id=batch_id, valid__isnull=True, number__gt=last)
                .order_by("number")[:CHUNK_LINES]
            )
            if not lines:
                break
            last = lines[-1].number
            for line in lines:
                params, errors = read_line(operation, batch.columns, line.raw)
                line.parameters, line.errors, line.valid = params, errors, not errors
            BatchLine.objects.bulk_update(lines, ["parameters", "errors", "valid"])
            Batch.objects.filter(pk=batch_id).update(
                checked_lines=F("checked_lines") + len(lines), updated_at=timezone.now()
            )
            checked += len(lines)
    counts = BatchLine.objects.filter(batch_id=batch_id).aggregate(
        checked=Count("pk", filter=Q(valid__isnull=False)), invalid=Count("pk", filter=Q(valid=False))
    )
    if counts["checked"] == batch.lines:
        # Exact counts, whatever two concurrent checks added up meanwhile.
        _move(batch_id, B.CHECKING, B.DRAFT, checked_lines=counts["checked"], invalid_lines=counts["invalid"])
    return checked


def _analyze(model: type[models.Model]) -> None:
    """Have PostgreSQL count a table again after a batch added many rows to it (where autovacuum is
    slow or off, its plans would otherwise think them a handful). Elsewhere nothing."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def report(batch: Batch) -> QuerySet[BatchLine]:
    """The invalid lines, in file order: line number, and each member's error."""
    return batch.file_lines.filter(valid=False).order_by("number")


# --- 3. submit and record ----------------------------------------------------------------------------


def submit(batch: Batch, user: User, *, skip_invalid: bool = False) -> None:
    """Submit a checked batch: all of it, or (``skip_invalid``) its valid lines only. Recorded by
    a worker (``record``); BatchError if it cannot be submitted as asked."""
    if batch.created_by_id != user.pk:
        raise PermissionDenied("Only the person who uploaded a batch submits it.")
    lifecycle.authorize(user, get_operation(batch.operation_key), batch.target)
    if batch.status != B.DRAFT:
        raise BatchError(f"This batch is {B(batch.status).label.lower()}; only a checked batch can be submitted.")
    if batch.invalid_lines and not skip_invalid:
        raise BatchError(
            f"{batch.invalid_lines:,} line(s) break the operation's rules: fix them and upload the file again, "
            "or submit with “skip invalid lines”."
        )
    if batch.invalid_lines >= batch.lines:
        raise BatchError("No line of this batch is valid: there is nothing to submit.")
    now = timezone.now()
    with transaction.atomic():
        moved = _move(batch.pk, B.DRAFT, B.RECORDING, skip_invalid=skip_invalid, submitted_at=now, updated_at=now)
        if not moved:
            raise BatchError("This batch was submitted or discarded meanwhile.")
        transaction.on_commit(lambda: _send_task("record_batch", batch.pk), robust=True)
    batch.refresh_from_db()


def record(batch_id: int) -> int:
    """Record a request for each valid line of a submitted batch, in line order; how many.

    In chunks, each its own transaction that also checks the batch is still being recorded (a
    cancel stops it), so a crash resumes after the last chunk recorded and a line is never
    recorded twice (unique per batch and line). Ids grow with the line number: the order recorded
    is the file's order. Then the batch runs, or waits for its one approval.
    """
    batch = Batch.objects.select_related("target").filter(pk=batch_id, status=B.RECORDING).first()
    if batch is None:
        return 0
    operation = get_operation(batch.operation_key)
    target = batch.target
    needs_approval = ApprovalRule.applies(operation.key, target)
    status = lifecycle.TRANSITIONS["submit_for_approval" if needs_approval else "submit"].target
    recorded, started = 0, time.monotonic()
    while True:
        if time.monotonic() - started > SLICE_SECONDS:
            _send_task("record_batch", batch_id)  # one slice a task, as ``check``
            return recorded
        with transaction.atomic():
            locked = Batch.objects.select_for_update().filter(pk=batch_id, status=B.RECORDING).first()
            if locked is None:
                return recorded  # cancelled meanwhile
            done = AwsRequest.objects.filter(batch_id=batch_id).aggregate(last=Max("batch_line"))["last"] or 0
            lines = list(
                BatchLine.objects.filter(batch_id=batch_id, valid=True, number__gt=done).order_by("number")[
                    :CHUNK_LINES
                ]
            )
            if not lines:
                break
            AwsRequest.objects.bulk_create(
                AwsRequest(
                    service=operation.service,
                    operation=operation.name,
                    parameters=line.parameters,
                    target=target,
                    account_id=target.account_id,
                    region=target.region,
                    created_by_id=batch.created_by_id,
                    created_by_username=batch.created_by_username,
                    status=status,
                    batch_id=batch_id,
                    batch_line=line.number,
                    order_key=ordering.order_key(operation, line.parameters or {}, target.account_id, target.region),
                )
                for line in lines
            )
            # The valid lines live on as requests; the invalid ones stay, for the report.
            BatchLine.objects.filter(pk__in=[line.pk for line in lines]).delete()
            Batch.objects.filter(pk=batch_id).update(
                requests_recorded=F("requests_recorded") + len(lines), updated_at=timezone.now()
            )
            recorded += len(lines)
    _analyze(AwsRequest)  # the feeder's and the claims' plans, with the new rows counted
    after = B.AWAITING_APPROVAL if needs_approval else B.RUNNING
    _move(batch_id, B.RECORDING, after)
    if after == B.RUNNING:
        top_up(batch_id)
    return recorded


# --- 4. run: approval, feeding, pause, resume, cancel ------------------------------------------------


def decide(batch: Batch, user: User, *, approve: bool, reason: str = "") -> None:
    """One decision for a whole batch, by an approver who did not upload it."""
    if not user.has_perm(APPROVE):
        raise PermissionDenied("You may not approve batches.")
    if batch.created_by_id == user.pk:
        raise PermissionDenied("Nobody approves their own batch.")
    reason = reason.strip()
    if not approve and not reason:
        raise BatchError("Say why the batch is rejected.")
    refusal = lifecycle.reason_refusal(reason)
    if refusal:
        raise BatchError(refusal)
    now = timezone.now()
    with transaction.atomic():
        moved = _move(
            batch.pk,
            B.AWAITING_APPROVAL,
            B.RUNNING if approve else B.REJECTED,
            decided_by=user,
            decided_at=now,
            decision_reason=reason,
            finished_at=None if approve else now,
            updated_at=now,
        )
        if not moved:
            raise BatchError("This batch is not awaiting approval.")
        lifecycle.decide_all(batch.requests.all(), user, approve=approve, reason=reason)
        if approve:
            transaction.on_commit(lambda: top_up(batch.pk), robust=True)


def pause(batch: Batch, user: User) -> None:
    """Stop sending the batch's requests; those already running finish (their calls are in flight)."""
    _steer(batch, user, B.RUNNING, B.PAUSED, paused_by=user, paused_at=timezone.now())


def resume(batch: Batch, user: User) -> None:
    _steer(batch, user, B.PAUSED, B.RUNNING, paused_by=None, paused_at=None)
    top_up(batch.pk)


def cancel(batch: Batch, user: User, reason: str = "") -> int:
    """Cancel every request of the batch that has not started; how many. Running ones finish."""
    refusal = lifecycle.reason_refusal(reason.strip())
    if refusal:
        raise BatchError(refusal)
    now = timezone.now()
    with transaction.atomic():
        _steer(
            batch,
            user,
            (B.RECORDING, B.AWAITING_APPROVAL, B.RUNNING, B.PAUSED),
            B.CANCELLED,
            cancelled_by=user,
            finished_at=now,
        )
        return lifecycle.cancel_all(batch.requests.all(), user, reason.strip())


def discard(batch: Batch, user: User) -> None:
    """Drop a checked batch that will not be submitted (its lines go too)."""
    if batch.created_by_id != user.pk:
        raise PermissionDenied("Only the person who uploaded a batch discards it.")
    with transaction.atomic():
        _steer(batch, user, (B.CHECKING, B.DRAFT), B.DISCARDED, finished_at=timezone.now())
        batch.file_lines.all().delete()


def _steer(batch: Batch, user: User, sources: str | tuple[str, ...], target: str, **changes: object) -> None:
    if not can_steer(user, batch):
        raise PermissionDenied("You may not change this batch.")
    moved = _move(batch.pk, sources, target, **changes)
    if not moved:
        batch.refresh_from_db(fields=["status"])
        raise BatchError(f"This batch is {B(batch.status).label.lower()} now; that cannot be done to it.")
    batch.status = target


def top_up(batch_id: int) -> list[int]:
    """Send more of a running batch's requests, up to PORTAL_BULK_IN_FLIGHT in the broker or running
    and what the rate limit will admit until the next round: retries that are due first, then queued
    ones in line order, each only if its group is free.

    Safe to run anywhere at once (two feeders lock different rows); at worst a few more than the
    limit are in flight for a moment.
    """
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.filter(pk=batch_id, status=B.RUNNING).values("account_id", "region", "service").first()
        if batch is None:
            return []
        # In the broker or running: not a retry waiting for its time, sent before it failed (read
        # through awsrequest_batch_sent_idx, a few rows, whatever the batch's size).
        sent = (
            AwsRequest.objects.filter(
                batch_id=batch_id, enqueued_at__isnull=False, status__in=(S.QUEUED, S.RUNNING, S.RETRYING)
            )
            .exclude(status=S.RETRYING, enqueued_at__lt=F("next_attempt_at"))
            .count()
        )
        # No more than the rate limit will admit before the next round: the rest would only be
        # claimed, refused a token and deferred.
        budget = rate_limits.bulk_budget(
            batch["account_id"], batch["region"], batch["service"], settings.PORTAL_SWEEP_INTERVAL_SECONDS
        )
        room = int(min(settings.PORTAL_BULK_IN_FLIGHT - sent, budget))
        if room <= 0:
            return []
        due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        ready = (
            AwsRequest.objects.select_for_update(skip_locked=True)
            .filter(due, pipeline.not_sent_since(), ordering.group_clear(), batch_id=batch_id)
            .order_by("pk")
        )
        ids = list(ready.filter(status=S.RETRYING).values_list("pk", flat=True)[:room])
        if len(ids) < room:
            ids += ready.filter(status=S.QUEUED).values_list("pk", flat=True)[: room - len(ids)]
        AwsRequest.objects.filter(pk__in=ids).update(enqueued_at=now)
    for pk in ids:
        pipeline.dispatch(pk, bulk=True, noted=True)
    return ids


def feed(now: dt.datetime | None = None) -> int:
    """Beat's round (every PORTAL_SWEEP_INTERVAL_SECONDS): top up every running batch, mark those
    whose requests are all final finished, send again a check or a recording that stalled, and
    discard drafts nobody submitted. How many requests were sent."""
    now = now or timezone.now()
    sent = 0
    for batch_id in Batch.objects.filter(status=B.RUNNING).values_list("pk", flat=True):
        sent += len(top_up(batch_id))
        unfinished = AwsRequest.objects.filter(batch_id=batch_id, status__in=ordering.UNFINISHED)
        if not unfinished.exists():
            _move(batch_id, B.RUNNING, B.FINISHED, finished_at=now, updated_at=now)
    stalled = Batch.objects.filter(status__in=(B.CHECKING, B.RECORDING), updated_at__lt=now - STALLED_AFTER)
    for batch_id, status in stalled.values_list("pk", "status"):
        Batch.objects.filter(pk=batch_id).update(updated_at=now)
        _send_task("check_batch" if status == B.CHECKING else "record_batch", batch_id)
    old_drafts = Batch.objects.filter(
        status=B.DRAFT, created_at__lt=now - dt.timedelta(hours=settings.PORTAL_BATCH_DRAFT_HOURS)
    )
    for batch_id in old_drafts.values_list("pk", flat=True):
        with transaction.atomic():
            if _move(batch_id, B.DRAFT, B.DISCARDED, finished_at=now, updated_at=now):
                BatchLine.objects.filter(batch_id=batch_id).delete()
    return sent


# --- what the batch page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    counts: dict[str, int]  # by request status
    total: int
    finished: int
    rate: float  # requests finished a second, over the last RATE_WINDOW
    seconds_left: float | None  # at that rate; None when nothing finished lately
    held: int  # failed requests holding their group

    @property
    def unfinished(self) -> int:
        return self.total - self.finished


def progress(batch: Batch, now: dt.datetime | None = None) -> Progress:
    now = now or timezone.now()
    rows = AwsRequest.objects.filter(batch=batch).values_list("status").annotate(n=Count("pk")).order_by()
    counts: dict[str, int] = dict(rows)
    total = sum(counts.values())
    finished = sum(n for status, n in counts.items() if status not in ordering.UNFINISHED)
    lately = AwsRequest.objects.filter(
        batch=batch, status__in=(S.SUCCEEDED, S.FAILED), finished_at__gte=now - RATE_WINDOW
    ).count()
    rate = lately / RATE_WINDOW.total_seconds()
    left = total - finished
    seconds_left = left / rate if rate > 0 and batch.status == B.RUNNING else None
    held = AwsRequest.objects.filter(
        batch=batch, status=S.FAILED, order_released=False, order_key__isnull=False
    ).count()
    return Progress(counts, total, finished, rate, seconds_left, held)


def failures(batch: Batch) -> QuerySet[AwsRequest]:
    """The batch's failed requests, in line order: each links to its page; those holding their
    group are shown with "release the group" and "retry"."""
    return batch.requests.filter(status=S.FAILED).order_by("batch_line")


def retry(aws_request: AwsRequest, user: User) -> None:
    """Run a failed request of a group again, in its place in its group: the same request and client
    token (``lifecycle.reopen``). Refused when its token may no longer protect the call. A batch's
    request is retried by whoever steers the batch; a single request by its author."""
    from integrations import operator

    batch = aws_request.batch
    allowed = can_steer(user, batch) if batch is not None else aws_request.created_by_id == user.pk
    if not allowed:
        raise PermissionDenied("You may not retry this request.")
    lifecycle.authorize(user, get_operation(aws_request.operation_key), aws_request.target)
    if batch is not None and batch.status not in (B.RUNNING, B.PAUSED, B.FINISHED):
        raise BatchError(f"This batch is {B(batch.status).label.lower()}; its requests are not run any more.")
    try:
        plan = operator.plan_retry(aws_request, timezone.now())
    except operator.RetryRefusedError as refused:  # not failed (any more), or retried meanwhile
        raise BatchError(str(refused)) from None
    if plan.duplicate_risk:
        raise BatchError(f"Not retried: {plan.reason}. Release the group instead, and send the event again.")
    with transaction.atomic():
        if batch is not None:
            # A finished batch runs again for this request (its page shows it running until it ends).
            _move(batch.pk, B.FINISHED, B.RUNNING, finished_at=None)
        try:
            lifecycle.reopen(aws_request, user, note="Retried from its page, in its place in its group.")
        except lifecycle.ReopenError as lost:
            raise BatchError(str(lost)) from None


def release(aws_request: AwsRequest, user: User) -> None:
    """Let the rest of a failed request's group go on without it."""
    batch = aws_request.batch
    allowed = can_steer(user, batch) if batch is not None else aws_request.created_by_id == user.pk
    if not allowed:
        raise PermissionDenied("You may not release this group.")
    try:
        lifecycle.release(aws_request, user)
    except lifecycle.ReleaseError as lost:
        raise BatchError(str(lost)) from None
