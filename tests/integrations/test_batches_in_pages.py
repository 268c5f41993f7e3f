"""Batches in the rest of the portal: the navigation and the operation's form lead to them, a request
of a batch names its line and its batch's decision, a request of an event group says which earlier
one it waits for (or that later ones wait for it, with "Release the group" and "Retry" for those who
may), and the approval queue lists a waiting batch once instead of its requests one by one.

The batch pages themselves are integrations/batch_views.py's (tests/integrations/test_batch_views.py);
here their links are followed only as far as their URLs."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from integrations import ordering
from integrations.models import AwsRequest, Batch, BatchStatus, RequestStatus
from integrations.permissions import APPROVERS, AUDITORS, OPERATORS
from operations import get_operation
from tests.factories import default_target, make_operator, make_request, make_user

pytestmark = pytest.mark.django_db

SUPPLY = "supplychain/SendDataIntegrationEvent"
INGESTION = "appfabric/CreateIngestion"
S = RequestStatus
B = BatchStatus


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(db) -> User:
    return make_operator("olivia")


@pytest.fixture
def approver(db) -> User:
    return make_user("avery", groups=(APPROVERS,))


def event(group: str = "group-1", **overrides) -> dict:
    params = {
        "instanceId": "2b2b2b2b-1111-2222-3333-444444444444",
        "eventType": "scn.data.inboundorder",
        "data": '{"order_id": "1"}',
        "eventGroupId": group,
    }
    return {**params, **overrides}


def make_batch(user: User, status: str = B.RUNNING, **fields) -> Batch:
    target = default_target()
    operation = get_operation(SUPPLY)
    fields.setdefault("requests_recorded", 0)
    return Batch.objects.create(
        service=operation.service,
        operation=operation.name,
        target=target,
        account_id=target.account_id,
        region=target.region,
        created_by=user,
        created_by_username=user.get_username(),
        file_name="events.csv",
        file_format="csv",
        status=status,
        **fields,
    )


def make_event(user: User, status: str = S.QUEUED, group: str = "group-1", batch: Batch | None = None,
               line: int | None = None, **fields) -> AwsRequest:  # fmt: skip
    """A Supply Chain event as ``lifecycle.record`` or ``batches.record`` records it: in its group."""
    params = event(group)
    target = default_target()
    key = ordering.order_key(get_operation(SUPPLY), params, target.account_id, target.region)
    return make_request(
        SUPPLY, user=user, status=status, parameters=params, order_key=key, batch=batch, batch_line=line, **fields
    )


def page(client, aws_request: AwsRequest, htmx: bool = False) -> str:
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(f"/requests/{aws_request.pk}/", headers=headers)
    assert response.status_code in (200, 286)
    return response.content.decode()


def signed_in(client, user: User):
    client.force_login(user)
    return client


# --- navigation and the operation's form ------------------------------------------------------------


def test_the_navigation_offers_batches_to_whoever_may_run_an_operation_that_takes_files(client, owner):
    text = signed_in(client, owner).get("/").content.decode()

    assert '<li><a href="/batches/">Batches</a></li>' in text


@pytest.mark.parametrize("who", ["ingestions only", "auditor"])
def test_the_navigation_hides_batches_from_whoever_may_run_no_such_operation(client, who):
    if who == "auditor":
        user = make_user("auditor", groups=(AUDITORS,))
    else:
        user = make_user("ingestor")
        user.user_permissions.add(Permission.objects.get(codename=f"run_{INGESTION}"))

    text = signed_in(client, user).get("/").content.decode()

    assert 'href="/batches/"' not in text
    assert '<a href="/requests/">History</a>' in text


def test_an_operation_that_takes_files_links_its_form_to_its_upload_page(client, owner):
    text = signed_in(client, owner).get("/operations/supplychain/SendDataIntegrationEvent/").content.decode()

    assert (
        '<a href="/operations/supplychain/SendDataIntegrationEvent/batches/new/">Upload a file of many events</a>'
        in text
    )


def test_an_operation_that_takes_no_files_offers_no_upload(client, owner):
    text = signed_in(client, owner).get("/operations/appfabric/CreateIngestion/").content.decode()

    assert "Upload a file of many events" not in text
    assert "/batches/new/" not in text


# --- a request of a batch -------------------------------------------------------------------------------


def test_a_batch_request_names_its_line_and_links_to_its_batch(client, owner):
    batch = make_batch(owner)
    made = make_event(owner, batch=batch, line=7)

    text = page(signed_in(client, owner), made)

    assert f'<a href="/batches/{batch.pk}/">Line 7 of batch #{batch.pk}</a>' in text


def test_a_single_request_names_no_batch(client, owner):
    text = page(signed_in(client, owner), make_event(owner))

    assert 'id="batch-line"' not in text


def test_a_batch_requests_approval_is_its_batchs_one_decision(client, owner, approver):
    batch = make_batch(owner, decided_by=approver, decided_at=timezone.now(), decision_reason="Checked the file")
    made = make_event(owner, status=S.SUCCEEDED, batch=batch, line=2)

    text = page(signed_in(client, owner), made)

    decision = re.search(r'<article id="decision">(.*?)</article>', text, re.S)
    assert decision is not None
    words = " ".join(re.sub(r"<[^>]+>", "", decision[1]).split())
    assert words.startswith(f"Approved with its batch #{batch.pk} by avery on ")
    assert words.endswith(": Checked the file")
    assert f'href="/batches/{batch.pk}/"' in decision[1]


def test_a_rejected_batchs_request_says_rejected_with_its_batch(client, owner, approver):
    batch = make_batch(owner, B.REJECTED, decided_by=approver, decided_at=timezone.now(), decision_reason="Wrong file")
    made = make_event(owner, status=S.REJECTED, batch=batch, line=2, error_code="Rejected")

    text = page(signed_in(client, owner), made)

    assert re.search(
        r'<article id="decision">Rejected with <a [^>]+>its batch #\d+</a> by <strong>avery</strong>', text
    )
    assert "Wrong file" in text


def test_a_batch_request_awaiting_approval_is_decided_on_its_batchs_page_not_its_own(client, owner, approver):
    batch = make_batch(owner, B.AWAITING_APPROVAL)
    made = make_event(owner, status=S.AWAITING_APPROVAL, batch=batch, line=1)
    signed_in(client, approver)

    text = page(client, made)
    refused = client.post(f"/requests/{made.pk}/decide/", {"decision": "approve"}, follow=True)

    assert f'action="/requests/{made.pk}/decide/"' not in text
    assert f'<a href="/batches/{batch.pk}/">decide batch #{batch.pk} on its page</a>' in text
    assert f"approval of its batch #{batch.pk}" in text
    assert f"is decided with its batch #{batch.pk}" in refused.content.decode()
    made.refresh_from_db()
    assert made.status == S.AWAITING_APPROVAL
    assert not hasattr(made, "decision")


def test_a_request_of_a_paused_batch_says_its_batch_is_paused(client, owner):
    batch = make_batch(owner, B.PAUSED)
    made = make_event(owner, batch=batch, line=3)

    assert "Its batch is paused" in page(signed_in(client, owner), made, htmx=True)


# --- a request of an event group ------------------------------------------------------------------------


@pytest.mark.parametrize(("holder_status", "words"), [(S.RUNNING, "running"), (S.FAILED, "failed")])
def test_a_request_waiting_for_an_earlier_one_of_its_group_names_and_links_it(client, owner, holder_status, words):
    holder = make_event(owner, status=holder_status)
    waiting = make_event(owner, status=S.QUEUED)
    signed_in(client, owner)

    for text in (page(client, waiting), page(client, waiting, htmx=True)):  # the poll says it too
        said = re.search(r'<p id="group-wait">(.*?)</p>', text, re.S)
        assert said is not None
        assert (
            f'Waits for <a href="/requests/{holder.pk}/">request #{holder.pk}</a> of its event group, which is {words}'
            in said[1]
        )


def test_a_request_waits_for_the_earliest_holder_of_its_group_only(client, owner):
    first = make_event(owner, status=S.RETRYING)
    make_event(owner, status=S.QUEUED)
    third = make_event(owner, status=S.QUEUED)

    assert f"request #{first.pk}</a> of its event group, which is retrying" in page(signed_in(client, owner), third)


def test_a_request_held_up_by_a_failed_event_is_polled_as_seldom_as_one_awaiting_approval(client, owner):
    make_event(owner, status=S.FAILED)
    held = make_event(owner, status=S.QUEUED)
    free = make_event(owner, status=S.QUEUED, group="another-group")
    signed_in(client, owner)

    assert 'hx-trigger="every 3s"' in page(client, held, htmx=True)
    assert 'hx-trigger="every 1s"' in page(client, free, htmx=True)


def test_a_request_whose_group_is_free_says_nothing_of_waiting(client, owner):
    make_event(owner, status=S.SUCCEEDED)
    make_event(owner, status=S.QUEUED, group="another-group")
    free = make_event(owner, status=S.QUEUED)

    assert 'id="group-wait"' not in page(signed_in(client, owner), free)


def test_another_persons_request_holding_the_group_is_named_but_not_linked(client, owner):
    theirs = make_event(make_operator("bob"), status=S.RUNNING)
    mine = make_event(owner, status=S.QUEUED)

    text = page(signed_in(client, owner), mine)

    assert f"Waits for request #{theirs.pk} of its event group, which is running" in text
    assert f'href="/requests/{theirs.pk}/"' not in text


def test_a_failed_request_holding_its_group_offers_its_batchs_owner_release_and_retry(client, owner):
    batch = make_batch(owner)
    failed = make_event(owner, status=S.FAILED, batch=batch, line=4, error_code="ValidationException")

    text = page(signed_in(client, owner), failed)

    assert "Later events of its event group wait for this one" in text
    release = re.search(rf'<form method="post" action="/requests/{failed.pk}/group/release/">.*?</form>', text, re.S)
    retry = re.search(rf'<form method="post" action="/requests/{failed.pk}/group/retry/">.*?</form>', text, re.S)
    assert release is not None
    assert "Release the group</button>" in release[0]
    assert "csrfmiddlewaretoken" in release[0]
    assert retry is not None
    assert "Retry</button>" in retry[0]


def test_an_approver_may_steer_a_batchs_held_group_and_an_auditor_only_reads_it(client, owner, approver):
    batch = make_batch(owner)
    failed = make_event(owner, status=S.FAILED, batch=batch, line=4)

    as_approver = page(signed_in(client, approver), failed)
    as_auditor = page(signed_in(client, make_user("auditor", groups=(AUDITORS,))), failed)

    assert "/group/release/" in as_approver
    assert "Later events of its event group wait for this one" in as_auditor
    assert "/group/release/" not in as_auditor
    assert "/group/retry/" not in as_auditor


def test_a_single_failed_request_holding_its_group_is_steered_by_its_author_only(client, owner, approver):
    failed = make_event(owner, status=S.FAILED)

    as_author = page(signed_in(client, owner), failed)
    as_approver = page(signed_in(client, approver), failed)

    assert "/group/release/" in as_author
    assert "/group/retry/" in as_author
    assert "Later events of its event group wait for this one" in as_approver
    assert "/group/release/" not in as_approver


def test_the_authors_release_button_lets_a_single_requests_group_go_on(client, owner):
    failed = make_event(owner, status=S.FAILED)
    later = make_event(owner, status=S.QUEUED)
    signed_in(client, owner)

    response = client.post(f"/requests/{failed.pk}/group/release/")

    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.order_released
    assert 'id="group-wait"' not in page(client, later)
    assert "Its event group was released" in page(client, failed)


def test_the_authors_retry_button_runs_a_single_request_again(client, owner):
    """The page offers a single request's author "Retry" (as the brief asks); batches.retry must take a
    request of no batch for this to work (see the report)."""
    failed = make_event(owner, status=S.FAILED, error_code="ValidationException")

    response = signed_in(client, owner).post(f"/requests/{failed.pk}/group/retry/", follow=True)

    assert response.redirect_chain == [(f"/requests/{failed.pk}/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"Request #{failed.pk}: it runs again, with the same client token."
    ]
    failed.refresh_from_db()
    assert failed.status in (S.QUEUED, S.RETRYING)


def test_a_released_request_says_its_group_went_on_and_offers_nothing(client, owner):
    released = make_event(owner, status=S.FAILED, order_released=True)

    text = page(signed_in(client, owner), released)

    assert "Its event group was released" in text
    assert "/group/release/" not in text


def test_a_failed_request_outside_any_group_says_nothing_of_groups(client, owner):
    failed = make_request(INGESTION, user=owner, status=S.FAILED, error_code="ValidationException")

    text = page(signed_in(client, owner), failed)

    assert "event group" not in text


# --- the approval queue -----------------------------------------------------------------------------------


def test_the_approval_queue_lists_a_waiting_batch_once_with_its_size_and_link(client, owner, approver):
    batch = make_batch(owner, B.AWAITING_APPROVAL, requests_recorded=3)
    for line in (1, 2, 3):
        make_event(owner, status=S.AWAITING_APPROVAL, batch=batch, line=line, group=f"g{line}")

    text = signed_in(client, approver).get("/approvals/").content.decode()

    rows = re.findall(r'<table class="waiting-batches">.*?</table>', text, re.S)
    assert len(rows) == 1
    row = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rows[0])))
    assert f"Batch #{batch.pk}" in row
    assert get_operation(SUPPLY).title in row
    for said in ("olivia", "sandbox", "111122223333", "us-east-1"):
        assert said in row
    assert " 3 " in row
    assert text.count(f'href="/batches/{batch.pk}/"') == 1


def test_a_batchs_requests_are_not_listed_one_by_one_in_the_request_queue(client, owner, approver):
    batch = make_batch(owner, B.AWAITING_APPROVAL, requests_recorded=2)
    of_batch = [make_event(owner, status=S.AWAITING_APPROVAL, batch=batch, line=n, group=f"g{n}") for n in (1, 2)]
    single = make_request(INGESTION, user=owner, status=S.AWAITING_APPROVAL)

    text = signed_in(client, approver).get("/approvals/").content.decode()

    assert f'href="/requests/{single.pk}/"' in text
    assert "1 waiting" in text
    for made in of_batch:
        assert f'href="/requests/{made.pk}/"' not in text


def test_nobody_sees_their_own_batch_in_their_approval_queue(client):
    both = make_user("both", groups=(OPERATORS, APPROVERS))
    default_target()
    make_batch(both, B.AWAITING_APPROVAL)

    text = signed_in(client, both).get("/approvals/").content.decode()

    assert "waiting-batches" not in text
    assert "Nothing waits for approval." in text


def test_batches_not_awaiting_approval_are_not_in_the_queue(client, owner, approver):
    for status in (B.RUNNING, B.DRAFT, B.REJECTED):
        make_batch(owner, status)

    assert "waiting-batches" not in signed_in(client, approver).get("/approvals/").content.decode()


def test_home_lists_no_batch_request_among_those_waiting_for_a_decision(client, owner, approver):
    batch = make_batch(owner, B.AWAITING_APPROVAL)
    of_batch = make_event(owner, status=S.AWAITING_APPROVAL, batch=batch, line=1)
    single = make_request(INGESTION, user=owner, status=S.AWAITING_APPROVAL)

    text = signed_in(client, approver).get("/").content.decode()

    assert f'href="/requests/{single.pk}/"' in text
    assert f'href="/requests/{of_batch.pk}/"' not in text
