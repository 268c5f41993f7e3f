"""Roles that hold in the admin: an administrator manages targets, approval rules, accounts and the
groups whose grants they could make, and every way up from there is refused — their own superuser
and staff flags, anyone's password, their own permissions, a place (theirs or an account they made)
in Approvers, Auditors or Administrators, a superuser's or an approver's account, auth's permissions
for a group. Four eyes stay four: nobody an administrator controls can become an approver.

Everything goes through the real admin URLs with Django's test client."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import ApprovalRule, AwsTarget, Batch, BatchLine, BatchStatus, RateBucket
from integrations.permissions import (
    ADMINISTRATORS,
    ADMINISTRATORS_AUTH,
    ADMINISTRATORS_OWN,
    APPROVERS,
    AUDITORS,
    OPERATORS,
    sync_permissions_and_groups,
)
from operations import all_operations
from tests.factories import PASSWORD, default_target, make_operator, make_user

pytestmark = pytest.mark.django_db

INGESTION = "appfabric/CreateIngestion"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def administrator(db):
    return make_user("administrator", groups=(ADMINISTRATORS,), is_staff=True)


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


@pytest.fixture
def operator(db):
    return make_operator("olivia", email="olivia@example.com")


def user_url(user: User, page: str = "change") -> str:
    return f"/admin/auth/user/{user.pk}/{page}/"


def group_url(group: Group) -> str:
    return f"/admin/auth/group/{group.pk}/change/"


def perm(label: str) -> Permission:
    app, codename = label.split(".", 1)
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def group(name: str) -> Group:
    return Group.objects.get(name=name)


def account_form(user: User, **changes) -> dict:
    """What the account page posts: the account as it is, with ``changes``; False leaves a box unticked."""
    data: dict = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": [str(g.pk) for g in user.groups.all()],
        "user_permissions": [str(p.pk) for p in user.user_permissions.all()],
        "_save": "Save",
    }
    data.update(changes)
    return {k: ("on" if v is True else v) for k, v in data.items() if v is not False}


def group_form(group: Group, permissions=None, **changes) -> dict:
    chosen = group.permissions.all() if permissions is None else permissions
    return {"name": group.name, "permissions": [str(p.pk) for p in chosen], "_save": "Save", **changes}


def refreshed(user: User) -> User:
    return User.objects.get(pk=user.pk)


def form_errors(response) -> str:
    """The admin form's errors, as text (the page re-rendered instead of saving)."""
    assert response.status_code == 200, response.status_code
    adminform = response.context["adminform"]
    return str(adminform.form.errors)


# --- the escalation paths, each refused ---------------------------------------------------------


def test_an_administrator_cannot_make_themselves_superuser(admin_client, administrator):
    response = admin_client.post(user_url(administrator), account_form(administrator, is_superuser=True))

    assert response.status_code == 403
    assert not refreshed(administrator).is_superuser


def test_an_administrators_own_account_is_read_only_to_them(admin_client, administrator):
    html = admin_client.get(user_url(administrator)).content.decode()

    assert 'name="is_superuser"' not in html
    assert 'name="groups"' not in html
    assert 'name="user_permissions"' not in html


def test_an_administrator_cannot_change_their_own_staff_flag(admin_client, administrator):
    response = admin_client.post(user_url(administrator), account_form(administrator, is_staff=False))

    assert response.status_code == 403
    assert refreshed(administrator).is_staff


def test_the_flags_and_direct_permissions_of_an_account_they_manage_are_not_theirs_to_set(admin_client, operator):
    approve = perm("integrations.approve_request")

    response = admin_client.post(
        user_url(operator),
        account_form(
            operator, is_staff=True, is_superuser=True, user_permissions=[str(approve.pk)], first_name="Olivia"
        ),
    )

    assert response.status_code == 302
    saved = refreshed(operator)
    assert saved.first_name == "Olivia"  # what they may change is changed…
    assert (saved.is_staff, saved.is_superuser) == (False, False)  # …and nothing else
    assert not saved.user_permissions.exists()
    assert not saved.has_perm("integrations.approve_request")


def test_an_administrator_cannot_set_another_persons_password(admin_client, operator):
    url = user_url(operator, "password")

    shown = admin_client.get(url)
    posted = admin_client.post(
        url, {"password1": "new pass 4711!", "password2": "new pass 4711!", "usable_password": "true"}
    )

    assert (shown.status_code, posted.status_code) == (403, 403)
    assert refreshed(operator).check_password(PASSWORD)


