"""Drift rules on hand-made scan reports: the edges real servers do not easily produce."""

from __future__ import annotations

import datetime as dt

import pytest
from scan_fixtures import DRIFT_DESIGN, DRIFT_INSTANCE, TODAY, drift_design

from advisor.core.design import load_design
from advisor.core.rules.drift import RULES
from advisor.core.scan import ScanReport, evaluate_drift
from advisor.core.scan.report import NamespaceReport, ServerFacts, ShardReport, SlotCount, TtlSeconds

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def report(**fields) -> ScanReport:
    values = {
        "instance": DRIFT_INSTANCE,
        "status": "completed",
        "started_at": NOW,
        "finished_at": NOW,
        "duration_s": 1.0,
        "keys_scanned": 10,
        "complete": True,
        "server": ServerFacts(redis_version="7.0.15", maxmemory_policy="volatile-lru"),
        "namespaces": [ns(name) for name in ("product-cache", "user-by-email", "rate-limits", "retired")],
    }
    values.update(fields)
    return ScanReport(**values)


def ns(name: str, keys: int = 5, **fields) -> NamespaceReport:
    values = {
        "name": name,
        "keys": keys,
        "without_ttl": 0,
        "types": {"string": keys} if keys else {},
        "memory_bytes": 0,
        "memory_estimated": False,
        "ttl_seconds": TtlSeconds(),
    }
    values.update(fields)
    return NamespaceReport(**values)


def rules_of(r: ScanReport, extra: str = "") -> dict[str, list]:
    out: dict[str, list] = {}
    for f in evaluate_drift(drift_design("redis://127.0.0.1:6390/0", extra), DRIFT_INSTANCE, r, TODAY):
        out.setdefault(f.rule, []).append(f)
    return out


def test_a_clean_report_has_no_drift():
    assert rules_of(report()) == {}


def test_every_drift_rule_documents_what_why_and_what_to_do():
    assert [r.id for r in RULES] == [f"DRF{i:03d}" for i in range(1, 17)]
    for rule in RULES:
        doc = rule.documentation()
        assert "**Why it matters.**" in doc and "**What to do instead.**" in doc and "**Example.**" in doc
        assert rule.remediation


def test_an_unknown_policy_is_an_info_finding_not_a_pass():
    r = report(
        server=ServerFacts(
            redis_version="7.2.4", maxmemory_policy_error="CONFIG GET refused: ERR unknown command"
        )
    )
    (f,) = rules_of(r)["DRF007"]
    assert f.severity.value == "info" and "could not be checked (CONFIG GET refused" in f.message


def test_fragmentation_needs_memory_to_matter():
    frag = ServerFacts(redis_version="7", maxmemory_policy="volatile-lru", mem_fragmentation_ratio=2.4)
    assert "DRF013" not in rules_of(report(server=frag.model_copy(update={"used_memory": 50_000_000})))
    (f,) = rules_of(report(server=frag.model_copy(update={"used_memory": 200_000_000})))["DRF013"]
    assert f.message == "mem_fragmentation_ratio 2.40 with 190.7 MiB used."
    policy = "policy: {thresholds: {DRF013.max_ratio: 3}}\n"
    assert "DRF013" not in rules_of(
        report(server=frag.model_copy(update={"used_memory": 200_000_000})), policy
    )


@pytest.mark.parametrize(
    "clients, rejected, fires",
    [(1000, 0, False), (1001, 0, True), (5, 0, False), (5, 3, True), (None, None, False)],
)
def test_connections(clients, rejected, fires):
    server = ServerFacts(
        redis_version="7",
        maxmemory_policy="volatile-lru",
        connected_clients=clients,
        rejected_connections=rejected,
    )
    assert ("DRF014" in rules_of(report(server=server))) is fires


def _on_sku(sku: str, extra: str = ""):
    """The drift lab's design, its instance an Azure Managed Redis Balanced cache of size `sku`."""
    text = DRIFT_DESIGN.format(url="redis://127.0.0.1:6390/0", extra=extra, credential="none").replace(
        "    product: redis-oss\n    memory_gb: 1\n",
        f"    product: azure-managed-redis\n    tier: balanced\n    sku: {sku}\n    memory_gb: 12\n",
    )
    return load_design(text)


