"""The unmodified AWS CLI, pointed at the sandbox with --endpoint-url, works as against AWS."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.sandbox.support import (
    ACCOUNT,
    BUNDLE_ID,
    CREATE_DATA_INTEGRATION,
    CREATE_INGESTION,
    CREATE_SNAPSHOT_JOB,
    INSTANCE_ID,
    LAMBDA_ARN,
    REGION,
    REGISTER_CONNECTOR,
    SEND_EVENT,
    UUID_PATTERN,
    calls,
    resources,
)

pytestmark = pytest.mark.cli


@pytest.fixture
def aws_cli(sandbox, tmp_path):
    """Run ``aws <args>`` against the sandbox with dummy credentials and no user configuration."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIDSANDBOXTEST",
        "AWS_SECRET_ACCESS_KEY": "sandbox-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "missing" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "missing" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONUTF8": "1",  # the CLI prints the server's en dashes and Unicode tags
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "awscli", *args]
        command += ["--endpoint-url", sandbox.url, "--region", REGION, "--output", "json"]
        return subprocess.run(command, env=env, capture_output=True, encoding="utf-8", timeout=60, check=False)

    return run


VALID_COMMANDS = [
    pytest.param(
        CREATE_INGESTION,
        shlex.split(
            f"appfabric create-ingestion --app-bundle-identifier {BUNDLE_ID} --app OKTA"
            " --tenant-id okta-tenant-1 --ingestion-type auditLog"
        ),
        lambda out: out["ingestion"]["arn"],
        rf"arn:aws:appfabric:{REGION}:{ACCOUNT}:appbundle/{BUNDLE_ID}/ingestion/{UUID_PATTERN}",
        id="appfabric",
    ),
    pytest.param(
        SEND_EVENT,
        shlex.split(
            f"supplychain send-data-integration-event --instance-id {INSTANCE_ID} --event-type scn.data.inboundorder"
            """ --data '[{"order_id": "PO-1"}]' --event-group-id orders"""
        ),
        lambda out: out["eventId"],
        UUID_PATTERN,
        id="supplychain",
    ),
    pytest.param(
        CREATE_DATA_INTEGRATION,
        shlex.split(
            "appintegrations create-data-integration --name erp-orders --kms-key alias/integrations"
            " --source-uri s3://erp-exports/orders"
        ),
        lambda out: out["Arn"],
        rf"arn:aws:app-integrations:{REGION}:{ACCOUNT}:data-integration/{UUID_PATTERN}",
        id="appintegrations",
    ),
    pytest.param(
        CREATE_SNAPSHOT_JOB,
        shlex.split(
            "partnercentral-selling create-resource-snapshot-job --catalog Sandbox"
            " --engagement-identifier eng-a1b2c3d4e5f6g7 --resource-type Opportunity --resource-identifier O1234567"
            " --resource-snapshot-template-identifier OpportunitySummary --tags 'Key=héllo wörld,Value=ünïcode'"
        ),
        lambda out: out["Arn"],
        rf"arn:aws:partnercentral:{REGION}:{ACCOUNT}:catalog/Sandbox/resource-snapshot-job/job-[0-9a-z]{{13}}",
        id="partnercentral-selling",
    ),
    pytest.param(
        REGISTER_CONNECTOR,
        shlex.split(
            "appflow register-connector --connector-label erp-orders --connector-provisioning-type LAMBDA"
            f" --connector-provisioning-config lambda={{lambdaArn={LAMBDA_ARN}}}"
        ),
        lambda out: out["connectorArn"],
        rf"arn:aws:appflow:{REGION}:{ACCOUNT}:connector/erp-orders",
        id="appflow",
    ),
]


@pytest.mark.parametrize(("operation", "args", "identifier", "pattern"), VALID_COMMANDS)
def test_the_cli_makes_a_valid_call(sandbox, aws_cli, operation, args, identifier, pattern):
    result = aws_cli(*args)

    assert result.returncode == 0, result.stderr
    created = identifier(json.loads(result.stdout))
    assert re.fullmatch(pattern, created)
    [resource] = resources(sandbox)
    assert (resource["operation"], resource["id"], resource["region"]) == (operation.key, created, REGION)
    # The CLI, like boto3, fills in a client token of its own.
    assert resource["client_token"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(
            shlex.split("appintegrations create-data-integration --name 'erp orders' --kms-key alias/k"),
            "InvalidRequestException",
            "Name must match the pattern",
            id="pattern",
        ),
        pytest.param(
            shlex.split(
                f"appfabric create-ingestion --app-bundle-identifier {BUNDLE_ID} --app {'x' * 256}"
                " --tenant-id t --ingestion-type auditLog"
            ),
            "ValidationException",
            "app must have 1–255 characters",
            id="max-length",
        ),
        pytest.param(
            shlex.split(
                "partnercentral-selling create-resource-snapshot-job --catalog Sandbox"
                " --engagement-identifier eng-a1b2c3d4e5f6g7 --resource-type Opportunity --resource-identifier O1"
                " --resource-snapshot-template-identifier Summary1 --tags Key=bad!,Value=v"
            ),
            "ValidationException",
            "Tags[0].Key must match the pattern",
            id="unicode-tag-pattern",
        ),
    ],
)
def test_the_cli_reports_what_the_service_refuses(sandbox, aws_cli, args, code, message):
    # Each of these passes the CLI's own checks (types, required, minimum lengths): only the server refuses it.
    result = aws_cli(*args)

    assert result.returncode != 0
    assert f"An error occurred ({code})" in result.stderr
    assert message in result.stderr
    assert resources(sandbox) == []
    assert [c["outcome"] for c in calls(sandbox)] == [code]
