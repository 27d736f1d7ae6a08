"""How Azure's own names map onto the design file: SKU names, clustering and eviction policies,
locations, host names and ports. Shared by the Terraform reader and the ARM reader, which see the
same names (the azurerm provider passes most of them through to ARM unchanged).

Every mapping names its source: the Terraform azurerm provider's documentation and the ARM REST API
specifications. Sizes, memory and what a tier offers come from the platform catalog
(advisor.core.platform), never from here.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from advisor.core import platform
from advisor.core.design.fields import ENVIRONMENTS, EVICTION_POLICIES

# --------------------------------------------------------------------------------------------
# Sources

TF_DOCS = "https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources"
TF_REDIS_CACHE = f"{TF_DOCS}/redis_cache"
TF_REDIS_LINKED_SERVER = f"{TF_DOCS}/redis_linked_server"
TF_MANAGED_REDIS = f"{TF_DOCS}/managed_redis"
TF_ENTERPRISE_CLUSTER = f"{TF_DOCS}/redis_enterprise_cluster"
TF_ENTERPRISE_DATABASE = f"{TF_DOCS}/redis_enterprise_database"
TF_JSON_FORMAT = "https://developer.hashicorp.com/terraform/internals/json-format"
_SPECS = "https://github.com/Azure/azure-rest-api-specs/blob/main/specification"
# Microsoft.Cache/redis, API version 2024-11-01 (what azure-mgmt-redis 14.5.0 calls).
ARM_REDIS = f"{_SPECS}/redis/resource-manager/Microsoft.Cache/stable/2024-11-01/redis.json"
# Microsoft.Cache/redisEnterprise and its databases, API version 2025-07-01 (azure-mgmt-redisenterprise
# 3.1.0; also what azurerm_managed_redis calls).
ARM_REDIS_ENTERPRISE = f"{_SPECS}/redisenterprise/resource-manager/Microsoft.Cache/RedisEnterprise/stable/2025-07-01/redisenterprise.json"

# --------------------------------------------------------------------------------------------
# SKU names

# Azure Managed Redis and Redis Enterprise SKU names are `<Tier>_<Size>`: "Balanced_B20",
# "Enterprise_E10" (ARM's Sku.name enum, ARM_REDIS_ENTERPRISE). azurerm_redis_enterprise_cluster
# appends the capacity: "Enterprise_E10-2" (TF_ENTERPRISE_CLUSTER, `sku_name`). "`Enterprise_` and
# `EnterpriseFlash_` prefixed SKUs were previously used by Redis Enterprise, and not supported by
# Managed Redis" (TF_MANAGED_REDIS): they are Azure Cache for Redis Enterprise.
_ENTERPRISE_PREFIXES: dict[str, tuple[str, str]] = {
    "Balanced": (platform.AMR, "balanced"),
    "MemoryOptimized": (platform.AMR, "memory-optimized"),
    "ComputeOptimized": (platform.AMR, "compute-optimized"),
    "FlashOptimized": (platform.AMR, "flash-optimized"),
    "Enterprise": (platform.ACR, "enterprise"),
    "EnterpriseFlash": (platform.ACR, "enterprise-flash"),
}
_ENTERPRISE_SKU_RE = re.compile(
    r"(?P<tier>[A-Za-z]+)_(?P<size>[A-Za-z][A-Za-z0-9]*)(?:-(?P<capacity>[0-9]+))?"
)

# azurerm_redis_cache: `sku_name` "Basic", "Standard" or "Premium", `family` "C" (Basic/Standard)
# or "P" (Premium) and `capacity` 0-6 (C) or 1-5 (P) (TF_REDIS_CACHE); ARM has the same three in
# properties.sku (ARM_REDIS, "Sku"). The size is family and capacity: C1, P3 (ACR_CONFIGURE's names).
_ACR_CLASSIC_TIERS = {"basic": "basic", "standard": "standard", "premium": "premium"}


def enterprise_sku(name: str) -> tuple[str, str, str] | None:
    """(product, tier, size) of an AMR or Redis Enterprise SKU name; None when it is not one."""
    match = _ENTERPRISE_SKU_RE.fullmatch(name or "")
    if match is None or match["tier"] not in _ENTERPRISE_PREFIXES:
        return None
    product, tier = _ENTERPRISE_PREFIXES[match["tier"]]
    return product, tier, match["size"].upper()


def classic_tier(sku_name: Any) -> str | None:
    """The tier of an Azure Cache for Redis `sku_name` ("Premium" is `premium`); None otherwise."""
    return _ACR_CLASSIC_TIERS.get(str(sku_name or "").lower())


def classic_sku(sku_name: Any, family: Any, capacity: Any) -> tuple[str, str] | None:
    """(tier, size) of an Azure Cache for Redis Basic, Standard or Premium SKU; None when unreadable."""
    tier = _ACR_CLASSIC_TIERS.get(str(sku_name or "").lower())
    if tier is None or not isinstance(family, str) or family.upper() not in ("C", "P"):
        return None
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
        return None
    return tier, f"{family.upper()}{capacity}"


def memory_gb(
    product: str, tier: str, size: str, *, clustering: str, shards: int
) -> tuple[float | None, str]:
    """The memory the catalog gives the size (per shard times shards where sizes are per shard),
    or None and why not."""
    entry = platform.tier(product, tier)
    found = entry.sku(size) if entry else None
    if entry is None or found is None:
        return (
            None,
            f"{size} is not a size of {entry.title if entry else f'{product} {tier}'} in the platform catalog",
        )
    if found.memory_gb is None:
        return (
            None,
            f"Microsoft publishes no memory figure for {entry.title} {found.name}; give it in the registry",
        )
    probe = SimpleNamespace(product=product, tier=tier, sku=size, clustering=clustering, shards=shards)
    return platform.sku_memory_gb(probe), ""


# --------------------------------------------------------------------------------------------
# Policies

# ARM's ClusteringPolicy enum: "EnterpriseCluster", "OSSCluster" and "NoCluster" (ARM_REDIS_ENTERPRISE;
# the same values in azurerm's `clustering_policy`, TF_MANAGED_REDIS, TF_ENTERPRISE_DATABASE).
CLUSTERING = {"OSSCluster": "oss", "EnterpriseCluster": "enterprise", "NoCluster": "none"}

# ARM's EvictionPolicy enum (ARM_REDIS_ENTERPRISE; azurerm's `eviction_policy` takes the same
# values, TF_MANAGED_REDIS): the Redis policies of the same names.
EVICTION = {
    "AllKeysLFU": "allkeys-lfu",
    "AllKeysLRU": "allkeys-lru",
    "AllKeysRandom": "allkeys-random",
    "VolatileLRU": "volatile-lru",
    "VolatileLFU": "volatile-lfu",
    "VolatileTTL": "volatile-ttl",
    "VolatileRandom": "volatile-random",
    "NoEviction": "noeviction",
}


def redis_eviction(value: Any) -> str | None:
    """An Azure Cache for Redis `maxmemory-policy` (Redis's own names): the design value, or None."""
    return value if isinstance(value, str) and value in EVICTION_POLICIES else None


def enabled(value: Any) -> bool | None:
    """ARM's "Enabled" / "Disabled" (and azurerm's, for public_network_access) as a bool; None otherwise."""
    return {"Enabled": True, "Disabled": False}.get(value) if isinstance(value, str) else None


# --------------------------------------------------------------------------------------------
# Where it runs and how it is reached


def region(location: Any) -> str | None:
    """ARM's location name: "West Europe" and "westeurope" are both `westeurope`."""
    if not isinstance(location, str) or not location.strip():
        return None
    return re.sub(r"\s+", "", location).lower()


def environment(tags: Any) -> str | None:
    """The `environment` (or `env`) tag, when it names one of the design file's environments."""
    if not isinstance(tags, dict):
        return None
    for key in ("environment", "env", "Environment", "Env"):
        value = tags.get(key)
        if isinstance(value, str) and value.lower() in ENVIRONMENTS:
            return value.lower()
    return None


def connection_url(host: str, port: int, *, tls: bool) -> str:
    """The scan connection URL of a host and port; never a secret (the credential is a reference)."""
    return f"{'rediss' if tls else 'redis'}://{host}:{port}"


def instance_name(name: Any) -> str | None:
    """The registry name of an Azure resource name (lower case); None when there is none."""
    return name.lower() if isinstance(name, str) and name else None


class Fields:
    """The entry and the unknown fields of one declared instance, filled field by field."""

    def __init__(self) -> None:
        self.entry: dict[str, Any] = {}
        self.unknown: dict[str, str] = {}
        self.notes: list[str] = []

    def set(self, field: str, value: Any) -> None:
        if "." in field:
            head, tail = field.split(".", 1)
            self.entry.setdefault(head, {})[tail] = value
        else:
            self.entry[field] = value
        self.unknown.pop(field, None)

    def unknown_(self, field: str, why: str) -> None:
        self.unknown[field] = why

    def has(self, field: str) -> bool:
        head, _, tail = field.partition(".")
        return head in self.entry and (not tail or tail in self.entry[head])

    def get(self, field: str) -> Any:
        head, _, tail = field.partition(".")
        value = self.entry.get(head)
        return value.get(tail) if tail and isinstance(value, dict) else value

    def memory(self, product: str | None, tier: str | None, size: str | None) -> None:
        """memory_gb from the size, once clustering and shards are known."""
        if product is None or tier is None or size is None:
            self.unknown_("memory_gb", self.unknown.get("sku") or "the SKU is not known")
            return
        if "clustering" in self.unknown or "shards" in self.unknown:
            entry = platform.tier(product, tier)
            if entry is not None and entry.memory_per_shard:
                self.unknown_("memory_gb", "the shard count is not known, and the size is per shard")
                return
        value, why = memory_gb(
            product, tier, size, clustering=self.get("clustering") or "none", shards=self.get("shards") or 1
        )
        if value is None:
            self.unknown_("memory_gb", why)
        else:
            self.set("memory_gb", value)

    def tier_facts(self, product: str | None, tier: str | None) -> None:
        """What the catalog says the tier always does: high availability where it is never or
        always on."""
        entry = platform.tier(product, tier)
        if entry is None:
            return
        # Basic: "a single node"; Standard, Premium and the Enterprise tiers are always
        # replicated (the catalog's high_availability, from ACR_HA and ACR_ENTERPRISE_PRACTICES).
        if entry.high_availability == "always":
            self.set("high_availability", True)
        elif entry.high_availability == "never":
            self.set("high_availability", False)
