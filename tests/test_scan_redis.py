"""Scans of real redis-server processes: exact drift, read-only ACL users, odd keys, limits."""

from __future__ import annotations

import json

import pytest
from scan_fixtures import (
    DRIFT_FINDINGS,
    DRIFT_INSTANCE,
    DRIFT_KEYS,
    DRIFT_MISSES,
    DRIFT_TOTAL,
    SCANNER_ACL,
    TODAY,
    add_acl_user,
    client,
    drift_design,
    drift_server,
    findings_summary,
    load_drift_keyspace,
    options,
)

from advisor.core.scan import ScanReport, ScanTarget, evaluate_drift, namespace_specs, run_scan
from advisor.core.scan import aggregate as aggregate_mod
from advisor.lib.redisproc import RedisProcess


@pytest.fixture(scope="module")
def lab():
    """The drift lab: a server (allkeys-lru) loaded with the keyspace of scan_fixtures."""
    with drift_server() as server:
        load_drift_keyspace(client(server))
        yield server


def _scan(server, design=None, url=None, **opts):
    design = design or drift_design(url or server.url)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    report = run_scan(target, namespace_specs(design, DRIFT_INSTANCE), options(**opts))
    return design, report


def test_it_finds_exactly_the_drift_that_was_loaded(lab):
    design, report = _scan(lab, memory_sample=1.0)
    assert report.status == "completed" and report.complete and report.error is None
    assert report.keys_scanned == DRIFT_TOTAL and report.keys_vanished == 0
    ns = {n.name: n for n in report.namespaces}
    assert {name: n.keys for name, n in ns.items()} == {k: DRIFT_KEYS[k] for k in ns}
    product = ns["product-cache"]
    assert product.without_ttl == 50
    assert product.ttl_above_design == 30
    assert product.types == {"string": 1085, "hash": 20}
    assert product.oversized_keys == 5
    assert product.memory_estimated is False and product.memory_sampled_keys == 1105
    assert len(product.biggest_keys) == 5 and all(k.memory_bytes > 5000 for k in product.biggest_keys)
    assert product.ttl_seconds.max == 86400 and product.ttl_seconds.min >= 598
    assert ns["user-by-email"].personal_data == {"email": 40}
    assert ns["user-by-email"].personal_data_example.endswith("***@example.com")
    assert all("@example.com" not in e or "***@" in e for e in ns["user-by-email"].examples)
    assert report.unmatched.keys == 420
    assert [(p.pattern, p.keys) for p in report.unmatched.patterns] == [
        ("legacy:session:<id:int>", 300),
        ("tmp:<id:uuid>", 120),
    ]
    assert (
        report.server.maxmemory_policy == "allkeys-lru" and report.server.maxmemory_policy_source == "config"
    )
    assert report.server.keyspace_misses == DRIFT_MISSES and report.server.hit_ratio == 0.0
    assert report.server.redis_version

    findings = evaluate_drift(design, DRIFT_INSTANCE, report, TODAY)
    assert findings_summary(findings) == DRIFT_FINDINGS
    by_rule = {(f.rule, f.target): f for f in findings}
    assert "50 of 1,105 keys" in by_rule[("DRF002", "namespace:product-cache")].message
    assert "30 of 1,105" in by_rule[("DRF003", "namespace:product-cache")].message
    assert "86400 s" in by_rule[("DRF003", "namespace:product-cache")].message
    assert (
        "20 of 1,105 keys are not string: hash 20" in by_rule[("DRF004", "namespace:product-cache")].message
    )
    assert by_rule[("DRF005", "namespace:product-cache")].message.startswith("5 keys of 1,105 measured")
    assert "40 keys contain e-mail addresses" in by_rule[("DRF006", "namespace:user-by-email")].message
    assert "allkeys-lru" in by_rule[("DRF007", "instance:lab-cache")].message
    assert "100 keys, 10.0 times" in by_rule[("DRF008", "namespace:rate-limits")].message
    messages = sorted(f.message for f in findings if f.rule == "DRF001")
    assert (
        messages[1].startswith("300 keys (18% of those scanned)") and "legacy:session:<id:int>" in messages[1]
    )
    assert (
        messages[0].startswith("120 keys (7.2% of those scanned)")
        and "they look like tmp:<id:uuid>" in messages[0]
        and "(example: tmp:0000…)" in messages[0]  # the uuid itself is never shown
    )

    # the report is the JSON of the contract
    data = json.loads(report.to_json())
    for field in (
        "instance",
        "status",
        "started_at",
        "finished_at",
        "duration_s",
        "keys_scanned",
        "complete",
    ):
        assert field in data
    assert set(data["namespaces"][0]) >= {
        "name",
        "keys",
        "without_ttl",
        "types",
        "memory_bytes",
        "memory_estimated",
    }
    assert set(data["namespaces"][0]["ttl_seconds"]) >= {"min", "p50", "max"}
    assert set(data["server"]) >= {
        "redis_version",
        "maxmemory_policy",
        "used_memory",
        "evicted_keys",
        "hit_ratio",
    }
    assert set(data["unmatched"]["patterns"][0]) == {"pattern", "keys", "example"}
    assert ScanReport.model_validate(data) == report


