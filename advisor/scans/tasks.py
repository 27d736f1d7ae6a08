"""Celery tasks: thin shells over advisor.scans.services."""

import logging

from celery import shared_task
from django.utils import timezone

from advisor.registry.models import Instance

from . import services
from .models import ScanRun

log = logging.getLogger(__name__)

# Connection problems are often passing (failover, patching): retry those, with backoff.
RETRY_KINDS = {"unreachable", "timeout"}
MAX_RETRIES = 3


@shared_task(bind=True, acks_late=True, max_retries=10, soft_time_limit=3 * 3600 - 60, time_limit=3 * 3600)
def scan_instance_task(self, run_id: int) -> dict:
    run = ScanRun.objects.select_related("instance").filter(pk=run_id).first()
    if run is None:
        return {"run": run_id, "status": "missing"}
    ScanRun.objects.filter(pk=run_id).update(task_id=self.request.id or "")
    try:
        run = services.scan_run_execute(run=run)
    except services.ScanBusy as e:
        if self.request.retries >= self.max_retries:
            ScanRun.objects.filter(pk=run_id, status=ScanRun.Status.QUEUED).update(
                status=ScanRun.Status.FAILED, finished_at=timezone.now(), reason=str(e)
            )
            return {"run": run_id, "status": "failed"}
        raise self.retry(countdown=30) from e
    if run.status == ScanRun.Status.FAILED and run.error_kind in RETRY_KINDS and run.attempts < MAX_RETRIES:
        countdown = 10 * 2 ** (run.attempts - 1)
        ScanRun.objects.filter(pk=run_id).update(
            status=ScanRun.Status.QUEUED, finished_at=None, reason=f"{run.reason} — retrying in {countdown}s"
        )
        raise self.retry(countdown=countdown, max_retries=MAX_RETRIES)
    return {"run": run.pk, "status": run.status, "keys": run.keys_scanned}


@shared_task(acks_late=True)
def scan_scheduled_task(instance_id: int) -> dict:
    """Fired by beat for an instance's schedule: queue a scan unless one is already active."""
    instance = Instance.objects.filter(pk=instance_id).first()
    if instance is None:
        return {"instance": instance_id, "status": "missing"}
    try:
        run = services.scan_run_request(instance=instance, trigger=ScanRun.Trigger.SCHEDULE)
    except services.ScanRefused as e:
        return {"instance": instance.name, "status": f"skipped: {e}"}
    return {"instance": instance.name, "run": run.pk}


@shared_task
def scan_housekeeping_task() -> dict:
    """Periodic: fail runs whose worker died, prune old history."""
    return {"reaped": services.scan_runs_reap_stale(), "pruned": services.scan_runs_prune()}
