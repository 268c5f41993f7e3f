"""/metrics: the portal's state read from the database at scrape time, in Prometheus's text format,
for a scraper holding PORTAL_METRICS_TOKEN and nobody else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from integrations import lifecycle
from integrations.models import Attempt, AwsRequest, MetricsRollup, ProcessHeartbeat
from tests.factories import make_operator, make_request
from tests.portal.test_health import unreachable_database

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def token(settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def scrape(client, token):
    """The samples of one scrape, as {(name, labels as sorted tuples): value}."""

    def run() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.content
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return run


# An hour before each test starts: every moment of a test counts from it, so durations are exact.
START = timezone.now()


@pytest.fixture(autouse=True)
def start_an_hour_ago():
    global START
    START = timezone.now() - dt.timedelta(hours=1)


def at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


def request_with(status: str = "succeeded", created: float = 0, **fields) -> AwsRequest:
    aws_request = make_request(status=status, **fields)
    AwsRequest.objects.filter(pk=aws_request.pk).update(created_at=at(created))
    return aws_request


def attempt(aws_request, number=1, outcome="succeeded", start=0.0, took=None, error_code="") -> Attempt:
    return Attempt.objects.create(
        request=aws_request,
        number=number,
        outcome=outcome,
        started_at=at(start),
        finished_at=at(start + took) if took is not None else None,
        error_code=error_code,
        client_token=aws_request.client_token,
    )


# --- who may scrape ----------------------------------------------------------------------------------


def test_metrics_do_not_exist_without_a_token_set(client, settings):
    settings.PORTAL_METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get("/metrics").status_code == 404


def test_a_scrape_without_a_token_is_asked_for_one(client, token):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic c2NyYXBlOnRva2Vu", "Bearer", f"Token {TOKEN}", TOKEN])
def test_a_scrape_with_another_scheme_is_asked_for_a_bearer_token(client, token, header):
    assert client.get("/metrics", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize("given", ["wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "ëëë"])
def test_a_scrape_with_the_wrong_token_is_refused(client, token, given):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {given}"})
    assert response.status_code == 403
    assert b"portal_" not in response.content


def test_the_scheme_is_not_case_sensitive(client, token, db):
    assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_metrics_need_no_session_and_set_no_cookie(client, token, db):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert not response.cookies


def test_a_scrape_with_the_database_down_is_a_503_not_a_500(client, token, transactional_db):
    with unreachable_database():
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert response.content == b"The database is unavailable.\n"


# --- what they say -----------------------------------------------------------------------------------


def test_requests_are_counted_by_status_with_zero_for_the_others(db, scrape):
    request_with("succeeded")
    request_with("succeeded")
    request_with("failed")
    samples = scrape()
    assert samples[("portal_requests", (("status", "succeeded"),))] == 2
    assert samples[("portal_requests", (("status", "failed"),))] == 1
    assert samples[("portal_requests", (("status", "queued"),))] == 0
    assert samples[("portal_requests", (("status", "awaiting_approval"),))] == 0


def test_finished_attempts_are_counted_by_outcome_and_error_code(db, scrape):
    aws_request = request_with("failed")
    attempt(aws_request, 1, "retryable_error", took=1, error_code="ThrottlingException")
    attempt(aws_request, 2, "retryable_error", took=1, error_code="ThrottlingException")
    attempt(aws_request, 3, "failed", took=1, error_code="ValidationException")
    attempt(request_with(), 1, "succeeded", took=1)
    attempt(request_with("running"), 1, "in_progress")
    samples = scrape()
    name = "portal_aws_attempts_total"
    assert samples[(name, (("error_code", "ThrottlingException"), ("outcome", "retryable_error")))] == 2
    assert samples[(name, (("error_code", "ValidationException"), ("outcome", "failed")))] == 1
    assert samples[(name, (("error_code", ""), ("outcome", "succeeded")))] == 1
    assert not [key for key in samples if key[0] == name and ("outcome", "in_progress") in key[1]]
    assert samples[("portal_aws_attempts_in_progress", ())] == 1


def test_aws_call_latency_is_a_histogram_of_finished_calls_leaving_interrupted_ones_out(db, scrape):
    aws_request = request_with("failed")
    attempt(aws_request, 1, "retryable_error", took=0.2)
    attempt(aws_request, 2, "interrupted", took=55)  # closed at a takeover: not how long AWS took
    attempt(aws_request, 3, "failed", took=3)
    attempt(request_with(), 1, "succeeded", took=40)
    attempt(request_with("running"), 1, "in_progress")
    samples = scrape()

    def bucket(le: str) -> float:
        return samples[("portal_aws_call_duration_seconds_bucket", (("le", le),))]

    assert (bucket("0.1"), bucket("0.25"), bucket("2.5"), bucket("5.0"), bucket("30.0"), bucket("60.0")) == (
        0,
        1,
        1,
        2,
        2,
        3,
    )
    assert bucket("+Inf") == 3
    assert samples[("portal_aws_call_duration_seconds_count", ())] == 3
    assert samples[("portal_aws_call_duration_seconds_sum", ())] == pytest.approx(43.2)


def test_submit_to_first_attempt_counts_only_each_requests_first_attempt(db, scrape):
    quick = request_with(created=0)
    attempt(quick, 1, "retryable_error", start=0.4, took=1)
    attempt(quick, 2, "succeeded", start=100, took=1)  # a retry, not the first wait
    slow = request_with(created=10)
    attempt(slow, 1, "succeeded", start=10 + 75, took=1)
    request_with("queued", created=20)  # no attempt yet: not in the histogram
    samples = scrape()

    def bucket(le: str) -> float:
        return samples[("portal_submit_to_first_attempt_seconds_bucket", (("le", le),))]

    assert (bucket("0.25"), bucket("0.5"), bucket("60.0"), bucket("120.0"), bucket("+Inf")) == (0, 1, 1, 2, 2)
    assert samples[("portal_submit_to_first_attempt_seconds_sum", ())] == pytest.approx(75.4)


def test_the_oldest_waiting_request_is_measured_per_waiting_status(db, scrape):
    request_with("queued", created=0)  # an hour ago
    request_with("queued", created=3000)
    request_with("retrying", created=3500)
    request_with("failed", created=-7200)  # older, but not waiting
    samples = scrape()
    queued = samples[("portal_oldest_waiting_request_age_seconds", (("status", "queued"),))]
    retrying = samples[("portal_oldest_waiting_request_age_seconds", (("status", "retrying"),))]
    assert 3600 <= queued < 3600 + 60
    assert 100 <= retrying < 100 + 60


def test_no_waiting_request_is_an_age_of_zero(db, scrape):
    request_with("succeeded", created=0)
    samples = scrape()
    assert samples[("portal_oldest_waiting_request_age_seconds", (("status", "queued"),))] == 0


def test_sweeper_handoffs_are_the_sum_over_every_request(db, scrape):
    assert scrape()[("portal_sweeper_handoffs_total", ())] == 0
    request_with("succeeded", handoffs=2)
    request_with("queued", handoffs=3)
    request_with("failed")
    assert scrape()[("portal_sweeper_handoffs_total", ())] == 5


def test_heartbeat_ages_are_of_the_freshest_process_of_each_kind(db, scrape, settings):
    settings.PORTAL_READY_HEARTBEAT_AGE_SECONDS = 30
    now = timezone.now()
    for name, seconds_ago in (("w-old@host", 600), ("w-new@host", 2), ("w-also@host", 10)):
        seen = now - dt.timedelta(seconds=seconds_ago)
        ProcessHeartbeat.objects.create(name=name, kind="worker", seen_at=seen, started_at=seen)
    samples = scrape()
    assert 2 <= samples[("portal_heartbeat_age_seconds", (("kind", "worker"),))] < 2 + 60
    assert samples[("portal_heartbeat_processes", (("kind", "worker"),))] == 2
    # Beat never seen: no age (alert on its absence), and no fresh process.
    assert ("portal_heartbeat_age_seconds", (("kind", "beat"),)) not in samples
    assert samples[("portal_heartbeat_processes", (("kind", "beat"),))] == 0


def test_a_scrape_costs_the_same_few_queries_however_many_rows_there_are(db, client, token):
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def queries_of_a_scrape(requests: int) -> int:
        for n in range(requests):
            status = ("queued", "retrying", "failed", "succeeded")[n % 4]
            aws_request = request_with(status, handoffs=1)
            attempt(aws_request, 1, "retryable_error", took=1, error_code=f"Code{status}")
            attempt(aws_request, 2, "succeeded", start=5, took=1)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/metrics", headers=headers).status_code == 200
        return len(queries)

    queries_of_a_scrape(0)  # the first scrape counts what there is

    assert queries_of_a_scrape(4) == queries_of_a_scrape(40)


def test_rows_that_can_no_longer_change_are_counted_once_and_kept(db, scrape):
    for n in range(6):
        attempt(request_with("succeeded"), 1, "succeeded", took=n)
    scrape()
    rollup = MetricsRollup.objects.get()
    counted_through = rollup.attempts_through
    assert counted_through == Attempt.objects.order_by("pk").last().pk

    # Rows already counted are not read again: changing one behind the portal's back changes nothing.
    Attempt.objects.filter(pk=counted_through).update(error_code="EditedAfterwards")
    samples = scrape()

    assert samples[("portal_aws_attempts_total", (("error_code", ""), ("outcome", "succeeded")))] == 6
    assert ("portal_aws_attempts_total", (("error_code", "EditedAfterwards"), ("outcome", "succeeded"))) not in samples


def test_counting_in_steps_gives_what_counting_everything_at_once_gives(db, scrape):
    def add(round_: int) -> None:
        open_request = request_with("running", created=round_)
        attempt(open_request, 1, "retryable_error", start=round_, took=1, error_code="ThrottlingException")
        attempt(open_request, 2, "in_progress", start=round_ + 2)  # holds the mark back
        attempt(request_with("failed", created=round_, handoffs=1), 1, "failed", start=round_ + 1, took=2)
        attempt(request_with("succeeded", created=round_), 1, "succeeded", start=round_ + 3, took=0.5)
        request_with("queued", created=round_)
        # Younger than the settling time: past the mark whatever else is finished.
        young = make_request(status="succeeded")
        Attempt.objects.create(
            request=young, number=1, outcome="succeeded", started_at=timezone.now(), finished_at=timezone.now(),
            client_token=young.client_token,
        )  # fmt: skip

    stepwise = []
    for round_ in range(3):
        add(round_ * 10)
        stepwise = scrape()
        # Open attempts the mark has passed are remembered, to be counted once they finish.
        rollup = MetricsRollup.objects.get()
        passed = Attempt.objects.filter(outcome="in_progress", pk__lte=rollup.attempts_through)
        assert set(passed.values_list("pk", flat=True)) == set(rollup.attempts_pending)
    Attempt.objects.filter(outcome="in_progress").update(outcome="interrupted", finished_at=timezone.now())
    AwsRequest.objects.filter(status="running").update(status="succeeded")
    stepwise = scrape()

    MetricsRollup.objects.all().delete()
    at_once = scrape()

    def timeless(samples: dict) -> dict:
        # The age of the oldest waiting request grows meanwhile; sums added in steps differ in the
        # last bits of a float.
        return {key: round(value, 6) for key, value in samples.items() if "oldest_waiting" not in key[0]}

    assert timeless(stepwise) == timeless(at_once)
    assert at_once[("portal_aws_attempts_total", (("error_code", ""), ("outcome", "interrupted")))] == 3


def test_a_reopened_request_is_counted_again_by_its_new_status(db, scrape, settings):
    failed = request_with("failed", created=0)
    attempt(failed, 1, "failed", took=1, error_code="ThrottlingException")
    assert scrape()[("portal_requests", (("status", "failed"),))] == 1
    assert MetricsRollup.objects.get().finished_through is not None  # counted, and kept

    lifecycle.reopen(failed, make_operator("operator-who-reopens"))
    samples = scrape()

    assert samples[("portal_requests", (("status", "failed"),))] == 0
    assert samples[("portal_requests", (("status", "queued"),))] == 1
