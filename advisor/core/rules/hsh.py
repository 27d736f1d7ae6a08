"""HSH: hash tag and clustering rules."""

from __future__ import annotations

from collections.abc import Iterable

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.keyspace import slot_determinant, tag_text
from advisor.core.patterns import Pattern
from advisor.core.rules.base import DesignContext, Rule, namespace_target


class HSH001(Rule):
    """The hash tag is a constant: every key of the namespace lands in one slot.

    **Why it matters.** The text inside braces decides the hash slot. A constant tag such as
    `{all}` puts every key of the namespace in a single slot, so one shard stores and serves the
    whole namespace: a hot shard that scaling out cannot relieve. High on a clustered instance, low
    otherwise (it becomes a problem as soon as the instance is clustered or migrated).

    **What to do instead.** Build the tag from the placeholder that groups keys needing atomic
    multi-key operations (the customer, the cart), not from a constant.

    **Bad**

    ```yaml
    pattern: "prod:checkout:cart:v1:{all}:<customer:int>"
    ```

    **Good**

    ```yaml
    pattern: "prod:checkout:cart:v1:{<customer:int>}:items"
    ```

    **Sources.**
    <https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags>,
    <https://learn.microsoft.com/azure/redis/architecture> (clustering policies and shards),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-clustering>.
    """

    id = "HSH001"
    title = "Constant hash tag"
    default_severity = Severity.high
    remediation = (
        "Build the hash tag from a placeholder that groups the keys needing multi-key operations (e.g. "
        "`{<customer:int>}`), or drop the tag."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns in ctx.design.namespaces:
            pattern = ctx.pattern(ns)
            if not pattern.has_constant_hash_tag:
                continue
            inst = ctx.instance_of(ns)
            slot = slot_determinant(pattern)[1]
            where = (
                f"one shard of clustered instance {inst.name} serves the whole namespace"
                if inst.is_clustered
                else f"instance {inst.name} is not clustered today, but would serve it from one shard if it were"
            )
            yield self.finding(
                namespace_target(ns.name),
                f"Pattern `{ns.pattern}` has the constant hash tag `{tag_text(pattern)}`: all "
                f"{ns.cardinality:,} keys land in slot {slot}; {where}.",
                severity=Severity.high if inst.is_clustered else Severity.low,
            )


class HSH002(Rule):
    """Namespaces used together in multi-key commands are not guaranteed the same hash slot.

    **Why it matters.** With the OSS clustering policy, keys are assigned to hash slots and
    multi-key commands (MULTI/EXEC, Lua scripts, `MGET`, `SUNIONSTORE`…) fail with `CROSSSLOT`
    when their keys belong to different slots. Only equal hash tags guarantee the same slot: the
    tags must be built from the same placeholders and literals.

    **What to do instead.** Give both patterns the same hash tag, built from the value that ties
    the keys together. Switching the instance to the Enterprise cluster policy is not the fix: it
    lets only a few simple commands (DEL, MSET, MGET, EXISTS, UNLINK, TOUCH) span slots, while
    transactions and scripts still fail with `CROSSSLOT` (HSH004), and it moves every client to a
    single endpoint proxy.

    **Bad**

    ```yaml
    - {name: cart-items, pattern: "prod:checkout:cart:v1:<customer:int>:items", multi_key_with: [cart-totals]}
    - {name: cart-totals, pattern: "prod:checkout:cart:v1:<customer:int>:totals"}
    ```

    **Good**

    ```yaml
    - {name: cart-items, pattern: "prod:checkout:cart:v1:{<customer:int>}:items", multi_key_with: [cart-totals]}
    - {name: cart-totals, pattern: "prod:checkout:cart:v1:{<customer:int>}:totals"}
    ```

    **Sources.**
    <https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags>,
    <https://learn.microsoft.com/azure/redis/architecture> (multi-key commands under the OSS and
    Enterprise policies),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-clustering>.
    """

    id = "HSH002"
    title = "Multi-key namespaces may hit CROSSSLOT"
    default_severity = Severity.high

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns, other, inst in _unaligned_pairs(ctx, lambda inst: inst.clustering == "oss"):
            pa, pb = ctx.pattern(ns), ctx.pattern(other)
            yield self.finding(
                namespace_target(ns.name),
                f"{ns.name} is used in multi-key commands with {other.name} on OSS-clustered instance "
                f"{inst.name}, but their keys are not guaranteed the same slot: {_why(ns, pa, other, pb)}.",
                _same_tag_fix(pa, pb),
                related=[namespace_target(other.name)],
            )


def _unaligned_pairs(ctx: DesignContext, applies) -> Iterable[tuple]:
    """(namespace, partner, instance) for each `multi_key_with` pair, once, whose keys may land in
    different slots, on instances where `applies(instance)`."""
    seen: set[frozenset[str]] = set()
    for ns in ctx.design.namespaces:
        inst = ctx.instance_of(ns)
        if not applies(inst):
            continue
        for other_name in ns.multi_key_with:
            other = ctx.namespace(other_name)
            pair = frozenset((ns.name, other_name))
            if other is None or pair in seen:
                continue
            seen.add(pair)
            sa, sb = slot_determinant(ctx.pattern(ns)), slot_determinant(ctx.pattern(other))
            if sa is not None and sa == sb:
                continue
            yield ns, other, inst


def _same_tag_fix(pa: Pattern, pb: Pattern) -> str:
    return (
        "Give both patterns the same hash tag built from the value that ties their keys together, "
        f"e.g. `{_suggested_tag(pa, pb)}`: then every multi-key command, transaction and script on keys "
        "built from the same value stays in one slot."
    )


def _why(a, pa: Pattern, b, pb: Pattern) -> str:
    missing = [ns.name for ns, p in ((a, pa), (b, pb)) if p.hash_tag is None]
    if missing:
        return f"{' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} no hash tag"
    return (
        f"their tags `{tag_text(pa)}` and `{tag_text(pb)}` are built from different placeholders or literals"
    )


def _suggested_tag(pa: Pattern, pb: Pattern) -> str:
    names_b = {p.name for p in pb.placeholders if p.name}
    shared = [p for p in pa.placeholders if p.name in names_b]
    if shared:
        return "{<" + shared[0].name + ":" + shared[0].kind + ">}"
    return "{<id>}"


class HSH003(Rule):
    """The pattern has a hash tag although no multi-key operation needs it.

    **Why it matters.** Hash tags force related keys into one slot, which concentrates traffic.
    Use them only for keys that genuinely need atomic multi-key operations; otherwise they only
    risk hot slots and uneven shards.

    **What to do instead.** Remove the braces, or declare the namespaces used together in
    `multi_key_with`. A namespace that another namespace lists in its `multi_key_with` counts as
    used together.

    **Bad**

    ```yaml
    pattern: "prod:catalog:product:v3:{<id:int>}"
    multi_key_with: []
    ```

    **Good**

    ```yaml
    pattern: "prod:catalog:product:v3:<id:int>"
    multi_key_with: []
    ```

    **Sources.**
    <https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags>,
    <https://learn.microsoft.com/azure/redis/architecture>.
    """

    id = "HSH003"
    title = "Hash tag without multi-key use"
    default_severity = Severity.low
    remediation = (
        "Remove the hash tag, or list the namespaces used together with this one in `multi_key_with`."
    )

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        listed = {other for ns in ctx.design.namespaces for other in ns.multi_key_with}
        for ns in ctx.design.namespaces:
            pattern = ctx.pattern(ns)
            if pattern.hash_tag is not None and not ns.multi_key_with and ns.name not in listed:
                yield self.finding(
                    namespace_target(ns.name),
                    f"Pattern `{ns.pattern}` has the hash tag `{tag_text(pattern)}` but `multi_key_with` is "
                    "empty: the tag concentrates keys without a reason.",
                )


class HSH004(Rule):
    """Namespaces used together may span slots where only a few multi-key commands can.

    **Why it matters.** The Enterprise cluster policy (Azure Managed Redis, Azure Cache for Redis
    Enterprise) hides the shards behind one endpoint, but it does not make every multi-key command
    work across hash slots: only DEL, MSET, MGET, EXISTS, UNLINK and TOUCH may span slots, and
    under active geo-replication only MGET, EXISTS and TOUCH. MULTI/EXEC transactions, Lua scripts
    and every other multi-key command (`SUNIONSTORE`, `RENAME`, `LMOVE`…) still fail with
    `CROSSSLOT` when their keys are in different slots. Every actively geo-replicated instance is
    checked, whatever its cluster policy: the limit belongs to Active-Active databases, which
    hash keys into slots even on one shard (an OSS-clustered one gets HSH002 as well).

    Severity: medium on the Enterprise policy, high with active geo-replication, where even DEL,
    MSET and UNLINK across slots fail.

    **What to do instead.** Give both patterns the same hash tag, built from the value that ties
    their keys together, so that transactions and scripts over them keep working whatever the
    cluster policy.

    **Bad**

    ```yaml
    instances:
      - {name: carts, clustering: enterprise, ...}
    namespaces:
      - {name: cart-items, pattern: "prod:checkout:cart:v1:<customer:int>:items", multi_key_with: [cart-totals]}
      - {name: cart-totals, pattern: "prod:checkout:cart:v1:<customer:int>:totals"}
    ```

    **Good**

    ```yaml
    namespaces:
      - {name: cart-items, pattern: "prod:checkout:cart:v1:{<customer:int>}:items", multi_key_with: [cart-totals]}
      - {name: cart-totals, pattern: "prod:checkout:cart:v1:{<customer:int>}:totals"}
    ```

    **Sources.** Multi-key commands per cluster policy and under active geo-replication:
    <https://learn.microsoft.com/azure/redis/architecture>,
    <https://learn.microsoft.com/azure/redis/best-practices-client-libraries>; active
    geo-replication: <https://learn.microsoft.com/azure/redis/how-to-active-geo-replication>.
    """

    id = "HSH004"
    title = "Multi-key commands limited across slots"
    default_severity = Severity.medium

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        for ns, other, inst in _unaligned_pairs(ctx, _limits_cross_slot):
            pa, pb = ctx.pattern(ns), ctx.pattern(other)
            active_geo = platform.has_active_geo_replication(inst)
            if active_geo:
                allowed = platform.ACTIVE_GEO_CROSS_SLOT_COMMANDS
                where = f"actively geo-replicated instance {inst.name} ({inst.clustering} cluster policy)"
            else:
                allowed = platform.ENTERPRISE_CROSS_SLOT_COMMANDS
                where = f"instance {inst.name} (Enterprise cluster policy)"
            if inst.clustering == "oss":
                policy = (
                    "no command may span slots under the OSS policy, and active geo-replication lets only "
                    f"{_listed(allowed)} span slots even under the Enterprise policy"
                )
            else:
                policy = f"only {_listed(allowed)} may span slots there"
            yield self.finding(
                namespace_target(ns.name),
                f"{ns.name} is used in multi-key commands with {other.name} on {where}, but their keys are "
                f"not guaranteed the same slot ({_why(ns, pa, other, pb)}): {policy}; transactions, Lua scripts "
                "and other multi-key commands fail with CROSSSLOT.",
                _same_tag_fix(pa, pb),
                severity=Severity.high if active_geo else Severity.medium,
                related=[namespace_target(other.name)],
            )


def _limits_cross_slot(inst) -> bool:
    return inst.clustering == "enterprise" or platform.has_active_geo_replication(inst)


def _listed(commands: tuple[str, ...]) -> str:
    return ", ".join(commands[:-1]) + f" and {commands[-1]}" if len(commands) > 1 else commands[0]


RULES: list[Rule] = [HSH001(), HSH002(), HSH003(), HSH004()]
