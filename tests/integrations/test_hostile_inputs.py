"""No 500 from input: a corpus of hostile and odd values, for every operation, through the form,
validate/, the preview and the API. Each is a field error (or a 400) naming the member, never a
500; nothing is recorded and nothing is enqueued.

Tests run on SQLite by default and on PostgreSQL in CI, which refuses to store NUL and lone
surrogates (SQLite stores them, and every page showing them fails later): refusing them before
the database sees them is what keeps both the same.
"""

from __future__ import annotations

import json

import pytest

from awsmodel.shapes import format_path
from integrations.forms import OperationForm, params_to_data
from integrations.models import AwsRequest
from operations.checks import NULL_WORDS
from tests.factories import make_operator
from tests.integrations.trust import (
    OPERATIONS,
    api_post,
    form_fields,
    optional_members,
    page,
    post_urlencoded,
    replaced,
    string_places,
    valid,
)

CHARACTERS = {
    "NUL": ("\x00", "U+0000 (NUL)"),
    "high surrogate": ("\ud800", "U+D800"),
    "low surrogate": ("\udfff", "U+DFFF"),
}


# --- helpers ------------------------------------------------------------------------------------------


def _at(params, path):
    value = params
    for part in path:
        value = value[part]
    return value


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _full(words: str) -> str:
    return words if "(" in words else f"{words} (a lone surrogate)"


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _fits(kind: str, value) -> bool:
    """Whether ``value`` has the type a member of this kind takes (then it is no case of a wrong type)."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "timestamp":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "list":
        return value == []
    if kind in ("structure", "map"):
        return value == {}
    return False


def _string_cases(characters: dict[str, tuple[str, str]]):
    for operation in OPERATIONS:
        params = valid(operation)
        for path, kind in string_places(operation, params):
            for name, (character, words) in characters.items():
                case_id = f"{operation.key} {format_path(path)} ({kind}) {name}"
                yield pytest.param(operation, params, path, kind, character, words, id=case_id)


STRING_CASES = list(_string_cases(CHARACTERS))
NUL_CASES = list(_string_cases({"NUL": CHARACTERS["NUL"]}))


@pytest.fixture
def operator(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_operator("hostile-operator")


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def refused(django_capture_on_commit_callbacks):
    """Asserts, around what it wraps, that nothing was recorded and nothing enqueued."""

    class Refused:
        def __enter__(self):
            self.before = AwsRequest.objects.count()
            self.capture = django_capture_on_commit_callbacks(execute=True)
            self.callbacks = self.capture.__enter__()
            return self

        def __exit__(self, *exc):
            self.capture.__exit__(*exc)
            if exc[0] is None:
                assert AwsRequest.objects.count() == self.before, "a refused request was recorded"
                assert self.callbacks == [], "a refused request was enqueued"

    return Refused()


def hostile_text(text: str, character: str) -> str:
    return f"{text[:1]}{character}{text[1:]}" if text else character


# --- characters nothing can store, in every string of every operation -------------------------------


@pytest.mark.parametrize(("operation", "params", "path", "kind", "character", "words"), STRING_CASES)
def test_the_api_refuses_a_character_that_cannot_be_stored_naming_the_member_and_the_character(
    signed_in, refused, operation, params, path, kind, character, words
):
    original = path[-1] if kind == "key" else _at(params, path)
    bad = hostile_text(str(original), character)
    hostile = replaced(params, path, kind, bad)

    with refused:
        response = api_post(signed_in, operation, hostile)

    assert response.status_code == 400
    where = format_path((*path[:-1], bad) if kind == "key" else path)
    assert response.json() == {
        "errors": {where: [f"{'key ' if kind == 'key' else ''}must not contain the character {_full(words)}"]}
    }


@pytest.mark.parametrize(("operation", "params", "path", "kind", "character", "words"), STRING_CASES)
def test_the_form_refuses_a_character_that_cannot_be_stored_on_the_field_it_was_typed_in(
    operation, params, path, kind, character, words
):
    original = path[-1] if kind == "key" else _at(params, path)
    bad = hostile_text(str(original), character)
    data = params_to_data(operation, replaced(params, path, kind, bad))
    [typed_in] = [name for name, value in data.items() if value == bad]

    form = OperationForm(operation, data)

    assert not form.is_valid()
    assert list(form.errors) == [typed_in]
    if not hasattr(form.fields[typed_in], "choices") and form.find(typed_in).shape.type_name == "string":
        # Text fields name the character; a choice or a date says what it expected instead.
        said = "Key must not" if kind == "key" else "Must not"
        assert form.errors[typed_in] == [f"{said} contain the character {_full(words)}."]


@pytest.mark.parametrize(("operation", "params", "path", "kind", "character", "words"), NUL_CASES)
@pytest.mark.parametrize("way", ["run", "preview", "validate"])
def test_a_nul_typed_into_any_field_is_a_field_error_on_every_page(
    signed_in, refused, operation, params, path, kind, character, words, way
):
    original = path[-1] if kind == "key" else _at(params, path)
    bad = hostile_text(str(original), character)
    data = params_to_data(operation, replaced(params, path, kind, bad))
    [typed_in] = [name for name, value in data.items() if value == bad]
    extra = {"_preview": "1"} if way == "preview" else {"_field": typed_in} if way == "validate" else {}

    with refused:
        response = post_urlencoded(signed_in, page(operation, "validate/" if way == "validate" else ""),
                                   form_fields(data, **extra))  # fmt: skip

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="field-{typed_in}"' in html
    assert 'class="errors"' in html
    assert "boto3" not in html  # no preview of a call that cannot be made


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
def test_a_browser_cannot_send_a_lone_surrogate_its_bytes_arrive_as_replacement_characters(
    signed_in, django_capture_on_commit_callbacks, operation, monkeypatch
):
    monkeypatch.setattr("integrations.pipeline.dispatch", lambda pk: None)
    data = form_fields(params_to_data(operation, valid(operation)))
    # A lone surrogate as UTF-8 would write it (ED A0 80), before every value typed.
    body = "&".join(f"{k}={'' if k == 'target' else '%ED%A0%80'}{_quote(v)}" for k, v in data.items())

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(page(operation), body, content_type="application/x-www-form-urlencoded")

    assert response.status_code in (200, 302)
    for recorded in AwsRequest.objects.all():
        assert "\ud800" not in json.dumps(recorded.parameters, ensure_ascii=False)


# --- the API's own hostile shapes ------------------------------------------------------------------------


def _null_cases():
    for operation in OPERATIONS:
        params = valid(operation)
        for path in optional_members(operation, params):
            yield pytest.param(operation, params, path, id=f"{operation.key} {format_path(path)}")


@pytest.mark.parametrize(("operation", "params", "path"), list(_null_cases()))
def test_null_for_an_optional_member_is_refused_naming_it(signed_in, refused, operation, params, path):
    with refused:
        response = api_post(signed_in, operation, replaced(params, path, "value", None))

    assert response.status_code == 400
    assert response.json() == {"errors": {format_path(path): [NULL_WORDS]}}


ODD_BODIES = {
    "a surrogate in the name of an unknown member": '{"target": "sandbox", "parameters": {"x\\ud800": 1}}',
    "a NUL in the name of an unknown member": '{"target": "sandbox", "parameters": {"x\\u0000": 1}}',
    "a surrogate in the target": '{"target": "sand\\udc00box", "parameters": {}}',
    "a NUL in the target": '{"target": "sand\\u0000box", "parameters": {}}',
    "parameters nested far too deep": '{"target": "sandbox", "parameters": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "a number too large for JSON": '{"target": "sandbox", "parameters": {"x": 1e400}}',
    "an integer of five thousand digits": '{"target": "sandbox", "parameters": {"x": ' + "9" * 5000 + "}}",
    "NaN": '{"target": "sandbox", "parameters": {"x": NaN}}',
    "bytes that are not UTF-8": '{"target": "sandbox", "parameters": {"x": "\xed\xa0\x80"}}',
    "not an object": "[]",
    "a string": '"parameters"',
    "null": "null",
    "nothing": "",
}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_an_odd_body_is_a_400(signed_in, refused, operation, body):
    raw = body.encode("latin-1") if "\xed" in body else body

    with refused:
        response = api_post(signed_in, operation, None, raw=raw)

    assert response.status_code == 400


def _wrong_type_cases():
    for operation in OPERATIONS:
        params = valid(operation)
        for name, member in operation.input_shape.members.items():
            if name == operation.token_member:
                continue
            wrong = [True, 1.5, [], {}, "text", _nested(50)]
            for value in wrong:
                if _fits(member.type_name, value):
                    continue
                yield pytest.param(operation, params, name, value, id=f"{operation.key} {name}={str(value)[:12]}")


@pytest.mark.parametrize(("operation", "params", "member", "value"), list(_wrong_type_cases()))
def test_a_value_of_the_wrong_type_is_refused_on_its_member(signed_in, refused, operation, params, member, value):
    with refused:
        response = api_post(signed_in, operation, {**params, member: value})

    assert response.status_code == 400
    assert [where for where in response.json()["errors"] if where.startswith(member)]
