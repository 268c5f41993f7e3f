"""The rate limits' settings (PORTAL_RATE_LIMITS, PORTAL_RATE_LIMIT_DEFAULT,
PORTAL_RATE_INTERACTIVE_RESERVE): read as the settings module reads them, in a process of its own
with only the environment given, so that a value that cannot be meant stops the portal at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RATE_VARIABLES = ("PORTAL_RATE_LIMITS", "PORTAL_RATE_LIMIT_DEFAULT", "PORTAL_RATE_INTERACTIVE_RESERVE")
PRINT_LIMITS = (
    "import json, portal.settings as s; "
    "print(json.dumps([s.PORTAL_RATE_LIMITS, s.PORTAL_RATE_LIMIT_DEFAULT, s.PORTAL_RATE_INTERACTIVE_RESERVE]))"
)


def load(**env: str) -> subprocess.CompletedProcess:
    """``import portal.settings`` in development, with these rate variables and none inherited."""
    inherited = {k: v for k, v in os.environ.items() if k not in RATE_VARIABLES and not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-c", PRINT_LIMITS],
        cwd=ROOT,
        env={**inherited, "PORTAL_ENVIRONMENT": "development", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def limits(**env: str) -> list:
    result = load(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_defaults_limit_supply_chain_and_every_other_service_under_aws_s_quotas():
    per_service, default, reserve = limits()

    assert per_service == {"supplychain": [10.0, 10.0]}
    assert default == [5.0, 5.0]
    assert reserve == 0.2


def test_a_service_s_rate_and_burst_are_given_as_rate_slash_burst_and_zero_turns_a_limit_off():
    per_service, default, _ = limits(
        PORTAL_RATE_LIMITS=" supplychain = 20/40 ,appfabric=0.5, appflow=0", PORTAL_RATE_LIMIT_DEFAULT="3"
    )

    # Without a burst, the bucket holds one second of calls, and at least one call.
    assert per_service == {"supplychain": [20.0, 40.0], "appfabric": [0.5, 1.0], "appflow": [0.0, 1.0]}
    assert default == [3.0, 3.0]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORTAL_RATE_LIMITS", "supplychain", "is not service=RATE[/BURST]"),
        ("PORTAL_RATE_LIMITS", "=5", "is not service=RATE[/BURST]"),
        ("PORTAL_RATE_LIMITS", "supplychain=fast", "is not RATE or RATE/BURST"),
        ("PORTAL_RATE_LIMITS", "supplychain=5/many", "is not RATE or RATE/BURST"),
        ("PORTAL_RATE_LIMITS", "supplychain=-1", "the rate must be 0 or more"),
        ("PORTAL_RATE_LIMITS", "supplychain=5/0", "the burst at least 1"),
        ("PORTAL_RATE_LIMITS", "supplychain=nan", "the rate must be 0 or more"),
        ("PORTAL_RATE_LIMITS", "supplychain=inf", "the rate must be 0 or more"),
        ("PORTAL_RATE_LIMITS", "supplychain=5/inf", "the burst at least 1"),
        ("PORTAL_RATE_LIMIT_DEFAULT", "five", "PORTAL_RATE_LIMIT_DEFAULT: 'five' is not RATE"),
        ("PORTAL_RATE_LIMIT_DEFAULT", "5/0.5", "the burst at least 1"),
        ("PORTAL_RATE_INTERACTIVE_RESERVE", "1", "PORTAL_RATE_INTERACTIVE_RESERVE must be at least 0 and below 1"),
        ("PORTAL_RATE_INTERACTIVE_RESERVE", "-0.1", "PORTAL_RATE_INTERACTIVE_RESERVE must be at least 0 and below 1"),
    ],
)
def test_a_value_that_cannot_be_meant_stops_the_settings(name, value, message):
    result = load(**{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr, result.stderr
