"""The migration planner: the core plan (advisor.core.migration) and the pages that show it."""

import datetime as dt
import json

import pytest

from advisor.core import platform
from advisor.core.design import Design, load_design
from advisor.core.engine import lint_design
from advisor.core.migration import (
    MICROSOFT_SIZE_MAP,
    NothingToMigrate,
    UnknownInstance,
    migration_plan,
    retiring_instances,
)
from advisor.core.scan.report import ScanReport, ServerFacts
from advisor.findings import clock
from advisor.registry.models import Instance, Namespace
from advisor.scans.models import ScanRun
from tests.conftest import CLEAN_DESIGN, DEMO_DESIGN

TODAY = dt.date(2026, 11, 26)
GIB = 2**30
CONTRACT_KEYS = {
    "instance",
    "retires",
    "days_left",
    "source",
    "need",
    "target",
    "alternatives",
    "data_migration",
    "blockers",
    "steps",
}
# The sizing model's bytes per key of the namespaces below: the literal `prod:shop:nX:v1:` (16) plus 8
# for the int, the typical value, 64 overhead and 32 for the TTL.
KEY_OVERHEAD = 16 + 8 + 64 + 32


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def demo():
    return load_design(DEMO_DESIGN.read_bytes())


def design_with(instance: dict, namespaces: list[dict]) -> Design:
    """A one-instance design on ACR Premium; namespaces default to a small disposable cache."""
    base_instance = {
        "name": "legacy",
        "environment": "prod",
        "product": "azure-cache-for-redis",
        "tier": "premium",
        "memory_gb": 6,
        "clustering": "none",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "allkeys-lru",
        "auth": "access-key",
        "tls": True,
        "public_network_access": False,
        "region": "westeurope",
    }
    base_ns = {
        "team": "shop",
        "instance": "legacy",
        "classification": "disposable",
        "data_type": "string",
        "ttl": {"mode": "absolute", "seconds": 600, "jitter_seconds": 60},
        "value_bytes": {"typical": 512, "max": 2048},
        "cardinality": 1000,
        "ops_per_sec": {"reads": 100, "writes": 10},
        "data_classification": "internal",
        "source_of_truth": "shop-sql",
    }
    return Design.model_validate(
        {
            "version": 1,
            "teams": [{"name": "shop"}],
            "instances": [{**base_instance, **instance}],
            "namespaces": [
                {**base_ns, "name": f"ns{i}", "pattern": f"prod:shop:n{i}:v1:<id:int>", **ns}
                for i, ns in enumerate(namespaces)
            ],
        }
    )


def keys_for(gib: float, typical: int = 512) -> int:
    """The cardinality whose estimate (sizing model) is `gib` GiB."""
    return round(gib * GIB / (KEY_OVERHEAD + typical))


def plan_of(instance: dict, namespaces: list[dict], **kwargs):
    return migration_plan(design_with(instance, namespaces), "legacy", today=TODAY, **kwargs)


def all_output(plan) -> str:
    return json.dumps(plan.to_dict()) + plan.to_markdown() + plan.to_text()


# Retiring instances ---------------------------------------------------------------------------


def test_retiring_instances_are_sorted_by_urgency():
    design = design_with({}, [{}])
    instances = [
        *design.instances,
        design.instances[0].model_copy(update={"name": "old-enterprise", "tier": "enterprise"}),
        design.instances[0].model_copy(
            update={"name": "amr", "product": "azure-managed-redis", "tier": "balanced"}
        ),
    ]
    rows = retiring_instances(instances, today=TODAY)
    assert [(r.name, r.retires, r.days_left) for r in rows] == [
        ("old-enterprise", dt.date(2027, 3, 31), 125),
        ("legacy", dt.date(2028, 9, 30), 674),
    ]
    assert [r.urgency.value for r in rows] == ["high", "medium"]
    late = retiring_instances(instances, today=dt.date(2027, 4, 2))
    assert late[0].days_left == -2 and late[0].retired and late[0].days_ago == 2
    assert late[0].urgency.value == "critical"


