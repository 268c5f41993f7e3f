"""Every registered operation, whole: each input member has a form field, each pattern has words,
each field has a label and its constraint in help, and each form page works, nested rows included."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape

import pytest
from botocore.model import Shape
from django.utils.html import escape

from awsmodel.constraints import pattern_words
from awsmodel.words import PATTERN_WORDS
from integrations.forms import Node, OperationForm
from integrations.models import AwsRequest
from operations import FieldHint, all_operations
from tests.factories import default_target, form_post
from tests.html import Page

OPERATIONS = all_operations()
EXPECTED_KEYS = {
    "appfabric/CreateIngestion",
    "supplychain/SendDataIntegrationEvent",
    "appintegrations/CreateDataIntegration",
    "partnercentral-selling/CreateResourceSnapshotJob",
    "appflow/RegisterConnector",
}
HTMX = {"HX-Request": "true"}
CONSTRAINT_KEYS = ("min", "max", "pattern")
NAME_WORDS = PATTERN_WORDS["^[a-zA-Z0-9\\/\\._\\-]+$"]
# Every operation page asks where the request runs, besides the operation's own fields.
PAGE_FIELDS = {"target"}


def by_key(operations=OPERATIONS):
    return pytest.mark.parametrize("operation", operations, ids=lambda op: op.key)


def url(operation) -> str:
    return f"/operations/{operation.service}/{operation.name}/"


def input_leaves(operation) -> Iterator[tuple[tuple, Shape]]:
    """Every scalar member of the input, at any depth, with the path a first row would have.

    List items are at index 0; map entries are row 0 with a "key" and a "value". The client
    token is the only member left out. A recursive shape is followed once, not forever.
    """

    def walk(shape: Shape, path: tuple, seen: tuple[str, ...]) -> Iterator[tuple[tuple, Shape]]:
        kind = shape.type_name
        if kind == "structure":
            if shape.name in seen:
                return
            for member, member_shape in shape.members.items():
                if not path and member == operation.token_member:
                    continue
                yield from walk(member_shape, (*path, member), (*seen, shape.name))
        elif kind == "list":
            yield from walk(shape.member, (*path, 0), seen)
        elif kind == "map":
            yield from walk(shape.key, (*path, 0, "key"), seen)
            yield from walk(shape.value, (*path, 0, "value"), seen)
        else:
            yield path, shape

    yield from walk(operation.model.input_shape, (), ())


def all_shapes(shape: Shape, seen: frozenset[str] = frozenset()) -> Iterator[Shape]:
    """Every shape reachable from ``shape`` (the client token's included)."""
    yield shape
    if shape.name in seen:
        return
    seen = seen | {shape.name}
    if shape.type_name == "structure":
        for member_shape in shape.members.values():
            yield from all_shapes(member_shape, seen)
    elif shape.type_name == "list":
        yield from all_shapes(shape.member, seen)
    elif shape.type_name == "map":
        yield from all_shapes(shape.key, seen)
        yield from all_shapes(shape.value, seen)


def field_name(path: tuple) -> str:
    return "__".join(str(p) for p in path)


def hint_of(operation, path: tuple) -> FieldHint:
    return operation.hints.get(".".join(p for p in path if isinstance(p, str)), FieldHint())


def rows_groups(node: Node) -> Iterator[Node]:
    if node.kind == "rows":
        yield node
    for child in node.children:
        yield from rows_groups(child)


# --- the model, the form and the words ------------------------------------------------------------


def test_the_five_operations_are_registered():
    assert {op.key for op in OPERATIONS} == EXPECTED_KEYS


@by_key()
def test_every_input_member_at_any_depth_is_reachable_from_the_form(operation):
    fields = set(OperationForm(operation).fields)
    leaves = [field_name(path) for path, _ in input_leaves(operation)]

    assert leaves, "the walk found no member"
    unreachable = [name for name in leaves if name not in fields]
    assert not unreachable, f"{operation.key}: no form field for {unreachable}"
    assert not [name for name in fields if name not in leaves], "a form field that is no input member"


def test_the_walk_sees_nested_members():
    # The walk itself is what the reachability test trusts: it must go through maps of maps of lists.
    [integration] = [op for op in OPERATIONS if op.key == "appintegrations/CreateDataIntegration"]

    names = {field_name(path) for path, _ in input_leaves(integration)}

    assert {
        "ScheduleConfig__ScheduleExpression",
        "Tags__0__key",
        "Tags__0__value",
        "FileConfiguration__Folders__0",
        "FileConfiguration__Filters__0__key",
        "FileConfiguration__Filters__0__value__0",
        "ObjectConfiguration__0__key",
        "ObjectConfiguration__0__value__0__key",
        "ObjectConfiguration__0__value__0__value__0",
    } <= names
    assert "ClientToken" not in names


@by_key()
def test_every_pattern_of_the_input_has_words(operation):
    patterns = {
        shape.metadata["pattern"] for shape in all_shapes(operation.model.input_shape) if "pattern" in shape.metadata
    }

    missing = sorted(p for p in patterns if not operation.pattern_words.get(p))
    assert not missing, f"{operation.key}: no words in PATTERN_WORDS for {missing}"
    for shape in all_shapes(operation.model.input_shape):
        if "pattern" in shape.metadata:
            assert pattern_words(shape, operation.pattern_words), shape.name


@by_key()
def test_every_field_has_a_label_and_its_constraint_in_help(operation):
    fields = OperationForm(operation).fields

    for path, shape in input_leaves(operation):
        name = field_name(path)
        field = fields[name]
        hint = hint_of(operation, path)
        constrained = (
            any(key in shape.metadata for key in CONSTRAINT_KEYS)
            or bool(getattr(shape, "enum", None))
            or bool(hint.choices)
            or bool(hint.words)
        )
        assert str(field.label or "").strip(), f"{operation.key}: {name} has no label"
        allowed = getattr(shape, "enum", None) or hint.choice_values
        if allowed:
            # A list of choices says its constraint itself; the help does not repeat it.
            offered = [value for value, _ in getattr(field, "choices", ()) if value != ""]
            assert sorted(offered) == sorted(allowed), f"{operation.key}: {name}: {offered!r}"
            assert "Constraint:" not in field.help_text, f"{operation.key}: {name}: {field.help_text!r}"
        elif constrained:
            assert "Constraint:" in field.help_text, f"{operation.key}: {name}: {field.help_text!r}"


@by_key()
def test_every_rows_group_with_a_size_limit_states_it(operation):
    for group in rows_groups(OperationForm(operation).layout):
        assert group.label, group.name
        assert _shape_at(operation, group.name).type_name in ("list", "map"), group.name
        if "max" in _shape_at(operation, group.name).metadata:
            assert "Constraint:" in group.help, group.name


def _shape_at(operation, name: str) -> Shape:
    """The shape of the rows group named ``name`` ("FileConfiguration__Filters__0__value": a list)."""
    shape = operation.model.input_shape
    for part in name.split("__"):
        if part.isdigit():
            shape = shape.member if shape.type_name == "list" else shape  # a map's row: key or value next
        elif shape.type_name == "map":
            shape = shape.key if part == "key" else shape.value
        else:
            shape = shape.members[part]
    return shape


# --- the pages ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Signing in with the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_operation_list_links_to_all_five_forms(signed_in):
    response = signed_in.get("/operations/")

    assert response.status_code == 200
    html = response.content.decode()
    links = Page(html).links
    for operation in OPERATIONS:
        assert url(operation) in links, operation.key
        assert escape(operation.title) in html, operation.title
    assert {link for link in links if link.startswith("/operations/") and link != "/operations/"} == {
        url(op) for op in OPERATIONS
    }


@by_key()
def test_each_form_page_renders_every_field_and_no_client_token(signed_in, operation):
    response = signed_in.get(url(operation))

    assert response.status_code == 200
    shown = Page(response.content.decode())
    assert set(shown.fields) == set(OperationForm(operation).fields) | PAGE_FIELDS
    assert operation.token_member not in shown.fields
    assert f'<option value="{default_target().pk}">' in response.content.decode()
    assert escape(operation.title) in response.content.decode()


@by_key()
def test_each_rows_group_has_an_add_button_and_each_row_a_remove_button(signed_in, operation):
    shown = Page(signed_in.get(url(operation)).content.decode())

    groups = list(rows_groups(OperationForm(operation).layout))
    expected = {f"add:{g.name}" for g in groups} | {f"remove:{g.name}__0" for g in groups}
    assert set(shown.buttons) == expected


def test_the_nested_rows_of_the_data_integration_form_have_their_buttons(signed_in):
    shown = Page(signed_in.get("/operations/appintegrations/CreateDataIntegration/").content.decode())

    for group in (
        "Tags",
        "FileConfiguration__Folders",
        "FileConfiguration__Filters",
        "FileConfiguration__Filters__0__value",
        "ObjectConfiguration",
        "ObjectConfiguration__0__value",
        "ObjectConfiguration__0__value__0__value",
    ):
        assert f"add:{group}" in shown.buttons, group
        assert f"remove:{group}__0" in shown.buttons, group


TYPED = {
    "Name": "sales-accounts",
    "KmsKey": "alias/integrations",
    "Description": "  kept as typed  ",
    "SourceURI": "s3://bucket/prefix",
    "ScheduleConfig__FirstExecutionFrom": "1700000000000",
    "ScheduleConfig__Object": "Account",
    "ScheduleConfig__ScheduleExpression": "rate(1 hour)",
    "FileConfiguration__Folders__0": "incoming/",
    "FileConfiguration__Filters__0__key": "type",
    "FileConfiguration__Filters__0__value__0": "csv",
    "ObjectConfiguration__0__key": "Account",
    "ObjectConfiguration__0__value__0__key": "Name",
    "ObjectConfiguration__0__value__0__value__0": "Acme",
    "Tags__0__key": "team",
    "Tags__0__value": "ops",
}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("action", "new_fields"),
    [
        ("add:FileConfiguration__Filters__0__value", {"FileConfiguration__Filters__0__value__1"}),
        ("add:ObjectConfiguration__0__value__0__value", {"ObjectConfiguration__0__value__0__value__1"}),
        (
            "add:ObjectConfiguration__0__value",
            {"ObjectConfiguration__0__value__1__key", "ObjectConfiguration__0__value__1__value__0"},
        ),
        (
            "add:ObjectConfiguration",
            {"ObjectConfiguration__1__key", "ObjectConfiguration__1__value__0__key",
             "ObjectConfiguration__1__value__0__value__0"},
        ),
        ("add:FileConfiguration__Folders", {"FileConfiguration__Folders__1"}),
    ],
)  # fmt: skip
def test_adding_a_nested_row_shows_one_more_row_and_keeps_the_typed_values(signed_in, headers, action, new_fields):
    path = "/operations/appintegrations/CreateDataIntegration/"

    response = signed_in.post(path, {**form_post(TYPED), "_rows": action}, headers=headers)

    assert response.status_code == 200
    html = response.content.decode()
    if headers:
        assert "<html" not in html
        assert html.lstrip().startswith('<form id="operation-form"')
    else:
        assert "<html" in html
    shown = Page(html)
    assert shown.fields == {**form_post(TYPED), **dict.fromkeys(new_fields, "")}
    group = action.removeprefix("add:")
    assert f"remove:{group}__1" in shown.buttons
    assert 'role="alert"' not in html
    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_removing_a_nested_row_renumbers_the_rest_and_keeps_the_typed_values(signed_in, headers):
    path = "/operations/appintegrations/CreateDataIntegration/"
    data = {
        **TYPED,
        "FileConfiguration__Filters__0__value__1": "json",
        "FileConfiguration__Filters__0__value__2": "xml",
    }

    response = signed_in.post(
        path, {**form_post(data), "_rows": "remove:FileConfiguration__Filters__0__value__1"}, headers=headers
    )

    assert response.status_code == 200
    shown = Page(response.content.decode())
    assert shown.fields == {**form_post(TYPED), "FileConfiguration__Filters__0__value__1": "xml"}
    assert not AwsRequest.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_nested_error_shows_next_to_its_nested_field(signed_in, headers):
    path = "/operations/appintegrations/CreateDataIntegration/"
    data = {**TYPED, "ObjectConfiguration__0__value__0__value__0": "bad name!"}

    response = signed_in.post(path, form_post(data), headers=headers)

    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert 'id="id_ObjectConfiguration__0__value__0__value__0_error"' in html
    assert f"Enter {NAME_WORDS}." in html
    assert Page(response.content.decode()).fields == form_post(data)
    assert not AwsRequest.objects.exists()
