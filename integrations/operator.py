"""What the operator commands know (``manage.py stuck_requests``, ``sweep_once``, ``retry_request``,
``cancel_request``, ``preflight``): the decisions and checks, kept here so the commands only parse
options and print, and the tests can ask the questions directly.

The status of a request still changes only in ``integrations.lifecycle``; this module decides
*which* move an operator's retry may make, because that depends on what AWS may already have done
with the request's client token, and for how long AWS remembers it.
"""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from botocore import exceptions as boto_exceptions
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import BooleanField, Case, Count, Q, Value, When
from django.utils import timezone

from integrations import aws_clients, lifecycle, pipeline, retry_policy
from integrations.aws_errors import THROTTLING_CODES, TRANSIENT_CODES, TRANSIENT_STATUSES
from integrations.models import AttemptOutcome, AwsRequest, AwsTarget, RequestStatus
from operations import Operation, get_operation

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)
S = RequestStatus
T = TypeVar("T")


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def duration(delta: dt.timedelta) -> str:
    """A duration for people: "2d 3h", "1h 5m", "4m 10s", "12s"."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


# --- stuck and waiting requests ------------------------------------------------------------------

# Not finished: each of these waits for somebody (a person, the broker, a worker).
WAITING = (S.AWAITING_APPROVAL, S.QUEUED, S.RETRYING, S.RUNNING)


@dataclass(frozen=True)
class ListedRequest:
    """One line of ``stuck_requests``: a request no worker will pick up, or one waiting too long."""

    id: int
    operation: str
    status: str
    created_at: dt.datetime
    age: dt.timedelta
    enqueued_at: dt.datetime | None
    attempts: int
    # Whether the sweeper would hand it over (``pipeline.stuck_requests``), or only waits long.
    stuck: bool
    # never_enqueued, lost_in_queue, overdue_retry, abandoned, or waiting: for scripts.
    reason: str
    why: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "operation": self.operation,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "age_seconds": round(self.age.total_seconds()),
            "enqueued_at": self.enqueued_at.isoformat() if self.enqueued_at else None,
            "attempts": self.attempts,
            "stuck": self.stuck,
            "reason": self.reason,
            "why": self.why,
        }


def list_stuck(now: dt.datetime, older_than: dt.timedelta | None = None) -> list[ListedRequest]:
    """Requests that no worker will pick up unless handed over again, oldest first; with
    ``older_than``, also every unfinished request made longer ago than that.

    "Stuck" is the sweeper's own condition (``pipeline.stuck_requests``), so this lists exactly
    what ``sweep_once`` would hand over; why each one is stuck is read from its row.
    """
    stuck = pipeline.stuck_requests(now)
    wanted = stuck
    if older_than is not None:
        wanted = wanted | Q(status__in=WAITING, created_at__lte=now - older_than)
    rows = (
        AwsRequest.objects.filter(wanted)
        .annotate(
            attempt_count=Count("attempts"),
            is_stuck=Case(When(stuck, then=Value(True)), default=Value(False), output_field=BooleanField()),
        )
        .order_by("created_at", "pk")
    )
    return [_listed(row, now) for row in rows]


def _listed(row: AwsRequest, now: dt.datetime) -> ListedRequest:
    reason, why = _why(row, now, stuck=row.is_stuck)  # type: ignore[attr-defined]
    return ListedRequest(
        id=row.pk,
        operation=row.operation_key,
        status=row.status,
        created_at=row.created_at,
        age=now - row.created_at,
        enqueued_at=row.enqueued_at,
        attempts=row.attempt_count,  # type: ignore[attr-defined]
        stuck=row.is_stuck,  # type: ignore[attr-defined]
        reason=reason,
        why=why,
    )


def _why(row: AwsRequest, now: dt.datetime, *, stuck: bool) -> tuple[str, str]:
    if stuck and row.status == S.QUEUED and row.enqueued_at is None:
        return "never_enqueued", "never enqueued: the broker never took it (down when it was submitted?)"
    if stuck and row.status == S.QUEUED:
        return "lost_in_queue", f"lost in the queue: enqueued {duration(now - row.enqueued_at)} ago, never picked up"  # type: ignore[operator]
    if stuck and row.status == S.RETRYING:
        return "overdue_retry", f"overdue retry: its next attempt was due at {_when(row.next_attempt_at)}"
    if stuck and row.status == S.RUNNING:
        return "abandoned", f"abandoned by a dead worker: its lease ran out at {_when(row.lease_expires_at)}"
    if stuck:
        return "stuck", "no worker will pick it up unless it is handed over again"
    if row.status == S.AWAITING_APPROVAL:
        return "waiting", f"awaiting approval for {duration(now - row.created_at)}"
    if row.status == S.RETRYING:
        return "waiting", f"retrying: next attempt at {_when(row.next_attempt_at)}"
    if row.status == S.RUNNING:
        return "waiting", f"running: its worker holds it until {_when(row.lease_expires_at)}"
    return "waiting", f"queued for {duration(now - row.created_at)}"


# --- retrying a failed request -------------------------------------------------------------------

# Where an operation's documentation states no lifetime for its client token, the portal assumes
# the shortest one documented among its operations (8 hours: Supply Chain, AppFlow); its own
# retry window (portal/settings.py, at most 4 hours) already relies on tokens living that long.
UNDOCUMENTED_TOKEN_LIFETIME = dt.timedelta(hours=8)


class RetryRefusedError(Exception):
    """The retry was not made: the request cannot be retried, or not without a risk not accepted."""


@dataclass(frozen=True)
class RetryPlan:
    """What a retry of a failed request would do, and why."""

    # "reopen": the same request, the same client token. "new": a new request with a new token.
    path: Literal["reopen", "new"]
    reason: str
    # A new token while the last call may have made the resource: AWS cannot tell it is a retry.
    duplicate_risk: bool = False


@dataclass(frozen=True)
class RetryResult:
    plan: RetryPlan
    # The request reopened, or the new one made.
    aws_request: AwsRequest


def may_have_reached_aws(code: str, http_status: int | None = None) -> bool:
    """Whether a failure with this code may have left its call done at AWS: the retryable ones
    (throttles, 5xx, timeouts, lost connections), classified as ``aws_errors.classify`` does."""
    if code in THROTTLING_CODES or code in TRANSIENT_CODES or http_status in TRANSIENT_STATUSES:
        return True
    if code in ("SoftTimeLimitExceeded", "MaxAttemptsExceeded"):
        return True
    # Timeouts and connection errors are recorded by botocore's exception name.
    error = getattr(boto_exceptions, code, None)
    return isinstance(error, type) and issubclass(
        error, (boto_exceptions.HTTPClientError, boto_exceptions.ConnectionError)
    )


def last_failure_may_have_reached_aws(aws_request: AwsRequest) -> bool:
    """Whether the request's last call may have reached AWS: it was interrupted (the worker died
    during it), or failed with an error that is retried (the worker gave up, not AWS refusing)."""
    last = aws_request.attempts.order_by("-number").first()
    if last is None:
        return may_have_reached_aws(aws_request.error_code)
    if last.outcome == AttemptOutcome.INTERRUPTED:
        return True
    return may_have_reached_aws(last.error_code, last.http_status)


def token_lifetime(operation: Operation) -> tuple[dt.timedelta, str]:
    """How long AWS honours the operation's client token, and where that figure comes from."""
    if operation.token_lifetime is not None:
        return operation.token_lifetime, f"{duration(operation.token_lifetime)}, as its documentation says"
    return UNDOCUMENTED_TOKEN_LIFETIME, (
        f"{duration(UNDOCUMENTED_TOKEN_LIFETIME)}, assumed: its documentation states no lifetime, "
        "so the shortest documented one of the portal's operations"
    )


