from django.conf import settings
from django.db import migrations

# The daily notification jobs, each once a day at 07:00 in the advisor's time zone: expiring
# waivers and retiring instances (advisor.notifications.tasks). Each event is told once per
# channel, so a job that runs twice in a day queues nothing new.
DAILY_JOBS = {
    "advisor: notify expiring waivers": "advisor.notifications.tasks.notify_expiring_waivers_task",
    "advisor: notify retiring instances": "advisor.notifications.tasks.notify_retiring_instances_task",
}


def create_daily_jobs(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    seven, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="7",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    for name, task in DAILY_JOBS.items():
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": seven})


def remove_daily_jobs(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(DAILY_JOBS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_daily_jobs, remove_daily_jobs)]
