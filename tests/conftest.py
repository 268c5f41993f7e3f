"""Fixtures shared by the whole suite: a real sandbox endpoint and boto3 clients pointed at it."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.config import Config

from sandbox.server import running_sandbox

DUMMY_CREDENTIALS = {"aws_access_key_id": "AKIDSANDBOXTEST", "aws_secret_access_key": "sandbox-secret"}


@pytest.fixture(scope="session")
def sandbox_server():
    with running_sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """The running sandbox, emptied of resources, calls and faults before each test."""
    sandbox_server.state.reset()
    yield sandbox_server
    sandbox_server.state.reset()


@pytest.fixture
def aws_client(sandbox):
    """Build a boto3 client on the sandbox; boto3's own checks off so the server's are tested."""
    import boto3

    def make(service: str, region: str = "us-east-1", endpoint_url: str | None = None, **config):
        settings = {"parameter_validation": False, "retries": {"total_max_attempts": 1, "mode": "standard"}}
        settings.update(config)
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url or sandbox.url,
            config=Config(**settings),
            **DUMMY_CREDENTIALS,
        )

    return make


def pytest_sessionstart(session):
    # A test run killed midway leaves its SQLite test database (and -wal, -shm files) behind;
    # remove those of runs that are no longer alive.
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    for leftover in var_dir.glob("test-db-*.sqlite3*"):
        pid = leftover.name.split("-")[2].split(".")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            leftover.unlink(missing_ok=True)
