"""The API's list of created resources (stub: filled in by the resources work)."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ResourceListView(APIView):
    def get(self, request: Request) -> Response:
        return Response({})
