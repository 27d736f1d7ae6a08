"""The sizing model: a rough, explainable memory estimate per namespace and instance.

It is deliberately simple (see docs/rules.md, "Sizing model") so that a person can redo the
arithmetic from the design file; INS007, EVI002 and the migration planner read it, and the UI
shows it.

Usable memory is `memory_gb` x 2^30 x (1 - reserved share). The share defaults to
`platform.RESERVED_SHARE` (0.2): Azure Managed Redis keeps about 20% of a size's memory for the
service, and Azure Cache for Redis reserves `maxmemory-reserved` plus
`maxfragmentationmemory-reserved`, 10% each by default (platform.AMR_MEMORY, platform.ACR_MEMORY).
A design overrides it with the threshold `INS007.reserved_share`; `DesignContext.sizing` passes the
effective value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from advisor.core import platform

if TYPE_CHECKING:
    from advisor.core.design import Design, Instance, Namespace
    from advisor.core.patterns import Pattern

KEY_OVERHEAD_BYTES = 64  # dictEntry, robj and allocator rounding, per key
TTL_OVERHEAD_BYTES = 32  # the entry in the expires dict
GIB = 2**30
RESERVED_SHARE = platform.RESERVED_SHARE
# The default share of memory left for data; kept for callers that size with the default reserve.
USABLE_SHARE = 1 - RESERVED_SHARE

PatternOf = Callable[["Namespace"], "Pattern"]


class NamespaceSizing(BaseModel):
    name: str
    cardinality: int
    key_bytes: int
    per_key_bytes: int
    memory_bytes: int
    has_ttl: bool  # the data expires: the keys, or the hash fields (per-field)
    key_has_ttl: bool  # the keys themselves expire, so a `volatile-*` policy can evict them


class InstanceSizing(BaseModel):
    instance: str
    memory_gb: float
    reserved_share: float
    usable_bytes: int
    namespaces: list[NamespaceSizing]
    total_bytes: int
    # total_bytes / usable_bytes. Finite for every design the model accepts: its limits keep usable
    # memory above 10 KB (0.001 GB less a reserve of at most 99%) and each namespace's estimate
    # below 2^98 bytes, nowhere near the 2^1024 where a float ends.
    usage_ratio: float
    without_ttl_bytes: int
    without_ttl_share: float  # share of total_bytes held by namespaces without TTL; 0 when empty
    # Namespaces whose keys carry no TTL (mode none, and per-field hashes whose fields expire but whose
    # keys never do): what a `volatile-*` policy cannot evict.
    without_key_ttl_bytes: int
    without_key_ttl_share: float


def _parse(ns: Namespace) -> Pattern:
    from advisor.core.patterns import parse_pattern

    return parse_pattern(ns.pattern)


def namespace_sizing(ns: Namespace, pattern: Pattern | None = None) -> NamespaceSizing:
    pattern = pattern if pattern is not None else _parse(ns)
    key_bytes = pattern.key_bytes_estimate()
    has_ttl = ns.has_ttl
    per_key = key_bytes + ns.value_bytes.typical + KEY_OVERHEAD_BYTES + (TTL_OVERHEAD_BYTES if has_ttl else 0)
    return NamespaceSizing(
        name=ns.name,
        cardinality=ns.cardinality,
        key_bytes=key_bytes,
        per_key_bytes=per_key,
        memory_bytes=ns.cardinality * per_key,
        has_ttl=has_ttl,
        key_has_ttl=ns.key_has_ttl,
    )


def namespace_memory_bytes(ns: Namespace, pattern: Pattern | None = None) -> int:
    """cardinality × (key bytes + typical value + 64, + 32 with a TTL)."""
    return namespace_sizing(ns, pattern).memory_bytes


def usable_bytes(instance: Instance, *, reserved_share: float = RESERVED_SHARE) -> int:
    """memory_gb x 2^30 x (1 - reserved_share): what is left for data once the service's reserve is kept."""
    return platform.usable_bytes(instance.memory_gb, reserved_share)


def _sizing(
    instance: Instance, namespaces: list[Namespace], pattern_of: PatternOf, reserved_share: float
) -> InstanceSizing:
    per_ns = [namespace_sizing(ns, pattern_of(ns)) for ns in namespaces]
    total = sum(s.memory_bytes for s in per_ns)
    without_ttl = sum(s.memory_bytes for s in per_ns if not s.has_ttl)
    without_key_ttl = sum(s.memory_bytes for s in per_ns if not s.key_has_ttl)
    usable = usable_bytes(instance, reserved_share=reserved_share)
    if usable > 0:
        ratio = total / usable
    else:  # a reserve of 100% or more leaves nothing: any data overfills the instance
        ratio = float("inf") if total else 0.0
    return InstanceSizing(
        instance=instance.name,
        memory_gb=instance.memory_gb,
        reserved_share=reserved_share,
        usable_bytes=usable,
        namespaces=per_ns,
        total_bytes=total,
        usage_ratio=ratio,
        without_ttl_bytes=without_ttl,
        without_ttl_share=without_ttl / total if total else 0.0,
        without_key_ttl_bytes=without_key_ttl,
        without_key_ttl_share=without_key_ttl / total if total else 0.0,
    )


def instance_sizing(
    design: Design,
    instance_name: str,
    *,
    pattern_of: PatternOf | None = None,
    reserved_share: float = RESERVED_SHARE,
) -> InstanceSizing:
    instance = next(i for i in design.instances if i.name == instance_name)
    namespaces = [ns for ns in design.namespaces if ns.instance == instance_name]
    return _sizing(instance, namespaces, pattern_of or _parse, reserved_share)


def design_sizing(
    design: Design, *, pattern_of: PatternOf | None = None, reserved_share: float = RESERVED_SHARE
) -> dict[str, InstanceSizing]:
    """Sizing of every instance of the design, by instance name."""
    grouped: dict[str, list[Namespace]] = {inst.name: [] for inst in design.instances}
    for ns in design.namespaces:
        grouped.setdefault(ns.instance, []).append(ns)
    return {
        inst.name: _sizing(inst, grouped[inst.name], pattern_of or _parse, reserved_share)
        for inst in design.instances
    }
