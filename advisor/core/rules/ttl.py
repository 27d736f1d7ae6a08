"""TTL: expiration rules."""

from __future__ import annotations

from collections.abc import Iterable

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.rules.base import DesignContext, Rule, instance_target, namespace_target
from advisor.core.units import format_duration


def _namespaces_classified(ctx: DesignContext, classification: str) -> Iterable:
    return (ns for ns in ctx.design.namespaces if ns.classification == classification)


class TTL001(Rule):
    """A disposable cache namespace has no TTL.

    **Why it matters.** Expiration limits staleness and memory use. Using no TTL for disposable
    cache entries is a common mistake: entries stay until something deletes or evicts them, so
    stale data lives forever after a missed invalidation and memory fills with keys nobody reads.

    A hash whose fields expire one by one (`ttl.mode: per-field`, HEXPIRE) has an expiry too.

    **What to do instead.** Set a TTL that reflects how quickly the source changes and how much
    staleness is acceptable, with jitter for large key sets.

    **Bad**

    ```yaml
    classification: disposable
    ttl: {mode: none}
    ```

    **Good**

    ```yaml
    classification: disposable
    ttl: {mode: absolute, seconds: 600, jitter_seconds: 90}
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching>
    (expiration), <https://redis.io/docs/latest/commands/expire/>.
    """

    id = "TTL001"
    title = "Disposable cache without TTL"
    default_severity = Severity.high
    remediation = (
        "Give the namespace a TTL (`ttl: {mode: absolute, seconds: …, jitter_seconds: …}`) matched to how "
        "quickly the source data changes and how much staleness is acceptable."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in _namespaces_classified(ctx, "disposable"):
            if not ns.has_ttl:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Disposable namespace {ns.name} ({ns.cardinality:,} keys) has `ttl.mode: none`: "
                    "its entries never expire (neither the keys nor, per field, their hash fields).",
                )


class TTL002(Rule):
    """Many keys share an absolute TTL with no jitter, so keys written together expire together.

    **Why it matters.** When thousands of similar keys are written at once (a warm-up, a batch, a
    deployment) with the same fixed TTL, they all expire at the same instant and every request
    misses together: a cache stampede on the source. Random jitter spreads the expirations.

    **What to do instead.** Add `jitter_seconds` (a random extra lifetime per key, e.g. 10–20% of
    the TTL).

    **Bad**

    ```yaml
    cardinality: 500000
    ttl: {mode: absolute, seconds: 600, jitter_seconds: 0}
    ```

    **Good**

    ```yaml
    cardinality: 500000
    ttl: {mode: absolute, seconds: 600, jitter_seconds: 90}
    ```

    Only `absolute` TTLs: a `sliding` TTL is renewed on every access, so keys drift apart anyway.

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching>
    (expiration), <https://redis.io/docs/latest/commands/expire/>.

    Threshold: `TTL002.min_cardinality` (default 10,000 keys).
    """

    id = "TTL002"
    title = "Absolute TTL without jitter"
    default_severity = Severity.medium
    thresholds = {"TTL002.min_cardinality": 10000}

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        limit = ctx.threshold("TTL002.min_cardinality")
        for ns in ctx.design.namespaces:
            ttl = ns.ttl
            if ttl.mode == "absolute" and ns.cardinality >= limit and not ttl.jitter_seconds:
                yield self.finding(
                    namespace_target(ns.name),
                    f"{ns.cardinality:,} keys (at least {limit:,.0f}) share an absolute TTL of "
                    f"{ttl.seconds} s with no jitter: keys written together expire together.",
                    f"Set `jitter_seconds` to 10–20% of the TTL (e.g. {max(1, round(ttl.seconds * 0.15))} s for {ttl.seconds} s).",
                )


class TTL003(Rule):
    """A session namespace has no TTL.

    **Why it matters.** Centralised session expiration is one of the reasons to keep sessions in
    Redis. Without a TTL, abandoned sessions accumulate until memory pressure evicts something,
    possibly live sessions, and a stolen session identifier stays valid indefinitely.

    Expiring hash fields (`ttl.mode: per-field`) count as a TTL.

    **What to do instead.** Use a sliding TTL equal to the session idle timeout.

    **Bad**

    ```yaml
    classification: session
    ttl: {mode: none}
    ```

    **Good**

    ```yaml
    classification: session
    ttl: {mode: sliding, seconds: 1200}
    ```

    **Sources.** <https://learn.microsoft.com/aspnet/core/fundamentals/app-state> (the session idle
    timeout), <https://learn.microsoft.com/azure/architecture/best-practices/caching>.
    """

    id = "TTL003"
    title = "Session without TTL"
    default_severity = Severity.high
    remediation = (
        "Give sessions a sliding TTL equal to the idle timeout (e.g. `ttl: {mode: sliding, seconds: 1200}`)."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in _namespaces_classified(ctx, "session"):
            if not ns.has_ttl:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Session namespace {ns.name} has `ttl.mode: none`: abandoned sessions never expire.",
                )


