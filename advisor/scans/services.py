"""Scan workflows: queue a run, execute it (worker or command), reap runs whose worker died.

`scan_run_execute` is the one function the Celery task and `scan_instance` both call, so a
scan from the command line is stored exactly like a scheduled one.

A run moves queued -> running -> completed | failed | cancelled, and every move is a
conditional UPDATE on the state it leaves: a worker writes to its run only while the run is
running under the token of the instance lock it holds (`owner`). So once a run is reaped,
cancelled or finished it is final: a worker that comes back late, a retry or a second delivery
of the task cannot move it back or overwrite its result. The worker looks (every
HEARTBEAT_EVERY_S, between batches, while pausing for the ops budget and while waiting on a slow
server) whether its lock and its run are still its own, and stops scanning when they are not.
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
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from advisor.core.findings import Severity
from advisor.core.rules.base import effective_thresholds
from advisor.core.scan import ScanError, ScanOptions, ScanTarget, evaluate_drift, namespace_specs, run_scan
from advisor.registry.models import Instance
from advisor.registry.services import registry_design

from .models import ScanRun
from .signals import scan_finished

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0
# Connection problems are often passing (failover, patching): an attempt of the Celery task that
# fails with one of these goes back to the queue, with backoff, up to MAX_ATTEMPTS attempts in all.
RETRY_KINDS = {"unreachable", "timeout"}
MAX_ATTEMPTS = 3
# Publishing a task to a broker that does not answer: two quick retries, then the start fails.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


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


class ScanQueueDown(Exception):
    """The task queue (the Celery broker) did not take the scan; the run is failed, not left queued."""


def _enqueue(run: ScanRun) -> None:
    """Send the run's task; ScanQueueDown (the run failed) when the broker does not take it."""
    from .tasks import scan_instance_task

    try:
        scan_instance_task.apply_async(args=[run.pk], retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except (KombuError, redis.RedisError, OSError) as e:
        # The broker's own words name its host: they go to the log, not to the user.
        log.warning("scan %s of %s not queued, the broker refused it: %s", run.pk, run.instance.name, e)
        failed = ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.QUEUED).update(
            status=ScanRun.Status.FAILED,
            finished_at=timezone.now(),
            reason="not queued: the task queue (the Celery broker) is unreachable",
        )
        run.refresh_from_db()
        if failed:
            scan_finished_announce([run])
        raise ScanQueueDown(
            f"The scan of {run.instance.name} was not queued: the task queue is unreachable. "
            "Try again in a few minutes; if it persists, the Celery broker (REDIS_URL) is down."
        ) from None


def _enqueue_on_commit(run: ScanRun) -> None:
    try:
        _enqueue(run)
    except ScanQueueDown:
        pass  # the run is failed and the failure logged; nobody is waiting for an answer here


def scan_run_create(
    *, instance: Instance, trigger: str = ScanRun.Trigger.MANUAL, user=None, enqueue: bool = True
) -> ScanRun:
    """Create a queued run and, with `enqueue`, send its task.

    Outside a transaction (a request, a beat task) the task is sent at once, and a broker that
    does not take it raises ScanQueueDown with the run already failed, never left queued. Inside
    one the task is sent when it commits, so that the worker finds the row; a broker that fails
    then fails the run too, but only the log says so."""
    run = ScanRun.objects.create(instance=instance, trigger=trigger, requested_by=user)
    if enqueue:
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(lambda: _enqueue_on_commit(run))
        else:
            _enqueue(run)
    return run


class ScanRefused(Exception):
    """A scan cannot be queued now (no connection configured, or one is already active)."""


def scan_run_request(*, instance: Instance, user=None, trigger: str = ScanRun.Trigger.MANUAL) -> ScanRun:
    """Queue a scan unless the instance cannot be scanned or a scan of it is already queued or
    running. ScanRefused for those; ScanQueueDown when the task queue does not take it."""
    if not instance.connection_url:
        raise ScanRefused(f"{instance.name} has no connection URL to scan.")
    if ScanRun.objects.filter(instance=instance, status__in=ScanRun.ACTIVE).exists():
        raise ScanRefused(f"A scan of {instance.name} is already queued or running.")
    return scan_run_create(instance=instance, trigger=trigger, user=user)


