"""What each field of a design may hold: the enumerations, the constrained strings, and the limits
of every number, each derived from a published limit of Redis.

The tuples are handy as form and model choices; `fail` raises the error a field validator reports.
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

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

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_SLUG_MAX = 63
RULE_ID_RE = re.compile(r"[A-Z]{3}[0-9]{3}")
THRESHOLD_RE = re.compile(r"[A-Z]{3}[0-9]{3}\.[a-z][a-z0-9_]*")
TARGET_RE = re.compile(r"(namespace|instance):(.*)")


def fail(message: str) -> typing.NoReturn:
    # A custom error type keeps the message exactly as written (no "Value error, " prefix).
    raise PydanticCustomError("design", message)


def _check_slug(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        fail("must be a slug: lowercase letters, digits and '-', starting with a letter or digit")
    if len(value) > _SLUG_MAX:
        fail(f"must be at most {_SLUG_MAX} characters")
    return value


def _check_rule_id(value: str) -> str:
    if not RULE_ID_RE.fullmatch(value):
        fail("must be a rule id such as TTL001")
    return value


def _check_threshold_name(value: str) -> str:
    if not THRESHOLD_RE.fullmatch(value):
        fail("must be a threshold name RULE.name, such as VAL001.max_bytes")
    return value


def _check_target(value: str) -> str:
    m = TARGET_RE.fullmatch(value)
    if not m or not SLUG_RE.fullmatch(m.group(2)):
        fail("must be namespace:NAME or instance:NAME")
    return value


def _check_not_blank(value: str) -> str:
    if not value.strip():
        fail("must not be blank")
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


def plain_number(value: float) -> int | float:
    """12.0 as 12, as the design file writes it; 0.5 stays 0.5."""
    return int(value) if float(value).is_integer() else value
