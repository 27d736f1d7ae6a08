"""The Azure platform catalog: what each Azure Redis product, tier and size offers.

One module of facts, used by the rules (INS, TTL008, HSH004, VAL005, DRF014), the migration
planner, the scanner (default ports) and the instance forms (sizes of a tier). Every fact names the
Microsoft Learn page it comes from; where Microsoft publishes no figure the field is None and the
comment says so. Nothing here is a guess: change a value only together with its source.

Product and tier names are the design file's (`azure-managed-redis` / `balanced`, ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from advisor.core.units import format_gb

if TYPE_CHECKING:
    from advisor.core.design import Instance

# --------------------------------------------------------------------------------------------
# Sources (Microsoft Learn; the markdown lives in MicrosoftDocs/azure-docs)

LEARN = "https://learn.microsoft.com/azure"
AMR_OVERVIEW = f"{LEARN}/redis/overview"
AMR_ARCHITECTURE = f"{LEARN}/redis/architecture"
AMR_SCALE = f"{LEARN}/redis/how-to-scale"
AMR_PERSISTENCE = f"{LEARN}/redis/how-to-persistence"
AMR_GEO = f"{LEARN}/redis/how-to-active-geo-replication"
AMR_ENTRA = f"{LEARN}/redis/entra-for-authentication"
AMR_MEMORY = f"{LEARN}/redis/best-practices-memory-management"
AMR_IMPORT_EXPORT = f"{LEARN}/redis/how-to-import-export-data"
AMR_FLASH = f"{LEARN}/redis/flash-optimized-overview"
AMR_FLASH_PRACTICES = f"{LEARN}/redis/best-practices-flash-optimized"
AMR_MIGRATE = f"{LEARN}/redis/migrate/migrate-overview"
AMR_MIGRATE_BSP = f"{LEARN}/redis/migrate/migrate-basic-standard-premium-understand"
AMR_MIGRATE_ENTERPRISE = f"{LEARN}/redis/migrate/migrate-redis-enterprise-understand"
ACR_OVERVIEW = f"{LEARN}/azure-cache-for-redis/cache-overview"
ACR_PLANNING = f"{LEARN}/azure-cache-for-redis/cache-planning-faq"
ACR_CLUSTERING = f"{LEARN}/azure-cache-for-redis/cache-how-to-premium-clustering"
ACR_PERSISTENCE = f"{LEARN}/azure-cache-for-redis/cache-how-to-premium-persistence"
ACR_GEO = f"{LEARN}/azure-cache-for-redis/cache-how-to-geo-replication"
ACR_ACTIVE_GEO = f"{LEARN}/azure-cache-for-redis/cache-how-to-active-geo-replication"
ACR_ENTRA = f"{LEARN}/azure-cache-for-redis/cache-azure-active-directory-for-authentication"
ACR_HA = f"{LEARN}/azure-cache-for-redis/cache-high-availability"
ACR_IMPORT_EXPORT = f"{LEARN}/azure-cache-for-redis/cache-how-to-import-export-data"
ACR_CONFIGURE = f"{LEARN}/azure-cache-for-redis/cache-configure"
ACR_MEMORY = f"{LEARN}/azure-cache-for-redis/cache-best-practices-memory-management"
ACR_VERSION = f"{LEARN}/azure-cache-for-redis/cache-how-to-version"
ACR_VNET = f"{LEARN}/azure-cache-for-redis/cache-how-to-premium-vnet"
ACR_RETIREMENT = f"{LEARN}/azure-cache-for-redis/retirement-faq"
AMR_PRIVATE_LINK = f"{LEARN}/redis/private-link"
AMR_CONFIGURE = f"{LEARN}/redis/configure"
AMR_KEYSPACE_NOTIFICATIONS = f"{LEARN}/redis/enable-redis-keyspace-notifications"
AMR_ACCESS_PERMISSIONS = f"{LEARN}/redis/configure-access-permissions"
REDIS_HEXPIRE = "https://redis.io/docs/latest/commands/hexpire/"
REDIS_RIOT = "https://redis.io/docs/latest/integrate/riot/"

Product = Literal["azure-managed-redis", "azure-cache-for-redis", "redis-oss"]
GeoReplication = Literal["none", "passive", "active"]
HighAvailability = Literal["never", "always", "optional"]

AMR = "azure-managed-redis"
ACR = "azure-cache-for-redis"
OSS = "redis-oss"

# --------------------------------------------------------------------------------------------
# Facts that hold across tiers

# The sizing model's default reserve (INS007.reserved_share). Azure Managed Redis: "approximately
# 20% of the available memory is reserved as a buffer for noncache operations" (AMR_ARCHITECTURE,
# "Reserved memory"). Azure Cache for Redis: "approximately 10% of the available memory is
# reserved for maxmemory-reserved. Another 10% is reserved for maxfragmentationmemory-reserved"
# (ACR_MEMORY).
RESERVED_SHARE = 0.2

# AMR_ARCHITECTURE, "Multi-key commands": "Only the following multi-key commands are allowed
# across slots with Enterprise clustering: DEL, MSET, MGET, EXISTS, UNLINK, and TOUCH", and "the
# following multi-key commands are allowed across slots in Active-Active databases: MGET, EXISTS,
# and TOUCH". Transactions and Lua scripts never may.
ENTERPRISE_CROSS_SLOT_COMMANDS = ("DEL", "MSET", "MGET", "EXISTS", "UNLINK", "TOUCH")
ACTIVE_GEO_CROSS_SLOT_COMMANDS = ("MGET", "EXISTS", "TOUCH")

# "Your application should connect to `<cachename>.<region>.redis.azure.net` on port `10000`."
# (AMR_PRIVATE_LINK)
AMR_HOSTNAME = "<cache-name>.{region}.redis.azure.net"

# Memory (GB) per vCPU of the in-memory AMR tiers: "Memory Optimized ... (8:1)", "Balanced ...
# (4:1)", "Compute Optimized ... (2:1)" (AMR_OVERVIEW).
AMR_MEMORY_PER_VCPU = {"memory-optimized": 8, "balanced": 4, "compute-optimized": 2}

# Microsoft's suggested Azure Managed Redis size for each Azure Cache for Redis size (AMR_MIGRATE,
# e.g. "| Premium - P5 | Balanced - B100 | 0 |"). Where two are given, the first is "for cost
# efficiency", the second "for abundant memory consumption". Enterprise sizes have no mapping.
AMR_SIZE_FOR_ACR: dict[str, tuple[str, ...]] = {
    "C0": ("B0",),
    "C1": ("B1",),
    "C2": ("B3",),
    "C3": ("B5",),
    "C4": ("M10", "M20"),
    "C5": ("M20", "M50"),
    "C6": ("M50",),
    "P1": ("B5",),
    "P2": ("B10", "B20"),
    "P3": ("B20", "B50"),
    "P4": ("B50",),
    "P5": ("B100",),
}

# Hash field expiration (HEXPIRE and friends) exists from Redis 7.4 on.
HASH_FIELD_EXPIRATION_SINCE = (7, 4)


@dataclass(frozen=True)
class Sku:
    """One Azure size: `B10` is Azure Managed Redis Balanced with 12 GB."""

    name: str
    product: str
    tier: str
    # None where Microsoft Learn publishes no size (the ACR Enterprise sizes).
    memory_gb: float | None
    # Most client connections the size accepts; None where Microsoft publishes no figure.
    max_connections: int | None
    # Active geo-replication is offered on this size (AMR: not on B0 and B1, not on Flash).
    geo_replication: bool = True
    preview: bool = False

    @property
    def usable_bytes(self) -> int | None:
        return None if self.memory_gb is None else usable_bytes(self.memory_gb)


@dataclass(frozen=True)
class Tier:
    """What a product tier offers. Tuples list what is allowed; () means nothing is."""

    product: str
    name: str
    label: str
    skus: tuple[Sku, ...]
    clustering: tuple[str, ...]  # cluster policies the tier offers ("none" = non-clustered)
    persistence: tuple[str, ...]  # "rdb" / "aof" offered
    persistence_with_geo: bool  # persistence may be combined with geo-replication
    geo_replication: GeoReplication
    high_availability: HighAvailability
    entra_id: bool
    # Entra ID principals can be given per-user data access policies (ACR: yes; AMR: every
    # principal gets full data access).
    entra_access_policies: bool
    redis_version: str
    tls_port: int
    plain_port: int | None
    retires: dt.date | None
    rdb_export: bool  # the cache can export an RDB file (the source of an rdb-import migration)
    rdb_import: bool
    databases: int  # database indexes a client may SELECT (AMR has only database 0)
    vnet_injection: bool
    non_clustered_max_gb: float | None = None  # the largest size that may run non-clustered
    # A cache serves either TLS or plain text, not both (so `tls: false` means no TLS at all).
    tls_exclusive: bool = False
    # A size names the memory of one shard (ACR Premium clustering multiplies it by the shards).
    memory_per_shard: bool = False
    flash: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{PRODUCT_LABELS[self.product]} {self.label}"

    @property
    def hash_field_expiration(self) -> bool:
        return _version(self.redis_version) >= HASH_FIELD_EXPIRATION_SINCE

    def sku(self, name: str) -> Sku | None:
        name = name.upper()
        return next((s for s in self.skus if s.name == name), None)


PRODUCT_LABELS = {AMR: "Azure Managed Redis", ACR: "Azure Cache for Redis", OSS: "self-hosted Redis"}


# --------------------------------------------------------------------------------------------
# Looking facts up


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def tiers(product: str | None) -> list[Tier]:
    """The tiers of a product, in the design file's order; [] for redis-oss or an unknown name."""
    return [t for t in TIERS if t.product == product]


