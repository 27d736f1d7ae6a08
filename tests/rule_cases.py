"""Rule test cases as data: a small clean design, mutations of it, and the findings they must give.

Each case names one rule, changes the clean base design (a function over the design as plain
data) and lists the findings that rule must report, as (target, severity) or
(target, severity, related). An empty list is a passing case. `run_case` checks one case;
the `tests/test_rules_<group>.py` files parametrize over their group's table.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from advisor.core.design import Design, load_design
from advisor.core.findings import Finding
from advisor.core.rules import get_rule
from advisor.core.rules.base import DesignContext

TODAY = date(2026, 11, 26)

NAMESPACE_TEMPLATE: dict[str, Any] = {
    "team": "catalog",
    "instance": "prod-cache",
    "classification": "disposable",
    "data_type": "string",
    "ttl": {"mode": "absolute", "seconds": 600, "jitter_seconds": 90},
    "value_bytes": {"typical": 2048, "max": 16384},
    "cardinality": 1000,
    "ops_per_sec": {"reads": 100, "writes": 5},
    "data_classification": "internal",
    "contains": [],
    "negative_cache": False,
    "source_of_truth": "catalog-sql.things",
    "multi_key_with": [],
}

INSTANCE_TEMPLATE: dict[str, Any] = {
    "environment": "prod",
    "product": "azure-managed-redis",
    "tier": "balanced",
    "memory_gb": 12,
    "shards": 2,
    "clustering": "oss",
    "high_availability": True,
    "persistence": "none",
    "geo_replication": False,
    "eviction_policy": "allkeys-lru",
    "auth": "entra-id",
    "tls": True,
    "public_network_access": False,
}

# A design no rule fires on: a cache instance (Azure Managed Redis Balanced B10, 12 GB) with one
# disposable namespace, and a state instance (4 GB, no sku: memory_gb alone; volatile-lru, AOF)
# with sessions and a cart whose two namespaces share a hash tag.
BASE: dict[str, Any] = {
    "version": 1,
    "teams": [{"name": "catalog"}, {"name": "identity"}, {"name": "checkout"}],
    "instances": [
        {**INSTANCE_TEMPLATE, "name": "prod-cache", "sku": "B10"},
        {
            **INSTANCE_TEMPLATE,
            "name": "prod-state",
            "memory_gb": 4,
            "persistence": "aof",
            "eviction_policy": "volatile-lru",
        },
    ],
    "namespaces": [
        {
            **NAMESPACE_TEMPLATE,
            "name": "product-cache",
            "pattern": "prod:catalog:product:v3:<id:int>",
            "cardinality": 500000,
            "ops_per_sec": {"reads": 2000, "writes": 50},
            "source_of_truth": "catalog-sql.products",
        },
        {
            **NAMESPACE_TEMPLATE,
            "name": "sessions",
            "team": "identity",
            "instance": "prod-state",
            "pattern": "prod:identity:session:v2:<sid:hash>",
            "classification": "session",
            "data_type": "hash",
            "ttl": {"mode": "sliding", "seconds": 1800},
            "value_bytes": {"typical": 2048, "max": 8192},
            "cardinality": 100000,
            "ops_per_sec": {"reads": 500, "writes": 100},
            "data_classification": "confidential",
            "source_of_truth": None,
        },
        {
            **NAMESPACE_TEMPLATE,
            "name": "cart-items",
            "team": "checkout",
            "instance": "prod-state",
            "pattern": "prod:checkout:cart:v1:{<customer:int>}:items",
            "classification": "session",
            "data_type": "hash",
            "ttl": {"mode": "sliding", "seconds": 3600},
            "cardinality": 20000,
            "source_of_truth": None,
            "multi_key_with": ["cart-totals"],
        },
        {
            **NAMESPACE_TEMPLATE,
            "name": "cart-totals",
            "team": "checkout",
            "instance": "prod-state",
            "pattern": "prod:checkout:cart:v1:{<customer:int>}:totals",
            "classification": "session",
            "data_type": "hash",
            "ttl": {"mode": "sliding", "seconds": 3600},
            "value_bytes": {"typical": 128, "max": 512},
            "cardinality": 20000,
            "source_of_truth": None,
        },
    ],
}


def base() -> dict[str, Any]:
    """A fresh deep copy of the clean base design."""
    return copy.deepcopy(BASE)


def _find(items: list[dict], name: str) -> dict:
    for item in items:
        if item["name"] == name:
            return item
    raise KeyError(name)


def ns_set(d: dict, name: str, **fields: Any) -> None:
    """Change fields of a namespace (a nested field such as `ttl` is replaced whole)."""
    _find(d["namespaces"], name).update(fields)


def inst_set(d: dict, name: str, **fields: Any) -> None:
    _find(d["instances"], name).update(fields)


def ns_add(d: dict, name: str, pattern: str, **fields: Any) -> None:
    """Add a namespace built from the template (team catalog on prod-cache unless told otherwise)."""
    d["namespaces"].append({**copy.deepcopy(NAMESPACE_TEMPLATE), "name": name, "pattern": pattern, **fields})


def inst_add(d: dict, name: str, **fields: Any) -> None:
    d["instances"].append({**copy.deepcopy(INSTANCE_TEMPLATE), "name": name, **fields})


def build(d: dict) -> Design:
    """Load the data through the real loader, so a case can never test an invalid design."""
    return load_design(json.dumps(d, default=str), filename="case.json")


def run_rule(rule_id: str, design: Design, *, today: date = TODAY) -> list[Finding]:
    return list(get_rule(rule_id).check(DesignContext(design, today=today)))


@dataclass
class Case:
    rule: str
    name: str
    change: Callable[[dict], Any]
    expect: list[tuple] = field(default_factory=list)
    today: date = TODAY

    @property
    def id(self) -> str:
        return f"{self.rule}-{'fail' if self.expect else 'pass'}-{self.name}"


def run_case(case: Case) -> list[Finding]:
    d = base()
    case.change(d)
    findings = run_rule(case.rule, build(d), today=case.today)
    # `related` is compared only when the case spells it out for at least one finding.
    with_related = any(len(e) == 3 for e in case.expect)
    if with_related:
        got = sorted((f.target, f.severity.value, tuple(f.related)) for f in findings)
        want = sorted((e[0], e[1], tuple(e[2]) if len(e) == 3 else ()) for e in case.expect)
    else:
        got = sorted((f.target, f.severity.value) for f in findings)
        want = sorted((e[0], e[1]) for e in case.expect)
    assert got == want, (
        "\n".join(f"{f.severity.value} {f.target}: {f.message}" for f in findings) or "no finding"
    )
    for f in findings:
        assert f.rule == case.rule
        assert f.message and f.remediation and f.title
    return findings


def no_change(d: dict) -> None:
    pass


def counts(cases: list[Case]) -> dict[str, tuple[int, int]]:
    """(failing, passing) case counts per rule."""
    out: dict[str, tuple[int, int]] = {}
    for c in cases:
        fail, ok = out.get(c.rule, (0, 0))
        out[c.rule] = (fail + 1, ok) if c.expect else (fail, ok + 1)
    return out
