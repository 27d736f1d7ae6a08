"""Recording the audit trail. Each place that changes something calls `audit_record` once.

Snapshots are design-file shaped dicts (what `namespace_data` returns), so before and after read
like the design file a reviewer already knows. None of them ever carries a secret: instances hold
a connection URL without password and a credential reference by construction.
"""

from __future__ import annotations

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


# Snapshots of registry objects ---------------------------------------------------------------


def team_data(team) -> dict:
    from advisor.registry.services import team_data as design_entry

    # Membership is audited too, though it is not part of a design file.
    return {**design_entry(team), "members": sorted(u.get_username() for u in team.members.all())}


def instance_data(instance) -> dict:
    from advisor.registry.services import instance_data as design_entry

    return design_entry(instance)


def waiver_data(waiver) -> dict:
    return {
        "rule": waiver.rule,
        "target": waiver.target,
        "reason": waiver.reason,
        "expires": waiver.expires.isoformat()
        if hasattr(waiver.expires, "isoformat")
        else str(waiver.expires),
        "approved_by": waiver.approved_by,
    }


def object_data(obj) -> dict:
    """The snapshot of any audited registry object."""
    from advisor.registry.models import Instance, Namespace, Team, Waiver
    from advisor.registry.services import namespace_data

    if isinstance(obj, Namespace):
        return namespace_data(obj)
    if isinstance(obj, Instance):
        return instance_data(obj)
    if isinstance(obj, Team):
        return team_data(obj)
    if isinstance(obj, Waiver):
        return waiver_data(obj)
    raise TypeError(f"no audit snapshot for {type(obj).__name__}")


def object_type(obj) -> str:
    return type(obj).__name__.lower()


def object_name(obj) -> str:
    from advisor.registry.models import Waiver

    return f"{obj.rule} on {obj.target}" if isinstance(obj, Waiver) else obj.name


def audit_change(*, actor, before: dict | None, obj, action: str | None = None) -> AuditEvent | None:
    """Record a create or update of a registry object, given its snapshot from before the change.

    Saves that changed nothing are not recorded: the trail lists changes, not clicks.
    """
    after = object_data(obj)
    if before == after:
        return None
    return audit_record(
        actor=actor,
        action=action or ("create" if before is None else "update"),
        obj_type=object_type(obj),
        obj_name=object_name(obj),
        before=before,
        after=after,
    )


def audit_delete(*, actor, obj, before: dict | None = None) -> AuditEvent:
    """Record a deletion; pass `before` when the row is already gone (its relations with it)."""
    return audit_record(
        actor=actor,
        action="delete",
        obj_type=object_type(obj),
        obj_name=object_name(obj),
        before=before if before is not None else object_data(obj),
        after=None,
    )


# Design import -------------------------------------------------------------------------------


def _named_objects(design) -> list:
    from advisor.registry.models import Instance, Namespace, Team, Waiver

    objs: list = []
    objs += list(Team.objects.filter(name__in=[t.name for t in design.teams]))
    objs += list(Instance.objects.filter(name__in=[i.name for i in design.instances]))
    objs += list(
        Namespace.objects.filter(name__in=[n.name for n in design.namespaces]).select_related(
            "team", "instance"
        )
    )
    for w in design.waivers:
        objs += list(Waiver.objects.filter(rule=w.rule, target=w.target))
    return objs


def import_snapshot(design) -> dict[tuple[str, str], dict]:
    """The registry objects a design file is about to touch, as they are now."""
    return {(object_type(o), object_name(o)): object_data(o) for o in _named_objects(design)}


def audit_import(*, actor, design, before: dict[tuple[str, str], dict]) -> int:
    """One event per object a design import created or changed; returns how many."""
    recorded = 0
    for obj in _named_objects(design):
        key = (object_type(obj), object_name(obj))
        if audit_change(actor=actor, before=before.get(key), obj=obj, action="import") is not None:
            recorded += 1
    return recorded