def token_valid_until(aws_request: AwsRequest, operation: Operation) -> dt.datetime | None:
    """Until when AWS honours the request's client token: its life counts from the first call
    that carried it. None when no call ever did (AWS has never seen the token)."""
    first = aws_request.attempts.order_by("number").values_list("started_at", flat=True).first()
    return first + token_lifetime(operation)[0] if first else None


def retry_window() -> dt.timedelta:
    """The longest a request's attempts can take, from its first to its last: a reopened request
    must be done with its token before the token's life ends (as portal/settings.py bounds it)."""
    seconds = retry_policy.max_attempts() * (settings.PORTAL_RETRY_CAP_SECONDS + settings.PORTAL_LEASE_SECONDS)
    return dt.timedelta(seconds=seconds)


def plan_retry(aws_request: AwsRequest, now: dt.datetime) -> RetryPlan:
    """Decide how a failed request may be retried; RetryRefusedError if it may not be at all.

    The same client token only when the documentation lets it protect the retry: the last
    failure may have reached AWS (so the resource may exist, and only the same token finds it)
    and the token lives until after the whole retry window. A refusal (validation, access,
    conflict, quota, not found) made nothing: a new request with a new token. A call that may
    have reached AWS with its token expired needs a new token too, at the risk of a duplicate.
    """
    if aws_request.status != S.FAILED:
        raise RetryRefusedError(
            f"Request #{aws_request.pk} is {aws_request.get_status_display().lower()}: only a failed request "
            "can be retried."
        )
    earlier = aws_request.retries.order_by("pk").first()
    if earlier is not None:
        raise RetryRefusedError(
            f"Request #{aws_request.pk} was already retried as #{earlier.pk}; retry that one instead."
        )
    try:
        operation = get_operation(aws_request.operation_key)
    except LookupError:
        raise RetryRefusedError(f"{aws_request.operation_key} is no longer a registered operation.") from None
    code = aws_request.error_code or "an unknown error"
    if not last_failure_may_have_reached_aws(aws_request):
        return RetryPlan(
            "new",
            f"its last failure ({code}) was a refusal, so AWS made nothing; a new request gets a new client token",
        )
    valid_until = token_valid_until(aws_request, operation)
    lifetime = token_lifetime(operation)[1]
    window = retry_window()
    if valid_until is not None and now + window <= valid_until:
        return RetryPlan(
            "reopen",
            f"its last failure ({code}) may have reached AWS, and AWS honours its client token until "
            f"{_when(valid_until)} ({lifetime}), beyond this retry's whole window ({duration(window)})",
        )
    ends = f"ended at {_when(valid_until)}" if valid_until and valid_until <= now else f"ends at {_when(valid_until)}"
    return RetryPlan(
        "new",
        f"its last failure ({code}) may have reached AWS, but its client token's life ({lifetime}) {ends}, "
        f"before this retry's whole window ({duration(window)}) could end; a new token cannot find what the "
        "earlier call may have made",
        duplicate_risk=True,
    )


