"""HSH rules: table-driven pass/fail cases."""

from __future__ import annotations

import pytest
from rule_cases import Case, base, build, inst_add, inst_set, no_change, ns_add, ns_set, run_case, run_rule

from advisor.core import platform

ITEMS = "namespace:cart-items"
TOTALS = "namespace:cart-totals"


def totals(pattern: str):
    return lambda d: ns_set(d, "cart-totals", pattern=pattern)


UNTAGGED = "prod:checkout:cart:v1:<customer:int>:totals"
STATE = "instance:prod-state"


def state(**fields):
    return lambda d: inst_set(d, "prod-state", **fields)


def both(*changes):
    return lambda d: [change(d) for change in changes]


CASES = [
    # HSH001: constant hash tag; high on a clustered instance, low otherwise
    Case(
        "HSH001",
        "clustered",
        lambda d: ns_set(d, "product-cache", pattern="prod:catalog:product:v3:{all}:<id:int>"),
        [("namespace:product-cache", "high")],
    ),
    Case(
        "HSH001",
        "enterprise-clustering",
        lambda d: (
            inst_set(d, "prod-cache", clustering="enterprise"),
            ns_set(d, "product-cache", pattern="prod:catalog:product:v3:{all}:<id:int>"),
        ),
        [("namespace:product-cache", "high")],
    ),
    Case(
        "HSH001",
        "not-clustered",
        lambda d: (
            inst_add(d, "single", clustering="none"),
            ns_add(d, "promo", "prod:catalog:promo:v1:{promos}:<id:int>", instance="single"),
        ),
        [("namespace:promo", "low")],
    ),
    Case("HSH001", "placeholder-tag", no_change, []),
    Case(
        "HSH001",
        "tag-with-literal-and-placeholder",
        totals("prod:checkout:cart:v1:{c<customer:int>}:totals"),
        [],
    ),
    # HSH002: oss clustering, multi_key_with partners not guaranteed one slot (target: the lister)
    Case(
        "HSH002",
        "no-tag-on-one",
        totals("prod:checkout:cart:v1:<customer:int>:totals"),
        [(ITEMS, "high", [TOTALS])],
    ),
    Case(
        "HSH002",
        "different-placeholders",
        totals("prod:checkout:cart:v1:{<cart:int>}:totals"),
        [(ITEMS, "high", [TOTALS])],
    ),
    Case(
        "HSH002",
        "different-literals",
        totals("prod:checkout:cart:v1:{x<customer:int>}:totals"),
        [(ITEMS, "high")],
    ),
    Case(
        "HSH002",
        "mutual-listing-reported-once",
        lambda d: (
            ns_set(d, "cart-totals", multi_key_with=["cart-items"]),
            totals("prod:checkout:cart:v1:<customer:int>:totals")(d),
        ),
        [(ITEMS, "high", [TOTALS])],
    ),
    Case("HSH002", "same-tag", no_change, []),
    Case("HSH002", "same-placeholder-other-kind", totals("prod:checkout:cart:v1:{<customer>}:totals"), []),
    Case(
        "HSH002",
        "enterprise-clustering-no-tag",
        lambda d: (
            inst_set(d, "prod-state", clustering="enterprise"),
            totals("prod:checkout:cart:v1:<customer:int>:totals")(d),
        ),
        [],
    ),
    Case(
        "HSH002",
        "equal-constant-tags",
        lambda d: (
            ns_set(d, "cart-items", pattern="prod:checkout:cart:v1:{cart}:items:<customer:int>"),
            totals("prod:checkout:cart:v1:{cart}:totals:<customer:int>")(d),
        ),
        [],
    ),
    Case(
        "HSH002",
        "oss-with-active-geo",
        both(state(geo_replication=True, persistence="none"), totals(UNTAGGED)),
        [(ITEMS, "high", [TOTALS])],
    ),
    Case("HSH002", "not-clustered", both(state(clustering="none"), totals(UNTAGGED)), []),
    # HSH004: Enterprise policy (medium) or active geo-replication (high), pair not in one slot
    Case(
        "HSH004",
        "enterprise-policy",
        both(state(clustering="enterprise"), totals(UNTAGGED)),
        [(ITEMS, "medium", [TOTALS])],
    ),
    Case(
        "HSH004",
        "enterprise-policy-active-geo",
        both(state(clustering="enterprise", geo_replication=True, persistence="none"), totals(UNTAGGED)),
        [(ITEMS, "high", [TOTALS])],
    ),
    Case(
        "HSH004",
        "oss-policy-active-geo",
        both(
            state(geo_replication=True, persistence="none"),
            totals("prod:checkout:cart:v1:{<cart:int>}:totals"),
        ),
        [(ITEMS, "high", [TOTALS])],
    ),
    Case(
        "HSH004",
        "acr-enterprise-active-geo",
        both(
            state(
                product="azure-cache-for-redis",
                tier="enterprise",
                clustering="enterprise",
                geo_replication=True,
            ),
            totals(UNTAGGED),
        ),
        [(ITEMS, "high")],
    ),
    Case(
        "HSH004",
        "mutual-listing-reported-once",
        both(
            state(clustering="enterprise"),
            lambda d: ns_set(d, "cart-totals", multi_key_with=["cart-items"]),
            totals(UNTAGGED),
        ),
        [(ITEMS, "medium", [TOTALS])],
    ),
    Case("HSH004", "enterprise-policy-same-tag", state(clustering="enterprise"), []),
    Case("HSH004", "active-geo-same-tag", state(clustering="enterprise", geo_replication=True), []),
    Case("HSH004", "oss-without-geo-is-hsh002", totals(UNTAGGED), []),
    Case(
        "HSH004",
        "acr-premium-passive-geo",
        both(state(product="azure-cache-for-redis", tier="premium", geo_replication=True), totals(UNTAGGED)),
        [],
    ),
    # Active-Active databases limit cross-slot commands whatever the cluster policy.
    Case(
        "HSH004",
        "non-clustered-active-geo",
        both(state(clustering="none", geo_replication=True, persistence="none"), totals(UNTAGGED)),
        [(ITEMS, "high")],
    ),
    Case(
        "HSH004",
        "non-clustered-without-geo",
        both(state(clustering="none"), totals(UNTAGGED)),
        [],
    ),
    # HSH003: a hash tag but no multi-key use
    Case(
        "HSH003",
        "tag-unused",
        lambda d: ns_set(d, "product-cache", pattern="prod:catalog:product:v3:{<id:int>}"),
        [("namespace:product-cache", "low")],
    ),
    Case(
        "HSH003",
        "both-unlisted",
        lambda d: ns_set(d, "cart-items", multi_key_with=[]),
        [(ITEMS, "low"), (TOTALS, "low")],
    ),
    Case("HSH003", "listed-by-its-partner", no_change, []),
    Case(
        "HSH003",
        "no-tag",
        lambda d: ns_set(d, "cart-items", multi_key_with=[], pattern="prod:checkout:cart:v1:<c:int>:items"),
        [(TOTALS, "low")],
    ),
    Case(
        "HSH003",
        "untagged-namespace",
        lambda d: ns_add(d, "misc", "prod:catalog:misc:v1:<id:int>"),
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


def _findings(rule_id: str, *changes):
    d = base()
    for change in changes:
        change(d)
    return run_rule(rule_id, build(d))


def test_hsh002_fix_is_the_hash_tag_not_the_enterprise_policy():
    (finding,) = _findings("HSH002", totals(UNTAGGED))
    assert "same hash tag" in finding.remediation and "{<customer:int>}" in finding.remediation
    assert "enterprise" not in finding.remediation.lower()


def test_hsh004_names_the_commands_that_may_span_slots():
    (enterprise,) = _findings("HSH004", state(clustering="enterprise"), totals(UNTAGGED))
    assert "only DEL, MSET, MGET, EXISTS, UNLINK and TOUCH may span slots" in enterprise.message
    assert "transactions, Lua scripts" in enterprise.message and "CROSSSLOT" in enterprise.message
    (geo,) = _findings(
        "HSH004", state(clustering="enterprise", geo_replication=True, persistence="none"), totals(UNTAGGED)
    )
    assert "only MGET, EXISTS and TOUCH may span slots" in geo.message
    assert "same hash tag" in geo.remediation and "enterprise" not in geo.remediation.lower()


def test_hsh004_takes_the_command_lists_from_the_platform_catalog():
    assert platform.ENTERPRISE_CROSS_SLOT_COMMANDS == ("DEL", "MSET", "MGET", "EXISTS", "UNLINK", "TOUCH")
    assert platform.ACTIVE_GEO_CROSS_SLOT_COMMANDS == ("MGET", "EXISTS", "TOUCH")
