"""Who made a request, as recorded when they submitted it: renaming the account rewrites nothing.

Pages, exports, the API and the admin show the username the request was made under; filters by
person still follow the account.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re

import pytest
from django.apps import apps

from integrations import lifecycle
from integrations.models import ApprovalRule, AwsRequest
from integrations.permissions import APPROVERS, AUDITORS, OPERATORS
from operations import get_operation
from tests.factories import default_target, ingestion_params, make_operator, make_request, make_target, make_user

pytestmark = pytest.mark.django_db

INGESTION = get_operation("appfabric/CreateIngestion")
OLD, NEW = "alice", "alice.renamed"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return make_operator(OLD)


@pytest.fixture
def submitted(alice):
    """Two requests Alice submitted (one waiting for approval), after which her account was renamed."""
    reviewed = make_target("reviewed", groups=(OPERATORS,))
    ApprovalRule.objects.create(target=reviewed)
    queued = lifecycle.submit(INGESTION, ingestion_params(), alice, default_target()).aws_request
    waiting = lifecycle.submit(INGESTION, ingestion_params(tenantId="tenant-2"), alice, reviewed).aws_request
    alice.username = NEW
    alice.save()
    return {"queued": queued, "waiting": waiting}


def cells(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r"<td>([^<]*)</td>", response.content.decode())


def streamed(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_submitting_records_the_name_the_user_has_then(submitted):
    for aws_request in submitted.values():
        aws_request.refresh_from_db()
        assert aws_request.created_by_username == OLD
        assert aws_request.created_by.username == NEW


def test_the_request_page_shows_the_recorded_name(client, submitted):
    client.force_login(make_user("auditor", groups=(AUDITORS,)))

    html = client.get(submitted["queued"].get_absolute_url()).content.decode()

    assert f"<dt>Requested by</dt><dd>{OLD}</dd>" in html
    assert NEW not in html


def test_the_history_and_the_home_page_show_the_recorded_name(client, alice, submitted):
    client.force_login(make_user("auditor", groups=(AUDITORS,)))
    history = cells(client.get("/requests/"))
    client.force_login(alice)
    home = cells(client.get("/"))

    for shown in (history, home):
        assert shown.count(OLD) == 2
        assert NEW not in shown


def test_the_approval_queue_shows_the_recorded_name(client, submitted):
    client.force_login(make_user("approver", groups=(APPROVERS,)))

    shown = cells(client.get("/approvals/"))

    assert OLD in shown
    assert NEW not in shown


def test_the_exports_show_the_recorded_name(client, submitted):
    client.force_login(make_user("auditor", groups=(AUDITORS,)))

    rows = list(csv.DictReader(io.StringIO(streamed(client.get("/requests/export.csv")))))
    lines = [json.loads(line) for line in streamed(client.get("/requests/export.jsonl")).splitlines()]

    assert [r["user"] for r in rows] == [OLD, OLD]
    assert [r["user"] for r in lines] == [OLD, OLD]


def test_the_api_shows_the_recorded_name(client, submitted):
    client.force_login(make_user("auditor", groups=(AUDITORS,)))

    listed = client.get("/api/requests/").json()["results"]
    detail = client.get(f"/api/requests/{submitted['queued'].pk}/").json()

    assert [r["created_by"] for r in listed] == [OLD, OLD]
    assert detail["created_by"] == OLD


def test_the_admin_lists_the_recorded_name(client, submitted):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    html = client.get("/admin/integrations/awsrequest/").content.decode()

    assert html.count(f'<td class="field-created_by_username">{OLD}</td>') == 2
    assert NEW not in html


def test_the_migration_gives_earlier_requests_their_authors_name_and_keeps_recorded_ones(alice):
    migration = importlib.import_module("integrations.migrations.0006_awsrequest_created_by_username")
    earlier = make_request(user=alice)  # made without record(): no name recorded, as before the field
    recorded = make_request(user=alice, created_by_username="alice-at-the-time")
    assert earlier.created_by_username == ""

    migration.fill_from_the_account(apps, None)

    assert AwsRequest.objects.get(pk=earlier.pk).created_by_username == OLD
    assert AwsRequest.objects.get(pk=recorded.pk).created_by_username == "alice-at-the-time"
