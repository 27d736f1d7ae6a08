"""Every number a design accepts is one the product can compute with.

The core model bounds each numeric field (advisor.core.design, "Limits"); these tests check the
bounds from both sides, and that the sizing model, every design rule, every drift rule and the
migration planner stay finite and never raise anywhere in the accepted range, extremes included.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from advisor.core import platform
from advisor.core.design import (
    MAX_KEYS,
    MAX_MEMORY_GB,
    MAX_OPS_PER_SEC,
    MAX_RESERVED_SHARE,
    MAX_SECONDS,
    MAX_SHARDS,
    MAX_THRESHOLD,
    MAX_VALUE_BYTES,
    MIN_MEMORY_GB,
    TIERS_BY_PRODUCT,
    Design,
    DesignError,
    load_design,
)
from advisor.core.engine import lint_design
from advisor.core.migration import NothingToMigrate, migration_plan
from advisor.core.rules import ALL_RULES
from advisor.core.rules.base import effective_thresholds
from advisor.core.scan import ScanReport, evaluate_drift
from advisor.core.scan.report import (
    BigCollection,
    NamespaceReport,
    ServerFacts,
    ShardReport,
    SlotCount,
    TtlSeconds,
)
from advisor.core.sizing import design_sizing

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

INSTANCE = {
    "name": "i",
    "environment": "prod",
    "product": "redis-oss",
    "memory_gb": 1,
    "clustering": "none",
    "high_availability": True,
    "persistence": "none",
    "geo_replication": False,
    "eviction_policy": "allkeys-lru",
    "auth": "none",
    "tls": True,
    "public_network_access": False,
}
NAMESPACE = {
    "name": "n",
    "team": "t",
    "instance": "i",
    "pattern": "prod:t:thing:v1:<id:int>",
    "classification": "disposable",
    "data_type": "string",
    "ttl": {"mode": "absolute", "seconds": 60},
    "value_bytes": {"typical": 10, "max": 20},
    "cardinality": 1,
    "ops_per_sec": {"reads": 1, "writes": 1},
    "data_classification": "internal",
}


def _design(instance: dict | None = None, namespace: dict | None = None, policy: dict | None = None) -> dict:
    data = {
        "version": 1,
        "teams": [{"name": "t"}],
        "instances": [{**INSTANCE, **(instance or {})}],
        "namespaces": [{**NAMESPACE, **(namespace or {})}],
    }
    if policy is not None:
        data["policy"] = policy
    return data


def _issues(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(DesignError) as e:
        load_design(json.dumps(data), filename="d.json")
    return [(i.loc, i.message) for i in e.value.errors]


# The bounds, from both sides ------------------------------------------------------------------

_AT_THE_BOUND = [
    ({"memory_gb": MAX_MEMORY_GB}, None),
    ({"memory_gb": MIN_MEMORY_GB}, None),
    ({"shards": MAX_SHARDS, "clustering": "oss"}, None),
    (None, {"cardinality": MAX_KEYS}),
    (None, {"value_bytes": {"typical": MAX_VALUE_BYTES, "max": MAX_VALUE_BYTES}}),
    (None, {"ops_per_sec": {"reads": MAX_OPS_PER_SEC, "writes": MAX_OPS_PER_SEC}}),
    (None, {"ttl": {"mode": "sliding", "seconds": MAX_SECONDS, "jitter_seconds": MAX_SECONDS}}),
]


@pytest.mark.parametrize("instance, namespace", _AT_THE_BOUND)
def test_a_value_at_its_bound_is_accepted_and_linted(instance, namespace):
    design = load_design(json.dumps(_design(instance, namespace)))
    result = lint_design(design, today=TODAY)
    assert json.loads(result.to_json())["version"] == 1
    assert all(math.isfinite(s.usage_ratio) for s in design_sizing(design).values())


@pytest.mark.parametrize(
    "instance, namespace, loc, says",
    [
        ({"memory_gb": 1e308}, None, "instances[0].memory_gb", f"must be <= {MAX_MEMORY_GB}"),
        ({"memory_gb": MAX_MEMORY_GB + 1}, None, "instances[0].memory_gb", f"must be <= {MAX_MEMORY_GB}"),
        ({"memory_gb": 0.0009}, None, "instances[0].memory_gb", "must be at least 0.001"),
        ({"memory_gb": 1e-300}, None, "instances[0].memory_gb", "must be at least 0.001"),
        ({"shards": MAX_SHARDS + 1}, None, "instances[0].shards", f"must be <= {MAX_SHARDS}"),
        (None, {"cardinality": MAX_KEYS + 1}, "namespaces[0].cardinality", f"must be <= {MAX_KEYS}"),
        (None, {"cardinality": 10**30}, "namespaces[0].cardinality", f"must be <= {MAX_KEYS}"),
        (
            None,
            {"value_bytes": {"typical": 1, "max": MAX_VALUE_BYTES + 1}},
            "namespaces[0].value_bytes.max",
            f"must be <= {MAX_VALUE_BYTES}",
        ),
        (
            None,
            {"ops_per_sec": {"reads": 1, "writes": MAX_OPS_PER_SEC * 1.01}},
            "namespaces[0].ops_per_sec.writes",
            f"must be <= {MAX_OPS_PER_SEC}",
        ),
        (
            None,
            {"ttl": {"mode": "absolute", "seconds": MAX_SECONDS + 1}},
            "namespaces[0].ttl.seconds",
            f"must be <= {MAX_SECONDS}",
        ),
    ],
)
def test_a_value_past_its_bound_is_a_located_error(instance, namespace, loc, says):
    [(got_loc, message)] = _issues(_design(instance, namespace))
    assert got_loc == loc and message.startswith(says)


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("VAL001.max_bytes", MAX_THRESHOLD * 2, "must be at most 2^53"),
        ("VAL001.max_bytes", 1e308, "must be at most 2^53"),
        ("TTL004.max_seconds", -1, "must not be negative"),
        ("INS007.reserved_share", 0.995, "at most 0.99"),
    ],
)
def test_a_threshold_past_its_bound_is_a_located_error(name, value, says):
    [(loc, message)] = _issues(_design(policy={"thresholds": {name: value}}))
    assert loc == "policy.thresholds" and name in message and says in message


def test_thresholds_at_their_bounds_are_accepted():
    thresholds = {name: 0 for name in effective_thresholds()}
    assert load_design(json.dumps(_design(policy={"thresholds": thresholds})))
    top = {name: (1 if name.endswith("_share") else MAX_THRESHOLD) for name in effective_thresholds()}
    top["INS007.reserved_share"] = MAX_RESERVED_SHARE
    design = load_design(json.dumps(_design(policy={"thresholds": top})))
    lint_design(design, today=TODAY)


@pytest.mark.parametrize("text", ["1e309", "-1e309", "NaN", "Infinity"])
def test_json_numbers_past_a_float_are_located_errors(text):
    body = json.dumps(_design({"memory_gb": 12345})).replace("12345", text)
    [(loc, _)] = _issues_text(body)
    assert loc == "instances[0].memory_gb"


def _issues_text(text: str) -> list[tuple[str, str]]:
    with pytest.raises(DesignError) as e:
        load_design(text, filename="d.json")
    return [(i.loc, i.message) for i in e.value.errors]


def test_the_bounds_cover_every_size_of_the_catalog_at_any_shard_count():
    # Memory filled from a sku (per shard times shards on ACR Premium) stays within the bound.
    for tier in platform.TIERS:
        for size in tier.skus:
            most = (size.memory_gb or 0) * (MAX_SHARDS if tier.memory_per_shard else 1)
            assert most <= MAX_MEMORY_GB, size.name
    data = _design(
        {
            "product": "azure-cache-for-redis",
            "tier": "premium",
            "sku": "P5",
            "clustering": "oss",
            "shards": MAX_SHARDS,
            "memory_gb": None,
            "auth": "access-key",
        }
    )
    del data["instances"][0]["memory_gb"]
    design = load_design(json.dumps(data))
    assert design.instances[0].memory_gb <= MAX_MEMORY_GB
    lint_design(design, today=TODAY)


# Property: nothing in the accepted range makes the product raise -------------------------------


def _edges(lo, hi, *, floats: bool = False):
    """Values of [lo, hi], its ends and their neighbours drawn often."""
    near = [math.nextafter(hi, lo), math.nextafter(lo, hi)] if floats else [lo + 1, hi - 1]
    ends = [v for v in [lo, hi, *near] if lo <= v <= hi]
    inner = st.floats(lo, hi) if floats else st.integers(lo, hi)
    return st.sampled_from(ends) | inner


_PATTERNS = [
    "prod:catalog:product:v3:<id:int>",
    "cart:{<customer:int>}:items",
    "cart:{all}:items",
    "prod:search:v2:<q:any>",
    "prod:orders:<order:uuid>:lines:<line:hex>:<d:hash>:<s:str>:*",
    "x",
    "prod:" + "l" * 480 + ":<id>",
]
_THRESHOLD_NAMES = sorted({name for r in ALL_RULES for name in r.thresholds})


def _threshold(name: str):
    if name.endswith("reserved_share"):
        return _edges(0.0, MAX_RESERVED_SHARE, floats=True)
    if name.endswith("_share"):
        return _edges(0.0, 1.0, floats=True)
    return _edges(0.0, float(MAX_THRESHOLD), floats=True) | _edges(0, MAX_THRESHOLD)


@st.composite
def extreme_designs(draw) -> Design:
    instance_names = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    instances = []
    for name in instance_names:
        product = draw(st.sampled_from(list(TIERS_BY_PRODUCT)))
        tiers = TIERS_BY_PRODUCT[product]
        tier = draw(st.sampled_from(tiers)) if tiers else None
        entry = platform.tier(product, tier)
        sizes = [s for s in entry.skus if s.memory_gb is not None] if entry else []
        instance = {
            **INSTANCE,
            "name": name,
            "environment": draw(st.sampled_from(["prod", "staging", "dev", "test"])),
            "product": product,
            "tier": tier,
            "shards": draw(_edges(1, MAX_SHARDS)),
            "clustering": draw(st.sampled_from(["oss", "enterprise", "none"])),
            "high_availability": draw(st.booleans()),
            "persistence": draw(st.sampled_from(["none", "rdb", "aof"])),
            "geo_replication": draw(st.booleans()),
            "eviction_policy": draw(
                st.sampled_from(["noeviction", "allkeys-lru", "volatile-ttl", "volatile-lfu"])
            ),
            "auth": draw(st.sampled_from(["entra-id", "access-key", "none"])),
        }
        if sizes and draw(st.booleans()):
            instance["sku"] = draw(st.sampled_from(sizes)).name
            instance.pop("memory_gb")
        else:
            instance["memory_gb"] = draw(_edges(MIN_MEMORY_GB, float(MAX_MEMORY_GB), floats=True))
        instances.append(instance)
    namespaces = []
    for i in range(draw(st.integers(0, 4))):
        data_type = draw(
            st.sampled_from(["string", "hash", "list", "set", "zset", "stream", "json", "other"])
        )
        mode = draw(
            st.sampled_from(["absolute", "sliding", "none"] + (["per-field"] if data_type == "hash" else []))
        )
        ttl = {"mode": mode}
        if mode != "none":
            ttl.update(seconds=draw(_edges(1, MAX_SECONDS)), jitter_seconds=draw(_edges(0, MAX_SECONDS)))
        typical = draw(_edges(0, MAX_VALUE_BYTES))
        namespaces.append(
            {
                **NAMESPACE,
                "name": f"n{i}",
                "instance": draw(st.sampled_from(instance_names)),
                "pattern": draw(st.sampled_from(_PATTERNS)),
                "classification": draw(st.sampled_from(["disposable", "session", "coordination", "durable"])),
                "data_type": data_type,
                "ttl": ttl,
                "value_bytes": {"typical": typical, "max": draw(_edges(typical, MAX_VALUE_BYTES))},
                "cardinality": draw(_edges(0, MAX_KEYS)),
                "ops_per_sec": {
                    "reads": draw(_edges(0.0, float(MAX_OPS_PER_SEC), floats=True)),
                    "writes": draw(_edges(0, MAX_OPS_PER_SEC)),
                },
                "contains": draw(
                    st.lists(st.sampled_from(["pii", "credentials", "tokens", "payment"]), unique=True)
                ),
                "negative_cache": draw(st.booleans()),
                "source_of_truth": draw(st.none() | st.just("db")),
                "data_classification": draw(
                    st.sampled_from(["public", "internal", "confidential", "restricted"])
                ),
            }
        )
    names = draw(st.lists(st.sampled_from(_THRESHOLD_NAMES), unique=True, max_size=len(_THRESHOLD_NAMES)))
    policy = {"thresholds": {name: draw(_threshold(name)) for name in names}}
    return Design.model_validate(
        {
            "version": 1,
            "teams": [{"name": "t"}],
            "instances": instances,
            "namespaces": namespaces,
            "policy": policy,
        }
    )


def _largest() -> Design:
    """Everything at its upper bound at once."""
    data = _design(
        {"memory_gb": MAX_MEMORY_GB, "shards": MAX_SHARDS, "clustering": "oss"},
        {
            "cardinality": MAX_KEYS,
            "value_bytes": {"typical": MAX_VALUE_BYTES, "max": MAX_VALUE_BYTES},
            "ops_per_sec": {"reads": MAX_OPS_PER_SEC, "writes": MAX_OPS_PER_SEC},
            "ttl": {"mode": "sliding", "seconds": MAX_SECONDS, "jitter_seconds": MAX_SECONDS},
        },
        {"thresholds": {name: MAX_THRESHOLD for name in _THRESHOLD_NAMES if not name.endswith("_share")}},
    )
    return Design.model_validate(data)


def _smallest() -> Design:
    """The least memory, the largest reserve, and the largest namespace in it."""
    data = _design(
        {"memory_gb": MIN_MEMORY_GB},
        {"cardinality": MAX_KEYS, "value_bytes": {"typical": MAX_VALUE_BYTES, "max": MAX_VALUE_BYTES}},
        {"thresholds": {"INS007.reserved_share": MAX_RESERVED_SHARE}},
    )
    return Design.model_validate(data)


def _scan(design: Design, instance: str, draw_int) -> ScanReport:
    """A completed scan of the instance whose figures are as large as a server can report."""
    names = [ns.name for ns in design.namespaces_on(instance)]
    big = draw_int
    return ScanReport(
        instance=instance,
        status="completed",
        started_at=NOW,
        finished_at=NOW,
        duration_s=1.0,
        keys_scanned=big,
        keys_total=big,
        complete=True,
        namespaces=[
            NamespaceReport(
                name=name,
                keys=big,
                without_ttl=big,
                types={"string": big},
                memory_bytes=big,
                memory_estimated=True,
                ttl_seconds=TtlSeconds(min=1, p50=big, max=big, p90=big, p99=big),
                memory_sampled_keys=big,
                ttl_above_design=big,
                oversized_keys=big,
                collections_counted=big,
                collections_above_limit=big,
                without_ttl_types={"string": big},
            )
            for name in names
        ],
        server=ServerFacts(
            redis_version="7.4.0",
            maxmemory_policy="noeviction",
            used_memory=big,
            maxmemory=big,
            evicted_keys=big,
            keyspace_hits=big,
            keyspace_misses=big,
            connected_clients=big,
            rejected_connections=big,
            expired_keys=big,
            hit_ratio=0.0,
            mem_fragmentation_ratio=1e6,
            cluster_enabled=True,
            nodes=2,
            keyspace={"db0": big, "db3": big},
            notify_keyspace_events="KEA",
        ),
        clustered=True,
        shards=[
            ShardReport(
                node="10.0.0.1:6379", slots=16384, keys=big, keys_total=big, used_memory=big, complete=True
            ),
            ShardReport(node="10.0.0.2:6379", slots=0, keys=0, keys_total=0, used_memory=0, complete=True),
        ],
        fullest_slots=[SlotCount(slot=0, keys=big)],
        elements_limit=1,
        big_collections=[
            BigCollection(namespace=names[0] if names else None, key="k", type="zset", elements=big)
        ],
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(design=extreme_designs(), scanned=st.sampled_from([0, 1, 2**63 - 1]) | st.integers(0, 2**63 - 1))
@example(design=_largest(), scanned=2**63 - 1)
@example(design=_smallest(), scanned=0)
def test_no_accepted_design_makes_the_sizing_the_rules_or_the_planner_raise(design, scanned):
    thresholds = effective_thresholds(design)
    reserved = thresholds["INS007.reserved_share"]
    for sizing in design_sizing(design, reserved_share=reserved).values():
        assert sizing.usable_bytes > 0
        assert math.isfinite(sizing.usage_ratio) and sizing.usage_ratio >= 0
        assert 0 <= sizing.without_ttl_share <= 1 and 0 <= sizing.without_key_ttl_share <= 1

    result = lint_design(design, today=TODAY)
    document = result.to_json()
    assert "Infinity" not in document and "NaN" not in document

    for instance in design.instances:
        report = _scan(design, instance.name, scanned)
        for finding in evaluate_drift(design, instance.name, report, TODAY):
            assert finding.message
        try:
            plan = migration_plan(design, instance.name, today=TODAY)
        except NothingToMigrate:
            continue
        assert "Infinity" not in json.dumps(plan.to_dict())
        plan.to_markdown()
        plan.to_text()


def test_a_minimum_of_zero_lookups_with_none_made_is_no_hit_ratio_finding():
    design = Design.model_validate(_design(policy={"thresholds": {"DRF012.min_lookups": 0}}))
    report = _scan(design, "i", 0)
    assert "DRF012" not in {f.rule for f in evaluate_drift(design, "i", report, TODAY)}
    report.server.keyspace_hits, report.server.keyspace_misses = 0, 1
    assert "DRF012" in {f.rule for f in evaluate_drift(design, "i", report, TODAY)}
