"""``manage.py aws_sandbox`` serves the sandbox as its own process, and never in production."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.sandbox.support import ACCOUNT, REGION, REGISTER_CONNECTOR, valid_params

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_S = 30


def _environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DJANGO_", "AWS_"))}
    # Development unless a test says otherwise: the settings are production ones by default.
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_ENVIRONMENT="development", PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "manage.py"), "aws_sandbox", *args]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


@pytest.fixture
def sandbox_process():
    """Start ``manage.py aws_sandbox`` on a free port; yields its URL once it answers, stops it after."""
    port = _free_port()
    env = _environment()
    process = subprocess.Popen(
        _manage("--port", str(port)),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"aws_sandbox exited with {process.returncode}: {process.stderr.read()}")
            try:
                _get_json(f"{url}/_sandbox/health")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"aws_sandbox did not answer on {url} within {STARTUP_DEADLINE_S} s")
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(ValueError):
            process.stdout.close()
            process.stderr.close()


def test_the_command_serves_the_sandbox_until_stopped(sandbox_process, aws_client):
    url, process = sandbox_process

    health = _get_json(f"{url}/_sandbox/health")
    response = aws_client("appflow", region=REGION, endpoint_url=url).register_connector(
        **valid_params(REGISTER_CONNECTOR, connectorLabel="from-the-command")
    )

    assert health["status"] == "ok"
    assert len(health["operations"]) == 5
    assert "lambda/ListFunctions" in health["reads"]
    assert response["connectorArn"] == f"arn:aws:appflow:{REGION}:{ACCOUNT}:connector/from-the-command"
    [resource] = _get_json(f"{url}/_sandbox/resources")["resources"]
    assert resource["id"] == response["connectorArn"]
    process.terminate()
    process.wait(timeout=10)
    assert f"AWS sandbox on {url} (5 operations, 13 reads)" in process.stdout.read()


def test_the_command_is_not_even_installed_in_production():
    env = _environment(
        PORTAL_ENVIRONMENT="production",
        DJANGO_SECRET_KEY="a-production-secret",
        # Production names its database and broker; never reached here (the command is refused first).
        DATABASE_URL="postgres://portal@db.internal/portal",
        CELERY_BROKER_URL="amqp://mq.internal//",
    )

    result = subprocess.run(
        _manage("--port", str(_free_port())),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "Unknown command: 'aws_sandbox'" in result.stderr
    assert "AWS sandbox on" not in result.stdout


def test_the_command_refuses_production_settings_even_where_the_app_is_installed(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="it never runs in production"):
        call_command("aws_sandbox", "--port", str(_free_port()))


def test_the_command_says_when_its_port_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _environment()

        result = subprocess.run(
            _manage("--port", str(port)),
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
