"""Scan workflows: queue a run, execute it (worker or command), reap runs whose worker died.

`scan_run_execute` is the one function the Celery task and `scan_instance` both call, so a
scan from the command line is stored exactly like a scheduled one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from advisor.core.findings import Severity
from advisor.core.rules.base import effective_thresholds
from advisor.core.scan import ScanError, ScanOptions, ScanTarget, evaluate_drift, namespace_specs, run_scan
from advisor.registry.models import Instance
from advisor.registry.services import registry_design

from .models import ScanRun

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0


class ScanBusy(Exception):
    """Another scan of the same instance holds the lock."""


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


class InstanceLock:
    """One scan per instance at a time: a Redis lock with an owner token and an expiry, renewed
    while the scan runs, so a dead worker's lock lapses by itself."""

    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
    )
    _RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

    def __init__(self, instance_name: str, *, client: redis.Redis | None = None, ttl_s: int | None = None):
        self.key = f"{settings.ADVISOR_REDIS_PREFIX}scan-lock:{instance_name}"
        self.token = secrets.token_hex(16)
        self.ttl_ms = (ttl_s or settings.ADVISOR_SCAN_LOCK_TTL_S) * 1000
        self.client = client or _redis()

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        return bool(self.client.eval(self._RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        try:
            self.client.eval(self._RELEASE, 1, self.key, self.token)
        except redis.RedisError:
            log.warning("could not release %s; it expires by itself", self.key)


def scan_run_create(
    *, instance: Instance, trigger: str = ScanRun.Trigger.MANUAL, user=None, enqueue: bool = True
) -> ScanRun:
    """Queue a scan. The task is sent only once the transaction commits."""
    run = ScanRun.objects.create(instance=instance, trigger=trigger, requested_by=user)
    if enqueue:
        from .tasks import scan_instance_task

        transaction.on_commit(lambda: scan_instance_task.delay(run.pk))
    return run


class ScanRefused(Exception):
    """A scan cannot be queued now (no connection configured, or one is already active)."""


def scan_run_request(*, instance: Instance, user=None, trigger: str = ScanRun.Trigger.MANUAL) -> ScanRun:
    """Queue a scan unless the instance cannot be scanned or a scan of it is already queued or running."""
    if not instance.connection_url:
        raise ScanRefused(f"{instance.name} has no connection URL to scan.")
    if ScanRun.objects.filter(instance=instance, status__in=ScanRun.ACTIVE).exists():
        raise ScanRefused(f"A scan of {instance.name} is already queued or running.")
    return scan_run_create(instance=instance, trigger=trigger, user=user)


def scan_run_cancel(*, run: ScanRun) -> None:
    """Ask a queued or running scan to stop. A queued one is cancelled at once."""
    updated = ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.QUEUED).update(
        status=ScanRun.Status.CANCELLED,
        finished_at=timezone.now(),
        reason="cancelled before it started",
        cancel_requested=True,
    )
    if not updated:
        ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()


def scan_options(**overrides) -> ScanOptions:
    """The settings' scan options with overrides (None: keep the setting). `max_ops` 0 lifts the
    ops budget, in the setting and as an override; ValueError for anything ScanOptions refuses."""
    options = {
        "allowed_hosts": list(settings.ADVISOR_SCAN_ALLOWED_HOSTS),
        "max_ops": settings.ADVISOR_SCAN_MAX_OPS,
    }
    options.update({k: v for k, v in overrides.items() if v is not None})
    if options["max_ops"] == 0:
        options["max_ops"] = None  # no budget: commands go out as fast as the server answers
    return ScanOptions(**options)


def _finish(run: ScanRun, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now(), heartbeat_at=timezone.now())
    ScanRun.objects.filter(pk=run.pk).update(**fields)
    for k, v in fields.items():
        setattr(run, k, v)


def scan_run_execute(
    *,
    run: ScanRun,
    options: ScanOptions | None = None,
    on_progress: Callable[[object], None] | None = None,
    today: dt.date | None = None,
) -> ScanRun:
    """Run a queued scan to its end and store the outcome. Never raises ScanError: a scan that
    cannot be done ends as a failed run with a one-line reason (ScanBusy is raised, see the task)."""
    run.refresh_from_db()
    if run.status != ScanRun.Status.QUEUED:
        return run  # cancelled while queued, or delivered twice
    instance = run.instance
    lock = InstanceLock(instance.name)
    try:
        if not lock.acquire():
            raise ScanBusy(f"another scan of {instance.name} is running")
    except redis.RedisError as e:
        _finish(run, ScanRun.Status.FAILED, reason=f"cannot reach the coordination Redis: {e}")
        return run
    now = timezone.now()
    ScanRun.objects.filter(pk=run.pk).update(
        status=ScanRun.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=run.attempts + 1
    )
    run.refresh_from_db()
    try:
        return _execute(
            run, instance, lock, options or scan_options(), on_progress, today or timezone.localdate()
        )
    finally:
        lock.release()


def _execute(run, instance, lock, options, on_progress, today) -> ScanRun:
    design = registry_design()
    core_instance = design.instance(instance.name)
    try:
        target = ScanTarget.from_instance(core_instance)
    except ValueError as e:
        _finish(run, ScanRun.Status.FAILED, reason=str(e))
        return run
    last_beat = 0.0
    cancelled = False

    def progress(p) -> None:
        nonlocal last_beat, cancelled
        now = time.monotonic()
        if on_progress:
            on_progress(p)
        if now - last_beat < HEARTBEAT_EVERY_S:
            return
        last_beat = now
        lock.renew()
        fields = {"heartbeat_at": timezone.now(), "keys_scanned": getattr(p, "keys_scanned", 0)}
        total = getattr(p, "keys_total", None)
        if total:
            fields["keys_total"] = total
        ScanRun.objects.filter(pk=run.pk).update(**fields)
        cancelled = ScanRun.objects.filter(pk=run.pk, cancel_requested=True).exists()

    # The scan counts collections above the same element limit DRF016 judges them by.
    options = dataclasses.replace(
        options, max_elements=int(effective_thresholds(design)["DRF016.max_elements"])
    )
    try:
        report = run_scan(
            target,
            namespace_specs(design, instance.name),
            options,
            progress=progress,
            cancel=lambda: cancelled,
        )
    except ScanError as e:
        _finish(run, ScanRun.Status.FAILED, reason=e.reason, error_kind=e.kind)
        return run
    except Exception as e:  # a bug must not leave the run "running" forever
        log.exception("scan %s of %s failed", run.pk, instance.name)
        # The exception text may quote key names: it goes to the log, not to the page.
        _finish(run, ScanRun.Status.FAILED, reason=f"internal error ({type(e).__name__}); see the worker log")
        return run

    findings = evaluate_drift(design, instance.name, report, today)
    data = report.model_dump(mode="json")
    data["findings"] = [f.model_dump(mode="json") for f in findings]
    unwaived = [f for f in findings if not f.waived]
    matched = sum(ns.get("keys", 0) for ns in data.get("namespaces", []))
    scanned = data.get("keys_scanned", 0)
    status = ScanRun.Status.CANCELLED if cancelled else ScanRun.Status.COMPLETED
    _finish(
        run,
        status,
        report=data,
        keys_scanned=scanned,
        complete=bool(data.get("complete")),
        coverage=(matched / scanned) if scanned else None,
        findings_total=len(unwaived),
        findings_high=sum(1 for f in unwaived if f.severity >= Severity.high),
        memory_bytes=(data.get("server") or {}).get("used_memory"),
        reason="cancelled by a user" if cancelled else (data.get("error") or ""),
    )
    return run


def scan_runs_reap_stale(*, now: dt.datetime | None = None) -> int:
    """Mark runs whose worker stopped sending heartbeats as failed. Returns how many."""
    now = now or timezone.now()
    stale_after = dt.timedelta(seconds=settings.ADVISOR_SCAN_STALE_AFTER_S)
    stale = ScanRun.objects.filter(status=ScanRun.Status.RUNNING, heartbeat_at__lt=now - stale_after)
    return stale.update(
        status=ScanRun.Status.FAILED,
        finished_at=now,
        reason=f"the worker running this scan stopped (no heartbeat for over {settings.ADVISOR_SCAN_STALE_AFTER_S} s)",
    )


def scan_runs_prune(*, now: dt.datetime | None = None) -> int:
    """Delete finished runs older than the retention period."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ADVISOR_SCAN_RETENTION_DAYS)
    deleted, _ = ScanRun.objects.filter(status__in=ScanRun.FINISHED, created_at__lt=cutoff).delete()
    return deleted
