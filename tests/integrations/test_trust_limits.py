"""Bounded work per request: a form as large as the largest model allows goes through, and a row
numbered beyond what its list or map can hold is refused at once, without building the rows
before it (the layout builds only rows that were sent)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.conf import settings

from integrations.forms import OperationForm, edit_rows
from integrations.models import AwsRequest
from operations import get_operation, largest_form_size
from tests.factories import PASSWORD, form_post, ingestion_form_data, make_operator

INGESTION = get_operation("appfabric/CreateIngestion")
DATA_INTEGRATION = get_operation("appintegrations/CreateDataIntegration")
INGESTION_URL = "/operations/appfabric/CreateIngestion/"
DATA_INTEGRATION_URL = "/operations/appintegrations/CreateDataIntegration/"
# What a page posts besides the operation's own fields: the target, the CSRF token, the button
# pressed (_preview, _rows or _edit) and, when one field is checked, its name (_field).
PAGE_FIELDS = 4
SMALL_MARGIN = 100
BEYOND_TAGS = "Item 100000000 cannot be added: this list holds at most 50 items."


@pytest.fixture
def signed_in(client, db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    operator = make_operator("limits-operator")
    client.login(username=operator.username, password=PASSWORD)
    return client


def largest_data_integration() -> dict[str, str]:
    """AppIntegrations CreateDataIntegration with every bounded list and map at its model maximum:
    200 tags, 10 folders, and 2,048 values in a filter and in an object's field."""
    data = {
        "Name": "everything",
        "Description": "All of it",
        "KmsKey": "alias/integrations",
        "SourceURI": "s3://bucket/prefix",
        "ScheduleConfig__FirstExecutionFrom": "1700000000000",
        "ScheduleConfig__Object": "Account",
        "ScheduleConfig__ScheduleExpression": "rate(1 hour)",
        "FileConfiguration__Filters__0__key": "type",
        "ObjectConfiguration__0__key": "Account",
        "ObjectConfiguration__0__value__0__key": "Name",
    }
    data |= {f"Tags__{i}__key": f"k{i}" for i in range(200)} | {f"Tags__{i}__value": "v" for i in range(200)}
    data |= {f"FileConfiguration__Folders__{i}": f"folder{i}" for i in range(10)}
    data |= {f"FileConfiguration__Filters__0__value__{i}": f"f{i}" for i in range(2048)}
    data |= {f"ObjectConfiguration__0__value__0__value__{i}": f"v{i}" for i in range(2048)}
    return data


# --- DATA_UPLOAD_MAX_NUMBER_FIELDS, computed from the models ----------------------------------------


def test_the_largest_registered_form_is_the_data_integration_with_every_list_at_its_maximum():
    data = largest_data_integration()

    assert largest_form_size() == len(data) == 4_516
    assert len(OperationForm(DATA_INTEGRATION, data).fields) == len(data)


def test_the_field_limit_covers_the_largest_form_with_its_page_and_only_a_small_margin_more():
    needed = largest_form_size() + PAGE_FIELDS

    assert needed <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS <= needed + SMALL_MARGIN


@pytest.mark.django_db(transaction=True)
def test_a_form_with_every_list_at_its_model_maximum_is_recorded(signed_in, monkeypatch):
    monkeypatch.setattr("integrations.pipeline.dispatch", lambda pk: None)

    response = signed_in.post(DATA_INTEGRATION_URL, form_post(largest_data_integration()))

    assert response.status_code == 302
    [recorded] = AwsRequest.objects.all()
    assert len(recorded.parameters["Tags"]) == 200
    assert len(recorded.parameters["FileConfiguration"]["Filters"]["type"]) == 2048
    assert len(recorded.parameters["ObjectConfiguration"]["Account"]["Name"]) == 2048


# --- a row numbered beyond the maximum ---------------------------------------------------------------


def test_a_row_numbered_beyond_the_maximum_is_refused_on_its_group_and_never_built():
    plain = OperationForm(INGESTION, ingestion_form_data())
    form = OperationForm(INGESTION, ingestion_form_data(tags__99999999__key="k"))

    assert not form.is_valid()
    assert form.group_errors == {"tags": [BEYOND_TAGS]}
    assert set(form.fields) == set(plain.fields)  # not 200 million rows, not even one


def test_the_rows_sent_below_the_maximum_are_kept_beside_the_refused_one():
    form = OperationForm(INGESTION, ingestion_form_data(tags__0__key="team", tags__0__value="ops", tags__75__key="x"))

    assert form.group_errors == {"tags": ["Item 76 cannot be added: this list holds at most 50 items."]}
    assert [n for n in form.fields if n.startswith("tags")] == ["tags__0__key", "tags__0__value"]


