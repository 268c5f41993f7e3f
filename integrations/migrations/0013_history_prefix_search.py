"""The indexes the history's search by prefix needs, added without locking a large table.

``LIKE 'prefix%'`` is answered by a B-tree only in the "C" collation or with a pattern operator
class (``varchar_pattern_ops``), which also answers the exact search. Built CONCURRENTLY on
PostgreSQL (integrations/migration_operations.py), hence ``atomic = False``; other databases ignore
the operator class.
"""

from django.db import migrations, models

from integrations.migration_operations import AddIndexWithoutLocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("integrations", "0012_notifications_presets_cancel"),
    ]

    operations = [
        AddIndexWithoutLocking(
            model_name="awsrequest",
            index=models.Index(
                fields=["resource_id"], name="awsrequest_resource_id_like", opclasses=["varchar_pattern_ops"]
            ),
        ),
        AddIndexWithoutLocking(
            model_name="awsrequest",
            index=models.Index(
                fields=["client_token"], name="awsrequest_client_token_like", opclasses=["varchar_pattern_ops"]
            ),
        ),
        AddIndexWithoutLocking(
            model_name="attempt",
            index=models.Index(
                fields=["aws_request_id"], name="attempt_aws_request_id_like", opclasses=["varchar_pattern_ops"]
            ),
        ),
    ]
