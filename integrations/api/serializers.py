"""How requests, attempts, operations and created resources look in the automation API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.history import requested_by, resource_type
from integrations.models import ApprovalDecision, Attempt, AwsRequest, RequestStatus, Resource


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = (
            "number", "kind", "read_call", "started_at", "finished_at", "outcome", "http_status", "error_code",
            "error_message", "aws_request_id", "client_token",
        )  # fmt: skip
        extra_kwargs = {
            "kind": {"help_text": "create: the operation's call, with the client token; read_back: the created "
                     "resource read back from AWS (its confirmation, or a re-check a person asked for), no token."},
            "read_call": {"help_text": "The read call of a read back (service/Operation); empty for a create."},
        }  # fmt: skip


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username")

    class Meta:
        model = ApprovalDecision
        fields = ("approved", "decided_by", "decided_at", "reason")


class RequestSerializer(serializers.ModelSerializer):
    operation = serializers.CharField(source="operation_key")
    created_by = serializers.SerializerMethodField(
        help_text="Who made the request: their username when they submitted it (a later rename changes nothing)."
    )
    target = serializers.CharField(source="target.name", allow_null=True, default=None)
    parameters = serializers.SerializerMethodField()
    url = serializers.HyperlinkedIdentityField(view_name="api-request-detail")

    class Meta:
        model = AwsRequest
        fields: tuple[str, ...] = (
            "id", "url", "operation", "status", "created_by", "created_at", "target", "account_id", "region",
            "client_token", "parameters", "resource_id", "response", "error_code", "error_message",
            "finished_at",
        )  # fmt: skip

    def get_created_by(self, aws_request: AwsRequest) -> str:
        return requested_by(aws_request)

    def get_parameters(self, aws_request: AwsRequest) -> dict:
        # Sensitive members are redacted unless the reader may see them (set by the view).
        return self.context["parameters_for"](aws_request)


class SubmitSerializer(serializers.Serializer):
    target = serializers.CharField(help_text="The name of an AWS target you may use.")
    parameters = serializers.DictField(help_text="The operation's API parameters, without the client token.")


class PickerSerializer(serializers.Serializer):
    choices_url = serializers.CharField(help_text="GET it with ?target=<name>&q=<text> and the members below.")
    depends_on = serializers.ListField(child=serializers.CharField())


class OperationSerializer(serializers.Serializer):
    key = serializers.CharField()
    service = serializers.CharField()
    operation = serializers.CharField()
    title = serializers.CharField()
    summary = serializers.CharField()
    parameters_schema = serializers.DictField(help_text="JSON Schema of the parameters, from the AWS model.")
    submit_url = serializers.CharField()
    pickers = serializers.DictField(
        child=PickerSerializer(),
        help_text="The members that name an existing resource (dotted paths), each with where to fetch its "
        "choices in a target and the members those choices depend on.",
    )


class ErrorsSerializer(serializers.Serializer):
    # Describes the 400 body for the OpenAPI document only; never used to validate (where DRF's
    # own ``errors`` property would matter), hence the name clash is harmless.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per parameter path, e.g. tags[0].key; 'target' for the target.",
    )


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The key field that differs from the confirmed one.")
    was = serializers.JSONField(allow_null=True, help_text="Its value when the resource was confirmed.")
    now = serializers.JSONField(allow_null=True, help_text="Its value in the last read.")


class ResourceSerializer(serializers.ModelSerializer):
    """A resource created through the portal and what AWS last said of it (no baseline: ``changes``
    says what differs from it)."""

    operation = serializers.CharField(source="operation_key")
    type = serializers.SerializerMethodField(help_text="The operation that created it, in words.")
    created_by = serializers.SerializerMethodField(
        help_text="Who created it: their username when they submitted the request."
    )
    target = serializers.CharField(source="target.name", allow_null=True, default=None)
    status_label = serializers.CharField(source="get_status_display", help_text="The status in words.")
    changes = ChangeSerializer(many=True, help_text="What differs from the confirmed key fields, when changed.")
    request: serializers.HyperlinkedRelatedField = serializers.HyperlinkedRelatedField(
        view_name="api-request-detail", read_only=True
    )

    class Meta:
        model = Resource
        fields: tuple[str, ...] = (
            "id", "operation", "type", "name", "resource_id", "target", "account_id", "region", "created_by",
            "created_at", "request", "status", "status_label", "state", "changes", "checked_at", "check_error",
            "status_changed_at",
        )  # fmt: skip

    def get_type(self, resource: Resource) -> str:
        return resource_type(resource)

    def get_created_by(self, resource: Resource) -> str:
        return requested_by(resource)


class RequestDetailSerializer(RequestSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)
    decision = DecisionSerializer(read_only=True, allow_null=True, default=None)
    resource = serializers.SerializerMethodField(
        help_text="What the request created and what AWS last said of it (confirmed, changed, gone); "
        "null until the request succeeds."
    )

    cancelled_by = serializers.CharField(
        source="cancelled_by.username", allow_null=True, default=None, help_text="Who cancelled it, if anyone."
    )

    class Meta(RequestSerializer.Meta):
        fields = (*RequestSerializer.Meta.fields, "attempts", "decision", "resource", "cancelled_by", "cancel_reason")

    @extend_schema_field(ResourceSerializer(allow_null=True))
    def get_resource(self, aws_request: AwsRequest) -> dict | None:
        # Only a succeeded request has one: no query for the others (a submit's answer reads nothing back).
        if aws_request.status != RequestStatus.SUCCEEDED:
            return None
        resource = Resource.objects.filter(request=aws_request).select_related("target", "request").first()
        return ResourceSerializer(resource, context=self.context).data if resource else None
