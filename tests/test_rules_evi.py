"""EVI rules: table-driven pass/fail cases."""

from __future__ import annotations

import pytest
from rule_cases import Case, inst_add, inst_set, no_change, ns_add, ns_set, run_case

CACHE = "instance:prod-cache"
STATE = "instance:prod-state"
NONE = {"mode": "none"}


def _half_and_half(typical_without_ttl: int):
    """A volatile instance with a TTL namespace and a no-TTL one of the same cardinality.

    Per key: key + 968 + 64 + 32 with TTL, key + typical + 64 without (same key size); 1000 makes them equal.
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
            ttl=NONE,
            value_bytes={"typical": typical_without_ttl, "max": typical_without_ttl},
        )

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
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)
