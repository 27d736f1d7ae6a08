"""Scans of real redis-server processes: exact drift, read-only ACL users, odd keys, limits."""

from __future__ import annotations

import json
import math
import time

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
from advisor.core.units import format_duration
from advisor.lib.redisproc import RedisProcess


@pytest.fixture(scope="module")
def lab():
    """The drift lab: a server (allkeys-lru) loaded with the keyspace of scan_fixtures."""
    with drift_server() as server:
        # Remaining TTLs shrink from the moment each key is set, so the clock starts before the
        # first one is: read after the load, a slow load (a loaded machine) would leave keys older
        # than the clock says, and a TTL of 86400 could read 86398 against a bound of 86399.
        server.load_started_at = time.monotonic()
        load_drift_keyspace(client(server))
        yield server


def _scan(server, design=None, url=None, **opts):
    design = design or drift_design(url or server.url)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    report = run_scan(target, namespace_specs(design, DRIFT_INSTANCE), options(**opts))
    return design, report


def test_it_finds_exactly_the_drift_that_was_loaded(lab):
    design, report = _scan(lab, memory_sample=1.0)
    # Remaining TTLs count down from the load, and the report rounds them to whole seconds: a key
    # set with EX 86400 reads 86399 once more than half a second has passed (a loaded machine).
    # `aged` bounds how long ago any key was set, so round(86400 - elapsed) >= 86400 - aged.
    aged = math.ceil(time.monotonic() - lab.load_started_at)
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
    assert 86400 - aged <= product.ttl_seconds.max <= 86400
    assert 600 - aged <= product.ttl_seconds.min <= 600
    assert product.without_ttl_types == {"string": 50}
    assert product.collections_counted == 20 and product.collections_above_limit == 0  # HLEN of the hashes
    assert report.unreadable_facts == [] and report.big_collections == [] and report.elements_limit == 10_000
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
    assert (
        f"longest is {format_duration(product.ttl_seconds.max, parts=None)}."
        in by_rule[("DRF003", "namespace:product-cache")].message
    )
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
    assert set(data["unmatched"]["patterns"][0]) >= {"pattern", "keys", "example"}  # + draft
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
    unreadable = {u.command: u for u in report.unreadable_facts}
    assert set(unreadable) == {"CONFIG GET", "SLOWLOG GET"}
    assert (
        unreadable["CONFIG GET"].reason.startswith("NOPERM")
        and "taken from INFO" in unreadable["CONFIG GET"].fact
    )
    assert unreadable["SLOWLOG GET"].nodes == [f"127.0.0.1:{lab.port}"]


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


# --------------------------------------------------------------------------------------------
# Servers that refuse commands, the slow log, big collections


def _by_rule(design, report):
    out: dict[str, list] = {}
    for f in evaluate_drift(design, DRIFT_INSTANCE, report, TODAY):
        out.setdefault(f.rule, []).append(f)
    return out


def _everything_said(report, findings) -> str:
    """The report's JSON and every finding's text: where a leak would show."""
    return report.to_json() + json.dumps([f.model_dump(mode="json") for f in findings])


def test_a_server_that_renamed_config_slowlog_and_memory_away_is_still_scanned():
    args = ["--maxmemory-policy", "allkeys-lru"]
    for command in ("CONFIG", "SLOWLOG", "MEMORY"):
        args += ["--rename-command", command, ""]
    with RedisProcess(args=args) as server:
        r = client(server)
        for i in range(300):
            r.set(f"prod:users:by-email:user{i}@example.com", "s", ex=1800)
        r.hset("legacy:prefs:bob@example.com", mapping={f"f{i}": i for i in range(20_000)})
        design, report = _scan(server, memory_sample=1.0, count=20)
    assert report.status == "completed" and report.complete and report.keys_scanned == 301
    # the policy comes from INFO, so DRF007 is still judged
    assert report.server.maxmemory_policy == "allkeys-lru" and report.server.maxmemory_policy_source == "info"
    unreadable = {u.command: u for u in report.unreadable_facts}
    assert list(unreadable) == ["CONFIG GET", "SLOWLOG GET", "MEMORY USAGE"]
    assert all(u.reason.startswith("ERR unknown command") for u in unreadable.values())
    assert "taken from INFO" in unreadable["CONFIG GET"].fact
    # MEMORY USAGE was refused by the first batches (the next is on its way before a reply is
    # read), then not sent again: far fewer than one per key. Nothing measured, nothing "vanished".
    assert report.memory_sampled_keys == 0 and report.keys_vanished == 0
    assert report.ops_sent < 2 * 301 + 100
    # element counts need no MEMORY: the big hash is still found
    findings = _by_rule(design, report)
    assert "DRF005" not in findings and "DRF015" not in findings
    assert "DRF007" in findings
    (big,) = findings["DRF016"]
    assert big.message.startswith(
        "Unregistered keys: 1 collections of 1 measured hold more than 10,000 elements"
    )
    assert "legacy:prefs:b***@example.com (hash, 20,000 elements)" in big.message
    # Redis quotes an unknown command's arguments (key names) in its error: none may be kept
    said = _everything_said(report, [f for fs in findings.values() for f in fs])
    assert "bob@example.com" not in said and "user1@example.com" not in said


