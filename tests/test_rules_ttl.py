"""TTL rules: table-driven pass/fail cases, with each threshold's boundary."""

from __future__ import annotations

import pytest
from rule_cases import Case, no_change, ns_add, ns_set, run_case

P = "namespace:product-cache"
S = "namespace:sessions"


def ttl(name: str, mode: str, seconds: int | None = None, jitter: int = 0):
    value = {"mode": mode} if mode == "none" else {"mode": mode, "seconds": seconds, "jitter_seconds": jitter}
    return lambda d: ns_set(d, name, ttl=value)


def add(name: str, **fields):
    return lambda d: ns_add(d, name, f"prod:catalog:{name}:v1:<id:int>", **fields)


NONE = {"mode": "none"}

CASES = [
    # TTL001: disposable without TTL
    Case("TTL001", "disposable-none", ttl("product-cache", "none"), [(P, "high")]),
    Case("TTL001", "added-disposable-none", add("misc", ttl=NONE), [("namespace:misc", "high")]),
    Case("TTL001", "disposable-sliding", ttl("product-cache", "sliding", 600), []),
    Case("TTL001", "session-none-is-not-ttl001", ttl("sessions", "none"), []),
    # TTL002: absolute, cardinality >= 10,000 and no jitter
    Case("TTL002", "big-no-jitter", ttl("product-cache", "absolute", 600, 0), [(P, "medium")]),
    Case(
        "TTL002",
        "exactly-10000",
        add("misc", cardinality=10000, ttl={"mode": "absolute", "seconds": 60}),
        [("namespace:misc", "medium")],
    ),
    Case("TTL002", "9999", add("misc", cardinality=9999, ttl={"mode": "absolute", "seconds": 60}), []),
    Case("TTL002", "one-second-jitter", ttl("product-cache", "absolute", 600, 1), []),
    Case("TTL002", "sliding-no-jitter", ttl("product-cache", "sliding", 600, 0), []),
    # TTL003: session without TTL
    Case("TTL003", "session-none", ttl("sessions", "none"), [(S, "high")]),
    Case(
        "TTL003",
        "added-session-none",
        add("web-sessions", classification="session", ttl=NONE),
        [("namespace:web-sessions", "high")],
    ),
    Case("TTL003", "base", no_change, []),
    Case(
        "TTL003", "coordination-none-is-not-ttl003", add("locks", classification="coordination", ttl=NONE), []
    ),
    # TTL004: session TTL above 24 h
    Case("TTL004", "86401", ttl("sessions", "sliding", 86401), [(S, "low")]),
    Case("TTL004", "thirty-days", ttl("sessions", "absolute", 30 * 86400, 60), [(S, "low")]),
    Case("TTL004", "exactly-24h", ttl("sessions", "sliding", 86400), []),
    Case("TTL004", "disposable-long", ttl("product-cache", "absolute", 30 * 86400, 600), []),
    # TTL005: negative cache without TTL or above 300 s
    Case(
        "TTL005",
        "301",
        add("misses", negative_cache=True, ttl={"mode": "absolute", "seconds": 301}),
        [("namespace:misses", "medium")],
    ),
    Case("TTL005", "none", add("misses", negative_cache=True, ttl=NONE), [("namespace:misses", "medium")]),
    Case(
        "TTL005",
        "exactly-300",
        add("misses", negative_cache=True, ttl={"mode": "absolute", "seconds": 300}),
        [],
    ),
    Case(
        "TTL005",
        "not-negative",
        add("misses", negative_cache=False, ttl={"mode": "absolute", "seconds": 3600}),
        [],
    ),
    # TTL006: coordination without TTL
    Case(
        "TTL006",
        "lock-none",
        add("locks", classification="coordination", ttl=NONE),
        [("namespace:locks", "high")],
    ),
    Case(
        "TTL006",
        "idempotency-none",
        add("idempotency", classification="coordination", ttl=NONE, data_type="set"),
        [("namespace:idempotency", "high")],
    ),
    Case(
        "TTL006",
        "lock-30s",
        add("locks", classification="coordination", ttl={"mode": "absolute", "seconds": 30}),
        [],
    ),
    Case("TTL006", "base", no_change, []),
    # TTL007: jitter larger than seconds
    Case("TTL007", "601-over-600", ttl("product-cache", "absolute", 600, 601), [(P, "low")]),
    Case("TTL007", "sliding", ttl("sessions", "sliding", 10, 20), [(S, "low")]),
    Case("TTL007", "equal", ttl("product-cache", "absolute", 600, 600), []),
    Case("TTL007", "base", no_change, []),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)
