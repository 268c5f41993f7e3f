"""Partner Central Selling CreateResourceSnapshotJob (../shared/seeds/003_3aa18b1d6c0e2364.txt)."""

from integrations.operations import FieldHint, Operation, register
from integrations.rules import PARTNER_CENTRAL_CATALOGS

register(
    Operation(
        service="partnercentral-selling",
        name="CreateResourceSnapshotJob",
        title="Partner Central: create a resource snapshot job",
        summary="Starts a job that snapshots a resource (an opportunity) within an engagement.",
        result_path=("Arn",),
        docs_url=("https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateResourceSnapshotJob.html"),
        hints={
            "Catalog": FieldHint(
                label="Catalog",
                help="The catalog to create the snapshot job in: AWS, or Sandbox for testing.",
                choices=PARTNER_CENTRAL_CATALOGS,
            ),
            "EngagementIdentifier": FieldHint(label="Engagement ID"),
            "ResourceType": FieldHint(label="Resource type"),
            "ResourceIdentifier": FieldHint(label="Resource ID", help="The identifier of the resource to snapshot."),
            "ResourceSnapshotTemplateIdentifier": FieldHint(
                label="Snapshot template", help="The name of the template that defines the snapshot's schema."
            ),
            "Tags": FieldHint(label="Tags", help="Key-value pairs to assign to the job."),
        },
    )
)