def tier(product: str | None, name: str | None) -> Tier | None:
    """The catalog entry of a product's tier; None for redis-oss or an unknown combination."""
    return _TIERS.get((product or "", name or ""))


def skus(product: str | None, tier_name: str | None) -> list[Sku]:
    """The sizes of a tier, smallest first; [] when the tier is unknown."""
    entry = tier(product, tier_name)
    return list(entry.skus) if entry else []


def find_sku(product: str | None, tier_name: str | None, name: str | None) -> Sku | None:
    """The size `name` (case-insensitive) of that tier; None when the tier has no such size."""
    entry = tier(product, tier_name)
    return entry.sku(name) if entry and name else None


def sku_anywhere(product: str | None, name: str | None) -> Sku | None:
    """The size `name` in whichever tier of the product has it (to say `M10` is Memory Optimized)."""
    if not name:
        return None
    for entry in tiers(product):
        found = entry.sku(name)
        if found:
            return found
    return None


def usable_bytes(memory_gb: float, reserved_share: float = RESERVED_SHARE) -> int:
    """Memory left for data once the service's reserve is kept (the sizing model)."""
    return int(memory_gb * 2**30 * (1 - reserved_share))


def default_port(product: str | None, tier_name: str | None = None, *, tls: bool = True) -> int:
    """The port a client connects to when the URL names none."""
    entry = tier(product, tier_name)
    if entry is None:
        entry = next(iter(tiers(product)), None)
    if entry is None:
        return 6379  # self-hosted Redis: the Redis default
    if tls or entry.plain_port is None:
        return entry.tls_port
    return entry.plain_port