def retry(
    aws_request: AwsRequest, user: User, *, accept_duplicate_risk: bool = False, now: dt.datetime | None = None
) -> RetryResult:
    """Retry a failed request as ``plan_retry`` decides; RetryRefusedError if that is not allowed.

    ``user`` must be allowed to run the operation in the request's target, as on the portal.
    Reopening keeps the request (and its author, whose name the calls carry); a new request is
    ``user``'s, made through ``lifecycle.submit`` (approval rules apply) and linked by
    ``retry_of``. Who retried is logged, with the shell user who ran the command.
    """
    now = now or timezone.now()
    plan = plan_retry(aws_request, now)
    operation = get_operation(aws_request.operation_key)
    if plan.duplicate_risk and not accept_duplicate_risk:
        raise RetryRefusedError(
            f"Refused: {plan.reason}. Look in account {aws_request.account_id or '?'} ({aws_request.region}) for the "
            "resource first; if it is not there, run again with --accept-duplicate-risk."
        )
    try:
        if plan.path == "reopen":
            lifecycle.authorize(user, operation, aws_request.target)
            note = f"Retry with the same client token ({_shell_user()} ran manage.py retry_request): {plan.reason}."
            lifecycle.reopen(aws_request, user, note=note)
            result = RetryResult(plan, AwsRequest.objects.get(pk=aws_request.pk))
        else:
            result = RetryResult(plan, _retry_as_new(aws_request, operation, user))
    except PermissionDenied as refused:
        raise RetryRefusedError(f"{user.get_username()} may not do this: {refused}") from None
    except lifecycle.ReopenError as lost:
        raise RetryRefusedError(str(lost)) from None
    logger.info(
        "Request %s retried by %s (shell user %s): %s, request %s: %s",
        aws_request.pk,
        user.get_username(),
        _shell_user(),
        plan.path,
        result.aws_request.pk,
        plan.reason,
    )
    return result


def _retry_as_new(aws_request: AwsRequest, operation: Operation, user: User) -> AwsRequest:
    if aws_request.target is None:
        raise RetryRefusedError(f"Request #{aws_request.pk} names no AWS target; run it again from the portal.")
    # Locked, and looked at again: of two operators retrying at once, one makes the new request.
    with transaction.atomic():
        locked = AwsRequest.objects.select_for_update().get(pk=aws_request.pk)
        if locked.status != S.FAILED or locked.retries.exists():
            raise RetryRefusedError(f"Request #{aws_request.pk} was retried by somebody else meanwhile.")
        try:
            submission = lifecycle.submit(operation, dict(locked.parameters), user, aws_request.target, retry_of=locked)
        except lifecycle.InvalidParametersError as invalid:
            raise RetryRefusedError(f"Its parameters no longer pass the operation's checks: {invalid}") from None
    return submission.aws_request


