"""EVI rules: table-driven pass/fail cases."""

from __future__ import annotations

import pytest
from rule_cases import Case, base, build, inst_add, inst_set, no_change, ns_add, ns_set, run_case, run_rule

from advisor.core.rules import get_rule

CACHE = "instance:prod-cache"
STATE = "instance:prod-state"
NONE = {"mode": "none"}


def _half_and_half(typical_without_ttl: int, ttl: dict = NONE):
    """A volatile instance with a TTL namespace and a no-TTL one of the same cardinality.

    Per key: key + 968 + 64 + 32 with TTL, key + typical + 64 without (same key size); 1000 makes them
    equal. A per-field hash carries the 32 bytes of expiry metadata, so 968 makes it equal.
    """

    def change(d):
        inst_add(d, "vol", eviction_policy="volatile-lru", persistence="aof")
        ns_add(
            d, "with-ttl", "prod:x:a:v1:<id:int>", instance="vol", value_bytes={"typical": 968, "max": 968}
        )
        ns_add(
            d,
            "no-ttl",
            "prod:x:b:v1:<id:int>",
            instance="vol",
            classification="durable",
            data_type="hash",
            ttl=ttl,
            value_bytes={"typical": typical_without_ttl, "max": typical_without_ttl},
        )

    return change


PER_FIELD = {"mode": "per-field", "seconds": 3600}


def _mixed_state(policy: str = "volatile-lru", **misc):
    """A disposable namespace added to prod-state (sessions and carts with sliding TTLs)."""

    def change(d):
        inst_set(d, "prod-state", eviction_policy=policy)
        ns_add(d, "misc", "prod:checkout:misc:v1:<id:int>", instance="prod-state", **misc)

    return change