def test_the_urgency_is_ins001s_severity():
    for today in (dt.date(2026, 1, 1), TODAY, dt.date(2027, 4, 1)):
        result = lint_design(demo(), today=today)
        ins001 = next(
            f for f in result.findings if f.rule == "INS001" and f.target == "instance:prod-legacy-cache"
        )
        row = next(
            r for r in retiring_instances(demo().instances, today=today) if r.name == "prod-legacy-cache"
        )
        assert row.urgency == ins001.severity
        assert migration_plan(demo(), "prod-legacy-cache", today=today).urgency == ins001.severity


def test_only_retiring_instances_have_a_plan():
    with pytest.raises(NothingToMigrate, match="Azure Managed Redis Memory Optimized, which is not retiring"):
        migration_plan(load_design(CLEAN_DESIGN.read_bytes()), "prod-checkout-state", today=TODAY)
    with pytest.raises(UnknownInstance, match="no-such"):
        migration_plan(demo(), "no-such", today=TODAY)


# The JSON of the contract -----------------------------------------------------------------------


def test_the_json_has_the_contract_shape():
    plan = migration_plan(demo(), "prod-legacy-cache", today=TODAY)
    data = json.loads(json.dumps(plan.to_dict()))
    assert set(data) == CONTRACT_KEYS
    assert data["instance"] == "prod-legacy-cache"
    assert data["retires"] == "2027-03-31" and data["days_left"] == 125
    assert {"product", "tier", "sku", "memory_gb"} <= set(data["source"])
    assert data["source"]["product"] == "azure-cache-for-redis" and data["source"]["tier"] == "enterprise"
    assert {"memory_bytes", "ops_per_sec", "source"} <= set(data["need"]) and data["need"][
        "source"
    ] == "design"
    assert data["need"]["ops_per_sec"] == 2500 + 600 + 300 + 30 + 1200 + 60
    target_keys = {"product", "tier", "sku", "memory_gb", "clustering", "eviction_policy", "port"}
    assert target_keys <= set(data["target"])
    assert data["target"]["product"] == "azure-managed-redis" and data["target"]["port"] == 10000
    assert all({"tier", "sku", "memory_gb"} <= set(a) for a in data["alternatives"])
    assert [d["id"] for d in data["data_migration"]] == ["rdb-import", "dual-write", "riot", "start-empty"]
    assert all({"id", "available", "why"} <= set(d) for d in data["data_migration"])
    assert all({"id", "message"} <= set(b) for b in data["blockers"])
    assert all({"id", "title", "detail"} <= set(s) for s in data["steps"])


def test_the_steps_are_an_ordered_checklist():
    plan = migration_plan(demo(), "prod-legacy-cache", today=TODAY)
    ids = [s.id for s in plan.steps]
    order = [
        "hostname",
        "tls",
        "entra-id",
        "cluster-client",
        "hash-tags",
        "sizing",
        "persistence-ha",
        "private-endpoint",
        "data-migration",
        "cutover",
        "rollback",
        "decommission",
    ]
    assert [i for i in ids if i in order] == order
    by_id = {s.id: s for s in plan.steps}
    assert "westeurope.redis.azure.net" in by_id["hostname"].detail and "10000" in by_id["hostname"].detail
    assert by_id["tls"].status == "ok" and by_id["entra-id"].status == "action"
    assert "managed identity" in by_id["entra-id"].detail
    assert "2027-03-31" in by_id["decommission"].detail and "1 h" in by_id["decommission"].detail
    # The per-namespace plans feed the data step.
    assert any(p.startswith("legacy-session (session, continuity)") for p in by_id["data-migration"].points)