def test_sampled_memory_is_estimated_and_marked(lab):
    _, report = _scan(lab)  # default: memory for 1 key in 10
    product = report.namespace("product-cache")
    assert report.memory_sampled and report.memory_sample_rate == 0.1
    assert product.memory_estimated and 100 <= product.memory_sampled_keys <= 130
    assert 120 * 1105 < product.memory_bytes < 700 * 1105
    assert report.namespace("retired").memory_bytes == 0
    # small namespaces are measured all the same
    assert report.namespace("user-by-email").memory_sampled_keys >= 3


def test_policy_and_waivers_apply_to_drift(lab):
    extra = """\
policy:
  disable: [DRF012]
  severity: {DRF008: high}
  thresholds: {DRF008.max_ratio: 20}
waivers:
  - rule: DRF001
    target: instance:lab-cache
    reason: legacy sessions are being drained this quarter
    expires: 2027-01-31
    approved_by: platform-architects
"""
    design, report = _scan(lab, memory_sample=1.0)
    design = drift_design(lab.url, extra)
    findings = evaluate_drift(design, DRIFT_INSTANCE, report, TODAY)
    rules = [f.rule for f in findings]
    assert "DRF012" not in rules and "DRF008" not in rules  # disabled; 100 keys < 20 x 10
    waived = [f for f in findings if f.waived]
    assert [f.rule for f in waived] == ["DRF001", "DRF001"]
    assert waived[0].waiver.reason.startswith("legacy sessions")


def test_a_cut_short_scan_never_says_a_namespace_is_empty(lab):
    design, report = _scan(lab, max_keys=100)
    assert report.keys_scanned == 100 and not report.complete and report.status == "completed"
    assert "max_keys=100" in report.error
    rules = {f.rule for f in evaluate_drift(design, DRIFT_INSTANCE, report, TODAY)}
    assert "DRF011" not in rules


def test_a_scanner_user_with_only_the_allowed_commands_completes(lab, monkeypatch):
    add_acl_user(client(lab), "scanner", "scan-pw")
    monkeypatch.setenv("LAB_SCANNER_PW", "scan-pw")
    design = drift_design(f"redis://scanner@127.0.0.1:{lab.port}/0", credential="env:LAB_SCANNER_PW")
    _, report = _scan(lab, design=design, memory_sample=1.0)
    assert report.complete and report.keys_scanned == DRIFT_TOTAL
    assert report.server.maxmemory_policy_source == "config" and report.slowlog.error is None
    assert findings_summary(evaluate_drift(design, DRIFT_INSTANCE, report, TODAY)) == DRIFT_FINDINGS


def test_refused_config_get_and_slowlog_are_reported_not_fatal(lab, monkeypatch):
    narrow = SCANNER_ACL.replace("+config|get ", "").replace("+slowlog|get ", "")
    add_acl_user(client(lab), "narrow", "narrow-pw", narrow)
    monkeypatch.setenv("LAB_NARROW_PW", "narrow-pw")
    design = drift_design(f"redis://narrow@127.0.0.1:{lab.port}/0", credential="env:LAB_NARROW_PW")
    _, report = _scan(lab, design=design)
    assert report.complete
    assert report.server.maxmemory_policy_error.startswith("CONFIG GET refused: NOPERM")
    # INFO still tells the policy, so DRF007 is still judged
    assert report.server.maxmemory_policy == "allkeys-lru" and report.server.maxmemory_policy_source == "info"
    assert report.slowlog.error.startswith("SLOWLOG GET refused")


def test_the_slowlog_summary_has_command_names_and_durations_only():
    with RedisProcess(args=["--slowlog-log-slower-than", "0"]) as server:
        r = client(server)
        r.set("secret:key:name", "secret value")
        r.get("secret:key:name")
        design, report = _scan(server)
    text = report.slowlog.model_dump_json()
    assert "secret" not in text
    names = {c.command for c in report.slowlog.commands}
    assert {"SET", "GET"} <= names
    assert all(c.count >= 1 and c.max_us >= 0 for c in report.slowlog.commands)


def test_progress_is_reported_and_ends_at_the_total(lab):
    seen = []
    design = drift_design(lab.url)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    run_scan(target, namespace_specs(design, DRIFT_INSTANCE), options(count=100), progress=seen.append)
    assert len(seen) > 3
    assert seen[-1].keys_scanned == DRIFT_TOTAL and seen[-1].keys_total == DRIFT_TOTAL
    assert seen[-1].fraction == 1.0
    assert [p.keys_scanned for p in seen] == sorted(p.keys_scanned for p in seen)


