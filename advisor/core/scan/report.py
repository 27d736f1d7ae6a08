"""The scan report: exactly the scan JSON of design-file.md section 6, plus extra fields.

Contract fields (never renamed or dropped): instance, status, started_at, finished_at,
duration_s, keys_scanned, complete, namespaces[{name, keys, without_ttl, types, memory_bytes,
memory_estimated, ttl_seconds{min, p50, max}}], unmatched{keys, patterns[{pattern, keys,
example}]}, server{redis_version, maxmemory_policy, used_memory, evicted_keys, hit_ratio},
findings. Everything else is an addition. Key names appear only masked (`masking.mask_key`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from advisor.core.findings import Finding

ScanStatus = Literal["completed", "failed", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TtlSeconds(_Model):
    min: int | None = None
    p50: int | None = None
    max: int | None = None
    p90: int | None = None
    p99: int | None = None


class TtlBucket(_Model):
    le_seconds: float | None  # upper bound of the bucket; None for the last, open one
    keys: int


class BiggestKey(_Model):
    key: str  # masked
    memory_bytes: int
    type: str


class NamespaceReport(_Model):
    name: str
    keys: int
    without_ttl: int
    types: dict[str, int]
    memory_bytes: int
    memory_estimated: bool
    ttl_seconds: TtlSeconds
    # additions
    memory_sampled_keys: int = 0
    ttl_above_design: int = 0  # keys with a remaining TTL above the design's seconds + jitter (+1 s)
    ttl_limit_seconds: float | None = None
    oversized_keys: int = 0  # sampled keys above value_bytes.max plus overhead
    memory_limit_bytes: int | None = None
    biggest_keys: list[BiggestKey] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    personal_data: dict[str, int] = Field(default_factory=dict)  # kind -> keys
    personal_data_example: str | None = None
    ttl_histogram: list[TtlBucket] = Field(default_factory=list)
    without_ttl_types: dict[str, int] = Field(default_factory=dict)  # type -> keys without a key TTL
    collections_counted: int = 0  # sampled collections whose elements were counted (HLEN, SCARD, ...)
    collections_above_limit: int = 0  # ... with more than the scan's elements_limit


class InferredPattern(_Model):
    pattern: str
    keys: int
    example: str | None
    # addition: a namespace entry of the design file drawn from what the scan measured of the
    # family (typed placeholders, dominant type, TTL, value sizes, cardinality, personal data);
    # `team` is left for the author. None in reports stored before drafts existed.
    draft: dict | None = None


class UnmatchedReport(_Model):
    keys: int = 0
    patterns: list[InferredPattern] = Field(default_factory=list)
    # additions
    other_keys: int = 0  # keys of inferred patterns beyond the ones listed
    without_ttl: int = 0
    types: dict[str, int] = Field(default_factory=dict)
    memory_bytes: int = 0
    memory_estimated: bool = False
    personal_data: dict[str, int] = Field(default_factory=dict)
    personal_data_example: str | None = None
    biggest_keys: list[BiggestKey] = Field(default_factory=list)
    collections_counted: int = 0
    collections_above_limit: int = 0


class BigCollection(_Model):
    key: str  # masked
    type: str
    elements: int
    namespace: str | None = None  # None: the key matches no registered namespace


class UnreadableFact(_Model):
    """A command the server refused, so a fact the report lacks (or took from elsewhere)."""

    command: str  # "CONFIG GET", "SLOWLOG GET", "MEMORY USAGE", "HLEN", ...
    fact: str  # what is missing, for people
    reason: str  # the server's refusal, with any quoted arguments cut off
    nodes: list[str] = Field(default_factory=list)  # host:port of the nodes that refused


class ServerFacts(_Model):
    redis_version: str | None = None
    maxmemory_policy: str | None = None
    used_memory: int | None = None
    evicted_keys: int | None = None
    hit_ratio: float | None = None
    # additions
    maxmemory_policy_source: str | None = None  # "config" (CONFIG GET) or "info" (INFO memory)
    maxmemory_policy_error: str | None = None  # why CONFIG GET gave nothing
    maxmemory: int | None = None
    mem_fragmentation_ratio: float | None = None
    expired_keys: int | None = None
    keyspace_hits: int | None = None
    keyspace_misses: int | None = None
    connected_clients: int | None = None  # the most on any one node
    rejected_connections: int | None = None
    cluster_enabled: bool = False
    nodes: int = 1
    # Keys per database index that holds any (INFO keyspace), summed over the nodes.
    keyspace: dict[str, int] = Field(default_factory=dict)
    # CONFIG GET notify-keyspace-events ("" when off); None when CONFIG is refused.
    notify_keyspace_events: str | None = None


class SlowlogCommand(_Model):
    command: str
    count: int
    total_us: int
    max_us: int


class SlowlogSummary(_Model):
    entries: int = 0
    commands: list[SlowlogCommand] = Field(default_factory=list)
    error: str | None = None


class ShardReport(_Model):
    node: str  # host:port
    node_id: str | None = None
    slots: int | None = None
    keys: int = 0  # keys scanned on this node
    keys_total: int | None = None  # keys on the node per INFO keyspace
    used_memory: int | None = None
    complete: bool = False
    error: str | None = None


class SlotCount(_Model):
    slot: int
    keys: int


class ScanReport(_Model):
    instance: str
    status: ScanStatus
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_s: float
    keys_scanned: int
    complete: bool
    namespaces: list[NamespaceReport] = Field(default_factory=list)
    unmatched: UnmatchedReport = Field(default_factory=UnmatchedReport)
    server: ServerFacts = Field(default_factory=ServerFacts)
    findings: list[Finding] = Field(default_factory=list)
    # additions
    error: str | None = None  # one line: why the scan failed or stopped short
    error_kind: str | None = None
    memory_sampled: bool = True  # MEMORY USAGE ran on a sample only: memory figures are estimates
    memory_sample_rate: float = 0.1
    memory_sampled_keys: int = 0
    keys_vanished: int = 0  # returned by SCAN, deleted before TYPE
    keys_total: int | None = None  # keys on the scanned nodes per INFO keyspace (when the scan began)
    clustered: bool = False
    shards: list[ShardReport] = Field(default_factory=list)
    fullest_slots: list[SlotCount] = Field(default_factory=list)
    slowlog: SlowlogSummary = Field(default_factory=SlowlogSummary)
    ops_sent: int = 0
    paused_s: float = 0.0  # time spent pausing for the ops budget
    notes: list[str] = Field(default_factory=list)
    unreadable_facts: list[UnreadableFact] = Field(default_factory=list)
    elements_limit: int | None = None  # collections above this many elements were counted (DRF016)
    big_collections: list[BigCollection] = Field(default_factory=list)  # the largest above it, at most 20

    @classmethod
    def failed(cls, instance: str, error: Exception, *, started_at: dt.datetime | None = None) -> ScanReport:
        """The report of a scan that failed before reading anything (unreachable, auth, ...)."""
        now = dt.datetime.now(dt.UTC)
        started = started_at or now
        return cls(
            instance=instance,
            status="failed",
            started_at=started,
            finished_at=now,
            duration_s=round((now - started).total_seconds(), 3),
            keys_scanned=0,
            complete=False,
            error=getattr(error, "reason", None) or str(error),
            error_kind=getattr(error, "kind", None),
        )

    def namespace(self, name: str) -> NamespaceReport | None:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        return None

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)