# Target size, on every retiring tier --------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "gib", "typical", "ops", "tier"),
    [
        # C1 → B1 in Microsoft's mapping: Balanced.
        ({"tier": "basic", "memory_gb": 1, "high_availability": False}, 0.9, 512, (100, 10), "balanced"),
        # C4 → M10: Memory Optimized, where the need makes 12 GB the right size anyway.
        ({"tier": "standard", "memory_gb": 13}, 7.0, 512, (100, 10), "memory-optimized"),
        ({"tier": "premium", "memory_gb": 13}, 8.0, 512, (100, 10), "balanced"),  # P2 → B10
        # Clustered Premium: Memory Optimized with equivalent memory.
        (
            {"tier": "premium", "memory_gb": 52, "clustering": "oss", "shards": 2},
            30.0,
            512,
            (100, 10),
            "memory-optimized",
        ),
        (
            {"tier": "enterprise", "memory_gb": 25, "clustering": "enterprise"},
            15.0,
            512,
            (100, 10),
            "balanced",
        ),
        # Read-heavy with 2 KiB values: Flash Optimized.
        (
            {"tier": "enterprise-flash", "memory_gb": 345, "clustering": "enterprise"},
            300.0,
            2048,
            (9000, 100),
            "flash-optimized",
        ),
    ],
    ids=["basic", "standard", "premium", "premium-clustered", "enterprise", "enterprise-flash"],
)
def test_the_target_is_the_smallest_size_of_its_tier_that_holds_the_need(instance, gib, typical, ops, tier):
    namespaces = [
        {
            "cardinality": keys_for(gib, typical),
            "value_bytes": {"typical": typical, "max": typical * 4},
            "ops_per_sec": {"reads": ops[0], "writes": ops[1]},
        }
    ]
    plan = plan_of(instance, namespaces)
    need = plan.need.memory_bytes
    assert abs(need - gib * GIB) < GIB / 100
    target = plan.target
    assert target.tier == tier, target.why
    sizes = platform.skus("azure-managed-redis", target.tier)
    size = platform.find_sku("azure-managed-redis", target.tier, target.sku)
    assert size is not None and size.memory_gb == target.memory_gb
    assert platform.usable_bytes(size.memory_gb) == target.usable_bytes >= need
    assert target.usable_bytes == int(size.memory_gb * GIB * 0.8)
    index = sizes.index(size)
    assert index == 0 or platform.usable_bytes(sizes[index - 1].memory_gb) < need
    assert not target.preview and target.covers_need
    assert target.clustering == "oss" and target.port == 10000
    assert plan.source.tier == instance["tier"]


def test_microsofts_size_mapping_names_real_sizes():
    for source, targets in MICROSOFT_SIZE_MAP.items():
        assert platform.sku_anywhere("azure-cache-for-redis", source) is not None, source
        for name in targets:
            assert platform.sku_anywhere("azure-managed-redis", name) is not None, name


@pytest.mark.parametrize(
    "instance",
    [
        {"tier": "standard", "memory_gb": 13},  # C4: Microsoft's mapping says M10
        {"tier": "premium", "memory_gb": 26, "clustering": "oss", "shards": 2},  # clustered: Memory Optimized
        {"tier": "standard", "memory_gb": 53},  # C6 → M50
    ],
    ids=["C4", "clustered-premium", "C6"],
)
def test_a_small_need_never_gets_memory_optimized_m10(instance):
    plan = plan_of(instance, [{"cardinality": keys_for(0.4)}])
    assert 0.39 * GIB < plan.need.memory_bytes < 0.41 * GIB
    assert plan.target.tier == "balanced" and plan.target.sku in ("B0", "B1")
    assert plan.target.sku != "M10"
    assert any("Memory Optimized starts at 12 GB (M10)" in reason for reason in plan.target.why)
    m10 = next(a for a in plan.alternatives if a.sku == "M10")
    assert "oversized" in m10.note


def test_the_declared_load_can_ask_for_more_cpu():
    light = plan_of({"tier": "enterprise", "memory_gb": 25}, [{"cardinality": keys_for(15)}])
    heavy = plan_of(
        {"tier": "enterprise", "memory_gb": 25},
        [{"cardinality": keys_for(15), "ops_per_sec": {"reads": 500_000, "writes": 50_000}}],
    )
    assert light.target.tier == "balanced"
    assert heavy.target.tier == "compute-optimized" and heavy.target.sku == "X20"
    assert any("declared load" in reason for reason in heavy.target.why)


def test_flash_only_for_a_workload_that_suits_flash():
    instance = {"tier": "enterprise-flash", "memory_gb": 345, "clustering": "enterprise"}
    big = {"cardinality": keys_for(300, 2048), "value_bytes": {"typical": 2048, "max": 8192}}
    write_heavy = plan_of(instance, [{**big, "ops_per_sec": {"reads": 5000, "writes": 5000}}])
    assert write_heavy.target.tier != "flash-optimized"
    assert "writes are 50%" in write_heavy.target.why[0]
    assert all(a.tier != "flash-optimized" for a in write_heavy.alternatives)
    small_data = plan_of(
        instance, [{**big, "cardinality": keys_for(2, 2048), "ops_per_sec": {"reads": 900, "writes": 10}}]
    )
    assert small_data.target.tier == "balanced" and small_data.target.sku == "B3"
    assert "Flash Optimized starts at 235 GB" in small_data.target.why[0]


