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

from advisor.core import platform
from advisor.core.rules.ins import ACR_RETIREMENT, RETIREMENT_WARNING_DAYS
from advisor.core.sizing import design_sizing

CACHE = "instance:prod-cache"
STATE = "instance:prod-state"

ENTERPRISE_RETIRES = date(2027, 3, 31)
PREMIUM_RETIRES = date(2028, 9, 30)


def acr(tier: str, **extra):
    clustering = "none" if tier in ("basic", "standard") else "oss"
    return lambda d: inst_set(
        d, "prod-cache", product="azure-cache-for-redis", tier=tier, sku=None, clustering=clustering, **extra
    )


def cache(**fields):
    return lambda d: inst_set(d, "prod-cache", **fields)


# What each Azure Cache for Redis tier offers, so that a case changes exactly one thing.
ACR_VALID = {
    "basic": {"clustering": "none", "high_availability": False},
    "standard": {"clustering": "none"},
    "premium": {},
    "enterprise": {"auth": "access-key"},
    "enterprise-flash": {"auth": "access-key"},
}


def acr_cache(tier: str, **fields):
    """prod-cache as a valid cache of that ACR tier (no sku), then `fields` changed."""
    return cache(
        **{"product": "azure-cache-for-redis", "tier": tier, "sku": None, **ACR_VALID[tier], **fields}
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
    Case(
        "INS008",
        "acr-enterprise-active",
        lambda d: inst_set(
            d, "prod-state", product="azure-cache-for-redis", tier="enterprise", geo_replication=True
        ),
        [(STATE, "medium")],
    ),
    Case(
        "INS008",
        "acr-premium-passive",
        lambda d: inst_set(
            d, "prod-state", product="azure-cache-for-redis", tier="premium", geo_replication=True
        ),
        [],
    ),
]

