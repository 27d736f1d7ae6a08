"""DUR: durability rules."""

from __future__ import annotations

from collections.abc import Iterable

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.rules.base import DesignContext, Rule, instance_target, namespace_target


def _durable_without_source(ctx: DesignContext) -> Iterable:
    return (ns for ns in ctx.design.namespaces if ns.classification == "durable" and not ns.source_of_truth)


class DUR001(Rule):
    """Redis holds the only copy of durable data, and only in memory.

    **Why it matters.** Redis is not automatically a durable system of record: memory pressure can
    evict keys, failover can lose recently replicated writes, and operators can flush or replace an
    instance. Without persistence and without a source of truth, any restart loses the data for
    good.

    **What to do instead.** Keep an authoritative data source for business-critical records and
    treat Redis as a projection of it; if Redis really must be the primary store, enable
    persistence (AOF) and HA and do the recovery analysis.

    **Bad**

    ```yaml
    instances:
      - {name: state, persistence: none, ...}
    namespaces:
      - {name: orders, instance: state, classification: durable, source_of_truth: null, ...}
    ```

    **Good**

    ```yaml
    namespaces:
      - {name: orders, instance: state, classification: durable, source_of_truth: orders-sql.orders, ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/how-to-persistence> (Azure Managed Redis),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-persistence>
    (Azure Cache for Redis: Premium only).
    """

    id = "DUR001"
    title = "Only copy of durable data held in memory"
    default_severity = Severity.high
    remediation = (
        "Store the records in an authoritative database and set `source_of_truth`; if Redis must stay the "
        "system of record, enable persistence (AOF) and high availability and document recovery."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in _durable_without_source(ctx):
            inst = ctx.instance_of(ns)
            if inst.persistence == "none":
                entry = platform.tier(inst.product, inst.tier)
                fix = None
                if entry is not None and not entry.persistence:
                    fix = (
                        "Store the records in an authoritative database and set `source_of_truth`; "
                        f"{entry.title} offers no data persistence, so if Redis must stay the system of record "
                        "it needs a tier that does (Azure Managed Redis), with high availability and a "
                        "documented recovery."
                    )
                yield self.finding(
                    namespace_target(ns.name),
                    f"Durable namespace {ns.name} ({ns.cardinality:,} keys) has no `source_of_truth` and "
                    f"instance {inst.name} has `persistence: none`: a restart or flush loses the only copy.",
                    fix,
                    related=[instance_target(inst.name)],
                )


class DUR002(Rule):
    """Redis is the system of record for a durable namespace (it has no source of truth).

    **Why it matters.** Persistence helps recovery but does not guarantee that every acknowledged
    write survives every failure (replication is asynchronous; snapshots have a recovery point).
    Using Redis as the primary data platform is possible, but it needs an explicit analysis of
    durability guarantees, replication lag, restore behaviour, backup retention and regional
    recovery. Do not let a cache gradually become the only copy of business-critical data.

    **What to do instead.** Name the authoritative store in `source_of_truth`, or document the
    recovery analysis and waive this finding with that reason.

    **Bad**

    ```yaml
    - {name: carts, classification: durable, source_of_truth: null, ...}   # instance has persistence: aof
    ```

    **Good**

    ```yaml
    - {name: carts, classification: durable, source_of_truth: carts-sql.carts, ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/how-to-persistence> (Azure Managed Redis),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-persistence>
    (Azure Cache for Redis: Premium only).
    """

    id = "DUR002"
    title = "Redis is the system of record"
    default_severity = Severity.medium
    remediation = (
        "Name the authoritative store in `source_of_truth`, or write down the recovery analysis (recovery "
        "point and time, backups, regional recovery) and record it as a waiver."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in _durable_without_source(ctx):
            inst = ctx.instance_of(ns)
            if inst.persistence != "none":
                yield self.finding(
                    namespace_target(ns.name),
                    f"Durable namespace {ns.name} has no `source_of_truth`: Redis (instance {inst.name}, "
                    f"persistence `{inst.persistence}`) is its system of record.",
                    related=[instance_target(inst.name)],
                )


class DUR003(Rule):
    """An instance with persistence hosts only disposable cache entries.

    **Why it matters.** For a disposable cache, persistence adds storage and performance cost
    without need: everything on the instance can be rebuilt from its source.

    **What to do instead.** Turn persistence off (`persistence: none`), unless rebuilding the
    cache is so slow or costly that a warm restart matters; then waive this finding with that
    reason.

    **Bad**

    ```yaml
    instances:
      - {name: cache, persistence: aof, ...}   # hosts only disposable namespaces
    ```

    **Good**

    ```yaml
    instances:
      - {name: cache, persistence: none, ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/how-to-persistence> (Azure Managed Redis),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-persistence>
    (Azure Cache for Redis: Premium only).
    """

    id = "DUR003"
    title = "Persistence on a pure cache"
    default_severity = Severity.info
    remediation = "Set `persistence: none` unless a warm restart of the cache is worth its cost."

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            hosted = ctx.namespaces_on(inst.name)
            if (
                inst.persistence != "none"
                and hosted
                and all(ns.classification == "disposable" for ns in hosted)
            ):
                yield self.finding(
                    instance_target(inst.name),
                    f"Instance {inst.name} has persistence `{inst.persistence}` but hosts only disposable "
                    f"namespaces ({len(hosted)}).",
                )


RULES: list[Rule] = [DUR001(), DUR002(), DUR003()]
