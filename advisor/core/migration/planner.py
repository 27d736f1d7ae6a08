"""The planner: from an instance of the design (and what its last scan measured) to the plan that
moves it to Azure Managed Redis.

Azure facts come from the platform catalog (advisor.core.platform). Figures that the catalog does
not hold yet are kept below with the Microsoft Learn page they come from; thresholds that are the
advisor's own judgement are named as heuristics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from advisor.core import platform
from advisor.core.design import Design, Instance, Namespace
from advisor.core.design.fields import plain_number
from advisor.core.keyspace import slot_determinant, tag_text
from advisor.core.migration.plan import (
    Alternative,
    Blocker,
    DataMigration,
    MigrationPlan,
    NamespacePlan,
    Need,
    NothingToMigrate,
    RetiringInstance,
    SlotPair,
    Source,
    Step,
    Target,
    UnknownInstance,
    retirement_urgency,
)
from advisor.core.patterns import parse_pattern
from advisor.core.rules import get_rule
from advisor.core.sizing import GIB, instance_sizing, namespace_memory_bytes
from advisor.core.units import format_bytes, format_duration, format_gb

AMR = platform.AMR
ACR = platform.ACR

# The in-memory Azure Managed Redis tiers, from the least to the most CPU per GB.
IN_MEMORY_TIERS = ("memory-optimized", "balanced", "compute-optimized")
FLASH_TIER = "flash-optimized"

# Facts from the platform catalog under the names the planner has always used.
MEMORY_PER_VCPU = platform.AMR_MEMORY_PER_VCPU
MICROSOFT_SIZE_MAP = platform.AMR_SIZE_FOR_ACR

# Advisor heuristic, not a Microsoft figure: the declared operations per second per GB of data that
# a Balanced cache is taken to serve comfortably. Memory Optimized has half the vCPUs per GB and
# Compute Optimized twice as many, so their figures scale by the same factor (2,500 and 10,000).
# The declared load can move the tier towards more CPU than Microsoft's size mapping, never less;
# a load test on a production-sized dataset decides.
BALANCED_OPS_PER_GB = 5_000
# Advisor heuristic: a tier whose smallest fitting size has more than this many times the memory of
# another tier's smallest fitting size is grossly oversized for the need (Memory Optimized starts
# at 12 GB, Flash Optimized at 235 GB) and is not recommended while the other fits.
OVERSIZE_FACTOR = 2
# Flash Optimized fits read-heavy workloads with values well above key size: the thresholds of
# rule INS006 (writes at most 30% of the declared operations, ops-weighted typical value >= 1 KiB).
FLASH_MAX_WRITE_SHARE = 0.3
FLASH_MIN_VALUE_BYTES = 1024

AMR_PRIVATE_LINK = platform.AMR_PRIVATE_LINK
AMR_CONFIGURE = platform.AMR_CONFIGURE
AMR_KEYSPACE_NOTIFICATIONS = platform.AMR_KEYSPACE_NOTIFICATIONS
AMR_ACCESS_PERMISSIONS = platform.AMR_ACCESS_PERMISSIONS
RIOT = platform.REDIS_RIOT
AMR_HOSTNAME = platform.AMR_HOSTNAME

STATEFUL = ("session", "coordination", "durable")


# Retiring instances ----------------------------------------------------------------------------


def retirement_date(instance: Instance) -> dt.date | None:
    """The day the instance's Azure Cache for Redis tier retires; None when it does not."""
    if instance.product != ACR:
        return None
    return platform.retirement_date(instance.product, instance.tier)


def retiring_instances(instances: list[Instance], *, today: dt.date) -> list[RetiringInstance]:
    """Instances on a retiring tier, most urgent first."""
    out = []
    for inst in instances:
        retires = retirement_date(inst)
        if retires is None:
            continue
        days_left = (retires - today).days
        out.append(
            RetiringInstance(
                name=inst.name,
                environment=inst.environment,
                tier=inst.tier or "",
                memory_gb=inst.memory_gb,
                retires=retires,
                days_left=days_left,
                urgency=retirement_urgency(days_left),
            )
        )
    return sorted(out, key=lambda r: (r.days_left, r.name))


# The plan ------------------------------------------------------------------------------------


def migration_plan(
    design: Design,
    instance_name: str,
    *,
    today: dt.date,
    measured_used_memory: int | None = None,
    measured_at: dt.datetime | None = None,
    measured_databases: Iterable[int] | None = None,
    notify_keyspace_events: str | None = None,
) -> MigrationPlan:
    """The plan that moves one instance of the design to Azure Managed Redis.

    The `measured_*` facts come from the last completed scan, when there is one:
    `measured_used_memory` (the report's server.used_memory) replaces the design's estimate as the
    need; `measured_databases` (database indexes holding keys) and `notify_keyspace_events` (the
    server's setting) are used only when the scan reported them.
    Raises UnknownInstance, or NothingToMigrate when the instance is not on a retiring tier.
    """
    try:
        inst = design.instance(instance_name)
    except KeyError:
        raise UnknownInstance(f"no instance named {instance_name!r}") from None
    retires = retirement_date(inst)
    if retires is None:
        where = platform.tier(inst.product, inst.tier)
        runs_on = where.title if where else platform.PRODUCT_LABELS.get(inst.product, inst.product)
        raise NothingToMigrate(f"{inst.name} runs on {runs_on}, which is not retiring: nothing to migrate")
    hosted = design.namespaces_on(inst.name)
    source_tier = platform.tier(inst.product, inst.tier)
    assert source_tier is not None  # retirement_date found it

    need = _need(design, inst, hosted, measured_used_memory, measured_at)
    pairs = slot_pairs(design, inst.name)
    source_sku, inferred = _source_sku(inst)
    choice = _choose(inst, source_sku, need)
    eviction, eviction_step = _eviction(inst, hosted)
    persistence, persistence_why = _persistence(inst, hosted)
    target_tier = platform.tier(AMR, choice.tier)
    assert target_tier is not None
    geo = platform.geo_replication_kind(inst) != "none"
    target = Target(
        tier=choice.tier,
        sku=choice.sku.name,
        memory_gb=plain_number(choice.sku.memory_gb or 0),
        clustering="oss",
        eviction_policy=eviction,
        port=platform.default_port(AMR, choice.tier),
        label=target_tier.title,
        usable_bytes=choice.sku.usable_bytes or 0,
        covers_need=(choice.sku.usable_bytes or 0) >= need.memory_bytes,
        preview=choice.sku.preview,
        high_availability=_high_availability(inst, geo),
        persistence=persistence,
        geo_replication=geo,
        hostname=AMR_HOSTNAME.format(region=_plain(inst.region) if inst.region else "<region>"),
        why=choice.why,
    )
    rdb = source_tier.rdb_export
    namespaces = [_namespace_plan(ns, rdb_export=rdb) for ns in hosted]
    data_migration = _data_migration(inst, source_tier, hosted)
    blockers = _blockers(inst, source_tier, hosted, target, pairs, measured_databases, notify_keyspace_events)
    steps = _steps(
        inst=inst,
        source_tier=source_tier,
        hosted=hosted,
        need=need,
        target=target,
        choice=choice,
        pairs=pairs,
        blockers=blockers,
        data_migration=data_migration,
        namespaces=namespaces,
        eviction_step=eviction_step,
        persistence_why=persistence_why,
        retires=retires,
    )
    return MigrationPlan(
        instance=inst.name,
        retires=retires,
        days_left=(retires - today).days,
        source=Source(
            product=inst.product,
            tier=inst.tier or "",
            sku=source_sku.name if source_sku else None,
            memory_gb=plain_number(inst.memory_gb),
            sku_inferred=inferred,
            label=source_tier.title,
        ),
        need=need,
        target=target,
        alternatives=choice.alternatives,
        data_migration=data_migration,
        blockers=blockers,
        steps=steps,
        environment=inst.environment,
        today=today,
        current=inst,
        namespaces=namespaces,
        slot_pairs=pairs,
    )


