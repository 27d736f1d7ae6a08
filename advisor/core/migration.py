"""Migration planning: from a retiring Azure Cache for Redis tier to Azure Managed Redis.

Everything here is derived from the registered design, so the checklist stays true as the design
changes: which multi-key namespaces would hit CROSSSLOT under the OSS cluster policy (the slot logic
of rule HSH002), how much memory the namespaces need and which tier family fits their load, which
persistence and availability settings their classifications call for, and which namespaces can
simply be rebuilt on the new cache and which need a continuity plan.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from advisor.core.design import Design, Instance, Namespace
from advisor.core.findings import Severity
from advisor.core.patterns import parse_pattern
from advisor.core.rules.hsh import slot_determinant, tag_text
from advisor.core.rules.ins import ACR_RETIREMENT, RETIREMENT_WARNING_DAYS
from advisor.core.sizing import GIB, USABLE_SHARE, instance_sizing, namespace_memory_bytes

# Sizing target: the estimate should stay under INS007's medium ratio on the new cache.
TARGET_RATIO = 0.6
# Tier family by declared operations per GB of needed memory. Rules of thumb from the vCPU to
# memory ratios of the families (memory-optimized 1:8, balanced 1:4, compute-optimized 1:2);
# a load test decides, these only point at where to start.
MEMORY_OPTIMIZED_MAX_OPS_PER_GB = 1_000
BALANCED_MAX_OPS_PER_GB = 5_000
# Flash-optimized only for large, mostly-read datasets with large values (see INS006).
FLASH_MIN_DATA_GB = 200
FLASH_MAX_WRITE_SHARE = 0.2
FLASH_MIN_VALUE_BYTES = 1024

Status = Literal["ok", "action", "review"]
Strategy = Literal["rebuild", "continuity"]


class RetiringInstance(BaseModel):
    name: str
    environment: str
    tier: str
    memory_gb: float
    retires: dt.date
    days_left: int  # negative once the date has passed
    urgency: Severity  # INS001's severity on that day

    @property
    def retired(self) -> bool:
        return self.days_left < 0

    @property
    def days_ago(self) -> int:
        return -self.days_left


class CheckItem(BaseModel):
    key: str
    title: str
    status: Status
    detail: str
    points: list[str] = []


class SlotPair(BaseModel):
    namespace: str
    other: str
    same_slot: bool
    detail: str
    suggested_tag: str | None = None


class SizingPlan(BaseModel):
    estimated_bytes: int
    current_memory_gb: float
    current_ratio: float  # estimate / usable memory of the current instance
    required_gb: float  # memory that keeps the estimate under TARGET_RATIO of usable memory
    ops_per_sec: float
    write_share: float
    typical_value_bytes: int  # cardinality-weighted typical value
    ops_per_gb: float
    family: str
    family_reason: str


class NamespacePlan(BaseModel):
    name: str
    team: str
    classification: str
    strategy: Strategy
    summary: str
    steps: list[str]
    memory_bytes: int


class MigrationPlan(BaseModel):
    instance: str
    environment: str
    product: str
    tier: str | None
    retires: dt.date | None
    days_left: int | None
    connection: list[CheckItem]
    clustering: CheckItem
    slot_pairs: list[SlotPair]
    sizing: SizingPlan
    resilience: list[CheckItem]
    namespaces: list[NamespacePlan]

    @property
    def days_ago(self) -> int | None:
        return None if self.days_left is None else -self.days_left

    @property
    def open_actions(self) -> int:
        items = [*self.connection, self.clustering, *self.resilience]
        return sum(1 for item in items if item.status == "action")


def retirement_date(instance: Instance) -> dt.date | None:
    if instance.product != "azure-cache-for-redis":
        return None
    return ACR_RETIREMENT.get(instance.tier or "")


def _urgency(days_left: int) -> Severity:
    # The same steps as INS001, so the planner and the finding never disagree.
    if days_left < 0:
        return Severity.critical
    return Severity.high if days_left <= RETIREMENT_WARNING_DAYS else Severity.medium


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
                urgency=_urgency(days_left),
            )
        )
    return sorted(out, key=lambda r: (r.days_left, r.name))


def migration_plan(design: Design, instance_name: str, *, today: dt.date) -> MigrationPlan:
    """The migration checklist for one instance of the design."""
    inst = design.instance(instance_name)
    hosted = design.namespaces_on(instance_name)
    retires = retirement_date(inst)
    pairs = slot_pairs(design, instance_name)
    return MigrationPlan(
        instance=inst.name,
        environment=inst.environment,
        product=inst.product,
        tier=inst.tier,
        retires=retires,
        days_left=(retires - today).days if retires else None,
        connection=_connection_items(inst),
        clustering=_clustering_item(inst, hosted, pairs),
        slot_pairs=pairs,
        sizing=sizing_plan(design, instance_name),
        resilience=_resilience_items(inst, hosted),
        namespaces=[_namespace_plan(ns) for ns in hosted],
    )


# Connection ----------------------------------------------------------------------------------


def _connection_items(inst: Instance) -> list[CheckItem]:
    items = []
    region = inst.region or "<region>"
    current = urlsplit(inst.connection.url).netloc.rpartition("@")[2] if inst.connection else None
    items.append(
        CheckItem(
            key="hostname",
            title="New hostname",
            status="action",
            detail=(
                f"Azure Managed Redis has new endpoints: `<cache-name>.{region}.redis.azure.net:10000`, "
                "TLS only. Every client's connection string changes."
            ),
            points=[
                *([f"Current endpoint: `{current}`"] if current else []),
                "Update the connection settings (app configuration, Key Vault references) of every client.",
                "Keep the old endpoint working until cutover and switch by configuration, so rollback is a "
                "configuration change.",
            ],
        )
    )
    if inst.auth == "entra-id":
        auth = CheckItem(
            key="auth",
            title="Authentication",
            status="ok",
            detail="Already Microsoft Entra ID: grant the same managed identities an access policy on the new cache.",
        )
    else:
        current_auth = "access keys" if inst.auth == "access-key" else "no authentication"
        auth = CheckItem(
            key="auth",
            title="Authentication",
            status="action",
            detail=f"Uses {current_auth} today. Move to Microsoft Entra ID with managed identities on the new cache.",
            points=[
                "Assign each client's managed identity a data access policy (least privilege).",
                "Use a client library version with Entra ID token refresh.",
                "Disable access keys on the new cache once every client uses Entra ID.",
            ],
        )
    items.append(auth)
    items.append(
        CheckItem(
            key="tls",
            title="TLS",
            status="ok" if inst.tls else "action",
            detail=(
                "Clients already use TLS; point them at port 10000 with `rediss://`."
                if inst.tls
                else "A non-TLS port is open today. Clients must connect with TLS (`rediss://`, port 10000)."
            ),
        )
    )
    items.append(
        CheckItem(
            key="network",
            title="Network",
            status="action" if inst.public_network_access else "review",
            detail=(
                "Public network access is enabled today: give the new cache a private endpoint and disable "
                "public access."
                if inst.public_network_access
                else "Create a private endpoint for the new cache in the clients' virtual network and its "
                "private DNS record (privatelink.redis.azure.net)."
            ),
        )
    )
    return items


# Clustering ----------------------------------------------------------------------------------


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


def _clustering_item(inst: Instance, hosted: list[Namespace], pairs: list[SlotPair]) -> CheckItem:
    broken = [p for p in pairs if not p.same_slot]
    constant = [ns.name for ns in hosted if parse_pattern(ns.pattern).has_constant_hash_tag]
    points = [
        "Under the OSS cluster policy clients see the shards: use a cluster-aware client "
        "(StackExchange.Redis, Lettuce and redis-py cluster mode are).",
    ]
    if inst.clustering != "oss":
        points.append(
            f"Clustering is `{inst.clustering}` today, so clients have never had to handle slots: test "
            "multi-key commands, transactions and Lua scripts against an OSS-clustered cache."
        )
    if broken:
        points.append(
            f"{len(broken)} namespace pair{'s' if len(broken) != 1 else ''} used in multi-key commands "
            "would fail with CROSSSLOT: give both patterns the same hash tag before moving, or choose "
            "the Enterprise cluster policy (single endpoint, lower throughput)."
        )
    if constant:
        points.append(
            f"Constant hash tags put every key of {', '.join(constant)} in one slot: one shard would serve "
            "all of that traffic."
        )
    status: Status = "action" if broken else ("review" if inst.clustering != "oss" or constant else "ok")
    detail = (
        "Multi-key namespaces are not guaranteed one slot under the OSS cluster policy."
        if broken
        else "Every multi-key pair shares a slot under the OSS cluster policy."
        if pairs
        else "No namespace declares multi-key use with another."
    )
    return CheckItem(
        key="clustering", title="Clustering compatibility", status=status, detail=detail, points=points
    )


# Sizing --------------------------------------------------------------------------------------


def sizing_plan(design: Design, instance_name: str) -> SizingPlan:
    inst = design.instance(instance_name)
    hosted = design.namespaces_on(instance_name)
    sizing = instance_sizing(design, instance_name)
    reads = sum(ns.ops_per_sec.reads for ns in hosted)
    writes = sum(ns.ops_per_sec.writes for ns in hosted)
    ops = reads + writes
    keys = sum(ns.cardinality for ns in hosted)
    typical = round(sum(ns.value_bytes.typical * ns.cardinality for ns in hosted) / keys) if keys else 0
    required_gb = math.ceil(sizing.total_bytes / (GIB * USABLE_SHARE * TARGET_RATIO) * 10) / 10
    write_share = writes / ops if ops else 0.0
    ops_per_gb = ops / max(required_gb, 1.0)
    data_gb = sizing.total_bytes / GIB

    if (
        data_gb >= FLASH_MIN_DATA_GB
        and write_share <= FLASH_MAX_WRITE_SHARE
        and typical >= FLASH_MIN_VALUE_BYTES
    ):
        family = "flash-optimized"
        reason = (
            f"{data_gb:,.0f} GB of mostly-read data ({write_share:.0%} writes) with large values "
            f"(typical {typical:,} bytes): flash keeps values on NVMe at a lower cost per GB."
        )
    elif ops_per_gb <= MEMORY_OPTIMIZED_MAX_OPS_PER_GB:
        family = "memory-optimized"
        reason = f"{ops_per_gb:,.0f} ops/s per GB is a light load for the memory: buy memory, not CPU."
    elif ops_per_gb <= BALANCED_MAX_OPS_PER_GB:
        family = "balanced"
        reason = f"{ops_per_gb:,.0f} ops/s per GB is a typical cache load: balanced memory and CPU."
    else:
        family = "compute-optimized"
        reason = f"{ops_per_gb:,.0f} ops/s per GB is throughput-heavy: more vCPUs per GB."
    return SizingPlan(
        estimated_bytes=sizing.total_bytes,
        current_memory_gb=inst.memory_gb,
        current_ratio=sizing.usage_ratio,
        required_gb=required_gb,
        ops_per_sec=ops,
        write_share=write_share,
        typical_value_bytes=typical,
        ops_per_gb=ops_per_gb,
        family=family,
        family_reason=reason,
    )


# Persistence, availability, eviction ---------------------------------------------------------


def _resilience_items(inst: Instance, hosted: list[Namespace]) -> list[CheckItem]:
    classes = {ns.classification for ns in hosted}
    only_copy = [ns.name for ns in hosted if ns.classification == "durable" and not ns.source_of_truth]
    stateful = [ns.name for ns in hosted if ns.classification in ("session", "coordination", "durable")]
    items = []

    if only_copy:
        wanted, why = "aof", f"Redis holds the only copy of {', '.join(only_copy)}: use AOF persistence."
        # Losing the only copy is data loss; anything less than AOF must change.
        short: Status = "action"
    elif inst.is_prod and classes & {"durable", "session"}:
        wanted, why = (
            "rdb",
            "Durable or session data is cheaper to restore than to rebuild: RDB snapshots suffice.",
        )
        short = "review"
    else:
        wanted, why = "none", "Only data that can be rebuilt: persistence would add cost without need."
        short = "review"
    order = {"none": 0, "rdb": 1, "aof": 2}
    if inst.persistence == wanted:
        status: Status = "ok"
    else:
        status = short if order[inst.persistence] < order[wanted] else "review"
    items.append(
        CheckItem(
            key="persistence",
            title="Persistence",
            status=status,
            detail=f"{why} Today: `{inst.persistence}`; recommended: `{wanted}`.",
        )
    )

    ha_needed = inst.environment == "prod"
    items.append(
        CheckItem(
            key="ha",
            title="High availability",
            status="action" if ha_needed and not inst.high_availability else "ok",
            detail=(
                "Production: keep high availability (a replica per shard, zone-redundant where the region has zones)."
                if ha_needed
                else "Not production: high availability is optional; without it the cache is a single node."
            ),
        )
    )
    if inst.geo_replication:
        items.append(
            CheckItem(
                key="geo",
                title="Geo-replication",
                status="review",
                detail="Active geo-replication is on today: create the new caches as one geo-replication group "
                "(same tier and size in every region) and decide how concurrent writes to the same key resolve.",
            )
        )
    stateful_on_allkeys = inst.eviction_policy.startswith("allkeys") and stateful
    items.append(
        CheckItem(
            key="eviction",
            title="Eviction policy",
            status="action" if stateful_on_allkeys else "ok",
            detail=(
                f"`{inst.eviction_policy}` may evict {', '.join(stateful)}: use the move to separate them onto a "
                "cache with a `volatile-*` or `noeviction` policy."
                if stateful_on_allkeys
                else f"Carry `{inst.eviction_policy}` over to the new cache."
            ),
        )
    )
    return items


# Per namespace -------------------------------------------------------------------------------


def _ttl_words(ns: Namespace) -> str:
    if ns.ttl_max_seconds is None:
        return "never expire"
    return f"expire within {_duration(ns.ttl_max_seconds)}"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds:,} s"


def _namespace_plan(ns: Namespace) -> NamespacePlan:
    memory = namespace_memory_bytes(ns)
    if ns.classification == "disposable":
        steps = [
            "Point the clients at the new cache; cache-aside reads refill it on misses.",
            "Pre-warm the hottest keys if a cold start would overload the source"
            + (f" ({ns.source_of_truth})." if ns.source_of_truth else "."),
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
            "or copy the keys at cutover (export an RDB file and import it into the new cache), with a short write freeze,",
            "or, if acceptable, schedule the cutover when forcing a new login does least harm.",
        ]
    elif ns.classification == "coordination":
        summary = "Locks, leases and idempotency records must live on exactly one cache at a time."
        steps = [
            "Never let two writers use different caches: switch every client at once (stop, reconfigure, start).",
            f"Or stop taking new locks on the old cache and wait until its records {_ttl_words(ns)} before switching.",
            "Idempotency records that must outlive the switch: copy them with the data.",
        ]
    else:
        if ns.source_of_truth:
            summary = f"Durable, with a source of truth ({ns.source_of_truth}): reload it or copy it."
            steps = [
                f"Reload the namespace from {ns.source_of_truth} into the new cache before cutover, or copy it "
                "(RDB export and import).",
                "Freeze writes during the final sync; compare key counts before switching.",
            ]
        else:
            summary = "Durable, and Redis holds the only copy: copy it, verified, with writes frozen."
            steps = [
                "Export an RDB file from the old cache and import it into the new cache, with writes frozen.",
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