CASES = [
    # EVI001: allkeys-* with session/coordination/durable, one finding per namespace
    Case(
        "EVI001",
        "state-instance-allkeys",
        lambda d: inst_set(d, "prod-state", eviction_policy="allkeys-lfu"),
        [
            ("namespace:sessions", "high", [STATE]),
            ("namespace:cart-items", "high", [STATE]),
            ("namespace:cart-totals", "high", [STATE]),
        ],
    ),
    Case(
        "EVI001",
        "durable-on-cache",
        lambda d: ns_add(d, "ledger", "prod:catalog:ledger:v1:<id:int>", classification="durable", ttl=NONE),
        [("namespace:ledger", "high")],
    ),
    Case(
        "EVI001",
        "lock-on-cache",
        lambda d: ns_add(
            d,
            "locks",
            "prod:catalog:lock:v1:<id:int>",
            classification="coordination",
            ttl={"mode": "absolute", "seconds": 30},
        ),
        [("namespace:locks", "high")],
    ),
    Case("EVI001", "volatile", no_change, []),
    Case("EVI001", "noeviction", lambda d: inst_set(d, "prod-state", eviction_policy="noeviction"), []),
    # EVI002: volatile-* and no-TTL namespaces hold more than 50% of estimated memory
    Case("EVI002", "just-over-half", _half_and_half(1001), [("instance:vol", "medium")]),
    Case(
        "EVI002",
        "big-durable",
        lambda d: ns_add(
            d,
            "ledger",
            "prod:checkout:ledger:v1:<id:int>",
            instance="prod-state",
            classification="durable",
            ttl=NONE,
            cardinality=1_000_000,
        ),
        [(STATE, "medium", ["namespace:ledger"])],
    ),
    Case("EVI002", "exactly-half", _half_and_half(1000), []),
    # per-field hashes: the fields expire, the keys do not, so volatile-* cannot evict them
    Case("EVI002", "per-field-just-over-half", _half_and_half(969, PER_FIELD), [("instance:vol", "medium")]),
    Case("EVI002", "per-field-exactly-half", _half_and_half(968, PER_FIELD), []),
    Case(
        "EVI002",
        "sessions-per-field",
        lambda d: [
            ns_set(d, name, ttl={"mode": "per-field", "seconds": 1800}) for name in ("sessions", "cart-items")
        ],
        [(STATE, "medium", ["namespace:sessions", "namespace:cart-items"])],
    ),
    Case(
        "EVI002",
        "allkeys-is-not-volatile",
        lambda d: (
            inst_set(d, "prod-state", eviction_policy="allkeys-lru"),
            ns_add(
                d,
                "ledger",
                "prod:checkout:ledger:v1:<id:int>",
                instance="prod-state",
                ttl=NONE,
                cardinality=10**6,
            ),
        ),
        [],
    ),
    # EVI003: noeviction with a disposable namespace (finding on the instance)
    Case(
        "EVI003",
        "cache-noeviction",
        lambda d: inst_set(d, "prod-cache", eviction_policy="noeviction"),
        [(CACHE, "medium")],
    ),
    Case(
        "EVI003",
        "state-noeviction-with-cache",
        lambda d: (
            inst_set(d, "prod-state", eviction_policy="noeviction"),
            ns_add(d, "misc", "prod:checkout:misc:v1:<id:int>", instance="prod-state"),
        ),
        [(STATE, "medium", ["namespace:misc"])],
    ),
    Case(
        "EVI003",
        "state-noeviction-sessions-only",
        lambda d: inst_set(d, "prod-state", eviction_policy="noeviction"),
        [],
    ),
    Case("EVI003", "base", no_change, []),
    Case("EVI003", "allkeys-cache", lambda d: inst_set(d, "prod-cache", eviction_policy="allkeys-lfu"), []),
    # EVI004: namespaces of other environments on the instance
    Case(
        "EVI004",
        "staging-on-prod",
        lambda d: ns_add(d, "stg", "staging:catalog:product:v3:<id:int>"),
        [(CACHE, "high", ["namespace:stg"])],
    ),
    Case(
        "EVI004",
        "two-foreign",
        lambda d: (
            ns_add(d, "stg", "stage:catalog:a:v1:<id:int>"),
            ns_add(d, "dv", "dev:catalog:a:v1:<id:int>"),
        ),
        [(CACHE, "high", ["namespace:stg", "namespace:dv"])],
    ),
    Case("EVI004", "production-on-prod", lambda d: ns_add(d, "p2", "production:catalog:a:v1:<id:int>"), []),
    Case(
        "EVI004",
        "dev-on-dev",
        lambda d: (
            inst_add(d, "dev-cache", environment="dev"),
            ns_add(d, "dv", "dev:catalog:a:v1:<id:int>", instance="dev-cache"),
        ),
        [],
    ),
    # EVI005: restricted with another team's public/internal namespace
    Case(
        "EVI005",
        "restricted-sessions-with-internal-cart",
        lambda d: ns_set(d, "sessions", data_classification="restricted"),
        [(STATE, "high", ["namespace:sessions", "namespace:cart-items", "namespace:cart-totals"])],
    ),
    Case(
        "EVI005",
        "restricted-with-public",
        lambda d: (
            ns_set(d, "product-cache", data_classification="public"),
            ns_add(
                d, "kyc", "prod:identity:kyc:v1:<id:int>", team="identity", data_classification="restricted"
            ),
        ),
        [(CACHE, "high")],
    ),
    Case(
        "EVI005",
        "restricted-with-confidential",
        lambda d: (
            ns_set(d, "sessions", data_classification="restricted"),
            ns_set(d, "cart-items", data_classification="confidential"),
            ns_set(d, "cart-totals", data_classification="confidential"),
        ),
        [],
    ),
    Case(
        "EVI005",
        "restricted-same-team",
        lambda d: ns_add(d, "kyc", "prod:catalog:kyc:v1:<id:int>", data_classification="restricted"),
        [],
    ),
    # EVI006: disposable and durable on one instance
    Case(
        "EVI006",
        "durable-on-cache",
        lambda d: ns_add(d, "ledger", "prod:catalog:ledger:v1:<id:int>", classification="durable"),
        [(CACHE, "medium", ["namespace:product-cache", "namespace:ledger"])],
    ),
    Case(
        "EVI006",
        "cache-on-state-with-durable",
        lambda d: (
            ns_add(
                d,
                "ledger",
                "prod:checkout:ledger:v1:<id:int>",
                instance="prod-state",
                classification="durable",
            ),
            ns_add(d, "misc", "prod:checkout:misc:v1:<id:int>", instance="prod-state"),
        ),
        [(STATE, "medium")],
    ),
    Case(
        "EVI006",
        "durable-alone",
        lambda d: ns_add(
            d, "ledger", "prod:checkout:ledger:v1:<id:int>", instance="prod-state", classification="durable"
        ),
        [],
    ),
    Case(
        "EVI006",
        "disposable-and-session",
        lambda d: ns_add(d, "misc", "prod:checkout:misc:v1:<id:int>", instance="prod-state"),
        [],
    ),
    # EVI007: volatile-* with a disposable namespace and stateful namespaces whose keys have a TTL;
    # one finding per stateful namespace, related to the instance and the cache namespaces
    Case(
        "EVI007",
        "cache-added-to-sessions",
        _mixed_state(),
        [
            ("namespace:sessions", "high", [STATE, "namespace:misc"]),
            ("namespace:cart-items", "high", [STATE, "namespace:misc"]),
            ("namespace:cart-totals", "high", [STATE, "namespace:misc"]),
        ],
    ),
    Case(
        "EVI007",
        "lock-beside-cache-volatile-ttl",
        lambda d: (
            inst_set(d, "prod-cache", eviction_policy="volatile-ttl"),
            ns_add(
                d,
                "locks",
                "prod:catalog:lock:v1:<id:int>",
                classification="coordination",
                ttl={"mode": "absolute", "seconds": 30},
            ),
        ),
        [("namespace:locks", "high", [CACHE, "namespace:product-cache"])],
    ),
    Case(
        "EVI007",
        "durable-with-ttl",
        lambda d: (
            inst_set(d, "prod-cache", eviction_policy="volatile-lfu"),
            ns_add(d, "ledger", "prod:catalog:ledger:v1:<id:int>", classification="durable"),
        ),
        [("namespace:ledger", "high")],
    ),
    Case("EVI007", "sessions-without-cache", no_change, []),
    Case(
        "EVI007",
        "stateful-without-key-ttl",
        lambda d: (
            _mixed_state()(d),
            ns_set(d, "sessions", ttl={"mode": "per-field", "seconds": 1800}),
            ns_set(d, "cart-items", ttl=NONE),
            ns_set(d, "cart-totals", ttl=NONE),
        ),
        [],
    ),
    Case("EVI007", "allkeys-is-evi001", _mixed_state("allkeys-lru"), []),
    Case("EVI007", "noeviction", _mixed_state("noeviction"), []),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


def _findings(rule_id: str, change) -> list:
    d = base()
    change(d)
    return run_rule(rule_id, build(d))


@pytest.mark.parametrize(
    "rule_id, change",
    [
        ("EVI001", lambda d: inst_set(d, "prod-state", eviction_policy="allkeys-lru")),
        ("EVI003", lambda d: inst_set(d, "prod-cache", eviction_policy="noeviction")),
        ("EVI003", _mixed_state("noeviction")),
        ("EVI007", _mixed_state()),
    ],
)
def test_no_remediation_proposes_a_volatile_policy(rule_id, change):
    findings = _findings(rule_id, change)
    assert findings
    for finding in findings:
        assert "volatile" not in finding.remediation.lower()
    for rule in ("EVI001", "EVI003"):
        assert "volatile" not in get_rule(rule).documentation().lower()


def test_evi003_moves_a_mixed_cache_out_and_switches_a_pure_one():
    (mixed,) = _findings("EVI003", _mixed_state("noeviction"))
    assert "separate cache instance" in mixed.remediation and "allkeys-" in mixed.remediation
    assert "keep prod-state on `noeviction`" in mixed.remediation
    (pure,) = _findings("EVI003", lambda d: inst_set(d, "prod-cache", eviction_policy="noeviction"))
    assert "holds only cache entries: switch it to `allkeys-lru`" in pure.remediation


def test_evi001_sends_state_to_a_noeviction_instance():
    findings = _findings("EVI001", lambda d: inst_set(d, "prod-state", eviction_policy="allkeys-lru"))
    assert all("`noeviction`" in f.remediation for f in findings)


def test_evi002_says_which_namespaces_expire_fields_not_keys():
    (finding,) = _findings("EVI002", _half_and_half(969, PER_FIELD))
    assert "no-ttl expires hash fields, not keys" in finding.message


def test_evi007_names_the_policy_and_the_cache():
    findings = _findings("EVI007", _mixed_state())
    sessions = next(f for f in findings if f.target == "namespace:sessions")
    assert "`volatile-lru`" in sessions.message and "misc" in sessions.message
    assert "sliding TTL of 1,800 s" in sessions.message
    assert "`noeviction`" in sessions.remediation and "allkeys-" in sessions.remediation
