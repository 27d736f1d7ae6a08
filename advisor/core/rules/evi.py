"""EVI: eviction and workload separation rules."""

from __future__ import annotations

from collections.abc import Iterable

from advisor.core.findings import Finding, Severity
from advisor.core.keyspace import ENVIRONMENT_WORDS, pattern_environment_word
from advisor.core.rules.base import DesignContext, Rule, instance_target, namespace_target
from advisor.core.units import format_bytes

# Classifications whose keys must not disappear just because memory is full.
STATEFUL = ("session", "coordination", "durable")


def _names(namespaces: Iterable) -> str:
    return ", ".join(ns.name for ns in namespaces)


def _targets(namespaces: Iterable) -> list[str]:
    return [namespace_target(ns.name) for ns in namespaces]


class EVI001(Rule):
    """A session, coordination or durable namespace lives on an instance that evicts any key.

    **Why it matters.** With an `allkeys-*` policy, Redis evicts whatever key the policy picks
    once memory is full, including sessions (users are logged out, workflow state is lost), locks
    and idempotency records (duplicate work) and durable state (data loss). A pure read cache can
    use an all-keys policy; a mixed cache containing sessions or coordination records cannot.

    **What to do instead.** Move the stateful namespace to an instance of its own with
    `noeviction`, sized (and alerted on) so that it never fills, and keep the disposable cache on
    the `allkeys-*` instance. A policy that evicts only keys with a TTL is no fix: sessions, locks
    and leases carry TTLs, so they are evicted just the same once memory is full (EVI007).

    **Bad**

    ```yaml
    instances:
      - {name: shared-cache, eviction_policy: allkeys-lru, ...}
    namespaces:
      - {name: sessions, instance: shared-cache, classification: session, ...}
    ```

    **Good**

    ```yaml
    instances:
      - {name: shared-cache, eviction_policy: allkeys-lru, ...}   # the cache only
      - {name: session-store, eviction_policy: noeviction, ...}   # sized for the sessions
    namespaces:
      - {name: sessions, instance: session-store, classification: session, ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> and
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    (eviction policies), <https://redis.io/docs/latest/develop/reference/eviction/>.
    """

    id = "EVI001"
    title = "Stateful namespace on an all-keys eviction instance"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if not inst.eviction_policy.startswith("allkeys-"):
                continue
            for ns in ctx.namespaces_on(inst.name):
                if ns.classification in STATEFUL:
                    yield self.finding(
                        namespace_target(ns.name),
                        f"{ns.classification.capitalize()} namespace {ns.name} is on instance {inst.name} "
                        f"whose policy `{inst.eviction_policy}` may evict any of its keys under memory pressure.",
                        f"Move {ns.name} to an instance of its own with `noeviction`, sized and alerted on so "
                        "that it never fills, and keep the disposable cache entries on this `allkeys-*` "
                        "instance.",
                        related=[instance_target(inst.name)],
                    )


