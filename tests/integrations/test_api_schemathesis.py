"""Schemathesis against the OpenAPI document the portal serves: no generated call is a server error.

The document is fetched from /api/schema/ and the calls go through the WSGI application in this
process, with an operator's token, inside the test's database transaction. Each operation's cases
come from its Hypothesis strategy (``APIOperation.as_strategy``); schemathesis' lazy pytest loader
(``schemathesis.pytest.from_fixture``) does not run under pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from integrations.api.tokens import create_token
from integrations.models import AwsRequest
from operations import all_operations
from tests.factories import make_operator, make_request

MAX_EXAMPLES = 25
SUBMIT = "/api/operations/{service}/{name}/requests/"
UPLOAD = "/api/operations/{service}/{name}/batches/"
ENDPOINTS = [
    ("GET", "/api/operations/"),
    ("POST", SUBMIT),
    ("GET", "/api/requests/"),
    ("GET", "/api/requests/{id}/"),
    ("GET", "/api/resources/"),
    ("GET", "/api/operations/{service}/{name}/choices/{member}/"),
    ("POST", "/api/requests/{id}/cancel/"),
    ("POST", UPLOAD),
    ("GET", "/api/batches/"),
    ("GET", "/api/batches/{id}/"),
    ("GET", "/api/batches/{id}/report/"),
    ("GET", "/api/batches/{id}/failures/"),
    ("POST", "/api/batches/{id}/{action}/"),
    ("POST", "/api/requests/{id}/group/{action}/"),
]
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,  # nothing written to .hypothesis/
    # The strategy and its fixtures are made per test on purpose (the served document, the token).
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def keep_the_test_connection():
    """What Django's test client does: a request must not close the connection holding the test's
    transaction (WSGIHandler closes "old" connections when each request starts and finishes)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth(db) -> dict[str, str]:
    operator = make_operator("operator")  # an Operator, with the "sandbox" target
    make_request(user=operator)  # something in the history to list and read
    return {"Authorization": f"Token {create_token(operator).key}"}


@pytest.fixture
def api_schema(keep_the_test_connection, auth):
    """The OpenAPI document as the application serves it (to a signed-in caller)."""
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), headers=auth)


def call_and_check(case, auth: dict[str, str]) -> None:
    response = case.call(headers=dict(auth))
    case.validate_response(response, checks=[not_a_server_error])


def test_the_served_document_describes_these_endpoints(api_schema):
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}

    assert served == set(ENDPOINTS)


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [
        pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
        for method, path in ENDPOINTS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        # The operation list takes no input at all: nothing to make invalid.
        if (path, mode) != ("/api/operations/", GenerationMode.NEGATIVE)
    ],
)
def test_no_generated_call_is_a_server_error(api_schema, auth, method, path, mode):
    @BOUNDED
    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    def run(case):
        call_and_check(case, auth)

    run()


@pytest.mark.parametrize("operation", [op.key for op in all_operations()])
def test_no_generated_submit_to_a_real_operation_is_a_server_error(api_schema, auth, operation):
    """Random paths mostly miss the registry (404): here each real operation, in a usable target
    half the time, so that the bodies reach the parameters' validation."""
    service, name = operation.split("/")
    strategy = api_schema[SUBMIT]["POST"].as_strategy(path_parameters={"service": service, "name": name})

    @BOUNDED
    @given(case=strategy, in_sandbox=st.booleans())
    def run(case, in_sandbox):
        if in_sandbox and isinstance(case.body, dict):
            case.body["target"] = "sandbox"
        call_and_check(case, auth)

    run()
    # Whatever was recorded was recorded as the operator, in the sandbox.
    assert set(AwsRequest.objects.values_list("created_by__username", "target__name").distinct()) == {
        ("operator", "sandbox")
    }


def test_no_generated_upload_of_events_is_a_server_error(api_schema, auth):
    """As for submits: the operation that takes files, in a usable target half the time, so that the
    generated files reach the reading of their lines."""
    strategy = api_schema[UPLOAD]["POST"].as_strategy(
        path_parameters={"service": "supplychain", "name": "SendDataIntegrationEvent"}
    )

    @BOUNDED
    @given(case=strategy, in_sandbox=st.booleans())
    def run(case, in_sandbox):
        if in_sandbox and isinstance(case.body, dict):
            case.body["target"] = "sandbox"
        call_and_check(case, auth)

    run()