def test_the_account_page_offers_no_password_link_to_an_administrator(admin_client, operator):
    html = admin_client.get(user_url(operator)).content.decode()

    assert "../password/" not in html
    assert 'name="password' not in html


def test_an_administrator_cannot_change_the_email_that_password_resets_go_to(admin_client, operator):
    response = admin_client.post(user_url(operator), account_form(operator, email="mallory@example.com"))

    assert response.status_code == 302
    assert refreshed(operator).email == "olivia@example.com"


def test_an_administrator_cannot_give_themselves_permissions(admin_client, administrator):
    run = perm(f"integrations.run_{INGESTION}")

    response = admin_client.post(user_url(administrator), account_form(administrator, user_permissions=[str(run.pk)]))

    assert response.status_code == 403
    assert not refreshed(administrator).user_permissions.exists()


def test_an_administrator_cannot_grant_their_own_group_more(admin_client, administrator):
    administrators = group(ADMINISTRATORS)
    before = set(administrators.permissions.all())
    more = [*before, perm(f"integrations.run_{INGESTION}"), perm("integrations.approve_request")]

    response = admin_client.post(group_url(administrators), group_form(administrators, more))

    assert response.status_code == 403
    assert set(administrators.permissions.all()) == before


def test_an_administrator_cannot_grant_a_group_they_belong_to(admin_client, administrator):
    team = Group.objects.create(name="team")
    administrator.groups.add(team)

    response = admin_client.post(group_url(team), group_form(team, [perm(f"integrations.run_{INGESTION}")]))

    assert response.status_code == 403
    assert not team.permissions.exists()


@pytest.mark.parametrize("name", [APPROVERS, ADMINISTRATORS, AUDITORS])
def test_an_administrator_cannot_put_themselves_into_a_reserved_group(admin_client, administrator, name):
    groups = [str(g.pk) for g in administrator.groups.all()] + [str(group(name).pk)]

    response = admin_client.post(user_url(administrator), account_form(administrator, groups=groups))

    assert response.status_code == 403
    assert set(refreshed(administrator).groups.values_list("name", flat=True)) == {ADMINISTRATORS}


@pytest.mark.parametrize("name", [APPROVERS, ADMINISTRATORS, AUDITORS])
def test_an_administrator_cannot_put_anyone_into_a_reserved_group(admin_client, operator, name):
    groups = [str(group(OPERATORS).pk), str(group(name).pk)]

    response = admin_client.post(user_url(operator), account_form(operator, groups=groups))

    assert "Select a valid choice" in form_errors(response)
    assert set(refreshed(operator).groups.values_list("name", flat=True)) == {OPERATORS}


def test_a_second_account_made_by_an_administrator_cannot_become_an_approver(admin_client):
    created = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "my-other-me", "password1": "s3cond pass 4711!", "password2": "s3cond pass 4711!",
         "usable_password": "true", "is_superuser": "on", "is_staff": "on", "groups": [str(group(APPROVERS).pk)],
         "_save": "Save"},
    )  # fmt: skip
    assert created.status_code == 302, created.content.decode()[:2000]
    second = User.objects.get(username="my-other-me")
    assert (second.is_superuser, second.is_staff, second.groups.exists()) == (False, False, False)

    response = admin_client.post(user_url(second), account_form(second, groups=[str(group(APPROVERS).pk)]))

    assert "Select a valid choice" in form_errors(response)
    assert not refreshed(second).groups.exists()
    assert not refreshed(second).has_perm("integrations.approve_request")


def test_the_groups_offered_for_an_account_are_only_those_an_administrator_may_fill(admin_client, operator):
    custom = Group.objects.create(name="team-a")
    custom.permissions.add(perm(f"integrations.run_{INGESTION}"))
    exporting = Group.objects.create(name="exporters")
    exporting.permissions.add(perm("integrations.export_requests"))

    form = admin_client.get(user_url(operator)).context["adminform"].form

    offered = set(form.fields["groups"].queryset.values_list("name", flat=True))
    assert offered == {OPERATORS, "team-a"}


def test_an_administrator_cannot_edit_a_superuser(admin_client):
    root = User.objects.create_superuser("root", "root@example.com", "x")

    shown = admin_client.get(user_url(root))
    response = admin_client.post(user_url(root), account_form(root, is_active=False, first_name="Mallory"))

    assert shown.status_code == 200  # to look at, read-only
    assert 'name="first_name"' not in shown.content.decode()
    assert response.status_code == 403
    assert refreshed(root).is_active
    assert refreshed(root).first_name == ""


