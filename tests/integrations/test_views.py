"""The portal's pages: sign-in, the operation form (with and without htmx), and the history."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from html import unescape

import pytest
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.html import escape
from django_htmx.http import HTMX_STOP_POLLING

from integrations import history
from integrations.models import (
    Attempt,
    AttemptKind,
    AttemptOutcome,
    AwsRequest,
    RequestStatus,
    Resource,
    ResourceStatus,
)
from tests.factories import (
    PASSWORD,
    default_target,
    form_post,
    ingestion_form_data,
    ingestion_params,
    make_operator,
    make_request,
    make_target,
    make_user,
)
from tests.html import page

FORM_URL = "/operations/appfabric/CreateIngestion/"
HTMX = {"HX-Request": "true"}
ARN = "arn:aws:appfabric:us-east-1:111122223333:appbundle/abc/ingestion/def"
PARAMETER_FIELDS = {"appBundleIdentifier", "app", "tenantId", "ingestionType", "tags__0__key", "tags__0__value"}
# The operation page's own fields: where the request runs, above the operation's parameters.
PAGE_FIELDS = {"target"}


def request_ids(response) -> list[int]:
    """The requests a history page lists, in the order it lists them."""
    return [int(pk) for pk in re.findall(r'<td><a href="/requests/(\d+)/">', response.content.decode())]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Every test signs someone in; the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def auditor_signed_in(client, db):
    """Signed in as an Auditor, who may see every user's requests."""
    auditor = make_user("auditor", groups=("Auditors",))
    client.login(username=auditor.username, password=PASSWORD)
    return client


@pytest.fixture
def created_rows():
    """Each request row as it was when first saved (a worker may move it on right after)."""
    seen: list[dict] = []

    def record(sender, instance, created, **kwargs):
        if created:
            seen.append({"pk": instance.pk, "status": instance.status, "client_token": instance.client_token})

    post_save.connect(record, sender=AwsRequest, weak=False, dispatch_uid="test_views.created_rows")
    yield seen
    post_save.disconnect(sender=AwsRequest, dispatch_uid="test_views.created_rows")


# --- sign-in ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/operations/", FORM_URL, "/requests/", "/requests/{pk}/"])
def test_every_page_requires_sign_in(client, db, path):
    path = path.format(pk=make_request().pk)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_an_anonymous_post_of_the_form_is_sent_to_sign_in_and_records_nothing(client, db):
    response = client.post(FORM_URL, form_post(ingestion_form_data()))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not AwsRequest.objects.exists()


def test_signing_in_with_the_login_form_leads_where_the_person_was_going(client, db):
    user = make_user("alice")
    form = client.get("/accounts/login/?next=/requests/")
    assert form.status_code == 200
    assert page(form).values.keys() >= {"username", "password", "next"}

    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/requests/"})

    assert response.status_code == 302
    assert response["Location"] == "/requests/"
    assert client.get("/requests/").status_code == 200
    assert int(client.session["_auth_user_id"]) == user.pk


def test_a_wrong_password_does_not_sign_in(client, db):
    make_user("alice")

    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get("/operations/").status_code == 302


def test_signing_out_with_the_sign_out_button_ends_the_session(signed_in):
    html = signed_in.get("/operations/").content.decode()
    assert '<form class="signout" method="post" action="/accounts/logout/">' in html

    response = signed_in.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert signed_in.get("/operations/")["Location"] == "/accounts/login/?next=/operations/"


# --- operations ------------------------------------------------------------------------------------


def test_the_home_page_shows_the_users_recent_requests_the_days_counts_and_the_failures(signed_in, operator):
    mine = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id="arn:aws:appfabric:home-1")
    failed = make_request(user=operator, status=RequestStatus.FAILED, error_code="AccessDeniedException")
    make_request(status=RequestStatus.FAILED, error_code="SomeoneElsesError")  # not visible to the operator

    response = signed_in.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/requests/{mine.pk}/"' in html
    assert f'href="/requests/{failed.pk}/"' in html
    assert "AccessDeniedException" in html
    assert "SomeoneElsesError" not in html
    counts = {value: n for value, _, n in response.context["counts"]}
    assert counts["succeeded"] == 1
    assert counts["failed"] == 1


