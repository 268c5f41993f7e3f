"""The API's list of created resources: the Resources page's filters and keyset pages, as JSON."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from integrations import history
from integrations.api.pagination import KeysetPagination
from integrations.api.serializers import ResourceSerializer
from integrations.models import ResourceStatus

RESOURCE_PARAMETERS = [
    OpenApiParameter("operation", str, description="The operation that created it: service/Operation"),
    OpenApiParameter("status", str, enum=ResourceStatus.values, description="Its status in AWS"),
    OpenApiParameter("user", str, description="Who created it: a username"),
    OpenApiParameter("target", str, description="A target's name"),
    OpenApiParameter("created_from", OpenApiTypes.DATE, description="From this day's start (the portal's time zone)"),
    OpenApiParameter("created_to", OpenApiTypes.DATE, description="Up to this day's end (the portal's time zone)"),
    OpenApiParameter("q", str, description=history.RESOURCE_SEARCH_HELP),
]


class ResourcePagination(KeysetPagination):
    """The history's keyset pages, described as pages of resources."""

    def get_paginated_response_schema(self, schema: dict) -> dict:
        document = super().get_paginated_response_schema(schema)
        document["properties"]["next"]["description"] = "The older resources; null on the last page."
        document["properties"]["previous"]["description"] = "The newer resources; null on the first page."
        return document

    def get_schema_operation_parameters(self, view) -> list[dict]:
        [cursor] = super().get_schema_operation_parameters(view)
        cursor["description"] = "Where the page starts: a `next` or `previous` link's cursor. Without it, the newest."
        return [cursor]


class ResourceListView(generics.ListAPIView):
    serializer_class = ResourceSerializer
    pagination_class = ResourcePagination

    def get_queryset(self):
        _, found = history.created_resources(self.request.user, self.request.query_params.dict())
        return found.defer("baseline", "observed")

    @extend_schema(
        parameters=RESOURCE_PARAMETERS,
        summary="The resources created through the portal that you may see, newest first",
        description="Each with what AWS last said of it (`status`: confirmed, changed with `changes`, gone, "
        "pending or unconfirmed with `check_error`) and when it was checked. A page of 50 at a time: follow "
        "`next` for older resources and `previous` for newer ones; there is no total count.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
