"""Supply Chain's data is sensitive: pages show its size and digest, never the payload itself,
unless the person may view sensitive parameters (Auditors), and then only on the request's own page."""

from __future__ import annotations

import hashlib
import json
import re
from html import unescape

import pytest

from integrations.models import AwsRequest, RequestStatus
from tests.factories import form_post, make_request, make_user

SUPPLY_CHAIN = "supplychain/SendDataIntegrationEvent"
INSTANCE = "2b2b2b2b-1111-2222-3333-444444444444"
HTMX = {"HX-Request": "true"}
# Words that appear in the payload and nowhere else on any page.
SECRETS = ("PO-SECRET-4711", "Ada Lovelace", "ada@example.com")
PAYLOAD = json.dumps(
    [
        {"order_id": "PO-SECRET-4711", "customer": "Ada Lovelace <ada@example.com>", "qty": 3},
        {"order_id": "PO-SECRET-4711", "note": 'fragile & "urgent"'},
    ]
)
DIGEST = hashlib.sha256(PAYLOAD.encode()).hexdigest()
MARKER = re.compile(r"<sensitive: (\d+) characters, sha256 ([0-9a-f]+)…>")


def event_params(data: str = PAYLOAD) -> dict:
    return {
        "instanceId": INSTANCE,
        "eventType": "scn.data.inboundorder",
        "data": data,
        "eventGroupId": "group-17",
        "eventTimestamp": "2026-01-31T14:30:00+00:00",
    }


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Signing in with the production hasher's million rounds would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def assert_no_payload(html: str) -> None:
    text = unescape(html)
    for secret in SECRETS:
        assert secret not in html, secret
        assert secret not in text, secret
    assert PAYLOAD not in text
    assert "order_id" not in text


def test_the_detail_page_shows_the_data_only_as_its_size_and_digest(signed_in, operator):
    recorded = make_request(SUPPLY_CHAIN, user=operator, parameters=event_params())

    response = signed_in.get(f"/requests/{recorded.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_payload(html)
    [(size, digest)] = MARKER.findall(unescape(html))
    assert int(size) == len(PAYLOAD)
    assert len(digest) >= 8
    assert DIGEST.startswith(digest)


def test_the_detail_page_still_shows_the_other_parameters(signed_in, operator):
    recorded = make_request(SUPPLY_CHAIN, user=operator, parameters=event_params())

    text = unescape(signed_in.get(f"/requests/{recorded.pk}/").content.decode())

    for shown in (INSTANCE, "scn.data.inboundorder", "group-17", "2026-01-31T14:30:00+00:00", recorded.client_token):
        assert shown in text, shown


def test_the_digest_tells_two_payloads_apart_without_showing_either(signed_in, operator):
    other = PAYLOAD.replace('qty": 3', 'qty": 4')
    first = make_request(SUPPLY_CHAIN, user=operator, parameters=event_params())
    second = make_request(SUPPLY_CHAIN, user=operator, parameters=event_params(other))

    markers = []
    for recorded in (first, second):
        html = signed_in.get(f"/requests/{recorded.pk}/").content.decode()
        assert_no_payload(html)
        markers.append(MARKER.search(unescape(html)).groups())

    assert markers[0][0] == markers[1][0]  # the same size…
    assert markers[0][1] != markers[1][1]  # …but not the same payload


@pytest.mark.parametrize("status", [RequestStatus.QUEUED, RequestStatus.SUCCEEDED, RequestStatus.FAILED])
def test_the_htmx_status_part_of_the_detail_page_never_shows_the_payload(signed_in, operator, status):
    recorded = make_request(
        SUPPLY_CHAIN,
        user=operator,
        parameters=event_params(),
        status=status,
        resource_id="evt-1" if status == RequestStatus.SUCCEEDED else "",
        response={"eventId": "evt-1"} if status == RequestStatus.SUCCEEDED else None,
        error_code="ValidationException" if status == RequestStatus.FAILED else "",
        error_message="The request is not valid." if status == RequestStatus.FAILED else "",
    )

    response = signed_in.get(f"/requests/{recorded.pk}/", headers=HTMX)

    assert "<html" not in response.content.decode()
    assert_no_payload(response.content.decode())


@pytest.mark.parametrize(
    "query", ["", "?operation=supplychain/SendDataIntegrationEvent", "?status=queued"], ids=["all", "op", "status"]
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_the_history_never_shows_the_payload(signed_in, operator, query, headers):
    recorded = make_request(SUPPLY_CHAIN, user=operator, parameters=event_params())

    response = signed_in.get(f"/requests/{query}", headers=headers)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/requests/{recorded.pk}/"' in html  # the request is listed…
    assert_no_payload(html)  # …and its payload is not
    assert not MARKER.search(unescape(html))


def test_a_request_made_through_the_form_is_stored_whole_and_shown_redacted(signed_in):
    form = event_params()

    response = signed_in.post("/operations/supplychain/SendDataIntegrationEvent/", form_post(form))

    recorded = AwsRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{recorded.pk}/"
    # Stored for audit exactly as sent…
    assert recorded.parameters["data"] == PAYLOAD
    # …and shown only as its size and digest.
    html = signed_in.get(response["Location"]).content.decode()
    assert_no_payload(html)
    assert MARKER.search(unescape(html)).group(1) == str(len(PAYLOAD))
    assert_no_payload(signed_in.get("/requests/").content.decode())


def test_someone_who_may_view_sensitive_parameters_sees_the_data_whole_on_the_detail_page_only(client, operator):
    recorded = make_request(SUPPLY_CHAIN, user=operator, parameters=event_params())
    client.force_login(make_user("auditor", groups=("Auditors",)))

    detail = unescape(client.get(f"/requests/{recorded.pk}/").content.decode())

    assert json.dumps(PAYLOAD) in detail  # the parameters are shown as JSON: the data is a JSON string
    assert not MARKER.search(detail)
    history = client.get("/requests/").content.decode()
    assert f'href="/requests/{recorded.pk}/"' in history
    assert_no_payload(history)
