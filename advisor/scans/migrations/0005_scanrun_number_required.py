# A migration of its own after the data one: PostgreSQL alters a table in a transaction that
# updated its rows only when no trigger events are pending.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0004_scanrun_number"),
    ]

    operations = [
        migrations.AlterField(
            model_name="scanrun",
            name="number",
            field=models.PositiveIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="scanrun",
            constraint=models.UniqueConstraint(
                fields=("instance", "number"), name="one_number_per_instance_scan_run"
            ),
        ),
    ]
