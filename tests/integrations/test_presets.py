"""Presets: a filled form saved under a name, private or shared with a group, never holding a
sensitive member, the client token or the form's controls; listed per operation for those who may
run it, started from, replaced by saving the same name again, deleted by their owner only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.test import Client

from integrations import presets
from integrations.models import Preset
from operations import get_operation
from tests.factories import default_target, make_operator, make_target, make_user

pytestmark = pytest.mark.django_db

INGESTION = get_operation("appfabric/CreateIngestion")
EVENT = get_operation("supplychain/SendDataIntegrationEvent")
DATA_INTEGRATION = get_operation("appintegrations/CreateDataIntegration")
SECRET = "PO-SECRET-4711 for Ada Lovelace"

INGESTION_FORM = {
    "app": "SLACK",
    "appBundleIdentifier": "2b2b2b2b-1111-2222-3333-444444444444",
    "ingestionType": "auditLog",
    "tenantId": "tenant-1",
    "tags__0__key": "team",
    "tags__0__value": "payments",
}
EVENT_FORM = {
    "instanceId": "2b2b2b2b-1111-2222-3333-444444444444",
    "eventType": "scn.data.inboundorder",
    "data": SECRET,
    "eventGroupId": "group-17",
}
# What a browser posts besides the members: none of it belongs in a preset.
CONTROLS = {
    "csrfmiddlewaretoken": "abc",
    "clientToken": "3f0c0d2e-0000-4000-8000-000000000000",
    "_rows": "add:tags",
    "_field": "tenantId",
    "_preview": "1",
    "_edit": "1",
    "_held": "0123abcd",
    "preset_name": "Weekly Slack",
    "preset_group": "",
    "target": "1",
    "somethingElse": "x",
    "tags__0__colour": "red",  # not a member of a tag
    "tenantId__0": "under a scalar",
}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(db):
    return Group.objects.create(name="Payments team")


@pytest.fixture
def alice(team):
    user = make_operator("alice")
    user.groups.add(team)
    return user


@pytest.fixture
def bob(team):
    user = make_operator("bob")
    user.groups.add(team)
    return user


@pytest.fixture
def carol(db):
    """An operator outside alice's team."""
    return make_operator("carol")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def save_url(operation=INGESTION) -> str:
    return f"/presets/save/{operation.service}/{operation.name}/"


# --- what a preset keeps ---------------------------------------------------------------------------------


def test_a_preset_keeps_the_members_typed_and_nothing_else_a_form_posts(alice):
    preset = presets.save(alice, INGESTION, None, {**INGESTION_FORM, **CONTROLS}, "Weekly Slack", None)

    assert preset.data == INGESTION_FORM


def test_a_sensitive_member_is_never_stored(alice):
    preset = presets.save(alice, EVENT, None, EVENT_FORM, "Inbound orders", None)

    stored = Preset.objects.get(pk=preset.pk)
    assert "data" not in stored.data
    assert SECRET not in str(stored.data)
    assert stored.data == {k: v for k, v in EVENT_FORM.items() if k != "data"}


def test_the_sensitive_members_left_out_are_named_so_the_page_can_say_so():
    assert presets.left_out_sensitive(EVENT, EVENT_FORM) == ["data"]
    assert presets.left_out_sensitive(EVENT, {**EVENT_FORM, "data": ""}) == []
    assert presets.left_out_sensitive(INGESTION, INGESTION_FORM) == []


def test_rows_of_maps_and_nested_members_are_kept_by_their_form_names(alice):
    form = {
        "Name": "orders",
        "KmsKey": "alias/orders",
        "SourceURI": "servicenow://instance",
        "ScheduleConfig__ScheduleExpression": "rate(1 hour)",
        "Tags__0__key": "team",
        "Tags__0__value": "payments",
        "Tags__0__colour": "red",
        "FileConfiguration__Folders__0": "/exports",
    }

    preset = presets.save(alice, DATA_INTEGRATION, None, form, "Orders", None)

    assert preset.data == {k: v for k, v in form.items() if k != "Tags__0__colour"}