def test_the_operation_list_links_to_the_create_ingestion_form(signed_in):
    response = signed_in.get("/operations/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="{FORM_URL}">AppFabric: create an ingestion</a>' in html


def test_an_unknown_operation_is_not_found(signed_in):
    assert signed_in.get("/operations/appfabric/DeleteIngestion/").status_code == 404
    assert signed_in.get("/operations/nosuchservice/CreateIngestion/").status_code == 404


def test_the_form_shows_a_field_for_every_parameter_and_no_client_token(signed_in):
    response = signed_in.get(FORM_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    shown = page(response)
    assert set(shown.values) == PARAMETER_FIELDS | PAGE_FIELDS | {"csrfmiddlewaretoken"}
    assert "clientToken" not in html
    for name in PARAMETER_FIELDS:
        # A free-text field says its constraint; a list of choices is its own constraint.
        container = shown.container(name)
        assert ("Constraint:" in container) != ("<select" in container), name
    target = shown.container("target")
    assert f'<option value="{default_target().pk}">{escape(default_target())}</option>' in target
    assert html.index('name="target"') < min(html.index(f'name="{name}"') for name in PARAMETER_FIELDS)


def test_an_invalid_post_shows_the_error_next_to_its_field_and_keeps_every_value(signed_in):
    data = ingestion_form_data(
        appBundleIdentifier="not a bundle", tenantId="  tenant 7  ", tags__0__key="team", tags__0__value=" ops "
    )

    response = signed_in.post(FORM_URL, form_post(data))

    assert response.status_code == 200
    shown = page(response)
    container = shown.container("appBundleIdentifier")
    assert "has-error" in container
    message = "Enter an app bundle ARN (arn:…) or a UUID in lower-case hex (8-4-4-4-12)."
    assert escape(message) in container
    assert unescape(container).count(message) == 1
    assert "has-error" not in shown.container("tenantId")
    assert {k: v for k, v in shown.values.items() if k != "csrfmiddlewaretoken"} == form_post(data)
    assert not AwsRequest.objects.exists()


def test_an_error_in_a_tag_row_shows_in_that_rows_field(signed_in):
    data = ingestion_form_data(tags__0__key="team", tags__0__value="ops", tags__1__key="", tags__1__value="orphan")

    response = signed_in.post(FORM_URL, form_post(data))

    assert response.status_code == 200
    shown = page(response)
    assert "This field is required." in shown.container("tags__1__key")
    assert "has-error" not in shown.container("tags__0__key")
    assert shown.values["tags__1__value"] == "orphan"
    assert not AwsRequest.objects.exists()


def test_too_many_tags_show_an_error_on_the_tags_group(signed_in):
    data = ingestion_form_data(**{f"tags__{i}__key": f"k{i}" for i in range(51)})

    response = signed_in.post(FORM_URL, form_post(data))

    html = response.content.decode()
    group = html[html.index('id="rows-tags"') :]
    assert '<p class="errors" role="alert">Must have 0–50 items (has 51).</p>' in group
    assert not AwsRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker")
def test_a_valid_post_records_a_queued_request_and_shows_it(signed_in, operator, created_rows):
    data = ingestion_form_data(tags__0__key="team", tags__0__value="ops", tags__1__key="", tags__1__value="")

    response = signed_in.post(FORM_URL, form_post(data))

    [recorded] = AwsRequest.objects.all()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{recorded.pk}/"
    assert created_rows == [{"pk": recorded.pk, "status": RequestStatus.QUEUED, "client_token": recorded.client_token}]
    assert (recorded.service, recorded.operation) == ("appfabric", "CreateIngestion")
    assert recorded.created_by == operator
    target = default_target()
    assert (recorded.target, recorded.account_id, recorded.region) == (target, target.account_id, target.region)
    assert str(uuid.UUID(recorded.client_token)) == recorded.client_token
    assert recorded.parameters == ingestion_params(tags=[{"key": "team", "value": "ops"}])
    assert "clientToken" not in recorded.parameters


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker")
def test_two_valid_posts_get_two_different_client_tokens(signed_in):
    for _ in range(2):
        assert signed_in.post(FORM_URL, form_post(ingestion_form_data())).status_code == 302

    tokens = set(AwsRequest.objects.values_list("client_token", flat=True))

    assert len(tokens) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker")
def test_a_valid_htmx_post_answers_with_a_client_redirect(signed_in, created_rows):
    response = signed_in.post(FORM_URL, form_post(ingestion_form_data()), headers=HTMX)

    [recorded] = AwsRequest.objects.all()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/requests/{recorded.pk}/"
    assert [row["status"] for row in created_rows] == [RequestStatus.QUEUED]


def test_the_add_row_button_shows_one_more_row_and_keeps_the_values(signed_in):
    data = ingestion_form_data(tenantId=" t-9 ", tags__0__key="team", tags__0__value="ops")

    response = signed_in.post(FORM_URL, {**form_post(data), "_rows": "add:tags"})

    assert response.status_code == 200
    shown = page(response)
    assert {k: v for k, v in shown.values.items() if k != "csrfmiddlewaretoken"} == {
        **form_post(data),
        "tags__1__key": "",
        "tags__1__value": "",
    }
    assert "has-error" not in response.content.decode()
    assert 'role="alert"' not in response.content.decode()
    assert not AwsRequest.objects.exists()


def test_the_remove_row_button_drops_that_row_and_renumbers_the_rest(signed_in):
    data = ingestion_form_data(
        tags__0__key="a", tags__0__value="1",
        tags__1__key="b", tags__1__value="2",
        tags__2__key="c", tags__2__value="3",
    )  # fmt: skip

    response = signed_in.post(FORM_URL, {**form_post(data), "_rows": "remove:tags__1"})

    assert response.status_code == 200
    shown = page(response)
    assert {k: v for k, v in shown.values.items() if k.startswith("tags")} == {
        "tags__0__key": "a",
        "tags__0__value": "1",
        "tags__1__key": "c",
        "tags__1__value": "3",
    }
    assert shown.values["tenantId"] == "tenant-1"
    assert shown.values["target"] == str(default_target().pk)
    assert 'role="alert"' not in response.content.decode()
    assert not AwsRequest.objects.exists()


def test_each_row_has_a_remove_button_and_the_group_an_add_button(signed_in):
    data = {**form_post(ingestion_form_data()), "tags__0__key": "a", "_rows": "add:tags"}

    html = signed_in.post(FORM_URL, data).content.decode()

    assert 'name="_rows" value="remove:tags__0"' in html
    assert 'name="_rows" value="remove:tags__1"' in html
    assert 'name="_rows" value="add:tags"' in html


def test_with_htmx_the_form_view_answers_only_the_form(signed_in):
    response = signed_in.post(FORM_URL, {**form_post(ingestion_form_data()), "_rows": "add:tags"}, headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<form id="operation-form"')
    assert "tags__0__key" in html
    assert "HX-Request" in response["Vary"]


def test_without_the_run_permission_the_form_is_forbidden_and_a_post_records_nothing(client, db):
    default_target()
    make_user("viewer")
    client.login(username="viewer", password=PASSWORD)

    assert client.get(FORM_URL).status_code == 403
    assert client.post(FORM_URL, form_post(ingestion_form_data())).status_code == 403
    assert not AwsRequest.objects.exists()


def test_a_post_to_a_target_not_granted_is_forbidden_and_records_nothing(signed_in):
    elsewhere = make_target("elsewhere", account_id="444455556666", region="eu-west-1")

    response = signed_in.post(FORM_URL, form_post(ingestion_form_data(), target=elsewhere))

    assert response.status_code == 403
    assert not AwsRequest.objects.exists()


def test_the_form_page_varies_on_htmx(signed_in):
    assert "HX-Request" in signed_in.get(FORM_URL)["Vary"]


def test_an_invalid_htmx_post_answers_the_form_with_its_errors(signed_in):
    response = signed_in.post(FORM_URL, form_post(ingestion_form_data(tenantId="")), headers=HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "This field is required." in page(response).container("tenantId")
    assert not AwsRequest.objects.exists()


# --- history ---------------------------------------------------------------------------------------


def test_the_history_lists_the_newest_request_first(signed_in, operator):
    oldest, middle, newest = (make_request(user=operator) for _ in range(3))
    # Timestamps can tie on a fast machine: make the order explicit.
    now = timezone.now()
    for age, r in ((3, oldest), (2, middle), (1, newest)):
        AwsRequest.objects.filter(pk=r.pk).update(created_at=now - dt.timedelta(minutes=age))

    response = signed_in.get("/requests/")

    assert response.status_code == 200
    assert request_ids(response) == [newest.pk, middle.pk, oldest.pk]


def test_the_history_filters_by_operation(signed_in, operator):
    ingestion = make_request(user=operator)
    other = AwsRequest.objects.create(
        service="supplychain", operation="SendDataIntegrationEvent", parameters={}, region="us-east-1",
        created_by=operator,
    )  # fmt: skip

    assert set(request_ids(signed_in.get("/requests/"))) == {ingestion.pk, other.pk}
    assert request_ids(signed_in.get("/requests/?operation=appfabric/CreateIngestion")) == [ingestion.pk]


def test_the_history_filters_by_status(signed_in, operator):
    queued = make_request(user=operator)
    failed = make_request(user=operator, status=RequestStatus.FAILED)
    succeeded = make_request(user=operator, status=RequestStatus.SUCCEEDED)

    assert request_ids(signed_in.get("/requests/?status=failed")) == [failed.pk]
    assert request_ids(signed_in.get("/requests/?status=succeeded")) == [succeeded.pk]
    assert request_ids(signed_in.get("/requests/?status=queued")) == [queued.pk]


def test_the_history_filters_by_user(auditor_signed_in):
    alices = make_request(user=make_user("alice"))
    make_request(user=make_user("bob"))

    response = auditor_signed_in.get("/requests/?user=alice")

    assert request_ids(response) == [alices.pk]
    assert '<option value="alice" selected>alice</option>' in response.content.decode()


def test_without_permission_to_see_all_the_history_lists_only_ones_own_requests(signed_in, operator):
    own = make_request(user=operator)
    make_request(user=make_operator("someone-else"))

    response = signed_in.get("/requests/")

    assert request_ids(response) == [own.pk]
    assert 'name="user"' not in response.content.decode()
    assert request_ids(signed_in.get("/requests/?user=someone-else")) == []


def test_the_history_filters_by_target(signed_in, operator):
    elsewhere = make_target("elsewhere", users=(operator,), account_id="444455556666", region="eu-west-1")
    in_sandbox = make_request(user=operator)
    in_elsewhere = make_request(user=operator, target=elsewhere)

    assert request_ids(signed_in.get("/requests/?target=sandbox")) == [in_sandbox.pk]
    assert request_ids(signed_in.get("/requests/?target=elsewhere")) == [in_elsewhere.pk]


def test_the_history_finds_a_request_by_its_arn_its_client_token_or_an_aws_request_id(signed_in, operator):
    found = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN)
    Attempt.objects.create(
        request=found, number=1, started_at=timezone.now(), client_token=found.client_token,
        aws_request_id="aws-req-77",
    )  # fmt: skip
    make_request(user=operator)

    for q in (ARN, found.client_token, "aws-req-77"):
        assert request_ids(signed_in.get("/requests/", {"q": q})) == [found.pk], q


def older_link(response) -> str:
    """The href of a history page's "Older" link (its cursor), unescaped."""
    [href] = re.findall(r'<a href="([^"]*)" rel="next">Older', response.content.decode())
    return unescape(href)


def newer_link(response) -> str:
    [href] = re.findall(r'<a href="([^"]*)" rel="prev">', response.content.decode())
    return unescape(href)


def test_the_history_shows_25_requests_a_page(signed_in, operator):
    made = [make_request(user=operator) for _ in range(30)]
    newest_first = sorted((r.pk for r in made), reverse=True)

    first = signed_in.get("/requests/")
    second = signed_in.get("/requests/" + older_link(first))

    assert request_ids(first) == newest_first[:25]
    assert request_ids(second) == newest_first[25:]
    assert "30 requests" in first.content.decode()
    assert 'rel="next"' not in second.content.decode()
    assert request_ids(signed_in.get("/requests/" + newer_link(second))) == newest_first[:25]


def test_requests_made_in_the_same_instant_are_each_listed_once_across_pages(signed_in, operator):
    made = [make_request(user=operator) for _ in range(60)]
    AwsRequest.objects.update(created_at=timezone.now())  # ties on created_at: the id decides

    seen, response = [], signed_in.get("/requests/")
    while True:
        seen += request_ids(response)
        if 'rel="next"' not in response.content.decode():
            break
        response = signed_in.get("/requests/" + older_link(response))

    assert seen == sorted((r.pk for r in made), reverse=True)


def test_the_pages_keep_the_filters(signed_in, operator):
    for _ in range(26):
        make_request(user=operator, status=RequestStatus.FAILED)
    make_request(user=operator)

    first = signed_in.get("/requests/?status=failed")
    second = signed_in.get("/requests/" + older_link(first))

    assert older_link(first).startswith("?status=failed&cursor=o")
    assert len(request_ids(first)) == 25
    assert len(request_ids(second)) == 1
    assert newer_link(second).startswith("?status=failed&cursor=n")
    assert request_ids(signed_in.get("/requests/" + newer_link(second))) == request_ids(first)


@pytest.mark.parametrize("cursor", ["nonsense", "o12_", "x1_2", "o99999999999999999_1", "o" + "9" * 5000 + "_1"])
def test_a_cursor_the_history_did_not_make_shows_the_newest_page(signed_in, operator, cursor):
    made = make_request(user=operator)

    response = signed_in.get("/requests/", {"cursor": cursor})

    assert response.status_code == 200
    assert request_ids(response) == [made.pk]


def test_beyond_its_cap_the_history_says_more_than_instead_of_counting_on(signed_in, operator, monkeypatch):
    monkeypatch.setattr(history, "COUNT_CAP", 3)
    for _ in range(3):
        make_request(user=operator)

    assert '<p class="result-count">3 requests</p>' in signed_in.get("/requests/").content.decode()
    make_request(user=operator)
    assert "More than 3 requests (counted up to 3)" in signed_in.get("/requests/").content.decode()


def test_with_htmx_the_history_answers_only_its_table(signed_in, operator):
    make_request(user=operator)

    response = signed_in.get("/requests/", headers=HTMX)

    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="request-table">')
    assert len(request_ids(response)) == 1
    assert "HX-Request" in response["Vary"]


def test_the_history_shows_the_arn_of_a_succeeded_request(signed_in, operator):
    make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN)

    assert ARN in signed_in.get("/requests/").content.decode()


# --- one request -----------------------------------------------------------------------------------


def test_the_detail_page_shows_the_parameters_and_the_client_token(signed_in, operator):
    recorded = make_request(
        user=operator, parameters=ingestion_params(tenantId="tenant-detail-42", tags=[{"key": "k9", "value": "v9"}])
    )

    response = signed_in.get(f"/requests/{recorded.pk}/")

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert '"tenantId": "tenant-detail-42"' in html
    assert '"key": "k9"' in html
    assert '"value": "v9"' in html
    assert f"<code>{recorded.client_token}</code>" in html
    assert operator.username in html
    assert "<dt>Target</dt><dd>sandbox</dd>" in html
    assert "<dt>Account</dt><dd>111122223333</dd>" in html


def test_the_detail_page_shows_every_attempt(signed_in, operator):
    recorded = make_request(user=operator, status=RequestStatus.RETRYING)
    started = timezone.now()
    Attempt.objects.create(
        request=recorded, number=1, started_at=started, finished_at=started, outcome=AttemptOutcome.RETRYABLE_ERROR,
        http_status=429, error_code="ThrottlingException", error_message="Rate exceeded",
        aws_request_id="aws-req-first", client_token=recorded.client_token,
    )  # fmt: skip
    Attempt.objects.create(
        request=recorded, number=2, started_at=started, client_token=recorded.client_token,
        aws_request_id="aws-req-second",
    )  # fmt: skip

    html = signed_in.get(f"/requests/{recorded.pk}/").content.decode()

    assert "<strong>ThrottlingException</strong> Rate exceeded" in html
    assert "<td>429</td>" in html
    assert "Failed, will retry" in html
    assert "In progress" in html
    assert html.index("aws-req-first") < html.index("aws-req-second")
    assert "No attempt yet" not in html


def test_the_detail_page_of_a_request_without_attempts_says_it_waits_for_a_worker(signed_in, operator):
    html = signed_in.get(f"/requests/{make_request(user=operator).pk}/").content.decode()

    assert "No attempt yet: the request is waiting for a worker." in html


def test_the_detail_page_shows_the_error_of_a_failed_request(signed_in, operator):
    recorded = make_request(
        user=operator,
        status=RequestStatus.FAILED,
        error_code="ValidationException",
        error_message="tenantId is not known to the app",
        finished_at=timezone.now(),
    )

    html = signed_in.get(f"/requests/{recorded.pk}/").content.decode()

    assert "<strong>ValidationException</strong>: tenantId is not known to the app" in html
    assert "status-failed" in html


def test_the_detail_page_of_an_unknown_request_is_not_found(signed_in):
    assert signed_in.get("/requests/999999/").status_code == 404


def test_the_detail_page_of_someone_elses_request_is_not_found_unless_one_may_see_all(signed_in):
    theirs = make_request(user=make_operator("someone-else"))

    assert signed_in.get(f"/requests/{theirs.pk}/").status_code == 404
    auditor = make_user("auditor", groups=("Auditors",))
    signed_in.force_login(auditor)
    assert signed_in.get(f"/requests/{theirs.pk}/").status_code == 200


@pytest.mark.parametrize("status", [RequestStatus.QUEUED, RequestStatus.RUNNING, RequestStatus.RETRYING])
def test_an_unfinished_request_keeps_htmx_polling(signed_in, operator, status):
    recorded = make_request(user=operator, status=status)

    response = signed_in.get(f"/requests/{recorded.pk}/", headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'hx-get="/requests/{recorded.pk}/" hx-trigger="every 1s"' in html
    assert "HX-Request" in response["Vary"]


def test_a_succeeded_request_stops_htmx_polling_with_its_final_state(signed_in, operator):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN, finished_at=timezone.now())

    response = signed_in.get(f"/requests/{recorded.pk}/", headers=HTMX)

    html = response.content.decode()
    assert response.status_code == HTMX_STOP_POLLING == 286
    assert ARN in html
    assert "hx-trigger" not in html
    assert "<html" not in html


def with_resource(recorded: AwsRequest, **fields) -> Resource:
    fields.setdefault("status", ResourceStatus.PENDING)
    return Resource.objects.create(
        request=recorded,
        service=recorded.service,
        operation=recorded.operation,
        resource_id=recorded.resource_id,
        target=recorded.target,
        region=recorded.region,
        created_by=recorded.created_by,
        created_at=timezone.now(),
        **fields,
    )


def confirmation_of(response) -> str:
    """The request page's confirmation section as text, its words separated by single spaces."""
    found = re.search(r'<div id="confirmation".*?\n</div>', response.content.decode(), re.S)
    assert found, "the page has no confirmation section"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split())


def test_a_succeeded_request_keeps_polling_until_its_resource_is_confirmed_in_aws(signed_in, operator):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN, finished_at=timezone.now())
    resource = with_resource(recorded)

    response = signed_in.get(f"/requests/{recorded.pk}/", headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in html
    assert "Reading it back from AWS with appfabric/GetIngestion" in confirmation_of(response)

    Resource.objects.filter(pk=resource.pk).update(
        status=ResourceStatus.CONFIRMED, state="enabled", checked_at=timezone.now()
    )
    response = signed_in.get(f"/requests/{recorded.pk}/", headers=HTMX)

    assert response.status_code == HTMX_STOP_POLLING
    assert confirmation_of(response).startswith("Confirmed in AWS State in AWS: enabled .")
    assert '<strong id="resource-state">enabled</strong>' in response.content.decode()


def test_the_request_page_says_why_a_resource_could_not_be_confirmed_and_that_the_request_succeeded(
    signed_in, operator
):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN, finished_at=timezone.now())
    with_resource(recorded, status=ResourceStatus.UNCONFIRMED, check_error="AccessDeniedException: no GetIngestion")

    text = confirmation_of(signed_in.get(f"/requests/{recorded.pk}/"))

    assert "Could not be confirmed AccessDeniedException: no GetIngestion" in text
    assert "The request itself succeeded" in text


