"""Drift rules on hand-made scan reports: the edges real servers do not easily produce."""

from __future__ import annotations

import datetime as dt

import pytest
from scan_fixtures import DRIFT_INSTANCE, TODAY, drift_design

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
    assert [r.id for r in RULES] == [f"DRF{i:03d}" for i in range(1, 15)]
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
