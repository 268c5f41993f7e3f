"""The one place that builds boto3 clients, with every timeout and retry setting explicit."""

from __future__ import annotations

import functools
import threading

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from django.conf import settings

_local = threading.local()


def client_config() -> Config:
    return Config(
        # botocore retries nothing: each send is one attempt the portal records and schedules.
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
        user_agent_extra="integrations-portal",
    )


@functools.cache
def _session_credentials() -> dict:
    """Dummy credentials for the sandbox, only when boto3's chain has none and settings allow."""
    if settings.AWS_SANDBOX_CREDENTIALS and boto3.Session().get_credentials() is None:
        return {"aws_access_key_id": "AKIDPORTALSANDBOX", "aws_secret_access_key": "portal-sandbox"}
    return {}


def get_client(service: str, region: str) -> BaseClient:
    """A client per worker thread, service, region and endpoint (clients are costly to build)."""
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    key = (service, region, settings.AWS_ENDPOINT_URL)
    if key not in cache:
        cache[key] = boto3.session.Session().client(
            service,
            region_name=region,
            endpoint_url=settings.AWS_ENDPOINT_URL,
            config=client_config(),
            **_session_credentials(),
        )
    return cache[key]
