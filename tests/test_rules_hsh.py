"""HSH rules: table-driven pass/fail cases."""

from __future__ import annotations

import pytest
from rule_cases import Case, inst_add, inst_set, no_change, ns_add, ns_set, run_case

ITEMS = "namespace:cart-items"
TOTALS = "namespace:cart-totals"


def totals(pattern: str):
    return lambda d: ns_set(d, "cart-totals", pattern=pattern)


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
