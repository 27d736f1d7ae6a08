"""import_terraform: the preview (--dry-run) writes nothing, the import upserts through the registry's
write service and marks the instances managed, a second run changes nothing, what a plan leaves
unknown keeps the registry's value, and every way it can fail changes nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from advisor.audit.models import AuditEvent
from advisor.core import design as core
from advisor.registry import writes
from advisor.registry.models import Instance

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "terraform"


def run(*args, **options) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_terraform", *args, stdout=out, stderr=err, **options)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def plan(name: str) -> str:
    return str(DATA / name)


def by_hand(**fields) -> Instance:
    """An instance created on the page, through the same write service."""
    entry = {
        "environment": "prod",
        "product": "azure-cache-for-redis",
        "tier": "premium",
        "sku": "P1",
        "clustering": "none",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "volatile-lru",
        "auth": "access-key",
        "tls": True,
        "public_network_access": True,
        **fields,
    }
    return writes.instance_save(instance=None, data=core.Instance.model_validate(entry), actor=None)


def test_a_dry_run_prints_the_changes_field_by_field_and_writes_nothing():
    code, out, err = run(plan("plan_acr_premium_geo.json"), "--dry-run")
    assert code == 0, err
    assert "create catalog-cache-weu (azurerm_redis_cache.primary)" in out
    assert "    sku: P3\n" in out and "    memory_gb: 78\n" in out and "    geo_replication: true\n" in out
    assert "? connection.url: unknown (hostname is known only after apply)" in out
    assert "ignored: azurerm_resource_group (2)" in out
    assert "Dry run, nothing written: 2 created, 0 updated, 0 unchanged" in out
    assert Instance.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_a_real_run_upserts_marks_them_managed_and_a_rerun_reports_them_unchanged():
    code, out, err = run(plan("plan_acr_premium_geo.json"))
    assert code == 0, err
    assert "Imported" in out and "2 created" in out
    primary = Instance.objects.get(name="catalog-cache-weu")
    assert (primary.product, primary.tier, primary.sku, primary.memory_gb) == (
        "azure-cache-for-redis",
        "premium",
        "P3",
        78,
    )
    assert (primary.clustering, primary.shards, primary.geo_replication) == ("oss", 3, True)
    assert (primary.public_network_access, primary.auth, primary.eviction_policy) == (
        False,
        "access-key",
        "allkeys-lru",
    )
    assert primary.region == "westeurope" and primary.environment == "prod"
    assert primary.connection_url == ""  # the host name exists only after apply
    assert (primary.managed_by, primary.managed_source) == ("terraform", "azurerm_redis_cache.primary")
    assert primary.managed_values["sku"] == "P3" and "connection_url" not in primary.managed_values
    assert primary.managed_at is not None
    events = AuditEvent.objects.filter(obj_type="instance", action="import")
    assert sorted(e.obj_name for e in events) == ["catalog-cache-neu", "catalog-cache-weu"]
    assert events.get(obj_name="catalog-cache-weu").after["managed_source"] == "azurerm_redis_cache.primary"

    code, out, err = run(plan("plan_acr_premium_geo.json"))
    assert code == 0, err
    assert "unchanged catalog-cache-weu" in out and "0 created, 0 updated, 2 unchanged" in out
    assert AuditEvent.objects.count() == 2  # nothing new to record


def test_an_existing_instance_is_updated_field_by_field_and_taken_over():
    by_hand(name="catalog-cache-weu", sku="P1", eviction_policy="volatile-lru", region="northeurope")
    code, out, _ = run(plan("plan_acr_premium_geo.json"), "--dry-run")
    assert code == 0
    assert "update catalog-cache-weu (azurerm_redis_cache.primary)" in out
    assert "    sku: P1 -> P3\n" in out
    assert "    memory_gb: 6 -> 78\n" in out
    assert "    region: northeurope -> westeurope\n" in out
    assert "    managed: by hand -> Terraform azurerm_redis_cache.primary" in out
    assert Instance.objects.get(name="catalog-cache-weu").sku == "P1"
    run(plan("plan_acr_premium_geo.json"))
    row = Instance.objects.get(name="catalog-cache-weu")
    assert (row.sku, row.memory_gb, row.managed_by) == ("P3", 78, "terraform")
    event = AuditEvent.objects.filter(obj_name="catalog-cache-weu", action="import").get()
    assert event.before["sku"] == "P1" and event.after["sku"] == "P3"
    assert event.before["managed_by"] == "" and event.after["managed_by"] == "terraform"


def test_fields_a_half_applied_plan_leaves_unknown_keep_the_registry_value():
    by_hand(
        name="legacy-cache",
        sku="P2",
        clustering="oss",
        shards=4,
        eviction_policy="volatile-ttl",
        persistence="none",
        region="westeurope",
        connection={
            "url": "rediss://legacy-cache.redis.cache.windows.net:6380",
            "credential": "env:LEGACY_REDIS_KEY",
        },
    )
    code, out, err = run(plan("plan_half_applied.json"))
    # search-amr is new and its SKU is known only after apply: not imported, and said why.
    assert code == 1
    assert "incomplete search-amr (azurerm_managed_redis.search): not imported" in out
    assert "! product: required, and unknown in the source (sku_name is known only after apply)" in out
    assert "1 instance not imported" in err
    assert not Instance.objects.filter(name="search-amr").exists()
    legacy = Instance.objects.get(name="legacy-cache")
    # Unknown in the plan: kept (no guess).
    assert (legacy.clustering, legacy.shards, legacy.eviction_policy) == ("oss", 4, "volatile-ttl")
    assert legacy.memory_gb == 13 * 4
    # Known: taken.
    assert legacy.persistence == "rdb"
    assert legacy.managed_by == "terraform"
    assert "eviction_policy" not in legacy.managed_values and "persistence" in legacy.managed_values
    # The credential is the registry's own: never declared.
    assert legacy.connection_credential == "env:LEGACY_REDIS_KEY"
    assert "    ? shards: unknown (shard_count is known only after apply)" in out


def test_an_enterprise_cluster_needs_its_memory_from_the_registry():
    code, out, _ = run(plan("plan_enterprise.json"))
    assert code == 1
    assert "! memory_gb: required, and unknown in the source (Microsoft publishes no memory figure" in out
    assert not Instance.objects.exists()
    # Created by hand with its memory, the next import takes it over.
    by_hand(
        name="sessions-ent",
        tier="enterprise",
        sku="E10",
        memory_gb=12,
        clustering="oss",
        public_network_access=False,
        persistence="rdb",
        environment="staging",
    )
    code, out, err = run(plan("plan_enterprise.json"))
    assert code == 0, err
    row = Instance.objects.get(name="sessions-ent")
    assert (row.memory_gb, row.public_network_access, row.persistence) == (12, False, "rdb")  # kept
    assert (row.clustering, row.eviction_policy, row.auth) == ("enterprise", "noeviction", "access-key")
    assert row.managed_source == (
        "azurerm_redis_enterprise_cluster.sessions + azurerm_redis_enterprise_database.sessions"
    )


def test_a_state_with_child_modules_sets_connections_and_credentials():
    code, out, _ = run(plan("state_child_modules.json"))
    assert code == 1  # ledger-ent: Enterprise Flash publishes no memory
    cache = Instance.objects.get(name="billing-cache")
    assert cache.connection_url == "rediss://billing-cache.redis.cache.windows.net:6380"
    assert cache.connection_credential == "entra-id"  # Entra ID: the worker's own identity
    assert cache.managed_source == "module.cache.azurerm_redis_cache.this"
    amr = Instance.objects.get(name="billing-amr")
    assert amr.connection_url == "rediss://billing-amr.westeurope.redis.azure.net:10000"
    assert amr.managed_source == "module.cache.module.amr.azurerm_managed_redis.this[0]"


def test_a_cache_deleted_in_the_plan_is_reported_and_left_in_the_registry():
    by_hand(name="reports-cache", tier="standard", sku="C2", environment="test")
    code, out, _ = run(plan("plan_delete.json"))
    assert code == 0
    assert "deleted reports-cache (azurerm_redis_cache.old): the source deletes it" in out
    assert "1 deleted in the source (not imported)" in out
    assert Instance.objects.get(name="reports-cache").managed_by == ""
    assert Instance.objects.filter(name="reports-cache-v2", managed_by="terraform").exists()


def test_unknown_resource_types_are_counted_in_the_summary():
    code, out, _ = run(plan("plan_unknown_types.json"), "--dry-run")
    assert code == 0
    assert (
        "ignored: azurerm_key_vault (1), azurerm_private_endpoint (1), azurerm_storage_account (2), "
        "data.azurerm_client_config (1), random_password (1)"
    ) in out
    assert "6 other resources ignored" in out


def test_without_an_environment_tag_the_environment_comes_from_the_option(tmp_path):
    doc = json.loads((DATA / "plan_amr_b20.json").read_text())
    doc["resource_changes"][0]["change"]["after"]["tags"] = {"team": "orders"}
    path = tmp_path / "untagged.json"
    path.write_text(json.dumps(doc))
    code, out, _ = run(str(path))
    assert code == 1
    assert "! environment: the resource has no `environment` tag" in out
    code, out, _ = run(str(path), "--environment", "staging")
    assert code == 0
    assert Instance.objects.get(name="orders-amr").environment == "staging"
    assert "environment" not in Instance.objects.get(name="orders-amr").managed_values


def test_a_failure_half_way_leaves_the_registry_and_the_audit_trail_as_they_were(monkeypatch):
    real = writes.audit_change
    calls = []

    def fail_on_second(**kwargs):
        calls.append(kwargs["obj_name"])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(writes, "audit_change", fail_on_second)
    with pytest.raises(RuntimeError):
        run(plan("plan_acr_premium_geo.json"))
    assert len(calls) == 2
    assert Instance.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    "content, says",
    [
        (b"PK\x03\x04\x14\x00\x08\x00tfplan", "binary plan file"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"plan: binary", "not JSON"),
        (b'{"resource_changes": []}', "no format_version"),
        (b'{"format_version": "3.0"}', "format_version 3.0"),
    ],
)
def test_a_file_that_is_not_terraform_json_is_refused_with_exit_2(tmp_path, content, says):
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    code, out, err = run(str(path))
    assert code == 2
    assert says in err and "Nothing imported." in err
    assert Instance.objects.count() == 0


def test_a_missing_or_too_large_file_is_refused_with_exit_2(tmp_path, settings):
    code, _, err = run(str(tmp_path / "absent.json"))
    assert code == 2 and "cannot read" in err
    settings.ADVISOR_MAX_DESIGN_BYTES = 1000
    code, _, err = run(plan("plan_acr_premium_geo.json"))
    assert code == 2 and "limited to" in err and "ADVISOR_MAX_DESIGN_BYTES" in err
    assert Instance.objects.count() == 0
