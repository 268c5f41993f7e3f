"""The operator's commands: what they list, what they change, what they refuse and how they exit.

In-process through ``call_command`` against the real sandbox, moto's STS server and the test broker;
the exit statuses a shell sees are checked once more with the commands run as processes.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from integrations import aws_clients, operator, pipeline
from integrations.models import ApprovalRule, AttemptOutcome, AwsRequest, RequestStatus
from portal.celery import app as celery_app
from tests import processes
from tests.factories import PASSWORD, default_target, make_operator, make_request, make_target, make_user

pytestmark = pytest.mark.django_db

OPERATION = "appfabric/CreateIngestion"
MOTO_ACCOUNT = "123456789012"  # the account moto's STS answers for the portal's own identity
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:role/portal-operator"


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def run(*args: str) -> tuple[int, str, str]:
    """A command in this process: its exit status, stdout and stderr, as a shell would see them."""
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- stuck_requests ---------------------------------------------------------------------------------


@pytest.fixture
def stuck_ones(settings):
    """One request for each way of being stuck, and requests that are not."""
    settings.PORTAL_STUCK_AFTER_SECONDS = 30
    made = {
        "never_enqueued": make_request(status=RequestStatus.QUEUED, enqueued_at=None),
        "lost_in_queue": make_request(status=RequestStatus.QUEUED, enqueued_at=ago(2000)),
        "overdue_retry": make_request(status=RequestStatus.RETRYING, next_attempt_at=ago(2000), enqueued_at=ago(2000)),
        "abandoned": make_request(
            status=RequestStatus.RUNNING, claim_id=uuid.uuid4(), lease_expires_at=ago(5), enqueued_at=ago(2000)
        ),
        # Not stuck: just handed over, retrying later, finished.
        "fresh": make_request(status=RequestStatus.QUEUED, enqueued_at=timezone.now()),
        "later": make_request(status=RequestStatus.RETRYING, next_attempt_at=timezone.now() + dt.timedelta(hours=1)),
        "done": make_request(status=RequestStatus.SUCCEEDED, finished_at=ago(10)),
    }
    # Created long enough ago that the fresh-request grace period is over.
    AwsRequest.objects.update(created_at=ago(3600))
    made["abandoned"].attempts.create(number=1, started_at=ago(60), client_token=made["abandoned"].client_token)
    return made


def test_stuck_requests_lists_each_stuck_request_with_why_and_exits_1(stuck_ones):
    status, out, _ = run("stuck_requests")

    assert status == 1
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["id", "operation", "status", "age", "last", "enqueued"]
    listed = {line.split()[0] for line in lines[1:-1]}
    assert listed == {
        f"#{stuck_ones[name].pk}" for name in ("never_enqueued", "lost_in_queue", "overdue_retry", "abandoned")
    }
    by_id = {line.split()[0]: line for line in lines[1:-1]}
    assert "never enqueued" in by_id[f"#{stuck_ones['never_enqueued'].pk}"]
    assert "lost in the queue" in by_id[f"#{stuck_ones['lost_in_queue'].pk}"]
    assert "overdue retry" in by_id[f"#{stuck_ones['overdue_retry'].pk}"]
    assert "abandoned by a dead worker" in by_id[f"#{stuck_ones['abandoned'].pk}"]
    assert lines[-1] == "4 request(s), 4 stuck (all times UTC)."


def test_stuck_requests_json_gives_scripts_the_reason_attempts_and_times(stuck_ones):
    status, out, _ = run("stuck_requests", "--json")

    rows = {row["id"]: row for row in json.loads(out)}
    assert status == 1
    abandoned = rows[stuck_ones["abandoned"].pk]
    assert (abandoned["operation"], abandoned["status"], abandoned["attempts"]) == (OPERATION, "running", 1)
    assert abandoned["reason"] == "abandoned"
    assert 3590 <= abandoned["age_seconds"] <= 3700
    assert rows[stuck_ones["never_enqueued"].pk]["enqueued_at"] is None
    assert {row["reason"] for row in rows.values()} == {"never_enqueued", "lost_in_queue", "overdue_retry", "abandoned"}
    # Exactly what the sweeper would hand over.
    assert set(rows) == set(
        AwsRequest.objects.filter(pipeline.stuck_requests(timezone.now())).values_list("pk", flat=True)
    )


def test_with_nothing_stuck_stuck_requests_says_so_and_exits_0(db):
    make_request(status=RequestStatus.QUEUED, enqueued_at=timezone.now())

    assert run("stuck_requests") == (0, "No stuck request.\n", "")
    assert run("stuck_requests", "--json") == (0, "[]\n", "")


def test_older_than_adds_unfinished_requests_waiting_longer_than_that(db):
    old = make_request(status=RequestStatus.AWAITING_APPROVAL)
    young = make_request(status=RequestStatus.AWAITING_APPROVAL)
    AwsRequest.objects.filter(pk=old.pk).update(created_at=ago(45 * 60))
    AwsRequest.objects.filter(pk=young.pk).update(created_at=ago(5 * 60))

    status, out, _ = run("stuck_requests", "--older-than", "30", "--json")

    [row] = json.loads(out)
    assert status == 1
    assert (row["id"], row["stuck"], row["reason"]) == (old.pk, False, "waiting")
    assert row["why"].startswith("awaiting approval for 45m")
    assert run("stuck_requests")[0] == 0  # without the option, waiting for a person is not stuck


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_bad_older_than_is_refused_with_a_clear_error(db, value):
    with pytest.raises(CommandError, match="--older-than"):
        call_command("stuck_requests", "--older-than", value, stdout=StringIO())


# --- sweep_once -------------------------------------------------------------------------------------


def test_sweep_once_hands_over_the_stuck_requests_and_prints_their_ids(stuck_ones, published):
    status, out, _ = run("sweep_once")

    expected = [stuck_ones[name].pk for name in ("never_enqueued", "lost_in_queue", "overdue_retry", "abandoned")]
    assert status == 0
    assert out.startswith("Handed over 4 request(s): #")
    assert sorted(int(pk) for pk in out.split(": ", 1)[1].replace("#", "").split(", ")) == sorted(expected)
    assert sorted(published) == sorted(expected)
    # Handed over just now: not stuck any more, so a second sweep has nothing to do.
    assert run("sweep_once", "--json") == (0, "[]\n", "")


def test_sweep_once_with_nothing_stuck_says_so(db, published):
    assert run("sweep_once") == (0, "Nothing to hand over: no request is stuck.\n", "")
    assert published == []


# --- retry_request: deciding ------------------------------------------------------------------------


def failed(last_error: str, *, first_call_ago: float = 3600, attempts: int = 3, operation: str = OPERATION, **fields):
    """A failed request whose calls began ``first_call_ago`` seconds ago, the last with ``last_error``."""
    aws_request = make_request(
        operation, status=RequestStatus.FAILED, error_code=last_error, finished_at=ago(30), **fields
    )
    for number in range(1, attempts + 1):
        last = number == attempts
        aws_request.attempts.create(
            number=number,
            started_at=ago(first_call_ago - number),
            finished_at=ago(first_call_ago - number - 1),
            outcome=AttemptOutcome.FAILED if last else AttemptOutcome.RETRYABLE_ERROR,
            error_code=last_error if last else "ThrottlingException",
            http_status=400 if last_error == "ValidationException" else None,
            client_token=aws_request.client_token,
        )
    return aws_request


@pytest.mark.parametrize(
    ("code", "reached"),
    [
        ("ReadTimeoutError", True),
        ("EndpointConnectionError", True),
        ("ThrottlingException", True),
        ("InternalServerException", True),
        ("SoftTimeLimitExceeded", True),
        ("ValidationException", False),
        ("AccessDeniedException", False),
        ("ConflictException", False),
        ("NoCredentials", False),
    ],
)
def test_a_failure_may_have_reached_aws_exactly_when_it_is_one_the_worker_retries(code, reached):
    assert operator.may_have_reached_aws(code) is reached


def test_a_5xx_of_any_name_may_have_reached_aws():
    assert operator.may_have_reached_aws("SomethingOdd", 503) is True
    assert operator.may_have_reached_aws("SomethingOdd", 400) is False


def test_an_interrupted_last_call_may_have_reached_aws(db):
    aws_request = failed("MaxAttemptsExceeded", attempts=0)
    aws_request.attempts.create(
        number=1, started_at=ago(60), outcome=AttemptOutcome.INTERRUPTED, client_token=aws_request.client_token
    )

    assert operator.last_failure_may_have_reached_aws(aws_request) is True


def test_token_lifetimes_are_the_documented_ones_or_the_shortest_documented_when_none_is():
    from operations import get_operation

    supply_chain, appflow, appfabric = (
        get_operation(key)
        for key in ("supplychain/SendDataIntegrationEvent", "appflow/RegisterConnector", "appfabric/CreateIngestion")
    )

    assert operator.token_lifetime(supply_chain) == (dt.timedelta(hours=8), "8h 0m, as its documentation says")
    assert operator.token_lifetime(appflow)[0] == dt.timedelta(hours=8)
    lifetime, words = operator.token_lifetime(appfabric)
    assert lifetime == operator.UNDOCUMENTED_TOKEN_LIFETIME == dt.timedelta(hours=8)
    assert "assumed: its documentation states no lifetime" in words


def test_a_token_must_outlive_the_whole_retry_window_to_be_reused(settings, db):
    settings.PORTAL_RETRY_MAX_ATTEMPTS, settings.PORTAL_RETRY_CAP_SECONDS, settings.PORTAL_LEASE_SECONDS = 6, 60, 55
    window = operator.retry_window()
    assert window == dt.timedelta(seconds=690)
    now = timezone.now()
    # The first call 8 hours minus the window ago: just in time; a minute later, too late.
    in_time = failed("ReadTimeoutError", first_call_ago=8 * 3600 - 690 - 60 + 1)
    too_late = failed("ReadTimeoutError", first_call_ago=8 * 3600 - 690 + 60)

    assert operator.plan_retry(in_time, now).path == "reopen"
    late = operator.plan_retry(too_late, now)
    assert (late.path, late.duplicate_risk) == ("new", True)


# --- retry_request: the command ---------------------------------------------------------------------


def test_a_refused_request_is_retried_as_a_new_request_with_a_new_token_linked_to_it(
    published, django_capture_on_commit_callbacks
):
    old = failed("ValidationException")

    with django_capture_on_commit_callbacks(execute=True):
        status, out, _ = run("retry_request", str(old.pk))

    new = AwsRequest.objects.exclude(pk=old.pk).get()
    assert status == 0
    assert (new.retry_of, new.created_by, new.parameters, new.target) == (
        old,
        old.created_by,
        old.parameters,
        old.target,
    )
    assert new.client_token != old.client_token
    assert new.status == RequestStatus.QUEUED
    assert published == [new.pk]
    assert out.startswith(f"Recorded request #{new.pk} (retry of #{old.pk}) with a new client token, for ")
    assert "(ValidationException) was a refusal" in out
    old.refresh_from_db()
    assert old.status == RequestStatus.FAILED  # the old request stays as it was: part of the audit


def test_a_new_request_is_made_for_the_user_named_and_waits_for_approval_when_a_rule_says_so(published):
    old = failed("AccessDeniedException")
    colleague = make_operator("colleague")
    ApprovalRule.objects.create(operation=OPERATION)

    status, out, _ = run("retry_request", str(old.pk), "--as", "colleague")

    new = AwsRequest.objects.get(retry_of=old)
    assert status == 0
    assert (new.created_by, new.created_by_username, new.status) == (
        colleague,
        "colleague",
        RequestStatus.AWAITING_APPROVAL,
    )
    assert published == []
    assert "for colleague" in out
    assert out.rstrip().endswith("Status: awaiting approval.")


def test_a_timed_out_request_whose_token_still_holds_is_reopened_with_the_same_token(
    published, django_capture_on_commit_callbacks
):
    old = failed("ReadTimeoutError", first_call_ago=3600)
    token = old.client_token

    with django_capture_on_commit_callbacks(execute=True):
        status, out, _ = run("retry_request", str(old.pk))

    reopened = AwsRequest.objects.get()
    assert status == 0
    assert (reopened.pk, reopened.client_token, reopened.status, reopened.attempt_base) == (
        old.pk,
        token,
        RequestStatus.QUEUED,
        3,
    )
    assert reopened.error_code == "Reopened"
    assert "manage.py retry_request" in reopened.error_message
    assert published == [old.pk]
    assert out.startswith(f"Reopened request #{old.pk} with the same client token {token}: ")
    assert "may have reached AWS" in out
    assert "Its attempts count again from 4" in out


def test_a_call_that_may_have_reached_aws_with_its_token_expired_is_refused_without_changing_anything(published):
    old = failed("ReadTimeoutError", first_call_ago=9 * 3600)

    status, _, error = run("retry_request", str(old.pk))

    assert status == 2
    assert "client token's life" in error
    assert "--accept-duplicate-risk" in error
    assert AwsRequest.objects.get().status == RequestStatus.FAILED
    assert published == []


def test_accepting_the_duplicate_risk_makes_the_new_request_and_says_so(published):
    old = failed("InternalServerException", first_call_ago=9 * 3600)

    status, out, _ = run("retry_request", str(old.pk), "--accept-duplicate-risk")

    new = AwsRequest.objects.get(retry_of=old)
    assert status == 0
    assert new.client_token != old.client_token
    assert "(duplicate risk accepted)" in out


@pytest.mark.parametrize(
    "status", [RequestStatus.SUCCEEDED, RequestStatus.QUEUED, RequestStatus.RUNNING, RequestStatus.CANCELLED]
)
def test_only_a_failed_request_can_be_retried(status):
    aws_request = make_request(status=status)

    code, _, error = run("retry_request", str(aws_request.pk))

    assert code == 2
    assert "only a failed request can be retried" in error
    assert AwsRequest.objects.count() == 1


def test_a_request_already_retried_is_not_retried_again(published):
    old = failed("ValidationException")
    assert run("retry_request", str(old.pk))[0] == 0
    new = AwsRequest.objects.get(retry_of=old)

    code, _, error = run("retry_request", str(old.pk))

    assert code == 2
    assert f"already retried as #{new.pk}" in error
    assert AwsRequest.objects.count() == 2


def test_a_user_who_may_not_run_the_operation_there_cannot_retry_it(published):
    old = failed("ValidationException")
    make_user("outsider")

    code, _, error = run("retry_request", str(old.pk), "--as", "outsider")

    assert code == 2
    assert "outsider may not do this" in error
    assert AwsRequest.objects.count() == 1


def test_an_unknown_request_or_user_is_a_clear_error(published):
    old = failed("ValidationException")

    assert run("retry_request", "999999")[::2] == (2, "There is no request #999999.")
    assert run("retry_request", str(old.pk), "--as", "nobody")[::2] == (2, "There is no user 'nobody'.")
    assert AwsRequest.objects.count() == 1


def test_reopening_a_request_that_made_its_resource_finds_that_resource_and_makes_no_second(
    settings, sandbox, published, django_capture_on_commit_callbacks, client
):
    """The whole path against the sandbox: the service made the ingestion but the connection dropped
    before every answer; retried with the same token after the worker gave up, it answers with that
    ingestion."""
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 2
    settings.PORTAL_RETRY_BASE_SECONDS = settings.PORTAL_RETRY_CAP_SECONDS = 0.01
    sandbox.state.add_fault({"operation": OPERATION, "sequence": [{"kind": "drop", "after": True}] * 2})
    aws_request = make_request()
    for _ in range(2):
        pipeline.execute(aws_request.pk)
        AwsRequest.objects.filter(pk=aws_request.pk, status=RequestStatus.RETRYING).update(
            next_attempt_at=timezone.now()
        )
    aws_request.refresh_from_db()
    assert (aws_request.status, len(sandbox.state.resources)) == (RequestStatus.FAILED, 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert run("retry_request", str(aws_request.pk))[0] == 0
    assert pipeline.execute(aws_request.pk) == "succeeded"

    aws_request.refresh_from_db()
    assert len(sandbox.state.resources) == 1
    assert aws_request.resource_id == sandbox.state.resources[0]["id"]
    assert [call["client_token"] for call in sandbox.state.calls] == [aws_request.client_token] * 3
    assert list(aws_request.attempts.values_list("number", flat=True)) == [1, 2, 3]
    client.login(username=aws_request.created_by.username, password=PASSWORD)
    page = client.get(aws_request.get_absolute_url()).content.decode()
    assert "Reopened by an operator after attempt 2" in page


def test_the_request_pages_link_a_retry_and_the_request_it_retries(client, published):
    old = failed("ValidationException")
    run("retry_request", str(old.pk))
    new = AwsRequest.objects.get(retry_of=old)
    client.login(username=old.created_by.username, password=PASSWORD)

    old_page = client.get(old.get_absolute_url()).content.decode()
    new_page = client.get(new.get_absolute_url()).content.decode()

    assert f'Retried as <a href="{new.get_absolute_url()}">#{new.pk}</a>' in old_page
    assert f'Retry of <a href="{old.get_absolute_url()}">#{old.pk}</a>' in new_page
    assert "Retried as" not in new_page


# --- cancel_request ---------------------------------------------------------------------------------


def test_a_superuser_cancels_a_queued_request_and_the_reason_is_kept(db):
    aws_request = make_request(status=RequestStatus.QUEUED)
    make_user("root", is_superuser=True)

    status, out, _ = run("cancel_request", str(aws_request.pk), "--as", "root", "--reason", "Wrong tenant.")

    aws_request.refresh_from_db()
    assert (status, out) == (0, f"Cancelled request #{aws_request.pk} as root.\n")
    assert aws_request.status == RequestStatus.CANCELLED
    assert aws_request.error_message.startswith("Cancelled by root at ")
    assert aws_request.error_message.endswith("Wrong tenant.")


def test_a_reason_the_audit_cannot_keep_is_refused_with_why_and_nothing_is_cancelled(db):
    aws_request = make_request(status=RequestStatus.QUEUED)
    make_user("root", is_superuser=True)

    status, _, error = run("cancel_request", str(aws_request.pk), "--as", "root", "--reason", "x" * 1001)

    assert status == 2
    assert error.startswith("The reason cannot be recorded:")
    assert AwsRequest.objects.get().status == RequestStatus.QUEUED


def test_a_running_request_is_not_cancelled_and_the_refusal_says_why(db):
    aws_request = make_request(
        status=RequestStatus.RUNNING, claim_id=uuid.uuid4(), lease_expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    make_user("root", is_superuser=True)

    status, _, error = run("cancel_request", str(aws_request.pk), "--as", "root")

    assert status == 2
    assert "is running: its AWS call may be in flight" in error
    assert AwsRequest.objects.get().status == RequestStatus.RUNNING


def test_a_finished_request_is_not_cancelled(db):
    aws_request = make_request(status=RequestStatus.SUCCEEDED)

    status, _, error = run("cancel_request", str(aws_request.pk), "--as", aws_request.created_by.username)

    assert (status, error) == (2, f"Request #{aws_request.pk} is already succeeded.")


def test_someone_who_may_not_cancel_it_is_refused(db):
    aws_request = make_request(status=RequestStatus.QUEUED)
    make_operator("bystander")

    status, _, error = run("cancel_request", str(aws_request.pk), "--as", "bystander")

    assert status == 2
    assert "bystander may not cancel" in error
    assert AwsRequest.objects.get().status == RequestStatus.QUEUED


def test_cancel_request_needs_to_know_who_cancels(db):
    aws_request = make_request(status=RequestStatus.QUEUED)

    with pytest.raises(CommandError, match="--as"):
        call_command("cancel_request", str(aws_request.pk), stdout=StringIO())


# --- preflight --------------------------------------------------------------------------------------


@pytest.fixture
def declared_queues(broker):
    """Every queue declared on the test broker, as a worker declares them when it starts."""
    with celery_app.connection_for_write() as connection:
        for queue in celery_app.amqp.queues.values():
            queue.bind(connection).declare()
    return broker


def unused_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def checks_by_name(out: str) -> dict[str, dict]:
    return {check["check"]: check for check in json.loads(out)}


def test_preflight_passes_when_database_broker_queues_and_credentials_are_all_there(db, declared_queues, aws, settings):
    make_target("direct", account_id=MOTO_ACCOUNT)
    make_target("with-role", account_id=MOTO_ACCOUNT, role_arn=ROLE_ARN, external_id="ext-42")

    status, out, _ = run("preflight", "--json")

    checks = checks_by_name(out)
    assert status == 0, out
    assert {name: check["status"] for name, check in checks.items()} == {
        "database": "ok",
        "migrations": "ok",
        "broker": "ok",
        f"queue {settings.PORTAL_WORK_QUEUE}": "ok",
        f"queue {settings.PORTAL_BULK_QUEUE}": "ok",
        f"queue {settings.PORTAL_HOUSEKEEPING_QUEUE}": "ok",
        "target direct": "ok",
        "target with-role": "ok",
        "settings": "skip",
    }
    assert checks["target with-role"]["detail"] == (
        f"arn:aws:sts::{MOTO_ACCOUNT}:user/moto assumes {ROLE_ARN} as "
        f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/portal-operator/portal-preflight"
    )
    # The check's role session is its own, never cached for a worker's call.
    assert aws_clients._assumed == {}


def test_preflight_prints_one_line_per_check_for_people(db, declared_queues, aws):
    make_target("direct", account_id=MOTO_ACCOUNT)

    status, out, _ = run("preflight")

    lines = out.splitlines()
    assert status == 0
    assert [line.split()[0] for line in lines] == ["ok"] * 7 + [
        "skip"
    ]  # database, migrations, broker, three queues, the target
    assert lines[0].split()[1] == "database"


def test_a_target_acting_in_another_account_than_it_names_fails(db, declared_queues, aws):
    make_target("elsewhere", account_id="111122223333")

    status, out, _ = run("preflight", "--json")

    check = checks_by_name(out)["target elsewhere"]
    assert status == 1
    assert check["status"] == "FAIL"
    assert check["detail"] == (
        f"calls would act as arn:aws:sts::{MOTO_ACCOUNT}:user/moto, in account {MOTO_ACCOUNT}, but the target "
        "names account 111122223333"
    )


def test_an_unreachable_sts_fails_the_target_within_the_timeout(db, declared_queues, aws, settings):
    settings.AWS_STS_ENDPOINT_URL = f"http://127.0.0.1:{unused_port()}"
    make_target("direct", account_id=MOTO_ACCOUNT)
    started = time.monotonic()

    status, out, _ = run("preflight", "--json", "--timeout", "2")

    check = checks_by_name(out)["target direct"]
    assert status == 1
    assert check["status"] == "FAIL"
    assert "EndpointConnectionError" in check["detail"]
    assert time.monotonic() - started < 30


def test_in_development_a_target_on_the_sandbox_without_a_local_sts_is_skipped_with_the_reason(
    db, declared_queues, settings, sandbox
):
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.AWS_STS_ENDPOINT_URL = None
    default_target()

    status, out, _ = run("preflight", "--json")

    check = checks_by_name(out)["target sandbox"]
    assert status == 0
    assert check["status"] == "skip"
    assert f"its calls go to {sandbox.url}, not AWS" in check["detail"]


def test_no_active_target_is_a_failure(db, declared_queues, aws):
    make_target("retired", is_active=False)

    status, out, _ = run("preflight", "--json")

    assert status == 1
    assert checks_by_name(out)["targets"]["detail"] == "no active AWS target: nobody can run anything"


def test_an_unreachable_broker_fails_in_seconds_without_printing_its_password(db, aws, monkeypatch):
    make_target("direct", account_id=MOTO_ACCOUNT)
    # Celery reads the URL from the environment first, then from its configuration.
    url = f"redis://:s3cr3t-broker-pw@127.0.0.1:{unused_port()}/13"
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    started = time.monotonic()

    status, out, _ = run("preflight", "--json", "--timeout", "2")

    checks = checks_by_name(out)
    assert status == 1
    assert checks["broker"]["status"] == "FAIL"
    assert "s3cr3t-broker-pw" not in out
    assert not [name for name in checks if name.startswith("queue")]  # nothing to look for without a broker
    assert checks["database"]["status"] == "ok"  # every other check still ran
    assert checks["target direct"]["status"] == "ok"
    assert time.monotonic() - started < 20


def test_a_queue_no_worker_declared_fails_naming_it(db, declared_queues, aws, settings):
    make_target("direct", account_id=MOTO_ACCOUNT)
    settings.PORTAL_HOUSEKEEPING_QUEUE = f"undeclared-{uuid.uuid4().hex[:8]}"

    status, out, _ = run("preflight", "--json")

    check = checks_by_name(out)[f"queue {settings.PORTAL_HOUSEKEEPING_QUEUE}"]
    assert status == 1
    assert check["status"] == "FAIL"
    assert check["detail"].startswith("not declared on the broker: start a worker that consumes it")
    assert settings.PORTAL_HOUSEKEEPING_QUEUE not in celery_app.amqp.queues  # looked up, not created


@pytest.mark.django_db(transaction=True)
def test_unapplied_migrations_fail_naming_them():
    from django.db.migrations.recorder import MigrationRecorder

    # The newest migration, un-recorded (committed, since the check reads on a connection of its
    # own); put back whatever happens.
    applied = MigrationRecorder.Migration.objects.filter(app="integrations").order_by("-name").first()
    applied.delete()
    try:
        checks = {check.name: check for check in operator.check_database(5)}
    finally:
        MigrationRecorder.Migration.objects.create(app=applied.app, name=applied.name, applied=applied.applied)

    assert checks["database"].ok is True
    assert checks["migrations"].ok is False
    assert checks["migrations"].detail == f"1 not applied (integrations.{applied.name}): run manage.py migrate"


def test_in_production_the_deployment_settings_are_checked(settings):
    settings.PRODUCTION = True
    settings.ALLOWED_HOSTS = []
    settings.SECURE_HSTS_SECONDS = 0
    settings.CELERY_BROKER_URL = "filesystem://"

    checks = operator.check_deployment()

    details = [check.detail for check in checks]
    assert all(check.ok is False for check in checks)
    assert "DJANGO_ALLOWED_HOSTS is empty: every request would be refused" in details
    assert "CELERY_BROKER_URL names no broker server: use RabbitMQ or Redis" in details
    assert any(detail.startswith("security.W004: ") for detail in details)
    assert settings.SECRET_KEY not in " ".join(details)


def test_a_bad_timeout_is_refused(db):
    with pytest.raises(CommandError, match="--timeout"):
        call_command("preflight", "--timeout", "0", stdout=StringIO())


# --- as a shell sees them ---------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=processes.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_the_commands_exit_statuses_as_a_shell_sees_them(portal_env, logs, sts_server):
    """0 when all is well, 1 when something is found wrong, 2 for bad usage: with a real worker (which
    declares both queues), the test database, the sandbox and moto's STS."""
    make_target("direct", account_id=MOTO_ACCOUNT)
    env = {**portal_env, "PORTAL_AWS_STS_ENDPOINT_URL": sts_server}
    worker = processes.start_worker(env, logs, concurrency=1)
    try:
        passed = manage(env, "preflight", "--json")
    finally:
        worker.stop()
    broken = manage({**env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{processes.free_port()}/13"}, "preflight")
    usage = manage(env, "stuck_requests", "--older-than", "soon")
    nothing_stuck = manage(env, "stuck_requests")
    refused = manage(env, "retry_request", "424242")

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert {check["status"] for check in json.loads(passed.stdout)} == {"ok", "skip"}
    assert broken.returncode == 1
    assert any(line.startswith("FAIL  broker") for line in broken.stdout.splitlines())
    assert "Traceback" not in broken.stderr
    assert usage.returncode == 2
    assert "--older-than: 'soon' is not a number of minutes" in usage.stderr
    assert (nothing_stuck.returncode, nothing_stuck.stdout) == (0, "No stuck request.\n")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == "CommandError: There is no request #424242."