@pytest.mark.parametrize(
    "sku, clients, extra, fires",
    [
        # B10 accepts 30,000 connections (platform catalog): 80% is 24,000
        ("B10", 24_000, "", False),
        ("B10", 24_001, "", True),
        ("B10", 15_000, "policy: {thresholds: {DRF014.max_clients_share: 0.5}}\n", False),
        ("B10", 15_001, "policy: {thresholds: {DRF014.max_clients_share: 0.5}}\n", True),
        # a size the catalog does not know: the absolute threshold
        ("B99", 1000, "", False),
        ("B99", 1001, "", True),
        ("B99", 1500, "policy: {thresholds: {DRF014.max_clients: 2000}}\n", False),
    ],
)
def test_connections_against_the_skus_limit(sku, clients, extra, fires):
    from advisor.core import platform

    design = _on_sku(sku, extra)
    known = platform.instance_sku(design.instance(DRIFT_INSTANCE))
    assert (known is not None) is (sku == "B10")
    if known is not None:
        assert known.max_connections == 30_000
    server = ServerFacts(redis_version="7", maxmemory_policy="volatile-lru", connected_clients=clients)
    found = [
        f for f in evaluate_drift(design, DRIFT_INSTANCE, report(server=server), TODAY) if f.rule == "DRF014"
    ]
    assert bool(found) is fires
    if fires and sku == "B10":
        assert "of the B10 limit of 30,000" in found[0].message


# --------------------------------------------------------------------------------------------
# per-field TTLs (DRF002, DRF003)

CARTS = """\
  - name: carts
    team: catalog
    instance: lab-cache
    pattern: "prod:cart:<id:int>"
    classification: session
    data_type: hash
    ttl: {mode: per-field, seconds: 600, jitter_seconds: 60}
    value_bytes: {typical: 100, max: 1000}
    cardinality: 1000
    ops_per_sec: {reads: 10, writes: 1}
    data_classification: internal
    source_of_truth: cart-db
"""


def _with_carts(carts: NamespaceReport) -> dict[str, list]:
    namespaces = [ns(n) for n in ("product-cache", "user-by-email", "rate-limits", "retired")] + [carts]
    return rules_of(report(namespaces=namespaces), CARTS)


@pytest.mark.parametrize(
    "without_ttl, by_type, fires",
    [
        (5, {"hash": 5}, 0),  # per-field hashes never carry a key TTL: not drift
        (5, {"hash": 4, "string": 1}, 1),  # a string has no fields to expire
        (5, {}, 0),  # a report stored before the breakdown existed cannot tell
        (0, {}, 0),
    ],
)
def test_per_field_hashes_without_a_key_ttl_are_not_drf002(without_ttl, by_type, fires):
    types = {"hash": 5 - by_type.get("string", 0), "string": by_type.get("string", 0)}
    carts = ns("carts", keys=5, without_ttl=without_ttl, without_ttl_types=by_type, types=types)
    found = _with_carts(carts).get("DRF002", [])
    assert len(found) == fires
    if fires:
        assert found[0].message.startswith("1 of 5 keys (20%) are not hashes and have no TTL (string 1)")
        assert "per-field" in found[0].message


@pytest.mark.parametrize("without_ttl, fires", [(0, False), (1, True)])
def test_keys_without_the_designed_ttl(without_ttl, fires):
    namespaces = [ns("product-cache", without_ttl=without_ttl)] + [
        ns(n) for n in ("user-by-email", "rate-limits", "retired")
    ]
    assert ("DRF002" in rules_of(report(namespaces=namespaces))) is fires


@pytest.mark.parametrize("above, fires", [(0, False), (2, True)])
def test_per_field_fires_drf003_only_for_key_ttls_above_the_design(above, fires):
    carts = ns(
        "carts", keys=5, without_ttl=3, without_ttl_types={"hash": 3}, types={"hash": 5},
        ttl_above_design=above, ttl_seconds=TtlSeconds(min=500, max=7200 if above else 650),
    )  # fmt: skip
    found = _with_carts(carts).get("DRF003", [])
    assert bool(found) is fires
    if fires:
        assert found[0].message == (
            "2 of 5 keys have a key TTL above the per-field design's 10 min + 1 min jitter; the longest is 2 h."
        )


# --------------------------------------------------------------------------------------------
# DRF005: oversized values, named and masked


