"""The migration planner: the core checklist (advisor.core.migration) and its two pages."""

import datetime as dt

import pytest

from advisor.core.design import load_design
from advisor.core.engine import lint_design
from advisor.core.migration import (
    BALANCED_MAX_OPS_PER_GB,
    MEMORY_OPTIMIZED_MAX_OPS_PER_GB,
    migration_plan,
    retiring_instances,
    sizing_plan,
)
from advisor.findings import clock
from advisor.registry.models import Instance
from tests.conftest import CLEAN_DESIGN, DEMO_DESIGN

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def demo():
    return load_design(DEMO_DESIGN.read_bytes())


def clean():
    return load_design(CLEAN_DESIGN.read_bytes())


def design_with(instance: dict, namespaces: list[dict]):
    """A one-instance design; namespaces default to a small disposable cache."""
    base_instance = {
        "name": "legacy",
        "environment": "prod",
        "product": "azure-cache-for-redis",
        "tier": "premium",
        "memory_gb": 6,
        "clustering": "oss",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "volatile-lru",
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
    from advisor.core.design import Design

    return Design.model_validate(
        {
            "version": 1,
            "teams": [{"name": "shop"}],
            "instances": [{**base_instance, **instance}],
            "namespaces": [{**base_ns, **ns} for ns in namespaces],
        }
    )


# Core -----------------------------------------------------------------------------------------


def test_retiring_instances_are_sorted_by_urgency():
    design = design_with({}, [{"name": "a", "pattern": "prod:shop:a:v1:<id:int>"}])
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
        ins001 = next(f for f in result.findings if f.rule == "INS001")
        row = next(
            r for r in retiring_instances(demo().instances, today=today) if r.name == "prod-legacy-cache"
        )
        assert row.urgency == ins001.severity


def test_multi_key_pairs_use_the_same_slot_logic_as_hsh002():
    namespaces = [
        {
            "name": "cart-items",
            "pattern": "prod:shop:cart:v1:{<cart:int>}:items",
            "multi_key_with": ["cart-totals"],
        },
        {"name": "cart-totals", "pattern": "prod:shop:cart:v1:{<cart:int>}:totals"},
        {
            "name": "order-lines",
            "pattern": "prod:shop:order:v1:<order:int>:lines",
            "multi_key_with": ["order-sum"],
        },
        {"name": "order-sum", "pattern": "prod:shop:order:v1:<order:int>:sum"},
        {"name": "stock-a", "pattern": "prod:shop:stock:v1:{<sku:int>}:a", "multi_key_with": ["stock-b"]},
        {"name": "stock-b", "pattern": "prod:shop:stock:v1:{<item:int>}:b"},
    ]
    design = design_with({"clustering": "oss"}, namespaces)
    plan = migration_plan(design, "legacy", today=TODAY)
    verdict = {(p.namespace, p.other): p.same_slot for p in plan.slot_pairs}
    assert verdict == {
        ("cart-items", "cart-totals"): True,
        ("order-lines", "order-sum"): False,
        ("stock-a", "stock-b"): False,
    }
    # Exactly the pairs HSH002 reports on an OSS-clustered instance.
    hsh002 = {
        (f.target.split(":")[1], f.related[0].split(":")[1])
        for f in lint_design(design, today=TODAY).findings
        if f.rule == "HSH002"
    }
    assert hsh002 == {pair for pair, same in verdict.items() if not same}
    order = next(p for p in plan.slot_pairs if p.namespace == "order-lines")
    assert order.suggested_tag == "{<order:int>}" and "no hash tag" in order.detail
    assert plan.clustering.status == "action"

    # On Enterprise clustering HSH002 is silent today, but the move to the OSS policy would break them.
    design = design_with({"clustering": "enterprise"}, namespaces)
    assert not [f for f in lint_design(design, today=TODAY).findings if f.rule == "HSH002"]
    plan = migration_plan(design, "legacy", today=TODAY)
    assert sum(not p.same_slot for p in plan.slot_pairs) == 2 and plan.clustering.status == "action"


def test_connection_items_suggest_entra_id_and_tls():
    design = design_with(
        {"auth": "access-key", "tls": False, "public_network_access": True},
        [{"name": "a", "pattern": "prod:shop:a:v1:<id:int>"}],
    )
    items = {i.key: i for i in migration_plan(design, "legacy", today=TODAY).connection}
    assert items["hostname"].status == "action" and "redis.azure.net:10000" in items["hostname"].detail
    assert items["auth"].status == "action" and "Entra ID" in items["auth"].detail
    assert items["tls"].status == "action" and items["network"].status == "action"
    design = design_with({"auth": "entra-id"}, [{"name": "a", "pattern": "prod:shop:a:v1:<id:int>"}])
    items = {i.key: i for i in migration_plan(design, "legacy", today=TODAY).connection}
    assert items["auth"].status == "ok" and items["tls"].status == "ok"


def test_namespaces_are_rebuilt_or_need_a_continuity_plan():
    namespaces = [
        {"name": "cache", "pattern": "prod:shop:cache:v1:<id:int>"},
        {
            "name": "sessions",
            "pattern": "prod:shop:session:v1:<id:hash>",
            "classification": "session",
            "source_of_truth": None,
        },
        {
            "name": "locks",
            "pattern": "prod:shop:lock:v1:<id:int>",
            "classification": "coordination",
            "ttl": {"mode": "absolute", "seconds": 30},
        },
        {
            "name": "carts",
            "pattern": "prod:shop:cart:v1:<id:int>",
            "classification": "durable",
            "source_of_truth": None,
            "ttl": {"mode": "none"},
        },
    ]
    plan = migration_plan(design_with({}, namespaces), "legacy", today=TODAY)
    strategies = {ns.name: ns.strategy for ns in plan.namespaces}
    assert strategies == {
        "cache": "rebuild",
        "sessions": "continuity",
        "locks": "continuity",
        "carts": "continuity",
    }
    by_name = {ns.name: ns for ns in plan.namespaces}
    assert "warming" in by_name["cache"].summary and "expire within 11 min" in " ".join(
        by_name["cache"].steps
    )
    assert "only copy" in by_name["carts"].summary
    persistence = next(i for i in plan.resilience if i.key == "persistence")
    assert persistence.status == "action" and "`aof`" in persistence.detail  # carts: Redis is the only copy


@pytest.mark.parametrize(
    ("ops", "cardinality", "typical", "writes_share", "family"),
    [
        (100, 1_000_000, 512, 0.1, "memory-optimized"),
        (3_000, 1_000_000, 512, 0.1, "balanced"),
        (200_000, 1_000_000, 512, 0.1, "compute-optimized"),
        (20_000, 200_000_000, 4096, 0.05, "flash-optimized"),
        (20_000, 200_000_000, 4096, 0.5, "memory-optimized"),  # large, but write-heavy: not flash
    ],
)
def test_the_tier_family_follows_the_load_per_gb(ops, cardinality, typical, writes_share, family):
    ns = {
        "name": "data",
        "pattern": "prod:shop:data:v1:<id:int>",
        "cardinality": cardinality,
        "value_bytes": {"typical": typical, "max": typical * 4},
        "ops_per_sec": {"reads": ops * (1 - writes_share), "writes": ops * writes_share},
    }
    plan = sizing_plan(design_with({"memory_gb": 1000}, [ns]), "legacy")
    assert plan.family == family, plan.family_reason
    assert plan.required_gb * 2**30 * 0.9 * 0.6 >= plan.estimated_bytes
    if family in ("memory-optimized", "balanced"):
        assert (
            plan.ops_per_gb
            <= {"memory-optimized": MEMORY_OPTIMIZED_MAX_OPS_PER_GB, "balanced": BALANCED_MAX_OPS_PER_GB}[
                family
            ]
        )


def test_the_clean_design_needs_few_actions():
    plan = migration_plan(clean(), "prod-checkout-state", today=TODAY)
    assert plan.retires is None and plan.days_left is None
    assert plan.clustering.status == "ok" and all(p.same_slot for p in plan.slot_pairs)
    assert {i.key: i.status for i in plan.connection}["auth"] == "ok"


# Pages ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_planner_lists_the_retiring_demo_instance_with_days_left(
    client, viewer, demo_registry, monkeypatch
):
    client.force_login(viewer)
    response = client.get("/migration/")
    assert [row["plan"].name for row in response.context["rows"]] == ["prod-legacy-cache"]
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
    rows = client.get("/migration/").context["rows"]
    assert [(r["plan"].name, r["plan"].days_left) for r in rows] == [
        ("prod-legacy-cache", 125),
        ("prod-premium-cache", 674),
    ]