def test_empty_fields_are_not_stored(alice):
    preset = presets.save(alice, INGESTION, None, {**INGESTION_FORM, "tenantId": ""}, "Slack", None)

    assert "tenantId" not in preset.data


def test_form_data_fills_the_form_with_the_values_and_the_target(alice):
    target = default_target()
    preset = presets.save(alice, INGESTION, target, INGESTION_FORM, "Slack", None)

    assert presets.form_data(preset) == {**INGESTION_FORM, "target": str(target.pk)}


def test_form_data_never_gives_back_a_sensitive_value_even_one_stored_by_other_means(alice):
    preset = presets.save(alice, EVENT, None, EVENT_FORM, "Inbound", None)
    Preset.objects.filter(pk=preset.pk).update(data={**EVENT_FORM, "clientToken": "x", "_rows": "add:tags"})
    preset.refresh_from_db()

    filled = presets.form_data(preset)

    assert "data" not in filled
    assert "clientToken" not in filled
    assert "_rows" not in filled


# --- saving ----------------------------------------------------------------------------------------------


def test_saving_the_same_name_again_replaces_the_preset(alice, team):
    first = presets.save(alice, INGESTION, None, INGESTION_FORM, "Slack", None)
    second = presets.save(alice, INGESTION, None, {**INGESTION_FORM, "tenantId": "tenant-2"}, "  Slack ", team)

    assert second.pk == first.pk
    assert Preset.objects.count() == 1
    second.refresh_from_db()
    assert second.data["tenantId"] == "tenant-2"
    assert second.shared_with == team


def test_the_same_name_for_another_operation_is_another_preset(alice):
    presets.save(alice, INGESTION, None, INGESTION_FORM, "Weekly", None)
    presets.save(alice, EVENT, None, EVENT_FORM, "Weekly", None)

    assert Preset.objects.filter(owner=alice, name="Weekly").count() == 2


@pytest.mark.parametrize(("name", "message"), [("", "Give the preset a name"), ("   ", "Give the preset a name"),
                                               ("x" * 101, "at most 100 characters")])  # fmt: skip
def test_a_name_must_have_1_to_100_characters(alice, name, message):
    with pytest.raises(presets.PresetError, match=message):
        presets.save(alice, INGESTION, None, INGESTION_FORM, name, None)
    assert presets.save(alice, INGESTION, None, INGESTION_FORM, "x" * 100, None).name == "x" * 100


def test_sharing_with_a_group_one_is_not_in_is_refused(carol, team):
    with pytest.raises(presets.PresetError, match="not a member of Payments team"):
        presets.save(carol, INGESTION, None, INGESTION_FORM, "Slack", team)
    assert not Preset.objects.exists()


def test_a_preset_of_an_operation_one_may_not_run_is_refused(db):
    viewer = make_user("viewer")

    with pytest.raises(PermissionDenied):
        presets.save(viewer, INGESTION, None, INGESTION_FORM, "Slack", None)


def test_a_target_one_may_not_use_is_refused(alice):
    private = make_target("private", account_id="444455556666")

    with pytest.raises(presets.PresetError, match="target"):
        presets.save(alice, INGESTION, private, INGESTION_FORM, "Slack", None)


def test_a_person_has_at_most_so_many_presets(alice, monkeypatch):
    monkeypatch.setattr(presets, "MAX_PER_OWNER", 2)
    presets.save(alice, INGESTION, None, INGESTION_FORM, "one", None)
    presets.save(alice, INGESTION, None, INGESTION_FORM, "two", None)

    with pytest.raises(presets.PresetError, match="2 presets already"):
        presets.save(alice, INGESTION, None, INGESTION_FORM, "three", None)
    presets.save(alice, INGESTION, None, INGESTION_FORM, "two", None)  # replacing one is no new preset


# --- who sees what -----------------------------------------------------------------------------------------


