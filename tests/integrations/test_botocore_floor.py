"""The botocore floor: nothing is recorded that botocore's own client-side validation would refuse
for the final parameters (the client token included), whichever way it came in.

Also here, what the floor settles: JSON null for an optional member is refused (a 400 naming it,
never recorded, so a key's replay has nothing to compare it with); timestamps mean the same in the
form and the API; Supply Chain's data is RFC 8259 JSON; the Idempotency-Key is checked, never cut.
"""

from __future__ import annotations

import json
import random

import pytest
from botocore.validate import validate_parameters
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from integrations import lifecycle
from integrations.forms import OperationForm
from integrations.models import AwsRequest
from operations import get_operation
from operations.checks import NULL_WORDS, SAMPLE_TOKEN, check_parameters
from tests.factories import default_target, make_operator
from tests.integrations.test_form_properties import structures, values
from tests.integrations.trust import OPERATIONS, api_post, valid

CONNECTOR = get_operation("appflow/RegisterConnector")
EVENT = get_operation("supplychain/SendDataIntegrationEvent")
INTEGRATION = get_operation("appintegrations/CreateDataIntegration")


@pytest.fixture
def operator(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_operator("floor-operator")


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def final_parameters(aws_request: AwsRequest) -> dict:
    """What the worker hands botocore: the recorded parameters and the request's client token."""
    operation = get_operation(aws_request.operation_key)
    return {**aws_request.parameters, operation.token_member: aws_request.client_token}


def assert_botocore_accepts(aws_request: AwsRequest) -> None:
    stored = AwsRequest.objects.get(pk=aws_request.pk)  # as the database gives it back
    validate_parameters(final_parameters(stored), get_operation(stored.operation_key).input_shape)


# --- the property: whatever is recorded, botocore accepts ---------------------------------------------

# Values botocore or the database refuse, dropped anywhere into otherwise generated parameters.
HOSTILE = st.sampled_from(
    [None, True, 1e300, -1, 10**30, "", "a\x00b", "a\ud800b", "\udfff", "10000-01-01T00:00:00Z", "1700000000",
     "[NaN]", '{"qty": Infinity}', "[" * 2000 + "]" * 2000, [], {}, [None], {"k": None}, "x" * 300]
)  # fmt: skip


def _places(value, path=()):
    """Every place in a value a hostile one can go: (container path, key or index)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield path, i
            yield from _places(item, (*path, i))


def _shape_under(shape, path):
    for part in path:
        kind = shape.type_name
        shape = shape.members[part] if kind == "structure" else shape.member if kind == "list" else shape.value
    return shape


@st.composite
def wild_parameters(draw, operation):
    """Mostly a valid request with one value replaced, by one generated from its shape (valid or
    not, see test_form_properties) or by something hostile; sometimes parameters generated whole."""
    shape = operation.input_shape
    if draw(st.integers(0, 4)) == 0:
        return draw(structures(shape, skip=operation.token_member))
    params = valid(operation)
    choice = draw(st.sampled_from(["as is", "generated", "generated", "hostile", "a member added"]))
    if choice in ("generated", "hostile"):
        where, key = draw(st.sampled_from(list(_places(params))))
        parent = params
        for part in where:
            parent = parent[part]
        at = _shape_under(shape, (*where, key))
        parent[key] = draw(values(at, depth=1) if choice == "generated" else HOSTILE)
    elif choice == "a member added":
        member = draw(st.sampled_from(sorted(set(shape.members) - {operation.token_member})))
        params[member] = draw(HOSTILE | values(shape.members[member], depth=1))
    return params


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_request_submit_records_passes_botocores_own_validation(operation, data, operator):
    params = data.draw(wild_parameters(operation), label="params")

    try:
        submission = lifecycle.submit(operation, params, operator, default_target())
    except lifecycle.InvalidParametersError:
        event("refused")
        return
    event("recorded")
    assert_botocore_accepts(submission.aws_request)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_request_the_api_records_passes_botocores_own_validation(operation, data, client, operator):
    params = data.draw(wild_parameters(operation), label="params")
    client.force_login(operator)

    response = api_post(client, operation, params)  # json.dumps writes a surrogate as \ud800

    assert response.status_code in (201, 400), response.content
    event(f"HTTP {response.status_code}")
    if response.status_code == 201:
        assert_botocore_accepts(AwsRequest.objects.get(pk=response.json()["id"]))


# --- botocore's report, mapped to the members --------------------------------------------------------


@pytest.fixture
def only_botocore(monkeypatch):
    """The portal's own model validator switched off, so that botocore's floor alone speaks."""
    monkeypatch.setattr("operations.checks.validate", lambda shape, value: [])


def test_botocores_refusals_are_reported_on_the_members_they_name(only_botocore):
    params = {"Name": 5, "KmsKey": "k", "Tags": {"env": 3}, "FileConfiguration": {"Folders": []}}

    found = {(v.path, v.message) for v in check_parameters(INTEGRATION, params)}

    assert found == {
        (("Name",), "must be a string"),
        (("Tags", "env"), "must be a string"),
        (("FileConfiguration", "Folders"), "must have at least 1 item"),
    }


def test_a_value_botocores_validator_cannot_even_read_is_one_refusal_at_the_top_not_a_crash(only_botocore):
    # botocore's timestamp check raises RuntimeError on 1e300 instead of reporting it.
    [violation] = check_parameters(EVENT, {**valid(EVENT), "eventTimestamp": 1e300})

    assert (violation.path, violation.message) == ((), "cannot be checked by botocore (RuntimeError)")


def test_what_botocore_cannot_serialize_is_refused_at_the_top(monkeypatch):
    class Refusing:
        def serialize_to_request(self, parameters, model):
            raise ValueError("cannot write it")

    monkeypatch.setattr("operations.checks._serializer", lambda protocol: Refusing())

    [violation] = check_parameters(CONNECTOR, {"connectorLabel": "orders"})

    assert violation.path == ()
    assert violation.message == "cannot be sent by botocore (ValueError: cannot write it)"


def test_the_floor_sees_the_client_token_the_portal_adds(monkeypatch):
    seen = []
    monkeypatch.setattr("operations.checks._serializer", lambda protocol: type("S", (), {
        "serialize_to_request": lambda self, parameters, model: seen.append(parameters)})())  # fmt: skip

    assert check_parameters(CONNECTOR, {"connectorLabel": "orders"}) == []
    assert seen == [{"connectorLabel": "orders", "clientToken": SAMPLE_TOKEN}]


# --- null: refused, naming the member -------------------------------------------------------------------


def test_null_for_an_optional_member_is_a_400_naming_it_and_nothing_is_recorded(signed_in):
    response = api_post(signed_in, CONNECTOR, {"connectorLabel": "orders", "description": None})

    assert response.status_code == 400
    assert response.json() == {"errors": {"description": [NULL_WORDS]}}
    assert not AwsRequest.objects.exists()


def test_null_for_a_required_member_is_reported_as_missing(signed_in):
    response = api_post(signed_in, EVENT, {**valid(EVENT), "eventGroupId": None})

    assert response.json() == {"errors": {"eventGroupId": ["is required"]}}


def test_a_key_used_with_null_is_not_used_up_and_replays_what_was_recorded_without_it(signed_in):
    with_null = {"connectorLabel": "orders", "description": None}
    without = {"connectorLabel": "orders"}

    refused = api_post(signed_in, CONNECTOR, with_null, key="order-7")
    first = api_post(signed_in, CONNECTOR, without, key="order-7")
    replay = api_post(signed_in, CONNECTOR, without, key="order-7")
    changed = api_post(signed_in, CONNECTOR, with_null, key="order-7")

    assert [r.status_code for r in (refused, first, replay, changed)] == [400, 201, 200, 409]
    assert replay.json()["id"] == first.json()["id"]
    assert AwsRequest.objects.get().parameters == without


# --- timestamps: the form and the API agree ----------------------------------------------------------

TIMESTAMPS = [
    # (as the API sends it, as a person types it, accepted)
    ("2026-01-31T14:30:00Z", "2026-01-31T14:30:00Z", True),
    (1700000000, "1700000000", True),
    ("1700000000", "1700000000", True),
    (1700000000.5, "1700000000.5", True),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", True),
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", True),
    ("10000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", False),
    ("9999-12-31T23:00:00-05:00", "9999-12-31T23:00:00-05:00", False),
    (253402300800, "253402300800", False),
    (1e300, "1e300", False),
    (True, "true", False),
    ("2026-W05-1", "2026-W05-1", False),
    ("yesterday", "yesterday", False),
]


@pytest.mark.parametrize(("sent", "typed", "accepted"), TIMESTAMPS, ids=[repr(t[0]) for t in TIMESTAMPS])
def test_an_event_time_is_accepted_by_the_api_exactly_when_the_form_accepts_it(signed_in, sent, typed, accepted):
    form_data = {**_event_form_data(), "eventTimestamp": typed}

    response = api_post(signed_in, EVENT, {**valid(EVENT), "eventTimestamp": sent})
    form = OperationForm(EVENT, form_data)

    assert (response.status_code == 201, form.is_valid()) == (accepted, accepted), (response.json(), form.errors)
    if accepted:
        assert_botocore_accepts(AwsRequest.objects.get())
    else:
        assert set(response.json()["errors"]) == {"eventTimestamp"}
        assert list(form.errors) == ["eventTimestamp"]


def test_an_event_time_in_epoch_seconds_as_a_string_is_recorded_as_sent(signed_in):
    response = api_post(signed_in, EVENT, {**valid(EVENT), "eventTimestamp": "1700000000"})

    assert response.status_code == 201
    assert AwsRequest.objects.get().parameters["eventTimestamp"] == "1700000000"


# --- Supply Chain's data: RFC 8259 JSON -----------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_inside_the_data_is_refused_by_the_api_and_the_form(signed_in, literal):
    data = f'[{{"order_id": "PO-1", "qty": {literal}}}]'

    response = api_post(signed_in, EVENT, {**valid(EVENT), "data": data})
    form = OperationForm(EVENT, {**_event_form_data(), "data": data})

    said = f"must be JSON as RFC 8259 defines it: {literal} is not a JSON value (RFC 8259 has no NaN or Infinity)"
    assert response.json() == {"errors": {"data": [said]}}
    # The form says it in the field's label, so that the error summary reads on its own.
    assert form.errors == {"data": [f"Data (JSON) {said}."]}
    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_data_nested_too_deeply_for_python_is_a_field_error_not_a_crash(signed_in, depth):
    data = '{"order_id": "PO-1", "lines": ' + "[" * depth + "]" * depth + "}"

    response = api_post(signed_in, EVENT, {**valid(EVENT), "data": data})
    form = OperationForm(EVENT, {**_event_form_data(), "data": data})

    assert response.status_code == 400
    assert response.json()["errors"]["data"] == [
        "must be JSON as RFC 8259 defines it: it nests arrays and objects too deeply to be read"
    ]
    assert list(form.errors) == ["data"]


def test_data_nested_a_hundred_levels_is_accepted(signed_in):
    data = '{"order_id": "PO-1", "lines": ' + "[" * 100 + "]" * 100 + "}"

    response = api_post(signed_in, EVENT, {**valid(EVENT), "data": data})

    assert response.status_code == 201


# --- the Idempotency-Key ---------------------------------------------------------------------------------

KEY_REFUSALS = {
    "empty": ("", "must have 1–255 characters (has 0)"),
    "256 characters": ("k" * 256, "must have 1–255 characters (has 256)"),
    "a NUL": ("order\x0042", "must hold printable ASCII characters only (U+0020–U+007E), not U+0000 (NUL)"),
    "a tab inside": ("order\t42", "must hold printable ASCII characters only (U+0020–U+007E), not U+0009"),
    "a letter outside ASCII": ("ordré", "must hold printable ASCII characters only (U+0020–U+007E), not U+00E9"),
}


@pytest.mark.parametrize(("key", "said"), KEY_REFUSALS.values(), ids=KEY_REFUSALS.keys())
def test_an_idempotency_key_that_is_not_1_to_255_printable_ascii_characters_is_a_400(signed_in, key, said):
    response = api_post(signed_in, CONNECTOR, {"connectorLabel": "orders"}, key=key)

    assert response.status_code == 400
    assert response.json() == {"errors": {"Idempotency-Key": [said]}}
    assert not AwsRequest.objects.exists()


def test_a_key_of_255_printable_characters_is_kept_whole(signed_in):
    key = "".join(random.Random(7).choice([chr(c) for c in range(0x21, 0x7F)]) for _ in range(255))

    response = api_post(signed_in, CONNECTOR, {"connectorLabel": "orders"}, key=key)

    assert response.status_code == 201
    assert AwsRequest.objects.get().idempotency_key == key


def test_two_long_keys_that_differ_after_the_255th_character_never_name_the_same_request(signed_in):
    first = api_post(signed_in, CONNECTOR, {"connectorLabel": "orders"}, key="k" * 255 + "1")
    second = api_post(signed_in, CONNECTOR, {"connectorLabel": "other"}, key="k" * 255 + "2")

    assert (first.status_code, second.status_code) == (400, 400)
    assert not AwsRequest.objects.exists()


# --- helpers -----------------------------------------------------------------------------------------


def _event_form_data() -> dict[str, str]:
    params = valid(EVENT)
    target = params.pop("datasetTarget")
    return {
        **{k: str(v) for k, v in params.items()},
        "datasetTarget__datasetIdentifier": target["datasetIdentifier"],
        "datasetTarget__operationType": target["operationType"],
    }


def test_the_event_form_data_above_is_a_valid_event():
    form = OperationForm(EVENT, _event_form_data())

    assert form.is_valid(), form.errors
    assert json.loads(form.params["data"])
