"""The one walk over botocore shapes: dispatch written once, each use overriding only what differs."""

from __future__ import annotations

from awsmodel.redaction import redact_sensitive
from awsmodel.schema import json_schema
from awsmodel.shapes import ShapeCheck, ShapeWalk, format_path, operation_model

DATA_INTEGRATION = operation_model("appintegrations", "CreateDataIntegration").input_shape
EVENT = operation_model("supplychain", "SendDataIntegrationEvent").input_shape

PARAMS = {
    "Name": "orders",
    "Tags": {"team": "ops"},
    "FileConfiguration": {"Folders": ["/a", "/b"], "Filters": {"type": ["csv"]}},
    "NotInTheModel": {"kept": "as is"},
}


class Upper(ShapeWalk):
    def scalar(self, shape, value, path):
        return value.upper() if isinstance(value, str) else value


class Paths(ShapeCheck):
    def scalar(self, shape, value, path):
        yield format_path(path)


def test_the_default_walk_rebuilds_the_value_and_a_walk_may_change_only_the_leaves():
    assert ShapeWalk().walk(DATA_INTEGRATION, PARAMS) == PARAMS
    assert Upper().walk(DATA_INTEGRATION, PARAMS) == {
        "Name": "ORDERS",
        "Tags": {"team": "OPS"},
        "FileConfiguration": {"Folders": ["/A", "/B"], "Filters": {"type": ["CSV"]}},
        "NotInTheModel": {"kept": "as is"},
    }


def test_a_value_of_the_wrong_type_passes_through_unchanged():
    assert Upper().walk(DATA_INTEGRATION, {"Tags": ["not", "a", "map"], "FileConfiguration": "text"}) == {
        "Tags": ["not", "a", "map"],
        "FileConfiguration": "text",
    }


def test_a_check_yields_from_every_member_list_item_and_map_value_the_model_knows():
    assert sorted(Paths().walk(DATA_INTEGRATION, PARAMS)) == [
        "FileConfiguration.Filters.type[0]",
        "FileConfiguration.Folders[0]",
        "FileConfiguration.Folders[1]",
        "Name",
        "Tags.team",
    ]


def test_redaction_and_the_json_schema_are_walks_too():
    redacted = redact_sensitive(EVENT, {"instanceId": "i", "data": '{"secret": 1}'})
    schema = json_schema(DATA_INTEGRATION, skip="ClientToken")

    assert redacted["instanceId"] == "i"
    assert redacted["data"].startswith("<sensitive: 13 characters, sha256 ")
    assert "ClientToken" not in schema["properties"]
    assert schema["properties"]["FileConfiguration"]["properties"]["Folders"]["items"]["type"] == "string"
    assert schema["properties"]["Tags"]["additionalProperties"]["type"] == "string"
