# A failed run's reason is kept whole: it quotes what the server or the broker said.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0005_scanrun_number_required"),
    ]

    operations = [
        migrations.AlterField(
            model_name="scanrun",
            name="reason",
            field=models.TextField(blank=True),
        ),
    ]
