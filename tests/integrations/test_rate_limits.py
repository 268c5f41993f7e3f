"""The shared rate limits (integrations/rate_limits.py) in-process: the bucket's arithmetic at
chosen moments (``now``), and what pipeline.execute does with a refused token or a throttle."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.utils import timezone

from integrations import ordering, pipeline, rate_limits
from integrations.models import AwsRequest, Batch, BatchStatus, RateBucket, RequestStatus
from integrations.tasks import execute_request
from operations import get_operation
from tests.factories import default_target, make_operator, make_request

OPERATION = "supplychain/SendDataIntegrationEvent"
INSTANCE = "8f0e6b1a-1111-4222-8333-444455556666"
ACCOUNT, REGION, SERVICE = "111122223333", "us-east-1", "supplychain"
T = 1_000_000.0  # a moment, in seconds since the epoch

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Supply Chain at 2 calls a second, bursts of 4, a quarter of it for interactive requests."""
    settings.PORTAL_RATE_LIMITS = {SERVICE: (2.0, 4.0)}
    settings.PORTAL_RATE_LIMIT_DEFAULT = (5.0, 5.0)
    settings.PORTAL_RATE_INTERACTIVE_RESERVE = 0.25
    return settings


def take(at: float, *, bulk: bool = False, account: str = ACCOUNT, region: str = REGION, service: str = SERVICE):
    return rate_limits.take(account, region, service, bulk=bulk, now=at)


def bucket(account: str = ACCOUNT, region: str = REGION, service: str = SERVICE) -> RateBucket:
    return RateBucket.objects.get(key=rate_limits.bucket_key(account, region, service))


class TestBucket:
    def test_a_full_bucket_gives_its_burst_at_once_then_refuses_saying_how_long_to_wait(self, limits):
        assert [take(T) for _ in range(4)] == [0.0] * 4

        assert take(T) == pytest.approx(0.5)  # one token at 2 a second
        assert bucket().tokens == pytest.approx(0.0)

    def test_the_bucket_refills_at_its_rate_and_no_further_than_its_burst(self, limits):
        for _ in range(4):
            take(T)

        assert take(T + 0.5) == 0.0
        assert take(T + 0.5) > 0
        assert [take(T + 100) for _ in range(5)][:4] == [0.0] * 4  # a long pause refills the burst only
        assert take(T + 100) > 0

    def test_a_bulk_take_leaves_the_interactive_reserve(self, limits):
        assert [take(T, bulk=True) for _ in range(3)] == [0.0] * 3

        # One token left, the reserve (a quarter of 4): a batch waits for a second one...
        assert take(T, bulk=True) == pytest.approx(0.5)
        # ...and a single request takes it at once.
        assert take(T) == 0.0
        assert take(T) > 0

    def test_a_bulk_take_is_possible_whatever_the_burst(self, settings):
        # A limit of one call a second has a burst of one: a batch must still go, one at a time.
        settings.PORTAL_RATE_LIMITS = {SERVICE: (1.0, 1.0)}
        settings.PORTAL_RATE_INTERACTIVE_RESERVE = 0.2

        assert take(T, bulk=True) == 0.0
        assert take(T + 1, bulk=True) == 0.0

    def test_a_limit_of_zero_is_no_limit_and_keeps_no_bucket(self, settings):
        settings.PORTAL_RATE_LIMITS = {SERVICE: (0.0, 1.0)}

        assert [take(T) for _ in range(100)] == [0.0] * 100
        assert rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T) is False
        assert not RateBucket.objects.exists()

    def test_a_service_without_its_own_limit_has_the_default(self, limits):
        assert [take(T, service="appfabric") for _ in range(5)] == [0.0] * 5
        assert take(T, service="appfabric") == pytest.approx(0.2)

    def test_buckets_are_separate_per_account_region_and_service(self, limits):
        for _ in range(4):
            take(T)
        assert take(T) > 0

        assert take(T, account="999988887777") == 0.0
        assert take(T, region="eu-west-1") == 0.0
        assert take(T, service="appfabric") == 0.0
        assert RateBucket.objects.count() == 4


class TestThrottle:
    def test_a_throttle_halves_the_rate_and_empties_the_bucket(self, limits):
        take(T)

        assert rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T) is True

        assert (bucket().rate, bucket().tokens, bucket().throttles) == (1.0, 0.0, 1)
        assert take(T) == pytest.approx(1.0)  # one token, at the halved rate

    def test_throttles_within_a_second_are_one_signal(self, limits):
        take(T)

        assert rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T) is True
        assert rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T) is False
        assert bucket().rate == 1.0

    def test_repeated_throttles_lower_the_rate_down_to_a_tenth_and_no_further(self, limits):
        take(T)
        rates = []
        for _ in range(6):
            RateBucket.objects.update(throttled_at=timezone.now() - dt.timedelta(seconds=2))
            rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T)
            rates.append(bucket().rate)

        assert rates == pytest.approx([1.0, 0.5, 0.25, 0.2, 0.2, 0.2])

    def test_the_rate_grows_back_over_time_to_the_configured_one(self, limits):
        take(T)
        rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T)

        take(T + 5)  # a twentieth of 2 a second, for 5 seconds: +0.5
        assert bucket().rate == pytest.approx(1.5)
        take(T + 60)
        assert bucket().rate == pytest.approx(2.0)

    def test_a_throttle_before_any_call_has_no_bucket_to_lower_and_says_so(self, limits):
        assert rate_limits.throttled(ACCOUNT, REGION, SERVICE, now=T) is False


