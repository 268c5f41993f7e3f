"""Fixtures shared by the whole suite: a real sandbox endpoint and boto3 clients pointed at it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, ModuleType

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


# --- slow tests: decided here, once, rather than in each test file ---------------------------------
# A test is slow when it needs another process or a browser: `make test-fast` (`-m "not slow"`)
# leaves those out and runs only what happens in this process.

# Fixtures that start a process or a browser (the fixtures that depend on them follow, since
# ``item.fixturenames`` is the whole closure): portal_env is where every process fixture starts.
SLOW_FIXTURES = frozenset(
    {
        "portal_env",  # tests.integrations.conftest: the environment of worker, beat and web processes
        "worker",  # a real Celery worker process
        "running_worker",
        "browser",  # tests.browser.conftest: headless Chromium
        "page",
        "sandbox_process",  # tests/sandbox/test_command.py: `manage.py aws_sandbox` as a process
        "aws_cli",  # tests/sandbox/test_cli.py: the AWS CLI as a process
    }
)
# Names that, used by a test or by a helper of its module, mean it starts processes itself.
PROCESS_NAMES = frozenset({"subprocess", "processes"})  # the standard module, tests.processes


def _code_objects(code: CodeType) -> Iterator[CodeType]:
    """A function's code and the code of the functions and lambdas defined inside it."""
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_objects(const)


def _starts_processes(function: object, module: ModuleType, seen: set[CodeType]) -> bool:
    """Whether ``function``, or a function of its own module that it calls, uses PROCESS_NAMES."""
    code = getattr(function, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    names = {name for c in _code_objects(code) for name in c.co_names}
    if names & PROCESS_NAMES:
        return True
    helpers = (getattr(module, name, None) for name in names)
    return any(
        _starts_processes(helper, module, seen)
        for helper in helpers
        if inspect.isfunction(helper) and helper.__module__ == module.__name__
    )


def is_slow(item: pytest.Item) -> bool:
    # Parametrized arguments are listed with the fixtures: a `page` parameter is not the browser page.
    callspec = getattr(item, "callspec", None)
    fixtures = set(getattr(item, "fixturenames", ())) - set(callspec.params if callspec else ())
    if item.get_closest_marker("cli") or fixtures & SLOW_FIXTURES:
        return True
    function, module = getattr(item, "function", None), getattr(item, "module", None)
    return module is not None and _starts_processes(function, module, set())


def pytest_collection_modifyitems(config, items):
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session):
    # A test run killed midway leaves its SQLite test database (and -wal, -shm files) behind;
    # remove those of runs that are no longer alive.
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    for leftover in var_dir.glob("test-db-*.sqlite3*"):
        pid = leftover.name.split("-")[2].split(".")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            leftover.unlink(missing_ok=True)
