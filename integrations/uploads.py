"""Receiving an uploaded file of events: streamed to a temporary file, and never more than allowed.

Django's own handlers keep a small upload in memory and a large one in a temporary file, with no
limit on its size (DATA_UPLOAD_MAX_MEMORY_SIZE does not count files). ``LimitedUpload`` writes
every upload to a temporary file (memory stays flat whatever the size) and stops writing once
PORTAL_BATCH_MAX_BYTES have come: the rest of the body is read and dropped, so the person gets a
page that says so rather than a reset connection.

A view installs it before anything reads the body (``accept``); the CSRF middleware reads the
body, so such a view is ``csrf_exempt`` and checks the token itself once the handler is in place
(``csrf_protect`` inside), as Django's documentation on upload handlers says.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest


class LimitedUpload(TemporaryFileUploadHandler):
    """To a temporary file, at most PORTAL_BATCH_MAX_BYTES; ``too_large`` says it stopped."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.PORTAL_BATCH_MAX_BYTES:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def accept(request: HttpRequest) -> LimitedUpload:
    """Install the handler on ``request`` (before its body is read); the handler, to ask afterwards."""
    handler = LimitedUpload(request)
    request.upload_handlers = [handler]
    return handler


def too_large_message() -> str:
    size = settings.PORTAL_BATCH_MAX_BYTES
    return f"The file is larger than {size / 1024 / 1024:,.0f} MB (PORTAL_BATCH_MAX_BYTES); split it."


def uploaded_stream(uploaded: Any) -> Any:
    """The binary file object of an uploaded file, at its start (what ``batches.upload`` reads)."""
    stream = uploaded.file
    stream.seek(0)
    return stream
