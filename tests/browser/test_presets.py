"""Presets in the browser: a filled form saved as a preset shared with a team (never its sensitive
value), listed on the Presets page, a request started from it, and the preset deleted.

"Save as preset" is ``_preset_form.html``, which belongs inside an operation's form; until the form
includes it, this test puts the server's own rendering of it into the form, as the form will.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.template.loader import render_to_string
from playwright.sync_api import Page, expect

from integrations.models import Preset
from operations import get_operation
from tests.browser.conftest import check_accessibility, settle, sign_in
from tests.factories import make_operator

EVENT = get_operation("supplychain/SendDataIntegrationEvent")
FORM_URL = "/operations/supplychain/SendDataIntegrationEvent/"
SECRET = "PO-SECRET-4711 for Ada Lovelace"


@pytest.fixture
def alice(transactional_db):
    user = make_operator("alice")
    user.groups.add(Group.objects.create(name="Payments team"))
    return user


def with_save_as_preset(page: Page, user) -> None:
    """The form with its "Save as preset" part, as the server renders it, processed by htmx."""
    snippet = render_to_string("integrations/_preset_form.html", {"operation": EVENT, "user": user})
    page.evaluate(
        """html => {
            const form = document.getElementById('operation-form');
            form.insertAdjacentHTML('beforeend', html);
            htmx.process(form.lastElementChild);
        }""",
        snippet,
    )


def test_a_person_saves_a_preset_starts_a_request_from_it_and_deletes_it(page: Page, alice):
    sign_in(page, "alice")
    page.goto(FORM_URL)
    page.locator("#id_instanceId").fill("2b2b2b2b-1111-2222-3333-444444444444")
    page.locator("#id_eventType").select_option("scn.data.inboundorder")
    page.locator("#id_data").fill(SECRET)
    page.locator("#id_eventGroupId").fill("group-17")
    settle(page)
    with_save_as_preset(page, alice)

    page.get_by_label("Preset name").fill("Inbound orders, weekly")
    page.get_by_label("Share with").select_option(label="Payments team")
    page.get_by_role("button", name="Save as preset").click()

    message = page.locator("#preset-message")
    expect(message).to_contain_text("Saved the preset “Inbound orders, weekly”, shared with Payments team.")
    expect(message).to_contain_text("is sensitive and was not saved")
    # Saved in place: the form still holds everything typed, the sensitive value included.
    expect(page.locator("#id_data")).to_have_value(SECRET)
    check_accessibility(page, "preset-saved")
    preset = Preset.objects.get()
    assert preset.data["eventGroupId"] == "group-17"
    assert "data" not in preset.data
    assert SECRET not in str(preset.data)

    page.goto("/presets/")
    expect(page.get_by_role("heading", name=EVENT.title)).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Inbound orders, weekly"))
    expect(row).to_contain_text("Payments team")
    expect(row).to_contain_text("You")
    check_accessibility(page, "presets")

    row.get_by_role("link", name=re.compile("Start a request")).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(FORM_URL)}\?preset={preset.pk}$"))
    expect(page.locator("#id_eventGroupId")).to_be_visible()
    # The sensitive value is never filled from a preset. Filling the rest from ?preset= is the form's
    # (presets.form_data); where the form does not read it yet, the field is simply empty.
    expect(page.locator("#id_data")).to_have_value("")
    assert page.locator("#id_eventGroupId").input_value() in ("", "group-17")

    page.goto("/presets/")
    page.get_by_role("row", name=re.compile("Inbound orders, weekly")).get_by_role(
        "button", name=re.compile("Delete")
    ).click()
    expect(page.get_by_text("Deleted the preset “Inbound orders, weekly”.")).to_be_visible()
    expect(page.get_by_text("No presets yet")).to_be_visible()
    assert not Preset.objects.exists()


def test_a_refused_name_is_said_in_place_and_nothing_is_saved(page: Page, alice):
    sign_in(page, "alice")
    page.goto(FORM_URL)
    page.locator("#id_eventGroupId").fill("group-17")
    with_save_as_preset(page, alice)

    page.get_by_role("button", name="Save as preset").click()

    expect(page.get_by_role("alert")).to_contain_text("Give the preset a name")
    assert not Preset.objects.exists()