def test_one_sees_ones_own_presets_and_those_shared_with_ones_groups(alice, bob, carol, team):
    mine = presets.save(alice, INGESTION, None, INGESTION_FORM, "mine", None)
    shared = presets.save(bob, INGESTION, None, INGESTION_FORM, "the team's", team)
    presets.save(bob, INGESTION, None, INGESTION_FORM, "bob's own", None)
    presets.save(carol, INGESTION, None, INGESTION_FORM, "carol's", None)

    assert set(presets.visible(alice)) == {mine, shared}
    assert set(presets.visible(carol)) == {Preset.objects.get(name="carol's")}


def test_a_preset_shared_with_a_group_one_left_is_no_longer_seen(alice, bob, team):
    shared = presets.save(bob, INGESTION, None, INGESTION_FORM, "the team's", team)
    alice.groups.remove(team)

    assert shared not in presets.visible(alice)


# --- the pages ----------------------------------------------------------------------------------------------


def test_saving_through_htmx_answers_with_a_message_in_place(alice, team):
    response = signed_in(alice).post(
        save_url(), {**INGESTION_FORM, "preset_name": "Weekly Slack", "preset_group": team.pk},
        headers={"HX-Request": "true"},
    )  # fmt: skip

    preset = Preset.objects.get()
    text = response.content.decode()
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert "Saved the preset “Weekly Slack”, shared with Payments team." in text
    assert f'href="/operations/appfabric/CreateIngestion/?preset={preset.pk}"' in text
    assert preset.shared_with == team


def test_saving_without_htmx_goes_back_to_the_form_filled_from_the_preset(alice):
    target = default_target()
    response = signed_in(alice).post(save_url(), {**INGESTION_FORM, "target": target.pk, "preset_name": "Slack"})

    preset = Preset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/operations/appfabric/CreateIngestion/?preset={preset.pk}"
    assert preset.target == target
    assert preset.shared_with is None


def test_saving_a_form_with_a_sensitive_value_says_it_was_not_saved(alice):
    response = signed_in(alice).post(
        save_url(EVENT), {**EVENT_FORM, "preset_name": "Inbound"}, headers={"HX-Request": "true"}
    )

    text = response.content.decode()
    assert "is sensitive and was not saved" in text
    assert SECRET not in text
    assert "data" not in Preset.objects.get().data


def test_a_refused_save_through_htmx_says_why(alice):
    response = signed_in(alice).post(save_url(), {**INGESTION_FORM, "preset_name": ""}, headers={"HX-Request": "true"})

    assert response.status_code == 200  # htmx swaps in a 200 only
    assert 'role="alert"' in response.content.decode()
    assert "Give the preset a name" in response.content.decode()
    assert not Preset.objects.exists()


def test_a_refused_save_without_htmx_offers_to_correct_it_carrying_the_values_but_no_sensitive_one(alice):
    response = signed_in(alice).post(save_url(EVENT), {**EVENT_FORM, "preset_name": "x" * 101})

    text = response.content.decode()
    assert response.status_code == 400
    assert "at most 100 characters" in text
    assert 'name="instanceId" value="2b2b2b2b-1111-2222-3333-444444444444"' in text
    assert SECRET not in text
    assert 'name="data"' not in text


def test_sharing_with_a_group_one_is_not_in_is_refused_on_the_page(carol, team):
    response = signed_in(carol).post(
        save_url(), {**INGESTION_FORM, "preset_name": "Slack", "preset_group": team.pk}, headers={"HX-Request": "true"}
    )

    assert "Share a preset only with one of your own groups" in response.content.decode()
    assert not Preset.objects.exists()