def test_oversized_values_name_the_biggest_keys_masked():
    from advisor.core.scan.report import BiggestKey

    big = [
        BiggestKey(key="prod:catalog:product:v3:1", memory_bytes=9000, type="string"),
        BiggestKey(key="prod:catalog:product:v3:2", memory_bytes=1100, type="string"),
        BiggestKey(key="prod:catalog:product:v3:3", memory_bytes=500, type="string"),
    ]
    namespaces = [
        ns(
            "product-cache",
            oversized_keys=2,
            memory_sampled_keys=40,
            memory_limit_bytes=1410,
            biggest_keys=big,
        )
    ] + [ns(n) for n in ("user-by-email", "rate-limits", "retired")]
    (f,) = rules_of(report(namespaces=namespaces))["DRF005"]
    assert f.message == (
        "2 keys of 40 measured are bigger than value_bytes.max (1,000 B) allows; the biggest: "
        "prod:catalog:product:v3:1 (string, 8.8 KiB)."
    )
    assert "prod:catalog:product:v3:3" not in f.message  # within the limit: not named
    # a collection's MEMORY USAGE is Redis's estimate from 5 sampled elements: say so
    big[0] = BiggestKey(key="prod:catalog:product:v3:9", memory_bytes=90_000, type="hash")
    namespaces[0] = namespaces[0].model_copy(update={"biggest_keys": big})
    (f,) = rules_of(report(namespaces=namespaces))["DRF005"]
    assert f.message.endswith(
        "the biggest: prod:catalog:product:v3:9 (hash, 87.9 KiB). MEMORY USAGE of a collection is an estimate "
        "from 5 sampled elements."
    )
    # the names in the message are the report's masked names, never raw ones
    namespaces[0] = namespaces[0].model_copy(
        update={
            "biggest_keys": [BiggestKey(key="prod:users:u***@example.com", memory_bytes=9000, type="string")]
        }
    )
    (f,) = rules_of(report(namespaces=namespaces))["DRF005"]
    assert "u***@example.com" in f.message


# --------------------------------------------------------------------------------------------
# DRF015: expensive commands in the slow log


def _slowlog(*commands: tuple[str, int]):
    from advisor.core.scan.report import SlowlogCommand, SlowlogSummary

    return SlowlogSummary(
        entries=sum(c for _, c in commands),
        commands=[
            SlowlogCommand(command=n, count=c, total_us=c * 20_000, max_us=20_000) for n, c in commands
        ],
    )


@pytest.mark.parametrize(
    "commands, message",
    [
        ([("GET", 50), ("SCAN", 3), ("SET", 2)], None),
        ([], None),
        (
            [("GET", 50), ("HGETALL", 1)],
            "The slow log holds HGETALL once (of 51 entries read; the slowest, HGETALL, ran 20.0 ms)",
        ),
        (
            [("HGETALL", 3), ("KEYS", 12), ("SET", 1)],
            "The slow log holds KEYS 12 times, HGETALL 3 times (of 16 entries read;",
        ),
        ([(name, 1) for name in ("FLUSHALL", "FLUSHDB", "SMEMBERS", "LRANGE", "ZRANGE")], "FLUSHALL once"),
        ([(name, 1) for name in ("SORT", "SUNION", "SINTER", "SDIFF")], "SDIFF once, SINTER once, SORT once"),
    ],
)
def test_expensive_commands_in_the_slow_log(commands, message):
    found = rules_of(report(slowlog=_slowlog(*commands))).get("DRF015", [])
    if message is None:
        assert found == []
    else:
        (f,) = found
        assert f.target == "instance:lab-cache" and f.severity.value == "medium"
        assert message in f.message


def test_a_refused_slow_log_is_no_finding():
    from advisor.core.scan.report import SlowlogSummary

    r = report(slowlog=SlowlogSummary(error="SLOWLOG GET refused: ERR unknown command 'SLOWLOG'"))
    assert "DRF015" not in rules_of(r)


# --------------------------------------------------------------------------------------------
# DRF016: collections with too many elements


def _big(*items: tuple[str | None, int], limit: int | None = 10_000, counted: int = 100):
    from advisor.core.scan.report import BigCollection, UnmatchedReport

    big = [
        BigCollection(key=f"prod:catalog:product:v3:{i}", type="hash", elements=n, namespace=name)
        for i, (name, n) in enumerate(items)
    ]
    over = {name: sum(1 for n2, e in items if n2 == name and e > (limit or 0)) for name, _ in items}
    namespaces = [
        ns(n, collections_counted=counted, collections_above_limit=over.get(n, 0))
        for n in ("product-cache", "user-by-email", "rate-limits", "retired")
    ]
    unmatched = UnmatchedReport(
        keys=0, collections_counted=counted, collections_above_limit=over.get(None, 0)
    )
    return report(namespaces=namespaces, unmatched=unmatched, elements_limit=limit, big_collections=big)


