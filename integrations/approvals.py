"""Four-eyes approval: a request that needs it runs only after another person approves it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from integrations import pipeline
from integrations.models import ApprovalDecision, AwsRequest, RequestStatus
from integrations.permissions import APPROVE


class DecisionError(Exception):
    """The request cannot be decided (any more): it is not awaiting approval."""


def can_decide(user, request: AwsRequest) -> bool:
    return user.has_perm(APPROVE) and request.created_by_id != user.pk


def decide(request: AwsRequest, user, *, approve: bool, reason: str = "") -> ApprovalDecision:
    """Approve (and enqueue) or reject a request; each request is decided once, never by its author."""
    if not user.has_perm(APPROVE):
        raise PermissionDenied("You may not approve requests.")
    if request.created_by_id == user.pk:
        raise PermissionDenied("Nobody approves their own request.")
    if not approve and not reason.strip():
        raise DecisionError("Say why the request is rejected.")
    with transaction.atomic():
        # Compare-and-set: of two people deciding at once, one wins and the other is told.
        moved = AwsRequest.objects.filter(pk=request.pk, status=RequestStatus.AWAITING_APPROVAL).update(
            status=RequestStatus.QUEUED if approve else RequestStatus.REJECTED,
            **({} if approve else {"error_code": "Rejected", "error_message": reason.strip()}),
        )
        if not moved:
            raise DecisionError("This request is not awaiting approval.")
        decision = ApprovalDecision.objects.create(
            request=request, decided_by=user, approved=approve, reason=reason.strip()
        )
        if approve:
            transaction.on_commit(lambda: pipeline.dispatch(request.pk), robust=True)
        else:
            AwsRequest.objects.filter(pk=request.pk).update(finished_at=decision.decided_at)
    return decision
