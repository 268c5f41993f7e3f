"""Property: each operation's form accepts exactly what the botocore model (and the docs) accept.

Parameters are generated from each registered operation's botocore input shape, valid and
invalid alike; the form is filled with them as a person would (params_to_data), and its verdict
must match the model validator's plus the documented rules. What the form refuses is never
recorded, so never enqueued.

Two things a form cannot say are left out of the generated values, as documented: a field left
empty means "not given" (so optional members are absent, never ""), and text never holds a NUL
character (browsers do not send it and PostgreSQL cannot store it).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsmodel.constraints import _java_shorthands, validate
from integrations.forms import OperationForm, params_to_data
from integrations.models import AwsRequest
from operations import Operation, all_operations
from operations.checks import SAMPLE_TOKEN
from tests.factories import default_target, make_operator

OPERATIONS = all_operations()
TEXT = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
MAX_TEXT = 40


def _text(lo: int | None, hi: int | None) -> st.SearchStrategy[str]:
    lo = lo or 0
    top = min(hi if hi is not None else MAX_TEXT, max(lo, MAX_TEXT))
    return st.text(TEXT, min_size=lo, max_size=top)


def _matching(pattern: str) -> st.SearchStrategy[str] | None:
    if "\\p{" in pattern or "(?=" in pattern:
        return None  # not Python `re` syntax; covered by the free-text and Unicode-letter branches
    try:
        return st.from_regex(_java_shorthands(pattern), fullmatch=True).filter(lambda s: "\x00" not in s)
    except Exception:
        return None


def strings(shape: Shape, allow_empty: bool = False) -> st.SearchStrategy[str]:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    options = [_text(lo, hi), _text(0, (hi or MAX_TEXT) + 5)]
    if getattr(shape, "enum", None):
        options.append(st.sampled_from(shape.enum))
    pattern = shape.metadata.get("pattern")
    if pattern:
        matching = _matching(pattern)
        if matching is not None:
            options.extend([matching, matching])
        if "\\p{L}" in pattern:
            options.append(st.text(st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=20))
    if shape.metadata.get("sensitive"):  # Supply Chain's data: JSON, sometimes with connection_id
        records = st.dictionaries(st.sampled_from(["id", "qty", "connection_id", "note"]), st.integers() | TEXT)
        options.extend([records.map(json.dumps), st.lists(records, max_size=3).map(json.dumps)])
    return st.one_of(options).filter(lambda s: s != "" or allow_empty)


def values(shape: Shape, depth: int = 0, allow_empty: bool = False) -> st.SearchStrategy:
    kind = shape.type_name
    if kind == "string":
        return strings(shape, allow_empty)
    if kind == "timestamp":
        moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))
        return moments.map(lambda m: m.replace(microsecond=0, tzinfo=dt.UTC).isoformat())
    if kind == "structure":
        return structures(shape, depth)
    if kind == "list":
        hi = shape.metadata.get("max")
        return st.lists(values(shape.member, depth + 1), min_size=1, max_size=min((hi or 4) + 1, 4))
    if kind == "map":
        hi = shape.metadata.get("max")
        keys = strings(shape.key).filter(bool)
        return st.dictionaries(keys, values(shape.value, depth + 1), min_size=1, max_size=min((hi or 3) + 1, 3))
    raise AssertionError(f"no strategy for {kind}")


def _has_content(value: object) -> bool:
    if isinstance(value, dict):
        return any(_has_content(v) for v in value.values()) or False
    if isinstance(value, list):
        return bool(value)
    return value not in (None, "")


def structures(shape: Shape, depth: int = 0, skip: str | None = None) -> st.SearchStrategy[dict]:
    members = {}
    for name, member in shape.members.items():
        if name == skip:
            continue
        # "" is sayable only as a required member of a structure that has other content
        # (an empty tag value); anywhere else an empty field means "not given".
        present = values(member, depth + 1, allow_empty=depth > 0 and name in shape.required_members)
        # Required members are usually given; optional ones half the time.
        weight = [present, present, present, st.none()] if name in shape.required_members else [present, st.none()]
        members[name] = st.one_of(weight)
    built = st.fixed_dictionaries(members).map(lambda d: {k: v for k, v in d.items() if v is not None})
    # A structure with nothing filled in is a form left empty: it is simply not sent.
    return built if depth == 0 else built.filter(_has_content)


def model_accepts(operation: Operation, params: dict) -> bool:
    candidate = {**params, operation.token_member: SAMPLE_TOKEN}
    return not validate(operation.model.input_shape, candidate) and not operation.documented_rules(candidate)


def as_the_form_sends(operation: Operation, params: dict) -> dict:
    """``params`` without the members shown only for a choice that is not made (``FieldHint.shown_when``):
    the form hides them, and ignores them when sent without JavaScript."""
    sent = dict(params)
    for member, hint in operation.hints.items():
        if hint.shown_when is not None and "." not in member:
            controller, value = hint.shown_when
            if sent.get(controller) != value:
                sent.pop(member, None)
    return sent


def _comparable(operation: Operation, params: dict, original: dict) -> dict:
    # An empty event time is filled with "now" when the request is recorded (documented).
    if operation.key == "supplychain/SendDataIntegrationEvent" and "eventTimestamp" not in original:
        return {k: v for k, v in params.items() if k != "eventTimestamp"}
    return params


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_form_accepts_exactly_what_the_model_accepts(operation, data):
    params = data.draw(structures(operation.model.input_shape, skip=operation.token_member), label="params")

    form = OperationForm(operation, params_to_data(operation, params))

    sent = as_the_form_sends(operation, params)
    accepted = form.is_valid()
    assert accepted == model_accepts(operation, sent), (form.errors, form.group_errors)
    if accepted:
        assert _comparable(operation, form.params, sent) == sent


@pytest.fixture
def operator(db):
    return make_operator("prop-operator")


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_the_form_refuses_is_never_recorded(operation, data, client, operator):
    params = data.draw(structures(operation.model.input_shape, skip=operation.token_member), label="params")
    client.force_login(operator)
    before = AwsRequest.objects.count()

    data = {"target": str(default_target().pk), **params_to_data(operation, params)}
    response = client.post(f"/operations/{operation.service}/{operation.name}/", data)

    recorded = AwsRequest.objects.count() - before
    if model_accepts(operation, as_the_form_sends(operation, params)):
        assert (response.status_code, recorded) == (302, 1)
    else:
        assert (response.status_code, recorded) == (200, 0)