@pytest.mark.django_db
def test_the_planner_has_an_empty_state(client, viewer, db):
    client.force_login(viewer)
    assert "No instance runs on a retiring" in client.get("/migration/").content.decode()


@pytest.mark.django_db
def test_the_checklist_page_covers_every_section_and_prints(client, viewer, demo_registry):
    client.force_login(viewer)
    response = client.get("/migration/prod-legacy-cache/")
    assert response.status_code == 200
    body = response.content.decode()
    for heading in [
        "Hostname, authentication and network",
        "Clustering and multi-key commands",
        "Sizing for Azure Managed Redis",
        "Persistence, availability and eviction",
        "rebuild or carry over",
        "Cutover and rollback",
    ]:
        assert heading in body, heading
    assert "125 days" in body and "2027-03-31" in body
    assert "access keys" in body and "Entra ID" in body
    plan = response.context["plan"]
    strategies = {ns.name: ns.strategy for ns in plan.namespaces}
    assert strategies["legacy-session"] == "continuity" and strategies["profile-cache"] == "rebuild"
    assert "@media print" in body and "data-print" in body and "advisor/findings.js" in body
    assert 'class="d-print-none"' in body


@pytest.mark.django_db
def test_the_checklist_follows_the_registry(client, viewer, demo_registry):
    Instance.objects.filter(name="prod-legacy-cache").update(auth="entra-id")
    client.force_login(viewer)
    plan = client.get("/migration/prod-legacy-cache/").context["plan"]
    assert {i.key: i.status for i in plan.connection}["auth"] == "ok"
    assert client.get("/migration/no-such-instance/").status_code == 404


@pytest.mark.django_db
def test_the_instance_page_links_its_plan_only_when_retiring(client, viewer, demo_registry):
    client.force_login(viewer)
    assert "/migration/prod-legacy-cache/" in client.get("/instances/prod-legacy-cache/").content.decode()
    assert "/migration/" not in client.get("/instances/prod-catalog-cache/").content.decode().replace(
        'href="/migration/"', ""
    )
