"""DRF: drift between a live instance, as one scan saw it, and its registered design.

Every rule reads the scan report (`advisor.core.scan.report.ScanReport`, or its JSON as a dict)
through `ScanContext.scan`. A scan that is not complete never yields a "nothing there"
conclusion (DRF011), and a failed scan yields nothing at all: what it did not see proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.rules.base import DriftRule, ScanContext, instance_target, namespace_target
from advisor.core.units import format_bytes, format_duration

# design data_type -> the name the scan report gives the Redis TYPE reply
_TYPE_OF = {
    "string": "string",
    "hash": "hash",
    "list": "list",
    "set": "set",
    "zset": "zset",
    "stream": "stream",
    "json": "json",
}
_PII_LABELS = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "card": "card numbers",
    "ipv4": "IPv4 addresses",
}
_COLLECTIONS = {"hash", "list", "set", "zset", "stream"}
# DRF001 names this many inferred patterns one by one; the rest share one finding.
MAX_PATTERN_FINDINGS = 50
# DRF009 judges key distribution only above this many keys: a few keys are always "skewed".
MIN_KEYS_FOR_SKEW = 1000


def _v(x: Any) -> Any:
    return getattr(x, "value", x)


def report_of(ctx: ScanContext):
    """The scan report as a ScanReport (stored reports come back as dicts)."""
    scan = ctx.scan
    if isinstance(scan, dict):
        from advisor.core.scan.report import ScanReport

        cached = getattr(ctx, "_scan_report", None)
        if cached is None:
            cached = ScanReport.model_validate(scan)
            ctx._scan_report = cached
        return cached
    return scan


def _usable(ctx: ScanContext) -> bool:
    """A failed scan saw nothing; no rule may conclude anything from it."""
    return report_of(ctx).status != "failed"


def _instance_name(ctx: ScanContext) -> str:
    return ctx.instance_name or report_of(ctx).instance


def _scanned_namespaces(ctx: ScanContext) -> Iterable[tuple[Any, Any]]:
    """(design namespace, its scan entry) for every namespace of the instance the scan reported."""
    report = report_of(ctx)
    by_name = {ns.name: ns for ns in report.namespaces}
    for ns in ctx.namespaces_on(_instance_name(ctx)):
        entry = by_name.get(ns.name)
        if entry is not None:
            yield ns, entry


def _pct(part: float, whole: float) -> str:
    if not whole:
        return "0%"
    share = 100 * part / whole
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


def _incomplete_note(ctx: ScanContext) -> str:
    report = report_of(ctx)
    return "" if report.complete else " (the scan was not complete: the real number can be higher)"


class DRF001(DriftRule):
    """Keys on the instance match no registered namespace.

    The scan groups unmatched keys into inferred patterns (numbers, UUIDs, hex strings and
    digests become placeholders; families differing in one segment merge) and reports one
    finding per pattern, with its key count and a masked example. Beyond the 50 biggest
    patterns, the rest share one finding.

    **Why it matters.** Keys nobody registered have no owner, no agreed TTL and no review: they
    are how a cache turns into an unmanaged data store, and they hide the leftovers of retired
    features that still take memory.

    **What to do instead.** Register a namespace for the family (the inferred pattern is a
    starting point for the draft), or delete the keys if they are leftovers.

    **Example.** `1,204 keys match no registered namespace; they look like
    legacy:session:<id:int> (example: legacy:session:42).`

    **Sources.** <https://redis.io/docs/latest/develop/using-commands/keyspace/> (Redis has no
    namespaces: a key schema such as `object-type:id` is only a convention of the writers),
    <https://redis.io/docs/latest/commands/scan/> (walking the keyspace without blocking the
    server), <https://learn.microsoft.com/azure/redis/best-practices-memory-management> (set an
    expiration on your keys).
    """

    id = "DRF001"
    title = "Unregistered key family"
    default_severity = Severity.medium
    remediation = (
        "Register a namespace for this key family (the inferred pattern is a starting point), "
        "or delete the keys if nothing uses them any more."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        report = report_of(ctx)
        target = instance_target(_instance_name(ctx))
        patterns = report.unmatched.patterns
        for p in patterns[:MAX_PATTERN_FINDINGS]:
            example = f" (example: {p.example})" if p.example else ""
            yield self.finding(
                target,
                f"{p.keys:,} keys ({_pct(p.keys, report.keys_scanned)} of those scanned) match no registered "
                f"namespace; they look like {p.pattern}{example}.",
            )
        rest = sum(p.keys for p in patterns[MAX_PATTERN_FINDINGS:]) + report.unmatched.other_keys
        if rest:
            more = len(patterns[MAX_PATTERN_FINDINGS:])
            yield self.finding(
                target,
                f"{rest:,} more keys match no registered namespace"
                + (f", in {more} further patterns" if more else "")
                + " and in families too small to list one by one.",
            )


class DRF002(DriftRule):
    """Keys of a namespace whose design has a TTL carry none.

    **Why it matters.** A key without a TTL stays until something deletes it. In a namespace
    designed to expire, such keys are usually written by a code path that forgot the expiry
    (a `SET` without `EX`, a `HSET` never followed by `EXPIRE`); they pile up as stale data and
    cannot be evicted under `volatile-*` policies.

    A namespace with `ttl.mode: per-field` expires the fields of its hashes (`HEXPIRE`), not the
    keys: its hashes never carry a key TTL by design and are not counted. Keys of another type in
    such a namespace (DRF004 names them) have no fields to expire, so they are counted.

    **What to do instead.** Find the writer that leaves out the TTL and set it on every write
    (`SET … EX`, or `EXPIRE` in the same pipeline or transaction); expire or delete the keys
    already there.

    **Example.** `3,120 of 450,000 keys (0.7%) have no TTL; the design gives them 600 s (+90 s
    jitter).`

    **Sources.** <https://redis.io/docs/latest/commands/expire/> (a key without a timeout lives
    until it is deleted; `SET` without `EX` clears the timeout),
    <https://learn.microsoft.com/azure/redis/best-practices-memory-management> (set an expiration
    on your keys; under `volatile-lru` only keys with a TTL can be evicted),
    <https://redis.io/docs/latest/develop/reference/eviction/> (the `volatile-*` policies behave like
    `noeviction` for keys without a TTL), <https://redis.io/docs/latest/commands/hexpire/>
    (expiring hash fields).
    """

    id = "DRF002"
    title = "Keys without the designed TTL"
    default_severity = Severity.high
    remediation = (
        "Set the TTL on every write of this namespace (SET … EX, or EXPIRE in the same pipeline) and "
        "expire or delete the keys that have none."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        for ns, entry in _scanned_namespaces(ctx):
            if not ns.has_ttl or entry.without_ttl <= 0:
                continue
            jitter = f" (+{ns.ttl.jitter_seconds} s jitter)" if ns.ttl.jitter_seconds else ""
            if ns.key_has_ttl:
                yield self.finding(
                    namespace_target(ns.name),
                    f"{entry.without_ttl:,} of {entry.keys:,} keys ({_pct(entry.without_ttl, entry.keys)}) have no TTL; "
                    f"the design gives them {ns.ttl.seconds} s{jitter}{_incomplete_note(ctx)}.",
                )
                continue
            # per-field: only keys that are not hashes count. A report without the breakdown by
            # type (stored before it existed) cannot tell them apart, so it proves nothing.
            by_type = entry.without_ttl_types
            others = {t: c for t, c in by_type.items() if t != "hash" and c}
            count = sum(others.values())
            if count:
                seen = ", ".join(f"{t} {c:,}" for t, c in sorted(others.items(), key=lambda kv: -kv[1]))
                yield self.finding(
                    namespace_target(ns.name),
                    f"{count:,} of {entry.keys:,} keys ({_pct(count, entry.keys)}) are not hashes and have no TTL "
                    f"({seen}); the design expires hash fields after {ns.ttl.seconds} s{jitter} (per-field), "
                    f"which leaves keys of other types to live forever{_incomplete_note(ctx)}.",
                )


class DRF003(DriftRule):
    """Keys carry a remaining TTL longer than the design allows.

    It fires when a key's remaining TTL is above the design's `seconds + jitter_seconds`, with
    one second of tolerance. In a `per-field` namespace the keys carry no TTL by design (their
    hash fields expire); a key without TTL is never "above", so the rule fires only for keys that
    do carry a key TTL longer than the fields may live: such a TTL is no cap at all, and once
    fields are written without `HEXPIRE` it is the only expiry left.

    **Why it matters.** A TTL longer than designed keeps data staler than the owners agreed to
    and makes the namespace hold more keys (and memory) than sized for. It usually means a
    writer uses another constant than the design, or a TTL in milliseconds passed as seconds.

    **What to do instead.** Align the writers' TTL with the design, or change the design if the
    longer lifetime is intended.

    **Example.** `12,004 keys have a remaining TTL above the design's 600 s + 90 s jitter; the
    longest is 86400 s.`

    **Sources.** <https://redis.io/docs/latest/develop/using-commands/keyspace/#key-expiration>
    (TTLs are set in seconds or in milliseconds: `EXPIRE` and `PEXPIRE`),
    <https://redis.io/docs/latest/commands/ttl/> (the remaining TTL of a key),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching> (an expiration period
    that is too long risks stale data).
    """

    id = "DRF003"
    title = "TTL above the design"
    default_severity = Severity.medium
    remediation = (
        "Make the writers use the designed TTL, or update the design if the longer lifetime is intended."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        for ns, entry in _scanned_namespaces(ctx):
            if ns.has_ttl and entry.ttl_above_design > 0:
                jitter = (
                    f" + {format_duration(ns.ttl.jitter_seconds, parts=None, missing='?')} jitter"
                    if ns.ttl.jitter_seconds
                    else ""
                )
                if ns.key_has_ttl:
                    what = "a remaining TTL above the design's"
                else:
                    what = "a key TTL above the per-field design's"
                yield self.finding(
                    namespace_target(ns.name),
                    f"{entry.ttl_above_design:,} of {entry.keys:,} keys have {what} "
                    f"{format_duration(ns.ttl.seconds, parts=None, missing='?')}{jitter}; the longest is "
                    f"{format_duration(entry.ttl_seconds.max, parts=None, missing='?')}.",
                )


class DRF004(DriftRule):
    """Keys of a namespace have another Redis type than the design's `data_type`.

    **Why it matters.** Readers written for one type fail with `WRONGTYPE` on another; two
    writers disagreeing on the type usually means two features share key names by accident.
    Sizing and value rules were also reviewed for the designed type.

    **What to do instead.** Find the writer that uses the other type; rename its keys into a
    namespace of their own, or correct the design's `data_type`.

    **Example.** `120 of 5,000 keys are not string: hash 120.`

    **Sources.** <https://redis.io/docs/latest/commands/type/> (the type the scan reads for each
    key), <https://redis.io/docs/latest/develop/using-commands/keyspace/> (Redis has no namespaces:
    take care to avoid name collisions).
    """

    id = "DRF004"
    title = "Keys of the wrong type"
    default_severity = Severity.medium
    remediation = (
        "Move the writer of the other type to a namespace of its own, or correct the design's data_type."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        for ns, entry in _scanned_namespaces(ctx):
            expected = _TYPE_OF.get(_v(ns.data_type))
            if expected is None or not entry.keys:
                continue
            others = {t: c for t, c in entry.types.items() if t != expected and c}
            wrong = sum(others.values())
            if wrong:
                seen = ", ".join(f"{t} {c:,}" for t, c in sorted(others.items(), key=lambda kv: -kv[1]))
                yield self.finding(
                    namespace_target(ns.name),
                    f"{wrong:,} of {entry.keys:,} keys are not {expected}: {seen}.",
                )


class DRF005(DriftRule):
    """Sampled keys use more memory than the design's largest value.

    A key counts when its `MEMORY USAGE`, less its name, exceeds `value_bytes.max` plus a
    quarter (allocator rounding) plus 160 bytes of per-key overhead. Only keys the scan measured
    are judged (all of them with `--memory-sample 1`). The finding names the biggest keys,
    masked. For a hash, list, set, sorted set or stream, `MEMORY USAGE` is an estimate: Redis
    measures 5 sampled elements and extrapolates (its `SAMPLES` option, default 5). The scanner
    leaves that default, since `SAMPLES 0` would walk every element of every big key it measures.

    **Why it matters.** Values bigger than designed slow every read and write of them, block the
    server while they are copied or freed, and break the memory sizing the instance was chosen by.

    **What to do instead.** Find what makes these values grow (an unbounded list, a cached page
    with everything in it) and cap it, split the value, or correct `value_bytes.max`.

    **Example.** `3 measured keys are bigger than value_bytes.max (16.0 KiB) allows; the biggest:
    cart:{42}:items (1.2 MiB).`

    **Sources.** <https://redis.io/docs/latest/commands/memory-usage/> (the estimate from sampled
    elements, `SAMPLES` default 5), <https://learn.microsoft.com/azure/redis/best-practices-server-load>
    (keep values under 100 kB: larger values raise server load and latency),
    <https://learn.microsoft.com/azure/redis/best-practices-development> (more keys and smaller
    values; large responses cause timeouts), <https://redis.io/docs/latest/commands/unlink/> (`DEL`
    frees a value's memory while the server waits).
    """

    id = "DRF005"
    title = "Values above the designed size"
    default_severity = Severity.medium
    remediation = (
        "Cap or split the values that grew past the design (unbounded collections are the usual cause), "
        "or raise value_bytes.max if they are meant to be that big."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        for ns, entry in _scanned_namespaces(ctx):
            if entry.oversized_keys <= 0:
                continue
            limit = entry.memory_limit_bytes
            big = [k for k in entry.biggest_keys if limit is None or k.memory_bytes > limit][:3]
            names = ", ".join(f"{k.key} ({k.type}, {format_bytes(k.memory_bytes)})" for k in big)
            sampled = f" of {entry.memory_sampled_keys:,} measured" if entry.memory_sampled_keys else ""
            types = {k.type for k in big} | {_TYPE_OF.get(_v(ns.data_type))}
            estimate = (
                " MEMORY USAGE of a collection is an estimate from 5 sampled elements."
                if types & _COLLECTIONS
                else ""
            )
            yield self.finding(
                namespace_target(ns.name),
                f"{entry.oversized_keys:,} keys{sampled} are bigger than value_bytes.max "
                f"({format_bytes(ns.value_bytes.max)}) allows"
                + (f"; the biggest: {names}." if names else ".")
                + estimate,
            )


class DRF006(DriftRule):
    """Key names contain what looks like personal data.

    The scan looks in every key name for an e-mail address, a phone number in international
    format, a Luhn-valid card number of 13 to 19 digits (starting 2 to 6, the card networks'
    range) and an IPv4 address. Examples are shown masked.

    **Why it matters.** Key names are not protected like values: they show up in `SCAN` and
    `MONITOR` output, slow logs, keyspace notifications, metrics and support tickets, and they
    cannot be encrypted. Personal data there leaks to everyone who operates the cache.

    **What to do instead.** Key by an opaque id, or by a keyed hash (HMAC) of the identifier
    (`users:by-email:<h:hash>`), and migrate the existing keys.

    **Example.** `1,204 keys contain e-mail addresses (example: users:by-email:u***@example.com).`

    **Sources.** <https://redis.io/docs/latest/commands/monitor/> (streams every command with its
    arguments), <https://redis.io/docs/latest/commands/slowlog-get/> (each entry keeps the command's
    arguments), <https://redis.io/docs/latest/develop/pubsub/keyspace-notifications/> (the channel
    names carry the key name),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching> (protect cached data: an
    identity with access can read all of it, and Redis leaves encryption to the clients).
    """

    id = "DRF006"
    title = "Personal data in key names"
    default_severity = Severity.high
    remediation = (
        "Key by an opaque id or a keyed hash (HMAC) of the identifier instead of the raw value, and "
        "migrate the existing keys."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        for ns, entry in _scanned_namespaces(ctx):
            if entry.personal_data:
                yield self.finding(
                    namespace_target(ns.name), self._message(entry.personal_data, entry.personal_data_example)
                )
        unmatched = report_of(ctx).unmatched
        if unmatched.personal_data:
            yield self.finding(
                instance_target(_instance_name(ctx)),
                "Unregistered keys: "
                + self._message(unmatched.personal_data, unmatched.personal_data_example),
            )

    @staticmethod
    def _message(found: dict[str, int], example: str | None) -> str:
        parts = [f"{n:,} keys contain {_PII_LABELS.get(kind, kind)}" for kind, n in sorted(found.items())]
        text = "; ".join(parts)
        return text + (f" (example: {example})." if example else ".")


class DRF007(DriftRule):
    """The server's `maxmemory-policy` differs from the registered `eviction_policy`.

    The policy is read with `CONFIG GET maxmemory-policy`, or from `INFO memory` where CONFIG is
    refused. When neither tells it, an `info` finding says the policy could not be checked.

    **Why it matters.** The design's eviction rules (EVI001–EVI003) were reviewed against the
    registered policy. If the server runs another one, sessions and locks may be evicted that the
    review believed safe, or writes fail where the review expected eviction.

    **What to do instead.** Set the instance's policy to the registered one, or update the design
    (and have the eviction rules re-checked) if the server's policy is the intended one.

    **Example.** `The server runs maxmemory-policy allkeys-lru; the design registers volatile-lru.`

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> and
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    (the default policy `volatile-lru`; `allkeys-lru` lets any key be evicted),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-configure> (`CONFIG` is disabled on
    the managed service; the policy is set in the portal or by the management tools),
    <https://redis.io/docs/latest/develop/reference/eviction/> (the policies).
    """

    id = "DRF007"
    title = "Eviction policy differs from the design"
    default_severity = Severity.high
    remediation = "Set the server's maxmemory-policy to the registered eviction_policy, or update the design."

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        report = report_of(ctx)
        name = _instance_name(ctx)
        try:
            registered = _v(ctx.instance(name).eviction_policy)
        except KeyError:
            return
        actual = report.server.maxmemory_policy
        if actual is None:
            if report.server.redis_version is None:
                return  # no server facts at all
            why = report.server.maxmemory_policy_error or "the server did not say"
            yield self.finding(
                instance_target(name),
                f"The eviction policy could not be checked ({why}); the design registers {registered}.",
                "Allow the scanner's user CONFIG GET maxmemory-policy, or check the policy in the portal.",
                severity=Severity.info,
            )
        elif actual != registered:
            yield self.finding(
                instance_target(name),
                f"The server runs maxmemory-policy {actual}; the design registers {registered}.",
            )


class DRF008(DriftRule):
    """A namespace holds far more keys than its declared cardinality.

    It fires above `DRF008.max_ratio` (default 2) times the declared `cardinality`.

    **Why it matters.** Memory sizing, TTL jitter rules and the instance's capacity plan all rest
    on the declared cardinality. A namespace twice as big usually has an unbounded key component
    or keys that outlive their purpose.

    **What to do instead.** Find what makes the key count grow (a missing TTL, a free-text key
    component) and bound it, or correct the cardinality and re-check the sizing.

    **Example.** `1,250,000 keys, 2.5 times the declared cardinality of 500,000.`

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-memory-management> (set
    expirations; alert on Used Memory Percentage and scale before memory runs out),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching> (a cache fills up when
    data stays resident for a long time), <https://redis.io/docs/latest/commands/expire/> (a key
    without a timeout lives until it is deleted).
    """

    id = "DRF008"
    title = "More keys than the declared cardinality"
    default_severity = Severity.medium
    thresholds = {"DRF008.max_ratio": 2.0}
    remediation = (
        "Bound what makes the key count grow, or correct the declared cardinality and re-check the sizing."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        ratio = ctx.threshold("DRF008.max_ratio")
        for ns, entry in _scanned_namespaces(ctx):
            if entry.keys > ratio * ns.cardinality:
                times = (
                    f"{entry.keys / ns.cardinality:.1f} times" if ns.cardinality else "while it declares 0"
                )
                yield self.finding(
                    namespace_target(ns.name),
                    f"{entry.keys:,} keys, {times} the declared cardinality of {ns.cardinality:,}.",
                )


class DRF009(DriftRule):
    """Keys are unevenly spread over a cluster's shards or slots.

    It fires on a cluster when one shard holds more than `DRF009.max_shard_ratio` (default 2)
    times the mean share of keys, or one hash slot more than `DRF009.max_slot_share` (default
    0.05, 5%) of all keys; only with at least 1,000 keys, and the slot check only on a complete
    scan. A namespace whose constant hash tag maps to the fullest slot is named.

    **Why it matters.** A shard with most of the keys takes most of the traffic and fills first:
    the cluster is as big as its fullest shard. A full slot cannot be split at all; it is
    usually a constant hash tag (`cart:{all}:…`).

    **What to do instead.** Put a per-entity value into the hash tag (`cart:{<customer>}:…`) or
    drop the tag; rebalance slots if a shard is simply too big.

    **Example.** `Slot 6918 holds 41% of the keys (412,000 of 1,000,000).`

    **Sources.** <https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags>
    (a hash tag maps every key that carries it to one slot),
    <https://redis.io/docs/latest/develop/using-commands/keyspace/#hashtags> (too many keys in one
    hash slot eventually harm performance),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-premium-clustering>
    (distribute keys evenly; with hash tags that is the application's responsibility).
    """

    id = "DRF009"
    title = "Shard or slot skew"
    default_severity = Severity.medium
    thresholds = {"DRF009.max_shard_ratio": 2.0, "DRF009.max_slot_share": 0.05}
    remediation = (
        "Spread the keys: use a per-entity value in the hash tag or none, and rebalance the slots if one "
        "shard is simply too big."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        report = report_of(ctx)
        if not report.clustered or not report.shards:
            return
        name = _instance_name(ctx)
        counts = [
            s.keys_total if s.keys_total is not None else (s.keys if s.complete else None)
            for s in report.shards
        ]
        if all(c is not None for c in counts) and len(counts) > 1:
            total = sum(counts)
            mean = total / len(counts)
            ratio = ctx.threshold("DRF009.max_shard_ratio")
            if total >= MIN_KEYS_FOR_SKEW:
                for shard, c in zip(report.shards, counts, strict=True):
                    if c > ratio * mean:
                        yield self.finding(
                            instance_target(name),
                            f"Shard {shard.node} holds {c:,} of {total:,} keys ({_pct(c, total)}); the mean share "
                            f"is {_pct(mean, total)}.",
                        )
        if report.complete and report.keys_scanned >= MIN_KEYS_FOR_SKEW and report.fullest_slots:
            share = ctx.threshold("DRF009.max_slot_share")
            for slot in report.fullest_slots:
                if slot.keys > share * report.keys_scanned:
                    related = [namespace_target(n) for n in self._namespaces_in_slot(ctx, slot.slot)]
                    yield self.finding(
                        instance_target(name),
                        f"Slot {slot.slot} holds {_pct(slot.keys, report.keys_scanned)} of the keys "
                        f"({slot.keys:,} of {report.keys_scanned:,}).",
                        related=related,
                    )

    @staticmethod
    def _namespaces_in_slot(ctx: ScanContext, slot: int) -> list[str]:
        from advisor.core.patterns import Literal, key_hash_slot

        out = []
        for ns in ctx.namespaces_on(_instance_name(ctx)):
            pattern = ctx.pattern(ns)
            if pattern.has_constant_hash_tag:
                tag = "".join(t.text for t in pattern.hash_tag if isinstance(t, Literal))
                if key_hash_slot("{" + tag + "}") == slot:
                    out.append(ns.name)
        return out


class DRF010(DriftRule):
    """The server has evicted keys, and it hosts namespaces that must not be evicted.

    It fires when `evicted_keys` (since the server started) is above 0 and the instance hosts a
    `session`, `coordination` or `durable` namespace.

    **Why it matters.** Eviction does not look at classifications: once memory is full, a session,
    a lock or the only copy of a record can go as easily as a cache entry. Users are logged out,
    two workers hold one lock, data is lost.

    **What to do instead.** Give the instance enough memory for its peak, move non-disposable
    namespaces to an instance with `noeviction` (or `volatile-*` with TTL only on cache keys),
    and alert on `evicted_keys`.

    **Example.** `The server has evicted 1,234 keys since it started; it hosts session namespace
    user-sessions.`

    **Sources.** <https://learn.microsoft.com/azure/redis/troubleshoot-data-loss#key-eviction> (keys
    are purged under memory pressure by the policy; `evicted_keys` counts them),
    <https://learn.microsoft.com/azure/redis/monitor-cache-reference> (the Evicted Keys metric, to
    alert on), <https://redis.io/docs/latest/develop/reference/eviction/> (`volatile-*` policies
    for caching and persistent keys on one instance, or better two separate instances),
    <https://learn.microsoft.com/azure/redis/best-practices-memory-management> (scale before memory
    runs out).
    """

    id = "DRF010"
    title = "Evictions on an instance with non-disposable data"
    default_severity = Severity.high
    remediation = (
        "Give the instance memory for its peak, and move session, coordination and durable namespaces to "
        "an instance that does not evict them."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        evicted = report_of(ctx).server.evicted_keys
        if not evicted:
            return
        name = _instance_name(ctx)
        hosted = [
            ns
            for ns in ctx.namespaces_on(name)
            if _v(ns.classification) in ("session", "coordination", "durable")
        ]
        if hosted:
            listed = ", ".join(f"{_v(ns.classification)} namespace {ns.name}" for ns in hosted)
            yield self.finding(
                instance_target(name),
                f"The server has evicted {evicted:,} keys since it started; it hosts {listed}.",
                related=[namespace_target(ns.name) for ns in hosted],
            )


class DRF011(DriftRule):
    """A registered namespace has no keys at all, in a complete scan.

    Only a complete scan can say this: a scan cut short by `--max-keys`, an error or a
    cancellation never produces this finding.

    **Why it matters.** A registered namespace without keys is either retired (its registration,
    reviews and waivers are now noise) or written under another name than registered (and then
    its real keys show up as unregistered, DRF001).

    **What to do instead.** Remove the namespace from the design if the feature is gone, or
    correct its pattern to the keys actually written.

    **Example.** `No key matches prod:catalog:product:v3:<id:int>.`

    **Sources.** <https://redis.io/docs/latest/commands/scan/#scan-guarantees> (only a full
    iteration is sure to return every key present from its start to its end),
    <https://redis.io/docs/latest/develop/using-commands/keyspace/> (Redis has no namespaces: the key
    schema lives in the writers).
    """

    id = "DRF011"
    title = "Registered namespace without keys"
    default_severity = Severity.low
    remediation = (
        "Remove the namespace from the design if it is retired, or correct its pattern to the real keys."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        report = report_of(ctx)
        if report.status != "completed" or not report.complete:
            return
        for ns, entry in _scanned_namespaces(ctx):
            if entry.keys == 0:
                yield self.finding(
                    namespace_target(ns.name),
                    f"No key matches {ns.pattern} among the {report.keys_scanned:,} keys of a complete scan.",
                )


class DRF012(DriftRule):
    """The cache answers few lookups from memory.

    It fires when `keyspace_hits / (hits + misses)` is below `DRF012.min_hit_ratio` (default
    0.8) with at least `DRF012.min_lookups` (default 10,000) lookups since the server started.

    **Why it matters.** A cache that misses often does the source's work twice: every miss is a
    lookup, a read from the source and a write. Low hit ratios come from TTLs shorter than the
    reuse interval, keys that differ per request, or memory too small for the working set.

    **What to do instead.** Compare TTLs with how often entries are reused, remove per-request
    parts from keys, check evictions; a low ratio can also be normal for negative caches.

    **Example.** `Hit ratio 0.42 (420,000 hits, 580,000 misses).`

    **Sources.** <https://redis.io/docs/latest/develop/reference/eviction/#using-the-info-command>
    (the hit percentage from `keyspace_hits` and `keyspace_misses`; when it is low, check
    evictions and TTLs that are too short), <https://learn.microsoft.com/azure/redis/monitor-cache-reference>
    (Cache Misses is `keyspace_misses`; misses are normal with cache-aside, examine the application
    logic when there are more than expected),
    <https://learn.microsoft.com/azure/architecture/best-practices/caching> (an expiration period
    that is too short reduces the benefit of the cache).
    """

    id = "DRF012"
    title = "Low cache hit ratio"
    default_severity = Severity.info
    thresholds = {"DRF012.min_hit_ratio": 0.8, "DRF012.min_lookups": 10000}
    remediation = "Check TTLs against reuse intervals, per-request key parts and evictions."

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        server = report_of(ctx).server
        hits, misses = server.keyspace_hits, server.keyspace_misses
        if hits is None or misses is None:
            return
        lookups = hits + misses
        # No lookups is no ratio, whatever the policy's minimum (which may be 0).
        if (
            lookups
            and lookups >= ctx.threshold("DRF012.min_lookups")
            and hits / lookups < ctx.threshold("DRF012.min_hit_ratio")
        ):
            yield self.finding(
                instance_target(_instance_name(ctx)),
                f"Hit ratio {hits / lookups:.2f} ({hits:,} hits, {misses:,} misses since the server started).",
            )


class DRF013(DriftRule):
    """Memory is badly fragmented.

    It fires when `mem_fragmentation_ratio` is above `DRF013.max_ratio` (default 1.5) while used
    memory is at least `DRF013.min_used_bytes` (default 100 MB; below that the ratio means little).

    **Why it matters.** The server holds much more memory from the system than its data needs;
    on a managed instance that memory counts against the size you pay for, and evictions or OOM
    errors start earlier than the data size suggests.

    **What to do instead.** Enable active defragmentation where the service allows it, avoid
    churn between very different value sizes, or schedule a failover/restart to compact memory.

    **Example.** `mem_fragmentation_ratio 2.10 with 1.2 GiB used.`

    **Sources.** <https://learn.microsoft.com/azure/redis/troubleshoot-server#high-memory-usage>
    (`used_memory_rss` above 1.5 times `used_memory` means fragmentation; a fragmented cache under
    memory pressure is failed over to recover memory),
    <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-memory-management>
    (large values leave memory fragmented; `maxfragmentationmemory-reserved`),
    <https://redis.io/docs/latest/commands/info/> (`mem_fragmentation_ratio`; a high ratio over a few
    megabytes is no sign of an issue).
    """

    id = "DRF013"
    title = "High memory fragmentation"
    default_severity = Severity.medium
    thresholds = {"DRF013.max_ratio": 1.5, "DRF013.min_used_bytes": 100_000_000}
    remediation = (
        "Enable active defragmentation where the service allows it, or compact memory by a failover."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        server = report_of(ctx).server
        ratio, used = server.mem_fragmentation_ratio, server.used_memory
        if ratio is None or used is None:
            return
        if ratio > ctx.threshold("DRF013.max_ratio") and used >= ctx.threshold("DRF013.min_used_bytes"):
            yield self.finding(
                instance_target(_instance_name(ctx)),
                f"mem_fragmentation_ratio {ratio:.2f} with {format_bytes(used)} used.",
            )


class DRF014(DriftRule):
    """Too many client connections, or connections refused.

    It fires when the connected clients on a node exceed `DRF014.max_clients_share` (default
    0.8, 80%) of the connection limit of the instance's Azure size, when the design names its
    `sku` and the platform catalog knows the size's limit (Microsoft publishes it per size for
    Azure Managed Redis and Azure Cache for Redis); otherwise above `DRF014.max_clients` (default
    1,000). Any `rejected_connections` since the server started fire it too. The clients counted
    are those of the busiest node.

    **Why it matters.** Thousands of connections mean clients open one per request or per thread
    instead of reusing a pool; each costs server memory and CPU, and at the limit new connections
    are refused, which applications see as an outage.

    **What to do instead.** Use one shared, bounded connection pool (or one multiplexed
    connection) per process, and close what you open. If the connections are all needed, move to
    a size with a higher connection limit.

    **Example.** `12,400 connected clients, 83% of the B10 limit of 15,000; 37 connections
    rejected since the server started.`

    **Sources.** <https://learn.microsoft.com/azure/redis/overview> (connection limits of Azure
    Managed Redis per size), <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-configure>
    (`maxclients` of Azure Cache for Redis per size; once reached, new connections are closed),
    <https://learn.microsoft.com/azure/redis/best-practices-connection> (caches limit connections per
    tier: close the old connections when recreating them),
    <https://learn.microsoft.com/azure/redis/best-practices-server-load> (creating and closing
    connections is expensive for the server), <https://redis.io/docs/latest/commands/info/>
    (`connected_clients`; `rejected_connections` because of the `maxclients` limit).
    """

    id = "DRF014"
    title = "Too many connections"
    default_severity = Severity.medium
    thresholds = {"DRF014.max_clients": 1000, "DRF014.max_clients_share": 0.8}
    remediation = "Reuse connections: one bounded pool (or one multiplexed connection) per process."

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        name = _instance_name(ctx)
        server = report_of(ctx).server
        clients, rejected = server.connected_clients, server.rejected_connections
        parts = []
        if clients is not None:
            sku = self._sku(ctx, name)
            if sku is not None and sku.max_connections:
                share = ctx.threshold("DRF014.max_clients_share")
                if clients > share * sku.max_connections:
                    parts.append(
                        f"{clients:,} connected clients, {_pct(clients, sku.max_connections)} of the {sku.name} "
                        f"limit of {sku.max_connections:,}"
                    )
            elif clients > ctx.threshold("DRF014.max_clients"):
                parts.append(f"{clients:,} connected clients")
        if rejected:
            parts.append(f"{rejected:,} connections rejected since the server started")
        if parts:
            yield self.finding(instance_target(name), "; ".join(parts) + ".")

    @staticmethod
    def _sku(ctx: ScanContext, name: str):
        try:
            instance = ctx.instance(name)
        except KeyError:
            return None
        return platform.instance_sku(instance)


# DRF015: commands that walk the whole keyspace or a whole collection (redis.io time complexity).
EXPENSIVE_COMMANDS = (
    "KEYS",  # O(N), N keys in the database
    "FLUSHALL",  # O(N), N keys in all databases
    "FLUSHDB",  # O(N), N keys in the database
    "SMEMBERS",  # O(N), N members
    "HGETALL",  # O(N), N fields
    "LRANGE",  # O(S+N)
    "ZRANGE",  # O(log(N)+M), M elements returned
    "SORT",  # O(N+M*log(M))
    "SUNION",  # O(N), N members of all given sets
    "SINTER",  # O(N*M) worst case
    "SDIFF",  # O(N), N members of all given sets
)


class DRF015(DriftRule):
    """The slow log holds commands that walk the whole keyspace or a whole collection.

    The scan reads `SLOWLOG GET` (the last 128 entries per node) when it begins, keeping only
    command names and counts, never their arguments, which may hold key names and values with
    personal data. It fires when the log holds KEYS, FLUSHALL, FLUSHDB, SMEMBERS, HGETALL,
    LRANGE, ZRANGE, SORT, SUNION, SINTER or SDIFF. Each of them costs time in proportion to
    the keys or elements it touches (KEYS is O(N); each command's page gives its complexity).
    The scanner's own commands are left out.

    **Why it matters.** Redis runs commands one at a time: "Redis command processing is
    single-threaded. Any command that takes a long time to run can block all others that come
    after it" (Microsoft's troubleshooting guide for latency and timeouts). Microsoft's guidance
    is to avoid such operations, naming KEYS first. Every client waits while one of them runs:
    timeouts elsewhere, failovers under load.

    **What to do instead.** Iterate with SCAN, HSCAN, SSCAN and ZSCAN; read ranges in pages
    (`LRANGE key 0 99`, `ZRANGE … LIMIT`); keep collections small (DRF016); compute set algebra
    on small sets only; never flush a shared production cache (`FLUSHALL ASYNC` where a flush is
    really meant).

    **Example.** `The slow log holds KEYS 12 times, HGETALL 3 times (of 128 entries read).`

    **Sources.** <https://learn.microsoft.com/azure/redis/troubleshoot-timeouts#long-running-commands>
    (single-threaded processing; find expensive commands with SLOWLOG GET; SCAN instead of KEYS),
    <https://learn.microsoft.com/azure/redis/best-practices-development> (avoid expensive operations
    such as KEYS), <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-best-practices-server-load>
    (avoid long-running commands), <https://redis.io/docs/latest/commands/keys/> (O(N)),
    <https://redis.io/docs/latest/commands/slowlog-get/> (what the slow log records).
    """

    id = "DRF015"
    title = "Expensive commands in the slow log"
    default_severity = Severity.medium
    remediation = (
        "Replace KEYS with SCAN and whole-collection reads with HSCAN/SSCAN/ZSCAN or paged ranges; keep "
        "collections small; do not flush a shared production cache."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        slowlog = report_of(ctx).slowlog
        found = [c for c in slowlog.commands if c.command in EXPENSIVE_COMMANDS and c.count > 0]
        if not found:
            return
        found.sort(key=lambda c: (-c.count, c.command))
        listed = ", ".join(f"{c.command} {self._times(c.count)}" for c in found)
        slowest = max(found, key=lambda c: c.max_us)
        yield self.finding(
            instance_target(_instance_name(ctx)),
            f"The slow log holds {listed} (of {slowlog.entries:,} entries read; the slowest, "
            f"{slowest.command}, ran {_micros(slowest.max_us)}): each walks the whole keyspace or a whole "
            "collection while every other client waits.",
        )

    @staticmethod
    def _times(n: int) -> str:
        return "once" if n == 1 else f"{n:,} times"


def _micros(us: int) -> str:
    if us >= 1_000_000:
        return f"{us / 1_000_000:.1f} s"
    if us >= 1000:
        return f"{us / 1000:.1f} ms"
    return f"{us} µs"


class DRF016(DriftRule):
    """Collections with too many elements.

    For every key whose memory the scan measures (the sampled keys; all of them with
    `--memory-sample 1`), it also reads the element count with the type's own O(1), read-only
    command: HLEN, SCARD, ZCARD, LLEN or XLEN. It fires when a hash, set, sorted set, list or
    stream holds more than `DRF016.max_elements` (default 10,000) elements, naming the biggest
    keys, masked, with their counts. Unregistered keys get one finding on the instance.

    **Why it matters.** A big key makes each command on it slow: reading it whole (HGETALL,
    SMEMBERS, LRANGE 0 -1) blocks the server, deleting it blocks it too (unless UNLINK), and
    it cannot be split across shards, so one shard carries its memory and traffic. Microsoft
    advises "more keys and smaller values".

    **What to do instead.** Split the collection by a bucket in the key (`feed:<user>:<month>`),
    cap it (`LTRIM`, `ZREMRANGEBYRANK`, `XADD … MAXLEN`), or expire old fields; read it in pages.

    **Example.** `3 of 1,204 measured collections hold more than 10,000 elements; the biggest:
    prod:feeds:follow:v1:42 (set, 250,311 elements).`

    **Sources.** <https://learn.microsoft.com/azure/redis/best-practices-development> (more keys and
    smaller values), <https://redis.io/docs/latest/develop/using-commands/keyspace/#scan> (commands
    such as SMEMBERS can block the server for seconds on big collections),
    <https://redis.io/docs/latest/commands/unlink/> (`DEL` blocks while it frees memory, `UNLINK`
    does not), <https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/> (every
    key maps to one hash slot, served by one node).
    """

    id = "DRF016"
    title = "Collections with too many elements"
    default_severity = Severity.medium
    thresholds = {"DRF016.max_elements": 10000}
    remediation = (
        "Split big collections by a bucket in the key, cap them (LTRIM, ZREMRANGEBYRANK, XADD MAXLEN), and "
        "read them in pages."
    )

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        if not _usable(ctx):
            return
        report = report_of(ctx)
        limit = ctx.threshold("DRF016.max_elements")
        exact = report.elements_limit is not None and report.elements_limit == limit
        for ns, entry in _scanned_namespaces(ctx):
            message = self._message(report, ns.name, entry, limit, exact)
            if message:
                yield self.finding(namespace_target(ns.name), message)
        message = self._message(report, None, report.unmatched, limit, exact)
        if message:
            yield self.finding(instance_target(_instance_name(ctx)), "Unregistered keys: " + message)

    @staticmethod
    def _message(report, namespace: str | None, entry, limit: float, exact: bool) -> str | None:
        big = [b for b in report.big_collections if b.namespace == namespace and b.elements > limit]
        count = entry.collections_above_limit if exact else len(big)
        if not count:
            return None
        of = f" of {entry.collections_counted:,} measured" if entry.collections_counted else ""
        at_least = "" if exact else "at least "
        names = ", ".join(f"{b.key} ({b.type}, {b.elements:,} elements)" for b in big[:5])
        sampled = (
            " Only sampled keys are counted: there can be more."
            if report.memory_sampled and report.memory_sample_rate < 1.0
            else ""
        )
        return (
            f"{at_least}{count:,} collections{of} hold more than {int(limit):,} elements"
            + (f"; the biggest: {names}." if names else ".")
            + sampled
        )


RULES: list[DriftRule] = [
    DRF001(),
    DRF002(),
    DRF003(),
    DRF004(),
    DRF005(),
    DRF006(),
    DRF007(),
    DRF008(),
    DRF009(),
    DRF010(),
    DRF011(),
    DRF012(),
    DRF013(),
    DRF014(),
    DRF015(),
    DRF016(),
]
