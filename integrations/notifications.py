"""Telling people what became of requests (stub: filled in by the notifications work).

``announce`` is called once the status change it tells of is committed (``transaction.on_commit``
in ``integrations.lifecycle``); it must never block or undo that change.
"""

from __future__ import annotations


def announce(request_id: int, event: str) -> None:
    """Hand the notifications of ``event`` (a NotificationEvent value) for one request to a worker."""
