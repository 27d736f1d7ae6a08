"""The design file: models, loading with located errors, and canonical dumping.

The models mirror section 1 of `design-file.md` field for field. Everything that can be checked
on one value is a field validator (so one bad field never hides another); references between
teams, instances, namespaces and waivers are checked on the raw data, so they are reported even
when the items they point at have errors of their own.

Loading is all-or-nothing: `load_design` returns a `Design` or raises `DesignError` carrying every
problem with its location (`namespaces[3].ttl.seconds`) and, for YAML, its line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import types
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from advisor.core import platform
from advisor.core.findings import Severity
from advisor.core.patterns import PatternError, parse_pattern

__all__ = [
    "DESIGN_VERSION",
    "Design",
    "DesignError",
    "DesignIssue",
    "Connection",
    "Instance",
    "Namespace",
    "Ops",
    "Policy",
    "TTL",
    "Team",
    "ValueBytes",
    "Waiver",
    "dump_design",
    "load_design",
    "load_design_file",
]

DESIGN_VERSION = 1

# --------------------------------------------------------------------------------------------
# Enumerations (the tuples are handy as form / model choices)

Environment = Literal["prod", "staging", "dev", "test"]
Product = Literal["azure-managed-redis", "azure-cache-for-redis", "redis-oss"]
AmrTier = Literal["memory-optimized", "balanced", "compute-optimized", "flash-optimized"]
AcrTier = Literal["basic", "standard", "premium", "enterprise", "enterprise-flash"]
Tier = Literal[
    "memory-optimized",
    "balanced",
    "compute-optimized",
    "flash-optimized",
    "basic",
    "standard",
    "premium",
    "enterprise",
    "enterprise-flash",
]
Clustering = Literal["oss", "enterprise", "none"]
Persistence = Literal["none", "rdb", "aof"]
EvictionPolicy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]
Auth = Literal["entra-id", "access-key", "none"]
Classification = Literal["disposable", "session", "coordination", "durable"]
DataType = Literal["string", "hash", "list", "set", "zset", "stream", "json", "other"]
# per-field: the hash's fields expire one by one (HEXPIRE, Redis 7.4+); the key itself has no TTL.
TTLMode = Literal["absolute", "sliding", "none", "per-field"]
DataClassification = Literal["public", "internal", "confidential", "restricted"]
Content = Literal["pii", "credentials", "tokens", "payment"]

ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
PRODUCTS: tuple[str, ...] = get_args(Product)
TIERS_BY_PRODUCT: dict[str, tuple[str, ...]] = {
    "azure-managed-redis": get_args(AmrTier),
    "azure-cache-for-redis": get_args(AcrTier),
    "redis-oss": (),
}
CLUSTERINGS: tuple[str, ...] = get_args(Clustering)
PERSISTENCES: tuple[str, ...] = get_args(Persistence)
EVICTION_POLICIES: tuple[str, ...] = get_args(EvictionPolicy)
AUTHS: tuple[str, ...] = get_args(Auth)
CLASSIFICATIONS: tuple[str, ...] = get_args(Classification)
DATA_TYPES: tuple[str, ...] = get_args(DataType)
TTL_MODES: tuple[str, ...] = get_args(TTLMode)
DATA_CLASSIFICATIONS: tuple[str, ...] = get_args(DataClassification)
CONTENTS: tuple[str, ...] = get_args(Content)

# --------------------------------------------------------------------------------------------
# Constrained strings

_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_SLUG_MAX = 63
_RULE_ID_RE = re.compile(r"[A-Z]{3}[0-9]{3}")
_THRESHOLD_RE = re.compile(r"[A-Z]{3}[0-9]{3}\.[a-z][a-z0-9_]*")
_TARGET_RE = re.compile(r"(namespace|instance):(.*)")
_ENV_VAR_RE = re.compile(r"[A-Z_][A-Z0-9_]*")
# The advisor's own secrets are never a scan credential: a design must not be able to make the
# worker send them to a cache (whose operator would then read them in its AUTH log).
RESERVED_ENV_VARS = re.compile(r"(ADVISOR_|DJANGO_|DATABASE_|POSTGRES|PG|CELERY_|AZURE_|AWS_|REDIS_URL$).*")
_HOST_RE = re.compile(r"[A-Za-z0-9_.\-]+|[0-9A-Fa-f:.]+")
_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _fail(message: str) -> typing.NoReturn:
    # A custom error type keeps the message exactly as written (no "Value error, " prefix).
    raise PydanticCustomError("design", message)


def _check_slug(value: str) -> str:
    if not _SLUG_RE.fullmatch(value):
        _fail("must be a slug: lowercase letters, digits and '-', starting with a letter or digit")
    if len(value) > _SLUG_MAX:
        _fail(f"must be at most {_SLUG_MAX} characters")
    return value


def _check_rule_id(value: str) -> str:
    if not _RULE_ID_RE.fullmatch(value):
        _fail("must be a rule id such as TTL001")
    return value


def _check_threshold_name(value: str) -> str:
    if not _THRESHOLD_RE.fullmatch(value):
        _fail("must be a threshold name RULE.name, such as VAL001.max_bytes")
    return value


def _check_target(value: str) -> str:
    m = _TARGET_RE.fullmatch(value)
    if not m or not _SLUG_RE.fullmatch(m.group(2)):
        _fail("must be namespace:NAME or instance:NAME")
    return value


def _check_not_blank(value: str) -> str:
    if not value.strip():
        _fail("must not be blank")
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
RuleId = Annotated[str, AfterValidator(_check_rule_id)]
ThresholdName = Annotated[str, AfterValidator(_check_threshold_name)]
Target = Annotated[str, AfterValidator(_check_target)]
Text = Annotated[str, AfterValidator(_check_not_blank)]
# Limits: every number a design carries stays within what a real cache can be, so that the
# registry's columns hold it and the sizing model and the rules compute with it. Each is derived
# from a published limit of Redis, and is generous: a real cache describes itself without
# meeting one, and past them lies only a typo or an attack (1e308 GB once broke every page).
#
# "The cluster's key space is split into 16384 slots, effectively setting an upper limit for the
# cluster size of 16384 master nodes" (the cluster spec, "Key distribution model",
# https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/).
MAX_SHARDS = 16384
# 16,384 shards of 128 GB: every size of the platform catalog at any accepted shard count (ACR
# Premium's largest size, P5, is 120 GB a shard) and 466 times the largest Azure size (Flash
# Optimized A4500, 4,500 GB; advisor.core.platform), yet far from where arithmetic runs out.
MAX_MEMORY_GB = MAX_SHARDS * 128  # 2,097,152 GB, 2 PiB
# The smallest: 1 MB. Redis itself needs about that much, and usable memory stays above zero bytes.
MIN_MEMORY_GB = 0.001
MAX_MEMORY_BYTES = MAX_MEMORY_GB * 2**30
# "Redis can handle up to 2^32 keys" per server (https://redis.io/docs/latest/develop/get-started/faq/),
# so a namespace holds at most 2^32 keys on each of the most shards there can be: 2^46, about 7e13.
MAX_KEYS = MAX_SHARDS * 2**32
# One value never outgrows the largest cache. A string stops at 512 MB by default ("By default, a
# single Redis string can be a maximum of 512 MB",
# https://redis.io/docs/latest/develop/data-types/strings/#limits), but a hash, list, set or sorted set
# holds up to 2^32 elements of that size each (the FAQ above), and proto-max-bulk-len lifts the
# string limit: a big value is the VAL rules' finding, not an invalid design.
MAX_VALUE_BYTES = MAX_MEMORY_BYTES
# "A Redis instance running on an average Linux system can deliver 1 million requests per second"
# with pipelining (the FAQ above), on each of the most shards there can be: about 1.6e10.
MAX_OPS_PER_SEC = MAX_SHARDS * 1_000_000
MAX_SECONDS = 2**31 - 1  # 68 years: longer is no expiry at all; also PostgreSQL's integer column
# Policy thresholds are counts, sizes, durations, ratios and shares: none is negative, and 2^53 is
# where a float stops counting one by one (every byte count above is below it).
MAX_THRESHOLD = 2**53
# A reserve of more than 99% leaves nothing worth sizing (and at 100%, nothing at all).
MAX_RESERVED_SHARE = 0.99
Keys = Annotated[
    int, Field(ge=0, le=MAX_KEYS, description=f"0 to {MAX_KEYS:,} (2^32 keys on each of 16,384 shards).")
]
Bytes = Annotated[
    int,
    Field(ge=0, le=MAX_VALUE_BYTES, description=f"0 to {MAX_VALUE_BYTES:,} (the largest memory accepted)."),
]
Rate = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_OPS_PER_SEC,
        allow_inf_nan=False,
        description=f"Per second, 0 to {MAX_OPS_PER_SEC:,} (a million on each of 16,384 shards).",
    ),
]


class _Model(BaseModel):
    # Inputs stay out of error texts: a rejected connection URL may carry a password.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # NUL cuts strings short in C libraries (the resolver), and PostgreSQL refuses it outright.
        if isinstance(value, str) and "\x00" in value:
            _fail("must not contain NUL characters")
        return value


# --------------------------------------------------------------------------------------------
# Models, in the order of the contract


class Team(_Model):
    name: Slug
    contact: Annotated[Text, Field(max_length=254)] | None = None


class Connection(_Model):
    """How a scan reaches the instance. Secrets are never in here, only references to them."""

    url: str = Field(max_length=500)
    credential: str = Field(max_length=200)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        # Messages never echo the URL: it may carry the very secret we refuse to store.
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            _fail("must be a URL such as rediss://host:10000/0")
        if parts.scheme not in ("redis", "rediss"):
            _fail("must start with redis:// or rediss://")
        if parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query)):
            _fail("secrets only by reference: use credential: env:VAR")
        if not parts.hostname:
            _fail("must name a host, as in rediss://host:10000/0")
        if not _HOST_RE.fullmatch(parts.hostname.strip("[]")):
            _fail("the host must be a DNS name or an IP address")
        if parts.query or parts.fragment:
            _fail("must not carry a query or fragment: options and secrets do not belong in the URL")
        if port == 0:
            _fail("port must be between 1 and 65535")
        if parts.path not in ("", "/") and not re.fullmatch(r"/[0-9]+", parts.path):
            _fail("the path must be a database number, as in /0")
        return url

    @field_validator("credential")
    @classmethod
    def _credential(cls, value: str) -> str:
        # Never echo the value: someone may have pasted the password itself here.
        if value in ("none", "entra-id"):
            return value
        kind, sep, rest = value.partition(":")
        if sep and kind == "env" and _ENV_VAR_RE.fullmatch(rest):
            if RESERVED_ENV_VARS.match(rest):
                _fail(f"env:{rest} is reserved for the advisor's own configuration; name another variable")
            return value
        if sep and kind == "entra-id" and _GUID_RE.fullmatch(rest):
            return value
        if sep and kind == "entra-id":
            _fail("entra-id:<client-id> needs the managed identity's client id, a GUID")
        _fail("must be env:VAR, entra-id, entra-id:<client-id> or none (secrets only by reference)")


class Instance(_Model):
    name: Slug
    environment: Environment
    product: Product
    tier: Tier | None = Field(default=None, validate_default=True)
    # An Azure size (B10, P2, C3...). Whether it belongs to the tier, and whether memory_gb agrees
    # with it, is INS009's to say: a design that describes its cache wrongly must still load.
    sku: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z][A-Za-z0-9]*$")] | None = None
    # Required unless `sku` names a known size, whose memory then fills it in.
    memory_gb: float | None = Field(
        default=None,
        gt=0,
        le=MAX_MEMORY_GB,
        allow_inf_nan=False,
        validate_default=True,
        description=f"GB; from {MIN_MEMORY_GB} (1 MB) to {MAX_MEMORY_GB:,} (16,384 shards of 128 GB).",
    )
    shards: int = Field(
        default=1, ge=1, le=MAX_SHARDS, description=f"1 to {MAX_SHARDS:,}, the hash slots of a Redis Cluster."
    )
    clustering: Clustering
    high_availability: bool
    persistence: Persistence
    geo_replication: bool
    eviction_policy: EvictionPolicy
    auth: Auth
    tls: bool
    public_network_access: bool
    region: Annotated[Text, Field(max_length=64)] | None = None
    connection: Connection | None = None

    @field_validator("tier")
    @classmethod
    def _tier_fits_product(cls, tier: str | None, info: ValidationInfo) -> str | None:
        product = info.data.get("product")
        if product is None:
            return tier  # the product itself is invalid; that error is enough
        allowed = TIERS_BY_PRODUCT[product]
        if not allowed:
            if tier is not None:
                _fail(f"must be omitted or null for {product}")
        elif tier is None:
            _fail(f"required for {product}: one of {', '.join(allowed)}")
        elif tier not in allowed:
            _fail(f"'{tier}' is not a tier of {product}; use one of {', '.join(allowed)}")
        return tier

    @field_validator("sku")
    @classmethod
    def _sku_canonical(cls, sku: str | None) -> str | None:
        # Azure writes sizes upper case (Balanced_B10); accept b10 as the same size.
        return sku.upper() if sku is not None else None

    @field_validator("memory_gb")
    @classmethod
    def _memory_or_sku(cls, memory_gb: float | None, info: ValidationInfo) -> float | None:
        # Filled from the sku in _memory_from_sku once `shards` is known (Premium sizes are per shard).
        if memory_gb is not None:
            if memory_gb < MIN_MEMORY_GB:
                _fail(f"must be at least {MIN_MEMORY_GB} (1 MB): Redis itself needs about that much")
            return memory_gb
        product, tier, sku = info.data.get("product"), info.data.get("tier"), info.data.get("sku")
        if sku is None:
            if "sku" in info.data:  # the sku itself is fine: it is missing
                _fail("required unless sku names the Azure size (e.g. sku: B10)")
            return None  # the sku's own error says enough
        size = platform.find_sku(product, tier, sku)
        if size is None:
            sizes = ", ".join(s.name for s in platform.skus(product, tier))
            where = f"{product} {tier}" if tier else str(product)
            _fail(
                f"required: sku '{sku}' is not a size of {where}"
                + (f" ({sizes})" if sizes else "")
                + ", so memory_gb cannot be taken from it"
            )
        if size.memory_gb is None:
            _fail(f"required: Microsoft publishes no memory figure for {size.name}, so give it here")
        return None

    @model_validator(mode="after")
    def _memory_from_sku(self) -> Instance:
        if self.memory_gb is None and self.sku is not None:
            self.memory_gb = platform.sku_memory_gb(self)
        return self

    @property
    def is_clustered(self) -> bool:
        return self.clustering in ("oss", "enterprise")

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


class TTL(_Model):
    mode: TTLMode
    seconds: int | None = Field(default=None, validate_default=True, le=MAX_SECONDS)
    jitter_seconds: int = Field(default=0, ge=0, le=MAX_SECONDS)

    @field_validator("seconds")
    @classmethod
    def _seconds_fit_mode(cls, seconds: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("mode")
        if mode == "none":
            if seconds not in (None, 0):
                _fail("must be omitted when mode is none: the keys never expire")
            return None  # 0 and absent mean the same; keep one spelling
        if mode is not None:
            if seconds is None:
                _fail(f"required when mode is {mode}")
            if seconds < 1:
                _fail(f"must be >= 1 when mode is {mode}")
        return seconds

    @field_validator("jitter_seconds")
    @classmethod
    def _no_jitter_without_expiry(cls, jitter: int, info: ValidationInfo) -> int:
        if jitter and info.data.get("mode") == "none":
            _fail("must be 0 when mode is none: the keys never expire")
        return jitter


class ValueBytes(_Model):
    typical: Bytes
    max: Bytes

    @field_validator("max")
    @classmethod
    def _max_not_below_typical(cls, max_: int, info: ValidationInfo) -> int:
        typical = info.data.get("typical")
        if typical is not None and max_ < typical:
            _fail(f"must be >= typical ({typical})")
        return max_


class Ops(_Model):
    reads: Rate
    writes: Rate


class Namespace(_Model):
    name: Slug
    team: Slug
    instance: Slug
    pattern: str = Field(max_length=500)
    classification: Classification
    data_type: DataType
    ttl: TTL
    value_bytes: ValueBytes
    cardinality: Keys
    ops_per_sec: Ops
    data_classification: DataClassification
    contains: list[Content] = Field(default_factory=list)
    negative_cache: bool = False
    source_of_truth: Annotated[Text, Field(max_length=200)] | None = None
    multi_key_with: list[Slug] = Field(default_factory=list)
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _pattern_parses(cls, pattern: str) -> str:
        try:
            parse_pattern(pattern)
        except PatternError as e:
            _fail(f"invalid pattern: {e}")
        return pattern

    @field_validator("contains")
    @classmethod
    def _contains_unique(cls, contains: list[str]) -> list[str]:
        if len(set(contains)) != len(contains):
            _fail("lists an item twice")
        return contains

    @field_validator("ttl")
    @classmethod
    def _per_field_needs_hash(cls, ttl: TTL, info: ValidationInfo) -> TTL:
        data_type = info.data.get("data_type")
        if ttl.mode == "per-field" and data_type is not None and data_type != "hash":
            _fail(
                f"mode per-field expires hash fields (HEXPIRE) and needs data_type: hash, not {data_type}; "
                "use absolute or sliding for other types"
            )
        return ttl

    @property
    def has_ttl(self) -> bool:
        """The data expires: the keys (absolute, sliding) or the hash fields (per-field)."""
        return self.ttl.mode != "none"

    @property
    def key_has_ttl(self) -> bool:
        """The keys themselves carry a TTL, so that `volatile-*` policies may evict them."""
        return self.ttl.mode in ("absolute", "sliding")

    @property
    def ttl_max_seconds(self) -> int | None:
        """The longest TTL a key of this namespace may carry by design, None when keys never expire."""
        if self.ttl.seconds is None:
            return None
        return self.ttl.seconds + self.ttl.jitter_seconds


class Policy(_Model):
    disable: list[RuleId] = Field(default_factory=list)
    severity: dict[RuleId, Severity] = Field(default_factory=dict)
    thresholds: dict[ThresholdName, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description=f"Each from 0 to 2^53 ({MAX_THRESHOLD:,}); shares 0 to 1, a reserve at most {MAX_RESERVED_SHARE}.",
    )

    @field_validator("thresholds")
    @classmethod
    def _shares_are_shares(cls, thresholds: dict[str, float]) -> dict[str, float]:
        # A share outside 0..1 or a negative ratio makes no sense, and a reserve of all memory
        # would divide by zero.
        for name, value in thresholds.items():
            if name.endswith("_share") and not 0 <= value <= 1:
                _fail(f"{name} is a share: it must be between 0 and 1, not {value:g}")
            if name.endswith("_ratio") and value < 0:
                _fail(f"{name} is a ratio: it must not be negative")
            if name.endswith("reserved_share") and value > MAX_RESERVED_SHARE:
                _fail(
                    f"{name} must be below 1 (at most {MAX_RESERVED_SHARE}): "
                    "a reserve of all memory leaves none for data"
                )
            if value < 0:
                _fail(f"{name} must not be negative: thresholds are counts, sizes, durations and ratios")
            if value > MAX_THRESHOLD:
                _fail(f"{name} must be at most 2^53 ({MAX_THRESHOLD:,})")
        return thresholds


class Waiver(_Model):
    rule: RuleId
    target: Target
    reason: Text
    expires: dt.date
    approved_by: Annotated[Text, Field(max_length=150)]

    def is_active(self, *, today: dt.date) -> bool:
        """A waiver applies up to and including its expiry date."""
        return today <= self.expires


class Design(_Model):
    version: Literal[1]
    teams: list[Team]
    instances: list[Instance]
    namespaces: list[Namespace]
    policy: Policy = Field(default_factory=Policy)
    waivers: list[Waiver] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, version: Any) -> Any:
        if type(version) is not int or version != DESIGN_VERSION:
            _fail(f"must be {DESIGN_VERSION}: this advisor reads design files of version {DESIGN_VERSION}")
        return version

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Design:
        # load_design checks references on the raw data (to report them next to field errors);
        # built in code, a Design checks them here.
        if info.context and info.context.get("_references_checked"):
            return self
        problems = list(_reference_problems(self.model_dump(mode="python")))
        if problems:
            detail = "; ".join(f"{_format_loc(path)}: {message}" for path, message in problems)
            raise PydanticCustomError("design_references", "{detail}", {"detail": detail})
        return self

    def team(self, name: str) -> Team:
        """The team of that name; KeyError if there is none."""
        return _by_name(self.teams, name, "team")

    def instance(self, name: str) -> Instance:
        """The instance of that name; KeyError if there is none."""
        return _by_name(self.instances, name, "instance")

    def namespace(self, name: str) -> Namespace:
        """The namespace of that name; KeyError if there is none."""
        return _by_name(self.namespaces, name, "namespace")

    def namespaces_on(self, instance_name: str) -> list[Namespace]:
        """The namespaces hosted on an instance, in design order."""
        return [ns for ns in self.namespaces if ns.instance == instance_name]


def _by_name(items: list, name: str, kind: str):
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"no {kind} named {name!r}")


# --------------------------------------------------------------------------------------------
# References between items, checked on raw data so that broken items do not hide them

_Path = tuple[str | int, ...]


def _items(data: dict, key: str) -> Iterator[tuple[int, dict]]:
    items = data.get(key)
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield i, item


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    message = f"no {kind} named '{name}'"
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{message}; did you mean '{close[0]}'?" if close else message


def _is_slug(value: Any) -> bool:
    return isinstance(value, str) and _SLUG_RE.fullmatch(value) is not None


def _reference_problems(data: Any) -> Iterator[tuple[_Path, str]]:
    """Duplicate names and dangling references, as (path, message), tolerant of malformed items."""
    if not isinstance(data, dict):
        return
    # Names per kind; a kind whose list is missing or malformed is left out, so that one broken
    # list is one error rather than one more per reference to it.
    names: dict[str, dict[str, int]] = {}
    for key, kind in (("teams", "team"), ("instances", "instance"), ("namespaces", "namespace")):
        if not isinstance(data.get(key), list):
            continue
        seen = names[kind] = {}
        for i, item in _items(data, key):
            name = item.get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                yield (key, i, "name"), f"duplicate {kind} name '{name}' (first at {key}[{seen[name]}])"
            else:
                seen[name] = i

    namespace_instance = {
        item["name"]: item.get("instance")
        for _, item in _items(data, "namespaces")
        if isinstance(item.get("name"), str)
    }
    for i, ns in _items(data, "namespaces"):
        for field, kind in (("team", "team"), ("instance", "instance")):
            value = ns.get(field)
            if kind in names and _is_slug(value) and value not in names[kind]:
                yield ("namespaces", i, field), _unknown(kind, value, names[kind])
        others = ns.get("multi_key_with")
        if not isinstance(others, list):
            continue
        listed: set[str] = set()
        for j, other in enumerate(others):
            if not _is_slug(other):
                continue  # the field error says enough
            path = ("namespaces", i, "multi_key_with", j)
            if other == ns.get("name"):
                yield path, "names the namespace itself"
            elif other not in names["namespace"]:
                yield path, _unknown("namespace", other, names["namespace"])
            elif other in listed:
                yield path, f"lists '{other}' twice"
            elif (
                isinstance(ns.get("instance"), str)
                and isinstance(namespace_instance.get(other), str)
                and namespace_instance[other] != ns["instance"]
            ):
                yield (
                    path,
                    (
                        f"'{other}' is on instance '{namespace_instance[other]}', not '{ns['instance']}': "
                        "multi-key commands need both namespaces on one instance"
                    ),
                )
            listed.add(other)

    yield from _catalog_problems(data)

    waived: dict[tuple[str, str], int] = {}
    for i, waiver in _items(data, "waivers"):
        target = waiver.get("target")
        if not isinstance(target, str):
            continue
        m = _TARGET_RE.fullmatch(target)
        if m and m.group(1) in names and _is_slug(m.group(2)) and m.group(2) not in names[m.group(1)]:
            yield ("waivers", i, "target"), _unknown(m.group(1), m.group(2), names[m.group(1)])
        rule = waiver.get("rule")
        if isinstance(rule, str):
            if (rule, target) in waived:
                yield (
                    ("waivers", i),
                    f"a second waiver of {rule} for {target} (the first is waivers[{waived[rule, target]}])",
                )
            else:
                waived[rule, target] = i


def _catalog_problems(data: dict) -> Iterator[tuple[_Path, str]]:
    """Rule ids and threshold names must exist: a typo would otherwise silently change nothing."""
    from advisor.core.rules import ALL_RULES  # the catalog imports this module

    rules = {r.id: r for r in ALL_RULES}
    thresholds = {name for r in ALL_RULES for name in r.thresholds}
    policy = data.get("policy")
    if isinstance(policy, dict):
        for key in ("disable", "severity"):
            value = policy.get(key)
            ids = value if isinstance(value, list) else list(value) if isinstance(value, dict) else []
            for j, rule in enumerate(ids):
                if isinstance(rule, str) and _RULE_ID_RE.fullmatch(rule) and rule not in rules:
                    where = ("policy", key, j) if key == "disable" else ("policy", key, rule)
                    yield where, _unknown("rule", rule, rules)
        value = policy.get("thresholds")
        if isinstance(value, dict):
            for name in value:
                if isinstance(name, str) and _THRESHOLD_RE.fullmatch(name) and name not in thresholds:
                    yield ("policy", "thresholds", name), _unknown("threshold", name, thresholds)
    for i, waiver in _items(data, "waivers"):
        rule = waiver.get("rule")
        if isinstance(rule, str) and _RULE_ID_RE.fullmatch(rule) and rule not in rules:
            yield ("waivers", i, "rule"), _unknown("rule", rule, rules)


# --------------------------------------------------------------------------------------------
# Errors


class DesignIssue(BaseModel):
    """One problem in a design file: where (`namespaces[3].ttl.seconds`, YAML line) and what."""

    model_config = ConfigDict(frozen=True)

    loc: str
    message: str
    line: int | None = None

    def format(self, filename: str = "<design>") -> str:
        where = filename if self.line is None else f"{filename}:{self.line}"
        return f"{where}: {self.loc}: {self.message}" if self.loc else f"{where}: {self.message}"

    def __str__(self) -> str:
        return self.format()


class DesignError(ValueError):
    """A design file that cannot be loaded; `errors` lists every problem found."""

    def __init__(self, errors: list[DesignIssue], *, filename: str = "<design>"):
        self.errors = list(errors)
        self.filename = filename
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(issue.format(self.filename) for issue in self.errors)


def check_references(design: Design, *, filename: str = "<registry>") -> None:
    """Raise DesignError for dangling references and duplicates in a design built in code.

    For a design assembled from several sources (a registry after an import), where each part
    was valid alone but the whole may not be.
    """
    problems = list(_reference_problems(design.model_dump(mode="python")))
    if problems:
        raise DesignError(
            [DesignIssue(loc=_format_loc(path), message=message) for path, message in problems],
            filename=filename,
        )


def _format_loc(path: Iterable[str | int]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


# --------------------------------------------------------------------------------------------
# Loading


class _Loader(yaml.SafeLoader):
    """The safe loader, except that an impossible date, or an integer longer than Python converts
    (4,300 digits), stays a string for the model to reject at its location."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_yaml_int(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _json_int(text: str) -> int | str:
    # Past sys.get_int_max_str_digits() int() raises; the model then says "must be an integer".
    try:
        return int(text)
    except ValueError:
        return text


