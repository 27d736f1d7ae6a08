"""What the pages show of the stored findings: reads only, never a recomputation.

The registry's namespace and instance pages include the findings through template tags
(`namespace_findings`, `instance_findings`, `instance_sizing` in findings_tags), which ask here:
the registry imports no findings module, since findings reads the registry.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from advisor.core.findings import SEVERITIES_HIGH_FIRST
from advisor.registry import permissions
from advisor.registry.models import Instance, Namespace

from . import clock, services
from .models import DesignFinding, FindingsRun


@dataclass(frozen=True)
class FindingsAge:
    """When the stored findings were computed (None: never), and whether the day or the registry
    has moved on since: a refresh failed, a row was changed around the write services, or the
    nightly job has not run yet. Pages then say "findings as of" rather than recompute."""

    computed_at: dt.datetime | None
    stale: bool


def findings_age() -> FindingsAge:
    run = FindingsRun.objects.filter(pk=1).first()
    if run is None:
        # Nothing stored: stale unless there is nothing to lint either.
        return FindingsAge(computed_at=None, stale=Instance.objects.exists())
    return FindingsAge(
        computed_at=run.computed_at, stale=not services.findings_current(run, today=clock.today())
    )


def namespace_findings(ns: Namespace, user) -> dict:
    """The findings card of a namespace's page: its findings and pair findings naming it."""
    return {
        **_findings_context(list(services.findings_for_namespace(ns)), user),
        "here": f"namespace:{ns.name}",
    }


def instance_findings(instance: Instance, user) -> dict:
    """The findings card of an instance's page: its own findings, then its namespaces'."""
    return {
        **_findings_context(list(services.findings_for_instance(instance)), user),
        "here": f"instance:{instance.name}",
    }


def _findings_context(findings: list[DesignFinding], user) -> dict:
    open_counts = Counter(f.severity for f in findings if not f.waived)
    return {
        "findings": findings,
        "finding_counts": [(s.value, open_counts[s.value]) for s in SEVERITIES_HIGH_FIRST],
        "waived_count": sum(1 for f in findings if f.waived),
        "can_manage_waivers": permissions.can_manage_waivers(user),
        "age": findings_age(),
    }