# Need ----------------------------------------------------------------------------------------


def _need(
    design: Design,
    inst: Instance,
    hosted: list[Namespace],
    measured: int | None,
    measured_at: dt.datetime | None,
) -> Need:
    estimate = instance_sizing(design, inst.name).total_bytes
    reads = sum(ns.ops_per_sec.reads for ns in hosted)
    writes = sum(ns.ops_per_sec.writes for ns in hosted)
    ops = reads + writes
    typical = sum(ns.value_bytes.typical * (ns.ops_per_sec.reads + ns.ops_per_sec.writes) for ns in hosted)
    return Need(
        memory_bytes=measured if measured is not None else estimate,
        ops_per_sec=plain_number(round(ops, 1)),
        source="last-scan" if measured is not None else "design",
        design_bytes=estimate,
        measured_bytes=measured,
        measured_at=measured_at if measured is not None else None,
        write_share=round(writes / ops, 4) if ops else 0.0,
        typical_value_bytes=round(typical / ops) if ops else 0,
    )


# Target --------------------------------------------------------------------------------------


@dataclass
class _Choice:
    tier: str
    sku: platform.Sku
    why: list[str]
    alternatives: list[Alternative]
    fits: bool


def _source_sku(inst: Instance) -> tuple[platform.Sku | None, bool]:
    """The instance's size: the design's sku, else the one size of its tier with its memory."""
    size = platform.instance_sku(inst)
    if size is not None:
        return size, False
    entry = platform.tier(inst.product, inst.tier)
    if entry is None:
        return None, False
    per_size = inst.memory_gb
    if entry.memory_per_shard and inst.clustering != "none":
        per_size = inst.memory_gb / inst.shards
    for candidate in entry.skus:
        if candidate.memory_gb is not None and abs(candidate.memory_gb - per_size) < 1e-6:
            return candidate, True
    return None, False


def _fitting(tier_name: str, need_bytes: int, *, geo: bool) -> platform.Sku | None:
    """The smallest size of the tier that holds the need (and offers geo-replication when needed)."""
    size = platform.smallest_fitting_sku(AMR, tier_name, need_bytes)
    if size is None or not geo or size.geo_replication:
        return size
    bigger = [
        s
        for s in platform.skus(AMR, tier_name)
        if s.geo_replication and (s.memory_gb or 0) >= (size.memory_gb or 0)
    ]
    return bigger[0] if bigger else None


def _rank(tier_name: str) -> int:
    return IN_MEMORY_TIERS.index(tier_name) if tier_name in IN_MEMORY_TIERS else -1


def _comfortable_ops_per_gb(tier_name: str) -> float:
    return BALANCED_OPS_PER_GB * MEMORY_PER_VCPU["balanced"] / MEMORY_PER_VCPU[tier_name]


def flash_fit(need: Need) -> tuple[bool, str]:
    """Whether the declared workload suits Flash Optimized, by rule INS006's measures."""
    if not need.ops_per_sec:
        return False, "no declared load, so nothing shows the workload is read-heavy"
    problems = []
    if need.write_share > FLASH_MAX_WRITE_SHARE:
        problems.append(f"writes are {need.write_share:.0%} of the declared operations (over 30%)")
    if need.typical_value_bytes < FLASH_MIN_VALUE_BYTES:
        problems.append(f"the ops-weighted typical value is {need.typical_value_bytes:,} bytes (under 1 KiB)")
    if problems:
        return False, "; ".join(problems)
    return True, (
        f"read-heavy ({need.write_share:.0%} writes) with values of {need.typical_value_bytes:,} bytes "
        "(ops-weighted typical): a fit for Flash by rule INS006"
    )


def _mapped_tier(inst: Instance, source_sku: platform.Sku | None) -> tuple[str, str]:
    """The tier Microsoft's migration guidance points at, with the reason in words."""
    if inst.tier == "premium" and inst.clustering != "none" and inst.shards > 1:
        return (
            "memory-optimized",
            f"Clustered Premium ({inst.shards} shards): Microsoft suggests a Memory Optimized tier with "
            "equivalent total memory.",
        )
    if inst.tier in ("basic", "standard", "premium"):
        if source_sku is not None and source_sku.name in MICROSOFT_SIZE_MAP:
            options = MICROSOFT_SIZE_MAP[source_sku.name]
            mapped = platform.sku_anywhere(AMR, options[0])
            assert mapped is not None
            either = f" (or {options[1]} for abundant memory)" if len(options) > 1 else ""
            return (
                mapped.tier,
                f"Microsoft's size mapping suggests {options[0]}{either} for {source_sku.name}: "
                f"{platform.tiers_label(mapped)}. The plan takes the tier from it and the size from the need.",
            )
        return (
            "balanced",
            f"No {inst.tier.capitalize()} size has {format_gb(inst.memory_gb, missing='?')}, "
            "so Microsoft's size mapping does not "
            "apply; the advisor starts from Balanced, the middle memory-to-vCPU ratio (4:1).",
        )
    return (
        "balanced",
        "Microsoft publishes no size mapping for the Enterprise tiers; the advisor starts from Balanced, "
        "the middle memory-to-vCPU ratio (4:1).",
    )


