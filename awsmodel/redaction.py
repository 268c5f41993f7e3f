"""Sensitive members (the model's ``sensitive`` trait) replaced by their size and digest.

For logs, lists, exports and anything shown to people who need to know that a payload was sent,
not what it said.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.model import Shape

from awsmodel.shapes import Path, ShapeWalk


def redacted(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"<sensitive: {len(text)} characters, sha256 {digest}…>"


class _Redact(ShapeWalk):
    def walk(self, shape: Shape, value: Any = None, path: Path = ()) -> Any:
        if value is None:
            return None
        if shape.metadata.get("sensitive"):
            return redacted(value)
        return super().walk(shape, value, path)


def redact_sensitive(shape: Shape, value: object) -> Any:
    """``value`` with every member the model marks sensitive replaced by its size and digest."""
    return _Redact().walk(shape, value)
