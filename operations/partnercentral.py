"""Partner Central Selling CreateResourceSnapshotJob: a job that snapshots an engagement's resource.

Summarised in docs/aws-operations.md.
"""

from operations import FieldHint, Operation, Picker, ReadBack, register

# The model types Catalog as letters; the documentation names the two catalogs.
PARTNER_CENTRAL_CATALOGS = ("AWS", "Sandbox")
CATALOG_NAMES = {"AWS": "AWS: the production catalog", "Sandbox": "Sandbox: for testing"}

register(
    Operation(
        service="partnercentral-selling",
        name="CreateResourceSnapshotJob",
        title="Partner Central: create a resource snapshot job",
        summary="Starts a job that snapshots a resource (an opportunity) within an engagement.",
        result_path=("Arn",),
        docs_url=("https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateResourceSnapshotJob.html"),
        pickers={
            "EngagementIdentifier": Picker(
                "partnercentral-selling/ListEngagements",
                value="Id",
                label="Title",
                depends_on=("Catalog",),
                params=lambda values: [{"Catalog": values["Catalog"]}],
                noun="engagements",
            ),
            # The opportunities associated with the chosen engagement.
            "ResourceIdentifier": Picker(
                "partnercentral-selling/ListEngagementResourceAssociations",
                value="ResourceId",
                label="ResourceType",
                depends_on=("Catalog", "EngagementIdentifier"),
                params=lambda values: [
                    {
                        "Catalog": values["Catalog"],
                        "EngagementIdentifier": values["EngagementIdentifier"],
                        "ResourceType": "Opportunity",
                    }
                ],
                noun="opportunities",
            ),
        },
        read_back=ReadBack(
            "partnercentral-selling/GetResourceSnapshotJob",
            lambda params, response: {"Catalog": params["Catalog"], "ResourceSnapshotJobIdentifier": response["Id"]},
            fields={
                "Status": ("Status",),
                "EngagementId": ("EngagementId",),
                "ResourceId": ("ResourceId",),
                "ResourceSnapshotTemplateName": ("ResourceSnapshotTemplateName",),
            },
            state="Status",
        ),
        resource_name=lambda params, response: f"{params['EngagementIdentifier']} {params['ResourceIdentifier']}",
        hints={
            "Catalog": FieldHint(
                label="Catalog",
                help="The catalog to create the snapshot job in.",
                choices=tuple((catalog, CATALOG_NAMES[catalog]) for catalog in PARTNER_CENTRAL_CATALOGS),
            ),
            "EngagementIdentifier": FieldHint(label="Engagement ID"),
            "ResourceType": FieldHint(label="Resource type", help="What kind of resource is snapshotted."),
            "ResourceIdentifier": FieldHint(label="Resource ID", help="The identifier of the resource to snapshot."),
            "ResourceSnapshotTemplateIdentifier": FieldHint(
                label="Snapshot template", help="The name of the template that defines the snapshot's schema."
            ),
            "Tags": FieldHint(label="Tags", help="Key-value pairs to assign to the job.", item_label="Tag"),
            "Tags.Key": FieldHint(label="Key"),
            "Tags.Value": FieldHint(label="Value"),
        },
        words={
            "[a-zA-Z]+": "letters only",
            "eng-[0-9a-z]{14}": "eng- and 14 lower-case letters or digits",
            "O[0-9]{1,19}": "O and 1–19 digits (an opportunity id)",
            "[a-zA-Z0-9]{3,80}": "3–80 letters or digits",
            "(?=.{1,128}$)([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)": (
                "1–128 letters (any language), digits, spaces and _ . : / = + - @"
            ),
            "(?=.{0,256}$)([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)": (
                "up to 256 letters (any language), digits, spaces and _ . : / = + - @"
            ),
            ".{1,255}": "1–255 characters on one line",
        },
    )
)
