"""Per-instance scan schedules, kept in the database by django-celery-beat."""

from __future__ import annotations

import json

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from advisor.registry.models import Instance

TASK = "advisor.scans.tasks.scan_scheduled_task"
HOUSEKEEPING = "advisor: scan housekeeping"


def _name(instance: Instance) -> str:
    return _name_of(instance.name)


def _name_of(instance_name: str) -> str:
    return f"advisor: scan {instance_name}"


def parse_cron(expr: str) -> dict[str, str]:
    """The five fields of a cron expression; ValueError with a readable message when invalid."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError("a cron expression has five fields: minute hour day-of-month month day-of-week")
    minute, hour, dom, month, dow = fields
    try:
        crontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow)
    except Exception as e:  # celery raises ValueError or its own ParseException
        raise ValueError(f"invalid cron expression: {e}") from None
    return {"minute": minute, "hour": hour, "day_of_month": dom, "month_of_year": month, "day_of_week": dow}


def schedule_get(instance: Instance) -> PeriodicTask | None:
    return PeriodicTask.objects.select_related("crontab").filter(name=_name(instance)).first()


def schedule_cron(task: PeriodicTask | None) -> str | None:
    if task is None or task.crontab is None:
        return None
    c = task.crontab
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


@transaction.atomic
def schedule_set(instance: Instance, *, cron: str, enabled: bool = True) -> PeriodicTask:
    fields = parse_cron(cron)
    schedule, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=settings.TIME_ZONE)
    task, _ = PeriodicTask.objects.update_or_create(
        name=_name(instance),
        defaults={
            "task": TASK,
            "crontab": schedule,
            "interval": None,
            "args": json.dumps([instance.pk]),
            "enabled": enabled,
        },
    )
    return task


def schedule_ensure(instance: Instance) -> PeriodicTask | None:
    """Give a scannable instance the default nightly schedule unless it has one already."""
    if not instance.connection_url:
        return None
    return schedule_get(instance) or schedule_set(instance, cron=settings.ADVISOR_SCAN_DEFAULT_CRON)


def schedule_follows(instance: Instance, *, old_name: str) -> None:
    """After an instance is saved (registry.hooks, inside the write's transaction): schedules are
    found by the instance's name, so a renamed instance takes its schedule along; a scannable one
    gets the default schedule unless it has one."""
    if old_name and old_name != instance.name:
        old = PeriodicTask.objects.select_related("crontab").filter(name=_name_of(old_name)).first()
        if old is not None:
            cron = schedule_cron(old)
            if cron is not None:
                schedule_set(instance, cron=cron, enabled=old.enabled)
            old.delete()
    schedule_ensure(instance)


def schedule_delete(instance: Instance) -> None:
    """Before an instance is deleted (registry.hooks): its schedule goes with it."""
    PeriodicTask.objects.filter(name=_name(instance)).delete()


def housekeeping_ensure() -> PeriodicTask:
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    task, _ = PeriodicTask.objects.get_or_create(
        name=HOUSEKEEPING,
        defaults={"task": "advisor.scans.tasks.scan_housekeeping_task", "interval": every_minute},
    )
    return task