def test_the_request_page_shows_what_changed_outside_the_portal_and_offers_a_new_check(signed_in, operator):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN, finished_at=timezone.now())
    resource = with_resource(
        recorded,
        status=ResourceStatus.CHANGED,
        checked_at=timezone.now(),
        changes=[{"field": "tenantId", "was": "tenant-1", "now": "tenant-2"}],
    )

    response = signed_in.get(f"/requests/{recorded.pk}/")

    assert "Changed outside the portal" in confirmation_of(response)
    assert "tenantId was tenant-1 , now tenant-2" in confirmation_of(response)
    assert f'<form method="post" action="/resources/{resource.pk}/recheck/"' in response.content.decode()


def test_the_attempts_table_tells_a_read_back_from_the_create(signed_in, operator):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN, finished_at=timezone.now())
    started = timezone.now()
    Attempt.objects.create(
        request=recorded, number=1, started_at=started, outcome=AttemptOutcome.SUCCEEDED,
        client_token=recorded.client_token,
    )  # fmt: skip
    Attempt.objects.create(
        request=recorded, number=2, started_at=started, outcome=AttemptOutcome.SUCCEEDED,
        kind=AttemptKind.READ_BACK, read_call="appfabric/GetIngestion",
    )  # fmt: skip

    html = signed_in.get(f"/requests/{recorded.pk}/").content.decode()

    rows = re.findall(r"<td>\d+</td>\s*<td>(.*?)</td>", html, re.S)
    assert rows == ["CreateIngestion", "Read back <code>appfabric/GetIngestion</code>"]


