"""The API of batches (integrations/batches.py): upload, report, submit, progress, steer.

The same steps as the batch pages, for scripts: upload a file (it is checked by a worker), read
the report, submit, follow the progress, pause, resume or cancel the rest, and release or retry a
failed request that holds its event group. What may be done and by whom is batches.py's; here a
refusal becomes its HTTP answer: a permission 403, a state that does not allow it 409, input that
is wrong 400 ({"errors": {field: [messages]}}, as everywhere in the API).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, parsers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import batches, lifecycle, uploads
from integrations.api.pagination import CURSOR_PARAM, INVALID_CURSOR
from integrations.api.serializers import (
    BatchActionSerializer,
    BatchDetailSerializer,
    BatchSerializer,
    ErrorsSerializer,
    FailureSerializer,
    ReportLineSerializer,
    RequestDetailSerializer,
    UploadSerializer,
)
from integrations.api.views import TARGET_REFUSED, JSONParser, _parameters_for
from integrations.models import AwsRequest, AwsTarget, Batch, BatchLine
from integrations.permissions import operation_or_404
from operations import operation_key

# What each action of a batch needs of the body; a name not here is a 404.
BATCH_ACTIONS = ("submit", "discard", "pause", "resume", "cancel", "approve", "reject")
GROUP_ACTIONS = ("release", "retry")
ERRORS = OpenApiResponse(ErrorsSerializer, description="The input is wrong: messages per field.")
CONFLICT = OpenApiResponse(
    ErrorsSerializer, description="The batch's state does not allow it now: {'errors': {'batch': [why]}}."
)
FORBIDDEN = OpenApiResponse(description="You may see it but not do this to it.")
NOT_FOUND = OpenApiResponse(description="No such batch or request, not one you may see, or no such action.")


def _user(request: Request) -> User:
    """The caller: every view here requires authentication (IsAuthenticated), so never anonymous."""
    return cast(User, request.user)


def _errors(field: str, message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"errors": {field: [message]}}, status=code)


def _visible(user: User) -> QuerySet[Batch]:
    return batches.visible_to(user).select_related("target", "decided_by")


def _batch_or_404(request: Request, pk: int) -> Batch:
    return get_object_or_404(_visible(_user(request)), pk=pk)


def _detail(request: Request, batch: Batch) -> dict[str, Any]:
    return BatchDetailSerializer(batch, context={"request": request}).data


class Pages(CursorPagination):
    """Pages of 50 by a cursor (no COUNT(*) and no OFFSET however far one pages), answered as the
    history's are: ``next``, ``previous`` and ``results``; a cursor the API did not make is a 400."""

    page_size = 50
    cursor_query_param = CURSOR_PARAM

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({CURSOR_PARAM: [INVALID_CURSOR]}) from None


class NewestFirst(Pages):
    ordering = "-id"  # ids grow with the upload: newest first, and unique


class ByLine(Pages):
    ordering = "number"


class ByBatchLine(Pages):
    ordering = "batch_line"


# --- upload ------------------------------------------------------------------------------------------


class BatchUploadView(APIView):
    parser_classes = [parsers.MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before anything reads the body (the session's CSRF check reads it while authenticating):
        # the file goes to a temporary file, and no further than PORTAL_BATCH_MAX_BYTES.
        self.upload = uploads.accept(request._request)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="batches_upload",
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: BatchDetailSerializer,
            400: ERRORS,
            403: OpenApiResponse(description="You may not run this operation, or use this target."),
            404: OpenApiResponse(description="No such operation, or it does not take uploaded files."),
        },
        summary="Upload a file of events as a batch, to be checked line by line",
        description="A CSV file (its header names the operation's members; a structure, list or map as a "
        "JSON cell) or JSON lines (one object of members a line). The answer is the batch, being "
        "checked: poll it until its status is `draft`, read its report, then submit it. Nothing is "
        "recorded before that.",
    )
    def post(self, request: Request, service: str, name: str) -> Response:
        operation = operation_or_404(operation_key(service, name))
        if not operation.bulk_upload:
            raise Http404(f"{operation.key} does not take uploaded files")
        user = _user(request)
        try:
            # Asked before the body is judged: a forbidden operation is a 403 whatever is posted.
            lifecycle.authorize(user, operation)
        except lifecycle.OperationNotPermitted as exc:
            raise PermissionDenied(str(exc)) from None
        body = UploadSerializer(data=request.data)
        if self.upload.too_large:
            return _errors("file", uploads.too_large_message())
        if not body.is_valid():
            return Response({"errors": body.errors}, status=status.HTTP_400_BAD_REQUEST)
        target = AwsTarget.objects.filter(name=body.validated_data["target"]).first()
        if target is None:
            raise PermissionDenied(TARGET_REFUSED)
        uploaded = body.validated_data["file"]
        try:
            batch = batches.upload(
                operation,
                user,
                target,
                uploads.uploaded_stream(uploaded),
                uploaded.name or "",
                body.validated_data.get("format"),
            )
        except lifecycle.TargetNotPermitted:
            raise PermissionDenied(TARGET_REFUSED) from None
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except batches.UploadError as exc:
            return _errors("file", str(exc))
        batch = _visible(user).get(pk=batch.pk)
        location = request.build_absolute_uri(reverse("api-batch-detail", args=[batch.pk]))
        return Response(_detail(request, batch), status=status.HTTP_201_CREATED, headers={"Location": location})


# --- reading -----------------------------------------------------------------------------------------


