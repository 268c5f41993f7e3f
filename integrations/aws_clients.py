"""The one place that builds boto3 clients, with every timeout and retry setting explicit.

A target may name an IAM role: the worker assumes it through STS with a session named after
the portal user (so CloudTrail shows who acted) and reuses the credentials until shortly
before they expire. No credentials are ever stored; the base identity is boto3's own chain.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from django.conf import settings

# Assumed-role credentials are renewed this long before they expire.
RENEW_BEFORE = dt.timedelta(minutes=5)

logger = logging.getLogger(__name__)

_local = threading.local()
_assumed: dict[tuple[str, str, str], dict] = {}
_assumed_lock = threading.Lock()
# Targets whose endpoint URL was ignored in production and already reported, by (pk, endpoint).
_ignored_endpoints: set[tuple[object, str]] = set()
_ignored_endpoints_lock = threading.Lock()


def client_config() -> Config:
    return Config(
        # botocore retries nothing: each send is one attempt the portal records and schedules.
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
        user_agent_extra="integrations-portal",
    )


@functools.cache
def _base_credentials() -> dict:
    """Dummy credentials for the sandbox, only when boto3's chain has none and settings allow."""
    if settings.AWS_SANDBOX_CREDENTIALS and boto3.Session().get_credentials() is None:
        return {"aws_access_key_id": "AKIDPORTALSANDBOX", "aws_secret_access_key": "portal-sandbox"}
    return {}


def role_session_name(username: str) -> str:
    # STS allows 2–64 characters of [\w+=,.@-].
    return ("portal-" + re.sub(r"[^\w+=,.@-]", "-", username))[:64]


def assumed_credentials(role_arn: str, external_id: str, username: str, region: str) -> dict:
    """Credentials of ``role_arn`` for ``username``, from cache while they are fresh enough."""
    key = (role_arn, external_id, role_session_name(username))
    now = dt.datetime.now(dt.UTC)
    with _assumed_lock:
        cached = _assumed.get(key)
        if cached and cached["Expiration"] - RENEW_BEFORE > now:
            return cached
        # Roles are assumed at the configured STS endpoint (AWS's own by default), never at a
        # target's endpoint URL, in any environment.
        sts = boto3.session.Session().client(
            "sts",
            region_name=region,
            endpoint_url=settings.AWS_STS_ENDPOINT_URL,
            config=client_config(),
            **_base_credentials(),
        )
        kwargs = {"RoleArn": role_arn, "RoleSessionName": key[2]}
        if external_id:
            kwargs["ExternalId"] = external_id
        credentials = sts.assume_role(**kwargs)["Credentials"]
        _assumed[key] = credentials
        return credentials


def endpoint_url(target=None) -> str | None:
    """Where a call for ``target`` goes: its own endpoint URL, except in production, or the portal's.

    The admin form refuses an endpoint URL in production, but a row can get one some other way
    (a fixture, the shell, a database copied from development): production ignores it wherever a
    client is built, and says so once per target and process.
    """
    own = target.endpoint_url if target is not None else ""
    if own and settings.PRODUCTION:
        with _ignored_endpoints_lock:
            first = (target.pk, own) not in _ignored_endpoints
            _ignored_endpoints.add((target.pk, own))
        if first:
            logger.warning(
                "AWS target %r (id %s) names the endpoint URL %s; ignored in production, its calls go to %s",
                target.name,
                target.pk,
                own,
                settings.AWS_ENDPOINT_URL or "AWS",
            )
        own = ""
    return own or settings.AWS_ENDPOINT_URL


def get_client(
    service: str, region: str, target=None, username: str = "", *, timeouts: tuple[float, float] | None = None
) -> BaseClient:
    """A client for one call, built once per worker thread and kept while its credentials hold.

    Building a client costs milliseconds of CPU (botocore loads and resolves the service model),
    so it is kept per (service, region, endpoint, identity, timeouts); an identity whose assumed-role
    credentials were renewed gets a new client in place of the old one, so the cache never grows
    past one client per identity however long the process lives. ``timeouts`` (connect, read)
    replace the worker's, for calls made while a person waits (the pickers' List calls).
    """
    endpoint = endpoint_url(target)
    if target is not None and target.role_arn:
        creds = assumed_credentials(target.role_arn, target.external_id, username, region)
        identity = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        who: tuple[str, ...] = (target.role_arn, target.external_id, role_session_name(username))
    else:
        identity = _base_credentials()
        who = ()
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    key = (service, region, endpoint, who, timeouts)
    credentials = (identity.get("aws_access_key_id"), identity.get("aws_session_token"))
    kept = cache.get(key)
    if kept is None or kept[0] != credentials:
        config = client_config()
        if timeouts is not None:
            config = config.merge(Config(connect_timeout=timeouts[0], read_timeout=timeouts[1]))
        # boto3-stubs type a client per literal service name; ours come from the operation registry.
        session: Any = boto3.session.Session()
        client = session.client(service, region_name=region, endpoint_url=endpoint, config=config, **identity)
        kept = cache[key] = (credentials, client)
    return kept[1]


@dataclass(frozen=True)
class CredentialCheck:
    """Who the portal is to AWS, and who a target's calls act as: ARNs and accounts, no secrets."""

    base_arn: str
    # The assumed role's session when the target names a role, else the base identity.
    acting_arn: str
    account_id: str


def check_credentials(target, timeout: float = 5.0) -> CredentialCheck:
    """Ask STS who the portal is (GetCallerIdentity), then assume the target's role if it has one.

    For ``manage.py preflight``: the same credentials and STS endpoint as the worker's calls, with
    ``timeout`` on every send and no retries, so a dead endpoint answers in seconds. The role is
    assumed under its own session name and never cached: a check must not hand its credentials to
    a later call. Raises botocore's errors (no credentials, refused, unreachable) for the caller
    to report.
    """
    config = client_config().merge(Config(connect_timeout=timeout, read_timeout=timeout))
    sts = boto3.session.Session().client(
        "sts",
        region_name=target.region,
        endpoint_url=settings.AWS_STS_ENDPOINT_URL,
        config=config,
        **_base_credentials(),
    )
    base_arn = sts.get_caller_identity()["Arn"]
    if not target.role_arn:
        return CredentialCheck(base_arn, base_arn, _account_of(base_arn))
    kwargs = {"RoleArn": target.role_arn, "RoleSessionName": role_session_name("preflight")}
    if target.external_id:
        kwargs["ExternalId"] = target.external_id
    acting_arn = sts.assume_role(**kwargs)["AssumedRoleUser"]["Arn"]
    return CredentialCheck(base_arn, acting_arn, _account_of(acting_arn))


def _account_of(arn: str) -> str:
    # arn:partition:service:region:account:resource
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""
