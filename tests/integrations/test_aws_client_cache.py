"""boto3 clients are built once per identity and kept, and renewed role credentials replace them."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations import aws_clients
from tests.factories import make_target

ROLE_ARN = "arn:aws:iam::123456789012:role/portal-operator"


@pytest.fixture
def fresh_cache(settings, sandbox, sts_server, monkeypatch):
    settings.AWS_ENDPOINT_URL = sandbox.url
    settings.AWS_STS_ENDPOINT_URL = sts_server
    monkeypatch.setattr(aws_clients, "_assumed", {})
    monkeypatch.setattr(aws_clients._local, "clients", {}, raising=False)
    return aws_clients._local.clients


@pytest.mark.django_db
def test_a_client_is_built_once_per_service_region_and_identity(fresh_cache):
    target = make_target("plain")

    first = aws_clients.get_client("appfabric", target.region, target, "alice")

    assert aws_clients.get_client("appfabric", target.region, target, "bob") is first
    assert aws_clients.get_client("appflow", target.region, target, "alice") is not first
    assert aws_clients.get_client("appfabric", "eu-west-1", target, "alice") is not first
    assert len(fresh_cache) == 3


@pytest.mark.django_db
def test_renewed_role_credentials_replace_the_client_instead_of_adding_one(fresh_cache):
    target = make_target("with-role", region="eu-west-1", role_arn=ROLE_ARN)
    first = aws_clients.get_client("appfabric", target.region, target, "alice")
    assert aws_clients.get_client("appfabric", target.region, target, "alice") is first
    [cached] = aws_clients._assumed.values()

    cached["Expiration"] = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # due for renewal
    renewed = aws_clients.get_client("appfabric", target.region, target, "alice")

    assert renewed is not first
    assert renewed._request_signer._credentials.access_key != first._request_signer._credentials.access_key
    assert len(fresh_cache) == 1
    assert aws_clients.get_client("appfabric", target.region, target, "grace") is not renewed
    assert len(fresh_cache) == 2