def scan_run_cancel(*, run: ScanRun) -> None:
    """Ask a queued or running scan to stop. A queued one is cancelled at once (its task, when it
    comes, finds it final); a running one stops within a few seconds (see _RunWatch)."""
    updated = ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.QUEUED).update(
        status=ScanRun.Status.CANCELLED,
        finished_at=timezone.now(),
        reason="cancelled before it started",
        cancel_requested=True,
        owner="",
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
        "read_timeout": float(settings.ADVISOR_SCAN_REPLY_TIMEOUT_S),
        "scan_timeout": float(settings.ADVISOR_SCAN_DEADLINE_S) or None,  # 0: no deadline
    }
    options.update({k: v for k, v in overrides.items() if v is not None})
    if options["max_ops"] == 0:
        options["max_ops"] = None  # no budget: commands go out as fast as the server answers
    return ScanOptions(**options)


def _move(run: ScanRun, source: str, status: str, *, as_owner: str | None = None, **fields) -> bool:
    """Move the run from `source` (and, when given, under the lock token `as_owner`) to `status`,
    only if it is still there: False, with `run` refreshed to what it is now, when someone else
    moved it first."""
    now = timezone.now()
    fields.setdefault("finished_at", now if status in ScanRun.FINISHED else None)
    fields.update(status=status, heartbeat_at=now)
    if "reason" in fields:
        fields["reason"] = _one_line(fields["reason"])
    match = ScanRun.objects.filter(pk=run.pk, status=source)
    if as_owner is not None:
        match = match.filter(owner=as_owner)
    moved = bool(match.update(**fields))
    run.refresh_from_db()
    if moved and status in (ScanRun.Status.COMPLETED, ScanRun.Status.FAILED):
        scan_finished_announce([run])
    return moved


def scan_finished_announce(runs) -> None:
    """Send `signals.scan_finished` for runs that have just ended completed or failed. A listener
    that fails is logged; the run stays as it is stored."""
    for run in runs:
        for receiver, result in scan_finished.send_robust(sender=ScanRun, run=run):
            if isinstance(result, Exception):
                log.error("scan %s: a scan_finished listener (%s) failed", run.pk, receiver, exc_info=result)


def _one_line(text: str) -> str:
    """A reason as one line, whole: the field has room for whatever the server said."""
    return " ".join(str(text).split())


def scan_run_execute(
    *,
    run: ScanRun,
    options: ScanOptions | None = None,
    on_progress: Callable[[object], None] | None = None,
    today: dt.date | None = None,
    max_attempts: int = 1,
) -> ScanRun:
    """Run a queued scan to its end and store the outcome. Never raises ScanError: a scan that
    cannot be done ends as a failed run with a one-line reason (ScanBusy is raised, see the task).

    With `max_attempts` > 1 (the Celery task), an attempt that fails with a passing connection
    problem (RETRY_KINDS) puts the run back in the queue instead and sets `run.retry_in`, the
    seconds to wait before the next attempt. A run that is not queued is returned as it is."""
    run.refresh_from_db()
    run.retry_in = None
    if run.status != ScanRun.Status.QUEUED:
        return run  # final (cancelled or reaped while queued), or delivered twice
    instance = run.instance
    lock = InstanceLock(instance.name)
    try:
        if not lock.acquire():
            raise ScanBusy(f"another scan of {instance.name} is running")
    except redis.RedisError as e:
        _move(
            run,
            ScanRun.Status.QUEUED,
            ScanRun.Status.FAILED,
            reason=f"cannot reach the coordination Redis: {e}",
        )
        return run
    try:
        now = timezone.now()
        started = ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.QUEUED).update(
            status=ScanRun.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            attempts=F("attempts") + 1,
            owner=lock.token,
            # An attempt scans from the start: nothing of an earlier attempt's progress counts.
            keys_scanned=0,
            keys_total=None,
        )
        run.refresh_from_db()
        run.retry_in = None
        if not started:
            return run  # cancelled, reaped or taken by another delivery since we looked
        return _execute(
            run,
            instance,
            lock,
            options or scan_options(),
            on_progress,
            today or timezone.localdate(),
            max_attempts,
        )
    finally:
        lock.release()