# The advisor's own step, not a Microsoft figure: a retiring tier's finding (INS001) turns high, and
# the migration planner's urgency with it, this many days before the retirement date that
# Microsoft announces (ACR_RETIREMENT).
RETIREMENT_WARNING_DAYS = 180


def retirement_date(product: str | None, tier_name: str | None) -> dt.date | None:
    entry = tier(product, tier_name)
    return entry.retires if entry else None


def geo_replication_kind(instance: Instance) -> GeoReplication:
    """What `geo_replication: true` means on this instance: passive (ACR Premium), active, or none."""
    if not instance.geo_replication:
        return "none"
    entry = tier(instance.product, instance.tier)
    if entry is None:
        return "none" if instance.product == OSS else "active"
    return entry.geo_replication


def has_active_geo_replication(instance: Instance) -> bool:
    return geo_replication_kind(instance) == "active"


def supports_hash_field_expiration(instance: Instance) -> bool | None:
    """Whether the instance's Redis can expire hash fields; None when the catalog cannot tell."""
    entry = tier(instance.product, instance.tier)
    return entry.hash_field_expiration if entry else None


def instance_sku(instance: Instance) -> Sku | None:
    """The catalog size the instance names, when it names one of its tier."""
    return find_sku(instance.product, instance.tier, instance.sku)


def sku_memory_gb(instance: Instance) -> float | None:
    """The memory the instance's sku gives it (per shard times shards where sizes are per shard)."""
    entry = tier(instance.product, instance.tier)
    size = entry.sku(instance.sku) if entry and instance.sku else None
    if size is None or size.memory_gb is None:
        return None
    if entry.memory_per_shard and instance.clustering != "none":
        return size.memory_gb * instance.shards
    return size.memory_gb


def smallest_fitting_sku(
    product: str, tier_name: str, need_bytes: int, *, reserved_share: float = RESERVED_SHARE
) -> Sku | None:
    """The smallest size of the tier whose usable memory covers `need_bytes`; None if none does."""
    for size in skus(product, tier_name):
        if size.memory_gb is not None and usable_bytes(size.memory_gb, reserved_share) >= need_bytes:
            return size
    return None


@dataclass(frozen=True)
class Impossible:
    """A configuration the product and tier do not offer (rule INS009)."""

    code: str
    message: str
    source: str


