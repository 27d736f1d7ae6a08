"""Per-instance run numbers: the field, then every existing run numbered in the order it was queued."""

from django.db import migrations, models

_BATCH = 1000


def number_existing_runs(apps, schema_editor):
    ScanRun = apps.get_model("scans", "ScanRun")
    runs = ScanRun.objects.order_by("instance_id", "created_at", "pk").values_list("pk", "instance_id")
    batch, instance_id, number = [], None, 0
    for pk, owner in runs.iterator(chunk_size=_BATCH):
        number = number + 1 if owner == instance_id else 1
        instance_id = owner
        batch.append(ScanRun(pk=pk, number=number))
        if len(batch) == _BATCH:
            ScanRun.objects.bulk_update(batch, ["number"])
            batch = []
    if batch:
        ScanRun.objects.bulk_update(batch, ["number"])


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0003_scanrun_owner"),
    ]

    operations = [
        migrations.AddField(
            model_name="scanrun",
            name="number",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.RunPython(number_existing_runs, migrations.RunPython.noop),
    ]
