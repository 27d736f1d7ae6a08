"""VAL: value size, shape and content rules."""

from __future__ import annotations

from collections.abc import Iterable

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.rules.base import DesignContext, Rule, instance_target, namespace_target
from advisor.core.units import format_bytes

KIB = 1024
MIB = 1024 * 1024


def _size(n: float) -> str:
    """The shared formatter's figure, with the exact count beside it: 1.5 KiB (1,536 bytes)."""
    return f"{format_bytes(n)} ({n:,.0f} bytes)" if n >= KIB else f"{n:,.0f} bytes"


class VAL001(Rule):
    """Values can be very large (over 100 KiB by default; high over 1 MiB).

    **Why it matters.** Redis is fast but not immune to timeouts: large values increase
    serialization cost, memory use, network time, failover and replication work, and tail latency
    for every other client of the shard. Measure serialized size, not in-memory object size.

    **What to do instead.** Keep values small: split a large object into a hash or several keys
    read on demand, compress it, or keep the payload in blob storage and cache a reference.

    **Bad**

    ```yaml
    value_bytes: {typical: 200000, max: 5000000}
    ```

    **Good**

    ```yaml
    value_bytes: {typical: 4096, max: 65536}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-development> and
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-development> (more
    keys and smaller values; large requests and responses cause timeouts).

    Thresholds: `VAL001.max_bytes` (default 102,400 = 100 KiB, medium) and `VAL001.high_bytes`
    (default 1,048,576 = 1 MiB, high).
    """

    id = "VAL001"
    title = "Large values"
    default_severity = Severity.medium
    thresholds = {"VAL001.max_bytes": 100 * KIB, "VAL001.high_bytes": MIB}
    remediation = (
        "Keep values small: split large objects into a hash or separate keys, compress them, or keep the "
        "payload in blob storage and cache a reference."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        medium = ctx.threshold("VAL001.max_bytes")
        high = ctx.threshold("VAL001.high_bytes")
        for ns in ctx.design.namespaces:
            largest = ns.value_bytes.max
            if largest > high:
                severity, limit = Severity.high, high
            elif largest > medium:
                severity, limit = Severity.medium, medium
            else:
                continue
            yield self.finding(
                namespace_target(ns.name),
                f"Values of {ns.name} reach {_size(largest)}, above {_size(limit)}.",
                severity=severity,
            )


class VAL002(Rule):
    """Session values are large (typical value over 16 KiB by default).

    **Why it matters.** Sessions are read on every session-enabled request, so large sessions
    increase memory and network cost and latency everywhere. Keep sessions small and avoid storing
    the complete user profile, authorisation policy or large shopping carts in them.

    **What to do instead.** Keep identifiers and small state in the session; load the profile,
    permissions or cart from their own store (or their own cache namespace) when needed.

    **Bad**

    ```yaml
    classification: session
    value_bytes: {typical: 65536, max: 262144}
    ```

    **Good**

    ```yaml
    classification: session
    value_bytes: {typical: 2048, max: 8192}
    ```

    **Sources.** <https://learn.microsoft.com/aspnet/core/fundamentals/app-state> (session state),
    <https://learn.microsoft.com/azure/redis/best-practices-development> (smaller values).

    Threshold: `VAL002.max_bytes` (default 16,384 = 16 KiB).
    """

    id = "VAL002"
    title = "Large sessions"
    default_severity = Severity.medium
    thresholds = {"VAL002.max_bytes": 16 * KIB}
    remediation = (
        "Keep only identifiers and small state in the session; load profiles, permissions and carts from "
        "their own store when needed."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        limit = ctx.threshold("VAL002.max_bytes")
        for ns in ctx.design.namespaces:
            if ns.classification == "session" and ns.value_bytes.typical > limit:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Typical session value is {_size(ns.value_bytes.typical)}, above {_size(limit)}.",
                )


_CONTENT = {
    "credentials": (
        Severity.high,
        "passwords or other credentials",
        "Never cache credentials: keep them in a secret store (Key Vault) and cache at most a non-secret "
        "reference.",
    ),
    "payment": (
        Severity.high,
        "raw payment data",
        "Do not cache raw payment data: keep it in the payment provider or the PCI-scoped store and cache "
        "only an opaque token or reference.",
    ),
    "tokens": (
        Severity.medium,
        "tokens",
        "Cache only short-lived tokens, with a TTL no longer than the token's own lifetime, encrypted, on an "
        "instance with restricted access; never long-lived tokens.",
    ),
    "pii": (
        Severity.medium,
        "personal data",
        "Classify the namespace `confidential` or `restricted` and apply its encryption, retention and access "
        "design, or keep the personal data out of the cache.",
    ),
}


class VAL003(Rule):
    """The namespace stores data that should not sit in a cache, or personal data classified too low.

    **Why it matters.** Do not store passwords, long-lived tokens, raw payment data, or sensitive
    personal information without a clear encryption, retention and access design. Redis keys,
    values, logs and diagnostic tooling all require data-classification review, and a cache is
    usually less protected and less audited than the system of record.

    Severity by content: `credentials` or `payment` high; `tokens` medium; `pii` medium when the
    namespace is classified `public` or `internal`. One finding per kind of content.

    **What to do instead.** Keep secrets in a secret store and payment data with the payment
    provider; cache references. Classify personal data `confidential` or `restricted`.

    **Bad**

    ```yaml
    contains: [pii]
    data_classification: internal
    ```

    **Good**

    ```yaml
    contains: [pii]
    data_classification: confidential
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching> (security
    considerations for cached data),
    <https://learn.microsoft.com/azure/redis/entra-for-authentication> (access to the data).
    """

    id = "VAL003"
    title = "Sensitive data in cache"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            for kind in ns.contains:
                severity, what, fix = _CONTENT[kind]
                if kind == "pii":
                    if ns.data_classification not in ("public", "internal"):
                        continue
                    message = (
                        f"{ns.name} contains {what} but is classified `{ns.data_classification}`: personal "
                        "data needs at least `confidential`."
                    )
                else:
                    message = f"{ns.name} lists `{kind}` in `contains`: {what} should not sit in a cache."
                yield self.finding(namespace_target(ns.name), message, fix, severity=severity)


class VAL004(Rule):
    """A large serialized object is rewritten whole on every small update.

    **Why it matters.** Avoid storing one large serialized object when the application frequently
    updates only a small field: every write sends and re-serializes the whole value, and
    concurrent writers overwrite each other's changes. A hash stores the fields separately and
    updates one with `HSET`.

    The rule fires for `data_type: string` with a typical value over 4 KiB and writes at least 20%
    of the namespace's operations.

    **What to do instead.** Store the object as a hash (or RedisJSON) and update the changed
    fields only.

    **Bad**

    ```yaml
    data_type: string
    value_bytes: {typical: 12000, max: 40000}
    ops_per_sec: {reads: 100, writes: 80}
    ```

    **Good**

    ```yaml
    data_type: hash
    value_bytes: {typical: 12000, max: 40000}
    ops_per_sec: {reads: 100, writes: 80}
    ```

    **Sources.** <https://redis.io/docs/latest/develop/data-types/hashes/>,
    <https://learn.microsoft.com/azure/redis/best-practices-development> (more keys and smaller
    values).
    """

    id = "VAL004"
    title = "Large string rewritten on updates"
    default_severity = Severity.low
    remediation = "Store the object as a hash (or JSON) and update only the fields that change."

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            if ns.data_type != "string" or ns.value_bytes.typical <= 4 * KIB:
                continue
            reads, writes = ns.ops_per_sec.reads, ns.ops_per_sec.writes
            total = reads + writes
            if total > 0 and writes / total >= 0.2:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Typical string value is {_size(ns.value_bytes.typical)}, over 4 KiB, and writes are "
                    f"{writes / total:.0%} of its ops ({writes:,.0f} of {total:,.0f} ops/s, at least 20%): each "
                    "update rewrites the whole object.",
                )


