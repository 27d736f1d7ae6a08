"""A team's design as a review sees it: the snapshot a revision freezes, its content hash, the
rule engine's findings, the sizing, the live drift, and the team's review status."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.utils import timezone

from advisor.core.engine import lint_design
from advisor.core.findings import Finding
from advisor.core.sizing import design_sizing, namespace_sizing
from advisor.registry.models import Namespace, Team
from advisor.registry.services import namespace_data, registry_design

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


def local_today() -> dt.date:
    return timezone.localdate()


def team_findings(team: Team, *, design=None, today: dt.date | None = None) -> list[Finding]:
    """The rule engine's findings about the team's namespaces, policy and waivers applied."""
    design = design if design is not None else registry_design()
    targets = {f"namespace:{ns.name}" for ns in design.namespaces if ns.team == team.name}
    result = lint_design(design, today=today or local_today())
    return [f for f in result.findings if f.target in targets]


def blocking_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.waived and f.severity >= BLOCKING]


def team_sizing(team: Team, *, design=None) -> dict:
    """Memory estimate of the team's namespaces, and the share they take of each instance."""
    design = design if design is not None else registry_design()
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
