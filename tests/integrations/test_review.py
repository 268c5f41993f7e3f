"""The review step before Run: what will be sent in the form's words, where, whether someone must
approve it and who, the exact call folded below, and a preset saved from it."""

from __future__ import annotations

import re

from django.contrib.auth.models import Group
from django.urls import reverse

from integrations import preview
from integrations.forms import OperationForm
from integrations.models import ApprovalRule, AwsRequest
from operations import get_operation
from tests.factories import default_target, form_post, ingestion_form_data, make_user
from tests.integrations.test_end_to_end_operations import FORMS

INGESTION = reverse("operation_form", args=["appfabric", "CreateIngestion"])
EVENT = reverse("operation_form", args=["supplychain", "SendDataIntegrationEvent"])


def review(client, url: str, data: dict) -> str:
    response = client.post(url, {**form_post(data), "_preview": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="preview-heading"' in html, html[:2000]
    return html


def table_rows(html: str) -> list[tuple[str, str]]:
    table = re.search(r'<table class="review-table".*?</table>', html, re.S)
    assert table
    return re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', table[0])


def test_the_review_lists_what_will_be_sent_in_the_forms_words(signed_in):
    html = review(
        signed_in, INGESTION, ingestion_form_data(app="M365AUDITLOGS", tags__0__key="team", tags__0__value="ops")
    )

    assert table_rows(html) == [
        ("App bundle", "2b2b2b2b-1111-2222-3333-444444444444"),
        ("Application", "Microsoft 365 audit logs (M365AUDITLOGS)"),
        ("Tenant ID", "tenant-1"),
        ("Ingestion type", "Audit log (auditLog)"),
        ("Tag 1 › Key", "team"),
        ("Tag 1 › Value", "ops"),
        ("Client token", "&lt;created when the request is recorded&gt;"),
    ]
    assert AwsRequest.objects.count() == 0


def test_a_sensitive_value_is_shown_shortened_in_the_table(signed_in):
    data = FORMS["supplychain/SendDataIntegrationEvent"]

    html = review(signed_in, EVENT, data)

    [(_, shown)] = [row for row in table_rows(html) if row[0] == "Data (JSON)"]
    assert re.fullmatch(r"&lt;sensitive: \d+ characters, sha256 [0-9a-f]+…&gt;", shown)
    assert "SECRET" not in html
    assert data["data"] not in html


def test_the_review_names_the_target_account_and_region(signed_in):
    target = default_target()

    html = review(signed_in, INGESTION, ingestion_form_data())

    assert f"<dt>AWS target</dt><dd>{target.name}</dd>" in html
    assert f"<dt>Account</dt><dd>{target.account_id}</dd>" in html
    assert f"<dt>Region</dt><dd>{target.region}</dd>" in html


def test_the_review_says_when_no_approval_is_needed(signed_in):
    html = review(signed_in, INGESTION, ingestion_form_data())

    assert '<dd id="review-approval">Not needed: it runs as soon as you press Run.</dd>' in html


def test_the_review_says_who_must_approve(signed_in):
    ApprovalRule.objects.create(operation="appfabric/CreateIngestion")
    make_user("beatrice", groups=("Approvers",))
    make_user("adam", groups=("Approvers",))

    html = review(signed_in, INGESTION, ingestion_form_data())

    assert '<dd id="review-approval">Needed: it waits until adam or beatrice approves it, then runs.</dd>' in html


def test_the_review_warns_when_nobody_else_may_approve(signed_in):
    ApprovalRule.objects.create(target=default_target())

    html = review(signed_in, INGESTION, ingestion_form_data())

    assert "Needed, but nobody else may approve it" in html


def test_the_code_is_folded_below_with_copy_buttons(signed_in):
    html = review(signed_in, INGESTION, ingestion_form_data())

    fold = re.search(r'<details class="fold code-fold" id="preview-code">.*?</details>', html, re.S)
    assert fold
    assert 'id="preview-boto3"' in fold[0]
    assert 'id="preview-cli"' in fold[0]
    assert fold[0].count('class="copy secondary outline" data-copy=') == 2
    assert html.index('id="review-table"') < html.index('id="preview-code"')


def test_run_is_the_first_button_and_back_keeps_the_form(signed_in):
    html = review(signed_in, INGESTION, ingestion_form_data(tenantId="kept"))

    review_form = re.search(r'<form id="review-form".*?</form>', html, re.S)[0]
    buttons = re.findall(r"<button[^>]*>([^<]*)", review_form)
    assert buttons[0] == "Run"
    assert '<input type="hidden" name="tenantId" value="kept">' in review_form


def test_the_review_offers_to_save_a_preset_of_the_same_values(signed_in, operator):
    operator.groups.add(Group.objects.get_or_create(name="Night shift")[0])

    html = review(signed_in, INGESTION, ingestion_form_data(tenantId="kept"))

    preset_form = re.search(r'<form id="preset-form".*?</form>', html, re.S)[0]
    assert f'action="{reverse("preset_save", args=["appfabric", "CreateIngestion"])}"' in preset_form
    assert '<input type="hidden" name="tenantId" value="kept">' in preset_form
    assert 'name="preset_name"' in preset_form
    assert 'name="preset_group"' in preset_form
    assert ">Night shift</option>" in preset_form


def test_approval_words_name_a_few_approvers_then_the_rest():
    assert (
        preview.approval_words(True, ["a", "b", "c"], 2)
        == "Needed: it waits until a, b or another approver approves it, then runs."
    )
    assert preview.approval_words(True, ["a"], 5) == "Needed: it waits until a approves it, then runs."


def test_every_value_an_operation_sends_has_a_row_of_its_own():
    for key, data in FORMS.items():
        operation = get_operation(key)
        form = OperationForm(operation, data)
        assert form.is_valid(), (key, form.errors)

        rows = preview.review_rows(operation, form.params)

        labels = [row.label for row in rows]
        assert labels[-1] == "Client token"
        assert len(labels) == len(set(labels)), key  # every row says which value it is
        assert len(rows) - 1 == _scalars(form.params) + _map_keys(form.params), key


def _scalars(value) -> int:
    if isinstance(value, dict):
        return sum(_scalars(v) for v in value.values())
    if isinstance(value, list):
        return sum(_scalars(v) for v in value)
    return 1


def _map_keys(params: dict) -> int:
    # AppIntegrations' maps: their keys are values sent too, each a row.
    tags = len(params["Tags"]) if isinstance(params.get("Tags"), dict) else 0
    filters = len(params.get("FileConfiguration", {}).get("Filters", {}))
    objects = params.get("ObjectConfiguration", {})
    return tags + filters + len(objects) + sum(len(fields) for fields in objects.values())