def test_a_failed_request_stops_htmx_polling_with_its_error(signed_in, operator):
    recorded = make_request(
        user=operator, status=RequestStatus.FAILED, error_code="ConflictException", error_message="exists"
    )

    response = signed_in.get(f"/requests/{recorded.pk}/", headers=HTMX)

    assert response.status_code == HTMX_STOP_POLLING
    assert "<strong>ConflictException</strong>: exists" in response.content.decode()


def test_without_htmx_a_finished_request_is_an_ordinary_page(signed_in, operator):
    recorded = make_request(user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN)

    response = signed_in.get(f"/requests/{recorded.pk}/")

    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert ARN in response.content.decode()


def test_filtering_with_htmx_brings_export_links_that_carry_the_new_filters(auditor_signed_in):
    response = auditor_signed_in.get("/requests/", {"status": "failed"}, headers=HTMX)

    html = unescape(response.content.decode())
    assert "<html" not in html
    assert 'href="/requests/export.csv?status=failed"' in html
    assert 'href="/requests/export.jsonl?status=failed"' in html


# --- the request page's words, live updates and title ------------------------------------------------


def status_words(response) -> str:
    """The status sentence of a request's page (or poll), as text."""
    found = re.search(r'<p id="status-words" role="status">(.*?)</p>', response.content.decode(), re.S)
    assert found, "the page has no status words"
    return unescape(found.group(1))