def _load_tier(need: Need) -> tuple[str, float]:
    ops_per_gb = float(need.ops_per_sec) / max(need.memory_bytes / GIB, 1.0)
    for name in IN_MEMORY_TIERS:
        if ops_per_gb <= _comfortable_ops_per_gb(name):
            return name, ops_per_gb
    return IN_MEMORY_TIERS[-1], ops_per_gb


def _choose(inst: Instance, source_sku: platform.Sku | None, need: Need) -> _Choice:
    geo = platform.geo_replication_kind(inst) != "none"
    flash_ok, flash_words = flash_fit(need)
    if flash_ok and geo:
        flash_ok, flash_words = False, "Flash Optimized offers no geo-replication"
    fits = {name: _fitting(name, need.memory_bytes, geo=geo) for name in (*IN_MEMORY_TIERS, FLASH_TIER)}
    why: list[str] = []

    # The in-memory tier: Microsoft's mapping, moved towards more CPU when the declared load calls for it.
    chosen, mapped_why = _mapped_tier(inst, source_sku)
    in_memory_why = [mapped_why]
    load, ops_per_gb = _load_tier(need)
    if _rank(load) > _rank(chosen):
        in_memory_why.append(
            f"The declared load, {float(need.ops_per_sec):,.0f} ops/s ({ops_per_gb:,.0f} per GB of data), is "
            f"above the {_comfortable_ops_per_gb(chosen):,.0f} per GB the advisor expects "
            f"{_tier_label(chosen)} to serve comfortably: {_tier_label(load)} "
            f"({MEMORY_PER_VCPU[load]}:1 memory to vCPU instead of {MEMORY_PER_VCPU[chosen]}:1)."
        )
        chosen = load
    smallest = _smallest_in_memory(fits, at_least_rank=_rank(chosen))

    picked = None
    if inst.tier == "enterprise-flash":
        flash = fits[FLASH_TIER]
        if not flash_ok:
            why.append(f"Enterprise Flash, but not Flash Optimized: {flash_words}.")
        elif flash is not None and (
            smallest is None or (flash.memory_gb or 0) <= OVERSIZE_FACTOR * (smallest.memory_gb or 0)
        ):
            why.append(
                f"Enterprise Flash moves to Flash Optimized when the workload suits Flash: {flash_words}."
            )
            chosen, picked = FLASH_TIER, flash
        elif flash is not None and smallest is not None:
            why.append(
                f"The workload suits Flash ({flash_words}), but Flash Optimized starts at "
                f"{format_gb(flash.memory_gb, missing='?')} ({flash.name}), more than {OVERSIZE_FACTOR}x the "
                f"{format_gb(smallest.memory_gb, missing='?')} of {smallest.name}, "
                f"which already holds {format_bytes(need.memory_bytes)}: an in-memory tier."
            )
    if picked is None:
        why += in_memory_why
        picked = fits[chosen]
        if picked is None:
            fallback = (
                smallest
                or _smallest_in_memory(fits, at_least_rank=-1)
                or (fits[FLASH_TIER] if flash_ok else None)
            )
            if fallback is not None:
                why.append(
                    f"No {_tier_label(chosen)} size holds {format_bytes(need.memory_bytes)}: "
                    f"{_tier_label(fallback.tier)}."
                )
                chosen, picked = fallback.tier, fallback
        elif smallest is not None and (picked.memory_gb or 0) > OVERSIZE_FACTOR * (smallest.memory_gb or 0):
            why.append(
                f"{_tier_label(chosen)} starts at {format_gb(picked.memory_gb, missing='?')} ({picked.name}), "
                f"more than {OVERSIZE_FACTOR}x the {format_gb(smallest.memory_gb, missing='?')} of {smallest.name}, "
                "which already holds "
                f"{format_bytes(need.memory_bytes)}: {_tier_label(smallest.tier)}."
            )
            chosen, picked = smallest.tier, smallest

    if picked is not None and picked.preview:
        ga = next(
            (
                size
                for name in _preference(chosen, flash_ok)
                if (size := fits[name]) is not None and not size.preview
            ),
            None,
        )
        if ga is not None:
            why.append(
                f"{picked.name} is in preview; {ga.name} ({_tier_label(ga.tier)}) is generally available and holds "
                f"{format_bytes(need.memory_bytes)}."
            )
            chosen, picked = ga.tier, ga

    covered = picked is not None
    if picked is None:
        picked = platform.skus(AMR, chosen)[-1]
        why.append(
            f"No Azure Managed Redis size holds {format_bytes(need.memory_bytes)}"
            + (" with geo-replication" if geo else "")
            + f": {picked.name}, the largest {_tier_label(chosen)} size "
            f"({format_bytes(picked.usable_bytes or 0)} usable), is the closest; split the data across caches."
        )
    else:
        why.append(
            f"{picked.name} is the smallest {_tier_label(chosen)} size whose usable memory "
            f"({format_gb(picked.memory_gb, missing='?')} less the ~{platform.RESERVED_SHARE:.0%} reserve = "
            f"{format_bytes(picked.usable_bytes or 0)}) covers the need of {format_bytes(need.memory_bytes)}"
            + (" and that offers geo-replication" if geo else "")
            + "."
        )
    alternatives = _alternatives(fits, chosen, picked, need, flash_ok, flash_words)
    return _Choice(tier=chosen, sku=picked, why=why, alternatives=alternatives, fits=covered)


