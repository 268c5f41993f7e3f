"""How big an input can be: the model's maximum list and map sizes, and what they add up to.

A form names every scalar of an input by its path, one form field each, so the largest form an
operation can need is its input with every list and map filled to the model's maximum. Where the
model sets no maximum, one row is counted: such a list or map can grow without bound, and a form
is only promised what the bounded ones need (Django refuses a form with more fields than
``DATA_UPLOAD_MAX_NUMBER_FIELDS``, which is set from this count).
"""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from awsmodel.shapes import Path, ShapeWalk


def max_items(shape: Shape) -> int | None:
    """The most items (a list) or entries (a map) the model allows, or None where it sets no maximum."""
    most = shape.metadata.get("max")
    return most if isinstance(most, int) else None


class _Fields(ShapeWalk):
    """The number of scalars in the largest value of a shape (the walk's value is unused)."""

    def __init__(self, skip: str | None) -> None:
        self.skip = skip  # a top-level member left out (the client token the portal keeps)

    def count(self, shape: Shape, path: Path) -> int:
        found: int = self.walk(shape, None, path)
        return found

    def structure(self, shape: StructureShape, value: Any, path: Path) -> int:
        members = shape.members.items()
        return sum(self.count(member, (*path, name)) for name, member in members if path or name != self.skip)

    def list(self, shape: ListShape, value: Any, path: Path) -> int:
        return (max_items(shape) or 1) * self.count(shape.member, (*path, 0))

    def map(self, shape: MapShape, value: Any, path: Path) -> int:
        row = self.count(shape.key, (*path, "key")) + self.count(shape.value, (*path, "value"))
        return (max_items(shape) or 1) * row

    def scalar(self, shape: Shape, value: Any, path: Path) -> int:
        return 1


def scalars_at_most(shape: Shape, skip: str | None = None) -> int:
    """How many scalars ``shape``'s largest value holds (its form fields), every bounded list and
    map filled to its maximum and the unbounded ones given one row; ``skip`` leaves one top-level
    member out."""
    return _Fields(skip).count(shape, ())
