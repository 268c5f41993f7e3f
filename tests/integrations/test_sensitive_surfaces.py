"""Supply Chain's data on every surface, redacted by one function (``permissions.shown_parameters``)
for anyone without *view sensitive parameters*: run again, the admin's request page, the preview
(for everyone), the exports and the API. The request page and the history are in
test_sensitive_data.py."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission, User

from integrations.models import AwsRequest
from integrations.permissions import ADMINISTRATORS, APPROVERS, AUDITORS, OPERATORS
from tests.factories import default_target, form_post, make_operator, make_request, make_user
from tests.integrations.test_sensitive_data import (
    DIGEST,
    INSTANCE,
    MARKER,
    PAYLOAD,
    SUPPLY_CHAIN,
    assert_no_payload,
    event_params,
)

pytestmark = pytest.mark.django_db

FORM_URL = f"/operations/{SUPPLY_CHAIN}/"
HTMX = {"HX-Request": "true"}
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def author(db):
    return make_operator("author")


@pytest.fixture
def recorded(author) -> AwsRequest:
    return make_request(SUPPLY_CHAIN, user=author, parameters=event_params())


def signed_in(client, user):
    client.force_login(user)
    return client


def assert_marker_of_the_payload(text: str) -> None:
    [(size, digest)] = MARKER.findall(unescape(text))
    assert int(size) == len(PAYLOAD)
    assert DIGEST.startswith(digest)


# --- run again -----------------------------------------------------------------------------------


def data_field(html: str) -> str:
    """The data field's block on the form page."""
    match = re.search(
        r'<div class="field[^"]*" id="field-data".*?</div>\s*(?=<div class="field|<fieldset|<p )', html, re.S
    )
    assert match, "the form has a data field"
    return match.group(0)


def test_run_again_on_someone_elses_request_leaves_the_data_empty_with_a_note(client, recorded):
    # An operator who is also an approver sees (and may run again) others' requests, not payloads.
    reader = make_user("op-approver", groups=(OPERATORS, APPROVERS))

    response = signed_in(client, reader).get(f"/requests/{recorded.pk}/again/")

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_payload(html)
    assert not MARKER.search(unescape(html))  # not even its digest in the field: it would be sent
    field = data_field(html)
    assert re.search(r"<textarea[^>]*>\s*</textarea>", field), field
    assert "must be entered again" in field
    assert "sensitive values are not copied" in unescape(html)
    # The rest is copied as usual.
    for copied in (INSTANCE, "scn.data.inboundorder", "group-17"):
        assert copied in html, copied


def test_run_again_on_ones_own_request_does_not_copy_the_data_either(client, author, recorded):
    html = signed_in(client, author).get(f"/requests/{recorded.pk}/again/").content.decode()

    assert_no_payload(html)
    assert "must be entered again" in data_field(html)


def test_run_again_copies_the_data_for_someone_who_may_view_sensitive_parameters(client, recorded):
    reader = make_user("op-auditor", groups=(OPERATORS, AUDITORS))

    html = signed_in(client, reader).get(f"/requests/{recorded.pk}/again/").content.decode()

    assert PAYLOAD in unescape(data_field(html))
    assert "must be entered again" not in html


def test_run_again_without_sensitive_members_is_unchanged(client, author):
    ingestion = make_request(user=author)

    html = signed_in(client, author).get(f"/requests/{ingestion.pk}/again/").content.decode()

    assert "must be entered again" not in html
    assert "tenant-1" in html


def test_the_copy_runs_once_the_data_is_typed_again(client, author, recorded):
    signed_in(client, author).get(f"/requests/{recorded.pk}/again/")
    retyped = '[{"order_id": "PO-4712"}]'

    response = client.post(FORM_URL, form_post(event_params(retyped)))

    assert response.status_code == 302
    assert AwsRequest.objects.exclude(pk=recorded.pk).get().parameters["data"] == retyped


# --- the preview ---------------------------------------------------------------------------------


def preview(client, headers=None):
    return client.post(FORM_URL, {**form_post(event_params()), "_preview": "1"}, headers=headers or {})


def carried(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in HIDDEN.findall(html)}


@pytest.mark.parametrize("who", ["operator", "superuser"])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_the_preview_shows_the_data_only_as_its_size_and_digest_to_everyone(client, who, headers):
    user = make_operator("op") if who == "operator" else User.objects.create_superuser("root", "r@example.com", "x")
    default_target()

    response = preview(signed_in(client, user), headers)

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_payload(html)  # nowhere: neither in the code shown nor in a hidden field
    boto3 = re.search(r'<pre class="code" id="preview-boto3"><code>(.*?)</code>', html, re.S).group(1)
    cli = re.search(r'<pre class="code" id="preview-cli"><code>(.*?)</code>', html, re.S).group(1)
    assert_marker_of_the_payload(boto3)
    assert_marker_of_the_payload(cli)
    assert INSTANCE in unescape(boto3)
    assert "shortened" not in html


