"""Reading Azure Resource Manager (ARM) responses: Azure Cache for Redis caches
(Microsoft.Cache/redis) and Redis Enterprise / Azure Managed Redis clusters
(Microsoft.Cache/redisEnterprise) with their databases, as the REST API returns them.

The input is the JSON of the REST API (ARM_REDIS, API version 2024-11-01; ARM_REDIS_ENTERPRISE,
2025-07-01): what `GET .../Microsoft.Cache/redis` and `GET .../Microsoft.Cache/redisEnterprise`
and `.../databases` list, one dict per resource. A cluster and its database make one instance.
Property names and documented defaults are those of the specifications; a property a response
leaves out and the specification gives no default for is reported unknown. Access keys are never
requested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from advisor.core import platform
from advisor.core.declared import azure
from advisor.core.declared.models import DeclaredError, DeclaredInstance, Reading

REDIS_TYPE = "Microsoft.Cache/redis"
ENTERPRISE_TYPE = "Microsoft.Cache/redisEnterprise"
DATABASE_TYPE = "Microsoft.Cache/redisEnterprise/databases"


def read_arm(
    caches: Iterable[Mapping],
    clusters: Iterable[Mapping],
    databases: Mapping[str, Iterable[Mapping]],
) -> Reading:
    """The instances ARM lists: `caches` (Microsoft.Cache/redis), `clusters`
    (Microsoft.Cache/redisEnterprise) and `databases` by cluster resource id (any case)."""
    by_cluster = {str(cluster_id).lower(): list(dbs) for cluster_id, dbs in databases.items()}
    instances: list[DeclaredInstance] = []
    problems: list[str] = []
    for cache in caches:
        _check(cache, REDIS_TYPE)
        found = _cache(cache, problems)
        if found is not None:
            instances.append(found)
    for cluster in clusters:
        _check(cluster, ENTERPRISE_TYPE)
        found = _cluster(cluster, by_cluster.get(str(cluster.get("id", "")).lower(), []), problems)
        if found is not None:
            instances.append(found)
    return Reading(source="azure", document="arm", instances=instances, problems=problems)


def _check(resource: Any, type_: str) -> None:
    if not isinstance(resource, Mapping) or not isinstance(resource.get("id"), str):
        raise DeclaredError(f"a {type_} resource without an id: not an ARM response")
    if not isinstance(resource.get("properties", {}), Mapping):
        raise DeclaredError(f"{resource['id']}: properties is not an object")


def _props(resource: Mapping) -> Mapping:
    return resource.get("properties") or {}


def _name(resource: Mapping, problems: list[str]) -> str | None:
    name = azure.instance_name(resource.get("name"))
    if name is None:
        problems.append(f"{resource['id']}: no name; not imported")
    return name


def _common(resource: Mapping, f: azure.Fields) -> None:
    if azure.region(resource.get("location")):
        f.set("region", azure.region(resource.get("location")))
    env = azure.environment(resource.get("tags"))
    if env:
        f.set("environment", env)


def _instance(resource: Mapping, name: str, f: azure.Fields, types: list[str]) -> DeclaredInstance:
    state = _props(resource).get("provisioningState")
    if isinstance(state, str) and state not in ("Succeeded", "Updating"):
        f.notes.append(f"provisioning state {state}")
    return DeclaredInstance(
        name=name,
        source="azure",
        address=str(resource["id"]),
        resource_types=types,
        action="present",
        entry={"name": name, **f.entry},
        unknown=dict(sorted(f.unknown.items())),
        notes=f.notes,
    )


# Microsoft.Cache/redis ------------------------------------------------------------------------


def _cache(cache: Mapping, problems: list[str]) -> DeclaredInstance | None:
    name = _name(cache, problems)
    if name is None:
        return None
    props = _props(cache)
    config = props.get("redisConfiguration") or {}
    f = azure.Fields()
    f.set("product", platform.ACR)
    _common(cache, f)
    # properties.sku: name Basic/Standard/Premium, family C/P, capacity (ARM_REDIS, "Sku").
    sku = props.get("sku") or cache.get("sku") or {}
    tier = azure.classic_tier(sku.get("name"))
    found = azure.classic_sku(sku.get("name"), sku.get("family"), sku.get("capacity"))
    size = found[1] if found else None
    if tier is None:
        f.unknown_("tier", f"sku {sku.get('name')!r} is not Basic, Standard or Premium")
        f.unknown_("sku", f.unknown["tier"])
    else:
        f.set("tier", tier)
        if size:
            f.set("sku", size)
        else:
            f.unknown_(
                "sku", f"family {sku.get('family')!r} and capacity {sku.get('capacity')!r} name no size"
            )
    f.tier_facts(platform.ACR, tier)
    # shardCount: "The number of shards to be created on a Premium Cluster Cache" (ARM_REDIS); a
    # Premium cache with shards is a Redis Cluster with the OSS protocol (platform.ACR_CLUSTERING).
    shards = props.get("shardCount")
    if tier == "premium" and isinstance(shards, int) and shards > 0:
        f.set("clustering", "oss")
        f.set("shards", shards)
    elif tier is not None:
        f.set("clustering", "none")
        f.set("shards", 1)
    f.memory(platform.ACR, tier, size)
    # redisConfiguration: "rdb-backup-enabled", "aof-backup-enabled" ("true"/"false" strings),
    # "maxmemory-policy", "authnotrequired" (ARM_REDIS, RedisCommonProperties.redisConfiguration).
    rdb = str(config.get("rdb-backup-enabled", "false")).lower() == "true"
    aof = str(config.get("aof-backup-enabled", "false")).lower() == "true"
    if rdb and aof:
        f.unknown_("persistence", "both rdb-backup-enabled and aof-backup-enabled are true")
    else:
        f.set("persistence", "rdb" if rdb else "aof" if aof else "none")
    policy = config.get("maxmemory-policy")
    if azure.redis_eviction(policy):
        f.set("eviction_policy", policy)
    else:
        f.unknown_(
            "eviction_policy",
            "the response carries no maxmemory-policy"
            if policy is None
            else f"{policy!r} is not a Redis eviction policy",
        )
    # linkedServers: "List of the linked servers associated with the cache" (ARM_REDIS): Premium's
    # geo-replication links.
    f.set("geo_replication", bool(props.get("linkedServers")))
    # authnotrequired "true" disables authentication; disableAccessKeyAuthentication "Default
    # value is false" (ARM_REDIS): keys usable means the cache can be reached with a key.
    if str(config.get("authnotrequired", "false")).lower() == "true":
        f.set("auth", "none")
    else:
        f.set("auth", "entra-id" if props.get("disableAccessKeyAuthentication") is True else "access-key")
    # enableNonSslPort: "Specifies whether the non-ssl Redis server port (6379) is enabled",
    # false unless set; publicNetworkAccess: "Default value is 'Enabled'" (ARM_REDIS).
    f.set("tls", props.get("enableNonSslPort") is not True)
    public = azure.enabled(props.get("publicNetworkAccess") or "Enabled")
    if public is None:
        f.unknown_("public_network_access", f"publicNetworkAccess {props.get('publicNetworkAccess')!r}")
    else:
        f.set("public_network_access", public)
    host = props.get("hostName")
    if isinstance(host, str) and host:
        port = props.get("sslPort") or platform.default_port(platform.ACR, tier)
        f.set("connection.url", azure.connection_url(host, port, tls=True))
    else:
        f.unknown_("connection.url", "the response carries no hostName")
    return _instance(cache, name, f, [REDIS_TYPE])


# Microsoft.Cache/redisEnterprise and its databases ----------------------------------------


def _cluster(cluster: Mapping, databases: list[Mapping], problems: list[str]) -> DeclaredInstance | None:
    name = _name(cluster, problems)
    if name is None:
        return None
    props = _props(cluster)
    f = azure.Fields()
    _common(cluster, f)
    sku_name = (cluster.get("sku") or {}).get("name")
    found = azure.enterprise_sku(sku_name)
    product = tier = size = None
    if found is None:
        for fld in ("product", "tier", "sku"):
            f.unknown_(fld, f"sku {sku_name!r} is not an Azure Managed Redis or Redis Enterprise SKU")
    else:
        product, tier, size = found
        f.set("product", product)
        f.set("tier", tier)
        f.set("sku", size)
    # highAvailability: "Enabled by default" (ARM_REDIS_ENTERPRISE); tiers that are always
    # replicated say so through the catalog.
    ha = azure.enabled(props.get("highAvailability") or "Enabled")
    if ha is not None:
        f.set("high_availability", ha)
    f.tier_facts(product, tier)
    # publicNetworkAccess: "null is returned only for clusters created using an old API version
    # which do not have this property" (ARM_REDIS_ENTERPRISE).
    public = azure.enabled(props.get("publicNetworkAccess"))
    if public is None:
        f.unknown_("public_network_access", "the cluster predates the publicNetworkAccess property")
    else:
        f.set("public_network_access", public)
    databases = sorted(
        (db for db in databases if isinstance(db, Mapping)),
        key=lambda db: (not str(db.get("name", "")).endswith("default"), str(db.get("name", ""))),
    )
    if not databases:
        for fld in (
            "clustering",
            "shards",
            "tls",
            "eviction_policy",
            "geo_replication",
            "persistence",
            "auth",
            "connection.url",
        ):
            f.unknown_(fld, "the cluster has no database")
    else:
        _database(props, databases[0], f, product, tier)
        if len(databases) > 1:
            f.notes.append(f"{len(databases)} databases; {databases[0].get('name')} is read")
    f.memory(product, tier, size)
    return _instance(cluster, name, f, [ENTERPRISE_TYPE] + ([DATABASE_TYPE] if databases else []))


def _database(cluster: Mapping, database: Mapping, f: azure.Fields, product, tier) -> None:
    props = _props(database)
    # Defaults (ARM_REDIS_ENTERPRISE, DatabaseProperties): clusteringPolicy "default is
    # OSSCluster", evictionPolicy "default is VolatileLRU", clientProtocol "Default is
    # TLS-encrypted".
    clustering = azure.CLUSTERING.get(props.get("clusteringPolicy") or "OSSCluster")
    if clustering is None:
        f.unknown_("clustering", f"clusteringPolicy {props.get('clusteringPolicy')!r} is not a known policy")
    else:
        f.set("clustering", clustering)
    if clustering == "none":
        f.set("shards", 1)
    else:
        # Set by the service from the size (AMR_ARCHITECTURE, "Sharding configuration"); the API
        # does not return it.
        f.unknown_("shards", "the service sets it from the size; ARM does not return it")
    eviction = azure.EVICTION.get(props.get("evictionPolicy") or "VolatileLRU")
    if eviction is None:
        f.unknown_("eviction_policy", f"evictionPolicy {props.get('evictionPolicy')!r} is not a known policy")
    else:
        f.set("eviction_policy", eviction)
    protocol = props.get("clientProtocol") or "Encrypted"
    tls = {"Encrypted": True, "Plaintext": False}.get(protocol)
    if tls is None:
        f.unknown_("tls", f"clientProtocol {protocol!r} is not Encrypted or Plaintext")
    else:
        f.set("tls", tls)
    # persistence: aofEnabled / rdbEnabled, "at most one" (ARM_REDIS_ENTERPRISE, Persistence).
    persistence = props.get("persistence") or {}
    f.set(
        "persistence",
        "aof" if persistence.get("aofEnabled") else "rdb" if persistence.get("rdbEnabled") else "none",
    )
    # geoReplication: groupNickname and linkedDatabases (ARM_REDIS_ENTERPRISE).
    geo = props.get("geoReplication") or {}
    f.set("geo_replication", bool(geo.get("groupNickname") or geo.get("linkedDatabases")))
    # accessKeysAuthentication "Enabled"/"Disabled" (ARM_REDIS_ENTERPRISE). Enterprise tiers offer
    # no Microsoft Entra ID (the catalog's entra_id, from AMR_MIGRATE_ENTERPRISE).
    keys = azure.enabled(props.get("accessKeysAuthentication"))
    entry = platform.tier(product, tier)
    if entry is not None and not entry.entra_id:
        if keys is False:
            f.unknown_("auth", "access keys are disabled and the tier offers no Microsoft Entra ID")
        else:
            f.set("auth", "access-key")
    elif keys is None:
        f.unknown_("auth", "the response carries no accessKeysAuthentication")
    else:
        f.set("auth", "access-key" if keys else "entra-id")
    host = cluster.get("hostName")
    port = props.get("port")
    if not (isinstance(host, str) and host):
        f.unknown_("connection.url", "the response carries no hostName")
    elif tls is not None:
        port = port if isinstance(port, int) and port > 0 else platform.default_port(product, tier, tls=tls)
        f.set("connection.url", azure.connection_url(host, port, tls=tls))