def _shell_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# --- cancelling ----------------------------------------------------------------------------------


class CancelRefusedError(Exception):
    """The request cannot be cancelled (by this user, or any more)."""


def cancel(aws_request: AwsRequest, user: User, reason: str = "") -> None:
    """Cancel a request no worker is running, saying plainly why not when it cannot be done."""
    if aws_request.status == S.RUNNING:
        raise CancelRefusedError(
            f"Request #{aws_request.pk} is running: its AWS call may be in flight, and cancelling would only hide "
            f"what AWS does with it. Wait until it finishes (its worker's lease ends at "
            f"{_when(aws_request.lease_expires_at)})."
        )
    if aws_request.is_finished:
        raise CancelRefusedError(f"Request #{aws_request.pk} is already {aws_request.get_status_display().lower()}.")
    try:
        lifecycle.cancel(aws_request, user, reason)
    except PermissionDenied:
        raise CancelRefusedError(
            f"{user.get_username()} may not cancel request #{aws_request.pk}: only its author, an approver or a "
            "superuser may."
        ) from None
    except lifecycle.InvalidReasonError as exc:
        raise CancelRefusedError(f"The reason cannot be recorded: {exc}") from None
    except lifecycle.CancelError:
        raise CancelRefusedError(f"Request #{aws_request.pk} started running or finished meanwhile.") from None
    logger.info("Request %s cancelled by %s (shell user %s)", aws_request.pk, user.get_username(), _shell_user())


# --- preflight -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of ``preflight``. ``ok`` None: skipped, with the reason in ``detail``."""

    name: str
    ok: bool | None
    detail: str

    @property
    def word(self) -> str:
        return {True: "ok", False: "FAIL", None: "skip"}[self.ok]

    def as_json(self) -> dict[str, object]:
        return {"check": self.name, "status": self.word, "detail": self.detail}


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``, or TimeoutError once ``seconds`` have passed without an answer.

    For clients without a timeout of their own (a database connect): the call goes on in a
    daemon thread, which the command's exit ends.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True, name="preflight-check")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _secrets() -> list[str]:
    from urllib.parse import urlsplit

    found = [settings.SECRET_KEY, str(settings.DATABASES["default"].get("PASSWORD") or "")]
    broker = urlsplit(settings.CELERY_BROKER_URL)
    found.append(broker.password or "")
    return [secret for secret in found if len(secret) >= 4]


def _scrub(text: str) -> str:
    """An error's text with every secret the portal knows replaced, and kept to one line."""
    for secret in _secrets():
        text = text.replace(secret, "***")
    return " ".join(text.split())[:500]


def _failed(name: str, error: BaseException) -> Check:
    return Check(name, False, _scrub(f"{type(error).__name__}: {error}"))


def check_database(timeout: float) -> list[Check]:
    """Connect (within ``timeout``) and compare the migrations applied with the code's."""
    db = settings.DATABASES["default"]
    where = f"{db['ENGINE'].rsplit('.', 1)[-1]} database {db.get('NAME')}"
    if db.get("HOST"):
        where += f" at {db['HOST']}:{db.get('PORT') or 'default port'}"
    try:
        unapplied = within(timeout, _unapplied_migrations)
    except Exception as error:
        return [_failed("database", error)]
    checks = [Check("database", True, f"connected to the {where}")]
    if unapplied:
        names = ", ".join(unapplied[:5]) + (" …" if len(unapplied) > 5 else "")
        checks.append(Check("migrations", False, f"{len(unapplied)} not applied ({names}): run manage.py migrate"))
    else:
        checks.append(Check("migrations", True, "all applied"))
    return checks


def _unapplied_migrations() -> list[str]:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection = connections["default"]
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    finally:
        # This thread's own connection: never left open for the database to keep.
        connections.close_all()


def check_broker(timeout: float, app: Any = None) -> list[Check]:
    """Connect to the broker within ``timeout`` and look for the queues workers must consume."""
    from portal.celery import app as default_app

    app = app or default_app
    connection = app.connection_for_write(connect_timeout=timeout)
    where = connection.as_uri()  # the password masked
    try:
        within(timeout + 1, lambda: connection.ensure_connection(max_retries=1, timeout=timeout))
    except Exception as error:
        connection.release()
        return [Check("broker", False, f"{where}: " + _failed("broker", error).detail)]
    checks = [Check("broker", True, f"connected to {where}")]
    try:
        for name in (settings.PORTAL_WORK_QUEUE, settings.PORTAL_BULK_QUEUE, settings.PORTAL_HOUSEKEEPING_QUEUE):
            try:
                checks.append(within(timeout + 1, functools.partial(_queue_check, app, connection, name)))
            except Exception as error:
                checks.append(_failed(f"queue {name}", error))
    finally:
        connection.release()
    return checks


