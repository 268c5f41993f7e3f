"""AppFlow RegisterConnector: a custom connector backed by a Lambda function in the account.

Summarised in docs/aws-operations.md.
"""

import datetime as dt
from typing import Any

from awsmodel.constraints import Violation
from operations import FieldHint, Operation, Picker, ReadBack, register


def rules(params: dict[str, Any]) -> list[Violation]:
    """LAMBDA connectors need their function's ARN (the model makes the whole config optional)."""
    config = params.get("connectorProvisioningConfig") or {}
    if params.get("connectorProvisioningType") == "LAMBDA" and not (config.get("lambda") or {}).get("lambdaArn"):
        return [
            Violation(
                ("connectorProvisioningConfig", "lambda", "lambdaArn"),
                "rule",
                "is required when connectorProvisioningType is LAMBDA",
            )
        ]
    return []


def _label(params: dict[str, Any], response: dict[str, Any]) -> str:
    """The connector's label: as asked for, or (left empty) the one AWS chose, at the end of its ARN."""
    return str(params.get("connectorLabel") or response["connectorArn"].rsplit("/", 1)[-1])


register(
    Operation(
        service="appflow",
        name="RegisterConnector",
        title="AppFlow: register a custom connector",
        summary="Registers a custom connector, backed by a Lambda function already deployed in the account.",
        result_path=("connectorArn",),
        console_url="https://{region}.console.aws.amazon.com/appflow/home?region={region}#/connectors",
        docs_url="https://docs.aws.amazon.com/appflow/1.0/APIReference/API_RegisterConnector.html",
        # "The token is active for 8 hours."
        token_lifetime=dt.timedelta(hours=8),
        pickers={
            "connectorProvisioningConfig.lambda.lambdaArn": Picker(
                "lambda/ListFunctions", value="FunctionArn", label="FunctionName", noun="Lambda functions"
            )
        },
        read_back=ReadBack(
            "appflow/DescribeConnector",
            lambda params, response: {"connectorType": "CustomConnector", "connectorLabel": _label(params, response)},
            fields={
                "connectorLabel": ("connectorConfiguration", "connectorLabel"),
                "connectorDescription": ("connectorConfiguration", "connectorDescription"),
                "connectorProvisioningType": ("connectorConfiguration", "connectorProvisioningType"),
                "lambdaArn": ("connectorConfiguration", "connectorProvisioningConfig", "lambda", "lambdaArn"),
            },
        ),
        unique_members=("connectorLabel",),
        resource_name=lambda params, response: _label(params, response),
        hints={
            "connectorLabel": FieldHint(
                label="Connector label", help="The connector's name, unique among the account's registrations."
            ),
            "description": FieldHint(label="Description", widget="textarea"),
            "connectorProvisioningType": FieldHint(
                label="Provisioning type",
                help="What runs the connector: a Lambda function, the only type AppFlow offers.",
                choices=(("LAMBDA", "Lambda function"),),
            ),
            "connectorProvisioningConfig": FieldHint(
                label="Provisioning configuration",
                help="The Lambda function registered as the connector.",
                shown_when=("connectorProvisioningType", "LAMBDA"),
            ),
            "connectorProvisioningConfig.lambda": FieldHint(label="Lambda", help="The function AppFlow calls."),
            "connectorProvisioningConfig.lambda.lambdaArn": FieldHint(
                label="Lambda function ARN",
                help="The ARN of the Lambda function behind the connector; required for LAMBDA.",
            ),
        },
        words={
            "arn:aws:.*:.*:[0-9]+:.*": "an ARN such as arn:aws:lambda:us-east-1:123456789012:function:NAME",
            "[a-zA-Z0-9][\\w!@#.-]+": "a letter or digit, then letters, digits and _ ! @ # . - (at least 2 characters)",
            "[\\s\\w/!@#+=.-]*": "letters, digits, spaces and _ / ! @ # + = . -",
            "[ -~]+": "printable ASCII characters",
        },
        rules=rules,
    )
)