def test_run_from_the_preview_records_the_data_as_typed(client, author):
    page = preview(signed_in(client, author)).content.decode()

    response = client.post(FORM_URL, carried(page))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert AwsRequest.objects.get().parameters == event_params()


def test_back_to_edit_from_the_preview_gives_the_data_back_to_the_person_who_typed_it(client, author):
    page = preview(signed_in(client, author)).content.decode()

    html = client.post(FORM_URL, {**carried(page), "_edit": "1"}).content.decode()

    assert PAYLOAD in unescape(data_field(html))
    assert not AwsRequest.objects.exists()


def test_the_data_held_for_a_preview_is_used_once(client, author):
    page = preview(signed_in(client, author)).content.decode()
    client.post(FORM_URL, carried(page))

    again = client.post(FORM_URL, carried(page))

    assert again.status_code == 200  # the form, asking for the data
    assert "This field is required." in data_field(again.content.decode())
    assert AwsRequest.objects.count() == 1


def test_the_data_held_for_a_preview_is_only_in_that_session(client, author):
    page = preview(signed_in(client, author)).content.decode()
    client.logout()
    signed_in(client, make_operator("other"))

    response = client.post(FORM_URL, carried(page))

    assert response.status_code == 200
    assert not AwsRequest.objects.exists()


# --- the admin's request page --------------------------------------------------------------------


def test_the_admins_request_page_shows_the_data_only_as_its_size_and_digest(client, recorded):
    administrator = make_user("administrator", groups=(ADMINISTRATORS,), is_staff=True)

    response = signed_in(client, administrator).get(f"/admin/integrations/awsrequest/{recorded.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_payload(html)
    assert_marker_of_the_payload(html)
    assert INSTANCE in html
    assert_no_payload(client.get("/admin/integrations/awsrequest/").content.decode())


def test_the_admins_request_page_shows_the_data_whole_to_a_superuser(client, recorded):
    root = User.objects.create_superuser("root", "r@example.com", "x")

    html = unescape(
        signed_in(client, root).get(f"/admin/integrations/awsrequest/{recorded.pk}/change/").content.decode()
    )

    assert json.dumps(PAYLOAD) in html
    assert not MARKER.search(html)


# --- exports and the API -------------------------------------------------------------------------


def exporter(sensitive: bool):
    """May see and export every request; with or without the sensitive parameters."""
    user = make_user("exporter-sensitive" if sensitive else "exporter")
    codenames = ["view_all_requests", "export_requests"] + (["view_sensitive_parameters"] if sensitive else [])
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="integrations", codename__in=codenames)
    )
    return user


def exported(client, fmt: str) -> dict:
    body = b"".join(client.get(f"/requests/export.{fmt}").streaming_content).decode()
    if fmt == "csv":
        [row] = csv.DictReader(io.StringIO(body))
        return json.loads(row["parameters"])
    [line] = body.splitlines()
    return json.loads(line)["parameters"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_holds_the_data_only_as_its_size_and_digest(client, recorded, fmt):
    parameters = exported(signed_in(client, exporter(sensitive=False)), fmt)

    assert_no_payload(json.dumps(parameters))
    assert_marker_of_the_payload(parameters["data"])
    assert parameters["instanceId"] == INSTANCE


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_holds_the_data_whole_for_someone_who_may_view_it(client, recorded, fmt):
    parameters = exported(signed_in(client, exporter(sensitive=True)), fmt)

    assert parameters["data"] == PAYLOAD


@pytest.mark.parametrize("path", ["/api/requests/", "/api/requests/{pk}/"], ids=["list", "detail"])
def test_the_api_gives_the_data_only_as_its_size_and_digest(client, author, recorded, path):
    response = signed_in(client, author).get(path.format(pk=recorded.pk))

    body = response.json()
    parameters = body["results"][0]["parameters"] if "results" in body else body["parameters"]
    assert_no_payload(json.dumps(body))
    assert_marker_of_the_payload(parameters["data"])


@pytest.mark.parametrize("path", ["/api/requests/", "/api/requests/{pk}/"], ids=["list", "detail"])
def test_the_api_gives_the_data_whole_to_an_auditor(client, recorded, path):
    response = signed_in(client, make_user("auditor", groups=(AUDITORS,))).get(path.format(pk=recorded.pk))

    body = response.json()
    parameters = body["results"][0]["parameters"] if "results" in body else body["parameters"]
    assert parameters["data"] == PAYLOAD