class _JsonObject(dict):
    """A JSON object that remembers the keys it saw more than once."""

    duplicates: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def load_design(text: str | bytes, *, filename: str = "<design>") -> Design:
    """Parse and validate a YAML or JSON design file; raises DesignError listing every problem."""
    try:
        return _load_design(text, filename=filename)
    except RecursionError:
        # A design nests four levels deep; thousands of brackets are an attack or an accident.
        raise DesignError(
            [DesignIssue(loc="", message="the file nests too deeply to be a design file")], filename=filename
        ) from None


def _load_design(text: str | bytes, *, filename: str) -> Design:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DesignError(
                [DesignIssue(loc="", message=f"not UTF-8 text (byte {e.start})")], filename=filename
            ) from None
    text = text.removeprefix("\ufeff")

    issues: list[DesignIssue] = []
    data, root = _parse(text, filename=filename, issues=issues)
    if data is _UNPARSABLE:
        raise DesignError(issues, filename=filename)

    def issue(path: _Path, message: str) -> None:
        issues.append(DesignIssue(loc=_format_loc(path), message=message, line=_line_of(root, path)))

    if data is None:
        issue((), "the file is empty; a design starts with 'version: 1'")
        raise DesignError(issues, filename=filename)
    if not isinstance(data, dict):
        issue((), "the top level must be a mapping with version, teams, instances and namespaces")
        raise DesignError(issues, filename=filename)
    if "version" in data and (type(data["version"]) is not int or data["version"] != DESIGN_VERSION):
        # Another version may mean another structure; field errors against ours would be noise.
        shown = repr(data["version"]) if len(repr(data["version"])) <= 40 else "(too long to show)"
        issue(("version",), f"unsupported version {shown}: this advisor reads version 1")
        raise DesignError(issues, filename=filename)

    for path, message in _reference_problems(data):
        issue(path, message)
    design = None
    try:
        design = Design.model_validate(data, context={"_references_checked": True})
    except ValidationError as e:
        for err in e.errors():
            path, message = _pydantic_issue(err)
            issue(path, message)

    if issues:
        raise DesignError(_ordered(issues), filename=filename)
    assert design is not None
    return design


