"""In production a target's endpoint URL is ignored wherever a client is built, and reported.

The admin form refuses the field in production; these targets get one some other way (created
directly, as a fixture, the shell or a database copied from development would).
"""

from __future__ import annotations

import logging

import pytest

from integrations import aws_clients, lifecycle, pipeline
from integrations.models import AwsTarget
from operations import get_operation
from sandbox.server import running_sandbox
from tests.factories import ingestion_params, make_operator

pytestmark = pytest.mark.django_db

ELSEWHERE = "http://127.0.0.1:9/not-aws"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def nothing_reported_yet(monkeypatch):
    """Each test starts as a fresh process would: no target reported, no client cached."""
    monkeypatch.setattr(aws_clients, "_ignored_endpoints", set())
    monkeypatch.setattr(aws_clients._local, "clients", {}, raising=False)
    # Never ask an instance metadata service for credentials (there is none here).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def production(settings):
    settings.PRODUCTION = True
    settings.AWS_ENDPOINT_URL = None  # AWS itself, as production defaults to
    return settings


def endpoint_target(name: str = "copied-from-development", endpoint_url: str = ELSEWHERE) -> AwsTarget:
    # Created directly: no form, no full_clean(), so production's refusal of the field never ran.
    return AwsTarget.objects.create(name=name, account_id="111122223333", region="eu-west-1", endpoint_url=endpoint_url)


def warnings_about(caplog, target: AwsTarget) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "integrations.aws_clients" and r.levelno == logging.WARNING and repr(target.name) in r.getMessage()
    ]


def test_production_builds_the_client_for_aws_not_for_the_targets_endpoint(production, caplog):
    target = endpoint_target()

    client = aws_clients.get_client("appfabric", target.region, target, "alice")

    assert client.meta.endpoint_url == "https://appfabric.eu-west-1.amazonaws.com"
    [warning] = warnings_about(caplog, target)
    assert f"AWS target 'copied-from-development' (id {target.pk}) names the endpoint URL {ELSEWHERE}" in warning
    assert "ignored in production" in warning


def test_production_uses_its_configured_endpoint_rather_than_the_targets(production, caplog):
    production.AWS_ENDPOINT_URL = "https://vpce-0123.appfabric.eu-west-1.vpce.amazonaws.com"
    target = endpoint_target()

    client = aws_clients.get_client("appfabric", target.region, target, "alice")

    assert client.meta.endpoint_url == "https://vpce-0123.appfabric.eu-west-1.vpce.amazonaws.com"
    assert warnings_about(caplog, target)[0].endswith(
        "its calls go to https://vpce-0123.appfabric.eu-west-1.vpce.amazonaws.com"
    )


def test_the_ignored_endpoint_is_reported_once_per_target(production, caplog):
    first, second = endpoint_target("first"), endpoint_target("second")

    for _ in range(3):
        aws_clients.get_client("appfabric", first.region, first, "alice")
        aws_clients.get_client("appflow", first.region, first, "bob")
        aws_clients.get_client("appfabric", second.region, second, "alice")

    assert len(warnings_about(caplog, first)) == 1
    assert len(warnings_about(caplog, second)) == 1


def test_a_target_without_an_endpoint_is_not_reported(production, caplog):
    target = endpoint_target("plain", endpoint_url="")

    client = aws_clients.get_client("appfabric", target.region, target, "alice")

    assert client.meta.endpoint_url == "https://appfabric.eu-west-1.amazonaws.com"
    assert warnings_about(caplog, target) == []


def test_development_still_sends_a_targets_calls_to_its_endpoint(settings, caplog):
    settings.PRODUCTION = False
    target = endpoint_target()

    client = aws_clients.get_client("appfabric", target.region, target, "alice")

    assert client.meta.endpoint_url == ELSEWHERE
    assert warnings_about(caplog, target) == []


def test_a_call_made_in_production_goes_to_the_portals_endpoint_not_the_targets(settings, sandbox, caplog):
    """The whole way, through the worker's code: the default endpoint gets the call, the other none."""
    with running_sandbox() as elsewhere:
        settings.PRODUCTION = True
        settings.AWS_ENDPOINT_URL = sandbox.url  # where production was told its calls go
        target = endpoint_target("local-endpoint", endpoint_url=elsewhere.url)
        request = lifecycle.record(
            get_operation("appfabric/CreateIngestion"), ingestion_params(), make_operator("alice"), target
        )

        assert pipeline.execute(request.pk) == "succeeded"

        assert list(elsewhere.state.calls) == []
    [call] = sandbox.state.calls
    assert call["client_token"] == request.client_token
    assert len(warnings_about(caplog, target)) == 1


def test_roles_are_never_assumed_at_a_targets_endpoint(production, monkeypatch):
    """The STS client is built for settings.AWS_STS_ENDPOINT_URL (AWS's own by default), in any environment."""
    built: list[dict] = []

    class Session:
        def client(self, service, **kwargs):
            built.append({"service": service, **kwargs})
            raise RuntimeError("stop before calling STS")

    monkeypatch.setattr(aws_clients.boto3.session, "Session", Session)
    monkeypatch.setattr(aws_clients, "_assumed", {})
    production.AWS_STS_ENDPOINT_URL = None
    target = endpoint_target()
    target.role_arn = "arn:aws:iam::111122223333:role/portal"

    with pytest.raises(RuntimeError, match="stop before calling STS"):
        aws_clients.get_client("appfabric", target.region, target, "alice")

    [sts] = built
    assert (sts["service"], sts["endpoint_url"]) == ("sts", None)