@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
def test_an_administrator_cannot_edit_an_approvers_account(admin_client, active):
    approver = make_user("approver", groups=(APPROVERS,), email="approver@example.com", is_active=active)

    response = admin_client.post(user_url(approver), account_form(approver, is_active=True, email=""))

    assert response.status_code == 403
    assert refreshed(approver).is_active == active
    assert refreshed(approver).email == "approver@example.com"


def test_an_administrator_cannot_edit_another_administrator(admin_client):
    colleague = make_user("colleague", groups=(ADMINISTRATORS,), is_staff=True)

    response = admin_client.post(user_url(colleague), account_form(colleague, is_active=False))

    assert response.status_code == 403
    assert refreshed(colleague).is_active


@pytest.mark.parametrize(
    "label",
    ["auth.change_user", "auth.add_permission", "integrations.approve_request",
     "integrations.view_sensitive_parameters", "integrations.export_requests"],
)  # fmt: skip
def test_a_new_group_cannot_be_given_what_an_administrator_may_not_grant(admin_client, label):
    response = admin_client.post("/admin/auth/group/add/", {"name": "sneaky", "permissions": [str(perm(label).pk)]})

    assert "Select a valid choice" in form_errors(response)
    assert not Group.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("label", ["auth.change_user", "integrations.approve_request"])
def test_operators_cannot_be_given_what_an_administrator_may_not_grant(admin_client, label):
    operators = group(OPERATORS)
    before = set(operators.permissions.all())

    response = admin_client.post(group_url(operators), group_form(operators, [*before, perm(label)]))

    assert "Select a valid choice" in form_errors(response)
    assert set(operators.permissions.all()) == before


def test_the_permissions_offered_for_a_group_are_only_the_portals_own(admin_client):
    form = admin_client.get("/admin/auth/group/add/").context["adminform"].form

    offered = {f"{p.content_type.app_label}.{p.codename}" for p in form.fields["permissions"].queryset}
    assert offered == {f"integrations.run_{op.key}" for op in all_operations()} | {
        f"integrations.{codename}" for codename in ADMINISTRATORS_OWN
    }


@pytest.mark.parametrize("name", [APPROVERS, AUDITORS])
def test_a_reserved_group_cannot_be_edited_or_deleted_by_an_administrator(admin_client, name):
    reserved = group(name)
    before = set(reserved.permissions.all())

    changed = admin_client.post(
        group_url(reserved), group_form(reserved, [*before, perm(f"integrations.run_{INGESTION}")])
    )
    deleted = admin_client.post(f"/admin/auth/group/{reserved.pk}/delete/", {"post": "yes"})

    assert (changed.status_code, deleted.status_code) == (403, 403)
    assert set(group(name).permissions.all()) == before


def test_a_reserved_group_cannot_be_made_again_by_an_administrator(admin_client):
    # Gone (a superuser deleted it): the grants after the next migrate would land on a new one.
    group(AUDITORS).delete()

    response = admin_client.post("/admin/auth/group/add/", {"name": "auditors", "permissions": []})

    assert "Only a superuser" in form_errors(response)
    assert not Group.objects.filter(name__iexact=AUDITORS).exists()


def test_an_administrator_holds_exactly_the_designed_grants(administrator):
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group(ADMINISTRATORS).permissions.all()}

    assert granted == {f"auth.{c}" for c in ADMINISTRATORS_AUTH} | {f"integrations.{c}" for c in ADMINISTRATORS_OWN}
    # Nothing to make API tokens for others with, nor to approve, see payloads or export.
    for label in ("integrations.approve_request", "integrations.view_sensitive_parameters",
                  "integrations.export_requests", "auth.delete_user", "auth.add_permission"):  # fmt: skip
        assert not refreshed(administrator).has_perm(label), label


def test_the_grants_after_a_migrate_take_back_what_administrators_once_held(db):
    administrators = group(ADMINISTRATORS)
    administrators.permissions.add(perm("auth.delete_user"), perm("auth.change_permission"))
    # A grant a superuser chose to add stays.
    administrators.permissions.add(perm("integrations.export_requests"))

    sync_permissions_and_groups()

    granted = {f"{p.content_type.app_label}.{p.codename}" for p in administrators.permissions.all()}
    assert "auth.delete_user" not in granted
    assert "auth.change_permission" not in granted
    assert "integrations.export_requests" in granted
    assert {f"auth.{c}" for c in ADMINISTRATORS_AUTH} <= granted


