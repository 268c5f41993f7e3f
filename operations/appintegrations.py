"""AppIntegrations CreateDataIntegration: where data is pulled from, what is pulled, and how often.

Summarised in docs/aws-operations.md.
"""

import datetime as dt
from typing import Any

from awsmodel.constraints import Violation
from operations import FieldHint, Operation, Picker, ReadBack, register


def _is_epoch_millis_or_iso(text: str) -> bool:
    if text.isdigit():
        return True
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def rules(params: dict[str, Any]) -> list[Violation]:
    """FirstExecutionFrom is a Unix timestamp in milliseconds or an ISO-8601 date (the model says string)."""
    first = (params.get("ScheduleConfig") or {}).get("FirstExecutionFrom")
    if isinstance(first, str) and first.strip() and not _is_epoch_millis_or_iso(first.strip()):
        return [
            Violation(
                ("ScheduleConfig", "FirstExecutionFrom"),
                "rule",
                "must be a Unix timestamp in milliseconds or an ISO-8601 date and time",
            )
        ]
    return []


def _has_key(alias: dict[str, Any]) -> bool:
    """An alias AWS reserves (alias/aws/…) has no key until a service first uses it: nothing to encrypt with."""
    return bool(alias.get("TargetKeyId"))


register(
    Operation(
        service="appintegrations",
        name="CreateDataIntegration",
        title="AppIntegrations: create a data integration",
        summary="Creates a DataIntegration: where data is pulled from, what is pulled, and how often.",
        result_path=("Arn",),
        console_url="https://{region}.console.aws.amazon.com/connect/v2/app-integrations?region={region}",
        docs_url="https://docs.aws.amazon.com/appintegrations/latest/APIReference/API_CreateDataIntegration.html",
        pickers={
            "KmsKey": Picker("kms/ListAliases", value="AliasName", label="TargetKeyId", keep=_has_key, noun="KMS keys")
        },
        read_back=ReadBack(
            "appintegrations/GetDataIntegration",
            lambda params, response: {"Identifier": response["Arn"]},
            fields={
                "Name": ("Name",),
                "Description": ("Description",),
                "KmsKey": ("KmsKey",),
                "SourceURI": ("SourceURI",),
                "ScheduleExpression": ("ScheduleConfiguration", "ScheduleExpression"),
            },
        ),
        unique_members=("Name",),
        resource_name=lambda params, response: params["Name"],
        hints={
            "Name": FieldHint(label="Name", help="The name of the DataIntegration; it must not exist yet."),
            "Description": FieldHint(label="Description", widget="textarea"),
            "KmsKey": FieldHint(label="KMS key", help="The KMS key (ARN, id or alias) that encrypts the data."),
            "SourceURI": FieldHint(label="Source URI", help="The URI of the data source."),
            "ScheduleConfig": FieldHint(label="Schedule", help="Which object to pull, and how often."),
            "ScheduleConfig.FirstExecutionFrom": FieldHint(
                label="First execution from",
                help="The start date for objects to import in the first flow run.",
                words="a Unix timestamp in milliseconds or an ISO-8601 date and time",
            ),
            "ScheduleConfig.Object": FieldHint(label="Object", help="The name of the object to pull."),
            "ScheduleConfig.ScheduleExpression": FieldHint(
                label="Schedule expression", help="How often the data is pulled, e.g. rate(1 hour)."
            ),
            "Tags": FieldHint(
                label="Tags", help="Key-value pairs to assign to the data integration.", item_label="Tag"
            ),
            "Tags.key": FieldHint(label="Key"),
            "Tags.value": FieldHint(label="Value"),
            "FileConfiguration": FieldHint(label="File configuration", help="Which files to pull from the source."),
            "FileConfiguration.Folders": FieldHint(
                label="Folders", help="Source folders to pull all files from, recursively.", item_label="Folder"
            ),
            "FileConfiguration.Filters": FieldHint(
                label="Filters",
                help="Restrictions on the files pulled: a field name and its allowed values.",
                item_label="Filter",
            ),
            "FileConfiguration.Filters.key": FieldHint(label="Field"),
            "FileConfiguration.Filters.value": FieldHint(label="Values", item_label="Value"),
            "ObjectConfiguration": FieldHint(
                label="Object configuration",
                help="What data to pull: for each object, field names and their values.",
                item_label="Object",
            ),
            "ObjectConfiguration.key": FieldHint(label="Object"),
            "ObjectConfiguration.value": FieldHint(label="Fields", item_label="Field"),
            "ObjectConfiguration.value.key": FieldHint(label="Field"),
            "ObjectConfiguration.value.value": FieldHint(label="Values", item_label="Value"),
        },
        words={
            (
                "^((\\w+\\:\\/\\/[\\w.-]+[\\w/!@#+=.-]+)|(\\w+\\:\\/\\/[\\w.-]+[\\w/!@#+=.-]+[\\w/!@#+=.-]+[\\w/!@#+=.,-]+))$"
            ): "a URI such as s3://bucket/prefix or servicenow://instance-name",
        },
        rules=rules,
        error_help={"DuplicateResourceException": "A resource with this name exists already. Choose another name."},
    )
)