def impossible_configurations(instance: Instance) -> list[Impossible]:
    """Every combination in the instance's design that its product and tier do not offer."""
    out: list[Impossible] = []
    inst = instance
    if inst.product == OSS:
        if inst.clustering == "enterprise":
            out.append(
                Impossible(
                    "enterprise-clustering-oss",
                    "the Enterprise cluster policy exists only in Redis Enterprise (Azure Managed Redis, Azure "
                    "Cache for Redis Enterprise); self-hosted Redis is clustered with the OSS policy or not at all",
                    AMR_ARCHITECTURE,
                )
            )
        return out
    entry = tier(inst.product, inst.tier)
    if entry is None:
        return out
    name = entry.title

    if inst.clustering not in entry.clustering:
        offered = " or ".join(_CLUSTERING_WORDS[c] for c in entry.clustering)
        out.append(
            Impossible(
                f"clustering-{inst.clustering}",
                f"{name} does not offer {_CLUSTERING_WORDS[inst.clustering]}; it offers {offered}",
                entry.sources.get("clustering", ""),
            )
        )
    elif inst.clustering == "none" and entry.non_clustered_max_gb is not None:
        if inst.memory_gb is not None and inst.memory_gb > entry.non_clustered_max_gb:
            out.append(
                Impossible(
                    "non-clustered-size",
                    f"{name} runs non-clustered only up to {format_gb(entry.non_clustered_max_gb)}; "
                    f"this instance has {format_gb(inst.memory_gb)}",
                    entry.sources.get("non_clustered", entry.sources.get("clustering", "")),
                )
            )
    if inst.persistence != "none" and inst.persistence not in entry.persistence:
        out.append(
            Impossible(
                f"persistence-{inst.persistence}",
                f"{name} does not offer {inst.persistence.upper()} persistence"
                + (
                    f" (it offers {' or '.join(p.upper() for p in entry.persistence)})"
                    if entry.persistence
                    else ""
                ),
                entry.sources.get("persistence", ""),
            )
        )
    if inst.geo_replication and entry.geo_replication == "none":
        out.append(
            Impossible(
                "geo-replication", f"{name} does not offer geo-replication", entry.sources.get("geo", "")
            )
        )
    if (
        inst.geo_replication
        and inst.persistence in entry.persistence
        and entry.geo_replication != "none"
        and not entry.persistence_with_geo
    ):
        # Only where both exist on their own; otherwise the findings above already say it.
        out.append(
            Impossible(
                "persistence-with-geo-replication",
                f"{name} does not combine data persistence with geo-replication",
                entry.sources.get("persistence_geo", entry.sources.get("persistence", "")),
            )
        )
    if (
        inst.geo_replication
        and entry.flash
        and entry.geo_replication == "active"
        and inst.eviction_policy != "noeviction"
    ):
        out.append(
            Impossible(
                "flash-geo-eviction",
                f"with active geo-replication {name} allows only the noeviction policy, "
                f"not {inst.eviction_policy}",
                entry.sources.get("geo", ""),
            )
        )
    if inst.high_availability and entry.high_availability == "never":
        out.append(
            Impossible(
                "high-availability",
                f"{name} is a single node: it has no replica and no high availability",
                entry.sources.get("ha", ""),
            )
        )
    if not inst.high_availability and entry.high_availability == "always":
        out.append(
            Impossible(
                "no-high-availability",
                f"{name} always runs a replica: `high_availability: false` does not describe it",
                entry.sources.get("ha", ""),
            )
        )
    if inst.auth == "entra-id" and not entry.entra_id:
        out.append(
            Impossible(
                "entra-id",
                f"{name} does not support Microsoft Entra ID authentication",
                entry.sources.get("entra", ""),
            )
        )
    elif inst.auth == "entra-id" and not inst.tls and entry.tls_exclusive:
        # On ACR a non-TLS port may be open beside the TLS one, and Entra clients use the latter.
        out.append(
            Impossible(
                "entra-id-without-tls",
                f"Microsoft Entra ID authentication works over TLS only, and a {name} cache with its "
                "non-TLS mode (`tls: false`) serves no TLS",
                entry.sources.get("entra", ""),
            )
        )

    size = entry.sku(inst.sku) if inst.sku else None
    if inst.sku and size is None:
        elsewhere = sku_anywhere(inst.product, inst.sku)
        hint = (
            f" (it is a {tiers_label(elsewhere)} size)"
            if elsewhere
            else f"; its sizes are {', '.join(s.name for s in entry.skus)}"
        )
        out.append(
            Impossible("sku-tier", f"{inst.sku} is not a size of {name}{hint}", entry.sources.get("skus", ""))
        )
    expected = sku_memory_gb(inst) if size is not None else None
    if expected is not None and inst.memory_gb is not None and abs(expected - inst.memory_gb) > 1e-6:
        per_shard = expected != size.memory_gb
        out.append(
            Impossible(
                "sku-memory",
                f"{size.name} has {format_gb(size.memory_gb or 0)} of memory"
                + (f" per shard, {format_gb(expected)} with {inst.shards} shards" if per_shard else "")
                + f", but `memory_gb` says {format_gb(inst.memory_gb)}",
                entry.sources.get("skus", ""),
            )
        )
    if inst.geo_replication and entry.geo_replication == "active":
        if size is not None and not size.geo_replication:
            out.append(
                Impossible(
                    "geo-replication-sku",
                    f"{size.name} does not offer active geo-replication",
                    entry.sources.get("geo", ""),
                )
            )
        if not inst.high_availability and entry.high_availability == "optional":
            out.append(
                Impossible(
                    "geo-replication-without-ha",
                    f"active geo-replication on {name} needs high availability",
                    entry.sources.get("geo_ha", entry.sources.get("geo", "")),
                )
            )
    return out


