"""The configuration's history: every change to targets, approval rules, users, groups, grants and
API tokens is kept with who, when, old and new values — in the admin or outside it — and auditors
read and export it."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group, Permission

from integrations.api.tokens import create_token, revoke
from integrations.config_history import configuration_changes
from integrations.models import ApprovalRule
from integrations.permissions import APPROVERS, AUDITORS, OPERATORS
from tests.factories import PASSWORD, make_operator, make_target, make_user

pytestmark = pytest.mark.django_db


def changes_of(what: str) -> list:
    return configuration_changes(what)


def test_a_target_changed_outside_the_admin_is_kept_with_its_old_and_new_values():
    target = make_target("prod", account_id="111122223333", region="eu-west-1")
    target.region = "eu-central-1"
    target.save()

    changed, created = changes_of("AWS target")[:2]
    assert (created.kind, changed.kind) == ("created", "changed")
    assert changed.fields == (("region", "eu-west-1", "eu-central-1"),)
    assert changed.by == ""  # made in code, not through a page


def test_granting_a_target_to_a_group_names_the_group():
    target = make_target("prod")
    target.groups.add(Group.objects.get(name=OPERATORS))

    latest = changes_of("AWS target")[0]
    assert latest.fields == (("groups", "—", OPERATORS),)


def test_a_users_groups_and_permissions_are_kept_but_never_their_password():
    user = make_user("dana")
    user.groups.add(Group.objects.get(name=APPROVERS))
    user.user_permissions.add(Permission.objects.get(codename="export_requests"))
    user.set_password("another long passphrase")
    user.save()

    kept = changes_of("user")
    summaries = [c.summary for c in kept]
    assert any("groups: — → Approvers" in s for s in summaries)
    assert any("user_permissions: — → " in s and "Can export the request history" in s for s in summaries)
    assert "saved with no tracked value changed (a password change shows this way)" in summaries
    assert all("pbkdf2" not in s and "passphrase" not in s for s in summaries)


def test_a_sign_in_leaves_no_configuration_change(client):
    make_user("erin")
    before = len(changes_of("user"))

    assert client.login(username="erin", password=PASSWORD)

    assert len(changes_of("user")) == before


def test_a_groups_permission_grant_and_an_approval_rule_are_kept():
    group = Group.objects.create(name="Night shift")
    group.permissions.add(Permission.objects.get(codename="view_all_requests"))
    ApprovalRule.objects.create(operation="appfabric/CreateIngestion")

    assert changes_of("group")[0].fields == (
        ("permissions", "—", "Integrations | AWS request | Can view every user's requests"),
    )
    assert changes_of("approval rule")[0].kind == "created"


def test_an_api_token_made_and_revoked_is_kept_without_its_secret():
    user = make_user("frank")
    issued = create_token(user)
    revoke(user, issued.token.digest)

    (made,) = [c for c in changes_of("API token") if c.kind == "created"]
    (deleted,) = [c for c in changes_of("API token") if c.kind == "deleted"]
    assert made.at <= deleted.at
    assert issued.key not in " ".join(c.summary + c.object for c in changes_of("API token"))


def test_a_change_made_through_a_page_names_who_made_it(client):
    admin = make_user("root", is_superuser=True, is_staff=True)
    target = make_target("prod")
    client.force_login(admin)

    response = client.post(
        f"/admin/integrations/awstarget/{target.pk}/change/",
        {"name": "prod", "account_id": "111122223333", "region": "eu-west-2", "role_arn": "", "external_id": "",
         "endpoint_url": "", "is_active": "on"},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    latest = changes_of("AWS target")[0]
    assert (latest.by, latest.fields) == ("root", (("region", "us-east-1", "eu-west-2"),))


def test_auditors_read_and_export_the_changes_and_nobody_else_does(client):
    target = make_target("prod")
    target.name = '=HYPERLINK("http://evil")'
    target.save()
    auditor = make_user("audrey", groups=(AUDITORS,))
    operator = make_operator("oscar")

    client.force_login(operator)
    refused = client.get("/audit/configuration/"), client.get("/audit/configuration/export.csv")
    client.force_login(auditor)
    page = client.get("/audit/configuration/?what=AWS+target")
    export = client.get("/audit/configuration/export.csv")

    assert [r.status_code for r in refused] == [403, 403]
    assert page.status_code == 200
    assert "name: prod → =HYPERLINK" in page.content.decode().replace("&quot;", '"').replace("&gt;", ">")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == ["at", "by", "kind", "what", "object", "changes"]
    assert any(row[4].startswith("'=HYPERLINK") for row in rows[1:])  # neutralised, not a formula