def _smallest_in_memory(fits: dict[str, platform.Sku | None], *, at_least_rank: int) -> platform.Sku | None:
    candidates = [
        size for name in IN_MEMORY_TIERS if _rank(name) >= at_least_rank and (size := fits[name]) is not None
    ]
    # Equal memory: the tier with less CPU per GB (it costs less).
    return min(candidates, key=lambda s: (s.memory_gb or 0, _rank(s.tier)), default=None)


def _preference(chosen: str, flash_ok: bool) -> list[str]:
    """Tiers to try, in order, when the chosen size is in preview: more CPU first, Flash last."""
    start = max(_rank(chosen), 0)
    order = [*IN_MEMORY_TIERS[start:], *reversed(IN_MEMORY_TIERS[:start])]
    return [*order, *([FLASH_TIER] if flash_ok else [])]


def _alternatives(
    fits: dict[str, platform.Sku | None],
    chosen: str,
    picked: platform.Sku,
    need: Need,
    flash_ok: bool,
    flash_words: str,
) -> list[Alternative]:
    out = []
    for name in (*IN_MEMORY_TIERS, FLASH_TIER):
        size = fits[name]
        if name == chosen or size is None:
            continue
        if name == FLASH_TIER:
            if not flash_ok or (size.memory_gb or 0) > OVERSIZE_FACTOR * (picked.memory_gb or 0):
                continue
            note = f"Flash Optimized: {flash_words}; values on NVMe, keys in RAM."
        elif (size.memory_gb or 0) > OVERSIZE_FACTOR * (picked.memory_gb or 0):
            note = f"oversized for {format_bytes(need.memory_bytes)}: the tier's smallest fitting size"
        else:
            ratio = MEMORY_PER_VCPU[name]
            more = _rank(name) > _rank(chosen) if chosen in IN_MEMORY_TIERS else True
            note = f"{ratio}:1 memory to vCPU: {'more CPU per GB' if more else 'less CPU per GB, lower cost per GB'}"
        if size.preview:
            note += "; in preview"
        out.append(
            Alternative(
                tier=name,
                sku=size.name,
                memory_gb=plain_number(size.memory_gb or 0),
                label=_tier_label(name),
                usable_bytes=size.usable_bytes or 0,
                preview=size.preview,
                note=note,
            )
        )
    return out


def _high_availability(inst: Instance, geo: bool) -> bool:
    # Microsoft: "Use non High Availability option of Azure Managed Redis for Migrating Basic SKUs";
    # production and geo-replication need it all the same (INS002; AMR geo needs HA).
    if inst.tier == "basic":
        return inst.is_prod or geo
    return True


# Eviction and persistence ----------------------------------------------------------------------


def _eviction(inst: Instance, hosted: list[Namespace]) -> tuple[str, Step]:
    disposable = [ns.name for ns in hosted if ns.classification == "disposable"]
    stateful = [ns.name for ns in hosted if ns.classification in STATEFUL]
    current = inst.eviction_policy
    # Names an allkeys-* policy only: a volatile-* one evicts sessions and locks with TTLs (EVI007).
    allkeys = current if current.startswith("allkeys-") else "allkeys-lru"
    if disposable and stateful:
        return "noeviction", Step(
            id="split-workloads",
            title="Split disposable and stateful data onto two caches",
            status="action",
            detail=(
                f"This cache mixes disposable data ({', '.join(disposable)}) with session, coordination or durable "
                f"data ({', '.join(stateful)}); no single eviction policy serves both. Create two Azure Managed "
                f"Redis caches: one with `{allkeys}` for the disposable namespaces, one with `noeviction` for the "
                "stateful ones. The target of this plan is sized for everything and set to `noeviction`, so that nothing "
                "stateful is evicted if the split comes later; until then, writes fail under memory pressure "
                "instead of evicting (EVI003)."
            ),
            points=[
                f"Disposable, on the `{allkeys}` cache: {', '.join(disposable)}",
                f"Stateful, on the `noeviction` cache: {', '.join(stateful)}",
            ],
            source=platform.AMR_MEMORY,
        )
    if stateful:
        kept = current == "noeviction"
        return "noeviction", Step(
            id="eviction",
            title="Eviction policy: noeviction",
            status="ok" if kept else "action",
            detail=(
                "Carry `noeviction` over: the cache holds only session, coordination or durable data, which must "
                "not be evicted; size it so that it never fills."
                if kept
                else "The cache holds only session, coordination or durable data: set `noeviction` on the new "
                "cache so that nothing is evicted, and size it so that it never fills. Azure Managed Redis "
                "does not default to it."
            ),
            source=platform.AMR_MEMORY,
        )
    if disposable:
        kept = current == allkeys
        return allkeys, Step(
            id="eviction",
            title=f"Eviction policy: {allkeys}",
            status="ok" if kept else "action",
            detail=(
                f"Carry `{allkeys}` over: every namespace is disposable, so any key may be evicted."
                if kept
                else f"Every namespace is disposable: set `{allkeys}` on the new cache, so that under memory "
                "pressure any cache entry can make room (with `noeviction` writes would fail)."
            ),
            source=platform.AMR_MEMORY,
        )
    return current, Step(
        id="eviction",
        title=f"Eviction policy: {current}",
        status="review",
        detail=(
            f"No namespaces are registered, so the advisor cannot tell what may be evicted: `{current}` is carried "
            "over. Register the namespaces and re-plan."
        ),
        source=platform.AMR_MEMORY,
    )


def _persistence(inst: Instance, hosted: list[Namespace]) -> tuple[str, str]:
    only_copy = [ns.name for ns in hosted if ns.classification == "durable" and not ns.source_of_truth]
    if platform.geo_replication_kind(inst) != "none":
        return "none", (
            "Geo-replication on Azure Managed Redis is active, and persistence cannot be combined with it: "
            "the new caches run without persistence; the other regions are the copy."
            + (
                f" Redis holds the only copy of {', '.join(only_copy)}: decide before moving."
                if only_copy
                else ""
            )
        )
    if only_copy:
        return (
            "aof",
            f"Redis holds the only copy of {', '.join(only_copy)}: use AOF persistence (written every second).",
        )
    if hosted and all(ns.classification == "disposable" for ns in hosted):
        if inst.persistence != "none":
            return "none", "Only disposable data: persistence would add cost without need (DUR003)."
        return "none", "Only disposable data: no persistence needed."
    return inst.persistence, f"Carry persistence `{inst.persistence}` over."


