"""Requests that must reach AWS one at a time, in the order they were recorded.

An operation declares the members that make a group (``Operation.ordered_by``: Supply Chain's
instanceId, eventType and eventGroupId); with the target's account and region they give each
request an ``order_key``. A request of a group may be claimed by a worker only when no earlier
request of its group *holds* it:

- one that is not finished yet (awaiting approval, queued, running, retrying), whatever the
  reason: a throttle and its retry, a dead worker's lease, a redelivered message;
- one that failed and that nobody has released: a later event must not overtake a failed one
  silently. Its owner releases the group (``lifecycle.release``) or retries it.

The rule is checked where a worker claims a request (``lifecycle._claim``, in the claim's own
compare-and-set), so no path to a call (the feeder, the sweeper, a redelivery, a takeover) can
break it. A refused claim parks the request (nothing is sent for it); whoever finishes the
request holding the group hands the next one over (``next_in_group``), and the sweeper and the
batch feeder pick up any the hand-over missed.

"The order recorded" is the order of the requests' ids. Requests recorded concurrently in one
group (a form submitted while a batch is being recorded) are ordered by the id each insert took.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q

from integrations.models import AwsRequest, RequestStatus
from operations import Operation

S = RequestStatus
UNFINISHED = (S.AWAITING_APPROVAL, S.QUEUED, S.RUNNING, S.RETRYING)


def order_key(operation: Operation, params: Mapping[str, Any], account_id: str, region: str) -> str | None:
    """The group a request belongs to, as a digest; None when the operation runs in any order."""
    if not operation.ordered_by:
        return None
    values = [operation.key, account_id, region, *(params.get(member) for member in operation.ordered_by)]
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def holding() -> Q:
    """Requests that hold their group: unfinished, or failed and not released."""
    return Q(status__in=UNFINISHED) | Q(status=S.FAILED, order_released=False)


def earlier_holding() -> Exists:
    """For a filter on requests: an earlier request of the same group holds it."""
    return Exists(
        AwsRequest.objects.filter(holding(), order_key=OuterRef("order_key"), pk__lt=OuterRef("pk")).values("pk")
    )


def group_clear() -> Q:
    """For a filter on requests: nothing earlier holds the request's group (or it has none)."""
    return Q(order_key__isnull=True) | ~Q(earlier_holding())


def holder(aws_request: AwsRequest) -> AwsRequest | None:
    """The earliest request holding ``aws_request``'s group before it; None if it may go."""
    if not aws_request.order_key:
        return None
    return (
        AwsRequest.objects.filter(holding(), order_key=aws_request.order_key, pk__lt=aws_request.pk)
        .order_by("pk")
        .only("pk", "status", "batch_id", "batch_line")
        .first()
    )


def next_in_group(key: str) -> tuple[int, str, int | None] | None:
    """The first request still holding group ``key``: (id, status, batch id); None if it is empty."""
    row = (
        AwsRequest.objects.filter(holding(), order_key=key)
        .order_by("pk")
        .values_list("pk", "status", "batch_id")
        .first()
    )
    return None if row is None else (row[0], row[1], row[2])
