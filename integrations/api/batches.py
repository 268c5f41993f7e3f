"""The API of batches (integrations/batches.py): upload, report, submit, progress, steer.

Stubs: filled in by the API's work.
"""

from __future__ import annotations

from rest_framework.views import APIView


class BatchUploadView(APIView):
    pass


class BatchListView(APIView):
    pass


class BatchDetailView(APIView):
    pass


class BatchReportView(APIView):
    pass


class BatchFailuresView(APIView):
    pass


class BatchActionView(APIView):
    pass


class RequestGroupActionView(APIView):
    pass
