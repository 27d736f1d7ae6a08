"""What other apps read of the scans: queries only, no writes.

The overview and the registry's pages ask here rather than querying ScanRun themselves; the
registry, which imports no scans module, reaches the ones it needs through the functions this
app registers in advisor.registry.hooks (see apps.py).
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from advisor.registry.models import Instance

from .models import ScanRun


def latest_complete_run(instance: Instance) -> ScanRun | None:
    """The instance's latest completed scan that read the whole keyspace."""
    return (
        ScanRun.objects.filter(instance=instance, status=ScanRun.Status.COMPLETED, complete=True)
        .order_by("-finished_at", "-pk")
        .first()
    )


def last_completed_run(instance: Instance) -> ScanRun | None:
    """The instance's latest completed scan, complete or not (what its page shows)."""
    return instance.scan_runs.filter(status=ScanRun.Status.COMPLETED).first()


def with_last_scan(instances: QuerySet[Instance]) -> QuerySet[Instance]:
    """Each instance annotated with its latest completed scan's time, drift counts and whether it
    was complete, in the same query."""
    last = ScanRun.objects.filter(instance=OuterRef("pk"), status=ScanRun.Status.COMPLETED).order_by(
        "-created_at"
    )
    return instances.annotate(
        last_scan_at=Subquery(last.values("finished_at")[:1]),
        last_scan_findings=Subquery(last.values("findings_total")[:1]),
        last_scan_high=Subquery(last.values("findings_high")[:1]),
        last_scan_complete=Subquery(last.values("complete")[:1]),
    )


def delete_blockers(row) -> list[str]:
    """What the scans have against deleting a registry row now (registry.hooks): an instance
    whose scan is queued or running would have the run deleted under its worker, and the result
    of a scan the user asked for would vanish. Read in the delete's transaction, after the
    instance row is locked; a new run locks it too (ScanRunManager.create), so none slips in."""
    if not isinstance(row, Instance):
        return []
    active = list(
        ScanRun.objects.filter(instance=row, status__in=ScanRun.ACTIVE)
        .order_by("number")
        .values_list("number", "status")
    )
    if not active:
        return []
    runs = ", ".join(f"#{number} {status}" for number, status in active)
    if len(active) == 1:
        return [f"instance '{row.name}' has scan {runs}; wait for it to end or cancel it on Live scans first"]
    return [
        f"instance '{row.name}' has scans {runs}; wait for them to end or cancel them on Live scans first"
    ]


def scan_draft(*, run_id: int, index: int) -> tuple[int, dict] | None:
    """The draft design entry the scan `run_id` made for its `index`th unregistered key family,
    with the id of the scanned instance; None when the run or the family is gone."""
    run = ScanRun.objects.filter(pk=run_id).only("instance_id", "report").first()
    report = run.report if run is not None else None
    unmatched = report.get("unmatched") if isinstance(report, dict) else None
    patterns = unmatched.get("patterns") if isinstance(unmatched, dict) else None
    if not isinstance(patterns, list) or not 0 <= index < len(patterns):
        return None
    family = patterns[index]
    draft = family.get("draft") if isinstance(family, dict) else None
    return (run.instance_id, draft) if isinstance(draft, dict) else None
