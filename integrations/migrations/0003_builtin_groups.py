"""The built-in groups; their permissions are granted after every migrate (see permissions.py)."""

from django.db import migrations

GROUPS = ("Operators", "Auditors", "Approvers", "Administrators")


def create_groups(apps, schema_editor):
    group = apps.get_model("auth", "Group")
    for name in GROUPS:
        group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_targets_approvals_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
