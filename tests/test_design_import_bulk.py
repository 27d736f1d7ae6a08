"""The design import writes in bulk: a file that changes every row leaves the registry exactly as
the file says (numbers, booleans, lists, dates, references, multi_key_with), with one audit event
per changed row and the changed rows' update times moved on."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.audit.models import AuditEvent
from advisor.core import design as core
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import design_import, registry_design
from tests.conftest import demo_design

pytestmark = pytest.mark.django_db


def _everything_changed(design: core.Design) -> core.Design:
    namespaces = [
        ns.model_copy(
            update={
                "cardinality": ns.cardinality + 1,
                "contains": [] if ns.contains else ["pii"],
                "negative_cache": not ns.negative_cache,
                "description": ns.description + " (changed)",
                "team": "identity" if ns.team != "identity" else "catalog",
                "multi_key_with": [],
            }
        )
        for ns in design.namespaces
    ]
    instances = [
        i.model_copy(update={"memory_gb": i.memory_gb + 0.5, "tls": not i.tls}) for i in design.instances
    ]
    waivers = [
        w.model_copy(update={"reason": w.reason + " (renewed)", "expires": w.expires + dt.timedelta(days=1)})
        for w in design.waivers
    ]
    teams = [t.model_copy(update={"contact": f"{t.name}@contoso.example"}) for t in design.teams]
    return design.model_copy(
        update={"teams": teams, "instances": instances, "namespaces": namespaces, "waivers": waivers}
    )


def test_a_file_that_changes_every_row_is_written_whole(demo_registry, admin_user):
    stamps = dict(Namespace.objects.values_list("name", "updated_at"))
    events = AuditEvent.objects.count()
    changed = _everything_changed(demo_design())

    summary = design_import(changed, user=admin_user)

    counts = {kind: len(getattr(changed, kind)) for kind in ("teams", "instances", "namespaces", "waivers")}
    assert summary.updated == counts and sum(summary.created.values()) == sum(summary.unchanged.values()) == 0
    merged = registry_design()
    for kind in ("teams", "instances", "namespaces", "waivers"):
        key = (lambda w: (w.rule, w.target)) if kind == "waivers" else (lambda row: row.name)
        assert getattr(merged, kind) == sorted(getattr(changed, kind), key=key), kind
    assert all(Namespace.objects.get(name=name).updated_at > stamp for name, stamp in stamps.items())
    recorded = AuditEvent.objects.filter(action="import", actor=admin_user)
    assert AuditEvent.objects.count() - events == sum(counts.values()) == recorded.count()
    assert all(event.before and event.after and event.before != event.after for event in recorded)
    assert set(Waiver.objects.values_list("created_by", flat=True)) == {admin_user.pk}


def test_importing_the_file_again_changes_nothing(demo_registry):
    changed = _everything_changed(demo_design())
    design_import(changed)
    events = AuditEvent.objects.count()
    stamps = list(Instance.objects.order_by("pk").values_list("updated_at", flat=True))
    again = design_import(changed)
    assert sum(again.updated.values()) == sum(again.created.values()) == 0
    assert AuditEvent.objects.count() == events
    assert list(Instance.objects.order_by("pk").values_list("updated_at", flat=True)) == stamps
    assert Team.objects.get(name="catalog").contact == "catalog@contoso.example"