class VAL005(Rule):
    """Values on a Flash tier are too large to be kept on flash.

    **Why it matters.** Flash tiers (Azure Managed Redis Flash Optimized, Azure Cache for Redis
    Enterprise Flash) keep keys in RAM and move values of cold keys to NVMe flash, which is what
    makes them cheap for large datasets. Microsoft's guidance is to keep value sizes under 512 KB:
    larger values are kept in RAM instead of on flash, so they take the scarce, expensive memory
    the tier was meant to save, and the RAM/flash ratio the size was chosen for no longer holds.

    **What to do instead.** Keep each value under 512 KiB: split a large object into a hash or
    several keys read on demand, compress it, or keep the payload in blob storage and cache a
    reference. If the values must be this large, size the instance on a RAM tier.

    **Bad**

    ```yaml
    tier: flash-optimized
    value_bytes: {typical: 65536, max: 2097152}
    ```

    **Good**

    ```yaml
    tier: flash-optimized
    value_bytes: {typical: 65536, max: 262144}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-flash-optimized> (keep
    value sizes under 512 KB), <https://learn.microsoft.com/azure/redis/flash-optimized-overview>.

    Threshold: `VAL005.max_bytes` (default 524,288 = 512 KiB).
    """

    id = "VAL005"
    title = "Values too large for flash"
    default_severity = Severity.medium
    thresholds = {"VAL005.max_bytes": 512 * KIB}
    remediation = (
        "Keep each value under the limit: split large objects into a hash or separate keys, compress them, or "
        "keep the payload in blob storage and cache a reference; otherwise size the instance on a RAM tier."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        limit = ctx.threshold("VAL005.max_bytes")
        for ns in ctx.design.namespaces:
            inst = ctx.instance_of(ns)
            entry = platform.tier(inst.product, inst.tier)
            if entry is None or not entry.flash or ns.value_bytes.max <= limit:
                continue
            yield self.finding(
                namespace_target(ns.name),
                f"Values of {ns.name} reach {_size(ns.value_bytes.max)}, above {_size(limit)}, on {entry.title} "
                f"instance {inst.name}: values that large are kept in RAM, not on flash.",
                related=[instance_target(inst.name)],
            )


RULES: list[Rule] = [VAL001(), VAL002(), VAL003(), VAL004(), VAL005()]