class TTL004(Rule):
    """A session's TTL is longer than 24 hours.

    **Why it matters.** Sessions should be small and short-lived; a long session TTL keeps
    abandoned sessions in memory and keeps stolen session identifiers valid for days. Long-lived
    identity belongs in a signed authentication cookie or token, not in the Redis session record.

    With `ttl.mode: per-field`, the fields' TTL (`seconds`) is the one compared.

    **What to do instead.** Use an idle timeout in minutes or hours with a sliding TTL.

    **Bad**

    ```yaml
    classification: session
    ttl: {mode: sliding, seconds: 2592000}
    ```

    **Good**

    ```yaml
    classification: session
    ttl: {mode: sliding, seconds: 1800}
    ```

    **Sources.** <https://learn.microsoft.com/aspnet/core/fundamentals/app-state> (idle timeout),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching>.

    Threshold: `TTL004.max_seconds` (default 86,400 s = 24 h).
    """

    id = "TTL004"
    title = "Long session TTL"
    default_severity = Severity.low
    thresholds = {"TTL004.max_seconds": 86400}
    remediation = (
        "Shorten the session TTL to the idle timeout the application needs (minutes to hours), with "
        "sliding expiration; keep long-lived identity in a signed token."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        limit = ctx.threshold("TTL004.max_seconds")
        for ns in _namespaces_classified(ctx, "session"):
            if ns.has_ttl and ns.ttl.seconds > limit:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Session TTL is {ns.ttl.seconds:,} s ({format_duration(ns.ttl.seconds, parts=None)}), "
                    "above the limit of "
                    f"{limit:,.0f} s ({format_duration(limit, parts=None)}).",
                )


class TTL005(Rule):
    """A negative-cache namespace has no TTL, or one above 300 seconds.

    **Why it matters.** Negative caching stores the fact that an item was not found. It needs a
    short TTL: the item might be created soon, authorisation results can change, and long
    negative caching hides newly available data.

    With `ttl.mode: per-field`, the fields' TTL (`seconds`) is the one compared.

    **What to do instead.** Keep negative entries for seconds to a few minutes, with a distinct
    marker value.

    **Bad**

    ```yaml
    negative_cache: true
    ttl: {mode: absolute, seconds: 3600}
    ```

    **Good**

    ```yaml
    negative_cache: true
    ttl: {mode: absolute, seconds: 60, jitter_seconds: 10}
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching> (expiration
    and invalidation), <https://redis.io/docs/latest/commands/expire/>.

    Threshold: `TTL005.max_seconds` (default 300 s).
    """

    id = "TTL005"
    title = "Negative cache TTL too long"
    default_severity = Severity.medium
    thresholds = {"TTL005.max_seconds": 300}

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        limit = ctx.threshold("TTL005.max_seconds")
        fix = f"Give negative entries a short absolute TTL of at most {limit:,.0f} s (e.g. 60 s)."
        for ns in ctx.design.namespaces:
            if not ns.negative_cache:
                continue
            if not ns.has_ttl:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Negative-cache namespace {ns.name} has no TTL: a 'not found' is remembered forever.",
                    fix,
                )
            elif ns.ttl.seconds > limit:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Negative-cache TTL is {ns.ttl.seconds:,} s, above the limit of {limit:,.0f} s: newly "
                    "created items stay invisible that long.",
                    fix,
                )


class TTL006(Rule):
    """A coordination namespace (locks, leases, idempotency records) has no TTL.

    **Why it matters.** A distributed lock needs an atomic acquire *with expiration*: when the
    owner crashes, a lock without TTL is held forever and every other worker waits on it.
    Idempotency and deduplication records without TTL grow without bound.

    Expiring hash fields (`ttl.mode: per-field`, one field per lease) count as a TTL.

    **What to do instead.** Acquire with `SET key token NX PX <lease>`, give the namespace an
    absolute TTL equal to the lease, and handle work that outlives it.

    **Bad**

    ```yaml
    classification: coordination
    ttl: {mode: none}
    ```

    **Good**

    ```yaml
    classification: coordination
    ttl: {mode: absolute, seconds: 30}
    ```

    **Sources.** <https://redis.io/docs/latest/develop/clients/patterns/distributed-locks/>,
    <https://redis.io/docs/latest/commands/set/> (NX and PX).
    """

    id = "TTL006"
    title = "Lock or lease without TTL"
    default_severity = Severity.high
    remediation = (
        "Give coordination keys an absolute TTL equal to the lease (`SET key token NX PX …`), release only "
        "with the owner token, and plan for work that outlives the lease."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in _namespaces_classified(ctx, "coordination"):
            if not ns.has_ttl:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Coordination namespace {ns.name} has `ttl.mode: none`: a crashed owner holds its "
                    "lock or lease forever.",
                )