# Data migration ------------------------------------------------------------------------------


def _data_migration(
    inst: Instance, source_tier: platform.Tier, hosted: list[Namespace]
) -> list[DataMigration]:
    stateful = [ns.name for ns in hosted if ns.classification != "disposable"]
    if source_tier.rdb_export:
        rdb_why = (
            f"{source_tier.title} exports RDB files, and Azure Managed Redis imports them from a blob in a "
            "storage account in the same region. The import deletes what the new cache holds and makes it "
            "unavailable while it runs; writes to the old cache after the export are lost unless writes are "
            "frozen for the copy."
        )
    else:
        rdb_why = (
            "Basic and Standard caches cannot export RDB files; only Premium (and the Enterprise tiers) can. "
            f"{source_tier.title} has no export."
        )
    if not hosted:
        empty_ok, empty_why = False, "No namespaces are registered: nothing shows that the data may be lost."
    elif stateful:
        empty_ok, empty_why = (
            False,
            (
                f"Not every namespace can be rebuilt: {', '.join(stateful)} "
                f"{'is' if len(stateful) == 1 else 'are'} session, coordination or durable data."
            ),
        )
    else:
        empty_ok, empty_why = (
            True,
            (
                "Every namespace is disposable and refills from its source of truth: create the new cache empty "
                "and point the clients at it; the simplest move."
            ),
        )
    options = [
        DataMigration(
            id="rdb-import",
            title="Export and import an RDB file",
            available=source_tier.rdb_export,
            why=rdb_why,
            source=platform.AMR_IMPORT_EXPORT,
        ),
        DataMigration(
            id="dual-write",
            title="Write to both caches",
            available=True,
            why=(
                "The application writes to both caches and reads from the old one until the new one holds "
                "everything (the longest TTL has passed, or a backfill ran): no data loss or downtime, but it "
                "needs application changes."
            ),
            source=platform.AMR_MIGRATE,
        ),
        DataMigration(
            id="riot",
            title="Copy the keys with RIOT",
            available=True,
            why=(
                "RIOT (Redis Input/Output Tools) copies keys from cache to cache, once or continuously. "
                "Microsoft lists it as an option but it is not officially supported by Microsoft."
            ),
            source=RIOT,
        ),
        DataMigration(
            id="start-empty",
            title="Start with an empty cache",
            available=empty_ok,
            why=empty_why,
            source=platform.AMR_MIGRATE,
        ),
    ]
    if empty_ok:
        best = "start-empty"
    elif source_tier.rdb_export:
        best = "rdb-import"
    else:
        best = "dual-write"
    for option in options:
        option.recommended = option.id == best
    return options


# Blockers ------------------------------------------------------------------------------------


def _url_database(inst: Instance) -> int | None:
    if inst.connection is None:
        return None
    path = urlsplit(inst.connection.url).path.strip("/")
    return int(path) if path.isdigit() else None


def _blockers(
    inst: Instance,
    source_tier: platform.Tier,
    hosted: list[Namespace],
    target: Target,
    pairs: list[SlotPair],
    measured_databases: Iterable[int] | None,
    notify_keyspace_events: str | None,
) -> list[Blocker]:
    out: list[Blocker] = []
    amr = platform.tier(AMR, target.tier)
    assert amr is not None
    url_db = _url_database(inst)
    scanned = sorted(db for db in (measured_databases or ()) if db != 0)
    if (url_db or 0) != 0 or scanned:
        where = []
        if url_db:
            where.append(f"the connection URL selects database {url_db}")
        if scanned:
            where.append(
                f"the last scan found keys in database{'s' if len(scanned) > 1 else ''} "
                f"{', '.join(str(d) for d in scanned)}"
            )
        out.append(
            Blocker(
                id="db-index",
                message=(
                    f"{' and '.join(where).capitalize()}, but Azure Managed Redis has only database 0 "
                    f"({amr.databases} database; SELECT is blocked). Move the data into database 0 with a key "
                    "prefix per former database, and make sure no two databases use the same key names."
                ),
                source=platform.AMR_MIGRATE_BSP,
            )
        )
    if notify_keyspace_events:
        out.append(
            Blocker(
                id="keyspace-notifications",
                message=(
                    f"The cache publishes keyspace notifications today (notify-keyspace-events = "
                    f"`{notify_keyspace_events}`). On Azure Managed Redis they are in preview only (set through "
                    "the ARM API 2026-02-01-preview): confirm that a preview feature is acceptable, or stop "
                    "depending on them."
                ),
                source=AMR_KEYSPACE_NOTIFICATIONS,
            )
        )
    if source_tier.vnet_injection and not inst.public_network_access:
        out.append(
            Blocker(
                id="vnet-injection",
                message=(
                    "If this cache is VNet-injected (the design cannot tell), note that Azure Managed Redis "
                    "offers no virtual network injection and no IP firewall rules: clients reach it through a "
                    "private endpoint (Azure Private Link). Plan the private endpoint and its private DNS zone "
                    "in the clients' virtual network before cutover."
                ),
                source=platform.AMR_MIGRATE_BSP,
            )
        )
    kind = platform.geo_replication_kind(inst)
    if kind == "passive":
        words = (
            "Premium geo-replication is passive (a read-only secondary); on Azure Managed Redis it is active: "
            "every region accepts writes and concurrent writes to the same key are resolved by conflict-free "
            "replicated data types. Decide which region writes what"
        )
        sessions = [ns.name for ns in hosted if ns.classification == "session"]
        if sessions:
            words += f" (sessions: {', '.join(sessions)})"
        words += (
            ". All caches of the group need the same size and settings and high availability, and "
            "persistence cannot be combined with active geo-replication."
        )
        if inst.persistence != "none":
            words += f" Persistence `{inst.persistence}` is dropped."
        out.append(Blocker(id="geo-replication-passive", message=words, source=platform.AMR_GEO))
    elif kind == "active" and inst.persistence != "none":
        out.append(
            Blocker(
                id="persistence-geo",
                message=(
                    f"Persistence `{inst.persistence}` and active geo-replication cannot be combined on Azure "
                    "Managed Redis: the new caches run without persistence."
                ),
                source=platform.AMR_PERSISTENCE,
            )
        )
    broken = [p for p in pairs if not p.same_slot]
    if broken:
        listed = "; ".join(
            f"{p.namespace} + {p.other} ({p.detail}"
            + (f"; use `{p.suggested_tag}` in both" if p.suggested_tag else "")
            + ")"
            for p in broken
        )
        small = amr.non_clustered_max_gb is not None and float(target.memory_gb) <= amr.non_clustered_max_gb
        out.append(
            Blocker(
                id="crossslot",
                message=(
                    f"Multi-key commands across these namespace pairs would fail with CROSSSLOT under the OSS "
                    f"cluster policy: {listed}. Give both patterns of each pair the same hash tag before the move."
                    + (
                        f" A non-clustered cache (preview, up to {format_gb(amr.non_clustered_max_gb, missing='?')}) "
                        "would also avoid it, at the cost of scaling."
                        if small
                        else ""
                    )
                ),
                source=platform.AMR_ARCHITECTURE,
            )
        )
    if not source_tier.entra_id:
        out.append(
            Blocker(
                id="entra-id",
                kind="info",
                message=(
                    f"{source_tier.title} has no Microsoft Entra ID authentication; Azure Managed Redis has it. "
                    "Move the clients to managed identities with the migration and disable access keys."
                ),
                source=platform.AMR_MIGRATE_ENTERPRISE,
            )
        )
    if target.preview:
        out.append(
            Blocker(
                id="preview-sku",
                message=(
                    f"{target.sku} is in public preview: previews come without an SLA. Confirm that is acceptable, "
                    "or split the data so that a generally available size holds each part."
                ),
                source=platform.AMR_SCALE,
            )
        )
    if not target.covers_need:
        out.append(
            Blocker(
                id="too-large",
                message=(
                    f"No Azure Managed Redis size holds the need; {target.sku} is the largest "
                    f"{target.label} size. Split the data across several caches."
                ),
                source=platform.AMR_OVERVIEW,
            )
        )
    if not hosted:
        out.append(
            Blocker(
                id="no-namespaces",
                kind="info",
                message=(
                    "No namespaces are registered on this instance: the plan cannot size the data or say what "
                    "can be rebuilt. Register the namespaces, or scan the instance, and re-plan."
                ),
            )
        )
    return out