@pytest.mark.parametrize("group", ["abc", "²", "9" * 30, "-1"])
def test_a_group_that_is_no_group_id_is_refused_not_an_error(alice, group):
    response = signed_in(alice).post(
        save_url(), {**INGESTION_FORM, "preset_name": "Slack", "preset_group": group}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert not Preset.objects.exists()


def test_a_target_one_may_not_use_is_left_out_of_the_preset(alice):
    private = make_target("private", account_id="444455556666")

    signed_in(alice).post(save_url(), {**INGESTION_FORM, "preset_name": "Slack", "target": private.pk})

    assert Preset.objects.get().target is None


def test_saving_a_preset_of_an_operation_one_may_not_run_is_forbidden(db):
    response = signed_in(make_user("viewer")).post(save_url(), {**INGESTION_FORM, "preset_name": "Slack"})

    assert response.status_code == 403
    assert not Preset.objects.exists()


def test_saving_a_preset_of_an_unknown_operation_is_a_404(alice):
    assert signed_in(alice).post("/presets/save/nothing/Here/", {"preset_name": "x"}).status_code == 404


def test_saving_needs_a_post(alice):
    assert signed_in(alice).get(save_url()).status_code == 405


def test_the_presets_page_lists_ones_own_and_the_shared_ones_per_operation_with_a_link_to_start(
    alice, bob, carol, team
):
    mine = presets.save(alice, INGESTION, None, INGESTION_FORM, "Weekly Slack", None)
    shared = presets.save(bob, EVENT, None, EVENT_FORM, "Inbound orders", team)
    presets.save(bob, INGESTION, None, INGESTION_FORM, "Bob's private", None)
    presets.save(carol, INGESTION, None, INGESTION_FORM, "Carol's", None)

    text = signed_in(alice).get("/presets/").content.decode()

    assert INGESTION.title in text
    assert EVENT.title in text
    assert f'href="/operations/appfabric/CreateIngestion/?preset={mine.pk}"' in text
    assert f'href="/operations/supplychain/SendDataIntegrationEvent/?preset={shared.pk}"' in text
    assert "Payments team" in text
    assert "Bob&#x27;s private" not in text
    assert "Bob's private" not in text
    assert "Carol" not in text
    assert f'action="/presets/{mine.pk}/delete/"' in text
    assert f'action="/presets/{shared.pk}/delete/"' not in text  # not alice's to delete


def test_the_presets_page_leaves_out_operations_one_may_no_longer_run(alice):
    presets.save(alice, INGESTION, None, INGESTION_FORM, "Weekly Slack", None)
    alice.groups.clear()
    alice = type(alice).objects.get(pk=alice.pk)  # permissions are cached per instance

    text = signed_in(alice).get("/presets/").content.decode()

    assert "Weekly Slack" not in text
    assert "No presets yet" in text


def test_the_owner_deletes_a_preset(alice):
    preset = presets.save(alice, INGESTION, None, INGESTION_FORM, "Slack", None)

    response = signed_in(alice).post(f"/presets/{preset.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == "/presets/"
    assert not Preset.objects.exists()


def test_a_shared_preset_is_deleted_by_its_owner_only(alice, bob, team):
    shared = presets.save(bob, INGESTION, None, INGESTION_FORM, "the team's", team)

    assert signed_in(alice).post(f"/presets/{shared.pk}/delete/").status_code == 403
    assert Preset.objects.filter(pk=shared.pk).exists()


def test_someone_elses_private_preset_is_a_404(alice, carol):
    private = presets.save(carol, INGESTION, None, INGESTION_FORM, "Carol's", None)

    assert signed_in(alice).post(f"/presets/{private.pk}/delete/").status_code == 404
    assert Preset.objects.filter(pk=private.pk).exists()


def test_deleting_needs_a_post_with_the_csrf_token(alice):
    preset = presets.save(alice, INGESTION, None, INGESTION_FORM, "Slack", None)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.get(f"/presets/{preset.pk}/delete/").status_code == 405
    assert client.post(f"/presets/{preset.pk}/delete/").status_code == 403
    assert Preset.objects.filter(pk=preset.pk).exists()


def test_the_admin_lists_presets_but_never_writes_one(alice):
    presets.save(alice, INGESTION, None, INGESTION_FORM, "Weekly Slack", None)
    root = signed_in(make_user("root", is_superuser=True, is_staff=True))

    assert "Weekly Slack" in root.get("/admin/integrations/preset/").content.decode()
    assert root.get("/admin/integrations/preset/add/").status_code == 403
