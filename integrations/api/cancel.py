"""Cancelling a request through the API: the page's Cancel button, for scripts.

The same move as the page and ``manage.py cancel_request`` (``lifecycle.cancel``, a compare-and-set
from awaiting approval, queued or retrying), so a script that loses the race to a worker is told,
with the status the request has now, and nothing of its cancel is written.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import lifecycle
from integrations.api.serializers import RequestDetailSerializer
from integrations.api.views import JSONParser, _parameters_for
from integrations.models import AwsRequest


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=True,
        max_length=lifecycle.REASON_LIMIT,
        help_text=f"Why, kept with the request and shown on its page (optional; at most {lifecycle.REASON_LIMIT} "
        "characters).",
    )


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the request was not cancelled, in words.")
    status = serializers.CharField(help_text="The request's status now (running, succeeded, …).")


class CancelView(APIView):
    # JSON like the rest of the API; a form body, or none at all, too (a reason is optional).
    parser_classes = [JSONParser, parsers.FormParser, parsers.MultiPartParser]

    @extend_schema(
        request=CancelSerializer,
        responses={
            200: RequestDetailSerializer,
            400: OpenApiResponse(description="The reason cannot be kept as written (too long, NUL characters)."),
            403: OpenApiResponse(
                description="You may see the request but not cancel it: only its author or an approver may."
            ),
            404: OpenApiResponse(description="No such request, or not one you may see."),
            409: OpenApiResponse(
                RefusalSerializer,
                description="It can no longer be cancelled: it is running (its AWS call may be in flight) or finished.",
            ),
        },
        examples=[OpenApiExample("With a reason", value={"reason": "Wrong tenant."}, request_only=True)],
        summary="Cancel a request that is awaiting approval, queued or waiting for a retry",
        description="Never a running request: its AWS call may already have reached AWS. Who cancelled it and "
        "why are kept with the request. A request a worker took meanwhile is refused with 409 and its status.",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = cast(User, request.user)
        aws_request = get_object_or_404(
            AwsRequest.objects.select_related("created_by", "target").visible_to(user), pk=pk
        )
        if not lifecycle.can_cancel(user, aws_request):
            raise PermissionDenied("You may not cancel this request: only its author or an approver may.")
        body = CancelSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": body.errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            lifecycle.cancel(aws_request, user, body.validated_data["reason"])
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except lifecycle.InvalidReasonError as exc:
            return Response({"errors": {"reason": [str(exc)]}}, status=status.HTTP_400_BAD_REQUEST)
        except lifecycle.CancelError as exc:
            return Response({"detail": str(exc), "status": exc.status}, status=status.HTTP_409_CONFLICT)
        cancelled = AwsRequest.objects.select_related("created_by", "target", "cancelled_by").get(pk=pk)
        context = {"request": request, "parameters_for": _parameters_for(user)}
        return Response(RequestDetailSerializer(cancelled, context=context).data)
