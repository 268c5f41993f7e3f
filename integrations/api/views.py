"""The automation API: the same operations, validation, permissions and audit as the forms."""

from __future__ import annotations

import logging
import re
from typing import cast

from django.contrib.auth.models import User
from django.db import DatabaseError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, parsers, status
from rest_framework.exceptions import ParseError, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from awsmodel.characters import character_name
from awsmodel.schema import json_schema
from integrations import committed, history, lifecycle
from integrations.api.pagination import KeysetPagination
from integrations.api.serializers import (
    ErrorsSerializer,
    OperationSerializer,
    RequestDetailSerializer,
    RequestSerializer,
    SubmitSerializer,
)
from integrations.models import Attempt, AwsRequest, AwsTarget
from integrations.permissions import VIEW_SENSITIVE, operation_or_404, runnable_operations, shown_parameters
from operations import Operation, operation_key

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
TARGET_REFUSED = "You may not use this AWS target, or it does not exist."
HISTORY_PARAMETERS = [
    OpenApiParameter("operation", str, description="service/Operation, e.g. appfabric/CreateIngestion"),
    OpenApiParameter("status", str),
    OpenApiParameter("user", str, description="A username"),
    OpenApiParameter("target", str, description="A target's name"),
    OpenApiParameter("created_from", OpenApiTypes.DATE, description="From this day's start (the portal's time zone)"),
    OpenApiParameter("created_to", OpenApiTypes.DATE, description="Up to this day's end (the portal's time zone)"),
    OpenApiParameter("q", str, description=history.SEARCH_HELP),
    OpenApiParameter("batch", int, description="The requests of one uploaded batch"),
]


def _parameters_for(user):
    show = user.has_perm(VIEW_SENSITIVE)
    return lambda aws_request: shown_parameters(aws_request, show)


def _user(request: Request) -> User:
    """The caller: every view here requires authentication (IsAuthenticated), so never anonymous."""
    return cast(User, request.user)


def _describe(operation: Operation, api_request: Request) -> dict:
    return {
        "key": operation.key,
        "service": operation.service,
        "operation": operation.name,
        "title": operation.title,
        "summary": operation.summary,
        "parameters_schema": json_schema(operation.input_shape, skip=operation.token_member),
        "submit_url": api_request.build_absolute_uri(reverse("api-submit", args=[operation.service, operation.name])),
        # Members naming an existing resource: where their choices are listed, and the members
        # whose values the listing needs (sent as query parameters of the same names).
        "pickers": {
            member: {
                "choices_url": api_request.build_absolute_uri(
                    reverse("api-choices", args=[operation.service, operation.name, member])
                ),
                "depends_on": list(picker.depends_on),
            }
            for member, picker in operation.pickers.items()
        },
    }


class OperationListView(APIView):
    @extend_schema(responses=OperationSerializer(many=True), summary="The operations you may run")
    def get(self, request: Request) -> Response:
        return Response([_describe(op, request) for op in runnable_operations(request.user)])


IDEMPOTENCY_KEY_MAX = 255  # AwsRequest.idempotency_key's length: a longer key is refused, never cut
_PRINTABLE_ASCII = re.compile("[\x20-\x7e]*")


def idempotency_key_refusal(key: str) -> str | None:
    """Why ``key`` cannot be an Idempotency-Key (1–255 printable ASCII characters), or None.

    Refused rather than trimmed or cut: two keys that differ only past the 255th character, or
    in a character the database cannot store, must never name the same request.
    """
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        return f"must have 1–{IDEMPOTENCY_KEY_MAX} characters (has {len(key)})"
    if not _PRINTABLE_ASCII.fullmatch(key):
        character = next(c for c in key if not " " <= c <= "~")
        return f"must hold printable ASCII characters only (U+0020–U+007E), not {character_name(character)}"
    return None