def status_warning(response) -> str:
    found = re.search(r'<p id="status-warning" class="notice">(.*?)</p>', response.content.decode(), re.S)
    return unescape(found.group(1)) if found else ""


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def test_a_request_awaiting_approval_says_whom_it_waits_for_and_keeps_polling_every_few_seconds(signed_in, operator):
    make_user("alex", groups=("Approvers",))
    make_user("blair", groups=("Approvers",))
    make_user("gone", groups=("Approvers",), is_active=False)
    waiting = make_request(user=operator, status=RequestStatus.AWAITING_APPROVAL)

    response = signed_in.get(f"/requests/{waiting.pk}/", headers=HTMX)

    assert response.status_code == 200  # not 286: an approval is coming, and the page must show it
    assert f'hx-get="/requests/{waiting.pk}/" hx-trigger="every 3s"' in response.content.decode()
    assert status_words(response).startswith("Waiting 0 s for approval by alex or blair:")
    assert "gone" not in status_words(response)
    assert status_warning(response) == ""


def test_a_request_only_its_author_could_approve_says_so_to_the_author(client, db):
    author = make_user("sam", groups=("Operators", "Approvers"))
    default_target()
    waiting = make_request(user=author, status=RequestStatus.AWAITING_APPROVAL)
    client.force_login(author)

    response = client.get(f"/requests/{waiting.pk}/")

    assert status_words(response).startswith("Waiting ")
    assert status_warning(response).startswith("Nobody but you may approve it")
    assert "ask an administrator" in status_warning(response)