def test_a_superuser_still_may_do_all_of_it(client, operator):
    root = User.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(root)

    response = client.post(
        user_url(operator),
        account_form(
            operator,
            is_staff=True,
            groups=[str(group(APPROVERS).pk)],
            email="o@example.com",
            date_joined_0="2026-01-01",
            date_joined_1="09:00:00",
        ),
    )
    password = client.post(
        user_url(operator, "password"),
        {"password1": "new pass 4711!", "password2": "new pass 4711!", "usable_password": "true"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert password.status_code == 302
    saved = refreshed(operator)
    assert saved.is_staff
    assert saved.email == "o@example.com"
    assert saved.has_perm("integrations.approve_request")
    assert saved.check_password("new pass 4711!")


# --- what administrators are there for, still working --------------------------------------------


def test_an_administrator_creates_a_target(admin_client):
    response = admin_client.post(
        "/admin/integrations/awstarget/add/",
        {"name": "team-b", "account_id": "444455556666", "region": "eu-west-1", "is_active": "on", "_save": "Save"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert AwsTarget.objects.filter(name="team-b", account_id="444455556666").exists()


def test_an_administrator_makes_an_approval_rule_from_the_registered_operations(admin_client):
    html = admin_client.get("/admin/integrations/approvalrule/add/").content.decode()
    for op in all_operations():
        assert f'<option value="{op.key}"' in html, op.key
    assert '<option value="" selected>Any operation</option>' in html

    response = admin_client.post("/admin/integrations/approvalrule/add/", {"operation": INGESTION, "_save": "Save"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert ApprovalRule.objects.filter(operation=INGESTION, target=None).exists()


def test_an_approval_rule_for_any_operation_in_one_target(admin_client):
    target = default_target()

    response = admin_client.post("/admin/integrations/approvalrule/add/", {"operation": "", "target": str(target.pk)})

    assert response.status_code == 302
    assert ApprovalRule.objects.filter(operation="", target=target).exists()


def test_an_approval_rule_naming_an_unregistered_operation_is_refused(admin_client):
    response = admin_client.post("/admin/integrations/approvalrule/add/", {"operation": "appfabric/CreateIngestio"})

    assert "is not a registered operation" in form_errors(response)
    assert not ApprovalRule.objects.exists()


def test_an_unregistered_operation_is_refused_by_the_model_too(db):
    with pytest.raises(ValidationError) as refused:
        ApprovalRule(operation="appfabric/CreateIngestio").full_clean()

    assert "is not a registered operation" in str(refused.value.message_dict["operation"])
    ApprovalRule(operation=INGESTION).full_clean()  # a registered one is fine


def test_an_old_rule_naming_an_operation_no_longer_registered_is_shown_as_such(admin_client):
    rule = ApprovalRule.objects.create(operation="retired/Operation")
    url = f"/admin/integrations/approvalrule/{rule.pk}/change/"

    html = admin_client.get(url).content.decode()
    response = admin_client.post(url, {"operation": "retired/Operation"})

    assert '<option value="retired/Operation" selected>retired/Operation (not registered)</option>' in html
    assert "is not a registered operation" in form_errors(response)


def test_an_administrator_adds_a_new_operator_to_operators(admin_client):
    created = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "oscar", "password1": "0scar pass 4711!", "password2": "0scar pass 4711!",
         "usable_password": "true", "_save": "Save"},
    )  # fmt: skip
    assert created.status_code == 302, created.content.decode()[:2000]
    oscar = User.objects.get(username="oscar")

    response = admin_client.post(
        user_url(oscar), account_form(oscar, groups=[str(group(OPERATORS).pk)], email="oscar@example.com")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = refreshed(oscar)
    assert set(saved.groups.values_list("name", flat=True)) == {OPERATORS}
    assert saved.email == "oscar@example.com"  # an address not yet set may be set
    assert saved.has_perm(f"integrations.run_{INGESTION}")


def test_an_administrator_takes_an_operator_out_of_operators_and_deactivates_them(admin_client, operator):
    response = admin_client.post(user_url(operator), account_form(operator, groups=[], is_active=False))

    assert response.status_code == 302
    saved = refreshed(operator)
    assert not saved.groups.exists()
    assert not saved.is_active


def test_an_administrator_changes_which_operations_operators_may_run(admin_client):
    operators = group(OPERATORS)
    run = perm(f"integrations.run_{INGESTION}")
    kept = [p for p in operators.permissions.all() if p != run]

    response = admin_client.post(group_url(operators), group_form(operators, kept))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert run not in operators.permissions.all()


def test_an_administrator_makes_a_team_group_of_run_permissions(admin_client, operator):
    run = perm(f"integrations.run_{INGESTION}")

    response = admin_client.post("/admin/auth/group/add/", {"name": "ingestion-team", "permissions": [str(run.pk)]})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(group("ingestion-team").permissions.all()) == {run}


def test_an_administrator_changes_their_own_password_on_the_admins_own_page(client, administrator):
    client.force_login(administrator)

    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "n3w admin pass!", "new_password2": "n3w admin pass!"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert refreshed(administrator).check_password("n3w admin pass!")


# --- batches and rate buckets: read-only, like the requests ------------------------------------------------


def a_batch(user: User) -> Batch:
    target = default_target()
    batch = Batch.objects.create(
        service="supplychain", operation="SendDataIntegrationEvent", target=target, account_id=target.account_id,
        region=target.region, created_by=user, created_by_username=user.username, file_name="events.csv",
        file_format="csv", status=BatchStatus.DRAFT, lines=2, invalid_lines=1,
    )  # fmt: skip
    BatchLine.objects.create(batch=batch, number=2, raw='["SECRET-PAYLOAD"]', valid=False)
    return batch


def a_bucket() -> RateBucket:
    return RateBucket.objects.create(
        key="111122223333/us-east-1/supplychain", tokens=2.5, stamp=1.0, rate=5.0, throttles=3, throttled_at=None
    )


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", password=PASSWORD))
    return client


def test_batches_and_rate_buckets_are_read_only_even_for_a_superuser(superuser_client, operator):
    batch, bucket = a_batch(operator), a_bucket()

    for model, obj in (("batch", batch), ("ratebucket", bucket)):
        url = f"/admin/integrations/{model}/"
        assert superuser_client.get(url).status_code == 200
        assert superuser_client.get(f"{url}{obj.pk}/change/").status_code == 200
        assert superuser_client.get(f"{url}add/").status_code == 403
        assert superuser_client.post(f"{url}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
        assert superuser_client.post(f"{url}{obj.pk}/change/", {}).status_code == 403
    assert Batch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).exists()
    assert RateBucket.objects.filter(pk=bucket.pk, rate=5.0).exists()


def test_the_rate_bucket_list_shows_key_rate_tokens_and_throttles(superuser_client):
    a_bucket()

    text = superuser_client.get("/admin/integrations/ratebucket/").content.decode()

    for column in ("key", "rate", "tokens", "throttles", "throttled_at"):
        assert f"column-{column}" in text
    assert "111122223333/us-east-1/supplychain" in text


def test_a_batchs_admin_page_shows_no_line_of_its_file(superuser_client, operator):
    """The lines hold the events' payloads as uploaded (never redacted): the batch page's report is
    where what is wrong with them is read."""
    batch = a_batch(operator)

    text = superuser_client.get(f"/admin/integrations/batch/{batch.pk}/change/").content.decode()

    assert "events.csv" in text
    assert "SECRET-PAYLOAD" not in text


def test_the_batch_list_and_its_filters_run_no_distinct_over_batches(superuser_client, operator):
    a_batch(operator)

    with CaptureQueriesContext(connection) as queries:
        response = superuser_client.get("/admin/integrations/batch/", {"status__exact": "draft"})

    assert response.status_code == 200
    assert f">{Batch.objects.get().pk}<" in response.content.decode()
    batch_queries = [q["sql"] for q in queries.captured_queries if "integrations_batch" in q["sql"]]
    assert batch_queries
    assert not [sql for sql in batch_queries if "DISTINCT" in sql.upper()]


def test_an_administrator_reads_batches_and_rate_buckets_and_changes_neither(admin_client, operator):
    """As they read the requests (view_awsrequest): integrations.permissions.ADMINISTRATORS_OWN must
    name view_batch and view_ratebucket."""
    batch, bucket = a_batch(operator), a_bucket()

    assert admin_client.get("/admin/integrations/batch/").status_code == 200
    assert admin_client.get(f"/admin/integrations/batch/{batch.pk}/change/").status_code == 200
    assert admin_client.get("/admin/integrations/ratebucket/").status_code == 200
    assert admin_client.post(f"/admin/integrations/ratebucket/{bucket.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/integrations/batch/add/").status_code == 403
