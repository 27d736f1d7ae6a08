"""Findings of the registry's design: computed by the domain core, stored for the pages and API.

`findings_refresh` is the only writer of DesignFinding. It runs once every change to what the
lint reads has committed: the registry's write services, the design import, the waiver pages,
review approvals and the admin call advisor.registry.hooks.registry_changed, which this app
answers with `findings_refresh_after_write` (apps.py). The date is an input too: the Celery beat
job `tasks.findings_refresh_task`, shortly after midnight, runs `findings_ensure_fresh`, so that
retirement dates and waiver expiry are right on a new day. Pages and the API only read; when the
stored findings are from an earlier day or an older registry state (a refresh failed, a row was
changed around the services), they say "findings as of" (selectors.findings_age).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from pydantic import ValidationError

from advisor.core import design as core
from advisor.core.engine import lint_design
from advisor.core.findings import SEVERITIES_HIGH_FIRST, Severity
from advisor.core.rules import get_rule
from advisor.core.sizing import InstanceSizing, instance_sizing
from advisor.registry.models import Instance, Namespace, Policy, Team, Waiver
from advisor.registry.services import instance_to_core, namespace_data, registry_design, team_to_core

from . import clock
from .models import DesignFinding, FindingsRun

logger = logging.getLogger(__name__)

_BATCH = 1000


def findings_refresh(*, today=None) -> FindingsRun:
    """Lint the whole registry and replace the stored findings, in one transaction."""
    day = today if today is not None else clock.today()
    started = time.perf_counter()
    # Stamp before reading: an edit racing with this run then makes the stored set look stale.
    stamp = _registry_stamp()
    design = registry_design()
    read = time.perf_counter()
    result = lint_design(design, today=day)
    linted = time.perf_counter()
    ns_owner = {
        name: (team_id, inst_id)
        for name, team_id, inst_id in Namespace.objects.values_list("name", "team_id", "instance_id")
    }
    instance_ids = dict(Instance.objects.values_list("name", "id"))
    now = timezone.now()
    rows = []
    for f in result.findings:
        kind, _, name = f.target.partition(":")
        team_id, instance_id = (
            ns_owner.get(name, (None, None)) if kind == "namespace" else (None, instance_ids.get(name))
        )
        rows.append(
            DesignFinding(
                rule=f.rule,
                severity=f.severity.value,
                severity_rank=f.severity.rank,
                title=f.title,
                target=f.target,
                target_kind=kind,
                target_name=name,
                related=list(f.related),
                related_index=_related_index(f.related),
                message=f.message,
                remediation=f.remediation,
                waived=f.waived,
                waiver=f.waiver.model_dump(mode="json") if f.waiver else None,
                team_id=team_id,
                instance_id=instance_id,
                computed_at=now,
            )
        )
    with transaction.atomic():
        DesignFinding.objects.all().delete()
        DesignFinding.objects.bulk_create(rows, batch_size=_BATCH)
        run, _ = FindingsRun.objects.update_or_create(
            pk=1,
            defaults={
                "computed_at": now,
                "today": day,
                "registry_stamp": stamp,
                "duration_ms": round((time.perf_counter() - started) * 1000),
                "finding_count": len(rows),
            },
        )
    logger.info(
        "findings: %d stored for %s in %d ms (read %d ms, lint %d ms, store %d ms)",
        len(rows),
        day,
        run.duration_ms,
        (read - started) * 1000,
        (linted - read) * 1000,
        (time.perf_counter() - linted) * 1000,
    )
    return run


def findings_refresh_after_write(*, today=None) -> FindingsRun | None:
    """Refresh after a change that is already committed; None when that failed.

    The change stands whatever happens here, so a failure is logged, not raised: the caller must
    not report a committed change as failed. The stored findings then carry an old registry stamp
    (the pages say how old they are), and the next change or the nightly job tries again.
    """
    try:
        return findings_refresh(today=today)
    except Exception:
        logger.exception(
            "findings: not refreshed after a committed change; the next change or the nightly job retries"
        )
        return None


def findings_ensure_fresh() -> FindingsRun | None:
    """Recompute when the stored findings are from another day or another registry state (the
    nightly job; never a page)."""
    run = FindingsRun.objects.filter(pk=1).first()
    day = clock.today()
    if findings_current(run, today=day):
        return run
    try:
        return findings_refresh(today=day)
    except ValidationError:
        # A row the core rejects (edited around the forms) must not take every page down with it.
        logger.exception("findings: the registry is not a valid design; keeping the stored findings")
        return run
    except Exception:
        # Nor may a failure of the lint itself: the pages show the findings stored last.
        logger.exception("findings: recomputing failed; keeping the stored findings")
        return run


def findings_current(run: FindingsRun | None, *, today) -> bool:
    """Whether `run` is of `today` and of the registry as it is now."""
    return run is not None and run.today == today and run.registry_stamp == _registry_stamp()


def _related_index(related) -> str:
    return "".join(f"|{r}" for r in related) + "|" if related else ""


def _registry_stamp() -> str:
    """A digest of everything the lint reads; cheap aggregates rather than the rows themselves."""
    parts = [
        Instance.objects.aggregate(n=Count("id"), t=Max("updated_at")),
        Namespace.objects.aggregate(n=Count("id"), t=Max("updated_at")),
        Namespace.multi_key_with.through.objects.count(),
        list(Team.objects.order_by("id").values_list("id", "name", "contact")),
        list(Waiver.objects.order_by("id").values_list("rule", "target", "reason", "expires", "approved_by")),
        Policy.objects.filter(pk=1).values_list("disable", "severity", "thresholds").first(),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


# Queries the pages and the API share ---------------------------------------------------------


def findings_for_namespace(ns: Namespace) -> QuerySet[DesignFinding]:
    """Findings about the namespace, and pair findings that name it as the other side."""
    return DesignFinding.objects.filter(
        Q(target_kind="namespace", target_name=ns.name) | Q(related_index__contains=f"|namespace:{ns.name}|")
    ).order_by("waived", "-severity_rank", "rule", "target")


def findings_for_instance(instance: Instance) -> QuerySet[DesignFinding]:
    """Findings about the instance itself first, then those about its namespaces."""
    return DesignFinding.objects.filter(instance=instance).order_by(
        "waived", "-target_kind", "-severity_rank", "rule", "target"
    )


def severity_counts(qs: QuerySet[DesignFinding]) -> list[tuple[str, int]]:
    """Unwaived findings per severity, most severe first, every severity present."""
    counts = dict(qs.filter(waived=False).values_list("severity").annotate(n=Count("id")).order_by())
    return [(s.value, counts.get(s.value, 0)) for s in SEVERITIES_HIGH_FIRST]


def top_rules(qs: QuerySet[DesignFinding], limit: int = 5) -> list[dict]:
    """The rules with the most unwaived findings, each with its count per severity present, most
    severe first (`severities`: [("high", 1), ("medium", 1)]): a rule's findings need not share a
    severity (the policy or a threshold sets it per finding). Two queries whatever the limit."""
    open_findings = qs.filter(waived=False)
    rows = list(
        open_findings.values("rule", "title")
        .annotate(n=Count("id"), rank=Max("severity_rank"))
        .order_by("-n", "-rank", "rule")[:limit]
    )
    per_rule: dict[str, dict[str, int]] = {}
    for rule, severity, n in (
        open_findings.filter(rule__in=[r["rule"] for r in rows])
        .values_list("rule", "severity")
        .annotate(n=Count("id"))
        .order_by()
    ):
        per_rule.setdefault(rule, {})[severity] = n
    return [
        {
            **row,
            "severity": _RANK_NAMES[row["rank"]],  # the highest, e.g. for a colour
            "severities": [
                (s.value, per_rule[row["rule"]][s.value])
                for s in SEVERITIES_HIGH_FIRST
                if per_rule.get(row["rule"], {}).get(s.value)
            ],
        }
        for row in rows
    ]


_RANK_NAMES = {s.rank: s.value for s in Severity}


# Sizing for the instance page ----------------------------------------------------------------


_CHART_SEGMENTS = 10


@dataclass
class SizingView:
    sizing: InstanceSizing
    medium_ratio: float
    high_ratio: float
    reserved_share: float

    def chart_data(self) -> dict:
        usable = self.sizing.usable_bytes or 1
        biggest = sorted(self.sizing.namespaces, key=lambda s: -s.memory_bytes)
        segments = [{"name": ns.name, "bytes": ns.memory_bytes} for ns in biggest[:_CHART_SEGMENTS]]
        rest = sum(ns.memory_bytes for ns in biggest[_CHART_SEGMENTS:])
        if rest:
            # A legend of hundreds of names helps nobody; the table below lists them all.
            segments.append({"name": f"{len(biggest) - _CHART_SEGMENTS} others", "bytes": rest})
        return {
            "instance": self.sizing.instance,
            "usable_bytes": self.sizing.usable_bytes,
            "total_bytes": self.sizing.total_bytes,
            "thresholds": {"medium": self.medium_ratio, "high": self.high_ratio},
            "namespaces": [{**seg, "share": seg["bytes"] / usable} for seg in segments],
        }

    @property
    def rows(self) -> list[dict]:
        usable = self.sizing.usable_bytes or 1
        return [
            {"sizing": ns, "share": ns.memory_bytes / usable}
            for ns in sorted(self.sizing.namespaces, key=lambda s: -s.memory_bytes)
        ]

    @property
    def level(self) -> str:
        ratio = self.sizing.usage_ratio
        return "high" if ratio > self.high_ratio else "medium" if ratio > self.medium_ratio else "ok"


def instance_design(instance: Instance) -> core.Design:
    """The registry's slice for one instance: the instance, its namespaces and their teams.

    Pages about one instance use it instead of `registry_design()`, which converts everything.
    """
    namespaces = list(
        instance.namespaces.select_related("team", "instance")
        .prefetch_related("multi_key_with")
        .order_by("name")
    )
    local = {ns.name for ns in namespaces}
    teams = {ns.team.name: ns.team for ns in namespaces}
    return core.Design(
        version=1,
        teams=[team_to_core(teams[name]) for name in sorted(teams)],
        instances=[instance_to_core(instance)],
        namespaces=[
            core.Namespace.model_validate(
                namespace_data(
                    ns, multi_key_with=sorted(o.name for o in ns.multi_key_with.all() if o.name in local)
                )
            )
            for ns in namespaces
        ],
    )


def instance_sizing_view(instance: Instance) -> SizingView:
    """The sizing model's estimate for one instance, with the INS007 thresholds in force."""
    thresholds = dict(get_rule("INS007").thresholds)
    policy = Policy.objects.filter(pk=1).first()
    if policy is not None:
        thresholds.update({k: v for k, v in (policy.thresholds or {}).items() if k in thresholds})
    reserved = thresholds["INS007.reserved_share"]
    return SizingView(
        sizing=instance_sizing(instance_design(instance), instance.name, reserved_share=reserved),
        medium_ratio=thresholds["INS007.medium_ratio"],
        high_ratio=thresholds["INS007.high_ratio"],
        reserved_share=reserved,
    )