class JSONParser(parsers.JSONParser):
    """DRF's, but a body nested too deep for Python's parser is a 400 like any other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


class SubmitView(APIView):
    parser_classes = [JSONParser, parsers.FormParser, parsers.MultiPartParser]

    @extend_schema(
        request=SubmitSerializer,
        responses={201: RequestDetailSerializer, 200: RequestDetailSerializer, 400: ErrorsSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Repeat a POST with the same key to get the first request back instead of a second. "
                "1–255 printable ASCII characters; any other key is refused (400), never shortened.",
            )
        ],
        summary="Record a request (validated like the form), to run as soon as a worker takes it",
    )
    def post(self, request: Request, service: str, name: str) -> Response:
        operation = operation_or_404(operation_key(service, name))
        try:
            # Asked before the body is read: a forbidden operation is a 403 whatever is posted.
            lifecycle.authorize(_user(request), operation)
        except lifecycle.OperationNotPermitted as exc:
            raise PermissionDenied(str(exc)) from None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None:
            key = key.strip(" \t")  # HTTP's optional whitespace around a field value
            refusal = idempotency_key_refusal(key)
            if refusal:
                return Response({"errors": {IDEMPOTENCY_HEADER: [refusal]}}, status=status.HTTP_400_BAD_REQUEST)
        body = SubmitSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": body.errors}, status=status.HTTP_400_BAD_REQUEST)
        target = AwsTarget.objects.filter(name=body.validated_data["target"]).first()
        if target is None:
            raise PermissionDenied(TARGET_REFUSED)
        try:
            submission = lifecycle.submit(
                operation, body.validated_data["parameters"], _user(request), target, idempotency_key=key
            )
        except lifecycle.TargetNotPermitted:
            raise PermissionDenied(TARGET_REFUSED) from None
        except lifecycle.IdempotencyConflictError:
            return Response(
                {"errors": {IDEMPOTENCY_HEADER: ["was already used for a different request"]}},
                status=status.HTTP_409_CONFLICT,
            )
        except lifecycle.InvalidParametersError as exc:
            errors: dict[str, list[str]] = {}
            for v in exc.violations:
                errors.setdefault(v.dotted_path or "parameters", []).append(v.message)
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        aws_request = submission.aws_request
        if not submission.replayed:
            # Just recorded: no attempt and no decision yet, so the answer asks the database nothing.
            vars(aws_request)["_prefetched_objects_cache"] = {"attempts": Attempt.objects.none()}
            aws_request._state.fields_cache["decision"] = None
        try:
            recorded = self._serialize(request, aws_request)
        except DatabaseError as exc:
            # Recorded, but its full record cannot be read back just now (the connection dropped
            # after the commit): answer with what is known, never a 500 that invites a second POST.
            logger.warning("Request #%s recorded, not read back (%s)", aws_request.pk, type(exc).__name__)
            recorded = self._recorded(request, aws_request)
        response = Response(
            recorded,
            status=status.HTTP_200_OK if submission.replayed else status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(reverse("api-request-detail", args=[aws_request.pk]))},
        )
        committed.answer(request._request, response, aws_request.pk)
        return response

    def _serialize(self, request: Request, aws_request: AwsRequest) -> dict:
        context = {"request": request, "parameters_for": _parameters_for(request.user)}
        return RequestDetailSerializer(aws_request, context=context).data

    @staticmethod
    def _recorded(request: Request, aws_request: AwsRequest) -> dict:
        """What is known of a request just recorded, from memory (no query)."""
        return {
            "id": aws_request.pk,
            "url": request.build_absolute_uri(reverse("api-request-detail", args=[aws_request.pk])),
            "operation": aws_request.operation_key,
            "status": aws_request.status,
            "client_token": aws_request.client_token,
            "detail": "Recorded. Its full record could not be read back just now; fetch it from url.",
        }


class RequestListView(generics.ListAPIView):
    serializer_class = RequestSerializer
    pagination_class = KeysetPagination

    def get_queryset(self):
        form, requests = history.history(self.request.user, self.request.query_params.dict())
        if "q" in form.errors:
            # A search too short to be served by an index is refused, not answered with nothing.
            raise ValidationError({"q": form.errors["q"]})
        return requests

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "parameters_for": _parameters_for(self.request.user)}

    @extend_schema(
        parameters=HISTORY_PARAMETERS,
        summary="The history you may see, newest first",
        description="A page of 50 at a time: follow `next` for older requests and `previous` for newer ones. "
        "There is no total count (at a million requests, counting costs more than the page).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RequestDetailView(generics.RetrieveAPIView):
    serializer_class = RequestDetailSerializer

    def get_queryset(self):
        return AwsRequest.objects.select_related("created_by", "target", "cancelled_by").visible_to(self.request.user)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "parameters_for": _parameters_for(self.request.user)}
