from django.conf import settings
from django.db import migrations


def create_nightly_refresh(apps, schema_editor):
    # Beat recomputes the stored findings at 00:05 every day, so that date-dependent rules
    # (retirement dates, waiver expiry) are right on the new day without a page recomputing them.
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="5",
        hour="0",
        day_of_month="*",
        month_of_year="*",
        day_of_week="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name="advisor: findings refresh",
        defaults={"task": "advisor.findings.tasks.findings_refresh_task", "crontab": nightly},
    )


def remove_nightly_refresh(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="advisor: findings refresh").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_nightly_refresh, remove_nightly_refresh)]