def tiers_label(size: Sku) -> str:
    entry = tier(size.product, size.tier)
    return entry.title if entry else size.tier


_CLUSTERING_WORDS = {
    "oss": "the OSS cluster policy",
    "enterprise": "the Enterprise cluster policy",
    "none": "non-clustered caches",
}


# --------------------------------------------------------------------------------------------
# Azure Managed Redis
#
# Sizes: Microsoft publishes the SKU-to-size table of AMR_OVERVIEW as an image. The SKU names are
# the API's (Balanced_B0 ... FlashOptimized_A4500), the sizes are the rows of the sharding table
# (AMR_ARCHITECTURE, "Sharding configuration") and of the connection table (AMR_OVERVIEW,
# "Maximum number of client connections"); names and sizes pair in order, tier by tier, and the
# pages state several pairs in words: B10/M10/X10 = 12 GB (AMR_MIGRATE_BSP), X20 = 24 GB and
# A4500 = 4.5 TB (AMR_SCALE), X3 = 3 GB (best-practices-performance).
# Connection limits: AMR_OVERVIEW, "Maximum number of client connections", per size and tier.
# Preview: AMR_SCALE, "All in-memory tiers that use over 350 GB of storage are in preview,
# including Memory Optimized M500 and higher; Balanced B500 and higher; and Compute Optimized
# X500 and higher".
# Geo-replication: "The Balanced B0 and B1 SKUs don't support active geo-replication" (AMR_GEO);
# Flash Optimized has none: "Active geo-replication, non-clustered mode, RediSearch/vector search,
# RedisBloom, and RedisTimeSeries are not supported" (AMR_FLASH_PRACTICES, AMR_OVERVIEW's tier table).


def _amr(tier_name: str, rows: list[tuple[str, float, int]], *, preview_from_gb: float) -> tuple[Sku, ...]:
    no_geo = {"B0", "B1"}
    return tuple(
        Sku(
            name=name,
            product=AMR,
            tier=tier_name,
            memory_gb=gb,
            max_connections=connections,
            geo_replication=tier_name != "flash-optimized" and name not in no_geo,
            preview=gb >= preview_from_gb,
        )
        for name, gb, connections in rows
    )


