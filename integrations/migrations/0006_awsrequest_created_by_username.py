"""A request keeps its author's username as it was when they submitted it.

Existing rows get the name their author has now: the best record there is of it.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_from_the_account(apps, schema_editor):
    AwsRequest = apps.get_model("integrations", "AwsRequest")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    username = User.objects.filter(pk=OuterRef("created_by_id")).values("username")[:1]
    AwsRequest.objects.filter(created_by_username="").update(created_by_username=Subquery(username))


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0005_cancelled_status"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="awsrequest",
            name="created_by_username",
            field=models.CharField(blank=True, editable=False, max_length=150, verbose_name="requested by"),
        ),
        migrations.RunPython(fill_from_the_account, migrations.RunPython.noop, elidable=False),
    ]
