"""Recording the audit trail. Each place that changes something calls `audit_record` once (or
`audit_change` / `audit_delete`, which say create, update or delete for it).

The trail is generic: it knows no other app. The caller names the object (`obj_type`,
`obj_name`) and hands over its values before and after as plain, JSON-ready dicts, built where the
object lives (the registry's design entries in advisor.registry.services, a review's record in
advisor.reviews.trail), so that they read like what a reviewer already knows. None of them ever
carries a secret: instances hold a connection URL without password and a credential reference
by construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from advisor.lib.dicts import flatten

from .models import AuditEvent


def audit_record(*, actor, action: str, obj_type: str, obj_name: str, before=None, after=None) -> AuditEvent:
    """Append one event. `actor` is a user, or None for the system (a management command)."""
    real = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=real,
        actor_name=real.get_username() if real else "",
        action=action,
        obj_type=obj_type,
        obj_name=str(obj_name)[:200],
        before=before,
        after=after,
    )


def audit_change(
    *, actor, obj_type: str, obj_name: str, before: dict | None, after: dict, action: str | None = None
) -> AuditEvent | None:
    """Record a create (`before` None) or an update, given the values before and after.

    Saves that changed nothing are not recorded: the trail lists changes, not clicks.
    """
    if before == after:
        return None
    return audit_record(
        actor=actor,
        action=action or ("create" if before is None else "update"),
        obj_type=obj_type,
        obj_name=obj_name,
        before=before,
        after=after,
    )


def audit_changes(*, actor, action: str, changes: Iterable[tuple[str, str, dict | None, dict]]) -> int:
    """`audit_change` for many objects at once (a design import), in one insert: `changes` are
    (obj_type, obj_name, before, after), recorded in that order; those that changed nothing are
    left out. Returns how many events were recorded."""
    real = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    events = [
        AuditEvent(
            actor=real,
            actor_name=real.get_username() if real else "",
            action=action,
            obj_type=obj_type,
            obj_name=str(obj_name)[:200],
            before=before,
            after=after,
        )
        for obj_type, obj_name, before, after in changes
        if before != after
    ]
    AuditEvent.objects.bulk_create(events, batch_size=500)
    return len(events)


def audit_delete(*, actor, obj_type: str, obj_name: str, before: dict) -> AuditEvent:
    """Record a deletion, with the values the object had (read before it went)."""
    return audit_record(
        actor=actor, action="delete", obj_type=obj_type, obj_name=obj_name, before=before, after=None
    )


def flat_diff(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each dotted field that differs; lists compare as a whole."""
    old = flatten(before) if isinstance(before, dict) else ({"": before} if before is not None else {})
    new = flatten(after) if isinstance(after, dict) else ({"": after} if after is not None else {})
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b:
            rows.append((key, a, b))
    return rows