def test_a_preview_target_is_a_blocker_unless_a_generally_available_size_holds_it():
    huge = {"cardinality": keys_for(400), "ops_per_sec": {"reads": 100, "writes": 100}}  # 512-byte values
    plan = plan_of({"tier": "premium", "memory_gb": 600, "clustering": "oss", "shards": 5}, [huge])
    assert plan.target.preview and plan.target.sku == "M700"
    assert "preview-sku" in {b.id for b in plan.blockers}
    read_heavy = {
        "cardinality": keys_for(400, 4096),
        "value_bytes": {"typical": 4096, "max": 8192},
        "ops_per_sec": {"reads": 1000, "writes": 10},
    }
    plan = plan_of({"tier": "premium", "memory_gb": 600, "clustering": "oss", "shards": 5}, [read_heavy])
    assert plan.target.tier == "flash-optimized" and not plan.target.preview
    assert "preview-sku" not in {b.id for b in plan.blockers}


def test_a_need_beyond_every_size_says_so():
    plan = plan_of(
        {"tier": "premium", "memory_gb": 1200, "clustering": "oss", "shards": 10},
        [{"cardinality": keys_for(2000)}],
    )
    assert not plan.target.covers_need and plan.target.sku == "M2000"
    assert "too-large" in {b.id for b in plan.blockers}


# Need: the design, or the last scan ----------------------------------------------------------------


def test_the_need_comes_from_the_last_scan_when_there_is_one():
    namespaces = [{"cardinality": keys_for(0.9)}]
    by_design = plan_of({"tier": "premium", "memory_gb": 6}, namespaces)
    measured_at = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
    by_scan = plan_of(
        {"tier": "premium", "memory_gb": 6}, namespaces, measured_used_memory=5 * GIB, measured_at=measured_at
    )
    assert by_design.need.source == "design" and by_design.target.sku == "B3"
    assert by_scan.need.source == "last-scan" and by_scan.need.memory_bytes == 5 * GIB
    assert by_scan.need.design_bytes == by_design.need.memory_bytes
    assert by_scan.target.sku == "B10"  # B5 holds 4.8 GiB usable
    for text in (by_scan.to_markdown(), by_scan.to_text()):
        assert (
            "measured by the last scan on 2026-11-20" in text and "estimated at 921.6 MiB" in text
        )  # the estimate beside it


# Data migration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "available"),
    [
        ({"tier": "basic", "memory_gb": 1, "high_availability": False}, False),
        ({"tier": "standard", "memory_gb": 1}, False),
        ({"tier": "premium", "memory_gb": 6}, True),
        ({"tier": "enterprise", "memory_gb": 12, "clustering": "enterprise"}, True),
        ({"tier": "enterprise-flash", "memory_gb": 345, "clustering": "enterprise"}, True),
    ],
    ids=["basic", "standard", "premium", "enterprise", "enterprise-flash"],
)
def test_rdb_import_only_from_tiers_that_export_rdb_files(instance, available):
    plan = plan_of(
        instance, [{"classification": "durable", "source_of_truth": None, "ttl": {"mode": "none"}}]
    )
    options = {d.id: d for d in plan.data_migration}
    assert options["rdb-import"].available is available
    assert options["rdb-import"].source == platform.AMR_IMPORT_EXPORT
    if not available:
        assert options["rdb-import"].why.startswith(
            "Basic and Standard caches cannot export RDB files; only Premium (and the Enterprise tiers) can."
        )
    assert options["dual-write"].available and "no data loss or downtime" in options["dual-write"].why
    assert options["riot"].available and "not officially supported by Microsoft" in options["riot"].why
    assert (options["rdb-import"].recommended, options["dual-write"].recommended) == (
        available,
        not available,
    )
    # The namespace plan copies the only copy the way this tier can.
    durable = plan.namespaces[0]
    assert ("RDB" in " ".join(durable.steps)) is available