# Multi-key pairs under the OSS cluster policy ----------------------------------------------------


def slot_pairs(design: Design, instance_name: str) -> list[SlotPair]:
    """Every pair of namespaces used together in multi-key commands, judged under the OSS policy."""
    hosted = {ns.name: ns for ns in design.namespaces_on(instance_name)}
    seen: set[frozenset[str]] = set()
    out = []
    for ns in hosted.values():
        for other_name in ns.multi_key_with:
            other = hosted.get(other_name)
            pair = frozenset((ns.name, other_name))
            if other is None or pair in seen:
                continue
            seen.add(pair)
            pa, pb = parse_pattern(ns.pattern), parse_pattern(other.pattern)
            sa, sb = slot_determinant(pa), slot_determinant(pb)
            if sa is not None and sa == sb:
                out.append(
                    SlotPair(
                        namespace=ns.name,
                        other=other.name,
                        same_slot=True,
                        detail=f"both use the hash tag `{tag_text(pa) or '(none: one fixed key each)'}`",
                    )
                )
                continue
            missing = [n.name for n, p in ((ns, pa), (other, pb)) if p.hash_tag is None]
            detail = (
                f"{' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} no hash tag"
                if missing
                else f"tags `{tag_text(pa)}` and `{tag_text(pb)}` differ"
            )
            shared = [p for p in pa.placeholders if p.name and p.name in {q.name for q in pb.placeholders}]
            suggested = "{<" + shared[0].name + ":" + shared[0].kind + ">}" if shared else None
            out.append(
                SlotPair(
                    namespace=ns.name,
                    other=other.name,
                    same_slot=False,
                    detail=detail,
                    suggested_tag=suggested,
                )
            )
    return out


# Steps ---------------------------------------------------------------------------------------


