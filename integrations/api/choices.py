"""The API's picker choices (stub: filled in by the pickers work)."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ChoicesView(APIView):
    def get(self, request: Request, service: str, name: str, member: str) -> Response:
        return Response({})
