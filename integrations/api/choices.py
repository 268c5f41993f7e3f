"""The API's picker choices: what a member naming an existing resource may be, in a target.

The same listing as the form's pickers (``integrations.choices``): the target's List call made as
the caller, paged, capped, kept briefly, filtered by ``q``; AWS's failures are answered with no
choices and the reason in ``error``, never as an error status. Refusals are statuses: 400 for a
member without choices or no target, 403 for an operation or target the caller may not use.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import choices as listing
from integrations import lifecycle
from integrations.api.serializers import ErrorsSerializer
from integrations.api.views import TARGET_REFUSED
from integrations.models import AwsTarget
from integrations.permissions import operation_or_404
from operations import operation_key


class ChoiceSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The value to send for the member.")
    # The stubs type Field.label (its own title) as a string: a member named "label" is meant.
    label = serializers.CharField(help_text="Words shown beside it (a name); may be empty.")  # type: ignore[assignment]


class ChoicesSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="The member, as a dotted path (datasetTarget.datasetIdentifier).")
    choices = ChoiceSerializer(many=True)
    truncated = serializers.BooleanField(help_text="The listing stopped at the portal's cap: narrow it with q.")
    error = serializers.CharField(
        allow_null=True,
        help_text="Why no choices were listed (AWS refused, throttled or did not answer; a member it depends on "
        "is empty), in words; null when they were.",
    )


class ChoicesView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("target", str, required=True, description="The name of the AWS target to list in."),
            OpenApiParameter("q", str, description="Only choices whose value or label contains this (any case)."),
        ],
        responses={200: ChoicesSerializer, 400: ErrorsSerializer},
        summary="The choices of a member that names an existing resource, listed from the target",
        description="Members the choices depend on (the operation listing's `depends_on`) are passed as query "
        "parameters named by their dotted path, e.g. `?target=prod&instanceId=…` for "
        "`datasetTarget.datasetIdentifier`. Listed as the caller, kept for a short while.",
    )
    def get(self, request: Request, service: str, name: str, member: str) -> Response:
        operation = operation_or_404(operation_key(service, name))
        user = cast(User, request.user)
        try:
            lifecycle.authorize(user, operation)
        except lifecycle.OperationNotPermitted as exc:
            raise PermissionDenied(str(exc)) from None
        try:
            picker = listing.picker_for(operation, member)
        except listing.UnknownMemberError:
            known = ", ".join(operation.pickers) or "none"
            message = f"{operation.key} has no choices for {member!r} (members with choices: {known})"
            return Response({"errors": {"member": [message]}}, status=status.HTTP_400_BAD_REQUEST)
        target_name = request.query_params.get("target", "")
        if not target_name:
            return Response({"errors": {"target": ["This parameter is required."]}}, status=status.HTTP_400_BAD_REQUEST)
        target = AwsTarget.objects.filter(name=target_name).first()
        if target is None:
            raise PermissionDenied(TARGET_REFUSED)
        values = {dep: request.query_params.get(dep, "") for dep in picker.depends_on}
        try:
            result = listing.choices_for(operation, member, target, user, values, request.query_params.get("q", ""))
        except lifecycle.TargetNotPermitted:
            raise PermissionDenied(TARGET_REFUSED) from None
        body = {
            "member": member,
            "choices": [{"value": c.value, "label": c.label} for c in result.choices],
            "truncated": result.truncated,
            "error": result.message if (result.error or result.waiting_for) else None,
        }
        return Response(body)
