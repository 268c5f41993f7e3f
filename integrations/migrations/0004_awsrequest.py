"""The audit record is called AwsRequest (no longer ``Request``, beside Django's and DRF's), and
each operation's run permission is named by its Operation.key: ``run_appfabric/CreateIngestion``."""

import re

from django.db import migrations

DEFAULT_ACTIONS = ("add", "change", "delete", "view")


def _old_run_codename(key: str) -> str:
    # How 0002 to 0003 named run permissions: lower case, "/" and "-" as "_".
    return "run_" + re.sub(r"[/-]", "_", key).lower()


def rename_permissions(apps, schema_editor):
    permission = apps.get_model("auth", "Permission")
    for action in DEFAULT_ACTIONS:
        permission.objects.filter(content_type__app_label="integrations", codename=f"{action}_request").update(
            codename=f"{action}_awsrequest", name=f"Can {action} AWS request"
        )
    from operations import all_operations

    for operation in all_operations():
        permission.objects.filter(
            content_type__app_label="integrations", codename=_old_run_codename(operation.key)
        ).update(codename=f"run_{operation.key}")


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_builtin_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [
        migrations.RenameModel("Request", "AwsRequest"),
        migrations.AlterModelOptions(
            name="awsrequest",
            options={
                "ordering": ("-created_at", "-id"),
                "permissions": [
                    ("view_all_requests", "Can view every user's requests"),
                    ("view_sensitive_parameters", "Can view sensitive parameters (payloads)"),
                    ("export_requests", "Can export the request history"),
                    ("approve_request", "Can approve or reject other users' requests"),
                ],
                "verbose_name": "AWS request",
            },
        ),
        migrations.RenameIndex(
            model_name="awsrequest", new_name="integration_status_4b754f_idx", old_name="integration_status_cbdf5f_idx"
        ),
        migrations.RenameIndex(
            model_name="awsrequest",
            new_name="integration_service_fd34bb_idx",
            old_name="integration_service_3ed284_idx",
        ),
        migrations.RunPython(rename_permissions, migrations.RunPython.noop),
    ]
