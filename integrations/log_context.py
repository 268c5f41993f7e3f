"""What a log line is about (the request, the attempt, the client token), bound once for a block.

The pipeline binds the request id, the attempt number and the client token around each attempt,
and the web's middleware binds the HTTP request id, so that every line logged inside the block
(by our code, botocore, Celery or Django) carries them without each call site passing them on.
``portal.logs.ContextFilter`` copies them onto every record. Context variables, not thread
locals: each thread (and each asyncio task) sees only what it bound itself.

Django-free: the logging configuration imports it before the apps are ready.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})
# Read-only mappings, replaced as a whole on each bind: a block can never change what an outer
# block (or another thread) sees.
_bound: ContextVar[Mapping[str, object]] = ContextVar("portal_log_context", default=_EMPTY)


@contextmanager
def bound(**values: object) -> Iterator[None]:
    """Put ``values`` on every log record made inside the block, over what outer blocks bound.

    A value of None is left out (an attempt not started yet has no number), so callers can pass
    what they have without testing it first. The outer values come back when the block ends,
    even when it ends with an exception.
    """
    merged = {**_bound.get(), **{name: value for name, value in values.items() if value is not None}}
    token = _bound.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _bound.reset(token)


def current() -> Mapping[str, object]:
    """What is bound here and now (an empty mapping outside any block)."""
    return _bound.get()
