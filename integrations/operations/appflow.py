"""AppFlow RegisterConnector (../shared/seeds/004_7331414aef2083be.txt)."""

from integrations.operations import FieldHint, Operation, register

register(
    Operation(
        service="appflow",
        name="RegisterConnector",
        title="AppFlow: register a custom connector",
        summary="Registers a custom connector, backed by a Lambda function already deployed in the account.",
        result_path=("connectorArn",),
        console_url="https://{region}.console.aws.amazon.com/appflow/home?region={region}#/connectors",
        docs_url="https://docs.aws.amazon.com/appflow/1.0/APIReference/API_RegisterConnector.html",
        hints={
            "connectorLabel": FieldHint(
                label="Connector label", help="The connector's name, unique among the account's registrations."
            ),
            "description": FieldHint(label="Description", widget="textarea"),
            "connectorProvisioningType": FieldHint(
                label="Provisioning type", help="How the connector is provisioned; LAMBDA is the only type."
            ),
            "connectorProvisioningConfig": FieldHint(label="Provisioning configuration"),
            "connectorProvisioningConfig.lambda": FieldHint(label="Lambda"),
            "connectorProvisioningConfig.lambda.lambdaArn": FieldHint(
                label="Lambda function ARN",
                help="The ARN of the Lambda function behind the connector; required for LAMBDA.",
            ),
        },
    )
)
