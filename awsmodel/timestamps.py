"""What a timestamp member accepts, for the form and the API alike.

The model's ``timestamp`` takes, through botocore, a datetime, epoch seconds (a number, or a
string holding one) or an ISO-8601 string. Only moments botocore can turn into a ``datetime`` and
serialize are accepted: the years 1 to 9999 (in UTC), finite numbers. ``True`` is not a moment,
even though Python counts it as the number 1.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from botocore.utils import parse_to_aware_datetime

# Epoch seconds written as a JSON number is written: -12, 1700000000, 1700000000.5, 17e8.
_EPOCH_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Epoch seconds of the first and the last second Python's datetime (and so botocore) can hold.
EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)

FORMAT_WORDS = "a date and time (ISO-8601) or epoch seconds"
RANGE_WORDS = "a moment in the years 1 to 9999 (UTC)"


class TimestampError(ValueError):
    """Not a timestamp botocore can send; ``str(error)`` says why, in words ("must be …")."""


def _from_epoch(seconds: float) -> dt.datetime:
    if not math.isfinite(seconds):
        raise TimestampError("must be a finite number of epoch seconds")
    try:
        return _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        raise TimestampError(f"must be {RANGE_WORDS}") from None


def parse_timestamp(value: object) -> dt.datetime:
    """``value`` as an aware datetime in UTC; TimestampError if it is not a timestamp botocore can send.

    Accepts a datetime (naive ones are UTC), epoch seconds as an int or a float (not a bool) or as
    a string of digits, and ISO-8601 strings ("2026-01-31T14:30:00Z", "2026-01-31").
    """
    moment = read_moment(value)
    if not isinstance(value, dt.datetime) and _botocore_reading(value) != moment:
        # Python reads a few ISO-8601 forms that botocore's parser does not ("2026-W05-1"), or
        # reads differently: only what both read as the same moment is sent.
        raise TimestampError(f"must be {FORMAT_WORDS}")
    return moment


def read_moment(value: object) -> dt.datetime:
    """``value`` as Python reads it, in UTC, without asking botocore whether it reads the same.

    ``parse_timestamp`` is that and botocore's agreement; this alone is for a value it has accepted
    already (botocore's parser, dateutil's, is most of what checking a timestamp costs).
    """
    if isinstance(value, bool):
        raise TimestampError(f"must be {FORMAT_WORDS}, not true or false")
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, (int, float)):
        moment = _from_epoch(float(value)) if isinstance(value, float) else _from_int(value)
    elif isinstance(value, str):
        if _EPOCH_TEXT.fullmatch(value):
            moment = _from_epoch(float(value))
        else:
            try:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise TimestampError(f"must be {FORMAT_WORDS}, in the years 1 to 9999") from None
    else:
        raise TimestampError(f"must be {FORMAT_WORDS}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        # An offset can carry the first or the last day out of the range (9999-12-31T23:00-05:00).
        moment = moment.astimezone(dt.UTC)
    except OverflowError:
        raise TimestampError(f"must be {RANGE_WORDS}") from None
    return moment


def _botocore_reading(value: Any) -> dt.datetime | None:
    """The moment botocore reads in ``value`` when it sends it, or None if it cannot read one."""
    try:
        return parse_to_aware_datetime(value)
    except Exception:  # ValueError mostly; RuntimeError, OverflowError for some numbers
        return None


def _from_int(seconds: int) -> dt.datetime:
    # Compared as integers: an int too large for a float must not become an OverflowError.
    if not -62135596800 <= seconds <= 253402300799:
        raise TimestampError(f"must be {RANGE_WORDS}")
    return _from_epoch(float(seconds))