def test_start_empty_only_when_every_namespace_is_disposable():
    disposable = plan_of({}, [{}, {"ttl": {"mode": "sliding", "seconds": 60}}])
    start = {d.id: d for d in disposable.data_migration}["start-empty"]
    assert start.available and start.recommended
    mixed = plan_of(
        {},
        [
            {},
            {"classification": "session", "source_of_truth": None},
            {"classification": "coordination", "ttl": {"mode": "absolute", "seconds": 30}},
        ],
    )
    start = {d.id: d for d in mixed.data_migration}["start-empty"]
    assert not start.available and not start.recommended
    assert "ns1, ns2 are session, coordination or durable data" in start.why
    empty = migration_plan(design_with({}, [{}]).model_copy(update={"namespaces": []}), "legacy", today=TODAY)
    assert not {d.id: d for d in empty.data_migration}["start-empty"].available
    assert "no-namespaces" in {b.id for b in empty.blockers}


# Blockers -----------------------------------------------------------------------------------------


def _connection(db: int) -> dict:
    return {"connection": {"url": f"rediss://legacy.redis.cache.windows.net:6380/{db}", "credential": "none"}}


def test_a_database_other_than_0_is_a_blocker():
    assert "db-index" not in {b.id for b in plan_of(_connection(0), [{}]).blockers}
    plan = plan_of(_connection(1), [{}])
    blocker = next(b for b in plan.blockers if b.id == "db-index")
    assert "selects database 1" in blocker.message and "only database 0" in blocker.message
    assert "database-0" in [s.id for s in plan.steps]
    scanned = plan_of(_connection(0), [{}], measured_databases=[0, 2])
    assert "database 2" in next(b for b in scanned.blockers if b.id == "db-index").message
    assert "db-index" not in {b.id for b in plan_of(_connection(0), [{}], measured_databases=[0]).blockers}


def test_passive_geo_replication_becomes_active_without_persistence():
    plan = plan_of({"geo_replication": True, "persistence": "rdb"}, [{"cardinality": 10}])
    blocker = next(b for b in plan.blockers if b.id == "geo-replication-passive")
    assert "active" in blocker.message and "conflict-free" in blocker.message
    assert "persistence cannot be combined" in blocker.message
    assert plan.target.geo_replication and plan.target.persistence == "none" and plan.target.high_availability
    size = platform.find_sku("azure-managed-redis", plan.target.tier, plan.target.sku)
    assert size.geo_replication and plan.target.sku not in ("B0", "B1")
    enterprise = plan_of(
        {"tier": "enterprise", "memory_gb": 12, "clustering": "enterprise", "geo_replication": True}, [{}]
    )
    assert "geo-replication-passive" not in {b.id for b in enterprise.blockers}
    assert enterprise.target.persistence == "none"


def test_vnet_injection_only_for_premium_without_public_access():
    assert "vnet-injection" in {b.id for b in plan_of({"tier": "premium"}, [{}]).blockers}
    blocker = next(b for b in plan_of({"tier": "premium"}, [{}]).blockers if b.id == "vnet-injection")
    assert (
        blocker.message.startswith("If this cache is VNet-injected") and "private endpoint" in blocker.message
    )
    assert "vnet-injection" not in {b.id for b in plan_of({"public_network_access": True}, [{}]).blockers}
    assert "vnet-injection" not in {
        b.id for b in plan_of({"tier": "standard", "memory_gb": 1}, [{}]).blockers
    }


def test_keyspace_notifications_only_when_the_scan_saw_them():
    assert "keyspace-notifications" not in {b.id for b in plan_of({}, [{}]).blockers}
    plan = plan_of({}, [{}], notify_keyspace_events="Ex")
    blocker = next(b for b in plan.blockers if b.id == "keyspace-notifications")
    assert "preview" in blocker.message and "`Ex`" in blocker.message


def test_enterprise_gains_entra_id():
    plan = migration_plan(demo(), "prod-legacy-cache", today=TODAY)
    entra = next(b for b in plan.blockers if b.id == "entra-id")
    assert entra.kind == "info" and "has no Microsoft Entra ID" in entra.message
    assert "entra-id" not in {b.id for b in plan_of({}, [{}]).blockers}  # Premium has Entra ID


