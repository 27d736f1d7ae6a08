# A separate migration (and transaction) from the data fill: PostgreSQL refuses to alter a table
# with pending trigger events from updates in the same transaction.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken_expires_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
    ]
