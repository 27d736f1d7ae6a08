"""What the live caches say about a team's design: the drift a review shows beside its findings.

For each instance hosting the team's namespaces, the drift findings of its latest complete scan
that are about those namespaces or about the instance itself. A scan's findings were judged with
the waivers of its day; they are judged again here with today's registry waivers, so a waiver
approved after the scan counts and an expired one no longer does.

The result is a plain dict (stored on a revision at submission and decision, returned by the API):

    {"computed_at": ISO time,
     "instances": [{"instance", "scan" (run id or None), "scan_number" (the run's number on its
                    instance), "finished_at", "findings": [Finding dicts]}]}
"""

from __future__ import annotations

import datetime as dt

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from advisor.core.findings import Finding, Severity
from advisor.registry.models import Instance, Waiver
from advisor.scans.models import ScanRun

from .states import BLOCKING


def _latest_complete_runs(instance_names: list[str]) -> dict[str, ScanRun]:
    latest = (
        ScanRun.objects.filter(instance=OuterRef("pk"), status=ScanRun.Status.COMPLETED, complete=True)
        .order_by("-finished_at", "-pk")
        .values("pk")[:1]
    )
    ids = dict(
        Instance.objects.filter(name__in=instance_names)
        .annotate(run_id=Subquery(latest))
        .values_list("name", "run_id")
    )
    runs = ScanRun.objects.in_bulk([i for i in ids.values() if i is not None])
    return {name: runs[run_id] for name, run_id in ids.items() if run_id in runs}


def _about(finding: dict, namespace_targets: set[str], instance_target: str) -> bool:
    targets = {finding.get("target", ""), *finding.get("related", [])}
    return instance_target in targets or bool(targets & namespace_targets)


def team_drift(*, namespaces: list[str], instances: list[str], today: dt.date | None = None) -> dict:
    """The drift of the latest complete scan of each instance, for these namespaces and instances."""
    today = today or timezone.localdate()
    namespace_targets = {f"namespace:{n}" for n in namespaces}
    runs = _latest_complete_runs(instances)
    waivers = {
        (w.rule, w.target): w
        for w in Waiver.objects.filter(expires__gte=today).only(
            "rule", "target", "reason", "expires", "approved_by"
        )
    }
    out = []
    for name in sorted(instances):
        run = runs.get(name)
        entry: dict = {
            "instance": name,
            "scan": None,
            "scan_number": None,
            "finished_at": None,
            "findings": [],
        }
        if run is not None:
            entry["scan"] = run.pk
            entry["scan_number"] = run.number
            entry["finished_at"] = run.finished_at.isoformat() if run.finished_at else None
            for raw in run.findings:
                if not _about(raw, namespace_targets, f"instance:{name}"):
                    continue
                finding = dict(raw)
                waiver = waivers.get((finding["rule"], finding["target"]))
                finding["waived"] = waiver is not None
                finding["waiver"] = (
                    {
                        "reason": waiver.reason,
                        "expires": waiver.expires.isoformat(),
                        "approved_by": waiver.approved_by,
                    }
                    if waiver
                    else None
                )
                entry["findings"].append(finding)
            entry["findings"].sort(key=lambda f: Finding.model_validate(f).sort_key())
        out.append(entry)
    return {"computed_at": timezone.now().isoformat(), "instances": out}


def drift_findings(drift: dict) -> list[dict]:
    return [f for entry in (drift or {}).get("instances", []) for f in entry["findings"]]


def blocking_drift(drift: dict) -> list[Finding]:
    """Unwaived drift at high or above: it blocks a submission and an approval unless a waiver is asked."""
    return [
        Finding.model_validate(f)
        for f in drift_findings(drift)
        if not f["waived"] and Severity(f["severity"]) >= BLOCKING
    ]


def drift_targets(drift: dict) -> set[str]:
    """The instance targets a team may ask a waiver for: those hosting its namespaces."""
    return {f"instance:{entry['instance']}" for entry in (drift or {}).get("instances", [])}


def drift_summary(drift: dict) -> dict:
    """Counts for badges: unwaived findings by severity, waived, instances never scanned."""
    counts: dict[str, int] = {}
    waived = 0
    for f in drift_findings(drift):
        if f["waived"]:
            waived += 1
        else:
            counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    entries = (drift or {}).get("instances", [])
    return {
        "counts": counts,
        "waived": waived,
        "never_scanned": [e["instance"] for e in entries if e["scan"] is None],
        "scanned": sum(1 for e in entries if e["scan"] is not None),
    }
