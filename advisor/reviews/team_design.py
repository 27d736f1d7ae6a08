"""A team's design as a review sees it: the snapshot a revision freezes, its content hash, the
rule engine's findings, the sizing, the live drift, and the team's review status."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.utils import timezone

from advisor.core import design as core
from advisor.core.engine import lint_design
from advisor.core.findings import Finding
from advisor.core.sizing import design_sizing, namespace_sizing
from advisor.findings.models import DesignFinding
from advisor.registry.models import Instance, Namespace, Team
from advisor.registry.services import instance_to_core, namespace_data, namespace_entries, registry_design

from .drift import team_drift
from .models import Review, ReviewState
from .states import BLOCKING, S


def team_snapshot(team: Team) -> list[dict]:
    """The team's namespaces as design-file dicts, sorted by name: what a revision freezes."""
    namespaces = (
        Namespace.objects.filter(team=team)
        .select_related("team", "instance")
        .prefetch_related("multi_key_with")
        .order_by("name")
    )
    return [namespace_data(ns) for ns in namespaces]


def content_hash(snapshot: list[dict]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def team_content_hashes(teams: list[Team]) -> dict[int, str]:
    """The live content hash of each team, by team id: what `content_hash(team_snapshot(team))`
    gives, from one read of all their namespaces instead of one per team."""
    snapshots: dict[str, list[dict]] = {team.name: [] for team in teams}
    for entry in namespace_entries(Namespace.objects.filter(team__in=[team.pk for team in teams])):
        snapshots[entry["team"]].append(entry)  # in name order, as team_snapshot has them
    return {team.pk: content_hash(snapshots[team.name]) for team in teams}


def local_today() -> dt.date:
    return timezone.localdate()


def team_findings(team: Team, *, design=None, today: dt.date | None = None) -> list[Finding]:
    """The rule engine's findings about the team's namespaces, policy and waivers applied."""
    design = design if design is not None else registry_design()
    targets = {f"namespace:{ns.name}" for ns in design.namespaces if ns.team == team.name}
    result = lint_design(design, today=today or local_today())
    return [f for f in result.findings if f.target in targets]


def team_stored_findings(team: Team) -> list[Finding]:
    """The stored findings about the team's namespaces, in the rule engine's order: the same as
    `team_findings` as long as the stored findings are fresh, and the writes keep them fresh. For
    the team's page; a submission lints for real (`team_findings`)."""
    # By id among equals: the rows were stored in the engine's order.
    order = ("-severity_rank", "rule", "target", "id")
    stored = DesignFinding.objects.filter(team=team, target_kind="namespace").order_by(*order)
    return [Finding.model_validate(row.as_finding()) for row in stored]


def blocking_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.waived and f.severity >= BLOCKING]


def _hosting_design(team: Team) -> core.Design:
    """What the team's sizing reads of the registry: the instances hosting its namespaces and
    every namespace on them, whoever owns it (an instance's usage counts them all)."""
    hosts = list(Instance.objects.filter(namespaces__team=team).distinct().order_by("name"))
    entries = namespace_entries(Namespace.objects.filter(instance__in=[i.pk for i in hosts]))
    return core.Design.model_validate(
        {
            "version": 1,
            "teams": [],
            "instances": [instance_to_core(i) for i in hosts],
            "namespaces": [core.Namespace.model_validate(entry) for entry in entries],
        },
        context={"_references_checked": True},  # a slice: its teams are left out
    )


def team_sizing(team: Team, *, design=None) -> dict:
    """Memory estimate of the team's namespaces, and the share they take of each instance.

    Without `design`, from the instances hosting the team's namespaces only."""
    design = design if design is not None else _hosting_design(team)
    mine = [ns for ns in design.namespaces if ns.team == team.name]
    per_instance = design_sizing(design)
    instances = []
    for name in sorted({ns.instance for ns in mine}):
        sizing = per_instance[name]
        team_bytes = sum(s.memory_bytes for s in sizing.namespaces if s.name in {n.name for n in mine})
        instances.append(
            {
                "instance": name,
                "memory_gb": sizing.memory_gb,
                "usable_bytes": sizing.usable_bytes,
                "team_bytes": team_bytes,
                "total_bytes": sizing.total_bytes,
                "usage_ratio": round(sizing.usage_ratio, 4),
            }
        )
    namespaces = [namespace_sizing(ns).model_dump() | {"instance": ns.instance} for ns in mine]
    return {
        "namespaces": namespaces,
        "instances": instances,
        "total_bytes": sum(n["memory_bytes"] for n in namespaces),
    }


def snapshot_drift(snapshot: list[dict], *, today: dt.date | None = None) -> dict:
    """The live drift of the namespaces in `snapshot` and the instances hosting them."""
    return team_drift(
        namespaces=[ns["name"] for ns in snapshot],
        instances=sorted({ns["instance"] for ns in snapshot}),
        today=today,
    )


@dataclass
class TeamStatus:
    team: Team
    approved: Review | None
    open: Review | None
    live_hash: str
    snapshot: list[dict]

    @property
    def changed_since_approved(self) -> bool:
        return self.approved is None or self.approved.content_hash != self.live_hash

    @property
    def open_is_current(self) -> bool:
        """The open review shows exactly what the registry holds now."""
        return self.open is not None and self.open.content_hash == self.live_hash

    @property
    def label(self) -> str:
        if self.open is not None and self.open.state != S.DRAFT:
            return f"{ReviewState(self.open.state).label} (revision {self.open.number})"
        if self.approved is None:
            return "draft (never approved)" if self.snapshot else "no namespaces"
        if self.changed_since_approved:
            return f"draft (changes since approved revision {self.approved.number})"
        return f"approved (revision {self.approved.number})"


def team_status(team: Team) -> TeamStatus:
    snapshot = team_snapshot(team)
    return TeamStatus(
        team=team,
        approved=Review.objects.filter(team=team, state=S.APPROVED).order_by("-number").first(),
        open=Review.objects.open().filter(team=team).first(),
        live_hash=content_hash(snapshot),
        snapshot=snapshot,
    )


def team_revisions(team: Team):
    """Every revision of the team, newest first: none is ever overwritten."""
    return Review.objects.filter(team=team).select_related("submitted_by", "decided_by").order_by("-number")
