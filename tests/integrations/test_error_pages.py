"""The error pages: 400, 403 (and the CSRF failure), 404 and 500 in the portal's look, saying what happened
and where to go; the 500 page renders without the database or any context processor."""

from __future__ import annotations

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import include, path
from django.views import defaults

from tests.factories import PASSWORD, make_operator

STYLESHEET = "/static/portal/portal.css"


@login_not_required
def broken(request: HttpRequest):
    raise RuntimeError("a bug")


# The portal's routes and one that fails, for the 500 page through Django's own handler.
urlpatterns = [path("broken/", broken), path("", include("portal.urls"))]


@pytest.fixture
def operator_client(client, db):
    make_operator("olivia")
    client.login(username="olivia", password=PASSWORD)
    return client


def test_a_non_approver_opening_the_approvals_gets_the_styled_403_with_the_reason(operator_client):
    answer = operator_client.get("/approvals/")

    assert answer.status_code == 403
    html = answer.content.decode()
    assert STYLESHEET in html
    assert "You may not open this page" in html
    assert "You may not approve requests." in html
    assert "Sign out olivia" in html  # the page has the portal's top bar, for the signed-in person
    assert 'href="/operations/"' in html


def test_a_missing_page_is_the_styled_404_naming_the_address_escaped(operator_client):
    answer = operator_client.get("/no-such-page/<script>/")

    assert answer.status_code == 404
    html = answer.content.decode()
    assert STYLESHEET in html
    assert "There is no such page" in html
    assert "/no-such-page/%3Cscript%3E/" in html
    assert "<script>/" not in html


def test_a_form_posted_without_its_csrf_cookie_gets_the_styled_csrf_page(db):
    answer = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})

    assert answer.status_code == 403
    html = answer.content.decode()
    assert STYLESHEET in html
    assert "Your form could not be checked, so nothing was done" in html
    assert "reload the page, and send the form again" in html
    assert "CSRF cookie not set" not in html  # Django's reason is for developers


def test_a_request_for_another_host_gets_the_styled_400(db):
    answer = Client().get("/", HTTP_HOST="portal.evil.example")

    assert answer.status_code == 400
    html = answer.content.decode()
    assert STYLESHEET in html
    assert "The portal could not read what was sent" in html


@pytest.mark.urls(__name__)
def test_an_unexpected_error_gets_the_styled_500(db):
    answer = Client(raise_request_exception=False).get("/broken/")

    assert answer.status_code == 500
    html = answer.content.decode()
    assert STYLESHEET in html
    assert "Something went wrong on the portal's side" in html
    assert "a bug" not in html


def test_the_500_page_needs_neither_the_database_nor_a_context_processor(settings):
    """No ``db`` fixture: pytest-django refuses any query here, so a template that made one would fail."""
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"], "context_processors": ["no.such.module"]},
        }
    ]
    answer = defaults.server_error(RequestFactory().get("/"))

    assert answer.status_code == 500
    assert "Something went wrong on the portal's side" in answer.content.decode()