class _RunWatch:
    """The scan's progress and stop checks: every HEARTBEAT_EVERY_S it renews the instance lock,
    writes the heartbeat (only to its own running run) and looks for a cancel.

    It says stop when a user cancelled the run (`cancelled`), when the lock is no longer this
    worker's (`lock_lost`: it lapsed and another scan took it, or the coordination Redis has not
    answered for half the lock's life) or when the run is no longer its own running run
    (`taken`: reaped, or finished by someone else)."""

    def __init__(self, run: ScanRun, lock: InstanceLock, on_progress: Callable[[object], None] | None):
        self.run = run
        self.lock = lock
        self.on_progress = on_progress
        self.reason: str | None = None
        self.cancelled = self.lock_lost = self.taken = False
        now = time.monotonic()
        self._next = now + HEARTBEAT_EVERY_S
        self._renewed = now
        self._progress = None

    def progress(self, p) -> None:
        self._progress = p
        if self.on_progress:
            self.on_progress(p)

    def should_stop(self) -> bool:
        if self.reason is not None:
            return True
        now = time.monotonic()
        if now >= self._next:
            self._next = now + HEARTBEAT_EVERY_S
            self._look(now)
        return self.reason is not None

    def _look(self, now: float) -> None:
        try:
            if self.lock.renew():
                self._renewed = now
            else:
                self.lock_lost = True
        except redis.RedisError as e:
            if now - self._renewed > self.lock.ttl_ms / 2000:
                log.warning("scan %s: cannot renew the instance lock: %s", self.run.pk, e)
                self.lock_lost = True
        fields = {"heartbeat_at": timezone.now()}
        p = self._progress
        if p is not None:
            fields["keys_scanned"] = getattr(p, "keys_scanned", 0)
            if getattr(p, "keys_total", None):
                fields["keys_total"] = p.keys_total
        mine = ScanRun.objects.filter(pk=self.run.pk, status=ScanRun.Status.RUNNING, owner=self.lock.token)
        try:
            if not mine.update(**fields):
                self.taken = True
                self.reason = "the run is no longer this worker's (reaped or finished elsewhere)"
            elif mine.filter(cancel_requested=True).exists():
                self.cancelled = True
                self.reason = "cancelled by a user"
        except DatabaseError as e:
            log.warning("scan %s: heartbeat not written: %s", self.run.pk, e)  # the next look tries again
        if self.reason is None and self.lock_lost:
            self.reason = (
                "stopped: the scan lost its instance lock (it lapsed, or the coordination Redis did not "
                "answer), so another scan of the instance may run"
            )


def _execute(run, instance, lock, options, on_progress, today, max_attempts) -> ScanRun:
    token = lock.token
    design = registry_design()
    core_instance = design.instance(instance.name)
    try:
        target = ScanTarget.from_instance(core_instance)
    except ValueError as e:
        _move(run, ScanRun.Status.RUNNING, ScanRun.Status.FAILED, as_owner=token, reason=str(e))
        return run
    watch = _RunWatch(run, lock, on_progress)
    # The scan counts collections above the same element limit DRF016 judges them by.
    options = dataclasses.replace(
        options, max_elements=int(effective_thresholds(design)["DRF016.max_elements"])
    )
    try:
        report = run_scan(
            target,
            namespace_specs(design, instance.name),
            options,
            progress=watch.progress,
            cancel=watch.should_stop,
        )
    except ScanError as e:
        if watch.taken:
            return _taken(run)
        return _failed(run, token, e.reason, e.kind, max_attempts)
    except Exception as e:  # a bug must not leave the run "running" forever
        log.exception("scan %s of %s failed", run.pk, instance.name)
        # The exception text may quote key names: it goes to the log, not to the page.
        reason = f"internal error ({type(e).__name__}); see the worker log"
        _move(run, ScanRun.Status.RUNNING, ScanRun.Status.FAILED, as_owner=token, reason=reason)
        return run
    if watch.taken:
        return _taken(run)

    findings = evaluate_drift(design, instance.name, report, today)
    data = report.model_dump(mode="json")
    data["run_number"] = run.number  # the instance's run #N, as pages and the command name it
    data["findings"] = [f.model_dump(mode="json") for f in findings]
    unwaived = [f for f in findings if not f.waived]
    matched = sum(ns.get("keys", 0) for ns in data.get("namespaces", []))
    scanned = data.get("keys_scanned", 0)
    if watch.cancelled:
        status, reason = ScanRun.Status.CANCELLED, "cancelled by a user"
    elif watch.lock_lost:
        status, reason = ScanRun.Status.FAILED, watch.reason
    else:
        status, reason = ScanRun.Status.COMPLETED, data.get("error") or ""
    moved = _move(
        run,
        ScanRun.Status.RUNNING,
        status,
        as_owner=token,
        report=data,
        keys_scanned=scanned,
        complete=bool(data.get("complete")),
        coverage=(matched / scanned) if scanned else None,
        findings_total=len(unwaived),
        findings_high=sum(1 for f in unwaived if f.severity >= Severity.high),
        memory_bytes=(data.get("server") or {}).get("used_memory"),
        reason=reason,
        error_kind="",  # a ScanError kind belongs to failed runs (a retried attempt may have left one)
    )
    return run if moved else _taken(run)