def test_the_slow_log_names_expensive_commands_with_counts_and_never_arguments():
    with RedisProcess(args=["--slowlog-log-slower-than", "0", "--slowlog-max-len", "1024"]) as server:
        r = client(server)
        r.hset("prod:users:by-email:jane@example.com", mapping={"ssn": "078-05-1120", "pin": "4321"})
        r.set("prod:catalog:product:v3:1", "hunter2-value", ex=600)
        for _ in range(2):
            r.keys("needle-pattern-*")
        for _ in range(3):
            r.hgetall("ghost:profile:jim@example.com")  # logged although the key does not exist
        design, report = _scan(server)
    commands = {c.command: c.count for c in report.slowlog.commands}
    assert commands["KEYS"] == 2 and commands["HGETALL"] == 3
    assert "SCAN" not in commands and "INFO" not in commands  # the scanner's own commands are left out
    (f,) = _by_rule(design, report)["DRF015"]
    assert f.message.startswith("The slow log holds HGETALL 3 times, KEYS 2 times (of ")
    assert f.target == "instance:lab-cache"
    # the slow log's arguments (a KEYS pattern, key names, values) appear nowhere
    said = _everything_said(report, [f])
    for secret in ("needle-pattern", "ghost", "jim@", "jane@", "078-05-1120", "4321", "hunter2"):
        assert secret not in said


def test_a_second_scan_does_not_count_the_first_scans_commands():
    with RedisProcess(args=["--slowlog-log-slower-than", "0"]) as server:
        client(server).set("prod:catalog:product:v3:1", "x", ex=600)
        _scan(server)
        _, report = _scan(server)
    assert {c.command for c in report.slowlog.commands} <= {"SET", "HELLO", "CLIENT", "PING", "INFO"}
    assert "SCAN" not in {c.command for c in report.slowlog.commands}


@pytest.mark.parametrize("sample", [1.0, 0.1])
def test_a_hash_of_20000_fields_is_a_big_collection_masked(sample):
    with RedisProcess() as server:
        r = client(server)
        r.hset("prod:users:by-email:ann@example.com", mapping={f"field{i}": i for i in range(20_000)})
        r.hset("prod:users:by-email:bo@example.com", mapping={f"field{i}": i for i in range(10_000)})
        p = r.pipeline(transaction=False)
        for i in range(500):
            p.sadd(f"legacy:tags:{i}", "a", "b")
            p.set(f"prod:catalog:product:v3:{i}", "x", ex=600)
        p.execute()
        design, report = _scan(server, memory_sample=sample, count=100)
    ns = report.namespace("user-by-email")
    # both hashes are measured even at 0.1: a small namespace's first keys always are, in any SCAN order
    assert ns.collections_counted == 2 and ns.collections_above_limit == 1
    assert [(b.key, b.type, b.elements, b.namespace) for b in report.big_collections] == [
        ("prod:users:by-email:a***@example.com", "hash", 20_000, "user-by-email")
    ]
    if sample == 1.0:
        assert report.unmatched.collections_counted == 500
    else:  # about a tenth, plus the first keys of each batch's small namespaces
        assert 40 <= report.unmatched.collections_counted <= 70
    findings = _by_rule(design, report)
    (f,) = findings["DRF016"]
    assert f.target == "namespace:user-by-email"
    assert f.message.startswith("1 collections of 2 measured hold more than 10,000 elements; the biggest: ")
    assert "prod:users:by-email:a***@example.com (hash, 20,000 elements)" in f.message
    assert "ann@example.com" not in _everything_said(report, [f])
    # the element counts are in the ops budget: TYPE + PTTL per key, MEMORY USAGE and a count per sample
    measured = report.memory_sampled_keys
    counted = ns.collections_counted + report.unmatched.collections_counted
    scans = report.ops_sent - 2 * report.keys_scanned - measured - counted
    assert 1 <= scans <= 1002 // 100 + 3  # the SCAN calls


def test_a_scanner_user_without_the_count_commands_lists_them_as_unreadable(lab, monkeypatch):
    rules = SCANNER_ACL.replace("+hlen ", "")
    add_acl_user(client(lab), "nohlen", "nohlen-pw", rules)
    monkeypatch.setenv("LAB_NOHLEN_PW", "nohlen-pw")
    design = drift_design(f"redis://nohlen@127.0.0.1:{lab.port}/0", credential="env:LAB_NOHLEN_PW")
    _, report = _scan(lab, design=design, memory_sample=1.0)
    assert report.complete and report.keys_scanned == DRIFT_TOTAL
    (u,) = report.unreadable_facts
    assert u.command == "HLEN" and u.reason.startswith("NOPERM") and "hash keys" in u.fact
    assert report.namespace("product-cache").collections_counted == 0
