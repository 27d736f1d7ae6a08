"""Reading `terraform show -json` output (advisor.core.declared.terraform), with plans and states
written from the azurerm provider's documented schemas (tests/data/terraform). No database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.core import design as core
from advisor.core.declared import DeclaredError, read_terraform

DATA = Path(__file__).parent / "data" / "terraform"


def reading(name: str):
    return read_terraform((DATA / name).read_bytes())


def by_name(r):
    return {i.name: i for i in r.instances}


def test_an_acr_premium_clustered_cache_with_geo_replication():
    r = reading("plan_acr_premium_geo.json")
    assert r.source == "terraform" and r.document == "plan"
    caches = by_name(r)
    assert set(caches) == {"catalog-cache-weu", "catalog-cache-neu"}
    primary = caches["catalog-cache-weu"]
    assert primary.action == "create"
    assert primary.address == "azurerm_redis_cache.primary"
    assert primary.entry == {
        "name": "catalog-cache-weu",
        "environment": "prod",
        "product": "azure-cache-for-redis",
        "tier": "premium",
        "sku": "P3",
        # P3 is 26 GB a shard (the catalog), three shards.
        "memory_gb": 78,
        "shards": 3,
        "clustering": "oss",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": True,
        "eviction_policy": "allkeys-lru",
        "auth": "access-key",
        "tls": True,
        "public_network_access": False,
        "region": "westeurope",
    }
    # The host name exists only once Azure has created the cache.
    assert primary.unknown == {"connection.url": "hostname is known only after apply"}
    # The secondary is linked by id, which the plan knows only after apply: found through the
    # configuration's references.
    assert caches["catalog-cache-neu"].entry["geo_replication"] is True
    assert caches["catalog-cache-neu"].entry["region"] == "northeurope"
    # The linked server completes the caches; the resource groups are ignored and counted.
    assert r.ignored == {"azurerm_resource_group": 2}
    assert r.summary() == {"create": 2, "ignored": 2, "unknown_fields": 2}


def test_every_entry_is_a_valid_design_instance_once_its_unknowns_are_given():
    for path in sorted(DATA.glob("*.json")):
        for inst in read_terraform(path.read_bytes()).instances:
            entry = {k: v for k, v in inst.entry.items()}
            entry.setdefault("environment", "dev")
            filled = {
                "memory_gb": 12,
                "product": "azure-managed-redis",
                "tier": "balanced",
                "clustering": "oss",
                "persistence": "none",
                "eviction_policy": "noeviction",
                "public_network_access": False,
            }
            for field in inst.unknown:
                if field in filled and field not in entry:
                    entry[field] = filled[field]
            if "connection" in entry:
                entry["connection"] = {**entry["connection"], "credential": "none"}
            core.Instance.model_validate(entry)  # raises on a field the design file does not know


def test_an_amr_balanced_b20():
    (amr,) = reading("plan_amr_b20.json").instances
    assert amr.entry["product"] == "azure-managed-redis"
    assert (amr.entry["tier"], amr.entry["sku"], amr.entry["memory_gb"]) == ("balanced", "B20", 24)
    assert amr.entry["clustering"] == "oss"
    assert amr.entry["auth"] == "entra-id"  # access_keys_authentication_enabled defaults to false
    assert amr.entry["public_network_access"] is False
    assert amr.entry["high_availability"] is True
    assert amr.entry["eviction_policy"] == "allkeys-lru"
    assert amr.entry["tls"] is True
    assert "shards" not in amr.entry and "set" in amr.unknown["shards"]


def test_an_enterprise_cluster_and_its_database_make_one_instance():
    r = reading("plan_enterprise.json")
    (ent,) = r.instances
    assert ent.name == "sessions-ent"
    assert (
        ent.address
        == "azurerm_redis_enterprise_cluster.sessions + azurerm_redis_enterprise_database.sessions"
    )
    assert ent.resource_types == ["azurerm_redis_enterprise_cluster", "azurerm_redis_enterprise_database"]
    # Enterprise_E10-2: the size E10 with a capacity of 2.
    assert (ent.entry["product"], ent.entry["tier"], ent.entry["sku"]) == (
        "azure-cache-for-redis",
        "enterprise",
        "E10",
    )
    assert ent.entry["clustering"] == "enterprise"
    assert ent.entry["eviction_policy"] == "noeviction"
    assert ent.entry["auth"] == "access-key"  # Enterprise offers no Entra ID
    assert ent.entry["environment"] == "staging"
    # Not guessed: no published memory for E10, and the provider declares neither persistence
    # nor public network access.
    for field in ("memory_gb", "persistence", "public_network_access"):
        assert field not in ent.entry
    assert "no memory figure" in ent.unknown["memory_gb"]
    assert r.ignored == {"azurerm_resource_group": 1}


def test_unknown_resource_types_are_ignored_and_counted():
    r = reading("plan_unknown_types.json")
    assert [i.name for i in r.instances] == ["web-sessions"]
    assert r.ignored == {
        "azurerm_key_vault": 1,
        "azurerm_private_endpoint": 1,
        "azurerm_storage_account": 2,
        "data.azurerm_client_config": 1,
        "random_password": 1,
    }
    assert r.summary()["ignored"] == 6
    web = r.instances[0]
    assert web.action == "update"
    assert web.entry["connection"] == {"url": "rediss://web-sessions.redis.cache.windows.net:6380"}
    assert web.entry["eviction_policy"] == "allkeys-lru"


def test_a_half_applied_plan_says_which_fields_are_unknown_and_guesses_none():
    r = by_name(reading("plan_half_applied.json"))
    search = r["search-amr"]
    assert search.action == "replace"
    for field in ("product", "tier", "sku", "memory_gb", "region", "connection.url"):
        assert field in search.unknown, field
        assert field.split(".")[0] not in search.entry, field
    assert "sku_name is known only after apply" in search.unknown["tier"]
    assert search.unknown["region"] == "location is known only after apply"
    # What the plan does know is there.
    assert search.entry["persistence"] == "rdb"
    assert search.entry["eviction_policy"] == "noeviction"
    legacy = r["legacy-cache"]
    assert legacy.action == "update"
    assert (legacy.entry["tier"], legacy.entry["sku"]) == ("premium", "P2")
    for field in ("clustering", "shards", "memory_gb", "eviction_policy"):
        assert field in legacy.unknown and field not in legacy.entry
    # A Premium size is per shard: without the shard count there is no memory.
    assert "per shard" in legacy.unknown["memory_gb"]


def test_a_state_with_child_modules():
    r = reading("state_child_modules.json")
    assert r.document == "state"
    found = by_name(r)
    assert found["billing-cache"].address == "module.cache.azurerm_redis_cache.this"
    assert found["billing-amr"].address == "module.cache.module.amr.azurerm_managed_redis.this[0]"
    assert {i.action for i in r.instances} == {"present"}
    cache = found["billing-cache"]
    assert cache.entry["persistence"] == "rdb"
    assert cache.entry["auth"] == "entra-id"  # access keys off
    assert cache.entry["connection"]["url"] == "rediss://billing-cache.redis.cache.windows.net:6380"
    amr = found["billing-amr"]
    assert (amr.entry["clustering"], amr.entry["shards"]) == ("none", 1)
    assert amr.entry["persistence"] == "aof"
    assert amr.entry["connection"]["url"] == "rediss://billing-amr.westeurope.redis.azure.net:10000"
    ledger = found["ledger-ent"]
    # Joined by the database's cluster_id, which a state knows.
    assert ledger.address.endswith("+ module.ledger.azurerm_redis_enterprise_database.this")
    assert (ledger.entry["tier"], ledger.entry["sku"]) == ("enterprise-flash", "F300")
    assert ledger.entry["tls"] is False  # client_protocol Plaintext
    assert ledger.entry["connection"]["url"].startswith("redis://")
    assert r.ignored == {"azurerm_resource_group": 1}


def test_a_resource_deleted_in_the_plan_is_reported_not_imported():
    r = by_name(reading("plan_delete.json"))
    assert r["reports-cache"].action == "delete"
    assert r["reports-cache"].imported is False
    assert r["reports-cache-v2"].action == "no-op" and r["reports-cache-v2"].imported
    assert reading("plan_delete.json").summary() == {
        "delete": 1,
        "no-op": 1,
        "ignored": 0,
        "unknown_fields": 0,
    }


def test_no_secret_of_the_document_reaches_the_reading():
    for path in sorted(DATA.glob("*.json")):
        text = read_terraform(path.read_bytes()).model_dump_json()
        for secret in ("AccountKey", "password=", "bm90LWEt", "primary_access_key"):
            assert secret not in text, (path.name, secret)


def test_a_database_without_its_cluster_is_a_problem_not_an_instance():
    doc = {
        "format_version": "1.0",
        "values": {
            "root_module": {
                "resources": [
                    {
                        "address": "azurerm_redis_enterprise_database.orphan",
                        "mode": "managed",
                        "type": "azurerm_redis_enterprise_database",
                        "name": "orphan",
                        "values": {
                            "cluster_id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Cache/redisEnterprise/gone",
                            "name": "default",
                        },
                    }
                ]
            }
        },
    }
    r = read_terraform(doc)
    assert r.instances == []
    assert len(r.problems) == 1 and "azurerm_redis_enterprise_database.orphan" in r.problems[0]
    assert r.ignored == {}


def test_a_sku_the_catalog_does_not_know_leaves_the_size_fields_unknown():
    doc = json.loads((DATA / "plan_amr_b20.json").read_text())
    doc["resource_changes"][0]["change"]["after"]["sku_name"] = "Balanced_Q7"
    (amr,) = read_terraform(doc).instances
    assert amr.entry["tier"] == "balanced" and amr.entry["sku"] == "Q7"
    assert "not a size" in amr.unknown["memory_gb"]
    doc["resource_changes"][0]["change"]["after"]["sku_name"] = "Premium_P1"
    (amr,) = read_terraform(doc).instances
    assert {"product", "tier", "sku", "memory_gb"} <= set(amr.unknown)


@pytest.mark.parametrize(
    "document, says",
    [
        (b"\x89PNG\r\n", "not UTF-8"),
        (b"PK\x03\x04\x14\x00", "binary plan file"),
        (b"tfplan binary", "not JSON"),
        (b'{"resource_changes": []}', "no format_version"),
        (b'["format_version"]', "no format_version"),
        (b'{"format_version": "2.0", "resource_changes": []}', "format_version 2.0"),
        (b'{"format_version": "1.2", "errored": true, "resource_changes": []}', "errored"),
        (b'{"format_version": "1.2", "resource_changes": {}}', "must be a list"),
        (b'{"format_version": "1.2", "resource_changes": [3]}', r"resource_changes\[0\]"),
        (b'{"format_version": "1.0", "values": {"root_module": {"resources": ["x"]}}}', "not an object"),
    ],
)
def test_what_is_not_terraform_show_output_is_refused_with_the_reason(document, says):
    with pytest.raises(DeclaredError, match=says):
        read_terraform(document)


def test_an_empty_state_or_plan_declares_nothing():
    r = read_terraform(b'{"format_version": "1.0"}')
    assert r.instances == [] and r.ignored == {} and r.document == "state"
    # A plan of a configuration without resources has no resource_changes at all.
    r = read_terraform(
        b'{"format_version": "1.2", "planned_values": {"root_module": {}}, "applyable": false}'
    )
    assert r.instances == [] and r.document == "plan"
