"""discover_azure: Azure Resource Manager through azure-mgmt-redis and azure-mgmt-redisenterprise,
with the SDKs' own HTTP transport replaced by recorded REST responses (tests/azure_recorded.py) and
a static-token credential. Nothing leaves the machine."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure_recorded import (
    DATA,
    SUBSCRIPTION,
    TOKEN,
    RecordedTransport,
    StaticCredential,
    resource_group_routes,
)
from django.core.management import call_command

from advisor.audit.models import AuditEvent
from advisor.core.declared import read_arm
from advisor.registry import arm_discovery, writes
from advisor.registry.models import Instance

ORDERS_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-orders/providers/Microsoft.Cache/redisEnterprise/orders-amr"
LEGACY_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-legacy/providers/Microsoft.Cache/redisEnterprise/legacy-ent"


@pytest.fixture
def azure(monkeypatch):
    """The recorded ARM, and the credential the discovery was given."""
    transport, credential = RecordedTransport(), StaticCredential()
    monkeypatch.setattr(arm_discovery, "default_transport", lambda: transport)
    monkeypatch.setattr(arm_discovery, "default_credential", lambda: credential)
    return transport, credential


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("discover_azure", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def _fixture(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())["value"]


def test_the_core_reads_arm_responses_into_instances():
    reading = read_arm(
        _fixture("redis_list_page1.json") + _fixture("redis_list_page2.json"),
        _fixture("redis_enterprise_list.json"),
        {
            ORDERS_ID: _fixture("databases_orders_amr.json"),
            LEGACY_ID.upper(): _fixture("databases_legacy_ent.json"),
        },
    )
    found = {i.name: i for i in reading.instances}
    assert set(found) == {"payments-cache", "scratch-cache", "orders-amr", "legacy-ent"}
    payments = found["payments-cache"]
    assert payments.action == "present" and payments.address.endswith("/Redis/payments-cache")
    assert payments.entry == {
        "name": "payments-cache",
        "environment": "prod",
        "product": "azure-cache-for-redis",
        "tier": "premium",
        "sku": "P2",
        "memory_gb": 26,  # 13 GB a shard, two shards
        "shards": 2,
        "clustering": "oss",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": True,  # a linked server
        "eviction_policy": "allkeys-lru",
        "auth": "entra-id",  # access keys disabled
        "tls": True,
        "public_network_access": False,
        "region": "westeurope",
        "connection": {"url": "rediss://payments-cache.redis.cache.windows.net:6380"},
    }
    assert payments.unknown == {}
    scratch = found["scratch-cache"]  # "Scratch-Cache" in Azure
    assert (scratch.entry["tier"], scratch.entry["sku"], scratch.entry["memory_gb"]) == ("basic", "C0", 0.25)
    assert scratch.entry["high_availability"] is False  # Basic: one node
    assert scratch.entry["tls"] is False  # the non-TLS port is open
    assert scratch.entry["auth"] == "access-key"
    orders = found["orders-amr"]
    assert (orders.entry["product"], orders.entry["tier"], orders.entry["sku"]) == (
        "azure-managed-redis",
        "balanced",
        "B20",
    )
    assert orders.entry["memory_gb"] == 24
    assert orders.entry["geo_replication"] is True and orders.entry["auth"] == "entra-id"
    assert orders.entry["connection"] == {"url": "rediss://orders-amr.westeurope.redis.azure.net:10000"}
    assert orders.resource_types == [
        "Microsoft.Cache/redisEnterprise",
        "Microsoft.Cache/redisEnterprise/databases",
    ]
    legacy = found["legacy-ent"]
    assert (legacy.entry["tier"], legacy.entry["sku"]) == ("enterprise", "E10")
    assert legacy.entry["persistence"] == "rdb" and legacy.entry["clustering"] == "enterprise"
    assert legacy.entry["auth"] == "access-key" and legacy.entry["region"] == "eastus"
    assert "predates" in legacy.unknown["public_network_access"]
    assert "no memory figure" in legacy.unknown["memory_gb"]
    assert "environment" not in legacy.entry  # no tag


def test_discovery_goes_through_the_sdks_with_the_credential_and_pages(azure):
    transport, credential = azure
    reading = arm_discovery.discover(SUBSCRIPTION)
    assert {i.name for i in reading.instances} == {
        "payments-cache",
        "scratch-cache",
        "orders-amr",
        "legacy-ent",
    }
    seen = [
        (method, urlsplit(url).path, dict(parse_qsl(urlsplit(url).query)))
        for method, url, _ in transport.requests
    ]
    paths = [path for _, path, _ in seen]
    sub = f"/subscriptions/{SUBSCRIPTION}"
    assert paths == [
        f"{sub}/providers/Microsoft.Cache/redis",
        f"{sub}/providers/Microsoft.Cache/redis",  # the second page, through nextLink
        f"{sub}/providers/Microsoft.Cache/redisEnterprise",
        f"{sub}/resourceGroups/rg-orders/providers/Microsoft.Cache/redisEnterprise/orders-amr/databases",
        f"{sub}/resourceGroups/rg-legacy/providers/Microsoft.Cache/redisEnterprise/legacy-ent/databases",
    ]
    assert {method for method, _, _ in seen} == {"GET"}  # reads only; never listKeys
    assert [q["api-version"] for _, _, q in seen] == ["2024-11-01"] * 2 + ["2025-07-01"] * 3
    assert seen[1][2]["$skipToken"] == "cGF5bWVudHMtY2FjaGU="
    assert {headers["Authorization"] for _, _, headers in transport.requests} == {f"Bearer {TOKEN}"}
    assert credential.scopes and set(credential.scopes) == {("https://management.azure.com/.default",)}
    assert credential.closed


def test_one_resource_group(azure, monkeypatch):
    transport = RecordedTransport(resource_group_routes("rg-orders"))
    monkeypatch.setattr(arm_discovery, "default_transport", lambda: transport)
    reading = arm_discovery.discover(SUBSCRIPTION, "rg-orders")
    assert [i.name for i in reading.instances] == ["orders-amr"]
    assert all("/resourceGroups/rg-orders/" in url for _, url, _ in transport.requests)


@pytest.mark.django_db
def test_a_dry_run_writes_nothing(azure):
    code, out, err = run("--subscription", SUBSCRIPTION, "--dry-run")
    # legacy-ent has no environment tag, and Microsoft publishes no memory for E10.
    assert code == 1
    assert f"subscription {SUBSCRIPTION} (Azure Resource Manager, arm):" in out
    assert "create payments-cache (/subscriptions/" in out
    assert "    sku: P2\n" in out and "    connection.credential: entra-id\n" in out
    assert "incomplete legacy-ent" in out
    assert "Dry run, nothing written: 3 created" in out
    assert not Instance.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_real_run_upserts_and_a_rerun_reports_unchanged(azure):
    code, out, _ = run("--subscription", SUBSCRIPTION)
    assert code == 1
    assert set(Instance.objects.values_list("name", flat=True)) == {
        "payments-cache",
        "scratch-cache",
        "orders-amr",
    }
    payments = Instance.objects.get(name="payments-cache")
    assert payments.managed_by == "azure"
    assert payments.managed_source.endswith(
        "/resourceGroups/rg-payments/providers/Microsoft.Cache/Redis/payments-cache"
    )
    assert (payments.connection_url, payments.connection_credential) == (
        "rediss://payments-cache.redis.cache.windows.net:6380",
        "entra-id",
    )
    assert (
        Instance.objects.get(name="scratch-cache").connection_credential == "none"
    )  # access keys: by reference
    code, out, _ = run("--subscription", SUBSCRIPTION)
    assert "0 created, 0 updated, 3 unchanged, 1 incomplete" in out


@pytest.mark.django_db
def test_every_instance_imported_exits_0(azure):
    entry = {
        "name": "legacy-ent",
        "environment": "prod",
        "product": "azure-cache-for-redis",
        "tier": "enterprise",
        "sku": "E10",
        "memory_gb": 12,
        "clustering": "enterprise",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "noeviction",
        "auth": "access-key",
        "tls": True,
        "public_network_access": True,
    }
    from advisor.core import design as core

    writes.instance_save(instance=None, data=core.Instance.model_validate(entry), actor=None)
    code, out, err = run("--subscription", SUBSCRIPTION, "--environment", "dev")
    assert code == 0, out + err
    legacy = Instance.objects.get(name="legacy-ent")
    assert (legacy.memory_gb, legacy.public_network_access, legacy.persistence) == (12, True, "rdb")
    assert legacy.environment == "prod"  # an existing instance keeps its own
    assert legacy.managed_source == LEGACY_ID


@pytest.mark.django_db
def test_no_access_exits_3_and_changes_nothing(azure, monkeypatch):
    transport = RecordedTransport(
        fail={
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Cache/redis": (
                403,
                "authorization_failed.json",
            )
        }
    )
    monkeypatch.setattr(arm_discovery, "default_transport", lambda: transport)
    code, out, err = run("--subscription", SUBSCRIPTION)
    assert code == 3
    assert "answered 403" in err and "does not have authorization" in err and "Nothing imported." in err
    assert not Instance.objects.exists()


class RefusedCredential(StaticCredential):
    def get_token(self, *scopes, **kwargs):
        raise ClientAuthenticationError(
            "DefaultAzureCredential failed to retrieve a token from the included credentials."
        )


@pytest.mark.django_db
def test_no_credential_exits_3(azure, monkeypatch):
    credential = RefusedCredential()
    monkeypatch.setattr(arm_discovery, "default_credential", lambda: credential)
    code, _, err = run("--subscription", SUBSCRIPTION)
    assert code == 3
    assert "did not accept the credential" in err and "DefaultAzureCredential failed" in err
    assert credential.closed and not azure[0].requests  # asked nothing without a token


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [["--subscription", "not-a-guid"], ["--subscription", SUBSCRIPTION, "--resource-group", "bad/group"]],
)
def test_invalid_arguments_exit_2(azure, args):
    code, _, err = run(*args)
    assert code == 2 and "Nothing imported." in err
    assert not azure[0].requests


def test_the_default_credential_is_defaultazurecredential(monkeypatch):
    from azure.identity import DefaultAzureCredential

    monkeypatch.setenv("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    monkeypatch.setenv("AZURE_CLIENT_ID", "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-secret")
    credential = arm_discovery.default_credential()
    try:
        assert isinstance(credential, DefaultAzureCredential)  # built, not asked: no network
    finally:
        credential.close()
    assert arm_discovery.default_transport() is None