_AMR_MEMORY_OPTIMIZED = _amr(
    "memory-optimized",
    [
        ("M10", 12, 15_000),
        ("M20", 24, 30_000),
        ("M50", 60, 75_000),
        ("M100", 120, 150_000),
        ("M150", 180, 200_000),
        ("M250", 240, 200_000),
        ("M350", 360, 200_000),
        ("M500", 480, 200_000),
        ("M700", 720, 200_000),
        ("M1000", 960, 200_000),
        ("M1500", 1440, 200_000),
        ("M2000", 1920, 200_000),
    ],
    preview_from_gb=480,
)
_AMR_BALANCED = _amr(
    "balanced",
    [
        ("B0", 0.5, 15_000),
        ("B1", 1, 15_000),
        ("B3", 3, 15_000),
        ("B5", 6, 15_000),
        ("B10", 12, 30_000),
        ("B20", 24, 75_000),
        ("B50", 60, 150_000),
        ("B100", 120, 200_000),
        ("B150", 180, 200_000),
        ("B250", 240, 200_000),
        ("B350", 360, 200_000),
        ("B500", 480, 200_000),
        ("B700", 720, 200_000),
        ("B1000", 960, 200_000),
    ],
    preview_from_gb=480,
)
_AMR_COMPUTE_OPTIMIZED = _amr(
    "compute-optimized",
    [
        ("X3", 3, 30_000),
        ("X5", 6, 30_000),
        ("X10", 12, 75_000),
        ("X20", 24, 150_000),
        ("X50", 60, 200_000),
        ("X100", 120, 200_000),
        ("X150", 180, 200_000),
        ("X250", 240, 200_000),
        ("X350", 360, 200_000),
        ("X500", 480, 200_000),
        ("X700", 720, 200_000),
    ],
    preview_from_gb=480,
)
# Flash sizes and status: the one text table that maps Flash SKU names to sizes
# (AMR_FLASH_PRACTICES, "| A250 | 235 | GA |" ... "| A4500 | 4,500 | Public Preview |");
# connection limits from the AMR_OVERVIEW rows of the same sizes (its smallest row says 240 GB).
_AMR_FLASH_OPTIMIZED = tuple(
    Sku(name, AMR, "flash-optimized", gb, connections, geo_replication=False, preview=preview)
    for name, gb, connections, preview in [
        ("A250", 235, 75_000, False),
        ("A500", 480, 150_000, False),
        ("A700", 720, 200_000, False),
        ("A1000", 960, 200_000, False),
        ("A1500", 1440, 200_000, False),
        ("A2000", 1920, 200_000, True),
        ("A4500", 4500, 200_000, True),
    ]
)

_AMR_SOURCES = {
    "skus": AMR_OVERVIEW,
    "clustering": AMR_ARCHITECTURE,  # "three clustering policies: OSS, Enterprise, and Non-Clustered"
    "non_clustered": AMR_ARCHITECTURE,  # "It applies only to caches sized 25 GB and smaller."
    "persistence": AMR_PERSISTENCE,  # "you can enable RDB or AOF, but not both at the same time"
    "persistence_geo": AMR_PERSISTENCE,  # "Persistence isn't supported with caches using active geo-replication"
    "geo": AMR_GEO,
    "geo_ha": AMR_GEO,  # "only supported when Azure Managed Redis is in a high availability configuration"
    "ha": f"{LEARN}/redis/high-availability",
    "entra": AMR_ENTRA,  # "Microsoft Entra authentication is supported for SSL connections only."
    "version": AMR_OVERVIEW,  # "Azure Managed Redis supports Redis version 7.4.x."
    "ports": AMR_ARCHITECTURE,  # "The initial connection is through port 10000."
    "import_export": AMR_IMPORT_EXPORT,
}


def _amr_tier(name: str, label: str, sizes: tuple[Sku, ...], *, flash: bool = False) -> Tier:
    return Tier(
        product=AMR,
        name=name,
        label=label,
        skus=sizes,
        # Non-clustered caches: not on Flash Optimized (AMR_OVERVIEW tier table).
        clustering=("oss", "enterprise") if flash else ("oss", "enterprise", "none"),
        non_clustered_max_gb=None if flash else 25,
        persistence=("rdb", "aof"),
        persistence_with_geo=False,
        geo_replication="none" if flash else "active",
        # High availability can be switched off on AMR (for dev/test; no SLA without it).
        high_availability="optional",
        entra_id=True,
        # By default every Entra principal gets full access to all commands and keys; per-user
        # access strings exist only in preview (API 2026-05-01-preview), AMR configure-access-permissions.
        entra_access_policies=False,
        redis_version="7.4",
        tls_port=10000,
        plain_port=10000,
        retires=None,
        rdb_export=True,
        rdb_import=True,
        # Only database 0 (AMR_MIGRATE_BSP: "supports only a single database (database 0)").
        databases=1,
        # "the cache supports only one mode at a time — either TLS or non-TLS" (AMR_MIGRATE_BSP).
        tls_exclusive=True,
        # Network isolation is through private endpoints only; no VNet injection (AMR_MIGRATE_BSP).
        vnet_injection=False,
        flash=flash,
        sources=_AMR_SOURCES,
    )


# --------------------------------------------------------------------------------------------
# Azure Cache for Redis, Basic / Standard / Premium
#
# Sizes and connection limits: ACR_CONFIGURE, "maxclients" ("C0 (250 MB) cache - up to 256
# connections" ... "P5: (120 GB - 1200 GB) - up to 40,000 connections"). Premium sizes are per
# shard (P1 "6 GB - 60 GB" with up to 10 shards); whether maxclients counts per shard is not
# published, so the per-size figure is used as the cache's limit.