def load_design_file(path: str | Path) -> Design:
    """Read and load a design file; errors name the file."""
    path = Path(path)
    return load_design(path.read_bytes(), filename=str(path))


_UNPARSABLE = object()


def _parse(text: str, *, filename: str, issues: list[DesignIssue]) -> tuple[Any, yaml.Node | None]:
    """The data and (when YAML can compose it) the node tree; _UNPARSABLE after a syntax error."""
    looks_like_json = filename.lower().endswith(".json") or text.lstrip().startswith(("{", "["))
    json_error: json.JSONDecodeError | None = None
    if looks_like_json:
        # JSON semantics exactly (numbers, escapes); YAML only for line numbers.
        try:
            data = json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int)
        except json.JSONDecodeError as e:
            json_error = e
        else:
            try:
                root, loader = _compose(text)
                loader.dispose()
            except yaml.YAMLError:
                root = None
            for path, key in _json_duplicates(data, ()):
                issues.append(
                    DesignIssue(
                        loc=_format_loc(path), message=f"duplicate key '{key}'", line=_line_of(root, path)
                    )
                )
            return data, root

    try:
        root, loader = _compose(text)
    except yaml.YAMLError as e:
        if json_error is not None and (filename.lower().endswith(".json") or text.lstrip().startswith("[")):
            issues.append(
                DesignIssue(loc="", message=f"invalid JSON: {json_error.msg}", line=json_error.lineno)
            )
        else:
            issues.append(_yaml_syntax_issue(e))
        return _UNPARSABLE, None
    if root is None:
        return None, None
    for path, key, line, first_line in _yaml_duplicates(root, (), set()):
        issues.append(
            DesignIssue(
                loc=_format_loc((*path, key)),
                message=f"duplicate key '{key}' (first at line {first_line})",
                line=line,
            )
        )
    try:
        data = loader.construct_document(root)
    except yaml.YAMLError as e:
        issues.append(_yaml_syntax_issue(e))
        return _UNPARSABLE, None
    finally:
        loader.dispose()
    return data, root


