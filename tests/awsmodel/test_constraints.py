"""The model-driven validator: every constraint botocore's model carries, read the way AWS reads it."""

from __future__ import annotations

import collections

import pytest

from awsmodel.constraints import Violation, compiled_pattern, describe, validate
from awsmodel.shapes import format_path, idempotency_token_member, operation_model
from awsmodel.words import PATTERN_WORDS
from operations import all_operations

INGESTION = operation_model("appfabric", "CreateIngestion").input_shape
EVENT = operation_model("supplychain", "SendDataIntegrationEvent").input_shape
DATA_INTEGRATION = operation_model("appintegrations", "CreateDataIntegration").input_shape
SNAPSHOT_JOB = operation_model("partnercentral-selling", "CreateResourceSnapshotJob").input_shape
CONNECTOR = operation_model("appflow", "RegisterConnector").input_shape
LIST_INGESTIONS = operation_model("appfabric", "ListIngestions").input_shape

# The shared words and every operation's own, as the forms read them.
WORDS = collections.ChainMap(*(op.words for op in all_operations()), PATTERN_WORDS)

TAG_KEY = SNAPSHOT_JOB.members["Tags"].member.members["Key"]
TAG_VALUE = SNAPSHOT_JOB.members["Tags"].member.members["Value"]


def _found(shape, value) -> set[tuple[tuple, str]]:
    return {(v.path, v.constraint) for v in validate(shape, value)}


def test_a_valid_input_has_no_violations():
    value = {
        "Name": "orders",
        "KmsKey": "alias/k",
        "Tags": {"team": "integrations"},
        "FileConfiguration": {"Folders": ["exports"], "Filters": {"orders": ["order_id"]}},
        "ObjectConfiguration": {"orders": {"columns": ["order_id", "quantity"]}},
    }

    assert validate(DATA_INTEGRATION, value) == []


# --- patterns -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("O[0-9]{1,19}", "O123", True),
        ("O[0-9]{1,19}", "O123-draft", False),  # a prefix match is not enough
        ("O[0-9]{1,19}", "xO123", False),
        ("eng-[0-9a-z]{14}", "eng-a1b2c3d4e5f6g7", True),
        ("eng-[0-9a-z]{14}", "eng-a1b2c3d4e5f6g7h", False),
        # Alternatives are matched as a whole too, anchors or not.
        (INGESTION.members["appBundleIdentifier"].metadata["pattern"], "arn:aws:appfabric:x", True),
        (INGESTION.members["appBundleIdentifier"].metadata["pattern"], "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", True),
        (INGESTION.members["appBundleIdentifier"].metadata["pattern"], "see arn:aws:appfabric:x", False),
        (INGESTION.members["appBundleIdentifier"].metadata["pattern"], "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d!", False),
    ],
)
def test_a_pattern_must_match_the_whole_value(pattern, value, matches):
    assert bool(compiled_pattern(pattern).fullmatch(value)) is matches


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"\w+", "order_id_42", True),
        (r"\w+", "é", False),  # Java's \w is [A-Za-z0-9_]
        (r"\w+", "東京", False),
        (r"\d+", "42", True),
        (r"\d+", "٤٢", False),  # Arabic-Indic digits are not Java's \d
        (r"a\sb", "a\tb", True),
        (r"a\sb", "a\u00a0b", False),  # nor is a no-break space Java's \s
        (r"[\s\w/!@#+=.-]*", "Custom ERP connector v2.0", True),  # shorthands inside a class too
        (r"[\s\w/!@#+=.-]*", "Connecteur café", False),
        (r"[a-zA-Z0-9][\w!@#.-]+", "erp_orders-v2", True),
        (r"[a-zA-Z0-9][\w!@#.-]+", "erp-café", False),
        (r"\[\w\]", "[a]", True),  # escaped brackets do not open a class
    ],
)
def test_shorthand_classes_are_javas_ascii_ones(pattern, value, matches):
    assert bool(compiled_pattern(pattern).fullmatch(value)) is matches


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("héllo wörld", True),
        ("東京 2026", True),
        ("team:owner/@+=_.-", True),
        ("", False),  # the lookahead asks for 1–128 characters
        ("k" * 128, True),
        ("k" * 129, False),
        ("bad!", False),
        ("emoji 🙂", False),
        ("tab\there", False),
    ],
)
def test_unicode_property_classes_stay_unicode(value, matches):
    assert bool(compiled_pattern(TAG_KEY.metadata["pattern"]).fullmatch(value)) is matches


def test_a_pattern_violation_names_the_member_and_the_pattern():
    [violation] = validate(CONNECTOR, {"connectorLabel": "-leading-dash"})

    assert violation == Violation(("connectorLabel",), "pattern", "must match the pattern [a-zA-Z0-9][\\w!@#.-]+")


def test_tag_values_may_be_empty_but_tag_keys_may_not():
    assert validate(TAG_VALUE, "") == []
    assert [v.constraint for v in validate(TAG_KEY, "")] == ["pattern"]


# --- the other constraints ------------------------------------------------------------------------


def test_required_members_are_reported_where_they_are_missing():
    found = _found(INGESTION, {"appBundleIdentifier": "arn:aws:appfabric:x", "app": "OKTA", "tenantId": None})

    assert found == {(("tenantId",), "required"), (("ingestionType",), "required")}


@pytest.mark.parametrize(
    ("member", "value", "constraint"),
    [
        ("app", "", "length"),
        ("app", "x" * 255, None),
        ("app", "x" * 256, "length"),
        ("ingestionType", "changeLog", "enum"),
        ("ingestionType", "auditLog", None),
        ("tags", [], None),
        ("tags", [{"key": f"k{i}", "value": ""} for i in range(51)], "size"),
        ("app", 42, "type"),
        ("tags", {"key": "k", "value": "v"}, "type"),
    ],
)
def test_each_constraint_of_a_member_is_checked(member, value, constraint):
    valid = {"appBundleIdentifier": "arn:aws:appfabric:x", "app": "OKTA", "tenantId": "t", "ingestionType": "auditLog"}

    found = _found(INGESTION, {**valid, member: value})

    assert found == ({((member,), constraint)} if constraint else set())


