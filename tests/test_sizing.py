"""The sizing model of docs/rules.md, checked by redoing its arithmetic by hand."""

from __future__ import annotations

import pytest
from rule_cases import TODAY, base, build, inst_add, ns_add, ns_set

from advisor.core import platform
from advisor.core.design import DesignError
from advisor.core.patterns import parse_pattern
from advisor.core.rules.base import DesignContext
from advisor.core.sizing import design_sizing, instance_sizing, namespace_memory_bytes, namespace_sizing

GIB = 2**30


def _design(**changes):
    d = base()
    for name, fields in changes.items():
        ns_set(d, name.replace("_", "-"), **fields)
    return build(d)


@pytest.mark.parametrize(
    "pattern, key_bytes",
    [
        ("prod:catalog:product:v3:<id:int>", 24 + 8),
        ("prod:x:<u:uuid>", 7 + 36),
        ("prod:x:<h:hex>", 7 + 32),
        ("prod:x:<h:hash>", 7 + 44),
        ("prod:x:<s>", 7 + 16),
        ("prod:x:*", 7 + 16),
        ("prod:x:<a:any>", 7 + 32),
        ("prod:cart:{<c:int>}:items", len("prod:cart:{}:items") + 8),
        ("prod:café:<id:int>", len("prod:café:".encode()) + 8),
    ],
)
def test_it_estimates_key_bytes_from_literal_text_and_placeholder_kinds(pattern, key_bytes):
    d = base()
    ns_set(d, "product-cache", pattern=pattern)
    ns = build(d).namespace("product-cache")
    assert namespace_sizing(ns).key_bytes == key_bytes


def test_it_adds_value_overhead_and_ttl_overhead_per_key():
    design = _design(product_cache={"cardinality": 1000, "value_bytes": {"typical": 100, "max": 100}})
    ns = design.namespace("product-cache")
    assert namespace_memory_bytes(ns, parse_pattern(ns.pattern)) == 1000 * (32 + 100 + 64 + 32)

    design = _design(
        product_cache={
            "cardinality": 1000,
            "ttl": {"mode": "none"},
            "value_bytes": {"typical": 100, "max": 100},
        }
    )
    assert namespace_memory_bytes(design.namespace("product-cache")) == 1000 * (32 + 100 + 64)


def test_it_sums_an_instance_and_keeps_20_percent_reserved():
    design = _design(product_cache={"cardinality": 1000, "value_bytes": {"typical": 100, "max": 100}})
    sizing = instance_sizing(design, "prod-cache")
    assert platform.RESERVED_SHARE == 0.2
    assert sizing.reserved_share == 0.2
    assert sizing.usable_bytes == int(12 * GIB * 0.8) == 10_307_921_510
    assert sizing.total_bytes == 1000 * 228
    assert sizing.usage_ratio == pytest.approx(228000 / (12 * GIB * 0.8))
    assert [n.name for n in sizing.namespaces] == ["product-cache"]


def test_it_takes_another_reserve_when_told():
    design = build(base())
    sizing = instance_sizing(design, "prod-cache", reserved_share=0.1)
    assert (sizing.reserved_share, sizing.usable_bytes) == (0.1, int(12 * GIB * 0.9))
    assert design_sizing(design, reserved_share=0)["prod-state"].usable_bytes == 4 * GIB


def test_the_lint_context_sizes_with_the_policy_reserve():
    d = base()
    assert DesignContext(build(d), today=TODAY).sizing["prod-cache"].usable_bytes == int(12 * GIB * 0.8)
    d["policy"] = {"thresholds": {"INS007.reserved_share": 0.25}}
    sizing = DesignContext(build(d), today=TODAY).sizing["prod-cache"]
    assert (sizing.reserved_share, sizing.usable_bytes) == (0.25, 9 * GIB)


def test_a_reserve_of_everything_is_refused():
    # It would leave no usable memory and divide every usage ratio by zero.
    d = base()
    d["policy"] = {"thresholds": {"INS007.reserved_share": 1}}
    with pytest.raises(DesignError, match="reserved_share must be below 1"):
        build(d)


def test_it_takes_the_memory_from_the_sku():
    d = base()
    inst_add(d, "sized", sku="b5")
    del d["instances"][-1]["memory_gb"]
    sizing = design_sizing(build(d))["sized"]
    size = platform.find_sku("azure-managed-redis", "balanced", "B5")
    assert sizing.memory_gb == size.memory_gb
    assert sizing.usable_bytes == int(size.memory_gb * GIB * 0.8)


def test_it_reports_memory_without_ttl_and_its_share():
    d = base()
    ns_add(
        d,
        "ledger",
        "prod:checkout:ledger:v1:<id:int>",
        instance="prod-state",
        classification="durable",
        ttl={"mode": "none"},
        cardinality=3000,
        value_bytes={"typical": 1000, "max": 1000},
    )
    sizing = design_sizing(build(d))["prod-state"]
    ledger = 3000 * (len("prod:checkout:ledger:v1:") + 8 + 1000 + 64)
    assert sizing.without_ttl_bytes == ledger
    assert sizing.without_ttl_share == pytest.approx(ledger / sizing.total_bytes)
    assert sizing.without_key_ttl_bytes == ledger
    assert sizing.total_bytes == sum(n.memory_bytes for n in sizing.namespaces)


def test_per_field_expiry_counts_as_a_ttl_but_not_as_a_key_ttl():
    d = base()
    ns_set(d, "sessions", ttl={"mode": "per-field", "seconds": 1800})
    sizing = design_sizing(build(d))["prod-state"]
    sessions = next(n for n in sizing.namespaces if n.name == "sessions")
    # The fields carry expiry metadata, so the TTL overhead stays in the estimate.
    key = len("prod:identity:session:v2:") + 44
    assert sessions.memory_bytes == 100_000 * (key + 2048 + 64 + 32)
    assert (sessions.has_ttl, sessions.key_has_ttl) == (True, False)
    assert sizing.without_ttl_bytes == 0
    assert sizing.without_key_ttl_bytes == sessions.memory_bytes
    assert sizing.without_key_ttl_share == pytest.approx(sessions.memory_bytes / sizing.total_bytes)


def test_an_empty_instance_has_zero_usage():
    d = base()
    inst_add(d, "empty", memory_gb=0.5)
    sizing = design_sizing(build(d))["empty"]
    assert (sizing.total_bytes, sizing.usage_ratio, sizing.without_ttl_share) == (0, 0.0, 0.0)
    assert sizing.without_key_ttl_share == 0.0
    assert sizing.usable_bytes == int(0.5 * GIB * 0.8)


def test_design_sizing_covers_every_instance():
    design = build(base())
    sizing = design_sizing(design)
    assert set(sizing) == {"prod-cache", "prod-state"}
    assert sizing["prod-state"] == instance_sizing(design, "prod-state")