class TTL007(Rule):
    """The TTL jitter is larger than the TTL itself.

    **Why it matters.** Jitter should spread expirations around the intended lifetime, not
    dominate it; jitter above the TTL more than doubles the lifetime of some keys, so staleness
    and memory use are much higher than the declared TTL suggests. It is usually a unit mistake.

    Any mode with `seconds` counts: `absolute`, `sliding` and `per-field`.

    **What to do instead.** Keep jitter to a fraction of the TTL (10–20%).

    **Bad**

    ```yaml
    ttl: {mode: absolute, seconds: 60, jitter_seconds: 600}
    ```

    **Good**

    ```yaml
    ttl: {mode: absolute, seconds: 600, jitter_seconds: 60}
    ```

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching>
    (expiration), <https://redis.io/docs/latest/commands/expire/>.
    """

    id = "TTL007"
    title = "TTL jitter larger than TTL"
    default_severity = Severity.low
    remediation = "Reduce `jitter_seconds` to a fraction (10–20%) of `seconds`; check the units."

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            ttl = ns.ttl
            if ns.has_ttl and (ttl.jitter_seconds or 0) > ttl.seconds:
                yield self.finding(
                    namespace_target(ns.name),
                    f"`jitter_seconds` ({ttl.jitter_seconds:,}) is larger than `seconds` ({ttl.seconds:,}).",
                )


class TTL008(Rule):
    """Hash fields are meant to expire, but the instance's Redis cannot expire hash fields.

    **Why it matters.** `ttl.mode: per-field` means the hash's fields expire one by one (HEXPIRE,
    HPEXPIRE, HSETEX), which Redis offers from version 7.4 on. Azure Cache for Redis Basic,
    Standard and Premium run Redis 6, and Azure Cache for Redis Enterprise runs Redis 7.2: there
    the commands do not exist, the application's HEXPIRE calls fail (or were never written), and
    the fields never expire. Memory grows with every field ever written, and state that should
    lapse (a session's cart line, a lease) stays. Azure Managed Redis runs Redis 7.4. Self-hosted
    Redis is not checked: its version is not in the design.

    **What to do instead.** Run the namespace on Azure Managed Redis (which also retires the
    Azure Cache for Redis tier), or give every field its own key with an `absolute` or `sliding`
    TTL.

    **Bad**

    ```yaml
    instances:
      - {name: legacy, product: azure-cache-for-redis, tier: premium, ...}
    namespaces:
      - {name: cart-lines, instance: legacy, data_type: hash, ttl: {mode: per-field, seconds: 900}, ...}
    ```

    **Good**

    ```yaml
    instances:
      - {name: carts, product: azure-managed-redis, tier: balanced, ...}
    namespaces:
      - {name: cart-lines, instance: carts, data_type: hash, ttl: {mode: per-field, seconds: 900}, ...}
    ```

    **Sources.** <https://redis.io/docs/latest/commands/hexpire/> (available since 7.4.0). Redis
    versions: Azure Cache for Redis Basic/Standard/Premium 6 and Azure Managed Redis 7.4 in
    <https://learn.microsoft.com/azure/redis/migrate/migrate-basic-standard-premium-understand>;
    Azure Cache for Redis Enterprise 7.2 in
    <https://learn.microsoft.com/azure/redis/migrate/migrate-redis-enterprise-understand>.
    """

    id = "TTL008"
    title = "Per-field expiry on Redis without HEXPIRE"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            if ns.ttl.mode != "per-field":
                continue
            inst = ctx.instance_of(ns)
            if platform.supports_hash_field_expiration(inst) is not False:
                continue  # Redis 7.4+, or a version the catalog cannot tell (self-hosted)
            entry = platform.tier(inst.product, inst.tier)
            since = ".".join(str(n) for n in platform.HASH_FIELD_EXPIRATION_SINCE)
            yield self.finding(
                namespace_target(ns.name),
                f"{ns.name} expires hash fields one by one (`ttl.mode: per-field`, HEXPIRE), but instance "
                f"{inst.name} is {entry.title}, which runs Redis {entry.redis_version}: hash field expiration "
                f"needs Redis {since} or later, so the fields would never expire.",
                f"Move the namespace to Azure Managed Redis (Redis {_amr_redis_version()}), or store each field "
                "as its own key with an `absolute` or `sliding` TTL.",
                related=[instance_target(inst.name)],
            )


def _amr_redis_version() -> str:
    return platform.tiers(platform.AMR)[0].redis_version


RULES: list[Rule] = [TTL001(), TTL002(), TTL003(), TTL004(), TTL005(), TTL006(), TTL007(), TTL008()]
