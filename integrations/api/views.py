"""The automation API: the same operations, validation, permissions and audit as the forms."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, parsers, status
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.request import Request as ApiRequest
from rest_framework.response import Response
from rest_framework.views import APIView

from awsmodel.schema import json_schema
from integrations import history, pipeline
from integrations.api.serializers import (
    ErrorsSerializer,
    OperationSerializer,
    RequestDetailSerializer,
    RequestSerializer,
    SubmitSerializer,
)
from integrations.models import AwsRequest, AwsTarget
from integrations.permissions import (
    VIEW_SENSITIVE,
    can_run,
    operation_or_404,
    runnable_operations,
    shown_parameters,
    visible_requests,
)
from operations import Operation, operation_key
from operations.checks import check_parameters

IDEMPOTENCY_HEADER = "Idempotency-Key"
HISTORY_PARAMETERS = [
    OpenApiParameter("operation", str, description="service/Operation, e.g. appfabric/CreateIngestion"),
    OpenApiParameter("status", str),
    OpenApiParameter("user", str, description="A username"),
    OpenApiParameter("target", str, description="A target's name"),
    OpenApiParameter("created_from", OpenApiTypes.DATE),
    OpenApiParameter("created_to", OpenApiTypes.DATE),
    OpenApiParameter("q", str, description="An ARN, an AWS request id or a client token"),
]


def _parameters_for(user):
    show = user.has_perm(VIEW_SENSITIVE)
    return lambda request: shown_parameters(request, show)


def _describe(operation: Operation, api_request: ApiRequest) -> dict:
    return {
        "key": operation.key,
        "service": operation.service,
        "operation": operation.name,
        "title": operation.title,
        "summary": operation.summary,
        "parameters_schema": json_schema(operation.model.input_shape, skip=operation.token_member),
        "submit_url": api_request.build_absolute_uri(reverse("api-submit", args=[operation.service, operation.name])),
    }


class OperationListView(APIView):
    @extend_schema(responses=OperationSerializer(many=True), summary="The operations you may run")
    def get(self, request: ApiRequest) -> Response:
        return Response([_describe(op, request) for op in runnable_operations(request.user)])


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
                description="Repeat a POST with the same key to get the first request back instead of a second.",
            )
        ],
        summary="Record a request (validated like the form), to run as soon as a worker takes it",
    )
    def post(self, request: ApiRequest, service: str, name: str) -> Response:
        operation = operation_or_404(operation_key(service, name))
        if not can_run(request.user, operation):
            raise PermissionDenied("You may not run this operation.")
        body = SubmitSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": body.errors}, status=status.HTTP_400_BAD_REQUEST)
        target = AwsTarget.usable_by(request.user).filter(name=body.validated_data["target"]).first()
        if target is None:
            raise PermissionDenied("You may not use this AWS target, or it does not exist.")
        params = body.validated_data["parameters"]
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()[:255] or None
        if key:
            earlier = AwsRequest.objects.filter(created_by=request.user, idempotency_key=key).first()
            if earlier is not None:
                return self._replay(request, earlier, operation, target, params)
        violations = check_parameters(operation, params, strict=True)
        if violations:
            errors: dict[str, list[str]] = {}
            for v in violations:
                errors.setdefault(v.dotted_path or "parameters", []).append(v.message)
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            with transaction.atomic():
                recorded = pipeline.submit(operation, params, request.user, target, idempotency_key=key)
        except IntegrityError:
            # The same key, posted twice at once: the other POST recorded it first.
            earlier = get_object_or_404(AwsRequest, created_by=request.user, idempotency_key=key)
            return self._replay(request, earlier, operation, target, params)
        return Response(self._serialize(request, recorded), status=status.HTTP_201_CREATED)

    def _replay(self, request, earlier: AwsRequest, operation: Operation, target: AwsTarget, params: dict) -> Response:
        # The whole body must match: a retry that leaves a member out is a different request too.
        same = (earlier.operation_key, earlier.target_id, earlier.parameters) == (operation.key, target.pk, params)
        if not same:
            return Response(
                {"errors": {IDEMPOTENCY_HEADER: ["was already used for a different request"]}},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(self._serialize(request, earlier), status=status.HTTP_200_OK)

    def _serialize(self, request: ApiRequest, recorded: AwsRequest) -> dict:
        context = {"request": request, "parameters_for": _parameters_for(request.user)}
        return RequestDetailSerializer(recorded, context=context).data


class RequestListView(generics.ListAPIView):
    serializer_class = RequestSerializer

    def get_queryset(self):
        _, requests = history.history(self.request.user, self.request.query_params.dict())
        return requests

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "parameters_for": _parameters_for(self.request.user)}

    @extend_schema(parameters=HISTORY_PARAMETERS, summary="The history you may see, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RequestDetailView(generics.RetrieveAPIView):
    serializer_class = RequestDetailSerializer

    def get_queryset(self):
        return visible_requests(self.request.user, AwsRequest.objects.select_related("created_by", "target"))

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "parameters_for": _parameters_for(self.request.user)}