def test_crossslot_pairs_use_the_same_slot_logic_as_hsh002():
    namespaces = [
        {"pattern": "prod:shop:cart:v1:{<cart:int>}:items", "multi_key_with": ["ns1"]},
        {"pattern": "prod:shop:cart:v1:{<cart:int>}:totals"},
        {"pattern": "prod:shop:order:v1:<order:int>:lines", "multi_key_with": ["ns3"]},
        {"pattern": "prod:shop:order:v1:<order:int>:sum"},
        {"pattern": "prod:shop:stock:v1:{<sku:int>}:a", "multi_key_with": ["ns5"]},
        {"pattern": "prod:shop:stock:v1:{<item:int>}:b"},
    ]
    design = design_with({"clustering": "oss", "shards": 2, "memory_gb": 12}, namespaces)
    plan = migration_plan(design, "legacy", today=TODAY)
    verdict = {(p.namespace, p.other): p.same_slot for p in plan.slot_pairs}
    assert verdict == {("ns0", "ns1"): True, ("ns2", "ns3"): False, ("ns4", "ns5"): False}
    hsh002 = {
        (f.target.split(":")[1], f.related[0].split(":")[1])
        for f in lint_design(design, today=TODAY).findings
        if f.rule == "HSH002"
    }
    assert hsh002 == {pair for pair, same in verdict.items() if not same}
    crossslot = next(b for b in plan.blockers if b.id == "crossslot")
    assert "ns2 + ns3" in crossslot.message and "`{<order:int>}`" in crossslot.message
    assert "non-clustered" in crossslot.message  # the target is small enough for it
    assert {s.id: s.status for s in plan.steps}["hash-tags"] == "action"

    # Beyond 25 GB a non-clustered cache is no way out.
    big = design_with(
        {"clustering": "oss", "shards": 4, "memory_gb": 52},
        [{**ns, "cardinality": keys_for(10)} for ns in namespaces],
    )
    crossslot = next(b for b in migration_plan(big, "legacy", today=TODAY).blockers if b.id == "crossslot")
    assert "non-clustered" not in crossslot.message


def test_a_non_clustered_cache_is_offered_to_clients_that_cannot_handle_a_cluster():
    small = plan_of({"clustering": "none"}, [{}])
    client = {s.id: s for s in small.steps}["cluster-client"]
    assert client.status == "action" and "qualifies" in client.points[0] and "25 GB" in client.points[0]
    large = plan_of({"memory_gb": 53, "clustering": "none"}, [{"cardinality": keys_for(30)}])
    client = {s.id: s for s in large.steps}["cluster-client"]
    assert "too large" in client.points[0]


# Eviction: never volatile-* to protect keys with TTLs ------------------------------------------------

MIXED = [
    {},
    {"classification": "session", "source_of_truth": None, "ttl": {"mode": "sliding", "seconds": 3600}},
    {"classification": "coordination", "ttl": {"mode": "absolute", "seconds": 30}},
]


def test_a_mixed_instance_is_split_and_never_offered_volatile():
    plan = plan_of({"eviction_policy": "allkeys-lru"}, MIXED)
    assert "volatile" not in all_output(plan)
    assert plan.target.eviction_policy == "noeviction"
    split = {s.id: s for s in plan.steps}["split-workloads"]
    assert "`allkeys-lru` for the disposable namespaces" in split.detail and "`noeviction`" in split.detail
    demo_plan = migration_plan(demo(), "prod-legacy-cache", today=TODAY)  # sessions beside caches
    assert "volatile" not in all_output(demo_plan)
    # Today's volatile policy is not carried over, nor named in the plan's JSON.
    plan = plan_of({"eviction_policy": "volatile-lru"}, MIXED)
    assert plan.target.eviction_policy == "noeviction"
    assert "volatile" not in json.dumps(plan.to_dict())


@pytest.mark.parametrize(
    ("policy", "classes", "expected"),
    [
        ("volatile-lru", ["disposable"], "allkeys-lru"),
        ("noeviction", ["disposable"], "allkeys-lru"),
        ("allkeys-lfu", ["disposable"], "allkeys-lfu"),
        ("allkeys-lru", ["session"], "noeviction"),
        ("volatile-ttl", ["durable"], "noeviction"),
    ],
)
def test_the_eviction_policy_follows_the_data(policy, classes, expected):
    namespaces = [
        {"classification": c, "source_of_truth": "shop-sql" if c != "session" else None} for c in classes
    ]
    plan = plan_of({"eviction_policy": policy}, namespaces)
    assert plan.target.eviction_policy == expected
    assert not plan.target.eviction_policy.startswith("volatile")


