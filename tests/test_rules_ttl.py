"""TTL rules: table-driven pass/fail cases, with each threshold's boundary."""

from __future__ import annotations

import pytest
from rule_cases import Case, base, build, inst_set, no_change, ns_add, ns_set, run_case, run_rule

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


# --------------------------------------------------------------------------------------------
# per-field: hash fields expire (HEXPIRE); it counts as expiry, and its `seconds` are the TTL


def per_field(name: str, seconds: int, jitter: int = 0, **fields):
    value = {"mode": "per-field", "seconds": seconds, "jitter_seconds": jitter}
    return lambda d: ns_set(d, name, data_type="hash", ttl=value, **fields)


def state_on(product: str, tier: str | None, **fields):
    """prod-state (sessions, carts) moved to another product or tier."""
    return lambda d: inst_set(d, "prod-state", product=product, tier=tier, **fields)


def both(*changes):
    return lambda d: [change(d) for change in changes]


STATE = "instance:prod-state"

PER_FIELD_CASES = [
    Case("TTL001", "disposable-per-field", per_field("product-cache", 600, 60), []),
    Case("TTL002", "per-field-is-not-absolute", per_field("product-cache", 600, 0), []),
    Case("TTL003", "session-per-field", per_field("sessions", 1800), []),
    Case("TTL004", "per-field-86401", per_field("sessions", 86401), [(S, "low")]),
    Case("TTL004", "per-field-exactly-24h", per_field("sessions", 86400), []),
    Case(
        "TTL005",
        "per-field-301",
        add("misses", negative_cache=True, data_type="hash", ttl={"mode": "per-field", "seconds": 301}),
        [("namespace:misses", "medium")],
    ),
    Case(
        "TTL005",
        "per-field-exactly-300",
        add("misses", negative_cache=True, data_type="hash", ttl={"mode": "per-field", "seconds": 300}),
        [],
    ),
    Case(
        "TTL006",
        "leases-per-field",
        add(
            "leases",
            classification="coordination",
            data_type="hash",
            ttl={"mode": "per-field", "seconds": 30},
        ),
        [],
    ),
    Case("TTL007", "per-field-jitter-over", per_field("sessions", 10, 11), [(S, "low")]),
    Case("TTL007", "per-field-jitter-equal", per_field("sessions", 10, 10), []),
    # TTL008: per-field on a Redis without hash field expiration (ACR Basic/Standard/Premium: 6,
    # Enterprise: 7.2); one finding per namespace, related to its instance
    Case(
        "TTL008",
        "acr-premium",
        both(state_on("azure-cache-for-redis", "premium"), per_field("sessions", 1800)),
        [(S, "high", [STATE])],
    ),
    Case(
        "TTL008",
        "acr-standard-two-namespaces",
        both(
            state_on("azure-cache-for-redis", "standard", clustering="none", persistence="none"),
            per_field("sessions", 1800),
            per_field("cart-items", 3600),
        ),
        [(S, "high", [STATE]), ("namespace:cart-items", "high", [STATE])],
    ),
    Case(
        "TTL008",
        "acr-basic",
        both(
            state_on("azure-cache-for-redis", "basic", clustering="none", high_availability=False),
            per_field("sessions", 1800),
        ),
        [(S, "high")],
    ),
    Case(
        "TTL008",
        "acr-enterprise-7.2",
        both(state_on("azure-cache-for-redis", "enterprise", auth="access-key"), per_field("sessions", 1800)),
        [(S, "high")],
    ),
    Case("TTL008", "managed-redis-7.4", per_field("sessions", 1800), []),
    Case("TTL008", "acr-premium-sliding", state_on("azure-cache-for-redis", "premium"), []),
    Case(
        "TTL008",
        "self-hosted-version-unknown",
        both(state_on("redis-oss", None), per_field("sessions", 1800)),
        [],
    ),
]
CASES += PER_FIELD_CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


def test_ttl008_names_the_redis_version_and_the_way_out():
    d = base()
    state_on("azure-cache-for-redis", "premium")(d)
    per_field("sessions", 1800)(d)
    (finding,) = run_rule("TTL008", build(d))
    assert "Redis 6" in finding.message and "7.4" in finding.message
    assert "never expire" in finding.message
    assert "Azure Managed Redis" in finding.remediation and "own key" in finding.remediation