def _acr(tier_name: str, rows: list[tuple[str, float, int]]) -> tuple[Sku, ...]:
    return tuple(
        Sku(name=name, product=ACR, tier=tier_name, memory_gb=gb, max_connections=connections)
        for name, gb, connections in rows
    )


_ACR_C_SIZES = [
    ("C0", 0.25, 256),
    ("C1", 1, 1_000),
    ("C2", 2.5, 2_000),
    ("C3", 6, 5_000),
    ("C4", 13, 10_000),
    ("C5", 26, 15_000),
    ("C6", 53, 20_000),
]
_ACR_P_SIZES = [
    ("P1", 6, 7_500),
    ("P2", 13, 15_000),
    ("P3", 26, 30_000),
    ("P4", 53, 40_000),
    ("P5", 120, 40_000),
]

_ACR_SOURCES = {
    "skus": ACR_CONFIGURE,
    # "Clustering is only available for Premium caches" / Basic and Standard are never clustered.
    "clustering": ACR_CLUSTERING,
    "persistence": ACR_PERSISTENCE,  # data persistence is a Premium feature
    "persistence_geo": ACR_GEO,  # "Persistence isn't supported with geo-replication."
    "geo": ACR_GEO,  # Premium geo-replication links a read-only secondary cache (passive)
    "ha": ACR_HA,  # Basic: a single node, no SLA; Standard and Premium: a primary and a replica
    # "supported for SSL connections and TLS 1.2 or higher"; a plain port may be open beside it.
    "entra": ACR_ENTRA,
    "version": AMR_MIGRATE_BSP,  # "| Redis version | 6 | 7.4 |" (ACR | AMR)
    "ports": ACR_CONFIGURE,  # 6380 TLS, 6379 non-TLS (disabled by default)
    "import_export": ACR_IMPORT_EXPORT,  # import/export is a Premium feature
    "retirement": ACR_RETIREMENT,  # "retired on September 30, 2028"
}


def _acr_classic(name: str, label: str, sizes: tuple[Sku, ...]) -> Tier:
    premium = name == "premium"
    return Tier(
        product=ACR,
        name=name,
        label=label,
        skus=sizes,
        clustering=("none", "oss") if premium else ("none",),
        persistence=("rdb", "aof") if premium else (),
        persistence_with_geo=False,
        geo_replication="passive" if premium else "none",
        high_availability="never" if name == "basic" else "always",
        entra_id=True,
        entra_access_policies=True,
        redis_version="6",
        tls_port=6380,
        plain_port=6379,
        retires=dt.date(2028, 9, 30),
        rdb_export=premium,
        rdb_import=premium,
        # `databases` default 16 (ACR_CONFIGURE); a clustered Premium cache has only database 0.
        databases=16,
        vnet_injection=premium,  # ACR_VNET: virtual network injection is a Premium feature
        memory_per_shard=premium,
        sources=_ACR_SOURCES,
    )


# --------------------------------------------------------------------------------------------
# Azure Cache for Redis, Enterprise / Enterprise Flash
#
# Sizes: the API names Enterprise_E1 ... E400 and EnterpriseFlash_F300 ... F1500; Microsoft Learn
# gives only the tier range ("the Enterprise tiers 12 GB - 14 TB", ACR_OVERVIEW) and the memory
# of a size grows with its capacity (scale) setting, so no size here carries a memory figure:
# with `sku: E10`, `memory_gb` must still be given. Connection limits: not published.
# Clustering: "The Enterprise tiers offer two choices for Clustering Policy: OSS and Enterprise"
# (ACR_ENTERPRISE_PRACTICES); geo-replication is active (ACR_OVERVIEW feature table); data
# persistence is in preview (AMR_MIGRATE_ENTERPRISE); "Azure Cache for Redis Enterprise doesn't
# support Microsoft Entra ID authentication" and "Azure Cache for Redis Enterprise runs Redis 7.2"
# (AMR_MIGRATE_ENTERPRISE); with active geo-replication "Data persistence isn't supported" and "On
# the Enterprise Flash tier, only the No Eviction eviction policy can be used" (ACR_ACTIVE_GEO);
# a cache "always uses at least three nodes. Two nodes are data nodes
# ... and a quorum node" (ACR_ENTERPRISE_PRACTICES): always replicated. Clients connect on port
# 10000 (and 8500-8599 under the OSS policy), per Microsoft's answer in ACR_ENTERPRISE_PORTS.
# RDB files of Enterprise caches can be imported into Azure Managed Redis (AMR_IMPORT_EXPORT).