@pytest.mark.parametrize(
    "items, extra, expected",
    [
        ([("product-cache", 10_000)], "", {}),
        ([("product-cache", 10_001)], "", {"namespace:product-cache": "1 collections of 100 measured"}),
        ([("product-cache", 15_000)], "policy: {thresholds: {DRF016.max_elements: 20000}}\n", {}),
        (
            [("product-cache", 25_000), ("product-cache", 15_000)],
            "policy: {thresholds: {DRF016.max_elements: 20000}}\n",
            {"namespace:product-cache": "at least 1 collections of 100 measured hold more than 20,000"},
        ),
        ([(None, 20_000)], "", {"instance:lab-cache": "Unregistered keys: 1 collections of 100 measured"}),
    ],
)
def test_big_collections(items, extra, expected):
    found = {f.target: f for f in rules_of(_big(*items), extra).get("DRF016", [])}
    assert set(found) == set(expected)
    for target, start in expected.items():
        assert found[target].message.startswith(start)
        assert "elements)" in found[target].message  # names the keys with their counts


def test_big_collections_name_the_biggest_keys_with_their_counts():
    (f,) = rules_of(_big(("product-cache", 250_311), ("product-cache", 12_000), ("product-cache", 9000)))[
        "DRF016"
    ]
    assert f.message == (
        "2 collections of 100 measured hold more than 10,000 elements; the biggest: prod:catalog:product:v3:0 "
        "(hash, 250,311 elements), prod:catalog:product:v3:1 (hash, 12,000 elements). Only sampled keys are "
        "counted: there can be more."
    )


@pytest.mark.parametrize(
    "hits, misses, fires", [(7000, 2999, False), (7000, 3000, True), (80, 20, False), (8000, 2000, False)]
)
def test_hit_ratio(hits, misses, fires):
    server = ServerFacts(
        redis_version="7", maxmemory_policy="volatile-lru", keyspace_hits=hits, keyspace_misses=misses
    )
    assert ("DRF012" in rules_of(report(server=server))) is fires


def test_empty_namespaces_only_on_a_complete_scan():
    namespaces = [ns("product-cache"), ns("user-by-email"), ns("rate-limits"), ns("retired", keys=0)]
    assert [f.target for f in rules_of(report(namespaces=namespaces))["DRF011"]] == ["namespace:retired"]
    for cut in (
        {"complete": False},
        {"status": "cancelled", "complete": False},
        {"complete": False, "error": "stopped after max_keys=10 keys"},
    ):
        assert "DRF011" not in rules_of(report(namespaces=namespaces, **cut))


def test_a_failed_scan_gives_no_finding_at_all():
    r = report(status="failed", complete=False, keys_scanned=0, namespaces=[], server=ServerFacts())
    assert rules_of(r) == {}


def test_stored_reports_work_as_dicts():
    namespaces = [ns("product-cache", without_ttl=2), ns("user-by-email"), ns("rate-limits"), ns("retired")]
    data = report(namespaces=namespaces).model_dump(mode="json")
    findings = evaluate_drift(drift_design("redis://127.0.0.1:6390/0"), DRIFT_INSTANCE, data, TODAY)
    assert [f.rule for f in findings] == ["DRF002"]


def test_skew_needs_enough_keys_and_a_complete_scan_for_slots():
    shards = [
        ShardReport(node=f"n{i}:1", keys=k, keys_total=k, complete=True) for i, k in enumerate((800, 50, 50))
    ]
    few = report(clustered=True, shards=shards, keys_scanned=900, fullest_slots=[SlotCount(slot=1, keys=800)])
    assert "DRF009" not in rules_of(few)
    shards = [
        ShardReport(node=f"n{i}:1", keys=k, keys_total=k, complete=True)
        for i, k in enumerate((8000, 500, 500))
    ]
    many = report(
        clustered=True, shards=shards, keys_scanned=9000, fullest_slots=[SlotCount(slot=1, keys=8000)]
    )
    assert len(rules_of(many)["DRF009"]) == 2
    assert (
        len(rules_of(many.model_copy(update={"complete": False}))["DRF009"]) == 1
    )  # the shard, not the slot


def test_pattern_findings_are_capped():
    from advisor.core.scan.report import InferredPattern, UnmatchedReport

    patterns = [
        InferredPattern(pattern=f"fam{i}:<id:int>", keys=100 - i, example=f"fam{i}:1") for i in range(60)
    ]
    r = report(
        unmatched=UnmatchedReport(keys=sum(p.keys for p in patterns) + 7, patterns=patterns, other_keys=7)
    )
    found = rules_of(r)["DRF001"]
    assert len(found) == 51
    rest = sum(p.keys for p in patterns[50:]) + 7
    assert [f.message for f in found if "more keys" in f.message] == [
        f"{rest:,} more keys match no registered namespace, in 10 further patterns and in families too small "
        "to list one by one."
    ]
