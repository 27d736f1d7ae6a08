"""The sizing model of docs/rules.md, checked by redoing its arithmetic by hand."""

from __future__ import annotations

import pytest
from rule_cases import base, build, inst_add, ns_add, ns_set

from advisor.core.patterns import parse_pattern
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


def test_it_sums_an_instance_and_keeps_10_percent_reserved():
    design = _design(product_cache={"cardinality": 1000, "value_bytes": {"typical": 100, "max": 100}})
    sizing = instance_sizing(design, "prod-cache")
    assert sizing.usable_bytes == int(12 * GIB * 0.9)
    assert sizing.total_bytes == 1000 * 228
    assert sizing.usage_ratio == pytest.approx(228000 / (12 * GIB * 0.9))
    assert [n.name for n in sizing.namespaces] == ["product-cache"]


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
    assert sizing.total_bytes == sum(n.memory_bytes for n in sizing.namespaces)


def test_an_empty_instance_has_zero_usage():
    d = base()
    inst_add(d, "empty", memory_gb=0.5)
    sizing = design_sizing(build(d))["empty"]
    assert (sizing.total_bytes, sizing.usage_ratio, sizing.without_ttl_share) == (0, 0.0, 0.0)
    assert sizing.usable_bytes == int(0.5 * GIB * 0.9)


def test_design_sizing_covers_every_instance():
    design = build(base())
    sizing = design_sizing(design)
    assert set(sizing) == {"prod-cache", "prod-state"}
    assert sizing["prod-state"] == instance_sizing(design, "prod-state")