def _queue_check(app: Any, connection: Any, name: str) -> Check:
    # Looked up without creating it: Celery's table of queues adds a missing name when indexed.
    queue = app.amqp.queues.get(name)
    exchange = queue.exchange.name if queue is not None else name
    channel = connection.channel()
    label = f"queue {name}"
    missing = f"not declared on the broker: start a worker that consumes it (celery worker -Q {name})"
    try:
        if hasattr(channel, "get_table"):
            # kombu's virtual transports (Redis, the filesystem): a declared queue is a binding in
            # its exchange's table; the queue itself exists only while it holds messages.
            declared = any(binding[-1] == name for binding in channel.get_table(exchange))
            return Check(label, True, "declared") if declared else Check(label, False, missing)
        try:
            _, messages, consumers = channel.queue_declare(queue=name, passive=True)
        except connection.channel_errors:
            return Check(label, False, missing)
        return Check(label, True, f"declared, {messages} message(s) waiting, {consumers} consumer(s)")
    finally:
        try:
            channel.close()
        except Exception:  # already closed by the broker after a refused passive declare
            logger.debug("channel already closed", exc_info=True)


def check_targets(timeout: float) -> list[Check]:
    """Each active target's credentials: STS GetCallerIdentity, then its role's assumption."""
    checks = []
    for target in AwsTarget.objects.filter(is_active=True).order_by("name"):
        label = f"target {target.name}"
        endpoint = aws_clients.endpoint_url(target)
        if not settings.PRODUCTION and endpoint and not settings.AWS_STS_ENDPOINT_URL:
            checks.append(
                Check(
                    label,
                    None,
                    f"its calls go to {endpoint}, not AWS; set PORTAL_AWS_STS_ENDPOINT_URL to check its "
                    "credentials at a local STS",
                )
            )
            continue
        try:
            found = within(2 * timeout + 2, functools.partial(aws_clients.check_credentials, target, timeout))
        except Exception as error:
            checks.append(_failed(label, error))
            continue
        acting = found.acting_arn if target.role_arn else found.base_arn
        if found.account_id != target.account_id:
            checks.append(
                Check(
                    label,
                    False,
                    f"calls would act as {acting}, in account {found.account_id}, but the target names account "
                    f"{target.account_id}",
                )
            )
        elif target.role_arn:
            checks.append(Check(label, True, f"{found.base_arn} assumes {target.role_arn} as {acting}"))
        else:
            checks.append(Check(label, True, f"acts as {acting}"))
    if not checks:
        checks.append(Check("targets", False, "no active AWS target: nobody can run anything"))
    return checks


def check_deployment() -> list[Check]:
    """In production, the settings a deployment needs: Django's deploy checks, and a database and
    a broker that are servers. Development settings are not production's, so they are skipped."""
    if not settings.PRODUCTION:
        return [Check("settings", None, "development settings (PORTAL_ENVIRONMENT=development): not checked")]
    from django.core import checks as django_checks

    found = []
    if not settings.ALLOWED_HOSTS:
        found.append(Check("settings", False, "DJANGO_ALLOWED_HOSTS is empty: every request would be refused"))
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        found.append(Check("settings", False, "DATABASE_URL names SQLite: production needs PostgreSQL"))
    if settings.CELERY_BROKER_URL.split(":", 1)[0] in ("filesystem", "memory", "sqla", "sqlalchemy"):
        found.append(Check("settings", False, "CELERY_BROKER_URL names no broker server: use RabbitMQ or Redis"))
    for message in django_checks.run_checks(include_deployment_checks=True):
        if message.level >= django_checks.WARNING and not message.is_silenced():
            found.append(Check("settings", False, _scrub(f"{message.id}: {message.msg}")))
    return found or [Check("settings", True, "production settings complete; Django's deploy checks pass")]


def preflight(timeout: float = 5.0) -> list[Check]:
    """Every check, in order: database, broker and queues, targets, deployment settings."""
    checks = check_database(timeout) + check_broker(timeout)
    database_ok = checks[0].ok
    if database_ok:
        try:
            checks += check_targets(timeout)
        except Exception as error:
            checks.append(_failed("targets", error))
    else:
        checks.append(Check("targets", None, "not checked: the database (which lists them) is unreachable"))
    return checks + check_deployment()