def _compose(text: str) -> tuple[yaml.Node | None, _Loader]:
    loader = _Loader(text)
    try:
        return loader.get_single_node(), loader
    except yaml.YAMLError:
        loader.dispose()
        raise


def _yaml_syntax_issue(e: yaml.YAMLError) -> DesignIssue:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    message = f"invalid YAML: {context}, {problem}" if context else f"invalid YAML: {problem}"
    return DesignIssue(loc="", message=message, line=mark.line + 1 if mark else None)


def _scalar_key(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _yaml_duplicates(node: yaml.Node, path: _Path, seen: set[int]) -> Iterator[tuple[_Path, str, int, int]]:
    if id(node) in seen:  # aliases share nodes; visit each once
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _scalar_key(key_node)
            if key is not None:
                line = key_node.start_mark.line + 1
                if (key_node.tag, key) in first:
                    yield path, key, line, first[key_node.tag, key]
                else:
                    first[key_node.tag, key] = line
            yield from _yaml_duplicates(value_node, (*path, key if key is not None else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _yaml_duplicates(item, (*path, i), seen)


def _json_duplicates(data: Any, path: _Path) -> Iterator[tuple[_Path, str]]:
    if isinstance(data, _JsonObject):
        for key in data.duplicates:
            yield (*path, key), key
        for key, value in data.items():
            yield from _json_duplicates(value, (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _json_duplicates(item, (*path, i))


def _line_of(root: yaml.Node | None, path: _Path) -> int | None:
    """The 1-based line of the deepest node on the path (the key's line for a mapping entry)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key_node, value_node in node.value:  # the last of duplicate keys is the one kept
                if _scalar_key(key_node) == str(step):
                    found = key_node, value_node
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


_MESSAGES = {
    "missing": "required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date without a time (YYYY-MM-DD)",
    "string_too_short": "must not be empty",
}


def _pydantic_issue(err: dict) -> tuple[_Path, str]:
    path: _Path = tuple(step for step in err["loc"] if step != "[key]")
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return path, _unknown_field_message(path)
    if kind in ("literal_error", "enum"):
        got = err.get("input")
        shown = f", not {got!r}" if isinstance(got, (str, int, float, bool)) and len(repr(got)) <= 40 else ""
        return path, f"must be {ctx.get('expected', '')}{shown}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[
            kind
        ]
        bound = next(iter(ctx.values()))
        return path, f"must be {op} {_number(bound) if isinstance(bound, float) else bound}"
    if kind == "string_pattern_mismatch" and path and path[-1] == "sku":
        return path, "must be an Azure size name such as B10, P2 or C3 (letters and digits)"
    if kind in ("too_long", "string_too_long"):
        return path, f"must be at most {ctx.get('max_length')} characters long"
    if kind in _MESSAGES:
        return path, _MESSAGES[kind]
    message = err["msg"]
    return path, message.removeprefix("Value error, ")


def _unknown_field_message(path: _Path) -> str:
    model = _model_at(path[:-1])
    if model is None:
        return "unknown field"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
    if close:
        return f"unknown field; did you mean '{close[0]}'?"
    return f"unknown field (allowed: {', '.join(allowed)})"


def _model_at(path: _Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, following field annotations."""
    current: Any = Design
    for step in path:
        if isinstance(step, int):
            continue
        if (
            not (isinstance(current, type) and issubclass(current, BaseModel))
            or step not in current.model_fields
        ):
            return None
        current = _unwrap(current.model_fields[step].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model inside `Model`, `list[Model]` or `Model | None`; None for anything else."""
    while True:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        if typing.get_origin(annotation) not in (list, typing.Union, types.UnionType):
            return None
        args = [a for a in get_args(annotation) if a is not type(None)]
        if not args:
            return None
        annotation = args[0]


def _ordered(issues: list[DesignIssue]) -> list[DesignIssue]:
    """Issues in file order (unlocated ones last), each reported once."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: math.inf if i.line is None else i.line)


# --------------------------------------------------------------------------------------------
# Dumping


class _Flow(dict):
    pass


class _FlowList(list):
    pass


class _Quoted(str):
    pass


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent sequences under their key, as the contract's example does.
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = None
    if isinstance(value, _Quoted) or any(not c.isprintable() and c != "\n" for c in value):
        # Double quotes escape everything. PyYAML would write NEL, LS and PS unquoted, and
        # reading them back turns them into line breaks.
        style = '"'
    elif (
        "\n" in value
        and value != "\n"
        and not value.endswith("\n\n")
        and all(c == "\n" or c.isprintable() for c in value)
    ):
        # A literal block for multi-line text. Not when it would need the keep indicator
        # ('|+'), whose trailing blank lines the section spacing below would change.
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Quoted, _represent_str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _design_dict(design: Design) -> dict:
    """The design as plain data in contract order, defaults written out."""

    def team(t: Team) -> dict:
        return {"name": t.name, "contact": t.contact}

    def instance(i: Instance) -> dict:
        out = i.model_dump(mode="python", exclude={"connection"})
        out["memory_gb"] = _number(i.memory_gb)
        out["connection"] = None if i.connection is None else i.connection.model_dump(mode="python")
        return out

    def namespace(n: Namespace) -> dict:
        out = n.model_dump(mode="python")
        if n.ttl.mode == "none":
            out["ttl"] = _Flow(mode="none")
        else:
            out["ttl"] = _Flow(mode=n.ttl.mode, seconds=n.ttl.seconds, jitter_seconds=n.ttl.jitter_seconds)
        out["pattern"] = _Quoted(n.pattern)
        out["value_bytes"] = _Flow(out["value_bytes"])
        out["ops_per_sec"] = _Flow(reads=_number(n.ops_per_sec.reads), writes=_number(n.ops_per_sec.writes))
        out["contains"] = _FlowList(n.contains)
        out["multi_key_with"] = _FlowList(n.multi_key_with)
        return out

    def waiver(w: Waiver) -> dict:
        return w.model_dump(mode="python")

    policy = design.policy
    return {
        "version": design.version,
        "teams": [team(t) for t in design.teams],
        "instances": [instance(i) for i in design.instances],
        "namespaces": [namespace(n) for n in design.namespaces],
        "policy": {
            "disable": _FlowList(policy.disable),
            "severity": {k: policy.severity[k].value for k in sorted(policy.severity)},
            "thresholds": {k: _number(policy.thresholds[k]) for k in sorted(policy.thresholds)},
        },
        "waivers": [waiver(w) for w in design.waivers],
    }


def dump_design(design: Design, format: Literal["yaml", "json"] = "yaml") -> str:
    """A canonical design file: contract order, defaults explicit, stable under load and dump."""
    data = _design_dict(design)
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    if format != "yaml":
        raise ValueError(f"unknown format {format!r}; use yaml or json")
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=math.inf, default_flow_style=False
    )
    return _space_sections(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _space_sections(text: str) -> str:
    # A blank line before each top-level key and each item of a top-level list. Such lines sit at
    # column 0 or start with "  - "; block scalars are indented deeper, so none is touched.
    out: list[str] = []
    previous = ""
    for line in text.splitlines(keepends=True):
        top_level_key = bool(line[:1].strip())
        list_item = line.startswith("  - ") and not previous[:1].strip()
        if out and (top_level_key or list_item):
            out.append("\n")
        out.append(line)
        previous = line
    return "".join(out)