class BatchListView(generics.ListAPIView):
    serializer_class = BatchSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Batch]:
        return _visible(_user(self.request))

    @extend_schema(
        summary="The batches you may see, newest first",
        description="Your own, or everyone's for auditors and approvers. A page of 50: follow `next`. "
        "The progress of each is in its own record (`url`).",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class BatchDetailView(APIView):
    @extend_schema(
        responses={200: BatchDetailSerializer, 404: NOT_FOUND},
        summary="A batch: its status, the counts of its file and the progress of its requests",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(request, _batch_or_404(request, pk)))


class BatchReportView(generics.ListAPIView):
    serializer_class = ReportLineSerializer
    pagination_class = ByLine

    def get_queryset(self) -> QuerySet[BatchLine]:
        return batches.report(_batch_or_404(self.request, self.kwargs["pk"]))

    @extend_schema(
        summary="The batch's invalid lines, in file order, each with what is wrong with it",
        description="The same rules as the form's. Complete once the batch is checked (status `draft` or "
        "later); a page of 50 at a time: follow `next`.",
        responses={200: ReportLineSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class BatchFailuresView(generics.ListAPIView):
    serializer_class = FailureSerializer
    pagination_class = ByBatchLine

    def get_queryset(self) -> QuerySet[AwsRequest]:
        return batches.failures(_batch_or_404(self.request, self.kwargs["pk"]))

    @extend_schema(
        summary="The batch's failed requests, in line order",
        description="Each links to its request; one that `holds_group` keeps the later events of its group "
        "waiting until its owner releases the group or retries it (requests/{id}/group/…).",
        responses={200: FailureSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- steering ----------------------------------------------------------------------------------------


def _reason_refusal(action: str, reason: str) -> str | None:
    """Why the reason given cannot do, judged before anything moves (a 400, not a 409)."""
    if action == "reject" and not reason:
        return "Say why the batch is rejected."
    return lifecycle.reason_refusal(reason)


def _steer(batch: Batch, user: User, action: str, skip_invalid: bool, reason: str) -> None:
    if action == "submit":
        batches.submit(batch, user, skip_invalid=skip_invalid)
    elif action == "discard":
        batches.discard(batch, user)
    elif action == "pause":
        batches.pause(batch, user)
    elif action == "resume":
        batches.resume(batch, user)
    elif action == "cancel":
        batches.cancel(batch, user, reason)
    else:
        batches.decide(batch, user, approve=action == "approve", reason=reason)


class BatchActionView(APIView):
    parser_classes = [JSONParser, parsers.FormParser, parsers.MultiPartParser]

    @extend_schema(
        operation_id="batches_action",
        parameters=[OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(BATCH_ACTIONS))],
        request=BatchActionSerializer,
        responses={200: BatchDetailSerializer, 400: ERRORS, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
        examples=[
            OpenApiExample("Submit without the invalid lines", value={"skip_invalid": True}, request_only=True),
            OpenApiExample("Cancel the rest", value={"reason": "Wrong instance."}, request_only=True),
        ],
        summary="Submit, discard, pause, resume, cancel, approve or reject a batch",
        description="submit (the owner; all lines, or with `skip_invalid` the valid ones only), discard (a "
        "checked batch not submitted), pause and resume (requests already running finish), cancel (every "
        "request not started; running ones finish), approve or reject (one decision for the whole batch, "
        "by an approver who did not upload it; a rejection says why). The answer is the batch.",
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        if action not in BATCH_ACTIONS:
            raise NotFound(f"No action {action!r}: one of {', '.join(BATCH_ACTIONS)}.")
        user = _user(request)
        batch = _batch_or_404(request, pk)
        body = BatchActionSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": body.errors}, status=status.HTTP_400_BAD_REQUEST)
        reason = body.validated_data["reason"]
        refusal = _reason_refusal(action, reason)
        if refusal:
            return _errors("reason", refusal)
        try:
            _steer(batch, user, action, body.validated_data["skip_invalid"], reason)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except batches.BatchError as exc:
            return _errors("batch", str(exc), status.HTTP_409_CONFLICT)
        return Response(_detail(request, _visible(user).get(pk=batch.pk)))


class RequestGroupActionView(APIView):
    @extend_schema(
        operation_id="requests_group_action",
        parameters=[OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(GROUP_ACTIONS))],
        request=None,
        responses={200: RequestDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
        summary="Release the event group a failed request holds, or retry the request in its place",
        description="A failed request of an ordered group (Supply Chain's instanceId, eventType and "
        "eventGroupId) holds it: no later event of the group is sent. release lets them go on without "
        "it; retry runs it again with the same client token, before them. The answer is the request.",
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        if action not in GROUP_ACTIONS:
            raise NotFound(f"No action {action!r}: one of {', '.join(GROUP_ACTIONS)}.")
        user = _user(request)
        visible = AwsRequest.objects.select_related("created_by", "target", "batch").visible_to(user)
        aws_request = get_object_or_404(visible, pk=pk)
        try:
            if action == "release":
                batches.release(aws_request, user)
            else:
                batches.retry(aws_request, user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except batches.BatchError as exc:
            return _errors("batch", str(exc), status.HTTP_409_CONFLICT)
        fresh = AwsRequest.objects.select_related("created_by", "target", "cancelled_by").get(pk=pk)
        context = {"request": request, "parameters_for": _parameters_for(user)}
        return Response(RequestDetailSerializer(fresh, context=context).data)