def test_the_plan_never_proposes_what_the_target_cannot_do():
    plans = [
        plan_of({"geo_replication": True, "persistence": "aof"}, MIXED),
        plan_of({"tier": "basic", "memory_gb": 1, "high_availability": False}, [{}]),
        plan_of({"auth": "entra-id"}, [{}]),
        migration_plan(demo(), "prod-legacy-cache", today=TODAY),
    ]
    for plan in plans:
        text = all_output(plan).lower()
        assert "data access polic" not in text
        assert not (plan.target.geo_replication and plan.target.persistence != "none")
    basic = plans[1]
    assert basic.target.high_availability  # a production Basic cache gets HA all the same (INS002)
    dev_basic = plan_of(
        {"tier": "basic", "memory_gb": 1, "high_availability": False, "environment": "dev"}, [{}]
    )
    assert not dev_basic.target.high_availability  # Microsoft: Basic maps to a non-HA cache


def test_the_markdown_is_a_change_ticket():
    markdown = migration_plan(demo(), "prod-legacy-cache", today=TODAY).to_markdown()
    for heading in [
        "# Migration plan: prod-legacy-cache",
        "## Source and target",
        "## Blockers",
        "## Data migration",
        "## Steps",
        "## Namespaces",
        "## Sources",
    ]:
        assert f"\n{heading}" in f"\n{markdown}", heading
    assert "| Tier | Enterprise | Balanced |" in markdown
    assert "\n1. **New hostname and port**" in markdown
    assert (
        "[Microsoft Learn: redis/how to import export data](https://learn.microsoft.com/azure/redis/how-to-import-export-data)"
        in markdown
    )
    plan = plan_of(_connection(3), [{}])
    assert "- [ ] **db-index**:" in plan.to_markdown()


# Pages ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_planner_lists_the_retiring_demo_instance_with_days_left(
    client, viewer, demo_registry, monkeypatch
):
    client.force_login(viewer)
    response = client.get("/migration/")
    names = [row["plan"].name for row in response.context["rows"]]
    assert names[0] == "prod-legacy-cache"  # the most urgent: Enterprise retires first
    assert "prod-catalog-cache" not in names  # Azure Managed Redis
    body = response.content.decode()
    assert "prod-legacy-cache" in body and "2027-03-31" in body and "125 days" in body
    assert 'href="/migration/prod-legacy-cache/"' in body

    monkeypatch.setattr(clock, "today", lambda: dt.date(2027, 1, 1))
    assert "89 days" in client.get("/migration/").content.decode()
    monkeypatch.setattr(clock, "today", lambda: dt.date(2027, 4, 10))
    body = client.get("/migration/").content.decode()
    assert "retired 10 days ago" in body and "sev-critical" in body


@pytest.mark.django_db
def test_the_planner_sorts_by_urgency(client, viewer, demo_registry):
    legacy = Instance.objects.get(name="prod-legacy-cache")
    Instance.objects.create(
        **{
            f.name: getattr(legacy, f.name)
            for f in Instance._meta.fields
            if f.name not in ("id", "updated_at")
        }
        | {"name": "prod-premium-cache", "tier": "premium"}
    )
    client.force_login(viewer)
    rows = [(r["plan"].name, r["plan"].days_left) for r in client.get("/migration/").context["rows"]]
    assert rows.index(("prod-legacy-cache", 125)) < rows.index(("prod-premium-cache", 674))
    assert [days for _, days in rows] == sorted(days for _, days in rows)