def _steps(
    *,
    inst: Instance,
    source_tier: platform.Tier,
    hosted: list[Namespace],
    need: Need,
    target: Target,
    choice: _Choice,
    pairs: list[SlotPair],
    blockers: list[Blocker],
    data_migration: list[DataMigration],
    namespaces: list[NamespacePlan],
    eviction_step: Step,
    persistence_why: str,
    retires: dt.date,
) -> list[Step]:
    amr = platform.tier(AMR, target.tier)
    assert amr is not None
    blocker_ids = {b.id for b in blockers}
    steps: list[Step] = []

    current = urlsplit(inst.connection.url).netloc.rpartition("@")[2] if inst.connection else None
    steps.append(
        Step(
            id="hostname",
            title="New hostname and port",
            detail=(
                f"The new cache is reached at `{target.hostname}` on port {target.port}"
                + (f" (today: `{current}`)" if current else "")
                + ". Every client's connection settings change: keep the endpoint in configuration (app "
                "settings, Key Vault references), so that cutover and rollback are a configuration change."
            ),
            source=AMR_PRIVATE_LINK,
        )
    )
    steps.append(
        Step(
            id="tls",
            title="TLS",
            status="ok" if inst.tls else "action",
            detail=(
                "Clients already use TLS: keep `rediss://`. An Azure Managed Redis cache serves either TLS or "
                "plain text, chosen when it is created; create it with TLS (Microsoft Entra ID needs TLS)."
                if inst.tls
                else "A non-TLS port is open today. An Azure Managed Redis cache serves either TLS or plain text, "
                "chosen when it is created: create it with TLS and move every client to `rediss://` first "
                "(Microsoft Entra ID needs TLS)."
            ),
            source=platform.AMR_MIGRATE_BSP,
        )
    )
    full_access = (
        "On Azure Managed Redis every Entra principal gets full access to all commands and keys "
        "(per-user access strings are in preview only), so least privilege means separate caches."
    )
    if inst.auth == "entra-id":
        steps.append(
            Step(
                id="entra-id",
                title="Microsoft Entra ID with managed identities",
                status="review",
                detail=(
                    "Already Microsoft Entra ID: add the same managed identities as users of the new cache and "
                    "disable its access keys. "
                    + full_access
                    + (
                        " Permissions narrowed with Azure Cache for Redis access policies do not carry over."
                        if source_tier.entra_access_policies
                        else ""
                    )
                ),
                source=AMR_ACCESS_PERMISSIONS,
            )
        )
    else:
        today_auth = "access keys" if inst.auth == "access-key" else "no authentication"
        steps.append(
            Step(
                id="entra-id",
                title="Microsoft Entra ID with managed identities",
                detail=(
                    f"Uses {today_auth} today. Give each client a managed identity, add it as a user of the new "
                    "cache, use a client library that renews Entra tokens, and disable access keys once every "
                    "client authenticates with Entra ID. " + full_access
                ),
                source=platform.AMR_ENTRA,
            )
        )
    nc_max = amr.non_clustered_max_gb
    client_points = []
    if inst.clustering == "none":
        client_detail = (
            "Clients have never talked to a cluster. Azure Managed Redis is clustered (the OSS cluster policy, "
            "recommended for throughput): use a cluster-aware client (redis-py cluster mode, StackExchange.Redis, "
            "Lettuce, ioredis Cluster) and test MOVED handling, transactions and scripts against the new cache."
        )
        if nc_max is not None:
            client_points.append(
                f"A client that cannot handle a cluster can use a non-clustered cache (preview) up to "
                f"{format_gb(nc_max, missing='?')}: "
                + (
                    f"{target.sku} ({format_gb(target.memory_gb)}) qualifies; it scales only after switching "
                    "policy."
                    if float(target.memory_gb) <= nc_max
                    else f"{target.sku} ({format_gb(target.memory_gb)}) is too large for it."
                )
            )
    elif inst.clustering == "enterprise":
        client_detail = (
            "Today the Enterprise cluster policy hides the shards behind one endpoint. The OSS policy, "
            "recommended for throughput, shows them to the client: use a cluster-aware client and test "
            "multi-key commands, transactions and scripts. The policy is chosen when the cache is created."
        )
    else:
        client_detail = (
            "Clients already use the OSS cluster policy: keep the cluster-aware client and test it against the "
            "new cache."
        )
    steps.append(
        Step(
            id="cluster-client",
            title="Cluster-aware client",
            status="ok" if inst.clustering == "oss" else "action",
            detail=client_detail,
            points=client_points,
            source=platform.AMR_ARCHITECTURE,
        )
    )
    broken = [p for p in pairs if not p.same_slot]
    constant = [ns.name for ns in hosted if parse_pattern(ns.pattern).has_constant_hash_tag]
    tag_points = [
        f"{p.namespace} + {p.other}: {p.detail}; "
        + (
            f"use `{p.suggested_tag}` in both patterns"
            if p.suggested_tag
            else "tag both with the value that ties them"
        )
        for p in broken
    ]
    if constant:
        tag_points.append(
            f"Constant hash tags put every key of {', '.join(constant)} in one slot: one shard serves all of it."
        )
    steps.append(
        Step(
            id="hash-tags",
            title="Hash tags for multi-key commands",
            status="action" if broken else ("review" if constant else "ok"),
            detail=(
                f"{len(broken)} namespace pair{'s' if len(broken) != 1 else ''} used in multi-key commands "
                f"{'is' if len(broken) == 1 else 'are'} not guaranteed one slot: give both patterns the same "
                "hash tag and migrate the keys to the new names."
                if broken
                else "Every multi-key pair shares a slot under the OSS cluster policy."
                if pairs
                else "No namespace declares multi-key use with another."
            ),
            points=tag_points,
            source=platform.AMR_ARCHITECTURE,
        )
    )
    if "db-index" in blocker_ids:
        steps.append(
            Step(
                id="database-0",
                title="Move everything into database 0",
                detail=next(b.message for b in blockers if b.id == "db-index"),
                source=platform.AMR_MIGRATE_BSP,
            )
        )
    measured = (
        f"the last scan measured {format_bytes(need.measured_bytes, missing='?')} used"
        if need.measured_bytes is not None
        else None
    )
    estimate = f"the design's namespaces are estimated at {format_bytes(need.design_bytes)}"
    steps.append(
        Step(
            id="sizing",
            title=f"Create {target.label} {target.sku}",
            status="review" if target.preview or not target.covers_need else "action",
            detail=(
                f"{target.sku}: {format_gb(target.memory_gb)}, {format_bytes(target.usable_bytes)} usable "
                "after the "
                f"~{platform.RESERVED_SHARE:.0%} reserve, for a need of {format_bytes(need.memory_bytes)} "
                + (f"({measured}; {estimate})." if measured else f"({estimate}; no completed scan yet).")
                + f" Declared load {float(need.ops_per_sec):,.0f} ops/s. Confirm with a load test on a "
                "production-sized dataset."
            ),
            points=[
                *choice.why,
                *_headroom(need, target),
                *(
                    f"Alternative: {a.label} {a.sku} ({format_gb(a.memory_gb)}), {a.note}"
                    for a in choice.alternatives
                ),
            ],
            source=platform.AMR_OVERVIEW,
        )
    )
    steps.append(eviction_step)
    ha_words = (
        "high availability (a replica per shard)"
        if target.high_availability
        else "no high availability (Microsoft's choice for Basic caches: one node, so a failure means data loss "
        "and downtime)"
    )
    if inst.tier == "basic" and target.high_availability:
        ha_words += "; Microsoft maps Basic to a non-HA cache, but this is production or geo-replicated"
    steps.append(
        Step(
            id="persistence-ha",
            title="Persistence and high availability",
            status="review",
            detail=f"Create the cache with {ha_words}. Persistence: `{target.persistence}`. {persistence_why}",
            source=platform.AMR_PERSISTENCE,
        )
    )
    if target.geo_replication:
        steps.append(
            Step(
                id="geo-replication",
                title="Active geo-replication",
                detail=(
                    "Create the caches of every region as one active geo-replication group: the same size, "
                    "eviction policy, cluster policy and TLS setting everywhere, with high availability. "
                    "Every region accepts writes; FLUSHALL and FLUSHDB are blocked."
                ),
                source=platform.AMR_GEO,
            )
        )
    steps.append(
        Step(
            id="private-endpoint",
            title="Private endpoint",
            status="action",
            detail=(
                "Azure Managed Redis offers no virtual network injection: create a private endpoint in the "
                "clients' virtual network with its private DNS zone"
                + (
                    ", and disable public network access (it is enabled today)."
                    if inst.public_network_access
                    else ", and keep public network access disabled."
                )
            ),
            source=AMR_PRIVATE_LINK,
        )
    )
    best = next(d for d in data_migration if d.recommended)
    steps.append(
        Step(
            id="data-migration",
            title=f"Data migration: {best.title}",
            detail=f"{best.why} Per namespace:",
            points=[f"{ns.name} ({ns.classification}, {ns.strategy}): {ns.summary}" for ns in namespaces],
            source=best.source,
        )
    )
    continuity = [ns.name for ns in namespaces if ns.strategy == "continuity"]
    steps.append(
        Step(
            id="cutover",
            title="Cutover",
            detail=(
                "Run the client test suite against the new cache first (connection, Entra ID token renewal, "
                "multi-key commands, scripts). Then switch the clients by configuration"
                + (f", {', '.join(continuity)} as their continuity plan says" if continuity else "")
                + ", and watch errors, latency and memory."
            ),
        )
    )
    steps.append(
        Step(
            id="rollback",
            title="Rollback",
            detail=(
                "Keep the old cache running and unchanged until the new one has run through a full business "
                "cycle. Rollback is switching the configuration back; decide beforehand what triggers it, and "
                "note that writes made only to the new cache are lost on the way back unless both are written."
            ),
        )
    )
    longest = max((ns.ttl_max_seconds or 0 for ns in hosted), default=0)
    steps.append(
        Step(
            id="decommission",
            title="Decommission the old cache",
            detail=(
                "Delete the old cache"
                + (
                    f" once its longest TTL ({format_duration(longest, parts=None)}) has passed"
                    if longest
                    else ""
                )
                + f", and before {retires.isoformat()}. Register the new instance here and move the namespaces "
                "to it, so that the design follows."
            ),
            source=platform.ACR_RETIREMENT,
        )
    )
    return steps


