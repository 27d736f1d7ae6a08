"""`run_scan`: connect, discover, read every primary, and turn the totals into a ScanReport."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from advisor.core.scan.aggregate import FIRST_TTL_BUCKET, TTL_BOUNDS_MS, Aggregator, NamespaceStats, type_name
from advisor.core.scan.connect import (
    Deadline,
    Endpoint,
    NodeConnection,
    Primary,
    _require_allowed,
    default_allowed_hosts,
    discover_primaries,
    make_ssl_context,
    open_node,
    parse_url,
    resolve_credentials,
    seed_addresses,
)
from advisor.core.scan.errors import ScanError, ScanInterrupted
from advisor.core.scan.facts import NodeFacts, databases_with_keys, keyspace_keys, node_facts
from advisor.core.scan.masking import mask_key
from advisor.core.scan.reader import COUNT_COMMANDS, Budget, KeyLimit, NodeOutcome, NodeReader, Sampler
from advisor.core.scan.report import (
    BigCollection,
    BiggestKey,
    InferredPattern,
    NamespaceReport,
    ScanReport,
    ServerFacts,
    ShardReport,
    SlotCount,
    SlowlogCommand,
    SlowlogSummary,
    TtlBucket,
    TtlSeconds,
    UnmatchedReport,
    UnreadableFact,
)
from advisor.core.scan.spec import NamespaceSpec, ScanOptions, ScanProgress, ScanTarget

ProgressCallback = Callable[[ScanProgress], None]
CancelCheck = Callable[[], bool]

# Commands outside the read loop, in the ops budget too: AUTH, CLIENT SETNAME, SELECT and PING
# to open a connection; INFO, CONFIG GET (twice) and SLOWLOG GET for a node's facts.
SETUP_OPS = 4
FACTS_OPS = 4
# Keys per batch under a budget: a twentieth of a second's budget (2 commands per key and a few
# more), so that two batches in flight always fit the budget with room to spare.
BUDGET_BATCHES_PER_S = 20


def _specs(namespaces: Iterable[Any]) -> list[NamespaceSpec]:
    return [ns if isinstance(ns, NamespaceSpec) else NamespaceSpec.from_namespace(ns) for ns in namespaces]


class _StopCheck:
    def __init__(self, cancel: CancelCheck | None):
        self._cancel = cancel
        self.cancelled = False

    def __call__(self) -> bool:
        if not self.cancelled and self._cancel is not None:
            self.cancelled = bool(self._cancel())
        return self.cancelled


def run_scan(
    target: ScanTarget,
    namespaces: Iterable[NamespaceSpec | Any],
    options: ScanOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> ScanReport:
    """Scan one instance read-only and report what its keys look like against its namespaces.

    Raises ScanError when the scan cannot start (host not allowed, unreachable, TLS, auth, a
    server that refuses INFO). Once reading has begun, failures end the scan early instead: the
    report comes back with `complete: false` and `error` saying why. `findings` is left empty:
    `evaluate_drift` fills it from the report and the design.

    `progress` is called about every `options.progress_interval` seconds and once at the end;
    `cancel` is asked before every batch, every 0.1 s while pausing for the ops budget and every
    0.5 s while waiting on a slow server, so it must be cheap (or do its expensive part only now
    and then). A cancelled scan returns its report with status `cancelled`.

    Time limits: each reply within `options.read_timeout`, the whole scan within
    `options.scan_timeout`; both are deadlines, so a server that trickles bytes cannot stretch
    them. A scan past its deadline ends like any failure once reading has begun.

    The steps: connect to the seed and discover the primaries; read every node's facts; walk
    every node's keys; judge how the scan ended; aggregate the totals into the report.
    """
    scan = _Scan(target, _specs(namespaces), options or ScanOptions(), cancel)
    try:
        try:
            seed = scan.connect(scan.url.endpoint)
            primaries = scan.discover(seed)
        except ScanInterrupted:
            return _stopped_before_reading(target, scan.started_at, scan.t0, scan.budget)
        reading = _Reading(scan, primaries, progress)
        ready = _read_facts(scan, reading, seed)
        _walk_keys(scan, reading, ready)
        verdict = _judge(scan, reading, seed)
        report = _aggregate(scan, reading, verdict)
        reading.reporter.final(report)
        return report
    finally:
        scan.close()


class _Scan:
    """What every step of one scan shares: where it connects and how, its budget, its deadline."""

    def __init__(
        self, target: ScanTarget, specs: list[NamespaceSpec], options: ScanOptions, cancel: CancelCheck | None
    ):
        self.target = target
        self.specs = specs
        self.options = options
        self.started_at = dt.datetime.now(dt.UTC)
        self.t0 = time.monotonic()
        self.deadline = Deadline(options.scan_timeout, start=self.t0)
        self.allowed = options.allowed_hosts if options.allowed_hosts is not None else default_allowed_hosts()
        self.url = parse_url(target.url, product=target.product, tier=target.tier)
        _require_allowed(self.url.endpoint.host, self.allowed)
        self.credentials = resolve_credentials(
            target.credential,
            url_username=self.url.username,
            url_password=self.url.password,
            environ=options.environ,
        )
        self.ssl_context = make_ssl_context(options.tls_ca_file) if self.url.endpoint.tls else None
        self.clustered = target.clustering == "oss"
        self.stop = _StopCheck(cancel)
        self.budget = Budget(options.max_ops, deadline=self.deadline)
        self.connections: list[NodeConnection] = []

    def budgeted(self, ops: int, call: Callable[[], Any]) -> Any:
        """`call`, counted in the ops budget as `ops` commands outside the read loop."""
        ticket = self.budget.acquire(ops, setup=True)
        try:
            return call()
        finally:
            self.budget.release(ticket)

    def connect(self, endpoint: Endpoint) -> NodeConnection:
        """An open, authenticated connection to one node; `close()` closes it with the others."""
        options = self.options
        conn = self.budgeted(
            SETUP_OPS,
            lambda: open_node(
                endpoint,
                self.credentials,
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
                ssl_context=self.ssl_context,
                db=0 if self.clustered else self.url.db,
                deadline=self.deadline,
                interrupt=self.stop,
            ),
        )
        self.connections.append(conn)
        return conn

    def discover(self, seed: NodeConnection) -> list[Primary]:
        """The primaries to read: every one a cluster announces, else the seed itself."""
        if not self.clustered:
            return [Primary(self.url.endpoint, "", 0)]
        return self.budgeted(1, lambda: discover_primaries(seed, self.allowed, seed_ips=seed_addresses(seed)))

    def close(self) -> None:
        for conn in self.connections:
            conn.close()


class _Reading:
    """What reading the nodes gathers: the totals, and per node its shard, facts and outcome."""

    def __init__(self, scan: _Scan, primaries: list[Primary], progress: ProgressCallback | None):
        options = scan.options
        self.primaries = primaries
        self.agg = Aggregator(
            scan.specs,
            top_n=options.top_n,
            examples=options.examples,
            max_patterns=options.max_patterns,
            cluster=scan.clustered,
            max_elements=options.max_elements,
            big_collections=options.big_collections,
        )
        self.key_limit = KeyLimit(options.max_keys)
        self.sampler = Sampler(options.memory_sample)
        self.count = (
            options.count
            if options.max_ops is None
            else max(1, min(options.count, options.max_ops // BUDGET_BATCHES_PER_S))
        )
        self.shards: list[ShardReport] = []
        self.facts: list[tuple[str, NodeFacts]] = []  # (node, its facts) for each node that gave them
        self.outcomes: list[tuple[str, NodeOutcome]] = []  # (node, how reading its keys went)
        self.errors: list[ScanError] = []
        self.notes: list[str] = []
        self.reporter = _Progress(progress, options.progress_interval, scan.t0, len(primaries))

    @property
    def node_facts(self) -> list[NodeFacts]:
        return [facts for _, facts in self.facts]


def _read_facts(
    scan: _Scan, reading: _Reading, seed: NodeConnection
) -> list[tuple[Primary, ShardReport, NodeConnection]]:
    """Every node's facts (INFO, CONFIG GET, SLOWLOG GET), and the nodes ready to be read.

    All facts first: the progress total then covers the whole keyspace from the first batch on,
    not one node at a time. A node that fails is left out with its error; on a single server
    (not a cluster) that failure ends the scan before it starts.
    """
    ready: list[tuple[Primary, ShardReport, NodeConnection]] = []
    for number, primary in enumerate(reading.primaries):
        shard = ShardReport(
            node=primary.endpoint.label, node_id=primary.node_id or None, slots=primary.slots or None
        )
        reading.shards.append(shard)
        if scan.stop():
            shard.error = "cancelled"
            continue
        try:
            conn = seed if _same(seed.endpoint, primary.endpoint) else scan.connect(primary.endpoint)
            facts = scan.budgeted(
                FACTS_OPS, lambda c=conn: node_facts(c, slowlog_entries=scan.options.slowlog_entries)
            )
        except ScanInterrupted:
            shard.error = "cancelled"
            continue
        except ScanError as exc:
            if number == 0 and not scan.clustered:
                raise
            shard.error = exc.reason
            reading.errors.append(exc)
            continue
        reading.facts.append((primary.endpoint.label, facts))
        shard.keys_total = keyspace_keys(facts.info, 0 if scan.clustered else scan.url.db)
        shard.used_memory = _int(facts.info.get("used_memory"))
        reading.reporter.add_estimate(shard.keys_total)
        ready.append((primary, shard, conn))
    return ready


def _walk_keys(
    scan: _Scan, reading: _Reading, ready: list[tuple[Primary, ShardReport, NodeConnection]]
) -> None:
    """SCAN every ready node to the end (or the budget, the deadline, a failure, a cancel)."""
    agg = reading.agg
    for primary, shard, conn in ready:
        if scan.stop():
            shard.error = "cancelled"
            continue
        reader = NodeReader(
            conn,
            agg,
            count=reading.count,
            sampler=reading.sampler,
            budget=scan.budget,
            key_limit=reading.key_limit,
            should_stop=scan.stop,
            on_batch=lambda outcome, _label=primary.endpoint.label: reading.reporter.batch(agg.keys, _label),
            credentials=scan.credentials,
            deadline=scan.deadline,
        )
        outcome = reader.run()
        reading.outcomes.append((primary.endpoint.label, outcome))
        shard.keys = outcome.keys
        shard.complete = outcome.complete
        if outcome.error is not None:
            shard.error = outcome.error.reason
            reading.errors.append(outcome.error)
        elif outcome.stopped:
            shard.error = "cancelled"
        reading.reporter.node_done(agg.keys, primary.endpoint.label)
        if outcome.key_errors:
            reading.notes.append(
                f"{primary.endpoint.label}: {outcome.key_errors} keys answered TYPE with an error"
            )


@dataclass(frozen=True)
class _Verdict:
    """How the scan ended."""

    cancelled: bool
    complete: bool
    finished_at: dt.datetime
    error: str | None
    error_kind: str | None


def _judge(scan: _Scan, reading: _Reading, seed: NodeConnection) -> _Verdict:
    """Complete, cancelled or cut short, and why; with the notes a reader of the report needs."""
    primaries, node_facts_list = reading.primaries, reading.node_facts
    if seed.endpoint.host != primaries[0].endpoint.host and scan.clustered:
        reading.notes.append(f"cluster nodes announce themselves as {primaries[0].endpoint.host}")
    if not scan.clustered and node_facts_list and node_facts_list[0].info.get("cluster_enabled") == "1":
        reading.notes.append(
            "the server runs in cluster mode but the instance is not registered with OSS clustering: "
            "only this node's keys were scanned"
        )
    cancelled = scan.stop.cancelled
    errors = reading.errors
    complete = (
        not cancelled
        and not errors
        and len(reading.outcomes) == len(primaries)
        and all(o.complete for _, o in reading.outcomes)
    )
    finished_at = dt.datetime.now(dt.UTC)
    first_error = errors[0] if errors else None
    if first_error is None and not complete and not cancelled and reading.key_limit.exhausted:
        error_text, error_kind = f"stopped after max_keys={scan.options.max_keys} keys", None
    elif first_error is not None:
        error_text = first_error.reason if len(errors) == 1 else "; ".join(e.reason for e in errors[:3])
        error_kind = first_error.kind
    elif cancelled:
        error_text, error_kind = "cancelled", None
    else:
        error_text, error_kind = None, None
    return _Verdict(cancelled, complete, finished_at, error_text, error_kind)


def _aggregate(scan: _Scan, reading: _Reading, verdict: _Verdict) -> ScanReport:
    """The totals, node facts and verdict as one ScanReport."""
    options, target, specs, agg = scan.options, scan.target, scan.specs, reading.agg
    node_facts_list = reading.node_facts
    return ScanReport(
        instance=target.instance,
        status="cancelled" if verdict.cancelled else "completed",
        started_at=scan.started_at,
        finished_at=verdict.finished_at,
        duration_s=round(time.monotonic() - scan.t0, 3),
        keys_scanned=agg.keys,
        complete=verdict.complete,
        namespaces=[_namespace_report(spec, agg.stats[i]) for i, spec in enumerate(specs)],
        unmatched=_unmatched_report(
            agg,
            target.instance,
            1.0
            if verdict.complete or not reading.reporter.estimate
            else agg.keys / reading.reporter.estimate,
        ),
        server=_server_facts(node_facts_list, scan.clustered),
        error=verdict.error,
        error_kind=verdict.error_kind,
        memory_sampled=options.memory_sample < 1.0,
        memory_sample_rate=options.memory_sample,
        memory_sampled_keys=agg.mem_sampled,
        keys_vanished=agg.vanished,
        keys_total=reading.reporter.estimate,
        clustered=scan.clustered,
        shards=reading.shards if scan.clustered else [],
        fullest_slots=[SlotCount(slot=s, keys=c) for s, c in agg.fullest_slots(options.fullest_slots)],
        slowlog=_slowlog(node_facts_list),
        ops_sent=scan.budget.ops,
        paused_s=round(scan.budget.paused_s, 3),
        notes=reading.notes,
        unreadable_facts=_unreadable(reading.facts, reading.outcomes),
        elements_limit=options.max_elements,
        big_collections=[
            BigCollection(
                key=mask_key(k, max_chars=120),
                type=type_name(t),
                elements=n,
                namespace=specs[i].name if i >= 0 else None,
            )
            for n, i, k, t in agg.biggest_collections()
        ],
    )


def _stopped_before_reading(
    target: ScanTarget, started_at: dt.datetime, t0: float, budget: Budget
) -> ScanReport:
    """The report of a scan cancelled while it was still connecting."""
    return ScanReport(
        instance=target.instance,
        status="cancelled",
        started_at=started_at,
        finished_at=dt.datetime.now(dt.UTC),
        duration_s=round(time.monotonic() - t0, 3),
        keys_scanned=0,
        complete=False,
        error="cancelled",
        ops_sent=budget.ops,
    )


def _same(a: Endpoint, b: Endpoint) -> bool:
    return a.host.lower() == b.host.lower() and a.port == b.port


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Progress:
    def __init__(self, callback: ProgressCallback | None, interval: float, t0: float, nodes: int):
        self.callback = callback
        self.interval = interval
        self.t0 = t0
        self.nodes_total = nodes
        self.nodes_done = 0
        self.estimate: int | None = None
        self._next = t0 + interval

    def add_estimate(self, keys: int | None) -> None:
        if keys is not None:
            self.estimate = (self.estimate or 0) + keys

    def _emit(self, keys: int, node: str | None) -> None:
        elapsed = time.monotonic() - self.t0
        self.callback(
            ScanProgress(
                keys_scanned=keys,
                keys_total=self.estimate,
                nodes_done=self.nodes_done,
                nodes_total=self.nodes_total,
                node=node,
                elapsed_s=round(elapsed, 3),
                keys_per_s=round(keys / elapsed, 1) if elapsed > 0 else 0.0,
            )
        )

    def batch(self, keys: int, node: str) -> None:
        if self.callback is not None and time.monotonic() >= self._next:
            self._next = time.monotonic() + self.interval
            self._emit(keys, node)

    def node_done(self, keys: int, node: str) -> None:
        self.nodes_done += 1

    def final(self, report: ScanReport) -> None:
        if self.callback is not None:
            self._emit(report.keys_scanned, None)


def _seconds(ms: float | None) -> int | None:
    return None if ms is None else round(ms / 1000)


def _ttl_histogram(stats: NamespaceStats) -> list[TtlBucket]:
    out = []
    for b in sorted(stats.hist):
        c = stats.hist[b]
        if c and b >= FIRST_TTL_BUCKET:
            le = TTL_BOUNDS_MS[b] / 1000 if b < len(TTL_BOUNDS_MS) else None
            out.append(TtlBucket(le_seconds=le, keys=c))
    return out


def _types(stats: NamespaceStats) -> dict[str, int]:
    return _type_counts(stats.types)


def _type_counts(counter) -> dict[str, int]:
    out: dict[str, int] = {}
    for reply, c in counter.items():
        if not c:
            continue
        name = type_name(reply)
        out[name] = out.get(name, 0) + c
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _memory(stats: NamespaceStats) -> tuple[int, bool]:
    if stats.mem_n >= stats.keys:
        return stats.mem_sum, False
    if not stats.mem_n:
        return 0, True
    return round(stats.mem_sum / stats.mem_n * stats.keys), True


def _biggest(stats: NamespaceStats) -> list[BiggestKey]:
    return [
        BiggestKey(key=mask_key(k, max_chars=120), memory_bytes=m, type=type_name(t))
        for m, k, t in stats.biggest()
    ]


def _namespace_report(spec: NamespaceSpec, stats: NamespaceStats) -> NamespaceReport:
    memory, estimated = _memory(stats)
    return NamespaceReport(
        name=spec.name,
        keys=stats.keys,
        without_ttl=stats.without_ttl,
        types=_types(stats),
        memory_bytes=memory,
        memory_estimated=estimated,
        ttl_seconds=TtlSeconds(
            min=_seconds(stats.ttl_min_ms),
            p50=_seconds(stats.ttl_quantile_ms(0.5)),
            max=_seconds(stats.ttl_max_ms),
            p90=_seconds(stats.ttl_quantile_ms(0.9)),
            p99=_seconds(stats.ttl_quantile_ms(0.99)),
        ),
        memory_sampled_keys=stats.mem_n,
        ttl_above_design=stats.above_ttl,
        ttl_limit_seconds=None if spec.ttl_limit_ms is None else spec.ttl_limit_ms / 1000,
        oversized_keys=stats.oversized,
        memory_limit_bytes=spec.memory_limit_bytes,
        biggest_keys=_biggest(stats),
        examples=list(stats.examples),
        personal_data=dict(sorted(stats.pii.items())),
        personal_data_example=stats.pii_example,
        ttl_histogram=_ttl_histogram(stats),
        without_ttl_types=_type_counts(stats.no_ttl_types),
        collections_counted=stats.elements_n,
        collections_above_limit=stats.elements_over,
    )


def _unmatched_report(agg: Aggregator, instance: str | None = None, coverage: float = 1.0) -> UnmatchedReport:
    stats = agg.unmatched
    patterns, other = agg.inferrer.result(instance=instance, coverage=coverage)
    memory, estimated = _memory(stats)
    return UnmatchedReport(
        keys=stats.keys,
        patterns=[InferredPattern(**p) for p in patterns],
        other_keys=other,
        without_ttl=stats.without_ttl,
        types=_types(stats),
        memory_bytes=memory,
        memory_estimated=estimated,
        personal_data=dict(sorted(stats.pii.items())),
        personal_data_example=stats.pii_example,
        biggest_keys=_biggest(stats),
        collections_counted=stats.elements_n,
        collections_above_limit=stats.elements_over,
    )


def _sum(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _server_facts(facts: list[NodeFacts], clustered: bool) -> ServerFacts:
    if not facts:
        return ServerFacts(cluster_enabled=clustered, nodes=0)
    infos = [f.info for f in facts]

    def ints(name: str) -> list[int | None]:
        return [_int(i.get(name)) for i in infos]

    hits, misses = _sum(ints("keyspace_hits")), _sum(ints("keyspace_misses"))
    hit_ratio = None
    if hits is not None and misses is not None and hits + misses > 0:
        hit_ratio = round(hits / (hits + misses), 4)
    used = _sum(ints("used_memory"))
    if len(infos) == 1:
        try:
            frag = float(infos[0]["mem_fragmentation_ratio"])
        except (KeyError, ValueError):
            frag = None
    else:
        rss = _sum(ints("used_memory_rss"))
        frag = round(rss / used, 2) if rss is not None and used else None
    policies = [f.maxmemory_policy for f in facts]
    first = facts[0]
    clients = [c for c in ints("connected_clients") if c is not None]
    return ServerFacts(
        redis_version=infos[0].get("redis_version"),
        maxmemory_policy=policies[0],
        used_memory=used,
        evicted_keys=_sum(ints("evicted_keys")),
        hit_ratio=hit_ratio,
        maxmemory_policy_source=first.policy_source,
        maxmemory_policy_error=first.config_error,
        maxmemory=_sum(ints("maxmemory")),
        mem_fragmentation_ratio=frag,
        expired_keys=_sum(ints("expired_keys")),
        keyspace_hits=hits,
        keyspace_misses=misses,
        connected_clients=max(clients) if clients else None,
        rejected_connections=_sum(ints("rejected_connections")),
        cluster_enabled=clustered or infos[0].get("cluster_enabled") == "1",
        nodes=len(facts),
        keyspace=_keyspace(infos),
        notify_keyspace_events=first.notify_keyspace_events,
    )


def _keyspace(infos: list[dict[str, str]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for info in infos:
        for db, keys in databases_with_keys(info).items():
            total[db] = total.get(db, 0) + keys
    return dict(sorted(total.items(), key=lambda kv: int(kv[0][2:])))


def _slowlog(facts: list[NodeFacts]) -> SlowlogSummary:
    durations: dict[str, list[int]] = {}
    entries = 0
    error = None
    for f in facts:
        entries += f.slowlog_entries
        error = error or f.slowlog_error
        for name, values in f.durations.items():
            durations.setdefault(name, []).extend(values)
    commands = [
        SlowlogCommand(command=name, count=len(v), total_us=sum(v), max_us=max(v))
        for name, v in durations.items()
    ]
    commands.sort(key=lambda c: (-c.total_us, c.command))
    return SlowlogSummary(entries=entries, commands=commands, error=error)


_COUNTED_TYPES = {command: type_name(t) for t, command in COUNT_COMMANDS.items()}


def _unreadable(
    facts: list[tuple[str, NodeFacts]], outcomes: list[tuple[str, NodeOutcome]]
) -> list[UnreadableFact]:
    """What the servers refused, one entry per command, naming the nodes that refused it."""
    found: dict[str, UnreadableFact] = {}

    def add(command: str, fact: str, reason: str, node: str) -> None:
        entry = found.get(command)
        if entry is None:
            found[command] = UnreadableFact(command=command, fact=fact, reason=reason, nodes=[node])
        elif node not in entry.nodes:
            entry.nodes.append(node)

    for label, f in facts:
        if f.config_error:
            fact = (
                "maxmemory-policy from CONFIG GET (taken from INFO instead)"
                if f.policy_source == "info"
                else "maxmemory-policy (the eviction policy could not be checked)"
            )
            add("CONFIG GET", fact, f.config_error.removeprefix("CONFIG GET refused: "), label)
        if f.slowlog_error:
            add(
                "SLOWLOG GET",
                "the slow log (expensive commands could not be checked)",
                f.slowlog_error.removeprefix("SLOWLOG GET refused: "),
                label,
            )
    for label, outcome in outcomes:
        for command, reason in outcome.refused.items():
            if command == "MEMORY USAGE":
                fact = "memory per key (memory figures, oversized values and the biggest keys are missing)"
            else:
                fact = f"element counts of {_COUNTED_TYPES.get(command, command)} keys (big collections not checked)"
            add(command, fact, reason, label)
    return list(found.values())
