"""AppFabric CreateIngestion: an ingestion of one application's audit log into an app bundle.

Summarised in docs/aws-operations.md.
"""

from operations import FieldHint, Operation, Picker, ReadBack, register

# The model types `app` as free text; the documentation lists the applications AppFabric supports.
APPFABRIC_APPS = ("SLACK", "ASANA", "JIRA", "M365", "M365AUDITLOGS", "ZOOM", "ZENDESK", "OKTA", "GOOGLE",
                  "DROPBOX", "SMARTSHEET", "CISCO")  # fmt: skip
# Each application in words, for the form's dropdown ("Microsoft 365 audit logs (M365AUDITLOGS)").
APPFABRIC_APP_NAMES = {
    "SLACK": "Slack",
    "ASANA": "Asana",
    "JIRA": "Jira",
    "M365": "Microsoft 365",
    "M365AUDITLOGS": "Microsoft 365 audit logs",
    "ZOOM": "Zoom",
    "ZENDESK": "Zendesk",
    "OKTA": "Okta",
    "GOOGLE": "Google Workspace",
    "DROPBOX": "Dropbox",
    "SMARTSHEET": "Smartsheet",
    "CISCO": "Cisco",
}
BUNDLE_WORDS = "an app bundle ARN (arn:…) or a UUID in lower-case hex (8-4-4-4-12)"

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
            "app": FieldHint(
                label="Application",
                help="The application whose audit log is ingested.",
                choices=tuple((app, APPFABRIC_APP_NAMES[app]) for app in APPFABRIC_APPS),
            ),
            "appBundleIdentifier": FieldHint(
                label="App bundle",
                help="The ARN or UUID of the app bundle to use for the request.",
                words=BUNDLE_WORDS,
            ),
            "ingestionType": FieldHint(
                label="Ingestion type", help="What is ingested.", choices=(("auditLog", "Audit log"),)
            ),
            "tenantId": FieldHint(label="Tenant ID", help="The ID of the application tenant."),
            "tags": FieldHint(label="Tags", help="Key-value pairs to assign to the ingestion.", item_label="Tag"),
            "tags.key": FieldHint(label="Key"),
            "tags.value": FieldHint(label="Value"),
        },
        words={"arn:.+$|^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}": BUNDLE_WORDS},
        pickers={"appBundleIdentifier": Picker("appfabric/ListAppBundles", value="arn", noun="app bundles")},
        read_back=ReadBack(
            "appfabric/GetIngestion",
            lambda params, response: {
                "appBundleIdentifier": params["appBundleIdentifier"],
                "ingestionIdentifier": response["ingestion"]["arn"],
            },
            fields={
                "state": ("ingestion", "state"),
                "app": ("ingestion", "app"),
                "tenantId": ("ingestion", "tenantId"),
                "ingestionType": ("ingestion", "ingestionType"),
            },
            state="state",
        ),
        resource_name=lambda params, response: f"{params['app']} {params['tenantId']}",
        error_help={
            "IdempotentParameterMismatch": "The client token was already used with different parameters.",
        },
    )
)
