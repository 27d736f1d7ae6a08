"""The diff between two revisions' snapshots: namespaces added, removed and changed field by field."""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor.lib.dicts import flatten

from .models import Review


@dataclass
class NamespaceChange:
    name: str
    fields: list[tuple[str, object, object]]


@dataclass
class Diff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[NamespaceChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict:
        return {
            "added": [ns["name"] for ns in self.added],
            "removed": [ns["name"] for ns in self.removed],
            "changed": [
                {
                    "name": c.name,
                    "fields": [{"field": f, "before": old, "after": new} for f, old, new in c.fields],
                }
                for c in self.changed
            ],
            "unchanged": self.unchanged,
        }


def snapshot_diff(base: list[dict] | None, current: list[dict]) -> Diff:
    """Namespaces added, removed and changed (field by field, dotted for nested values)."""
    old = {ns["name"]: ns for ns in base or []}
    new = {ns["name"]: ns for ns in current}
    diff = Diff()
    for name in sorted(set(old) | set(new)):
        if name not in old:
            diff.added.append(new[name])
        elif name not in new:
            diff.removed.append(old[name])
        else:
            a, b = flatten(old[name]), flatten(new[name])
            fields = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            if fields:
                diff.changed.append(NamespaceChange(name, fields))
            else:
                diff.unchanged.append(name)
    return diff


def review_diff(review: Review) -> Diff:
    """Against the approved revision it is compared with: what approving it would change."""
    return snapshot_diff(review.base.snapshot if review.base else None, review.snapshot)


def revision_diff(review: Review) -> Diff | None:
    """Against the revision it follows (the one it resubmits, or the team's last one): what changed
    between two submissions. None for a team's first revision."""
    if review.previous_id is None:
        return None
    return snapshot_diff(review.previous.snapshot, review.snapshot)