# INS009: one finding per combination the product and tier do not offer, naming it
# (name, change, what the message must say)
IMPOSSIBLE = [
    ("acr-basic-clustered", acr_cache("basic", clustering="oss"), "does not offer the OSS cluster policy"),
    (
        "acr-standard-clustered",
        acr_cache("standard", clustering="oss"),
        "does not offer the OSS cluster policy",
    ),
    ("acr-basic-persistence", acr_cache("basic", persistence="aof"), "does not offer AOF persistence"),
    ("acr-standard-persistence", acr_cache("standard", persistence="rdb"), "does not offer RDB persistence"),
    ("acr-basic-geo", acr_cache("basic", geo_replication=True), "does not offer geo-replication"),
    ("acr-standard-geo", acr_cache("standard", geo_replication=True), "does not offer geo-replication"),
    ("acr-basic-with-ha", acr_cache("basic", high_availability=True), "single node"),
    ("acr-standard-without-ha", acr_cache("standard", high_availability=False), "always runs a replica"),
    ("acr-premium-without-ha", acr_cache("premium", high_availability=False), "always runs a replica"),
    (
        "acr-premium-enterprise-clustering",
        acr_cache("premium", clustering="enterprise"),
        "does not offer the Enterprise cluster policy",
    ),
    (
        "acr-premium-persistence-with-geo",
        acr_cache("premium", persistence="rdb", geo_replication=True),
        "does not combine data persistence with geo-replication",
    ),
    (
        "entra-on-acr-enterprise",
        acr_cache("enterprise", auth="entra-id"),
        "does not support Microsoft Entra ID",
    ),
    ("entra-on-acr-enterprise-flash", acr_cache("enterprise-flash", auth="entra-id"), "Microsoft Entra ID"),
    ("entra-without-tls-amr", cache(tls=False), "works over TLS only"),
    ("amr-non-clustered-26gb", cache(clustering="none", sku=None, memory_gb=26), "only up to 25 GB"),
    (
        "amr-persistence-with-geo",
        cache(persistence="rdb", geo_replication=True),
        "persistence with geo-replication",
    ),
    (
        "amr-geo-on-b1",
        cache(sku="B1", memory_gb=1, geo_replication=True),
        "B1 does not offer active geo-replication",
    ),
    ("amr-geo-on-b0", cache(sku="B0", memory_gb=0.5, geo_replication=True), "B0 does not offer active"),
    (
        "amr-geo-on-flash",
        cache(tier="flash-optimized", sku="A250", memory_gb=235, geo_replication=True),
        "does not offer geo-replication",
    ),
    ("amr-geo-without-ha", cache(geo_replication=True, high_availability=False), "needs high availability"),
    (
        "acr-enterprise-persistence-with-geo",
        acr_cache("enterprise", auth="access-key", persistence="aof", geo_replication=True),
        "does not combine data persistence with geo-replication",
    ),
    (
        "acr-enterprise-flash-geo-evicting",
        acr_cache("enterprise-flash", auth="access-key", geo_replication=True, eviction_policy="allkeys-lru"),
        "allows only the noeviction policy",
    ),
    ("sku-of-another-tier", cache(sku="M10"), "M10 is not a size of Azure Managed Redis Balanced"),
    ("sku-unknown", cache(sku="Z9"), "Z9 is not a size of"),
    ("sku-memory-disagrees", cache(memory_gb=13), "B10 has 12 GB of memory, but `memory_gb` says 13 GB"),
    (
        "premium-sku-per-shard",
        acr_cache("premium", sku="P2", memory_gb=13, shards=2),
        "P2 has 13 GB of memory per shard, 26 GB with 2 shards",
    ),
    (
        "enterprise-clustering-on-redis-oss",
        cache(product="redis-oss", tier=None, sku=None, clustering="enterprise"),
        "Enterprise cluster policy exists only in Redis Enterprise",
    ),
]
POSSIBLE = [
    ("base", no_change),
    ("acr-basic", acr_cache("basic")),
    ("acr-standard", acr_cache("standard")),
    ("acr-premium-clustered-rdb", acr_cache("premium", persistence="rdb")),
    ("acr-premium-passive-geo", acr_cache("premium", geo_replication=True)),
    ("acr-premium-entra-beside-plain-port", acr_cache("premium", tls=False)),
    ("acr-premium-sku-per-shard", acr_cache("premium", sku="P2", memory_gb=26, shards=2)),
    ("acr-enterprise-access-key", acr_cache("enterprise", clustering="enterprise", geo_replication=True)),
    ("acr-enterprise-flash", acr_cache("enterprise-flash")),
    (
        "acr-enterprise-flash-geo-noeviction",
        acr_cache("enterprise-flash", geo_replication=True, eviction_policy="noeviction"),
    ),
    ("amr-non-clustered-exactly-25gb", cache(clustering="none", sku=None, memory_gb=25)),
    ("amr-geo-on-b3", cache(sku="B3", memory_gb=3, geo_replication=True)),
    ("amr-enterprise-clustering", cache(clustering="enterprise")),
    ("lower-case-sku", cache(sku="b10")),
    ("redis-oss-clustered", cache(product="redis-oss", tier=None, sku=None, auth="access-key")),
]
CASES += [Case("INS009", name, change, [(CACHE, "high")]) for name, change, _ in IMPOSSIBLE]
CASES += [Case("INS009", name, change, []) for name, change in POSSIBLE]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


# product-cache: key "prod:catalog:product:v3:" 24 + int 8, + 2048 typical + 64 + 32 (TTL) per key
PER_KEY = 24 + 8 + 2048 + 64 + 32
USABLE = int(12 * 2**30 * 0.8)  # 20% reserved (INS007.reserved_share)