def test_a_request_nobody_may_approve_says_so(signed_in, operator):
    waiting = make_request(user=operator, status=RequestStatus.AWAITING_APPROVAL)

    response = signed_in.get(f"/requests/{waiting.pk}/")

    assert status_warning(response).startswith("Nobody may approve it: no active account holds the approve permission")


def test_a_rejected_request_says_by_whom_and_why_and_never_that_it_waits_for_a_worker(signed_in, operator):
    from integrations import lifecycle

    waiting = make_request(user=operator, status=RequestStatus.AWAITING_APPROVAL)
    lifecycle.decide(waiting, make_user("alex", groups=("Approvers",)), approve=False, reason="Not in the freeze.")

    response = signed_in.get(f"/requests/{waiting.pk}/")

    html = response.content.decode()
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+"
    assert re.fullmatch(rf"Rejected by alex at {when}: Not in the freeze\. It will not run\.", status_words(response))
    assert "waiting for a worker" not in html
    assert "No attempt: the request was rejected before it ran." in html


def test_a_cancelled_request_says_by_whom_and_why(signed_in, operator):
    from integrations import lifecycle

    queued = make_request(user=operator)
    lifecycle.cancel(queued, operator, "Wrong tenant.")

    words = status_words(signed_in.get(f"/requests/{queued.pk}/"))

    assert re.fullmatch(r"Cancelled by operator at .+: Wrong tenant\. No AWS call was made\.", words)


def test_a_queued_request_says_how_long_it_has_waited(signed_in, operator):
    queued = make_request(user=operator)
    AwsRequest.objects.filter(pk=queued.pk).update(created_at=ago(75))

    words = status_words(signed_in.get(f"/requests/{queued.pk}/", headers=HTMX))

    assert re.fullmatch(r"Queued for 1 min 1[5-7] s: waiting for a worker to take it\.", words)


def test_a_running_request_says_how_long_its_attempt_has_run(signed_in, operator):
    running = make_request(user=operator, status=RequestStatus.RUNNING, lease_expires_at=timezone.now())
    Attempt.objects.create(request=running, number=1, started_at=ago(12), client_token=running.client_token)

    words = status_words(signed_in.get(f"/requests/{running.pk}/", headers=HTMX))

    assert re.fullmatch(r"Running for 1[2-4] s: attempt 1 is calling AWS\.", words)


def test_a_retrying_request_says_when_its_next_attempt_is(signed_in, operator, settings):
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 5
    at = timezone.now() + dt.timedelta(seconds=30)
    retrying = make_request(
        user=operator, status=RequestStatus.RETRYING, next_attempt_at=at, error_code="ThrottlingException",
        error_message="Rate exceeded",
    )  # fmt: skip
    Attempt.objects.create(
        request=retrying, number=1, started_at=ago(2), finished_at=ago(1), outcome=AttemptOutcome.RETRYABLE_ERROR,
        error_code="ThrottlingException", error_message="Rate exceeded",
    )  # fmt: skip

    response = signed_in.get(f"/requests/{retrying.pk}/")

    clock = timezone.localtime(at).strftime("%H:%M:%S")
    assert re.fullmatch(
        rf"Attempt 1 failed \(ThrottlingException\); the next attempt is at {clock} "
        r"\(in (29|30|31) s; 4 attempts left\)\.",
        status_words(response),
    )
    assert "The portal retries by itself" in response.content.decode()


