"""The pages of batches: upload a file, read its report, submit it, watch it run (integrations/batches.py).

Stubs: filled in by the batch pages' work.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def _todo(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    raise NotImplementedError


batch_upload = _todo  # GET the upload form, POST a file (operations/<service>/<name>/batches/new/)
batch_list = _todo  # batches/
batch_detail = _todo  # batches/<pk>/ (report, progress, failures; htmx partials)
batch_progress = _todo  # batches/<pk>/progress/ (the htmx poll)
batch_report_export = _todo  # batches/<pk>/report.csv
batch_action = _todo  # POST batches/<pk>/<action>/: submit, discard, pause, resume, cancel, approve, reject
request_group_action = _todo  # POST requests/<pk>/<action>/: release, retry (a failed request of a group)