def _fill(d: dict, ratio: float, extra_keys: int = 0) -> None:
    """Set product-cache's cardinality to the most keys that stay at or under `ratio` of usable memory."""
    ns_set(d, "product-cache", cardinality=int(ratio * USABLE) // PER_KEY + extra_keys)


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


@pytest.mark.parametrize(("name", "change", "says"), IMPOSSIBLE, ids=[c[0] for c in IMPOSSIBLE])
def test_ins009_names_each_impossible_combination(name, change, says):
    d = base()
    change(d)
    (finding,) = run_rule("INS009", build(d))
    assert says in finding.message, finding.message
    assert "https://learn.microsoft.com/" in finding.remediation


def test_ins009_reports_every_combination_of_one_instance():
    d = base()
    acr_cache("standard", clustering="oss", persistence="rdb", geo_replication=True)(d)
    messages = [f.message for f in run_rule("INS009", build(d))]
    # Standard offers neither persistence nor geo-replication: "does not combine" would say it twice.
    assert len(messages) == 3
    assert any("cluster policy" in m for m in messages)
    assert any("RDB persistence" in m for m in messages)
    assert any("does not offer geo-replication" in m for m in messages)
    assert not any("does not combine" in m for m in messages)


def test_ins009_sku_findings_say_how_to_fix_the_size():
    d = base()
    cache(memory_gb=13)(d)
    (finding,) = run_rule("INS009", build(d))
    assert "`sku`" in finding.remediation and "`memory_gb`" in finding.remediation


def test_the_retirement_dates_come_from_the_platform_catalog():
    assert ACR_RETIREMENT == {
        "basic": PREMIUM_RETIRES,
        "standard": PREMIUM_RETIRES,
        "premium": PREMIUM_RETIRES,
        "enterprise": ENTERPRISE_RETIRES,
        "enterprise-flash": ENTERPRISE_RETIRES,
    }
    for tier, retires in ACR_RETIREMENT.items():
        assert platform.retirement_date("azure-cache-for-redis", tier) == retires
    assert RETIREMENT_WARNING_DAYS == 180


@pytest.mark.parametrize(
    ("tier", "guide"),
    [("enterprise", platform.AMR_MIGRATE_ENTERPRISE), ("premium", platform.AMR_MIGRATE_BSP)],
)
def test_ins001_points_at_the_migration_guide_and_planner(tier, guide):
    d = base()
    acr(tier)(d)
    (finding,) = run_rule("INS001", build(d))
    assert guide in finding.remediation
    assert "plan_migration prod-cache" in finding.remediation


@pytest.mark.parametrize(
    ("change", "says", "never"),
    [
        (cache(auth="access-key"), "no per-user access policies", "access policy for each"),
        (acr_cache("enterprise"), "does not support Microsoft Entra ID", "Enable Microsoft Entra ID"),
        (acr_cache("premium", auth="access-key"), "least-privilege data access policy", "no per-user"),
        (acr_cache("standard", auth="none"), "least-privilege data access policy", "no per-user"),
        (cache(product="redis-oss", tier=None, sku=None, auth="none"), "ACL user", "Entra ID with"),
    ],
    ids=["amr", "acr-enterprise", "acr-premium", "acr-standard-none", "redis-oss"],
)
def test_ins003_remediation_fits_the_product(change, says, never):
    d = base()
    change(d)
    (finding,) = run_rule("INS003", build(d))
    assert says in finding.remediation
    assert never not in finding.remediation


def test_ins003_on_acr_enterprise_says_to_migrate_before_retirement():
    d = base()
    acr_cache("enterprise")(d)
    (finding,) = run_rule("INS003", build(d))
    assert "migrate to Azure Managed Redis" in finding.remediation
    assert "before the tier retires on 2027-03-31" in finding.remediation


def test_ins003_reminds_that_entra_needs_tls():
    d = base()
    cache(auth="access-key", tls=False)(d)
    (finding,) = run_rule("INS003", build(d))
    assert "TLS only" in finding.remediation


def test_ins008_fires_only_for_active_geo_replication():
    for product, tier, kind in [
        ("azure-managed-redis", "balanced", "active"),
        ("azure-cache-for-redis", "enterprise", "active"),
        ("azure-cache-for-redis", "premium", "passive"),
    ]:
        d = base()
        inst_set(d, "prod-state", product=product, tier=tier, geo_replication=True)
        design = build(d)
        assert platform.geo_replication_kind(design.instance("prod-state")) == kind
        assert len(run_rule("INS008", design)) == (1 if kind == "active" else 0)
