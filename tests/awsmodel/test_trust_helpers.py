"""The model layer's answers to hostile input: characters nothing can store, timestamps botocore
cannot send, JSON only Python reads, and how big an input can get."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.utils import parse_to_aware_datetime

from awsmodel import jsontext
from awsmodel.characters import character_name, must_not_contain, printable, unstorable_character
from awsmodel.shapes import format_path, operation_model
from awsmodel.sizes import max_items, scalars_at_most
from awsmodel.timestamps import TimestampError, parse_timestamp

# --- characters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [("plain", None), ("é 東京 😀", None), ("a\x00b", "\x00"), ("a\ud800b", "\ud800"), ("\udfff", "\udfff")],
)
def test_nul_and_lone_surrogates_are_the_characters_nothing_can_store(text, found):
    assert unstorable_character(text) == found


def test_a_character_is_named_by_its_code_point_and_what_it_is():
    assert character_name("\x00") == "U+0000 (NUL)"
    assert character_name("\ud800") == "U+D800 (a lone surrogate)"
    assert must_not_contain("\udc00") == "must not contain the character U+DC00 (a lone surrogate)"


def test_a_path_through_a_map_key_with_a_surrogate_is_written_as_json_would_escape_it():
    path = ("Tags", "a\ud800b")

    assert format_path(path) == "Tags.a\\ud800b"
    assert format_path(path).encode("utf-8")  # always encodable, so a response can carry it
    assert printable("ok") == "ok"


# --- timestamps ------------------------------------------------------------------------------------

ACCEPTED = [
    ("2026-01-31T14:30:00Z", "2026-01-31T14:30:00+00:00"),
    ("2026-01-31T16:30:00+02:00", "2026-01-31T14:30:00+00:00"),
    ("2026-01-31", "2026-01-31T00:00:00+00:00"),
    (1700000000, "2023-11-14T22:13:20+00:00"),
    (1700000000.5, "2023-11-14T22:13:20.500000+00:00"),
    ("1700000000", "2023-11-14T22:13:20+00:00"),
    ("17e8", "2023-11-14T22:13:20+00:00"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"),
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
    (-62135596800, "0001-01-01T00:00:00+00:00"),
    (253402300799, "9999-12-31T23:59:59+00:00"),
]
REFUSED = [
    True,
    False,
    "10000-01-01T00:00:00Z",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:30:00+01:00",
    253402300800,
    -62135596801,
    10**30,
    1e300,
    float("inf"),
    float("nan"),
    "1e400",
    "nan",
    "yesterday",
    "2026-W05-1",  # ISO-8601 that Python reads and botocore's parser does not
    " 1700000000",
    "",
    None,
    [],
]


@pytest.mark.parametrize(("value", "moment"), ACCEPTED)
def test_a_timestamp_botocore_can_send_is_read_as_the_same_moment_botocore_reads(value, moment):
    parsed = parse_timestamp(value)

    assert parsed.isoformat() == moment
    assert parsed == parse_to_aware_datetime(value)


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_a_timestamp_botocore_cannot_send_is_refused_in_words(value):
    with pytest.raises(TimestampError, match=r"^must be "):
        parse_timestamp(value)


def test_a_naive_datetime_is_utc():
    assert parse_timestamp(dt.datetime(2026, 1, 31, 14, 30)).isoformat() == "2026-01-31T14:30:00+00:00"


# --- JSON text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(literal):
    with pytest.raises(jsontext.NonStandardJSONError, match=f"^{literal} is not a JSON value"):
        jsontext.loads(f'{{"qty": {literal}}}')


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_too_deeply_for_python_is_an_error_not_a_recursion_error(depth):
    with pytest.raises(jsontext.TooDeepJSONError, match="too deeply"):
        jsontext.loads("[" * depth + "]" * depth)


def test_json_nested_a_hundred_levels_is_read():
    assert jsontext.loads("[" * 100 + "]" * 100) is not None


def test_text_that_is_not_json_is_a_plain_json_text_error():
    with pytest.raises(jsontext.JSONTextError) as error:
        jsontext.loads("{not json")

    assert not isinstance(error.value, (jsontext.NonStandardJSONError, jsontext.TooDeepJSONError))


# --- sizes -----------------------------------------------------------------------------------------


def test_the_largest_ingestion_has_its_four_members_and_fifty_tags_of_two_fields():
    shape = operation_model("appfabric", "CreateIngestion").input_shape

    assert max_items(shape.members["tags"]) == 50
    assert scalars_at_most(shape, skip="clientToken") == 4 + 50 * 2


def test_a_list_or_map_without_a_maximum_counts_one_row():
    shape = operation_model("appintegrations", "CreateDataIntegration").input_shape
    objects = shape.members["ObjectConfiguration"]

    assert max_items(objects) is None
    # One object, one field of it, and that field's 2,048 values, each with its key.
    assert scalars_at_most(objects) == 1 + 1 + 2048