def test_cancellation_stops_the_scan(lab):
    seen = []
    design = drift_design(lab.url)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    report = run_scan(
        target,
        namespace_specs(design, DRIFT_INSTANCE),
        options(count=50),
        progress=seen.append,
        cancel=lambda: len(seen) >= 2,
    )
    assert report.status == "cancelled" and not report.complete
    assert 0 < report.keys_scanned < DRIFT_TOTAL
    assert "DRF011" not in {f.rule for f in evaluate_drift(design, DRIFT_INSTANCE, report, TODAY)}


def test_the_ops_budget_slows_the_scan_down(lab):
    design, fast = _scan(lab)
    design, slow = _scan(lab, max_ops=2000, max_keys=1000)
    # ~1000 keys x (TYPE + PTTL) + 10% MEMORY USAGE + SCANs: > 2,100 commands at 2,000/s; the
    # batches are at most 200 keys (a tenth of a second of budget), so only the last is free.
    assert slow.ops_sent >= 2100
    assert slow.duration_s >= (slow.ops_sent - 450) / 2000
    assert slow.paused_s > 0.5
    assert fast.paused_s == 0


def test_keys_deleted_between_scan_and_type_count_as_vanished(lab, monkeypatch):
    """Delete keys right after SCAN returned them and before TYPE/PTTL/MEMORY USAGE ask about them."""
    with RedisProcess() as server:
        r = client(server)
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"prod:catalog:product:v3:{i}", "v", ex=600)
        p.execute()
        deleted = []
        real_match = aggregate_mod.Aggregator.match

        def match_then_delete(self, keys):
            doomed = keys[::4]
            if doomed:
                deleted.extend(doomed)
                r.delete(*doomed)
            return real_match(self, keys)

        monkeypatch.setattr(aggregate_mod.Aggregator, "match", match_then_delete)
        _, report = _scan(server, memory_sample=1.0)
    assert report.complete
    assert report.keys_vanished == len(deleted) > 400
    assert report.keys_scanned == 2000 - len(deleted)
    assert report.namespace("product-cache").keys == 2000 - len(deleted)
    assert report.namespace("product-cache").memory_sampled_keys == 2000 - len(deleted)


def test_odd_key_names_and_a_huge_value_scan_cleanly():
    with RedisProcess() as server:
        r = client(server)
        for i in range(20):
            r.set(b"bin:\xff\xfe\x00" + bytes([i]) + b":\r\n-ERR not an error", b"v")
        for i in range(3):
            r.set(b"long:" + bytes([97 + i]) * 100_000, b"v")
        r.set(b"prod:users:by-email:" + b"x" * 50_000 + b"/bob@example.com", b"v")
        r.set("huge:blob", b"\0" * (50 * 2**20))
        r.set("prod:catalog:product:v3:1", "x", ex=600)
        design, report = _scan(server, memory_sample=1.0)
    assert report.complete and report.keys_scanned == 26
    assert report.namespace("product-cache").keys == 1
    assert report.namespace("user-by-email").personal_data == {"email": 1}
    biggest = report.unmatched.biggest_keys[0]
    assert biggest.key == "huge:blob" and biggest.memory_bytes > 50 * 2**20
    text = report.to_json()
    assert len(text) < 100_000  # long names are shortened everywhere
    assert "@example.com" not in text.replace("***@example.com", "")
    patterns = [p.pattern for p in report.unmatched.patterns]
    assert sum(p.keys for p in report.unmatched.patterns) + report.unmatched.other_keys == 24
    assert "huge:blob" in patterns
    for p in patterns:
        from advisor.core.patterns import parse_pattern

        parse_pattern(p)


def test_evictions_of_sessions_are_drift():
    with RedisProcess(args=["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]) as server:
        r = client(server)
        for batch in range(20):
            p = r.pipeline(transaction=False)
            for i in range(100):
                p.set(f"prod:users:by-email:u{batch}-{i}", "s" * 2000, ex=1800)
            p.execute()
        assert r.info("stats")["evicted_keys"] > 0
        design, report = _scan(server)
    findings = {f.rule: f for f in evaluate_drift(design, DRIFT_INSTANCE, report, TODAY)}
    assert findings["DRF010"].severity.value == "high"
    assert "session namespace user-by-email" in findings["DRF010"].message
    assert findings["DRF010"].related == ["namespace:user-by-email", "namespace:rate-limits"]


def test_rejected_connections_are_drift():
    import socket

    with RedisProcess(args=["--maxclients", "1"]) as server:
        held = socket.create_connection(("127.0.0.1", server.port))
        held.sendall(b"PING\r\n")
        held.recv(16)
        refused = socket.create_connection(("127.0.0.1", server.port))
        refused.recv(256)  # -ERR max number of clients reached
        refused.close()
        held.close()
        import time

        time.sleep(0.2)
        design, report = _scan(server)
    assert report.server.rejected_connections >= 1
    findings = [f for f in evaluate_drift(design, DRIFT_INSTANCE, report, TODAY) if f.rule == "DRF014"]
    assert len(findings) == 1 and "rejected" in findings[0].message
