"""Celery tasks: thin shells over advisor.scans.services."""

import logging

from celery import shared_task
from django.utils import timezone

from advisor.registry.models import Instance

from . import services
from .models import ScanRun

log = logging.getLogger(__name__)

# Attempts of a scan that fails with a passing connection problem (services.RETRY_KINDS).
MAX_RETRIES = services.MAX_ATTEMPTS
BUSY_RETRY_S = 30


# The time limits are the settings' (ADVISOR_TASK_TIME_LIMIT); the scan's own deadline
# (ADVISOR_SCAN_DEADLINE_S) ends it with a reason before they do.
@shared_task(bind=True, acks_late=True, max_retries=10)
def scan_instance_task(self, run_id: int) -> dict:
    run = ScanRun.objects.select_related("instance").filter(pk=run_id).first()
    if run is None:
        return {"run": run_id, "status": "missing"}
    if run.status != ScanRun.Status.QUEUED:
        # Final (completed, failed, reaped, cancelled, also while waiting for a retry) or running
        # under another delivery of this task: a retry or a redelivery does nothing.
        return {"run": run_id, "status": run.status}
    ScanRun.objects.filter(pk=run_id, status=ScanRun.Status.QUEUED).update(task_id=self.request.id or "")
    try:
        run = services.scan_run_execute(run=run, max_attempts=MAX_RETRIES)
    except services.ScanBusy as e:
        if self.request.retries >= self.max_retries:
            if ScanRun.objects.filter(pk=run_id, status=ScanRun.Status.QUEUED).update(
                status=ScanRun.Status.FAILED, finished_at=timezone.now(), reason=str(e)
            ):
                run.refresh_from_db()
                services.scan_finished_announce([run])
            return {"run": run_id, "status": "failed"}
        raise self.retry(countdown=BUSY_RETRY_S) from e
    if run.retry_in is not None:
        # The attempt put the run back in the queue (a passing connection problem); the number of
        # attempts is bounded by the run's own count, not by this task's retries.
        raise self.retry(countdown=run.retry_in, max_retries=self.request.retries + 1)
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
    except services.ScanQueueDown:
        return {"instance": instance.name, "status": "failed: the task queue is unreachable"}
    return {"instance": instance.name, "run": run.pk}


@shared_task
def scan_housekeeping_task() -> dict:
    """Periodic: fail runs whose worker died and queued runs no worker started, prune old history."""
    return {
        "reaped": services.scan_runs_reap_stale(),
        "unstarted": services.scan_runs_reap_unstarted(),
        "pruned": services.scan_runs_prune(),
    }