def test_a_string_breaking_several_constraints_reports_each():
    found = _found(DATA_INTEGRATION, {"Name": "", "KmsKey": "k"})

    assert found == {(("Name",), "length"), (("Name",), "pattern")}


def test_numbers_are_checked_against_their_range_and_booleans_are_not_numbers():
    base = {"appBundleIdentifier": "arn:aws:appfabric:x"}

    [too_many] = validate(LIST_INGESTIONS, {**base, "maxResults": 500})
    [boolean] = validate(LIST_INGESTIONS, {**base, "maxResults": True})

    assert too_many == Violation(("maxResults",), "range", "must be a number from 1 to 100")
    assert (boolean.path, boolean.constraint) == (("maxResults",), "type")
    assert validate(LIST_INGESTIONS, {**base, "maxResults": 100}) == []


@pytest.mark.parametrize(
    ("timestamp", "valid"),
    [("2026-11-26T10:00:00Z", True), (1764151200, True), ("2026-11-26T10:00:00+01:00", True), ("yesterday", False)],
)
def test_timestamps_are_iso_8601_or_epoch_seconds(timestamp, valid):
    value = {"instanceId": "11111111-2222-4333-8444-555555555555", "eventType": "scn.data.forecast"}
    value |= {"data": "{}", "eventGroupId": "g", "eventTimestamp": timestamp}

    assert (validate(EVENT, value) == []) is valid


# --- maps and nesting -----------------------------------------------------------------------------


def test_map_keys_have_their_own_constraints():
    long_key = "k" * 129

    [violation] = validate(DATA_INTEGRATION, {"Name": "n", "KmsKey": "k", "Tags": {long_key: "v"}})

    assert (violation.path, violation.constraint) == (("Tags", long_key), "length")
    assert violation.message.startswith("key must have 1–128 characters")


def test_map_values_and_sizes_are_checked():
    found = _found(
        DATA_INTEGRATION,
        {"Name": "n", "KmsKey": "k", "Tags": {}, "ObjectConfiguration": {"orders": {"columns": [], "ids": ["ok"]}}},
    )

    assert found == {(("Tags",), "size"), (("ObjectConfiguration", "orders", "columns"), "size")}


def test_nested_violations_carry_their_full_path():
    value = {
        "Name": "n",
        "KmsKey": "k",
        "FileConfiguration": {"Folders": ["exports", "archive", "   "], "Filters": {"orders": ["ok", "not ok"]}},
    }

    found = _found(DATA_INTEGRATION, value)

    assert found == {
        (("FileConfiguration", "Folders", 2), "pattern"),
        (("FileConfiguration", "Filters", "orders", 1), "pattern"),
    }


def test_a_missing_member_of_a_nested_structure_is_reported_at_its_path():
    found = _found(CONNECTOR, {"connectorProvisioningConfig": {"lambda": {}}})
    in_a_list = _found(SNAPSHOT_JOB.members["Tags"], [{"Key": "k"}])

    assert found == {(("connectorProvisioningConfig", "lambda", "lambdaArn"), "required")}
    assert in_a_list == {((0, "Value"), "required")}


def test_validation_can_start_below_the_top():
    found = {(v.path, v.constraint) for v in validate(TAG_KEY, "bad!", path=("Tags", 3, "Key"))}

    assert found == {(("Tags", 3, "Key"), "pattern")}


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("Name",), "Name"),
        (("FileConfiguration", "Folders", 2), "FileConfiguration.Folders[2]"),
        (("Tags", 0, "Key"), "Tags[0].Key"),
        (("ObjectConfiguration", "orders", "columns", 1), "ObjectConfiguration.orders.columns[1]"),
        ((0, "Value"), "[0].Value"),
    ],
)
def test_format_path_writes_paths_as_in_aws_error_messages(path, text):
    assert format_path(path) == text
    assert Violation(path, "required", "is required").dotted_path == text


# --- describe() -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "text"),
    [
        (DATA_INTEGRATION.members["Name"], "1–255 characters: letters, digits and / . _ -"),
        (EVENT.members["instanceId"], "36 characters: a UUID in lower-case hex (8-4-4-4-12)"),
        (
            CONNECTOR.members["connectorLabel"],
            "at most 256 characters: a letter or digit, then letters, digits and _ ! @ # . - (at least 2 characters)",
        ),
        (INGESTION.members["ingestionType"], "one of auditLog"),
        (INGESTION.members["tags"], "0–50 items"),
        (DATA_INTEGRATION.members["FileConfiguration"].members["Folders"], "1–10 items"),
        (DATA_INTEGRATION.members["Tags"], "1–200 entries"),
        (LIST_INGESTIONS.members["maxResults"], "a number from 1 to 100"),
        (DATA_INTEGRATION.members["FileConfiguration"], ""),
        (EVENT.members["eventTimestamp"], ""),
    ],
    ids=lambda v: getattr(v, "name", None),
)
def test_describe_puts_a_constraint_in_words(shape, text):
    assert describe(shape, WORDS) == text


def test_the_idempotency_token_member_is_read_from_the_model():
    assert idempotency_token_member(operation_model("appfabric", "CreateIngestion")) == "clientToken"
    assert idempotency_token_member(operation_model("appintegrations", "CreateDataIntegration")) == "ClientToken"
    assert idempotency_token_member(operation_model("appfabric", "ListIngestions")) is None
