"""INS rules: table-driven pass/fail cases, with date and ratio boundaries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from rule_cases import (
    TODAY,
    Case,
    base,
    build,
    inst_add,
    inst_set,
    no_change,
    ns_add,
    ns_set,
    run_case,
    run_rule,
)

from advisor.core.sizing import design_sizing

CACHE = "instance:prod-cache"
STATE = "instance:prod-state"

ENTERPRISE_RETIRES = date(2027, 3, 31)
PREMIUM_RETIRES = date(2028, 9, 30)


def acr(tier: str, **extra):
    clustering = "none" if tier in ("basic", "standard") else "oss"
    return lambda d: inst_set(
        d, "prod-cache", product="azure-cache-for-redis", tier=tier, clustering=clustering, **extra
    )


def flash(**changes):
    def change(d):
        inst_set(d, "prod-cache", tier="flash-optimized")
        for name, fields in changes.items():
            ns_set(d, name.replace("_", "-"), **fields)

    return change


CASES = [
    # INS001: retiring ACR tiers; critical after the date, high within 180 days, else medium
    Case("INS001", "premium-far", acr("premium"), [(CACHE, "medium")]),
    Case("INS001", "enterprise-125-days", acr("enterprise"), [(CACHE, "high")]),
    Case(
        "INS001",
        "181-days",
        acr("enterprise-flash"),
        [(CACHE, "medium")],
        today=ENTERPRISE_RETIRES - timedelta(days=181),
    ),
    Case(
        "INS001",
        "180-days",
        acr("enterprise"),
        [(CACHE, "high")],
        today=ENTERPRISE_RETIRES - timedelta(days=180),
    ),
    Case("INS001", "on-the-date", acr("standard"), [(CACHE, "high")], today=PREMIUM_RETIRES),
    Case(
        "INS001",
        "day-after",
        acr("basic", high_availability=False),
        [(CACHE, "critical")],
        today=PREMIUM_RETIRES + timedelta(days=1),
    ),
    Case("INS001", "managed-redis", no_change, []),
    Case("INS001", "redis-oss", lambda d: inst_set(d, "prod-cache", product="redis-oss", tier=None), []),
    # INS002: prod without HA, or prod on ACR basic
    Case(
        "INS002",
        "prod-no-ha",
        lambda d: inst_set(d, "prod-cache", high_availability=False),
        [(CACHE, "high")],
    ),
    Case("INS002", "prod-acr-basic", acr("basic"), [(CACHE, "high")]),
    Case("INS002", "dev-no-ha", lambda d: inst_add(d, "dev", environment="dev", high_availability=False), []),
    Case(
        "INS002",
        "dev-acr-basic",
        lambda d: (acr("basic")(d), inst_set(d, "prod-cache", environment="dev")),
        [],
    ),
    Case("INS002", "base", no_change, []),
    # INS003: auth other than entra-id; high for none
    Case("INS003", "access-key", lambda d: inst_set(d, "prod-cache", auth="access-key"), [(CACHE, "medium")]),
    Case("INS003", "none", lambda d: inst_set(d, "prod-state", auth="none"), [(STATE, "high")]),
    Case("INS003", "entra", no_change, []),
    Case("INS003", "dev-entra", lambda d: inst_add(d, "dev", environment="dev"), []),
    # INS004: tls false
    Case("INS004", "cache", lambda d: inst_set(d, "prod-cache", tls=False), [(CACHE, "high")]),
    Case(
        "INS004",
        "both",
        lambda d: (inst_set(d, "prod-cache", tls=False), inst_set(d, "prod-state", tls=False)),
        [(CACHE, "high"), (STATE, "high")],
    ),
    Case("INS004", "base", no_change, []),
    Case("INS004", "dev-tls", lambda d: inst_add(d, "dev", environment="dev"), []),
    # INS005: public network access; high on prod, medium elsewhere
    Case(
        "INS005", "prod", lambda d: inst_set(d, "prod-cache", public_network_access=True), [(CACHE, "high")]
    ),
    Case(
        "INS005",
        "dev",
        lambda d: inst_add(d, "dev", environment="dev", public_network_access=True),
        [("instance:dev", "medium")],
    ),
    Case("INS005", "base", no_change, []),
    Case("INS005", "private-dev", lambda d: inst_add(d, "dev", environment="dev"), []),
    # INS006: flash-optimized with writes over 30% or ops-weighted typical value under 1 KiB
    Case(
        "INS006",
        "writes-30.1%",
        flash(product_cache={"ops_per_sec": {"reads": 699, "writes": 301}}),
        [(CACHE, "medium")],
    ),
    Case(
        "INS006",
        "typical-1023",
        flash(product_cache={"value_bytes": {"typical": 1023, "max": 4096}}),
        [(CACHE, "medium")],
    ),
    Case(
        "INS006",
        "ops-weighted-small",
        lambda d: (
            flash(
                product_cache={
                    "value_bytes": {"typical": 4096, "max": 4096},
                    "ops_per_sec": {"reads": 100, "writes": 0},
                }
            )(d),
            ns_add(
                d,
                "tiny",
                "prod:catalog:tiny:v1:<id:int>",
                value_bytes={"typical": 100, "max": 100},
                ops_per_sec={"reads": 900, "writes": 0},
            ),
        ),
        [(CACHE, "medium")],
    ),
    Case(
        "INS006",
        "writes-exactly-30%",
        flash(product_cache={"ops_per_sec": {"reads": 700, "writes": 300}}),
        [],
    ),
    Case(
        "INS006",
        "typical-exactly-1KiB",
        flash(product_cache={"value_bytes": {"typical": 1024, "max": 4096}}),
        [],
    ),
    Case(
        "INS006",
        "not-flash",
        lambda d: ns_set(
            d, "product-cache", value_bytes={"typical": 10, "max": 10}, ops_per_sec={"reads": 1, "writes": 9}
        ),
        [],
    ),
    # INS007: estimated memory above 60% (medium) / 80% (high) of usable memory
    Case("INS007", "70%", lambda d: _fill(d, 0.7), [(CACHE, "medium")]),
    Case("INS007", "90%", lambda d: _fill(d, 0.9), [(CACHE, "high")]),
    Case("INS007", "one-key-over-60%", lambda d: _fill(d, 0.6, extra_keys=1), [(CACHE, "medium")]),
    Case("INS007", "one-key-over-80%", lambda d: _fill(d, 0.8, extra_keys=1), [(CACHE, "high")]),
    Case("INS007", "at-most-60%", lambda d: _fill(d, 0.6), []),
    Case("INS007", "half", lambda d: _fill(d, 0.5), []),
    # INS008: geo-replication with sessions
    Case(
        "INS008",
        "state",
        lambda d: inst_set(d, "prod-state", geo_replication=True),
        [(STATE, "medium", ["namespace:sessions", "namespace:cart-items", "namespace:cart-totals"])],
    ),
    Case(
        "INS008",
        "cache-with-session",
        lambda d: (
            inst_set(d, "prod-cache", geo_replication=True),
            ns_add(
                d,
                "web",
                "prod:catalog:web:v1:<id:hash>",
                classification="session",
                ttl={"mode": "sliding", "seconds": 600},
            ),
        ),
        [(CACHE, "medium")],
    ),
    Case("INS008", "cache-only-disposable", lambda d: inst_set(d, "prod-cache", geo_replication=True), []),
    Case("INS008", "base", no_change, []),
]

# product-cache: key "prod:catalog:product:v3:" 24 + int 8, + 2048 typical + 64 + 32 (TTL) per key
PER_KEY = 24 + 8 + 2048 + 64 + 32
USABLE = int(12 * 2**30 * 0.8)  # 20% reserved (INS007.reserved_share)


def _fill(d: dict, ratio: float, extra_keys: int = 0) -> None:
    """Set product-cache's cardinality to the most keys that stay at or under `ratio` of usable memory."""
    ns_set(d, "product-cache", cardinality=int(ratio * USABLE) // PER_KEY + extra_keys)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


def test_it_gives_the_retirement_date_and_days_left():
    d = base()
    acr("enterprise")(d)
    (finding,) = run_rule("INS001", build(d), today=TODAY)
    assert "2027-03-31" in finding.message and "125 days" in finding.message
    assert "Azure Managed Redis" in finding.remediation


def test_it_does_not_fire_when_the_ratio_is_exactly_the_threshold():
    d = base()
    _fill(d, 0.7)
    ratio = design_sizing(build(d))["prod-cache"].usage_ratio
    d["policy"] = {"thresholds": {"INS007.medium_ratio": ratio}}
    assert run_rule("INS007", build(d)) == []
    d["policy"] = {"thresholds": {"INS007.medium_ratio": ratio - 1e-9}}
    assert [f.severity.value for f in run_rule("INS007", build(d))] == ["medium"]


def test_it_names_the_estimate_and_the_share_in_the_message():
    d = base()
    _fill(d, 0.9)
    (finding,) = run_rule("INS007", build(d))
    assert "90%" in finding.message and "GiB" in finding.message


def test_the_reserve_threshold_moves_the_usable_memory_both_ways():
    d = base()
    _fill(d, 0.6)  # at most 60% of 80% of 12 GB: clean by default
    assert run_rule("INS007", build(d)) == []
    d["policy"] = {"thresholds": {"INS007.reserved_share": 0.21}}  # less usable memory: over 60%
    assert [f.severity.value for f in run_rule("INS007", build(d))] == ["medium"]

    d = base()
    _fill(d, 0.6, extra_keys=1)  # just over 60% by default
    assert [f.severity.value for f in run_rule("INS007", build(d))] == ["medium"]
    d["policy"] = {"thresholds": {"INS007.reserved_share": 0.19}}  # more usable memory: under 60%
    assert run_rule("INS007", build(d)) == []


def test_it_names_the_reserve_in_the_message():
    d = base()
    _fill(d, 0.7)
    (finding,) = run_rule("INS007", build(d))
    assert "12 GB less the 20% reserve" in finding.message