def test_rows_sent_with_a_gap_are_laid_out_as_sent_and_counted_from_one():
    form = OperationForm(DATA_INTEGRATION, {"Name": "n", "KmsKey": "k", "FileConfiguration__Folders__3": "in/"})

    assert form.is_valid(), form.errors
    assert form.params["FileConfiguration"] == {"Folders": ["in/"]}
    assert form.fields["FileConfiguration__Folders__3"].label == "Folder 1"


def test_more_rows_than_the_maximum_are_shown_with_the_models_own_error():
    data = {"Name": "n", "KmsKey": "k", **{f"FileConfiguration__Folders__{i}": f"f{i}" for i in range(11)}}

    form = OperationForm(DATA_INTEGRATION, data)

    assert form.group_errors == {"FileConfiguration__Folders": ["Must have 1–10 items (has 11)."]}


def test_a_map_without_a_maximum_takes_a_row_numbered_anywhere_below_what_a_form_can_send():
    form = OperationForm(DATA_INTEGRATION, {"Name": "n", "KmsKey": "k", "ObjectConfiguration__4000__key": "Account",
                                            "ObjectConfiguration__4000__value__0__key": "Name",
                                            "ObjectConfiguration__4000__value__0__value__0": "v"})  # fmt: skip

    assert form.is_valid(), form.errors
    assert form.params["ObjectConfiguration"] == {"Account": {"Name": ["v"]}}


def test_a_map_without_a_maximum_refuses_a_row_beyond_what_a_form_can_send():
    beyond = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    form = OperationForm(DATA_INTEGRATION, {"Name": "n", "KmsKey": "k", f"ObjectConfiguration__{beyond}__key": "A"})

    assert form.group_errors == {
        "ObjectConfiguration": [f"Entry {beyond + 1} cannot be added: a form sends at most {beyond} entries."]
    }


def test_a_nested_row_beyond_its_lists_maximum_is_refused_on_that_nested_list():
    form = OperationForm(DATA_INTEGRATION, {"Name": "n", "KmsKey": "k", "FileConfiguration__Folders__0": "in/",
                                            "FileConfiguration__Filters__0__key": "type",
                                            "FileConfiguration__Filters__0__value__0": "csv",
                                            "FileConfiguration__Filters__0__value__5000": "json"})  # fmt: skip

    assert form.group_errors == {
        "FileConfiguration__Filters__0__value": ["Item 5001 cannot be added: this list holds at most 2048 items."]
    }


@pytest.mark.parametrize(
    "name",
    ["tags__" + "9" * 5000 + "__key", "tags__١__key", "tags__01__key", "tags__-1__key", "tags__1e3__key"],
    ids=["five thousand digits", "an arabic-indic digit", "a leading zero", "negative", "an exponent"],
)
def test_a_row_number_written_any_other_way_is_never_read_as_a_huge_or_foreign_number(name):
    form = OperationForm(INGESTION, ingestion_form_data(**{name: "k"}))

    form.is_valid()
    assert len(form.fields) == len(OperationForm(INGESTION, ingestion_form_data()).fields)


@pytest.mark.parametrize(
    "action", ["remove:tags__" + "9" * 5000, "remove:tags__²", "add:tags"], ids=["huge", "superscript", "add"]
)
def test_editing_rows_beside_a_huge_row_number_never_fails(action):
    data = ingestion_form_data(**{"tags__" + "9" * 5000 + "__key": "k", "tags__0__key": "team"})

    edited = edit_rows(data, action)

    assert edited["tags__0__key"] == "team"


# --- through the pages ---------------------------------------------------------------------------------


def post_raw(client, url: str, fields: dict[str, str]):
    """A urlencoded POST, as a browser (or a script) sends it."""
    return client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("index", ["99999999", "9" * 5000])
def test_the_validate_endpoint_answers_a_row_beyond_the_maximum_with_its_groups_error(signed_in, index):
    name = f"tags__{index}__key"

    response = post_raw(
        signed_in, INGESTION_URL + "validate/", form_post(ingestion_form_data(**{name: "k"}, _field=name))
    )

    assert response.status_code == 200
    assert 'id="rows-tags"' in response.content.decode()
    assert "cannot be added: this list holds at most 50 items." in response.content.decode()


@pytest.mark.parametrize("button", [{}, {"_preview": "1"}], ids=["run", "preview"])
def test_the_form_answers_a_row_beyond_the_maximum_with_its_groups_error_and_records_nothing(signed_in, button):
    data = form_post(ingestion_form_data(tags__99999999__key="k", **button))

    response = post_raw(signed_in, INGESTION_URL, data)

    assert response.status_code == 200
    assert BEYOND_TAGS in response.content.decode()
    assert not AwsRequest.objects.exists()
