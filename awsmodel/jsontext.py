"""JSON text as RFC 8259 defines it, for members whose string holds a JSON document.

Python's ``json`` reads more than RFC 8259 allows (``NaN``, ``Infinity`` and ``-Infinity``), which
a service's parser refuses, and raises ``RecursionError`` (not ``ValueError``) on text nested
deeper than Python's recursion limit lets it read. ``loads`` refuses the first and turns the
second into a ``JSONTextError`` too, so that a caller answers either with a field error.
"""

from __future__ import annotations

import json
from typing import NoReturn


class JSONTextError(ValueError):
    """The text is not RFC 8259 JSON (or too deep to read); ``str(error)`` says why, in words."""


class NonStandardJSONError(JSONTextError):
    """JSON as only Python reads it: ``NaN``, ``Infinity`` or ``-Infinity``."""


class TooDeepJSONError(JSONTextError):
    """Arrays and objects nested deeper than Python's parser can read."""


def _no_constant(name: str) -> NoReturn:
    raise NonStandardJSONError(f"{name} is not a JSON value (RFC 8259 has no NaN or Infinity)")


def loads(text: str) -> object:
    """The document ``text`` holds; JSONTextError if it is not RFC 8259 JSON or nested too deeply."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except JSONTextError:
        raise
    except RecursionError:
        raise TooDeepJSONError("it nests arrays and objects too deeply to be read") from None
    except ValueError as error:
        raise JSONTextError(f"it is not JSON ({error})") from None
