"""DUR rules: table-driven pass/fail cases."""

from __future__ import annotations

import pytest
from rule_cases import Case, base, build, inst_add, inst_set, no_change, ns_add, run_case, run_rule

NONE = {"mode": "none"}


def durable(instance: str, source: str | None = None):
    return lambda d: ns_add(
        d,
        "ledger",
        "prod:checkout:ledger:v1:<id:int>",
        instance=instance,
        classification="durable",
        ttl=NONE,
        source_of_truth=source,
    )


CASES = [
    # DUR001: durable, no source of truth, instance without persistence
    Case(
        "DUR001", "on-cache", durable("prod-cache"), [("namespace:ledger", "high", ["instance:prod-cache"])]
    ),
    Case(
        "DUR001",
        "state-without-persistence",
        lambda d: (inst_set(d, "prod-state", persistence="none"), durable("prod-state")(d)),
        [("namespace:ledger", "high")],
    ),
    Case("DUR001", "with-source", durable("prod-cache", "ledger-sql.entries"), []),
    Case("DUR001", "persisted-is-dur002", durable("prod-state"), []),
    # DUR002: durable, no source of truth, instance with persistence
    Case("DUR002", "aof", durable("prod-state"), [("namespace:ledger", "medium", ["instance:prod-state"])]),
    Case(
        "DUR002",
        "rdb",
        lambda d: (inst_set(d, "prod-state", persistence="rdb"), durable("prod-state")(d)),
        [("namespace:ledger", "medium")],
    ),
    Case("DUR002", "with-source", durable("prod-state", "ledger-sql.entries"), []),
    Case("DUR002", "no-persistence-is-dur001", durable("prod-cache"), []),
    # DUR003: persistence on an instance with only disposable namespaces
    Case(
        "DUR003",
        "rdb-cache",
        lambda d: inst_set(d, "prod-cache", persistence="rdb"),
        [("instance:prod-cache", "info")],
    ),
    Case(
        "DUR003",
        "aof-two-caches",
        lambda d: (
            inst_add(d, "cache2", persistence="aof"),
            ns_add(d, "a", "prod:catalog:a:v1:<id:int>", instance="cache2"),
            ns_add(d, "b", "prod:catalog:b:v1:<id:int>", instance="cache2"),
        ),
        [("instance:cache2", "info")],
    ),
    Case("DUR003", "persisted-sessions", no_change, []),
    Case("DUR003", "empty-instance", lambda d: inst_add(d, "empty", persistence="aof"), []),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


@pytest.mark.parametrize(
    ("tier", "offers_persistence"), [("standard", False), ("basic", False), ("premium", True)]
)
def test_dur001_says_when_the_tier_has_no_persistence(tier, offers_persistence):
    d = base()
    inst_set(d, "prod-cache", product="azure-cache-for-redis", tier=tier, sku=None, clustering="none")
    durable("prod-cache")(d)
    (finding,) = run_rule("DUR001", build(d))
    says = f"Azure Cache for Redis {tier.capitalize()} offers no data persistence"
    assert (says in finding.remediation) is not offers_persistence
    assert "source_of_truth" in finding.remediation
