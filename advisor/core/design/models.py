"""The design's models, field for field as section 1 of `design-file.md` has them.

Everything that can be checked on one value is a field validator, so one bad field never hides
another. A `Design` built in code checks its references itself; `load_design` checks them on the
raw data instead, to report them next to field errors.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from advisor.core import platform
from advisor.core.design.errors import format_loc
from advisor.core.design.fields import (
    DESIGN_VERSION,
    MAX_MEMORY_GB,
    MAX_RESERVED_SHARE,
    MAX_SECONDS,
    MAX_SHARDS,
    MAX_THRESHOLD,
    MIN_MEMORY_GB,
    TIERS_BY_PRODUCT,
    Auth,
    Bytes,
    Classification,
    Clustering,
    Content,
    DataClassification,
    DataType,
    Environment,
    EvictionPolicy,
    Keys,
    Persistence,
    Product,
    Rate,
    RuleId,
    Slug,
    Target,
    Text,
    ThresholdName,
    Tier,
    TTLMode,
    fail,
)
from advisor.core.design.references import reference_problems
from advisor.core.findings import Severity
from advisor.core.patterns import PatternError, parse_pattern

_ENV_VAR_RE = re.compile(r"[A-Z_][A-Z0-9_]*")
# The advisor's own secrets are never a scan credential: a design must not be able to make the
# worker send them to a cache (whose operator would then read them in its AUTH log).
RESERVED_ENV_VARS = re.compile(r"(ADVISOR_|DJANGO_|DATABASE_|POSTGRES|PG|CELERY_|AZURE_|AWS_|REDIS_URL$).*")
_HOST_RE = re.compile(r"[A-Za-z0-9_.\-]+|[0-9A-Fa-f:.]+")
_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class _Model(BaseModel):
    # Inputs stay out of error texts: a rejected connection URL may carry a password.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # NUL cuts strings short in C libraries (the resolver), and PostgreSQL refuses it outright.
        if isinstance(value, str) and "\x00" in value:
            fail("must not contain NUL characters")
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
            fail("must be a URL such as rediss://host:10000/0")
        if parts.scheme not in ("redis", "rediss"):
            fail("must start with redis:// or rediss://")
        if parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query)):
            fail("secrets only by reference: use credential: env:VAR")
        if not parts.hostname:
            fail("must name a host, as in rediss://host:10000/0")
        if not _HOST_RE.fullmatch(parts.hostname.strip("[]")):
            fail("the host must be a DNS name or an IP address")
        if parts.query or parts.fragment:
            fail("must not carry a query or fragment: options and secrets do not belong in the URL")
        if port == 0:
            fail("port must be between 1 and 65535")
        if parts.path not in ("", "/") and not re.fullmatch(r"/[0-9]+", parts.path):
            fail("the path must be a database number, as in /0")
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
                fail(f"env:{rest} is reserved for the advisor's own configuration; name another variable")
            return value
        if sep and kind == "entra-id" and _GUID_RE.fullmatch(rest):
            return value
        if sep and kind == "entra-id":
            fail("entra-id:<client-id> needs the managed identity's client id, a GUID")
        fail("must be env:VAR, entra-id, entra-id:<client-id> or none (secrets only by reference)")


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
                fail(f"must be omitted or null for {product}")
        elif tier is None:
            fail(f"required for {product}: one of {', '.join(allowed)}")
        elif tier not in allowed:
            fail(f"'{tier}' is not a tier of {product}; use one of {', '.join(allowed)}")
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
                fail(f"must be at least {MIN_MEMORY_GB} (1 MB): Redis itself needs about that much")
            return memory_gb
        product, tier, sku = info.data.get("product"), info.data.get("tier"), info.data.get("sku")
        if sku is None:
            if "sku" in info.data:  # the sku itself is fine: it is missing
                fail("required unless sku names the Azure size (e.g. sku: B10)")
            return None  # the sku's own error says enough
        size = platform.find_sku(product, tier, sku)
        if size is None:
            sizes = ", ".join(s.name for s in platform.skus(product, tier))
            where = f"{product} {tier}" if tier else str(product)
            fail(
                f"required: sku '{sku}' is not a size of {where}"
                + (f" ({sizes})" if sizes else "")
                + ", so memory_gb cannot be taken from it"
            )
        if size.memory_gb is None:
            fail(f"required: Microsoft publishes no memory figure for {size.name}, so give it here")
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
                fail("must be omitted when mode is none: the keys never expire")
            return None  # 0 and absent mean the same; keep one spelling
        if mode is not None:
            if seconds is None:
                fail(f"required when mode is {mode}")
            if seconds < 1:
                fail(f"must be >= 1 when mode is {mode}")
        return seconds

    @field_validator("jitter_seconds")
    @classmethod
    def _no_jitter_without_expiry(cls, jitter: int, info: ValidationInfo) -> int:
        if jitter and info.data.get("mode") == "none":
            fail("must be 0 when mode is none: the keys never expire")
        return jitter


class ValueBytes(_Model):
    typical: Bytes
    max: Bytes

    @field_validator("max")
    @classmethod
    def _max_not_below_typical(cls, max_: int, info: ValidationInfo) -> int:
        typical = info.data.get("typical")
        if typical is not None and max_ < typical:
            fail(f"must be >= typical ({typical})")
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
            fail(f"invalid pattern: {e}")
        return pattern

    @field_validator("contains")
    @classmethod
    def _contains_unique(cls, contains: list[str]) -> list[str]:
        if len(set(contains)) != len(contains):
            fail("lists an item twice")
        return contains

    @field_validator("ttl")
    @classmethod
    def _per_field_needs_hash(cls, ttl: TTL, info: ValidationInfo) -> TTL:
        data_type = info.data.get("data_type")
        if ttl.mode == "per-field" and data_type is not None and data_type != "hash":
            fail(
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
                fail(f"{name} is a share: it must be between 0 and 1, not {value:g}")
            if name.endswith("_ratio") and value < 0:
                fail(f"{name} is a ratio: it must not be negative")
            if name.endswith("reserved_share") and value > MAX_RESERVED_SHARE:
                fail(
                    f"{name} must be below 1 (at most {MAX_RESERVED_SHARE}): "
                    "a reserve of all memory leaves none for data"
                )
            if value < 0:
                fail(f"{name} must not be negative: thresholds are counts, sizes, durations and ratios")
            if value > MAX_THRESHOLD:
                fail(f"{name} must be at most 2^53 ({MAX_THRESHOLD:,})")
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
            fail(f"must be {DESIGN_VERSION}: this advisor reads design files of version {DESIGN_VERSION}")
        return version

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Design:
        # load_design checks references on the raw data (to report them next to field errors);
        # built in code, a Design checks them here.
        if info.context and info.context.get("_references_checked"):
            return self
        problems = list(reference_problems(self.model_dump(mode="python")))
        if problems:
            detail = "; ".join(f"{format_loc(path)}: {message}" for path, message in problems)
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
