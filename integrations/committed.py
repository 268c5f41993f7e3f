"""Once a request is recorded, the person is told its number, whatever fails afterwards.

A submit commits the request row first; everything after that (publishing to the broker, the
response's own queries, saving the session on the way out) can still fail, most often because the
database connection dropped. Answering 500 then would be a lie with consequences: the request
exists and will run, and a client without an Idempotency-Key that retries on a 500 would record,
and run, a second one. So the view keeps its answer on the request (``answer``) and
``CommittedResponseMiddleware``, the outermost middleware, returns that answer instead of an
error produced further in (a 500, or the 400 Django answers when the session cannot be saved).
Django turns exceptions into responses at every middleware layer, so the middleware looks at the
response, not for an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

_ATTRIBUTE = "_portal_committed_response"


def answer(request: HttpRequest, response: HttpResponse, request_id: int) -> HttpResponse:
    """Mark ``response`` as the answer for a recorded request; return it for the view to return."""
    setattr(request, _ATTRIBUTE, (response, request_id))
    return response


class CommittedResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        committed = getattr(request, _ATTRIBUTE, None)
        if committed is not None and response.status_code >= 400 and response is not committed[0]:
            logger.warning(
                "Request #%s was recorded, but a later step of the response failed (HTTP %s); "
                "answering with the recorded request",
                committed[1],
                response.status_code,
            )
            return committed[0]
        return response
