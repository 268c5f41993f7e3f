"""Prometheus metrics, read from the database at scrape time.

The workers, beat and the web servers share only the database, and any of them may run on
another host: counters kept in one process would see only that process's part. The request and
attempt rows (never deleted) and the heartbeat rows already hold everything. Rows that can no
longer change (finished attempts, final requests) are counted once and the totals kept
(``MetricsRollup``), so a scrape reads only the rows added since: milliseconds at a million
requests and three million attempts, where counting everything took five seconds. Counters come
from rows that only ever grow in number, so they never go down; histograms are built from
timestamps in SQL, on SQLite and PostgreSQL alike.

docs/monitoring.md lists every metric, its labels and what to alert on.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from integrations.models import (
    FINISHED_STATUSES,
    Attempt,
    AttemptKind,
    AttemptOutcome,
    AwsRequest,
    MetricsRollup,
    ProcessHeartbeat,
    RequestStatus,
)

logger = logging.getLogger(__name__)

# Upper bounds, in seconds. One AWS call is bounded by the connect and read timeouts (5 + 20 s
# by default); the wait before the first attempt is normally under a second, and minutes when
# the broker or the workers are down or the queue is long.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
FIRST_ATTEMPT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
# Waiting for a worker: queued (never started), retrying (waiting for its next attempt).
WAITING_STATUSES = (RequestStatus.QUEUED, RequestStatus.RETRYING)
# An attempt closed as interrupted was closed when another worker took over, not when the call
# returned: its duration says how long the lease was, not how long AWS took.
TIMED_OUTCOMES = (AttemptOutcome.SUCCEEDED, AttemptOutcome.RETRYABLE_ERROR, AttemptOutcome.FAILED)


def _seconds(value: dt.timedelta | float | None) -> float:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value or 0.0)


def _histogram(
    name: str, documentation: str, buckets: Sequence[float], row: dict[str, Any], prefix: str
) -> HistogramMetricFamily:
    """A histogram from one aggregate row holding ``{prefix}_le_{i}`` counts, ``_count`` and ``_sum``."""
    cumulative = [(repr(bound), row[f"{prefix}_le_{i}"]) for i, bound in enumerate(buckets)]
    cumulative.append(("+Inf", row[f"{prefix}_count"]))
    return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=_seconds(row[f"{prefix}_sum"]))


def _bucket_counts(field: str, buckets: Sequence[float], prefix: str, within: Q) -> dict[str, Any]:
    """Aggregates counting the rows of ``within`` whose ``field`` (a duration) is at most each bound."""
    counts: dict[str, Any] = {
        f"{prefix}_le_{i}": Count("id", filter=within & Q(**{f"{field}__lte": dt.timedelta(seconds=bound)}))
        for i, bound in enumerate(buckets)
    }
    counts[f"{prefix}_count"] = Count("id", filter=within)
    counts[f"{prefix}_sum"] = Sum(field, filter=within)
    return counts


# Ids are handed out before the rows commit: a row younger than this may still be joined by one
# with a lower id. The marks of what is counted never pass a row this young.
SETTLE = dt.timedelta(seconds=60)
Totals = dict[str, Any]


def _add(totals: Totals, more: Totals) -> Totals:
    """Counts added key by key, nested dicts included (the parts of a counter are additive)."""
    out = dict(totals)
    for key, value in more.items():
        if isinstance(value, dict):
            out[key] = _add(out.get(key, {}), value)
        elif value is not None:
            out[key] = out.get(key, 0) + value
    return out


def _attempt_totals(rows: QuerySet[Attempt]) -> Totals:
    """What ``rows`` add to the attempt counters: by outcome and error code, and the histograms.

    The creates' attempts only: a read back (the confirmation of a created resource) is not an
    attempt at the operation, and its not-found answers would read as the operation's errors.
    """
    rows = rows.filter(kind=AttemptKind.CREATE)
    by_code = {
        f"{group['outcome']}|{group['error_code']}": group["n"]
        for group in rows.exclude(outcome=AttemptOutcome.IN_PROGRESS)
        .order_by()
        .values("outcome", "error_code")
        .annotate(n=Count("id"))
    }
    row = (
        rows.order_by()
        .annotate(
            call=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()),
            wait=ExpressionWrapper(F("started_at") - F("request__created_at"), output_field=DurationField()),
        )
        .aggregate(
            in_progress=Count("id", filter=Q(outcome=AttemptOutcome.IN_PROGRESS)),
            **_bucket_counts("call", CALL_BUCKETS, "call", Q(outcome__in=TIMED_OUTCOMES, finished_at__isnull=False)),
            **_bucket_counts("wait", FIRST_ATTEMPT_BUCKETS, "wait", Q(number=1)),
        )
    )
    histograms = {k: _seconds(v) if isinstance(v, dt.timedelta) else v for k, v in row.items() if k != "in_progress"}
    return {"by_code": by_code, "histograms": histograms, "in_progress": row["in_progress"]}


def _request_totals(rows: QuerySet[AwsRequest]) -> Totals:
    """What ``rows`` add to the request gauges and the hand-off counter."""
    row = rows.order_by().aggregate(
        handoffs=Sum("handoffs"),
        **{f"status_{status.value}": Count("id", filter=Q(status=status)) for status in RequestStatus},
    )
    return {key: value or 0 for key, value in row.items()}


def _count_attempts(through: int, pending: list[int], kept: Totals, now: dt.datetime) -> tuple[int, list[int], Totals]:
    """Count the attempts settled since the last scrape into ``kept``; return the new mark and pending ids.

    Attempts past the mark and old enough (the settling time) are counted if they are finished;
    the others (in progress) are remembered by id, ``pending``, and looked at again at every
    scrape until they finish.
    """
    rows = Attempt.objects.order_by()
    settled = rows.filter(pk__gt=through, started_at__lt=now - SETTLE).aggregate(m=Max("pk"))["m"]
    settled = max(settled or through, through)
    if settled == through and not pending:
        return through, pending, kept
    window = rows.filter(Q(pk__gt=through, pk__lte=settled) | Q(pk__in=pending))
    still_open = sorted(window.filter(outcome=AttemptOutcome.IN_PROGRESS).values_list("pk", flat=True))
    # By the ids just read: an attempt that finishes in between is counted at the next scrape, once.
    kept = _add(kept, _attempt_totals(window.exclude(pk__in=still_open)))
    return settled, still_open, kept


def live_attempts(rollup: MetricsRollup) -> QuerySet[Attempt]:
    """The attempts not in the kept totals: past the mark, or pending."""
    return Attempt.objects.filter(Q(pk__gt=rollup.attempts_through) | Q(pk__in=rollup.attempts_pending))


UNFINISHED_STATUSES = [status for status in RequestStatus if status not in FINISHED_STATUSES]


def live_requests(rollup: MetricsRollup) -> QuerySet[AwsRequest]:
    """The requests not in the kept totals: not final (read by the status index), or finished since."""
    if rollup.finished_through is None:
        return AwsRequest.objects.all()
    # A final request without a finish time (none is made so; an old or hand-made row) is live too.
    return AwsRequest.objects.filter(
        Q(status__in=UNFINISHED_STATUSES) | Q(finished_at__isnull=True) | Q(finished_at__gt=rollup.finished_through)
    )


def counted(now: dt.datetime) -> MetricsRollup:
    """The rollup, moved forward to what has settled since the last scrape.

    Under a row lock, so two scrapes at once count each row once: the second waits, then finds
    the marks moved. A request reaches its final status once (``finished_at``; a reopen resets the
    count), so finished requests are counted by that time, up to the settling time ago.
    """
    with transaction.atomic():
        rollup, _ = MetricsRollup.objects.select_for_update().get_or_create(pk=1)
        rollup.attempts_through, rollup.attempts_pending, rollup.attempt_totals = _count_attempts(
            rollup.attempts_through, rollup.attempts_pending, rollup.attempt_totals, now
        )
        through = now - SETTLE
        finished = AwsRequest.objects.filter(status__in=FINISHED_STATUSES, finished_at__lte=through)
        if rollup.finished_through is not None:
            finished = finished.filter(finished_at__gt=rollup.finished_through)
        rollup.request_totals = _add(rollup.request_totals, _request_totals(finished))
        rollup.finished_through = through
        rollup.save()
    return rollup


class PortalCollector(Collector):
    """Every portal metric, from the database, at the moment of the scrape.

    Rows that can no longer change are counted once and kept (``MetricsRollup``); each scrape
    reads only the rows past the marks, so it costs the same few indexed queries at a million
    requests as at ten.
    """

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        rollup = counted(now)
        attempts = _add(rollup.attempt_totals, _attempt_totals(live_attempts(rollup)))
        live = live_requests(rollup)
        requests = _add(rollup.request_totals, _request_totals(live))
        yield from self._requests(now, requests, live)
        yield from self._attempts(attempts)
        yield from self._heartbeats(now)

    def _requests(self, now: dt.datetime, totals: Totals, live: QuerySet[AwsRequest]) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "portal_requests", "Requests recorded, by their current status.", labels=["status"]
        )
        for status in RequestStatus:
            by_status.add_metric([status.value], totals.get(f"status_{status.value}", 0))
        yield by_status
        # Every waiting request is live (waiting is not final).
        oldest_row = (
            live.filter(status__in=WAITING_STATUSES)
            .order_by()
            .aggregate(
                **{f"oldest_{status.value}": Min("created_at", filter=Q(status=status)) for status in WAITING_STATUSES}
            )
        )
        oldest = GaugeMetricFamily(
            "portal_oldest_waiting_request_age_seconds",
            "Age of the oldest request waiting for a worker (0 when none waits), by status.",
            labels=["status"],
        )
        for status in WAITING_STATUSES:
            created = oldest_row[f"oldest_{status.value}"]
            oldest.add_metric([status.value], max(0.0, (now - created).total_seconds()) if created else 0.0)
        yield oldest
        yield CounterMetricFamily(
            "portal_sweeper_handoffs",
            "Times the sweeper handed a request to the broker again (lost message, broker outage, dead worker).",
            value=totals.get("handoffs", 0),
        )

    def _attempts(self, totals: Totals) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "portal_aws_attempts",
            "AWS calls made and finished, by outcome and AWS error code (empty on success).",
            labels=["outcome", "error_code"],
        )
        for key, n in sorted(totals.get("by_code", {}).items()):
            outcome, _, error_code = key.partition("|")
            attempts.add_metric([outcome, error_code], n)
        yield attempts
        row: dict[str, float] = {
            f"{prefix}_le_{i}": 0
            for prefix, buckets in (("call", CALL_BUCKETS), ("wait", FIRST_ATTEMPT_BUCKETS))
            for i in range(len(buckets))
        }
        row.update(call_count=0, call_sum=0.0, wait_count=0, wait_sum=0.0)
        row.update(totals.get("histograms", {}))
        yield GaugeMetricFamily(
            "portal_aws_attempts_in_progress", "AWS calls under way (or left open by a worker that died).",
            value=totals.get("in_progress", 0),
        )  # fmt: skip
        yield _histogram(
            "portal_aws_call_duration_seconds",
            "How long AWS calls took, from the attempt's start to its answer (interrupted calls left out).",
            CALL_BUCKETS,
            row,
            "call",
        )
        yield _histogram(
            "portal_submit_to_first_attempt_seconds",
            "From a request's submission to the start of its first AWS call.",
            FIRST_ATTEMPT_BUCKETS,
            row,
            "wait",
        )

    def _heartbeats(self, now: dt.datetime) -> Iterator[Metric]:
        fresh_since = now - dt.timedelta(seconds=settings.PORTAL_READY_HEARTBEAT_AGE_SECONDS)
        latest = {
            group["kind"]: group
            for group in ProcessHeartbeat.objects.order_by()
            .values("kind")
            .annotate(seen=Max("seen_at"), alive=Count("id", filter=Q(seen_at__gte=fresh_since)))
        }
        age = GaugeMetricFamily(
            "portal_heartbeat_age_seconds",
            "Seconds since the most recent heartbeat of any process of this kind (absent: never seen).",
            labels=["kind"],
        )
        alive = GaugeMetricFamily(
            "portal_heartbeat_processes",
            "Processes of this kind whose heartbeat is fresh (within PORTAL_READY_HEARTBEAT_AGE_SECONDS).",
            labels=["kind"],
        )
        for kind in ProcessHeartbeat.Kind:
            group = latest.get(kind.value)
            if group is not None:
                age.add_metric([kind.value], max(0.0, (now - group["seen"]).total_seconds()))
            alive.add_metric([kind.value], group["alive"] if group else 0)
        yield age
        yield alive


# Only the portal's own metrics: the default registry's process and platform metrics would
# describe whichever web process answered the scrape, not the portal.
registry = CollectorRegistry(auto_describe=False)
registry.register(PortalCollector())


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@login_not_required
@require_safe
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics for a scraper holding PORTAL_METRICS_TOKEN; nothing at all when no token is set."""
    expected = settings.PORTAL_METRICS_TOKEN
    if not expected:
        raise Http404("Metrics are off: PORTAL_METRICS_TOKEN is not set.")
    given = _bearer_token(request)
    if given is None:
        response = HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse("Wrong token.\n", status=403, content_type="text/plain")
    try:
        body = generate_latest(registry)
    except Exception as error:  # the database is down: the scrape fails, the web process does not
        logger.warning("Metrics: could not read the database (%s)", type(error).__name__)
        return HttpResponse("The database is unavailable.\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
