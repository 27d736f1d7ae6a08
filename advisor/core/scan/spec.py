"""What a scan is asked to do: the target, the namespaces to match keys to, the options."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A key is "oversized" (DRF005) when MEMORY USAGE minus its name exceeds value_bytes.max by more
# than the allocator's rounding (jemalloc size classes are up to 25% apart) and the per-key
# overhead (dictEntry, robj, sds header, expires entry), which together stay under 160 bytes.
ALLOCATOR_SLACK = 1.25
PER_KEY_OVERHEAD_BYTES = 160
# DRF003: a remaining TTL may exceed seconds + jitter by this much (clock and rounding).
TTL_TOLERANCE_S = 1


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


class NamespaceSpec(BaseModel):
    """A registered namespace as the scanner needs it; build it with `from_namespace`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    pattern: str
    data_type: str | None = None
    classification: str | None = None
    # Highest remaining TTL the design allows (seconds + jitter + tolerance); None: no TTL designed.
    ttl_limit_ms: int | None = None
    # Highest MEMORY USAGE minus key length before a key counts as oversized; None: no check.
    memory_limit_bytes: int | None = None

    @classmethod
    def from_namespace(cls, ns: Any) -> NamespaceSpec:
        """From a design `Namespace` (or anything with the same fields)."""
        ttl = getattr(ns, "ttl", None)
        mode = _value(getattr(ttl, "mode", "none")) if ttl is not None else "none"
        ttl_limit_ms = None
        if mode != "none" and getattr(ttl, "seconds", None):
            seconds = int(ttl.seconds) + int(getattr(ttl, "jitter_seconds", 0) or 0) + TTL_TOLERANCE_S
            ttl_limit_ms = seconds * 1000
        value_bytes = getattr(ns, "value_bytes", None)
        vmax = getattr(value_bytes, "max", None) if value_bytes is not None else None
        memory_limit = math.ceil(vmax * ALLOCATOR_SLACK) + PER_KEY_OVERHEAD_BYTES if vmax else None
        return cls(
            name=ns.name,
            pattern=ns.pattern,
            data_type=_value(getattr(ns, "data_type", None)),
            classification=_value(getattr(ns, "classification", None)),
            ttl_limit_ms=ttl_limit_ms,
            memory_limit_bytes=memory_limit,
        )


def namespace_specs(design: Any, instance_name: str) -> list[NamespaceSpec]:
    """The specs of every namespace the design registers on an instance, in design order."""
    return [NamespaceSpec.from_namespace(ns) for ns in design.namespaces if ns.instance == instance_name]


class ScanTarget(BaseModel):
    """Where to scan: an instance's connection reference (never a secret itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str
    url: str
    credential: str | None = None  # env:VAR | entra-id | entra-id:<client-id> | none
    clustering: str = "none"  # oss | enterprise | none
    # The design's product and tier: a URL without a port goes to the product's default port.
    product: str | None = None
    tier: str | None = None

    @classmethod
    def from_instance(cls, instance: Any) -> ScanTarget:
        """From a design `Instance`; ValueError when it has no connection URL."""
        conn = getattr(instance, "connection", None)
        url = getattr(conn, "url", None) if conn is not None else None
        if not url:
            raise ValueError(f"instance {instance.name} has no connection URL to scan")
        return cls(
            instance=instance.name,
            url=url,
            credential=getattr(conn, "credential", None),
            clustering=_value(getattr(instance, "clustering", "none")) or "none",
            product=_value(getattr(instance, "product", None)),
            tier=_value(getattr(instance, "tier", None)),
        )


@dataclass
class ScanOptions:
    """How to scan. The defaults are for a production cache that must not notice the scan."""

    count: int = 1000  # SCAN COUNT, and so roughly the keys per pipelined batch
    memory_sample: float = 0.1  # share of keys that get MEMORY USAGE; 1.0 = every key
    max_ops: int | None = 50_000  # commands per second, kept by pausing between batches; None = no limit
    max_keys: int | None = None  # stop (complete: false) after this many keys
    connect_timeout: float = 5.0  # per connection attempt, TLS handshake included
    # Each reply (each round trip's replies) must be in full this many seconds after the wait for
    # it began: a deadline, not an idle timer, so a server that trickles bytes cannot stretch it.
    read_timeout: float = 10.0
    # The whole scan's deadline in seconds (None: none); past it the scan ends with error_kind timeout.
    scan_timeout: float | None = None
    # None: default_allowed_hosts() (ADVISOR_SCAN_ALLOWED_HOSTS, else the Azure host suffixes)
    allowed_hosts: list[str] | None = None
    tls_ca_file: str | None = None  # a private CA for rediss:// (verification stays on)
    progress_interval: float = 1.0  # seconds between progress callbacks
    top_n: int = 5  # biggest keys kept per namespace
    examples: int = 3  # masked example keys kept per namespace
    max_patterns: int = 200  # inferred patterns reported for unmatched keys
    fullest_slots: int = 10
    slowlog_entries: int = 128
    # DRF016: sampled collections above this many elements (HLEN, SCARD, ZCARD, LLEN, XLEN) are
    # counted per namespace, and the `big_collections` largest of them listed in the report.
    max_elements: int = 10_000
    big_collections: int = 20
    environ: dict[str, str] | None = field(default=None, repr=False)  # for credentials; None = os.environ

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if not 0.0 <= self.memory_sample <= 1.0:
            raise ValueError("memory_sample must be between 0 and 1")
        if self.max_ops is not None and self.max_ops < 1:
            raise ValueError("max_ops must be >= 1 (or None for no limit)")
        if self.max_keys is not None and self.max_keys < 0:
            raise ValueError("max_keys must be >= 0")
        if not self.connect_timeout > 0 or not self.read_timeout > 0:
            raise ValueError("connect_timeout and read_timeout must be > 0 seconds")
        if self.scan_timeout is not None and not self.scan_timeout > 0:
            raise ValueError("scan_timeout must be > 0 seconds (or None for no limit)")
        if self.max_elements < 0 or self.big_collections < 0:
            raise ValueError("max_elements and big_collections must be >= 0")
        if self.allowed_hosts is not None:
            from advisor.core.scan.connect import validate_allowed_hosts

            self.allowed_hosts = validate_allowed_hosts(self.allowed_hosts, source="allowed_hosts")


class ScanProgress(BaseModel):
    """What a progress callback gets, about once per `progress_interval` and once at the end."""

    keys_scanned: int
    keys_total: int | None = Field(None, description="keys on the scanned nodes per INFO keyspace")
    nodes_done: int
    nodes_total: int
    node: str | None = None
    elapsed_s: float
    keys_per_s: float

    @property
    def fraction(self) -> float | None:
        if not self.keys_total:
            return None
        return min(1.0, self.keys_scanned / self.keys_total)
