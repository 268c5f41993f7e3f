"""The indexes the history's filters and search need, added without locking a large table.

On PostgreSQL each index is built CONCURRENTLY (integrations/migration_operations.py says why and
what to do if a build fails), hence ``atomic = False``.
"""

from django.db import migrations, models

from integrations.migration_operations import AddIndexWithoutLocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("integrations", "0008_pipeline_audit_heartbeats"),
    ]

    operations = [
        AddIndexWithoutLocking(
            model_name="awsrequest",
            index=models.Index(fields=["created_by", "created_at"], name="awsrequest_user_created_idx"),
        ),
        AddIndexWithoutLocking(
            model_name="awsrequest",
            index=models.Index(fields=["target", "created_at"], name="awsrequest_target_created_idx"),
        ),
        AddIndexWithoutLocking(
            model_name="awsrequest",
            index=models.Index(fields=["resource_id"], name="awsrequest_resource_id_idx"),
        ),
        AddIndexWithoutLocking(
            model_name="attempt",
            index=models.Index(fields=["aws_request_id"], name="attempt_aws_request_id_idx"),
        ),
    ]