def test_a_request_that_failed_after_its_last_attempt_says_it_gave_up_never_that_it_retries(
    signed_in, operator, settings
):
    settings.PORTAL_RETRY_MAX_ATTEMPTS = 3
    failed = make_request(
        user=operator, status=RequestStatus.FAILED, error_code="ThrottlingException",
        error_message="Gave up after 3 attempts: Rate exceeded", finished_at=timezone.now(),
    )  # fmt: skip
    for number in (1, 2, 3):
        Attempt.objects.create(
            request=failed, number=number, started_at=ago(5), finished_at=ago(4), error_code="ThrottlingException",
            outcome=AttemptOutcome.FAILED if number == 3 else AttemptOutcome.RETRYABLE_ERROR,
        )  # fmt: skip

    response = signed_in.get(f"/requests/{failed.pk}/")

    html = unescape(response.content.decode())
    assert status_words(response).startswith("Failed: the portal gave up after 3 attempts")
    assert "retries by itself" not in html
    assert "gave up after its last attempt" in html


def test_a_request_aws_refused_says_it_is_not_retried(signed_in, operator):
    failed = make_request(
        user=operator, status=RequestStatus.FAILED, error_code="ValidationException", error_message="bad tenant"
    )

    words = status_words(signed_in.get(f"/requests/{failed.pk}/"))

    assert words.startswith("Failed: AWS refused the call (ValidationException). It is not retried")


def test_the_response_is_shown_as_json_like_the_parameters(signed_in, operator):
    done = make_request(
        user=operator, status=RequestStatus.SUCCEEDED, resource_id=ARN,
        response={"ingestion": {"arn": ARN, "state": "enabled", "tags": None}},
    )  # fmt: skip

    html = unescape(signed_in.get(f"/requests/{done.pk}/").content.decode())

    shown = re.search(r'<pre class="code response"><code>(.*?)</code></pre>', html, re.S)
    assert shown
    assert json.loads(shown.group(1)) == done.response
    assert '"state": "enabled"' in shown.group(1)
    assert "'state'" not in html


def test_the_tab_title_shows_the_status_and_every_poll_brings_the_new_one(signed_in, operator):
    running = make_request(user=operator, status=RequestStatus.RUNNING)

    page_html = signed_in.get(f"/requests/{running.pk}/").content.decode()
    assert f"<title>Running · Request #{running.pk} · Integrations Portal</title>" in page_html
    assert '<script src="/static/portal/request.js" defer></script>' in page_html

    AwsRequest.objects.filter(pk=running.pk).update(status=RequestStatus.SUCCEEDED, finished_at=timezone.now())
    poll = signed_in.get(f"/requests/{running.pk}/", headers=HTMX).content.decode()
    assert f'data-title="Succeeded · Request #{running.pk} · Integrations Portal"' in poll


# --- conflicts -----------------------------------------------------------------------------------------

DATA_INTEGRATION = "appintegrations/CreateDataIntegration"


def data_integration(name: str) -> dict:
    return {"Name": name, "KmsKey": "alias/portal", "SourceURI": "s3://crm-export/accounts"}


def conflict_of(response) -> str:
    found = re.search(r'<div id="request-error".*?</div>', response.content.decode(), re.S)
    assert found, "the page shows no error"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split())


@pytest.mark.django_db
def test_an_already_exists_refusal_names_the_unique_member_and_links_the_request_that_created_it(
    signed_in, operator, aws, aws_client
):
    from integrations import pipeline

    creator = make_request(
        DATA_INTEGRATION, user=operator, parameters=data_integration("crm-accounts"), status=RequestStatus.SUCCEEDED,
        resource_id="arn:aws:app-integrations:us-east-1:111122223333:data-integration/1", finished_at=timezone.now(),
    )  # fmt: skip
    make_request(DATA_INTEGRATION, user=operator, parameters=data_integration("other"), status=RequestStatus.SUCCEEDED)
    # What the creator made is in AWS (the sandbox) under that name.
    aws_client("appintegrations").create_data_integration(**data_integration("crm-accounts"))
    second = make_request(DATA_INTEGRATION, user=operator, parameters=data_integration("crm-accounts"))

    assert pipeline.execute(second.pk) == "failed"
    response = signed_in.get(f"/requests/{second.pk}/")

    second.refresh_from_db()
    assert second.error_code == "DuplicateResourceException"
    text = conflict_of(response)
    assert "AWS already has one with the Name “crm-accounts” in this account and region" in text
    assert "Run the request again with another Name" in text
    assert f"The portal created the existing one: request #{creator.pk}" in text
    assert f'<a href="/requests/{creator.pk}/">request #{creator.pk}</a>' in response.content.decode()


def test_a_conflict_links_no_request_the_viewer_may_not_see_nor_one_in_another_region(signed_in, operator):
    theirs = make_request(
        DATA_INTEGRATION, user=make_operator("someone-else"), parameters=data_integration("crm-accounts"),
        status=RequestStatus.SUCCEEDED,
    )  # fmt: skip
    make_request(
        DATA_INTEGRATION, user=operator, parameters=data_integration("crm-accounts"), status=RequestStatus.SUCCEEDED,
        region="eu-west-1",
    )  # fmt: skip
    failed = make_request(
        DATA_INTEGRATION, user=operator, parameters=data_integration("crm-accounts"), status=RequestStatus.FAILED,
        error_code="DuplicateResourceException", error_message="exists",
    )  # fmt: skip

    response = signed_in.get(f"/requests/{failed.pk}/")

    assert "AWS already has one with the Name “crm-accounts”" in conflict_of(response)
    assert "The portal created the existing one" not in conflict_of(response)
    assert f"/requests/{theirs.pk}/" not in response.content.decode()


