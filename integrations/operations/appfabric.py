"""AppFabric CreateIngestion (../shared/seeds/000_b8354291824823e1.txt)."""

from integrations.operations import FieldHint, Operation, register
from integrations.rules import APPFABRIC_APPS

register(
    Operation(
        service="appfabric",
        name="CreateIngestion",
        title="AppFabric: create an ingestion",
        summary="Creates a data ingestion for an application in an AppFabric app bundle.",
        result_path=("ingestion", "arn"),
        console_url="https://{region}.console.aws.amazon.com/appfabric/home?region={region}#/appbundles",
        docs_url="https://docs.aws.amazon.com/appfabric/latest/api/API_CreateIngestion.html",
        hints={
            "app": FieldHint(label="Application", help="The name of the application.", choices=APPFABRIC_APPS),
            "appBundleIdentifier": FieldHint(
                label="App bundle",
                help="The ARN or UUID of the app bundle to use for the request.",
                words="an app bundle ARN (arn:…) or a UUID in lower-case hex (8-4-4-4-12)",
            ),
            "ingestionType": FieldHint(label="Ingestion type"),
            "tenantId": FieldHint(label="Tenant ID", help="The ID of the application tenant."),
            "tags": FieldHint(label="Tags", help="Key-value pairs to assign to the ingestion."),
        },
    )
)
