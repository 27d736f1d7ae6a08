"""What the pages of other apps show of the stored findings: reads only.

The registry's namespace and instance pages include the findings through template tags
(`namespace_findings`, `instance_findings`, `instance_sizing` in findings_tags), which ask here:
the registry imports no findings module, since findings reads the registry.
"""

from __future__ import annotations

from collections import Counter

from advisor.core.findings import SEVERITIES_HIGH_FIRST
from advisor.registry import permissions
from advisor.registry.models import Instance, Namespace

from . import services
from .models import DesignFinding


def namespace_findings(ns: Namespace, user) -> dict:
    """The findings card of a namespace's page: its findings and pair findings naming it."""
    services.findings_ensure_fresh()
    return {
        **_findings_context(list(services.findings_for_namespace(ns)), user),
        "here": f"namespace:{ns.name}",
    }


def instance_findings(instance: Instance, user) -> dict:
    """The findings card of an instance's page: its own findings, then its namespaces'."""
    services.findings_ensure_fresh()
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
    }
