"""Reading `terraform show -json` output: a plan or a state, with child modules.

A plan (`terraform show -json PLANFILE`) lists each resource in `resource_changes` with its
actions, the values after the change (`after`) and which of them Terraform knows only after apply
(`after_unknown`); a state (`terraform show -json` without a plan) lists the resources of
`values.root_module` and of its `child_modules`, recursively (TF_JSON_FORMAT). Both read into the
same instances: `azurerm_redis_cache`, `azurerm_managed_redis`, and an
`azurerm_redis_enterprise_cluster` joined with its `azurerm_redis_enterprise_database` (one
instance). `azurerm_redis_linked_server` tells which caches are geo-replicated. Every other
resource type is ignored and counted.

Attribute names, defaults and values are those of the azurerm provider's documentation (the
TF_* pages in advisor.core.declared.azure); where the provider documents a default, a value the
plan leaves empty takes it; a value Terraform knows only after apply is reported unknown. Secrets
in the document (access keys, connection strings) are never read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from advisor.core import platform
from advisor.core.declared import azure
from advisor.core.declared.models import DeclaredError, DeclaredInstance, Reading

REDIS_CACHE = "azurerm_redis_cache"
MANAGED_REDIS = "azurerm_managed_redis"
ENTERPRISE_CLUSTER = "azurerm_redis_enterprise_cluster"
ENTERPRISE_DATABASE = "azurerm_redis_enterprise_database"
LINKED_SERVER = "azurerm_redis_linked_server"
# Read to join or to complete an instance, so neither imported as one nor ignored.
# azurerm_managed_redis_database_geo_replication links databases that already say, through
# `geo_replication_group_name`, that they are geo-replicated (TF_MANAGED_REDIS).
RELATED_TYPES = frozenset(
    {ENTERPRISE_DATABASE, LINKED_SERVER, "azurerm_managed_redis_database_geo_replication"}
)
INSTANCE_TYPES = frozenset({REDIS_CACHE, MANAGED_REDIS, ENTERPRISE_CLUSTER})

AFTER_APPLY = "known only after apply"
_ID_NAME_RE = re.compile(r"/providers/Microsoft\.Cache/redis/(?P<name>[^/]+)$", re.IGNORECASE)


def read_terraform(document: Any) -> Reading:
    """The instances a `terraform show -json` document declares; DeclaredError when it is not one.

    `document` is the parsed JSON, or its text or bytes.
    """
    doc = _parse(document)
    if "resource_changes" in doc or "planned_values" in doc:
        resources = _plan_resources(doc)
        kind = "plan"
    else:
        resources = _state_resources(doc)
        kind = "state"
    return _Reader(resources, _configuration(doc.get("configuration"))).read(kind)


# --------------------------------------------------------------------------------------------
# The document


def _parse(document: Any) -> dict:
    if isinstance(document, bytes | bytearray):
        if document[:4] == b"PK\x03\x04":  # `terraform plan -out` writes a zip archive
            raise DeclaredError(
                "this is the binary plan file: give the output of `terraform show -json PLANFILE` instead"
            )
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            raise DeclaredError("not UTF-8 text: a plan must be the JSON of `terraform show -json`") from None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise DeclaredError(
                f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); give the output of "
                "`terraform show -json PLANFILE` (or of `terraform show -json` for the state), "
                "not the binary plan file"
            ) from None
    if not isinstance(document, dict) or "format_version" not in document:
        raise DeclaredError(
            "not the output of `terraform show -json`: it has no format_version "
            "(run `terraform show -json PLANFILE > plan.json`)"
        )
    version = str(document["format_version"])
    # "Reject any input which reports an unsupported major version" (TF_JSON_FORMAT).
    if version.split(".")[0] != "1":
        raise DeclaredError(f"format_version {version} is not supported: this reads format 1.x")
    if document.get("errored") is True:
        raise DeclaredError(
            "the plan errored (`errored: true`): Terraform could not finish planning; fix the plan first"
        )
    return document


@dataclass
class _Resource:
    address: str
    module: str  # "" for the root module, else "module.a" or "module.a.module.b"
    mode: str
    type: str
    name: str
    index: Any
    action: str
    values: dict
    unknown: Any = None  # the plan's after_unknown: True, or a structure like values
    planned: bool = False

    @property
    def config_key(self) -> tuple[str, str]:
        return self.module, f"{self.type}.{self.name}"

    def get(self, *path: str | int) -> tuple[Any, bool]:
        """(value, whether Terraform knows it only after apply) at a path of attribute names and
        block indexes: ("redis_configuration", 0, "maxmemory_policy")."""
        value, unknown = self.values, self.unknown
        for step in path:
            if unknown is True:
                return None, True
            unknown = _step(unknown, step)
            value = _step(value, step)
        return (None, True) if unknown is True else (value, False)


def _step(data: Any, step: str | int) -> Any:
    if isinstance(data, dict):
        return data.get(step)
    if isinstance(data, list) and isinstance(step, int):
        return data[step] if 0 <= step < len(data) else None
    return None


def _action(actions: Any) -> str:
    actions = list(actions or [])
    if "forget" in actions and "create" not in actions:
        return "forget"
    if "delete" in actions:
        return "replace" if "create" in actions else "delete"
    for name in ("create", "update"):
        if name in actions:
            return name
    return "no-op"  # ["no-op"], or ["read"]


def _plan_resources(doc: dict) -> list[_Resource]:
    # Terraform leaves resource_changes out of a plan that has no resources at all (omitempty).
    changes = doc.get("resource_changes", [])
    if not isinstance(changes, list):
        raise DeclaredError("resource_changes must be a list")
    out = []
    for i, rc in enumerate(changes):
        if not isinstance(rc, dict) or not isinstance(rc.get("change"), dict):
            raise DeclaredError(f"resource_changes[{i}] is not a resource change")
        if rc.get("deposed"):
            continue  # an object left over by create_before_destroy, on its way out
        change = rc["change"]
        action = _action(change.get("actions"))
        gone = action in ("delete", "forget")
        values = change.get("before") if gone else change.get("after")
        out.append(
            _Resource(
                address=str(rc.get("address", "")),
                module=str(rc.get("module_address") or ""),
                mode=str(rc.get("mode", "managed")),
                type=str(rc.get("type", "")),
                name=str(rc.get("name", "")),
                index=rc.get("index"),
                action=action,
                values=values if isinstance(values, dict) else {},
                unknown=None if gone else change.get("after_unknown"),
                planned=True,
            )
        )
    return out


def _state_resources(doc: dict) -> list[_Resource]:
    values = doc.get("values")
    if values is None:
        return []  # an empty state: `{"format_version": "1.0"}`
    if not isinstance(values, dict):
        raise DeclaredError("values must be an object")
    out: list[_Resource] = []
    _walk_module(values.get("root_module") or {}, "", out, depth=0)
    return out


def _walk_module(module: Any, address: str, out: list[_Resource], *, depth: int) -> None:
    if not isinstance(module, dict):
        raise DeclaredError(f"module {address or 'root'} is not an object")
    if depth > 100:
        raise DeclaredError("modules are nested more than 100 deep")
    for res in module.get("resources") or []:
        if not isinstance(res, dict):
            raise DeclaredError(f"a resource of module {address or 'root'} is not an object")
        values = res.get("values")
        out.append(
            _Resource(
                address=str(res.get("address", "")),
                module=address,
                mode=str(res.get("mode", "managed")),
                type=str(res.get("type", "")),
                name=str(res.get("name", "")),
                index=res.get("index"),
                action="present",
                values=values if isinstance(values, dict) else {},
            )
        )
    for child in module.get("child_modules") or []:
        child_address = str(child.get("address", "")) if isinstance(child, dict) else ""
        _walk_module(child, child_address, out, depth=depth + 1)


def _configuration(config: Any) -> dict[tuple[str, str], dict]:
    """(module address, "type.name") -> the resource's expressions, from a plan's configuration."""
    out: dict[tuple[str, str], dict] = {}

    def walk(module: Any, address: str, depth: int) -> None:
        if not isinstance(module, dict) or depth > 100:
            return
        for res in module.get("resources") or []:
            if isinstance(res, dict) and isinstance(res.get("expressions"), dict):
                out[(address, f"{res.get('type')}.{res.get('name')}")] = res["expressions"]
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, dict):
                child = f"{address}.module.{name}" if address else f"module.{name}"
                walk(call.get("module"), child, depth + 1)

    if isinstance(config, dict):
        walk(config.get("root_module"), "", 0)
    return out


# --------------------------------------------------------------------------------------------
# Resources into instances


@dataclass
class _Reader:
    resources: list[_Resource]
    config: dict[tuple[str, str], dict]
    ignored: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def read(self, kind: str) -> Reading:
        managed = []
        for res in self.resources:
            if res.mode != "managed":
                key = f"data.{res.type}"
                self.ignored[key] = self.ignored.get(key, 0) + 1
            elif res.type in INSTANCE_TYPES or res.type in RELATED_TYPES:
                managed.append(res)
            else:
                self.ignored[res.type] = self.ignored.get(res.type, 0) + 1
        geo = self._geo_replicated([r for r in managed if r.type == LINKED_SERVER])
        databases = self._databases_by_cluster(managed)
        instances: list[DeclaredInstance] = []
        for res in managed:
            if res.type == REDIS_CACHE:
                found = self._redis_cache(res, geo)
            elif res.type == MANAGED_REDIS:
                found = self._managed_redis(res)
            elif res.type == ENTERPRISE_CLUSTER:
                found = self._enterprise(res, databases.get(res.address))
            else:
                continue
            if found is not None:
                instances.append(found)
        return Reading(
            source="terraform",
            document=kind,
            instances=instances,
            ignored=dict(sorted(self.ignored.items())),
            problems=self.problems,
        )

    # References between resources --------------------------------------------------------

    def _referenced(self, res: _Resource, attribute: str, type_: str) -> _Resource | None:
        """The resource of `type_` that `attribute` of `res` refers to in the configuration
        (a plan carries it; a state does not)."""
        expressions = self.config.get(res.config_key) or {}
        refs = (expressions.get(attribute) or {}).get("references") or []
        for ref in refs:
            if not isinstance(ref, str) or not ref.startswith(f"{type_}."):
                continue
            target = ref.split(".")[1]
            name, _, rest = target.partition("[")
            candidates = [
                r for r in self.resources if r.type == type_ and r.name == name and r.module == res.module
            ]
            if rest:
                index = json.loads(rest.rstrip("]")) if rest.rstrip("]") else None
                candidates = [r for r in candidates if r.index == index]
            elif len(candidates) > 1:
                candidates = [r for r in candidates if r.index == res.index]
            if len(candidates) == 1:
                return candidates[0]
        return None

    def _geo_replicated(self, links: list[_Resource]) -> set[str]:
        """Names (lower case) of the caches an azurerm_redis_linked_server links (TF_REDIS_LINKED_SERVER:
        `target_redis_cache_name` is the primary, `linked_redis_cache_id` the linked cache)."""
        names: set[str] = set()
        for link in links:
            if link.action in ("delete", "forget"):
                continue
            target, _ = link.get("target_redis_cache_name")
            if isinstance(target, str):
                names.add(target.lower())
            linked, unknown = link.get("linked_redis_cache_id")
            match = _ID_NAME_RE.search(linked) if isinstance(linked, str) else None
            if match:
                names.add(match["name"].lower())
            elif unknown or linked is None:
                other = self._referenced(link, "linked_redis_cache_id", REDIS_CACHE)
                other_name = other.get("name")[0] if other else None
                if isinstance(other_name, str):
                    names.add(other_name.lower())
        return names

    def _databases_by_cluster(self, managed: list[_Resource]) -> dict[str, list[_Resource]]:
        clusters = [r for r in managed if r.type == ENTERPRISE_CLUSTER]
        by_id = {}
        for cluster in clusters:
            cluster_id, _ = cluster.get("id")
            if isinstance(cluster_id, str):
                by_id[cluster_id.lower()] = cluster
        out: dict[str, list[_Resource]] = {}
        for db in (r for r in managed if r.type == ENTERPRISE_DATABASE):
            cluster_id, _ = db.get("cluster_id")
            cluster = by_id.get(cluster_id.lower()) if isinstance(cluster_id, str) else None
            if cluster is None:
                cluster = self._referenced(db, "cluster_id", ENTERPRISE_CLUSTER)
            if cluster is None:
                self.problems.append(
                    f"{db.address}: its cluster ({cluster_id or 'cluster_id ' + AFTER_APPLY}) is not in this "
                    "document, so it is not imported; give the plan or state that declares both"
                )
                continue
            out.setdefault(cluster.address, []).append(db)
        return out

    # Shared fields --------------------------------------------------------------------------

    def _name(self, res: _Resource) -> str | None:
        name, unknown = res.get("name")
        found = azure.instance_name(name)
        if found is None:
            self.problems.append(
                f"{res.address}: the name is {AFTER_APPLY if unknown else 'missing'}, so it cannot be "
                "matched with a registry instance; not imported"
            )
        return found

    def _common(self, res: _Resource, f: azure.Fields) -> None:
        location, unknown = res.get("location")
        if unknown:
            f.unknown_("region", f"location is {AFTER_APPLY}")
        elif azure.region(location):
            f.set("region", azure.region(location))
        tags, _ = res.get("tags")
        env = azure.environment(tags)
        if env:
            f.set("environment", env)

    def _bool(
        self, res: _Resource, f: azure.Fields, field: str, path: tuple, *, default: bool
    ) -> bool | None:
        """A boolean attribute, with the provider's documented default (cited by the caller) when
        the document leaves it empty; None, and `field` unknown, when it is known only after apply."""
        value, unknown = res.get(*path)
        if unknown:
            f.unknown_(field, f"{'.'.join(map(str, path))} is {AFTER_APPLY}")
            return None
        if value is None:
            return default
        return bool(value)

    def _instance(
        self, res: _Resource, name: str, f: azure.Fields, types: list[str], action: str, address: str
    ) -> DeclaredInstance:
        return DeclaredInstance(
            name=name,
            source="terraform",
            address=address,
            resource_types=types,
            action=action,
            entry={"name": name, **f.entry},
            unknown=dict(sorted(f.unknown.items())),
            notes=f.notes,
        )

    # azurerm_redis_cache --------------------------------------------------------------------

    def _redis_cache(self, res: _Resource, geo: set[str]) -> DeclaredInstance | None:
        name = self._name(res)
        if name is None:
            return None
        f = azure.Fields()
        f.set("product", platform.ACR)
        self._common(res, f)
        # sku_name Basic/Standard/Premium, family C/P, capacity (TF_REDIS_CACHE).
        (sku_name, sku_unknown), (family, fam_unknown), (capacity, cap_unknown) = (
            res.get("sku_name"),
            res.get("family"),
            res.get("capacity"),
        )
        tier = size = None
        if sku_unknown:
            for fld in ("tier", "sku"):
                f.unknown_(fld, f"sku_name is {AFTER_APPLY}")
        else:
            tier = azure.classic_tier(sku_name)
            found = azure.classic_sku(sku_name, family, capacity)
            if tier is None:
                f.unknown_("tier", f"sku_name {sku_name!r} is not Basic, Standard or Premium")
                f.unknown_("sku", f.unknown["tier"])
            elif fam_unknown or cap_unknown:
                f.set("tier", tier)
                f.unknown_("sku", f"{'family' if fam_unknown else 'capacity'} is {AFTER_APPLY}")
            elif found is None:
                f.set("tier", tier)
                f.unknown_("sku", f"family {family!r} and capacity {capacity!r} name no size")
            else:
                size = found[1]
                f.set("tier", tier)
                f.set("sku", size)
        f.tier_facts(platform.ACR, tier)
        # shard_count: "Only available when using the Premium SKU: the number of Shards to create
        # on the Redis Cluster" (TF_REDIS_CACHE). A Premium cache with shards is a Redis Cluster
        # with the OSS protocol (platform.ACR_CLUSTERING); any other is not clustered.
        shards, unknown = res.get("shard_count")
        if unknown:
            f.unknown_("clustering", f"shard_count is {AFTER_APPLY}")
            f.unknown_("shards", f"shard_count is {AFTER_APPLY}")
        elif tier == "premium" and isinstance(shards, int) and shards > 0:
            f.set("clustering", "oss")
            f.set("shards", shards)
        elif tier is not None:
            f.set("clustering", "none")
            f.set("shards", 1)
        else:
            f.unknown_("clustering", "the tier is not known")
        f.memory(platform.ACR, tier, size)
        # redis_configuration: rdb_backup_enabled / aof_backup_enabled (Premium only),
        # maxmemory_policy "Defaults to volatile-lru" (TF_REDIS_CACHE).
        config, config_unknown = res.get("redis_configuration")
        if config_unknown:
            for fld in ("persistence", "eviction_policy"):
                f.unknown_(fld, f"redis_configuration is {AFTER_APPLY}")
        else:
            rdb, rdb_unknown = res.get("redis_configuration", 0, "rdb_backup_enabled")
            aof, aof_unknown = res.get("redis_configuration", 0, "aof_backup_enabled")
            if rdb_unknown or aof_unknown:
                f.unknown_("persistence", f"rdb_backup_enabled or aof_backup_enabled is {AFTER_APPLY}")
            elif rdb and aof:
                f.unknown_("persistence", "both rdb_backup_enabled and aof_backup_enabled are set")
            else:
                f.set("persistence", "rdb" if rdb else "aof" if aof else "none")
            policy, unknown = res.get("redis_configuration", 0, "maxmemory_policy")
            if unknown:
                f.unknown_("eviction_policy", f"maxmemory_policy is {AFTER_APPLY}")
            elif policy is None:
                f.set("eviction_policy", "volatile-lru")
            elif azure.redis_eviction(policy):
                f.set("eviction_policy", azure.redis_eviction(policy))
            else:
                f.unknown_("eviction_policy", f"maxmemory_policy {policy!r} is not a Redis eviction policy")
        # Geo-replication is an azurerm_redis_linked_server between two Premium caches
        # (TF_REDIS_LINKED_SERVER); passive, as the catalog says of Premium.
        f.set("geo_replication", name in geo)
        self._redis_cache_auth(res, f)
        # non_ssl_port_enabled (enable_non_ssl_port before azurerm 4.0): "Enable the non-SSL port
        # (6379) - disabled by default" (TF_REDIS_CACHE).
        attribute = "enable_non_ssl_port" if "enable_non_ssl_port" in res.values else "non_ssl_port_enabled"
        plain = self._bool(res, f, "tls", (attribute,), default=False)
        if plain is not None:
            f.set("tls", not plain)
        # public_network_access_enabled: "Defaults to true" (TF_REDIS_CACHE).
        public = self._bool(res, f, "public_network_access", ("public_network_access_enabled",), default=True)
        if public is not None:
            f.set("public_network_access", public)
        # hostname and ssl_port are exported attributes (TF_REDIS_CACHE); clients use TLS on
        # ssl_port, 6380 by default (the catalog's tls_port for the tier).
        host, host_unknown = res.get("hostname")
        port, port_unknown = res.get("ssl_port")
        if host_unknown or port_unknown:
            f.unknown_("connection.url", f"hostname is {AFTER_APPLY}")
        elif isinstance(host, str) and host:
            f.set(
                "connection.url",
                azure.connection_url(host, port or platform.default_port(platform.ACR, tier), tls=True),
            )
        return self._instance(res, name, f, [REDIS_CACHE], res.action, res.address)

    def _redis_cache_auth(self, res: _Resource, f: azure.Fields) -> None:
        # redis_configuration.authentication_enabled (enable_authentication before 4.0): "If set
        # to false, the Redis instance will be accessible without authentication. Defaults to
        # true"; access_keys_authentication_enabled: "Defaults to true.
        # active_directory_authentication_enabled must be set to true to disable access key
        # authentication" (TF_REDIS_CACHE). Keys usable means the cache can be reached with a key.
        block = res.values.get("redis_configuration") or [{}]
        attribute = (
            "enable_authentication"
            if "enable_authentication" in (block[0] or {})
            else "authentication_enabled"
        )
        auth = self._bool(res, f, "auth", ("redis_configuration", 0, attribute), default=True)
        keys = self._bool(res, f, "auth", ("access_keys_authentication_enabled",), default=True)
        if "auth" in f.unknown:
            return
        f.set("auth", "none" if not auth else "access-key" if keys else "entra-id")

    # azurerm_managed_redis ------------------------------------------------------------------

    def _managed_redis(self, res: _Resource) -> DeclaredInstance | None:
        name = self._name(res)
        if name is None:
            return None
        f = azure.Fields()
        self._common(res, f)
        product, tier, size = self._enterprise_sku(res, f)
        # high_availability_enabled: "Defaults to true" (TF_MANAGED_REDIS).
        ha = self._bool(res, f, "high_availability", ("high_availability_enabled",), default=True)
        if ha is not None:
            f.set("high_availability", ha)
        f.tier_facts(product, tier)
        # public_network_access: "Possible values are Enabled and Disabled. Defaults to Enabled"
        # (TF_MANAGED_REDIS).
        public, unknown = res.get("public_network_access")
        if unknown:
            f.unknown_("public_network_access", f"public_network_access is {AFTER_APPLY}")
        else:
            f.set("public_network_access", azure.enabled(public) if public is not None else True)
        database, unknown = res.get("default_database")
        if unknown:
            for fld in _DATABASE_FIELDS:
                f.unknown_(fld, f"default_database is {AFTER_APPLY}")
        elif not database:
            # "A Managed Redis instance will not be functional without a database" (TF_MANAGED_REDIS).
            for fld in _DATABASE_FIELDS:
                f.unknown_(fld, "no default_database block: the instance has no database")
        else:
            self._database(res, ("default_database", 0), f, product, tier)
        f.memory(product, tier, size)
        return self._instance(res, name, f, [MANAGED_REDIS], res.action, res.address)

    def _enterprise_sku(self, res: _Resource, f: azure.Fields) -> tuple[str | None, str | None, str | None]:
        sku_name, unknown = res.get("sku_name")
        if unknown:
            for fld in ("product", "tier", "sku"):
                f.unknown_(fld, f"sku_name is {AFTER_APPLY}")
            return None, None, None
        found = azure.enterprise_sku(sku_name)
        if found is None:
            for fld in ("product", "tier", "sku"):
                f.unknown_(
                    fld, f"sku_name {sku_name!r} is not an Azure Managed Redis or Redis Enterprise SKU"
                )
            return None, None, None
        product, tier, size = found
        f.set("product", product)
        f.set("tier", tier)
        f.set("sku", size)
        return found

    def _database(self, res: _Resource, at: tuple, f: azure.Fields, product, tier) -> None:
        """The fields a Redis Enterprise / Managed Redis database declares (TF_MANAGED_REDIS's
        default_database block; TF_ENTERPRISE_DATABASE has the same names)."""
        # clustering_policy: "Defaults to OSSCluster".
        policy, unknown = res.get(*at, "clustering_policy")
        if unknown:
            f.unknown_("clustering", f"clustering_policy is {AFTER_APPLY}")
            f.unknown_("shards", f"clustering_policy is {AFTER_APPLY}")
        else:
            clustering = azure.CLUSTERING.get(policy or "OSSCluster")
            if clustering is None:
                f.unknown_("clustering", f"clustering_policy {policy!r} is not a known policy")
            else:
                f.set("clustering", clustering)
            if clustering == "none":
                f.set("shards", 1)  # non-clustered: one shard
            else:
                # The service sets the shard count from the size (AMR_ARCHITECTURE, "Sharding
                # configuration"); neither the provider nor the catalog declares it.
                f.unknown_("shards", "the service sets it from the size; Terraform does not declare it")
        # client_protocol: "Encrypted and Plaintext. Defaults to Encrypted"; a cache serves one of
        # them (the catalog's tls_exclusive).
        protocol, unknown = res.get(*at, "client_protocol")
        tls = None
        if unknown:
            f.unknown_("tls", f"client_protocol is {AFTER_APPLY}")
        elif (protocol or "Encrypted") in ("Encrypted", "Plaintext"):
            tls = (protocol or "Encrypted") == "Encrypted"
            f.set("tls", tls)
        else:
            f.unknown_("tls", f"client_protocol {protocol!r} is not Encrypted or Plaintext")
        # eviction_policy: "Defaults to VolatileLRU".
        eviction, unknown = res.get(*at, "eviction_policy")
        if unknown:
            f.unknown_("eviction_policy", f"eviction_policy is {AFTER_APPLY}")
        elif azure.EVICTION.get(eviction or "VolatileLRU"):
            f.set("eviction_policy", azure.EVICTION[eviction or "VolatileLRU"])
        else:
            f.unknown_("eviction_policy", f"eviction_policy {eviction!r} is not a known policy")
        entry = platform.tier(product, tier)
        if res.type == MANAGED_REDIS:
            # geo_replication_group_name: "If provided, a geo-replication group will be created for
            # this database"; persistence_append_only_file_backup_frequency / _redis_database_:
            # "Providing this value implies AOF / RDB persistence is enabled";
            # access_keys_authentication_enabled: "Defaults to false" (TF_MANAGED_REDIS); with access
            # keys off, clients sign in with Microsoft Entra ID (AMR_ENTRA).
            group, unknown = res.get(*at, "geo_replication_group_name")
            if unknown:
                f.unknown_("geo_replication", f"geo_replication_group_name is {AFTER_APPLY}")
            else:
                f.set("geo_replication", bool(group))
            aof, aof_unknown = res.get(*at, "persistence_append_only_file_backup_frequency")
            rdb, rdb_unknown = res.get(*at, "persistence_redis_database_backup_frequency")
            if aof_unknown or rdb_unknown:
                f.unknown_("persistence", f"the persistence frequency is {AFTER_APPLY}")
            else:
                f.set("persistence", "aof" if aof else "rdb" if rdb else "none")
            keys = self._bool(res, f, "auth", (*at, "access_keys_authentication_enabled"), default=False)
            if keys is not None:
                f.set("auth", "access-key" if keys else "entra-id")
        else:
            # azurerm_redis_enterprise_database: geo-replicated when linked (linked_database_id,
            # linked_database_group_nickname); it declares no persistence (TF_ENTERPRISE_DATABASE).
            linked, linked_unknown = res.get(*at, "linked_database_id")
            group, group_unknown = res.get(*at, "linked_database_group_nickname")
            if (linked_unknown and not linked) or (group_unknown and not group):
                f.unknown_("geo_replication", f"linked_database_id is {AFTER_APPLY}")
            else:
                f.set("geo_replication", bool(linked) or bool(group))
            f.unknown_("persistence", "azurerm_redis_enterprise_database does not declare persistence")
            # "Azure Cache for Redis Enterprise doesn't support Microsoft Entra ID authentication"
            # (the catalog's entra_id, from AMR_MIGRATE_ENTERPRISE): access keys.
            if entry is not None and not entry.entra_id:
                f.set("auth", "access-key")
            else:
                f.unknown_("auth", "azurerm_redis_enterprise_database does not declare the authentication")
        # port: "TCP port of the database endpoint" (exported by TF_MANAGED_REDIS, an argument
        # of TF_ENTERPRISE_DATABASE "Defaults to 10000"); the catalog's port when not given.
        self._endpoint(res, at, f, product, tier, tls)

    def _endpoint(self, res: _Resource, at: tuple, f: azure.Fields, product, tier, tls: bool | None) -> None:
        host, host_unknown = res.get("hostname")
        port, port_unknown = res.get(*at, "port")
        if host_unknown or port_unknown:
            f.unknown_("connection.url", f"{'hostname' if host_unknown else 'port'} is {AFTER_APPLY}")
        elif tls is None:
            f.unknown_("connection.url", "the protocol (TLS or not) is not known")
        elif isinstance(host, str) and host:
            port = (
                port if isinstance(port, int) and port > 0 else platform.default_port(product, tier, tls=tls)
            )
            f.set("connection.url", azure.connection_url(host, port, tls=tls))

    # azurerm_redis_enterprise_cluster + azurerm_redis_enterprise_database --------------------

    def _enterprise(self, cluster: _Resource, databases: list[_Resource] | None) -> DeclaredInstance | None:
        name = self._name(cluster)
        if name is None:
            return None
        f = azure.Fields()
        self._common(cluster, f)
        product, tier, size = self._enterprise_sku(cluster, f)
        f.tier_facts(product, tier)
        # The cluster resource has no public network access argument (TF_ENTERPRISE_CLUSTER).
        f.unknown_("public_network_access", "azurerm_redis_enterprise_cluster does not declare it")
        databases = sorted(databases or [], key=lambda d: (d.action in ("delete", "forget"), d.address))
        database = databases[0] if databases else None
        if database is None or database.action in ("delete", "forget"):
            why = (
                "no azurerm_redis_enterprise_database for this cluster in this document"
                if database is None
                else f"the plan deletes its database ({database.address})"
            )
            for fld in _DATABASE_FIELDS:
                f.unknown_(fld, why)
        else:
            # The database's values, read through the cluster's host name.
            joined = _Joined(cluster, database)
            self._database(joined, ("database",), f, product, tier)
        if len(databases) > 1:
            # "Currently the acceptable value for this argument is `default`" (TF_ENTERPRISE_DATABASE).
            f.notes.append(f"{len(databases)} databases declared; the first ({databases[0].address}) is read")
        f.memory(product, tier, size)
        action = _joined_action(cluster.action, database.action if database else None)
        address = cluster.address + (f" + {database.address}" if database else "")
        types = [ENTERPRISE_CLUSTER] + ([ENTERPRISE_DATABASE] if database else [])
        return self._instance(cluster, name, f, types, action, address)


# The fields an AMR or Enterprise instance takes from its database.
_DATABASE_FIELDS = (
    "clustering",
    "shards",
    "tls",
    "eviction_policy",
    "geo_replication",
    "persistence",
    "auth",
    "connection.url",
)


class _Joined(_Resource):
    """A cluster with its database under "database": `get("database", "port")` reads the database,
    anything else the cluster."""

    def __init__(self, cluster: _Resource, database: _Resource):
        super().__init__(
            address=cluster.address,
            module=cluster.module,
            mode=cluster.mode,
            type=ENTERPRISE_DATABASE,
            name=cluster.name,
            index=cluster.index,
            action=cluster.action,
            values={**cluster.values, "database": database.values},
            unknown=_merge_unknown(cluster.unknown, database.unknown),
            planned=cluster.planned,
        )


def _merge_unknown(cluster: Any, database: Any) -> Any:
    if cluster is True:
        return True
    merged = dict(cluster) if isinstance(cluster, dict) else {}
    merged["database"] = database
    return merged


def _joined_action(cluster: str, database: str | None) -> str:
    if cluster in ("delete", "forget", "create", "replace", "present"):
        return cluster
    if database == "replace":
        return "replace"
    if cluster == "update" or database in ("create", "update", "delete", "forget"):
        return "update"
    return cluster
