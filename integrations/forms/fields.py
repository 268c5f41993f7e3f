"""One Django form field per scalar member of an operation's input.

The field carries what the model says about the member (its limits, its documentation) and what
the operation's hints add (a label, the constraint in words, documented choices), so that a person
sees the rule before breaking it. The field only parses; the model validation after cleaning is
what decides whether a value is accepted, so no field is stricter than the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import Shape
from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from awsmodel.constraints import describe
from awsmodel.shapes import first_paragraph
from awsmodel.timestamps import TimestampError, parse_timestamp
from operations import FieldHint


class TimestampField(forms.Field):
    """A date and time (ISO-8601) or epoch seconds; sent to botocore as an ISO-8601 string in UTC.

    botocore accepts both, but people type either, so the form takes both and sends one form of
    them: the recorded request then reads the same whichever was typed. What it accepts is what
    the API accepts (``awsmodel.timestamps``): moments botocore can send, in the years 1 to 9999.
    """

    widget = forms.TextInput
    error = "Enter a date and time such as 2026-01-31T14:30:00Z, or epoch seconds, in the years 1 to 9999."

    def to_python(self, value: object) -> str | None:
        if value in (None, ""):
            return None
        try:
            moment = parse_timestamp(str(value).strip())
        except TimestampError:
            raise forms.ValidationError(self.error) from None
        return moment.isoformat()


def choice_words(value: str, label: str) -> str:
    """A documented value as a dropdown shows it: its words with the raw value beside them, since
    the raw value is what the AWS documentation, the CLI and the request page say."""
    return value if label in ("", value) else f"{label} ({value})"


def _choice_field(choices: tuple[str | tuple[str, str], ...], common: dict[str, Any]) -> forms.ChoiceField:
    """A dropdown of documented values; a single one is chosen already (there is nothing to decide),
    and when the member is required the empty choice is not even offered."""
    pairs = [(c, c) if isinstance(c, str) else (c[0], choice_words(c[0], c[1])) for c in choices]
    if len(pairs) == 1:
        only = pairs[0][0]
        offered = pairs if common["required"] else [("", "—"), *pairs]
        return forms.ChoiceField(choices=offered, initial=only, **common)
    return forms.ChoiceField(choices=[("", "—"), *pairs], **common)


def make_field(
    shape: Shape, hint: FieldHint, label: str, required: bool, sensitive: bool, words: Mapping[str, str]
) -> forms.Field:
    """A form field for one scalar member, with the model's limits and the docs' help.

    The scalar type picks the widget and the parsing (numbers, booleans, timestamps); text is
    kept exactly as typed, because the model, not the form, decides which spaces are allowed.
    """
    enum = getattr(shape, "enum", None)  # only string shapes have one
    choices = hint.choices or (tuple(enum) if enum else None)
    help_parts = [hint.help or first_paragraph(shape)]
    # A dropdown shows its choices: the help does not list them again.
    said = hint.words or (None if choices else describe(shape, words))
    if said:
        help_parts.append(f"Constraint: {said}.")
    help_text = " ".join(p for p in help_parts if p)
    common: dict[str, Any] = {"label": hint.label or label, "required": required, "help_text": help_text}
    kind = shape.type_name
    if choices:
        return _choice_field(choices, common)
    if kind in ("integer", "long"):
        return forms.IntegerField(min_value=shape.metadata.get("min"), max_value=shape.metadata.get("max"), **common)
    if kind in ("float", "double"):
        return forms.FloatField(**common)
    if kind == "boolean":
        return forms.TypedChoiceField(
            choices=[("", "—"), ("true", "true"), ("false", "false")],
            coerce=lambda v: v == "true",
            empty_value=None,
            **common,
        )
    if kind == "timestamp":
        return TimestampField(**common)
    # A payload (sensitive, JSON) gets room; a description grows as it is typed into (browsers let it).
    rows = 6 if sensitive else 3
    widget = forms.Textarea(attrs={"rows": rows}) if (hint.widget == "textarea" or sensitive) else forms.TextInput
    # No stripping: a value AWS accepts with its spaces must arrive with them.
    text = forms.CharField(widget=widget, strip=False, **common)
    # NUL is refused by the one validation path (operations.checks), in the same words as in the
    # API ("must not contain the character U+0000 (NUL)"), rather than by Django's own validator.
    text.validators = [v for v in text.validators if not isinstance(v, ProhibitNullCharactersValidator)]
    return text
