"""How requests, attempts, operations and created resources look in the automation API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations import batches, lifecycle
from integrations.history import requested_by, resource_type
from integrations.models import (
    ApprovalDecision,
    Attempt,
    AwsRequest,
    Batch,
    BatchLine,
    BatchStatus,
    RequestStatus,
    Resource,
)


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


class BatchRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="The batch in the API.")


def _absolute(context: Mapping[str, Any], name: str, *args: object) -> str:
    return context["request"].build_absolute_uri(reverse(name, args=args))


class RequestDetailSerializer(RequestSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)
    batch = serializers.SerializerMethodField(
        help_text="The uploaded batch this request is a line of; null for a request made on its own."
    )
    batch_line = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Its line in the batch's file; null outside a batch."
    )
    decision = DecisionSerializer(read_only=True, allow_null=True, default=None)
    resource = serializers.SerializerMethodField(
        help_text="What the request created and what AWS last said of it (confirmed, changed, gone); "
        "null until the request succeeds."
    )

    cancelled_by = serializers.CharField(
        source="cancelled_by.username", allow_null=True, default=None, help_text="Who cancelled it, if anyone."
    )

    class Meta(RequestSerializer.Meta):
        fields = (
            *RequestSerializer.Meta.fields, "attempts", "decision", "resource", "cancelled_by", "cancel_reason",
            "batch", "batch_line",
        )  # fmt: skip

    @extend_schema_field(BatchRefSerializer(allow_null=True))
    def get_batch(self, aws_request: AwsRequest) -> dict | None:
        # From the id alone: reading a request never costs a query for its batch.
        if aws_request.batch_id is None:
            return None
        return {"id": aws_request.batch_id, "url": _absolute(self.context, "api-batch-detail", aws_request.batch_id)}

    @extend_schema_field(ResourceSerializer(allow_null=True))
    def get_resource(self, aws_request: AwsRequest) -> dict | None:
        # Only a succeeded request has one: no query for the others (a submit's answer reads nothing back).
        if aws_request.status != RequestStatus.SUCCEEDED:
            return None
        resource = Resource.objects.filter(request=aws_request).select_related("target", "request").first()
        return ResourceSerializer(resource, context=self.context).data if resource else None


# --- batches (integrations/batches.py) ---------------------------------------------------------------


class BatchDecisionSerializer(serializers.Serializer):
    approved = serializers.BooleanField()
    decided_by = serializers.CharField(help_text="The approver's username.")
    decided_at = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)


class BatchLinksSerializer(serializers.Serializer):
    report = serializers.CharField(help_text="The invalid lines and what is wrong with each.")
    failures = serializers.CharField(help_text="The batch's failed requests.")
    page = serializers.CharField(help_text="The batch's page in the portal.")
    requests = serializers.CharField(help_text="The batch's requests in the history.")


class BatchSerializer(serializers.ModelSerializer):
    """A batch as listed: what it is, where it stands, and the counts of its file."""

    url = serializers.HyperlinkedIdentityField(view_name="api-batch-detail")
    operation = serializers.CharField(source="operation_key")
    target = serializers.CharField(source="target.name")
    created_by = serializers.CharField(source="created_by_username", help_text="Who uploaded it.")
    status = serializers.ChoiceField(choices=BatchStatus.choices)
    status_label = serializers.CharField(source="get_status_display", help_text="The status in words.")
    decision = serializers.SerializerMethodField(
        help_text="The one approval decision for the whole batch; null until an approver decides."
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields: tuple[str, ...] = (
            "id", "url", "operation", "target", "account_id", "region", "created_by", "created_at", "updated_at",
            "file_name", "file_format", "status", "status_label", "lines", "checked_lines", "invalid_lines",
            "skip_invalid", "submitted_at", "requests_recorded", "decision", "paused_at", "finished_at", "links",
        )  # fmt: skip
        extra_kwargs = {
            "lines": {"help_text": "The lines read from the file (blank lines left out)."},
            "checked_lines": {"help_text": "The lines checked so far by the operation's rules."},
            "invalid_lines": {"help_text": "The lines that break the rules (see the report)."},
            "skip_invalid": {"help_text": "Submitted without its invalid lines."},
            "requests_recorded": {"help_text": "The requests recorded so far, one per valid line."},
        }

    @extend_schema_field(BatchDecisionSerializer(allow_null=True))
    def get_decision(self, batch: Batch) -> dict | None:
        if batch.decided_at is None:
            return None
        return {
            "approved": batch.status != BatchStatus.REJECTED,
            "decided_by": batch.decided_by.get_username() if batch.decided_by else "",
            "decided_at": serializers.DateTimeField().to_representation(batch.decided_at),
            "reason": batch.decision_reason,
        }

    @extend_schema_field(BatchLinksSerializer)
    def get_links(self, batch: Batch) -> dict:
        request = self.context["request"]
        return {
            "report": _absolute(self.context, "api-batch-report", batch.pk),
            "failures": _absolute(self.context, "api-batch-failures", batch.pk),
            "page": request.build_absolute_uri(batch.get_absolute_url()),
            "requests": f"{_absolute(self.context, 'api-requests')}?batch={batch.pk}",
        }


class ProgressSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Requests by status.")
    total = serializers.IntegerField(help_text="Requests recorded.")
    finished = serializers.IntegerField(help_text="Requests in a final status.")
    rate = serializers.FloatField(help_text="Requests finished a second, over the last minute.")
    seconds_left = serializers.FloatField(
        allow_null=True, help_text="At that rate; null when nothing finished lately or the batch is not running."
    )
    held = serializers.IntegerField(help_text="Failed requests holding their event group (see failures).")


class BatchDetailSerializer(BatchSerializer):
    """A batch with its progress (the requests' counts, read when asked: not in the list)."""

    progress = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = (*BatchSerializer.Meta.fields, "progress")

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, batch: Batch) -> dict:
        return ProgressSerializer(batches.progress(batch)).data


class LineErrorSerializer(serializers.Serializer):
    member = serializers.CharField(allow_blank=True, help_text="The member (dotted path); empty for the whole line.")
    message = serializers.CharField()


class ReportLineSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="number", help_text="The line's number in the file.")
    errors = LineErrorSerializer(many=True)  # type: ignore[assignment]

    class Meta:
        model = BatchLine
        fields = ("line", "errors")


class FailureSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-request-detail")
    line = serializers.IntegerField(source="batch_line", help_text="Its line in the batch's file.")
    holds_group = serializers.SerializerMethodField(
        help_text="Whether it holds its event group: later events of the group wait until it is released or retried."
    )

    class Meta:
        model = AwsRequest
        fields = ("id", "url", "line", "error_code", "error_message", "holds_group")

    def get_holds_group(self, aws_request: AwsRequest) -> bool:
        held = aws_request.status == RequestStatus.FAILED and not aws_request.order_released
        return held and bool(aws_request.order_key)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file (a header of members) or JSON lines (one object a line).")
    target = serializers.CharField(help_text="The name of an AWS target you may use.")
    format = serializers.ChoiceField(
        choices=batches.FORMATS, required=False, help_text="csv or jsonl; by default, from the file's extension."
    )


class BatchActionSerializer(serializers.Serializer):
    skip_invalid = serializers.BooleanField(
        required=False, default=False, help_text="submit: record the valid lines and leave out the invalid ones."
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=True,
        help_text=f"cancel, approve, reject: why (required to reject; at most {lifecycle.REASON_LIMIT} characters).",
    )
