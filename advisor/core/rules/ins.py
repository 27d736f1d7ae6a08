"""INS: instance rules (product lifecycle, availability, access, sizing)."""

from __future__ import annotations

from collections.abc import Iterable

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.rules.base import DesignContext, Rule, instance_target, namespace_target
from advisor.core.units import format_bytes

# Announced retirement of Azure Cache for Redis, per tier, as the platform catalog has it
# (platform.retirement_date is the lookup; this table is for callers that list them).
ACR_RETIREMENT = {t.name: t.retires for t in platform.tiers(platform.ACR) if t.retires is not None}
RETIREMENT_WARNING_DAYS = platform.RETIREMENT_WARNING_DAYS
KIB = 1024


class INS001(Rule):
    """The instance runs on a retiring Azure Cache for Redis tier.

    **Why it matters.** Every Azure Cache for Redis tier has an announced retirement date:
    Enterprise and Enterprise Flash on 2027-03-31, Basic, Standard and Premium on 2028-09-30.
    The service keeps running until then but is not the strategic default; Azure Managed Redis is
    the recommended destination. Migrations take planning (new hostnames and authentication,
    cluster-aware clients, hash slots), so the finding grows more severe as the date approaches:
    medium, high within 180 days, critical after the date.

    **What to do instead.** Plan the migration to Azure Managed Redis: new hostname and
    authentication configuration, client compatibility with clustering, multi-key commands and
    hash slots, memory and performance sizing, persistence and availability settings, network and
    private endpoints, cutover and rollback, and whether the data can be rebuilt or must be copied.
    `python manage.py plan_migration NAME` drafts the plan for a registered instance.

    **Bad**

    ```yaml
    product: azure-cache-for-redis
    tier: premium
    ```

    **Good**

    ```yaml
    product: azure-managed-redis
    tier: balanced
    ```

    **Sources.** <https://learn.microsoft.com/azure/azure-cache-for-redis/retirement-faq>
    (retirement dates), <https://learn.microsoft.com/azure/redis/migrate/migrate-overview>
    (migration to Azure Managed Redis).
    """

    id = "INS001"
    title = "Retiring Azure Cache for Redis tier"
    default_severity = Severity.medium
    remediation = (
        "Migrate to Azure Managed Redis before the retirement date. Checklist: new hostname and "
        "authentication (Entra ID), cluster-aware client and multi-key commands / hash slots (CROSSSLOT), "
        "memory and throughput sizing, persistence and HA settings, private endpoints and network, cutover "
        "and rollback plan, and whether the data can be rebuilt (warm the new cache) or must be migrated "
        "(sessions, queues, idempotency records)."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            retires = platform.retirement_date(inst.product, inst.tier)
            if retires is None:
                continue
            days_left = (retires - ctx.today).days
            if days_left < 0:
                severity = Severity.critical
                when = f"retired on {retires.isoformat()}, {-days_left} days ago"
            else:
                severity = Severity.high if days_left <= RETIREMENT_WARNING_DAYS else Severity.medium
                when = f"retires on {retires.isoformat()}, {days_left} days from {ctx.today.isoformat()}"
            guide = (
                platform.AMR_MIGRATE_ENTERPRISE
                if inst.tier in ("enterprise", "enterprise-flash")
                else platform.AMR_MIGRATE_BSP
            )
            yield self.finding(
                instance_target(inst.name),
                f"Instance {inst.name} runs on Azure Cache for Redis {inst.tier}, which {when}.",
                f"{self.remediation} Guide: {guide}; `python manage.py plan_migration {inst.name}` drafts the plan.",
                severity=severity,
            )


class INS002(Rule):
    """A production instance has no high availability (or runs on the ACR Basic tier).

    **Why it matters.** Non-HA mode lacks the availability SLA and can cause downtime and data
    loss during node failure, maintenance and scaling; it is suitable only for development and test
    workloads. The Azure Cache for Redis Basic tier is a single node with no replica.

    **What to do instead.** Enable high availability for production (primary and replica shards on
    separate nodes, zone-redundant where the region supports it).

    **Sources.** <https://learn.microsoft.com/azure/redis/high-availability>,
    <https://learn.microsoft.com/azure/redis/best-practices-development> (disable high availability
    only for development or test),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-high-availability> (Basic: a
    single node).

    **Bad**

    ```yaml
    environment: prod
    high_availability: false
    ```

    **Good**

    ```yaml
    environment: prod
    high_availability: true
    ```
    """

    id = "INS002"
    title = "Production instance without high availability"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if not inst.is_prod:
                continue
            entry = platform.tier(inst.product, inst.tier)
            basic = entry is not None and entry.high_availability == "never"
            reasons = []
            if not inst.high_availability:
                reasons.append("has `high_availability: false`")
            if basic:
                reasons.append(f"is on {entry.title} (a single node, no replica, no SLA)")
            if reasons:
                yield self.finding(
                    instance_target(inst.name),
                    f"Prod instance {inst.name} {' and '.join(reasons)}: a node failure or maintenance means "
                    "downtime and data loss.",
                    f"Move to Azure Managed Redis with high availability enabled ({entry.title} has no replica)."
                    if basic
                    else "Enable high availability (replicas on separate nodes, zone-redundant where available).",
                )


class INS003(Rule):
    """The instance does not use Microsoft Entra ID authentication.

    **Why it matters.** Production authentication should use Microsoft Entra ID and managed
    identity rather than long-lived access keys, which leak into configuration, cannot be scoped to
    one application, and need rotation. With `auth: none`, anyone who reaches the endpoint has full
    access (high severity).

    **What to do instead.** It depends on the product:

    - Azure Cache for Redis Basic, Standard and Premium: enable Entra ID, give each application a
      managed identity with a least-privilege data access policy, and disable access keys.
    - Azure Managed Redis: enable Entra ID with managed identities and disable access keys. Every
      Entra principal given data access gets full access to all commands and keys (there are no
      per-user access policies; per-user access strings are only in preview), so separate trust
      boundaries by instance, not by policy.
    - Azure Cache for Redis Enterprise and Enterprise Flash: Entra ID does not exist there. Keep the
      access keys in a secret store and rotate them, and migrate to Azure Managed Redis (the tier
      retires; see INS001).
    - Self-hosted Redis: use ACL users, one per application, with least-privilege rules.

    Entra ID authentication works over TLS connections only.

    **Sources.**
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-azure-active-directory-for-authentication>,
    <https://learn.microsoft.com/azure/redis/entra-for-authentication>,
    <https://learn.microsoft.com/azure/redis/migrate/migrate-redis-enterprise-understand> (no Entra
    ID on Azure Cache for Redis Enterprise).

    **Bad**

    ```yaml
    auth: access-key
    ```

    **Good**

    ```yaml
    auth: entra-id
    ```
    """

    id = "INS003"
    title = "Not using Entra ID authentication"
    default_severity = Severity.medium

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if inst.auth == "entra-id":
                continue
            fix = _auth_remediation(inst)
            if inst.auth == "none":
                yield self.finding(
                    instance_target(inst.name),
                    f"Instance {inst.name} has `auth: none`: anyone who reaches it can read and change every key.",
                    fix,
                    severity=Severity.high,
                )
            else:
                yield self.finding(
                    instance_target(inst.name),
                    f"Instance {inst.name} authenticates with `{inst.auth}` (a long-lived shared secret) "
                    "instead of Entra ID.",
                    fix,
                )


def _auth_remediation(inst) -> str:
    """What replaces shared secrets on this product and tier (Entra ID is not the same everywhere)."""
    entry = platform.tier(inst.product, inst.tier)
    if entry is None:
        return (
            "Self-hosted Redis has no Entra ID: create an ACL user per application with least-privilege "
            "command and key rules, keep the passwords in a secret store and rotate them, and disable the "
            "default user."
        )
    tls = "" if inst.tls else " Entra ID authentication works over TLS only: set `tls: true` first."
    if not entry.entra_id:
        retires = f", before the tier retires on {entry.retires.isoformat()}" if entry.retires else ""
        return (
            f"{entry.title} does not support Microsoft Entra ID: keep the access keys in a secret store "
            "(Key Vault) and rotate them, and migrate to Azure Managed Redis, where managed identities replace "
            f"them{retires}."
        )
    if not entry.entra_access_policies:
        return (
            "Enable Microsoft Entra ID, connect with managed identities and disable access keys. On "
            f"{entry.title} every Entra principal given data access can run every command on every key (no "
            "per-user access policies; per-user access strings are in preview only), so keep different "
            "trust boundaries on different instances." + tls
        )
    return (
        "Enable Microsoft Entra ID with a managed identity per application and a least-privilege data access "
        "policy for each (Data Reader, Data Contributor or a custom policy), then disable access keys." + tls
    )


class INS004(Rule):
    """The instance accepts connections without TLS.

    **Why it matters.** Without TLS, credentials and data (including any personal data in keys and
    values) cross the network in clear text. A secure design uses TLS for every client.

    **What to do instead.** Disable the non-TLS port and connect with `rediss://`.

    **Sources.** <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-configure> (the
    non-TLS port), <https://learn.microsoft.com/azure/redis/architecture>.

    **Bad**

    ```yaml
    tls: false
    ```

    **Good**

    ```yaml
    tls: true
    ```
    """

    id = "INS004"
    title = "Non-TLS access enabled"
    default_severity = Severity.high
    remediation = "Disable the non-TLS port (`tls: true`) and connect every client with `rediss://`."

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if not inst.tls:
                yield self.finding(
                    instance_target(inst.name),
                    f"Instance {inst.name} has a non-TLS port enabled (`tls: false`): credentials and data "
                    "travel in clear text.",
                )


class INS005(Rule):
    """The instance is reachable from the public network.

    **Why it matters.** Broad public access with long-lived keys instead of private networking and
    identity is a common mistake: a public endpoint is exposed to credential stuffing and scanning
    from the whole internet. High on production instances, medium elsewhere.

    **What to do instead.** Use private endpoints and disable public network access.

    **Sources.** <https://learn.microsoft.com/azure/redis/private-link>,
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-private-link>.

    **Bad**

    ```yaml
    public_network_access: true
    ```

    **Good**

    ```yaml
    public_network_access: false   # reached through a private endpoint
    ```
    """

    id = "INS005"
    title = "Public network access enabled"
    default_severity = Severity.medium
    remediation = "Disable public network access and reach the instance through a private endpoint."

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if inst.public_network_access:
                yield self.finding(
                    instance_target(inst.name),
                    f"{inst.environment.capitalize()} instance {inst.name} allows public network access.",
                    severity=Severity.high if inst.is_prod else Severity.medium,
                )


class INS006(Rule):
    """A Flash Optimized instance serves a write-heavy or small-value workload.

    **Why it matters.** Flash Optimized keeps keys in RAM and values in RAM or NVMe flash. It fits
    read-heavy workloads whose values are much larger than their keys; it is a poor fit for
    write-heavy workloads and for long keys with small values, where flash adds latency without
    saving memory.

    The rule fires when writes exceed 30% of the instance's declared operations, or when the
    typical value, weighted by each namespace's operations, is under 1 KiB.

    **What to do instead.** Use a Memory Optimized or Balanced tier for this workload, or move the
    write-heavy and small-value namespaces elsewhere.

    **Sources.** <https://learn.microsoft.com/azure/redis/flash-optimized-overview>,
    <https://learn.microsoft.com/azure/redis/best-practices-flash-optimized>.

    **Bad**

    ```yaml
    tier: flash-optimized   # counters: 5,000 writes/s, 16-byte values
    ```

    **Good**

    ```yaml
    tier: balanced
    ```
    """

    id = "INS006"
    title = "Poor fit for Flash Optimized"
    default_severity = Severity.medium
    remediation = (
        "Use a Memory Optimized or Balanced tier, or keep only read-heavy namespaces with large values on "
        "the Flash instance; validate with a load test on a nearly full, production-sized dataset."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if inst.tier != "flash-optimized":
                continue
            hosted = ctx.namespaces_on(inst.name)
            reads = sum(ns.ops_per_sec.reads for ns in hosted)
            writes = sum(ns.ops_per_sec.writes for ns in hosted)
            total = reads + writes
            reasons = []
            if total > 0:
                write_share = writes / total
                if write_share > 0.3:
                    reasons.append(f"writes are {write_share:.0%} of {total:,.0f} declared ops/s (over 30%)")
                typical = sum(
                    ns.value_bytes.typical * (ns.ops_per_sec.reads + ns.ops_per_sec.writes) for ns in hosted
                )
                typical /= total
                if typical < KIB:
                    reasons.append(f"the ops-weighted typical value is {typical:,.0f} bytes (under 1 KiB)")
            if reasons:
                yield self.finding(
                    instance_target(inst.name),
                    f"Flash Optimized instance {inst.name}: {'; '.join(reasons)}.",
                )


class INS007(Rule):
    """The namespaces' estimated memory fills too much of the instance.

    **Why it matters.** Redis has finite memory. Near the limit, the eviction policy decides what
    is lost (or writes fail with `noeviction`), latency and fragmentation grow, and there is no
    headroom for growth, failover or replication buffers. The estimate uses the sizing model:
    cardinality × (key bytes + typical value + 64, + 32 with a TTL), against the usable memory
    `memory_gb` × 2^30 × (1 − `INS007.reserved_share`). The reserve defaults to 20%: Azure
    Managed Redis keeps about 20% of a size's memory for the service, and Azure Cache for Redis
    reserves `maxmemory-reserved` plus `maxfragmentationmemory-reserved`, 10% each by default.
    High above 80% of usable memory, medium above 60%.

    **What to do instead.** Scale up (or out with shards), reduce value sizes, or shorten TTLs.

    **Bad**

    ```yaml
    memory_gb: 1     # namespaces estimated at 700 MiB: 85% of the 819 MiB usable
    ```

    **Good**

    ```yaml
    memory_gb: 3     # 28% of the 2,458 MiB usable
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> (Azure
    Managed Redis),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    and <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-configure> (Azure Cache for
    Redis: the reserved memory settings).

    Thresholds: `INS007.high_ratio` (default 0.8), `INS007.medium_ratio` (default 0.6),
    `INS007.reserved_share` (default 0.2, the share of `memory_gb` the sizing model keeps back; a
    cache whose reserve was raised or lowered can say so here).
    """

    id = "INS007"
    title = "Instance memory nearly full"
    default_severity = Severity.medium
    thresholds = {
        "INS007.high_ratio": 0.8,
        "INS007.medium_ratio": 0.6,
        "INS007.reserved_share": platform.RESERVED_SHARE,
    }
    remediation = (
        "Increase memory (a larger size or more shards), reduce value sizes, or shorten TTLs; keep the "
        "estimate below the medium ratio to leave headroom."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        high = ctx.threshold("INS007.high_ratio")
        medium = ctx.threshold("INS007.medium_ratio")
        for inst in ctx.design.instances:
            sizing = ctx.sizing[inst.name]
            ratio = sizing.usage_ratio
            if ratio > high:
                severity, limit = Severity.high, high
            elif ratio > medium:
                severity, limit = Severity.medium, medium
            else:
                continue
            yield self.finding(
                instance_target(inst.name),
                f"Namespaces on {inst.name} are estimated at {format_bytes(sizing.total_bytes)}, "
                f"{ratio:.0%} of its {format_bytes(sizing.usable_bytes)} usable memory "
                f"({inst.memory_gb:g} GB less the {sizing.reserved_share:.0%} reserve; over {limit:.0%}).",
                severity=severity,
            )


class INS008(Rule):
    """An actively geo-replicated instance hosts sessions.

    **Why it matters.** Active geo-replication converges eventually; a session can receive
    concurrent updates in two regions, and the business must define acceptable merge and conflict
    behaviour. Active-active multi-region session consistency is difficult.

    Active geo-replication is what Azure Managed Redis and Azure Cache for Redis Enterprise and
    Enterprise Flash offer. The geo-replication of Azure Cache for Redis Premium is passive: the
    secondary cache is read-only, so there are no concurrent regional writes and the rule does not
    fire.

    **What to do instead.** Route each user's session to one home region, keep session state per
    region, or document the conflict policy (and waive this finding with it).

    **Bad**

    ```yaml
    geo_replication: true    # hosts classification: session
    ```

    **Good**

    ```yaml
    geo_replication: false   # one session store per region, users pinned to a home region
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/how-to-active-geo-replication> (eventual
    consistency, conflict-free replicated data types),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-geo-replication> (Premium:
    passive, a read-only secondary).
    """

    id = "INS008"
    title = "Sessions on an actively geo-replicated instance"
    default_severity = Severity.medium
    remediation = (
        "Pin each user's session to a home region or keep sessions per region; otherwise define and test the "
        "conflict policy for concurrent regional writes."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if platform.geo_replication_kind(inst) != "active":
                continue
            sessions = [ns for ns in ctx.namespaces_on(inst.name) if ns.classification == "session"]
            if sessions:
                yield self.finding(
                    instance_target(inst.name),
                    f"Actively geo-replicated instance {inst.name} hosts session namespaces "
                    f"({', '.join(ns.name for ns in sessions)}): concurrent regional writes need a conflict policy.",
                    related=[namespace_target(ns.name) for ns in sessions],
                )


class INS009(Rule):
    """The design describes a configuration the product and tier do not offer.

    **Why it matters.** A design that cannot exist is wrong somewhere, and every other finding
    about it rests on the wrong facts: clustering on Azure Cache for Redis Basic or Standard, data
    persistence or geo-replication below Premium, high availability on the single-node Basic tier
    (or none on Standard and Premium, which always replicate), the Enterprise cluster policy on
    Premium, Microsoft Entra ID on Azure Cache for Redis Enterprise, Entra ID without TLS, an Azure
    Managed Redis cache non-clustered above 25 GB, persistence together with active
    geo-replication, geo-replication on a size that lacks it or without high availability, a
    `sku` that is not a size of the tier or whose memory disagrees with `memory_gb`, the Enterprise
    cluster policy on self-hosted Redis. Either the design does not match the deployed cache, or
    the plan relies on a feature that is not there. One finding per impossible combination.

    **What to do instead.** Describe the cache as it is deployed, or choose a product, tier and
    size that offer what the design needs. The finding names the Microsoft Learn page of the fact.

    **Bad**

    ```yaml
    product: azure-cache-for-redis
    tier: standard
    clustering: oss
    persistence: rdb
    ```

    **Good**

    ```yaml
    product: azure-cache-for-redis
    tier: premium
    clustering: oss
    persistence: rdb
    ```

    **Sources.** The platform catalog (`advisor/core/platform.py`) and the pages it cites:
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-clustering>,
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-persistence>,
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-geo-replication>,
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-high-availability>,
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-configure> (sizes),
    <https://learn.microsoft.com/azure/redis/architecture> (cluster policies, non-clustered up to 25
    GB), <https://learn.microsoft.com/azure/redis/how-to-persistence>,
    <https://learn.microsoft.com/azure/redis/how-to-active-geo-replication>,
    <https://learn.microsoft.com/azure/redis/entra-for-authentication>,
    <https://learn.microsoft.com/azure/redis/migrate/migrate-redis-enterprise-understand>,
    <https://learn.microsoft.com/azure/redis/overview> (sizes).
    """

    id = "INS009"
    title = "Configuration the product does not offer"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            for item in platform.impossible_configurations(inst):
                source = f" Source: {item.source}" if item.source else ""
                if item.code.startswith("sku-"):
                    fix = (
                        "Name the size the cache really has in `sku` and give its memory in `memory_gb` (or omit "
                        "`memory_gb` to take the size's)." + source
                    )
                else:
                    fix = (
                        "Describe the cache as it is deployed, or choose a product, tier and size that offer "
                        "this combination." + source
                    )
                yield self.finding(
                    instance_target(inst.name),
                    f"Instance {inst.name} is designed with a configuration its product does not offer: "
                    f"{item.message}.",
                    fix,
                )


RULES: list[Rule] = [
    INS001(),
    INS002(),
    INS003(),
    INS004(),
    INS005(),
    INS006(),
    INS007(),
    INS008(),
    INS009(),
]