class TestBulkBudget:
    def test_the_budget_is_the_tokens_above_the_reserve_plus_the_refill(self, limits):
        assert rate_limits.bulk_budget(ACCOUNT, REGION, SERVICE, 1.0, now=T) == pytest.approx(4 + 2)
        take(T)
        take(T)

        # 2 tokens left, 1 of them the reserve; 2 a second for 1 second.
        assert rate_limits.bulk_budget(ACCOUNT, REGION, SERVICE, 1.0, now=T) == pytest.approx(1 + 2)

    def test_without_a_limit_there_is_no_budget_to_keep_to(self, settings):
        settings.PORTAL_RATE_LIMITS = {SERVICE: (0.0, 1.0)}

        assert rate_limits.bulk_budget(ACCOUNT, REGION, SERVICE, 1.0, now=T) == float("inf")


# --- through the pipeline ----------------------------------------------------------------------------


@pytest.fixture
def aws(settings, sandbox, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 3
    settings.PORTAL_RETRY_BASE_SECONDS = 0.05
    settings.PORTAL_RETRY_CAP_SECONDS = 0.2
    monkeypatch.setattr(execute_request, "apply_async", lambda args, **kw: None)
    return sandbox


def an_event(group: str = "order-1", **fields: object) -> AwsRequest:
    params = {
        "instanceId": INSTANCE,
        "eventType": "scn.data.inboundorder",
        "eventGroupId": group,
        "data": json.dumps({"id": "1"}),
        "eventTimestamp": "2026-01-31T14:30:00Z",
    }
    key = ordering.order_key(get_operation(OPERATION), params, ACCOUNT, REGION)
    return make_request(OPERATION, parameters=params, order_key=key, enqueued_at=timezone.now(), **fields)


class TestThroughThePipeline:
    def test_a_request_refused_a_token_makes_no_call_and_no_attempt_and_waits(self, aws, limits):
        limits.PORTAL_RATE_LIMITS = {SERVICE: (0.01, 1.0)}  # a token every 100 seconds
        aws_request = an_event()
        assert rate_limits.take(ACCOUNT, REGION, SERVICE) == 0.0  # the only token
        before = timezone.now()

        assert pipeline.execute(aws_request.pk) == "paced by the rate limit"

        aws_request.refresh_from_db()
        assert (aws_request.status, aws_request.enqueued_at, aws_request.attempts.count()) == (
            RequestStatus.QUEUED,
            None,
            0,
        )
        # Until the bucket holds a token again.
        assert before + dt.timedelta(seconds=90) < aws_request.next_attempt_at
        assert aws_request.next_attempt_at <= timezone.now() + dt.timedelta(seconds=100.01)
        assert not aws.state.calls
        # Not claimed meanwhile: no claim, no lease.
        assert (aws_request.claim_id, aws_request.lease_expires_at) == (None, None)

    def test_a_paced_request_is_not_run_before_its_time_and_runs_after(self, aws, limits):
        limits.PORTAL_RATE_LIMITS = {SERVICE: (0.01, 1.0)}
        aws_request = an_event()
        rate_limits.take(ACCOUNT, REGION, SERVICE)
        assert pipeline.execute(aws_request.pk) == "paced by the rate limit"

        assert pipeline.execute(aws_request.pk) == "not claimable"
        AwsRequest.objects.filter(pk=aws_request.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
        RateBucket.objects.update(stamp=seconds_ago(200))

        assert pipeline.execute(aws_request.pk) == "succeeded"

    def test_a_throttle_from_aws_lowers_the_bucket_s_rate(self, aws, limits):
        aws.state.add_fault({"operation": OPERATION, "sequence": ["throttle"]})
        aws_request = an_event()

        assert pipeline.execute(aws_request.pk) == "retrying"

        assert (bucket().rate, bucket().throttles) == (1.0, 1)

    def test_a_5xx_from_aws_leaves_the_rate_alone(self, aws, limits):
        aws.state.add_fault({"operation": OPERATION, "sequence": ["internal"]})

        assert pipeline.execute(an_event().pk) == "retrying"

        assert (bucket().rate, bucket().throttles) == (2.0, 0)

    def test_a_batch_request_leaves_the_reserve_to_single_requests(self, aws, limits):
        limits.PORTAL_RATE_LIMITS = {SERVICE: (0.01, 4.0)}  # nothing refills while the test runs
        batch = Batch.objects.create(
            service=SERVICE, operation="SendDataIntegrationEvent", target=default_target(), account_id=ACCOUNT,
            region=REGION, created_by=make_operator("owner"), file_format="jsonl", status=BatchStatus.RUNNING,
        )  # fmt: skip
        bulk = an_event(group="a", batch=batch, batch_line=1)
        single = an_event(group="b")
        for _ in range(3):
            assert rate_limits.take(ACCOUNT, REGION, SERVICE) == 0.0

        # One token left, the reserve: the batch's request waits, the single one goes.
        assert pipeline.execute(bulk.pk) == "paced by the rate limit"
        assert pipeline.execute(single.pk) == "succeeded"
        assert [c["client_token"] for c in aws.state.calls] == [single.client_token]


def seconds_ago(seconds: float) -> float:
    """A bucket's stamp ``seconds`` ago, in its unit (seconds since the epoch)."""
    return time.time() - seconds