ACR_ENTERPRISE_PRACTICES = f"{LEARN}/azure-cache-for-redis/cache-best-practices-enterprise-tiers"
ACR_ENTERPRISE_PORTS = "https://learn.microsoft.com/answers/a/1513841"

_ACR_ENTERPRISE_SOURCES = {
    "skus": ACR_OVERVIEW,
    "clustering": ACR_ENTERPRISE_PRACTICES,
    "persistence": AMR_MIGRATE_ENTERPRISE,
    "geo": ACR_ACTIVE_GEO,
    "persistence_geo": ACR_ACTIVE_GEO,
    "ha": ACR_ENTERPRISE_PRACTICES,
    "entra": AMR_MIGRATE_ENTERPRISE,
    "version": AMR_MIGRATE_ENTERPRISE,
    "ports": ACR_ENTERPRISE_PORTS,
    "import_export": AMR_IMPORT_EXPORT,
    "retirement": ACR_RETIREMENT,  # "retired on March 31, 2027"
}


def _acr_enterprise(name: str, label: str, names: list[str], *, flash: bool) -> Tier:
    return Tier(
        product=ACR,
        name=name,
        label=label,
        skus=tuple(Sku(n, ACR, name, None, None) for n in names),
        clustering=("oss", "enterprise"),
        persistence=("rdb", "aof"),
        persistence_with_geo=False,
        geo_replication="active",
        high_availability="always",
        entra_id=False,
        entra_access_policies=False,
        redis_version="7.2",
        tls_port=10000,
        plain_port=10000,
        retires=dt.date(2027, 3, 31),
        rdb_export=True,
        rdb_import=True,
        databases=1,
        vnet_injection=False,
        flash=flash,
        sources=_ACR_ENTERPRISE_SOURCES,
    )


# --------------------------------------------------------------------------------------------
# The catalog, in the design file's tier order

TIERS: tuple[Tier, ...] = (
    _amr_tier("memory-optimized", "Memory Optimized", _AMR_MEMORY_OPTIMIZED),
    _amr_tier("balanced", "Balanced", _AMR_BALANCED),
    _amr_tier("compute-optimized", "Compute Optimized", _AMR_COMPUTE_OPTIMIZED),
    _amr_tier("flash-optimized", "Flash Optimized", _AMR_FLASH_OPTIMIZED, flash=True),
    _acr_classic("basic", "Basic", _acr("basic", _ACR_C_SIZES)),
    _acr_classic("standard", "Standard", _acr("standard", _ACR_C_SIZES)),
    _acr_classic("premium", "Premium", _acr("premium", _ACR_P_SIZES)),
    _acr_enterprise(
        "enterprise", "Enterprise", ["E1", "E5", "E10", "E20", "E50", "E100", "E200", "E400"], flash=False
    ),
    _acr_enterprise("enterprise-flash", "Enterprise Flash", ["F300", "F700", "F1500"], flash=True),
)
_TIERS: dict[tuple[str, str], Tier] = {(t.product, t.name): t for t in TIERS}


def catalog() -> list[dict]:
    """The catalog as plain data, tier by tier, for the reference page and the API."""
    out = []
    for entry in TIERS:
        out.append(
            {
                "product": entry.product,
                "product_label": PRODUCT_LABELS[entry.product],
                "tier": entry.name,
                "title": entry.title,
                "clustering": list(entry.clustering),
                "non_clustered_max_gb": entry.non_clustered_max_gb,
                "persistence": list(entry.persistence),
                "persistence_with_geo_replication": entry.persistence_with_geo,
                "geo_replication": entry.geo_replication,
                "high_availability": entry.high_availability,
                "entra_id": entry.entra_id,
                "entra_access_policies": entry.entra_access_policies,
                "redis_version": entry.redis_version,
                "hash_field_expiration": entry.hash_field_expiration,
                "tls_port": entry.tls_port,
                "plain_port": entry.plain_port,
                "retires": entry.retires.isoformat() if entry.retires else None,
                "rdb_export": entry.rdb_export,
                "databases": entry.databases,
                "vnet_injection": entry.vnet_injection,
                "skus": [
                    {
                        "name": s.name,
                        "memory_gb": s.memory_gb,
                        "usable_gb": None
                        if s.memory_gb is None
                        else round(s.memory_gb * (1 - RESERVED_SHARE), 2),
                        "max_connections": s.max_connections,
                        "geo_replication": s.geo_replication and entry.geo_replication != "none",
                        "preview": s.preview,
                    }
                    for s in entry.skus
                ],
                "sources": dict(entry.sources),
            }
        )
    return out