@pytest.mark.django_db
def test_the_planner_has_an_empty_state(client, viewer, db):
    client.force_login(viewer)
    assert "No instance runs on a retiring" in client.get("/migration/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_the_plan_page_shows_target_options_blockers_and_steps(client, demo_registry, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/migration/prod-legacy-cache/")
    assert response.status_code == 200
    plan = response.context["plan"]
    body = response.content.decode()
    assert f'data-target-sku="{plan.target.sku}"' in body and "Azure Managed Redis Balanced" in body
    assert "usable" in body and "125 day" in body and "2027-03-31" in body
    for heading in [
        "Why " + plan.target.sku,
        "Blockers",
        "Data migration",
        "Steps",
        "Namespaces: rebuild or carry over",
    ]:
        assert heading in body, heading
    for option in ("rdb-import", "dual-write", "riot", "start-empty"):
        assert f'data-option="{option}"' in body
    for step in plan.steps:
        assert f'data-step="{step.id}"' in body
    assert 'data-blocker="entra-id"' in body
    assert 'href="/migration/prod-legacy-cache/plan.md"' in body and "Download Markdown" in body
    # Print styles live in a stylesheet (the Content-Security-Policy refuses inline ones).
    assert "advisor/migration-plan.css" in body and "data-print" in body


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_the_markdown_download_is_the_same_plan(client, demo_registry, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/migration/prod-legacy-cache/plan.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert 'filename="migration-plan-prod-legacy-cache.md"' in response["Content-Disposition"]
    body = response.content.decode()
    assert body.startswith("# Migration plan: prod-legacy-cache") and "## Steps" in body


@pytest.mark.django_db
def test_the_plan_pages_need_a_login_and_a_retiring_instance(client, viewer, demo_registry):
    assert client.get("/migration/prod-legacy-cache/").status_code == 302
    assert client.get("/migration/prod-legacy-cache/plan.md").status_code == 302
    client.force_login(viewer)
    for url in [
        "/migration/no-such-instance/",
        "/migration/prod-catalog-cache/",
        "/migration/prod-catalog-cache/plan.md",
    ]:
        assert client.get(url).status_code == 404, url


@pytest.mark.django_db
def test_the_page_follows_the_registry_and_the_last_scan(client, viewer, demo_registry):
    client.force_login(viewer)
    legacy = Instance.objects.get(name="prod-legacy-cache")
    plan = client.get("/migration/prod-legacy-cache/").context["plan"]
    assert plan.need.source == "design" and plan.target.sku == "B3"

    # A completed scan, stored as the scans app stores it, measured 7 GB: the need follows.
    now = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
    report = ScanReport(
        instance=legacy.name,
        status="completed",
        started_at=now,
        finished_at=now,
        duration_s=1.0,
        keys_scanned=10,
        complete=True,
        server=ServerFacts(used_memory=7 * GIB, maxmemory_policy="allkeys-lru"),
    ).model_dump(mode="json")
    ScanRun.objects.create(
        instance=legacy, status=ScanRun.Status.COMPLETED, finished_at=now, report=report, memory_bytes=7 * GIB
    )
    # Newer runs that did not complete are not measurements.
    ScanRun.objects.create(
        instance=legacy, status=ScanRun.Status.FAILED, finished_at=now + dt.timedelta(hours=1)
    )
    response = client.get("/migration/prod-legacy-cache/")
    plan = response.context["plan"]
    assert plan.need.source == "last-scan" and plan.need.memory_bytes == 7 * GIB
    assert plan.target.sku == "B10"
    assert "last scan" in response.content.decode()

    Namespace.objects.filter(instance=legacy, classification="session").update(classification="disposable")
    plan = client.get("/migration/prod-legacy-cache/").context["plan"]
    assert {d.id: d.available for d in plan.data_migration}["start-empty"]


@pytest.mark.django_db
def test_the_instance_page_links_its_plan_only_when_retiring(client, viewer, demo_registry):
    client.force_login(viewer)
    assert "/migration/prod-legacy-cache/" in client.get("/instances/prod-legacy-cache/").content.decode()
    assert "/migration/" not in client.get("/instances/prod-catalog-cache/").content.decode().replace(
        'href="/migration/"', ""
    )


def test_free_text_from_the_design_cannot_inject_markup_into_the_markdown():
    import re

    hostile = "<script>alert(1)</script> [x](javascript:alert(1)) `"
    plan = plan_of(
        {"region": "west<b>`x"},
        [{"source_of_truth": hostile}, {"classification": "durable", "source_of_truth": hostile}],
    )
    md = plan.to_markdown()
    assert "alert(1)" in md  # shown, as text
    # Outside code spans there is no raw HTML and no javascript: link.
    outside = re.sub(r"`[^`]*`", "", md)
    assert "<script>" not in outside and "<b>" not in outside
    assert "](javascript:" not in outside