def _failed(run: ScanRun, token: str, reason: str, kind: str, max_attempts: int) -> ScanRun:
    if kind in RETRY_KINDS and run.attempts < max_attempts:
        countdown = 10 * 2 ** (run.attempts - 1)
        if _move(
            run,
            ScanRun.Status.RUNNING,
            ScanRun.Status.QUEUED,
            as_owner=token,
            reason=f"{reason} — retrying in {countdown}s",
            error_kind=kind,
            owner="",  # a late write of this attempt finds no run of its own
            # Queued again, it has scanned nothing yet: the page shows no stale progress.
            keys_scanned=0,
            keys_total=None,
        ):
            run.retry_in = countdown
        return run
    _move(run, ScanRun.Status.RUNNING, ScanRun.Status.FAILED, as_owner=token, reason=reason, error_kind=kind)
    return run


def _taken(run: ScanRun) -> ScanRun:
    """The run was reaped or finished while this worker scanned: it keeps what it says."""
    run.refresh_from_db()
    log.warning(
        "scan %s of %s stopped: the run is %s and no longer this worker's",
        run.pk,
        run.instance.name,
        run.status,
    )
    return run


def scan_runs_reap_stale(*, now: dt.datetime | None = None) -> int:
    """Mark runs whose worker stopped sending heartbeats as failed. Returns how many. A worker
    that is still alive sees its run taken at its next look and stops scanning."""
    now = now or timezone.now()
    stale_after = dt.timedelta(seconds=settings.ADVISOR_SCAN_STALE_AFTER_S)
    stale = ScanRun.objects.filter(status=ScanRun.Status.RUNNING, heartbeat_at__lt=now - stale_after)
    ids = list(stale.values_list("pk", flat=True))
    reaped = stale.filter(pk__in=ids).update(
        status=ScanRun.Status.FAILED,
        finished_at=now,
        reason=f"the worker running this scan stopped (no heartbeat for over {settings.ADVISOR_SCAN_STALE_AFTER_S} s)",
    )
    _announce_failed(ids, now)
    return reaped


def _announce_failed(ids: list[int], finished_at: dt.datetime) -> None:
    """Announce the runs among `ids` that a bulk update has just failed (those it finished at `finished_at`)."""
    if ids:
        scan_finished_announce(
            ScanRun.objects.select_related("instance").filter(
                pk__in=ids, status=ScanRun.Status.FAILED, finished_at=finished_at
            )
        )


def scan_runs_reap_unstarted(*, now: dt.datetime | None = None) -> int:
    """Fail queued runs that no worker has started within ADVISOR_SCAN_QUEUED_TIMEOUT_S of being
    queued (or put back in the queue for a retry). Returns how many. Their tasks, should they
    still come, find them final."""
    now = now or timezone.now()
    bound = settings.ADVISOR_SCAN_QUEUED_TIMEOUT_S
    cutoff = now - dt.timedelta(seconds=bound)
    unstarted = ScanRun.objects.filter(status=ScanRun.Status.QUEUED).filter(
        Q(heartbeat_at__isnull=True, created_at__lt=cutoff) | Q(heartbeat_at__lt=cutoff)
    )
    ids = list(unstarted.values_list("pk", flat=True))
    failed = unstarted.filter(pk__in=ids).update(
        status=ScanRun.Status.FAILED,
        finished_at=now,
        reason=f"no worker started this scan within {bound} s (are the Celery workers and the task queue up?)",
    )
    _announce_failed(ids, now)
    return failed


def scan_runs_prune(*, now: dt.datetime | None = None) -> int:
    """Delete finished runs older than the retention period."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ADVISOR_SCAN_RETENTION_DAYS)
    deleted, _ = ScanRun.objects.filter(status__in=ScanRun.FINISHED, created_at__lt=cutoff).delete()
    return deleted