class EVI002(Rule):
    """Most of a `volatile-*` instance's memory is held by keys without TTL, which it cannot evict.

    **Why it matters.** `volatile-*` policies only evict keys that have an expiration. When
    namespaces without TTL account for most of the memory, eviction can free little: the instance
    runs out of memory and writes fail (OOM errors) even though the policy says it evicts. A hash
    whose fields expire (`ttl.mode: per-field`) counts as without TTL here: its key has none, so
    the policy cannot evict it.

    **What to do instead.** Give the disposable namespaces TTLs, or move the no-TTL state to an
    instance of its own, sized for it.

    **Bad**

    ```yaml
    eviction_policy: volatile-lru
    # 8 GiB of durable keys with ttl.mode none, 1 GiB of cache with a TTL
    ```

    **Good**

    ```yaml
    instances:
      - {name: cache, eviction_policy: allkeys-lru, ...}        # the 1 GiB of cache
      - {name: ledger-store, eviction_policy: noeviction, ...}  # the 8 GiB of durable keys, sized for them
    ```

    Estimates come from the sizing model (cardinality × (key + typical value + overhead)).

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> and
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    (eviction policies), <https://redis.io/docs/latest/develop/reference/eviction/>.
    """

    id = "EVI002"
    title = "Volatile eviction with mostly non-expiring keys"
    default_severity = Severity.medium
    remediation = (
        "Give the no-TTL namespaces a TTL where they are disposable, or move the no-TTL state to its own "
        "instance sized for it (with `noeviction`)."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if not inst.eviction_policy.startswith("volatile-"):
                continue
            sizing = ctx.sizing[inst.name]
            if sizing.without_key_ttl_share > 0.5:
                no_ttl = [ns for ns in ctx.namespaces_on(inst.name) if not ns.key_has_ttl]
                per_field = [ns for ns in no_ttl if ns.ttl.mode == "per-field"]
                note = (
                    f"; {_names(per_field)} expire{'s' if len(per_field) == 1 else ''} hash fields, not keys"
                    if per_field
                    else ""
                )
                yield self.finding(
                    instance_target(inst.name),
                    f"Namespaces whose keys have no TTL ({_names(no_ttl)}{note}) hold an estimated "
                    f"{format_bytes(sizing.without_key_ttl_bytes)} of {format_bytes(sizing.total_bytes)} "
                    f"({sizing.without_key_ttl_share:.0%}, more than 50%) on instance {inst.name}, whose policy "
                    f"`{inst.eviction_policy}` can only evict keys with a TTL.",
                    related=_targets(no_ttl),
                )


class EVI003(Rule):
    """A `noeviction` instance hosts disposable cache entries.

    **Why it matters.** With `noeviction`, a full instance rejects writes instead of dropping keys.
    For a cache that is the wrong trade: the application gets errors on writes (often on the
    request path) when it could have lost a few cache entries that it can rebuild.

    **What to do instead.** Give the disposable cache a separate instance with an `allkeys-lru` or
    `allkeys-lfu` policy (or switch this instance to `allkeys-*` if it holds nothing but cache),
    and keep `noeviction` for the state. A policy that evicts only keys with a TTL is no fix for a
    mixed instance: sessions, locks and leases carry TTLs and would be evicted along with the cache
    (EVI007).

    **Bad**

    ```yaml
    instances:
      - {name: state, eviction_policy: noeviction, ...}
    namespaces:
      - {name: product-cache, instance: state, classification: disposable, ...}
    ```

    **Good**

    ```yaml
    instances:
      - {name: state, eviction_policy: noeviction, ...}
      - {name: cache, eviction_policy: allkeys-lru, ...}
    namespaces:
      - {name: product-cache, instance: cache, classification: disposable, ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> and
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    (eviction policies), <https://redis.io/docs/latest/develop/reference/eviction/>.
    """

    id = "EVI003"
    title = "Disposable cache on a no-eviction instance"
    default_severity = Severity.medium

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if inst.eviction_policy != "noeviction":
                continue
            hosted = ctx.namespaces_on(inst.name)
            disposable = [ns for ns in hosted if ns.classification == "disposable"]
            if not disposable:
                continue
            others = [ns for ns in hosted if ns.classification != "disposable"]
            if others:
                fix = (
                    f"Move {_names(disposable)} to a separate cache instance with `allkeys-lru` or `allkeys-lfu` "
                    f"and keep {inst.name} on `noeviction` for {_names(others)}: any evicting policy here would "
                    "also drop its keys with TTLs (sessions, locks, leases) along with the cache."
                )
            else:
                fix = (
                    f"{inst.name} holds only cache entries: switch it to `allkeys-lru` or `allkeys-lfu`, so that "
                    "a full instance drops the least useful entries instead of failing writes."
                )
            yield self.finding(
                instance_target(inst.name),
                f"Instance {inst.name} uses `noeviction` and hosts {len(disposable)} disposable "
                f"namespace(s) ({_names(disposable)}): under memory pressure writes fail instead of "
                "dropping cache entries.",
                fix,
                related=_targets(disposable),
            )


class EVI004(Rule):
    """Namespaces of different environments share one instance.

    **Why it matters.** Environment separation is the first thing key design supports. When
    `staging:` or `dev:` keys live on a prod instance, non-production code can read, overwrite or
    flush production data, load tests hit production capacity, and access rules cannot differ.

    **What to do instead.** Give every environment its own instance.

    **Sources.** <https://learn.microsoft.com/azure/architecture/best-practices/caching> (security
    and isolation of a shared cache).

    **Bad**

    ```yaml
    instances:
      - {name: prod-cache, environment: prod, ...}
    namespaces:
      - {name: staging-carts, instance: prod-cache, pattern: "staging:checkout:cart:v1:<id:int>", ...}
    ```

    **Good**

    ```yaml
    instances:
      - {name: staging-cache, environment: staging, ...}
    namespaces:
      - {name: staging-carts, instance: staging-cache, pattern: "staging:checkout:cart:v1:<id:int>", ...}
    ```
    """

    id = "EVI004"
    title = "Environments share an instance"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            foreign = []
            for ns in ctx.namespaces_on(inst.name):
                word = pattern_environment_word(ctx.pattern(ns))
                if word is not None and ENVIRONMENT_WORDS[word] != inst.environment:
                    foreign.append((ns, ENVIRONMENT_WORDS[word]))
            if foreign:
                listed = ", ".join(f"{ns.name} ({env})" for ns, env in foreign)
                envs = sorted({env for _, env in foreign})
                yield self.finding(
                    instance_target(inst.name),
                    f"{inst.environment.capitalize()} instance {inst.name} hosts namespaces of other "
                    f"environments: {listed}.",
                    f"Move the {'/'.join(envs)} namespaces to {'/'.join(envs)} instances; keep one environment "
                    "per instance.",
                    related=_targets(ns for ns, _ in foreign),
                )


class EVI005(Rule):
    """Restricted data shares an instance with another team's public or internal data.

    **Why it matters.** A secure design uses separate instances for different trust boundaries.
    Everyone who can reach the instance (the other team's services, its access keys, its
    diagnostics) can read every key on it, so restricted data is only as protected as the least
    protected namespace beside it.

    **What to do instead.** Give restricted namespaces an instance of their own (or shared only
    with namespaces of the same owner and classification), with least-privilege access. On Azure
    Managed Redis this is the only boundary: every Entra ID principal with data access gets all of
    it, there are no per-user access policies.

    **Sources.** <https://learn.microsoft.com/azure/redis/entra-for-authentication> (Azure Managed
    Redis data access), <https://learn.microsoft.com/azure/architecture/best-practices/caching>
    (security).

    **Bad**

    ```yaml
    - {name: kyc-documents, team: identity, instance: shared, data_classification: restricted, ...}
    - {name: product-cache, team: catalog, instance: shared, data_classification: public, ...}
    ```

    **Good**

    ```yaml
    - {name: kyc-documents, team: identity, instance: identity-restricted, data_classification: restricted, ...}
    - {name: product-cache, team: catalog, instance: shared, data_classification: public, ...}
    ```
    """

    id = "EVI005"
    title = "Trust boundaries share an instance"
    default_severity = Severity.high
    remediation = (
        "Move the restricted namespaces to an instance of their own with least-privilege access, separate "
        "from other teams' public and internal data."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            hosted = ctx.namespaces_on(inst.name)
            restricted = [ns for ns in hosted if ns.data_classification == "restricted"]
            if not restricted:
                continue
            # Listed per side rather than per pair: a shared instance can hold dozens of each.
            exposed = [r for r in restricted if any(_exposes(r, other) for other in hosted)]
            if not exposed:
                continue
            others = [o for o in hosted if any(_exposes(r, o) for r in exposed)]
            yield self.finding(
                instance_target(inst.name),
                f"Instance {inst.name} mixes trust boundaries: restricted "
                f"{', '.join(f'{r.name} (team {r.team})' for r in exposed)} beside other teams' "
                f"{', '.join(f'{o.name} ({o.data_classification}, team {o.team})' for o in others)}.",
                related=_targets([*exposed, *others]),
            )


def _exposes(restricted, other) -> bool:
    return other.team != restricted.team and other.data_classification in ("public", "internal")


class EVI006(Rule):
    """Disposable cache entries and durable state share one instance.

    **Why it matters.** Their needs conflict: a cache wants an eviction policy and no persistence;
    durable state wants no eviction and persistence. Whatever the instance is configured for, one
    of them is served badly, and a cache flush or an instance replacement for the cache's sake
    loses the state.

    **What to do instead.** Separate workloads whose durability and eviction requirements conflict
    into different instances.

    **Sources.** <https://learn.microsoft.com/azure/redis/how-to-persistence> (persistence),
    <https://learn.microsoft.com/azure/redis/best-practices-memory-management> (eviction).

    **Bad**

    ```yaml
    - {name: product-cache, instance: shared, classification: disposable, ...}
    - {name: ledger, instance: shared, classification: durable, ...}
    ```

    **Good**

    ```yaml
    - {name: product-cache, instance: cache, classification: disposable, ...}
    - {name: ledger, instance: state-store, classification: durable, ...}
    ```
    """

    id = "EVI006"
    title = "Disposable and durable data share an instance"
    default_severity = Severity.medium
    remediation = (
        "Move the durable namespaces to an instance configured for them (persistence, no eviction) and keep "
        "the cache on an evicting instance without persistence."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            hosted = ctx.namespaces_on(inst.name)
            disposable = [ns for ns in hosted if ns.classification == "disposable"]
            durable = [ns for ns in hosted if ns.classification == "durable"]
            if disposable and durable:
                yield self.finding(
                    instance_target(inst.name),
                    f"Instance {inst.name} hosts disposable ({_names(disposable)}) and durable "
                    f"({_names(durable)}) namespaces, whose durability and eviction needs conflict.",
                    related=_targets([*disposable, *durable]),
                )


class EVI007(Rule):
    """A `volatile-*` instance mixes cache entries with sessions, locks or state that carry TTLs.

    **Why it matters.** A `volatile-*` policy evicts any key with a TTL, not just the cache's.
    Sessions (sliding TTL), locks and leases (absolute TTL) and durable records with a TTL are all
    candidates; under memory pressure they are evicted together with the cache entries: users are
    logged out, a lock vanishes while its owner still works, an idempotency record is lost and the
    work runs twice. Stateful keys without a TTL are safe from `volatile-*`, and so are hashes
    whose fields expire (`ttl.mode: per-field`): their keys carry no TTL.

    **What to do instead.** Separate the workloads: the disposable cache on an instance of its own
    with `allkeys-lru` or `allkeys-lfu`, the sessions, locks and state on an instance with
    `noeviction`, sized and alerted on so that it never fills. Another policy of the same family
    does not help: they all choose among the same keys, the ones with a TTL.

    **Bad**

    ```yaml
    instances:
      - {name: shared, eviction_policy: volatile-lru, ...}
    namespaces:
      - {name: product-cache, instance: shared, classification: disposable, ttl: {mode: absolute, seconds: 600}, ...}
      - {name: sessions, instance: shared, classification: session, ttl: {mode: sliding, seconds: 1800}, ...}
    ```

    **Good**

    ```yaml
    instances:
      - {name: cache, eviction_policy: allkeys-lru, ...}
      - {name: session-store, eviction_policy: noeviction, ...}
    namespaces:
      - {name: product-cache, instance: cache, classification: disposable, ...}
      - {name: sessions, instance: session-store, classification: session, ...}
    ```

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> and
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    (eviction policies), <https://redis.io/docs/latest/develop/reference/eviction/>.
    """

    id = "EVI007"
    title = "Volatile eviction mixes cache and stateful keys"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for inst in ctx.design.instances:
            if not inst.eviction_policy.startswith("volatile-"):
                continue
            hosted = ctx.namespaces_on(inst.name)
            disposable = [ns for ns in hosted if ns.classification == "disposable"]
            if not disposable:
                continue
            for ns in hosted:
                if ns.classification not in STATEFUL or not ns.key_has_ttl:
                    continue
                yield self.finding(
                    namespace_target(ns.name),
                    f"{ns.classification.capitalize()} namespace {ns.name} ({ns.ttl.mode} TTL of "
                    f"{ns.ttl.seconds:,} s) shares instance {inst.name} with the disposable "
                    f"{_names(disposable)}; its policy `{inst.eviction_policy}` evicts any key with a TTL, so "
                    f"under memory pressure {ns.name} is evicted together with the cache entries.",
                    f"Move {_names(disposable)} to a separate cache instance with `allkeys-lru` or `allkeys-lfu`, "
                    f"and run {inst.name} with `noeviction`, sized and alerted on so that {ns.name} is never "
                    "evicted.",
                    related=[instance_target(inst.name), *_targets(disposable)],
                )


RULES: list[Rule] = [EVI001(), EVI002(), EVI003(), EVI004(), EVI005(), EVI006(), EVI007()]