def test_a_conflict_of_an_operation_without_unique_members_is_explained_without_a_cause_the_portal_rules_out(
    signed_in, operator
):
    failed = make_request(
        user=operator, status=RequestStatus.FAILED, error_code="ConflictException", error_message="conflict"
    )

    text = conflict_of(signed_in.get(f"/requests/{failed.pk}/"))

    assert "exists already in the account and region" in text
    assert "client token" not in text


# --- cancelling from the page --------------------------------------------------------------------------


def cancel_form(response) -> str:
    found = re.search(r'<details id="cancel-request".*?</details>', response.content.decode(), re.S)
    return found.group(0) if found else ""


@pytest.mark.parametrize("status", [RequestStatus.AWAITING_APPROVAL, RequestStatus.QUEUED, RequestStatus.RETRYING])
def test_the_requester_may_cancel_a_waiting_request_from_its_page(signed_in, operator, status):
    waiting = make_request(user=operator, status=status)

    response = signed_in.get(f"/requests/{waiting.pk}/")
    form = cancel_form(response)
    assert f'action="/requests/{waiting.pk}/cancel/"' in form
    assert 'hx-preserve="true"' in form  # what is typed survives the polls
    assert "csrfmiddlewaretoken" in form

    response = signed_in.post(f"/requests/{waiting.pk}/cancel/", {"reason": "  Wrong tenant.  "}, follow=True)

    cancelled = AwsRequest.objects.get(pk=waiting.pk)
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancel_reason) == (
        RequestStatus.CANCELLED, operator, "Wrong tenant."
    )  # fmt: skip
    assert f"Request #{waiting.pk} cancelled: nothing will run it." in response.content.decode()
    assert status_words(response).startswith("Cancelled by operator at ")
    assert cancel_form(response) == ""


@pytest.mark.parametrize("status", [RequestStatus.RUNNING, RequestStatus.SUCCEEDED, RequestStatus.FAILED])
def test_a_running_or_finished_request_offers_no_cancel(signed_in, operator, status):
    assert cancel_form(signed_in.get(f"/requests/{make_request(user=operator, status=status).pk}/")) == ""


def test_a_request_a_worker_took_meanwhile_is_not_cancelled_and_the_page_says_so(signed_in, operator):
    # The page showed Cancel while queued; a worker claimed the request before the click arrived.
    running = make_request(user=operator, status=RequestStatus.RUNNING, lease_expires_at=timezone.now())

    response = signed_in.post(f"/requests/{running.pk}/cancel/", {"reason": "too late"}, follow=True)

    assert f"Request #{running.pk} was not cancelled. It started running; it can no longer be cancelled" in unescape(
        response.content.decode()
    )
    running.refresh_from_db()
    assert (running.status, running.cancelled_by, running.cancel_reason) == (RequestStatus.RUNNING, None, "")


def test_someone_who_sees_a_request_but_may_not_cancel_it_is_refused_and_sees_no_button(auditor_signed_in):
    queued = make_request(user=make_operator("someone-else"))

    assert cancel_form(auditor_signed_in.get(f"/requests/{queued.pk}/")) == ""
    assert auditor_signed_in.post(f"/requests/{queued.pk}/cancel/").status_code == 403
    assert AwsRequest.objects.get(pk=queued.pk).status == RequestStatus.QUEUED


def test_cancelling_someone_elses_request_one_may_not_see_is_not_found(signed_in):
    theirs = make_request(user=make_operator("someone-else"))

    assert signed_in.post(f"/requests/{theirs.pk}/cancel/").status_code == 404
    assert signed_in.get(f"/requests/{theirs.pk}/cancel/").status_code == 405
    assert AwsRequest.objects.get(pk=theirs.pk).status == RequestStatus.QUEUED


@pytest.mark.parametrize(
    ("reason", "words"), [("x" * 1001, "at most 1000 characters"), ("a\x00b", "NUL character")], ids=["long", "nul"]
)
def test_a_reason_that_cannot_be_kept_cancels_nothing_and_says_why(signed_in, operator, reason, words):
    queued = make_request(user=operator)

    response = signed_in.post(f"/requests/{queued.pk}/cancel/", {"reason": reason}, follow=True)

    assert "Not cancelled." in response.content.decode()
    assert words in response.content.decode()
    assert AwsRequest.objects.get(pk=queued.pk).status == RequestStatus.QUEUED


def test_an_approver_may_cancel_someone_elses_waiting_request(client, db):
    waiting = make_request(user=make_operator("someone-else"), status=RequestStatus.AWAITING_APPROVAL)
    approver = make_user("alex", groups=("Approvers",))
    client.force_login(approver)

    client.post(f"/requests/{waiting.pk}/cancel/", {"reason": ""})

    cancelled = AwsRequest.objects.get(pk=waiting.pk)
    assert (cancelled.status, cancelled.cancelled_by) == (RequestStatus.CANCELLED, approver)
    assert cancelled.cancel_reason == ""
