from django.db import migrations


def create_housekeeping(apps, schema_editor):
    # Beat runs the housekeeping task every minute: it fails runs whose worker died and prunes history.
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="advisor: scan housekeeping",
        defaults={"task": "advisor.scans.tasks.scan_housekeeping_task", "interval": every_minute},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_housekeeping, migrations.RunPython.noop)]