def _headroom(need: Need, target: Target) -> list[str]:
    """A word when the new cache would start nearly full (INS007's medium ratio)."""
    medium = get_rule("INS007").thresholds["INS007.medium_ratio"]
    if not target.usable_bytes or need.memory_bytes <= medium * target.usable_bytes:
        return []
    share = need.memory_bytes / target.usable_bytes
    sizes = platform.skus(AMR, target.tier)
    bigger = next((s for s in sizes if (s.memory_gb or 0) > float(target.memory_gb)), None)
    return [
        f"The need fills {share:.0%} of {target.sku}'s usable memory, above the {medium:.0%} at which INS007 "
        "warns"
        + (
            f": {bigger.name} ({format_gb(bigger.memory_gb, missing='?')}) leaves room for growth."
            if bigger
            else "."
        )
    ]


# Per namespace -------------------------------------------------------------------------------


def _ttl_words(ns: Namespace) -> str:
    if ns.ttl_max_seconds is None:
        return "never expire"
    return f"expire within {format_duration(ns.ttl_max_seconds, parts=None)}"


def _namespace_plan(ns: Namespace, *, rdb_export: bool) -> NamespacePlan:
    memory = namespace_memory_bytes(ns)
    copy = "export an RDB file and import it into the new cache" if rdb_export else "copy the keys with RIOT"
    if ns.classification == "disposable":
        steps = [
            "Point the clients at the new cache; cache-aside reads refill it on misses.",
            "Pre-warm the hottest keys if a cold start would overload the source"
            + (f" ({_code(ns.source_of_truth)})." if ns.source_of_truth else "."),
            f"Old keys {_ttl_words(ns)}; "
            + ("decommission the old cache after that." if ns.has_ttl else "delete them with the old cache."),
        ]
        return NamespacePlan(
            name=ns.name,
            team=ns.team,
            classification=ns.classification,
            strategy="rebuild",
            summary="Disposable: rebuild by warming the new cache and let the old one expire.",
            steps=steps,
            memory_bytes=memory,
        )
    if ns.classification == "session":
        summary = "Sessions: users must not be logged out by the move."
        steps = [
            f"Sessions {_ttl_words(ns)}. Either read from the new cache with a fallback to the old one for that "
            "long, writing only to the new one,",
            f"or {copy} at cutover, with a short write freeze,",
            "or, if acceptable, schedule the cutover when forcing a new login does least harm.",
        ]
    elif ns.classification == "coordination":
        summary = "Locks, leases and idempotency records must live on exactly one cache at a time."
        steps = [
            "Never let two writers use different caches: switch every client at once (stop, reconfigure, start).",
            f"Or stop taking new locks on the old cache and wait until its records {_ttl_words(ns)} before switching.",
            "Idempotency records that must outlive the switch: copy them with the data.",
        ]
    elif ns.source_of_truth:
        summary = f"Durable, with a source of truth ({_code(ns.source_of_truth)}): reload it or copy it."
        steps = [
            f"Reload the namespace from {_code(ns.source_of_truth)} into the new cache before cutover, or {copy}.",
            "Freeze writes during the final sync; compare key counts before switching.",
        ]
    else:
        summary = "Durable, and Redis holds the only copy: copy it, verified, with writes frozen."
        steps = [
            f"Freeze writes, {copy}, or write to both caches until the copy is complete.",
            "Verify key counts and spot-check values before switching; keep the old cache read-only as the "
            "rollback until the new one has run through a full business cycle.",
        ]
    return NamespacePlan(
        name=ns.name,
        team=ns.team,
        classification=ns.classification,
        strategy="continuity",
        summary=summary,
        steps=steps,
        memory_bytes=memory,
    )


# Wording -------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Free text from a design, fit to stand inside a code span: no backtick can close it."""
    return " ".join(text.replace("`", "'").split())


def _code(text: str) -> str:
    # Free text (a source of truth, a region) goes into the plan as a code span: the Markdown
    # export and the page (which renders `code`) show it literally, never as HTML or a link.
    return f"`{_plain(text)}`"


def _tier_label(tier_name: str) -> str:
    entry = platform.tier(AMR, tier_name)
    return entry.label if entry else tier_name
