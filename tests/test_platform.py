"""The Azure platform catalog: complete, sourced, and consistent with the design file's names."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.core import platform
from advisor.core.design import PRODUCTS, TIERS_BY_PRODUCT, Instance

FACT_KEYS = {"skus", "clustering", "persistence", "geo", "ha", "entra", "version", "ports", "import_export"}


def test_it_covers_every_tier_of_the_design_file():
    catalog = {(t.product, t.name) for t in platform.TIERS}
    expected = {(p, t) for p in PRODUCTS for t in TIERS_BY_PRODUCT[p]}
    assert catalog == expected


@pytest.mark.parametrize("entry", platform.TIERS, ids=lambda t: f"{t.product}/{t.name}")
def test_every_fact_names_a_microsoft_learn_page(entry):
    assert FACT_KEYS <= set(entry.sources)
    for url in entry.sources.values():
        assert url.startswith("https://learn.microsoft.com/"), url


@pytest.mark.parametrize("entry", platform.TIERS, ids=lambda t: f"{t.product}/{t.name}")
def test_sizes_are_unique_and_smallest_first(entry):
    names = [s.name for s in entry.skus]
    assert len(names) == len(set(names)) and names
    sized = [s.memory_gb for s in entry.skus if s.memory_gb is not None]
    assert sized == sorted(sized)
    assert all(s.product == entry.product and s.tier == entry.name for s in entry.skus)


def test_published_sizes_and_limits():
    # AMR: connection table of the overview page; B10/M10/X10 = 12 GB in words on the migration page.
    assert platform.find_sku("azure-managed-redis", "balanced", "B10").memory_gb == 12
    assert platform.find_sku("azure-managed-redis", "memory-optimized", "M10").memory_gb == 12
    assert platform.find_sku("azure-managed-redis", "compute-optimized", "X20").memory_gb == 24
    assert platform.find_sku("azure-managed-redis", "balanced", "B0").max_connections == 15_000
    assert platform.find_sku("azure-managed-redis", "flash-optimized", "A250").memory_gb == 235
    # ACR: cache-configure maxclients.
    c0 = platform.find_sku("azure-cache-for-redis", "basic", "C0")
    assert (c0.memory_gb, c0.max_connections) == (0.25, 256)
    p5 = platform.find_sku("azure-cache-for-redis", "premium", "P5")
    assert (p5.memory_gb, p5.max_connections) == (120, 40_000)
    # ACR Enterprise sizes are not published on Learn: names only, no invented figures.
    e10 = platform.find_sku("azure-cache-for-redis", "enterprise", "E10")
    assert e10 is not None and e10.memory_gb is None and e10.max_connections is None


def test_sku_lookup_is_case_insensitive_and_tier_bound():
    assert platform.find_sku("azure-managed-redis", "balanced", "b20").name == "B20"
    assert platform.find_sku("azure-managed-redis", "balanced", "M20") is None
    assert platform.sku_anywhere("azure-managed-redis", "M20").tier == "memory-optimized"
    assert platform.find_sku("redis-oss", None, "B10") is None


def test_smallest_memory_optimized_size_is_12_gb():
    # 0.45 GB of data still needs M10: the tier has nothing smaller. B0 keeps 0.4 GB usable.
    need = int(0.45 * 2**30)
    assert platform.smallest_fitting_sku("azure-managed-redis", "memory-optimized", need).name == "M10"
    assert platform.smallest_fitting_sku("azure-managed-redis", "balanced", need).name == "B1"


def test_smallest_fitting_size_keeps_the_20_percent_reserve():
    # B10: 12 GB, 9.6 GB usable. One byte more needs B20.
    usable = platform.usable_bytes(12)
    assert usable == int(12 * 2**30 * 0.8)
    assert platform.smallest_fitting_sku("azure-managed-redis", "balanced", usable).name == "B10"
    assert platform.smallest_fitting_sku("azure-managed-redis", "balanced", usable + 1).name == "B20"
    assert platform.smallest_fitting_sku("azure-managed-redis", "balanced", 10**15) is None


@pytest.mark.parametrize(
    "product, tier, tls, port",
    [
        ("azure-managed-redis", "balanced", True, 10000),
        ("azure-managed-redis", None, True, 10000),
        ("azure-cache-for-redis", "premium", True, 6380),
        ("azure-cache-for-redis", "standard", False, 6379),
        ("azure-cache-for-redis", "enterprise", True, 10000),
        ("redis-oss", None, True, 6379),
    ],
)
def test_default_ports(product, tier, tls, port):
    assert platform.default_port(product, tier, tls=tls) == port


def test_retirement_dates():
    assert platform.retirement_date("azure-cache-for-redis", "enterprise") == dt.date(2027, 3, 31)
    assert platform.retirement_date("azure-cache-for-redis", "enterprise-flash") == dt.date(2027, 3, 31)
    for tier in ("basic", "standard", "premium"):
        assert platform.retirement_date("azure-cache-for-redis", tier) == dt.date(2028, 9, 30)
    assert platform.retirement_date("azure-managed-redis", "balanced") is None


def _instance(**fields) -> Instance:
    base = dict(
        name="x",
        environment="prod",
        product="azure-managed-redis",
        tier="balanced",
        memory_gb=12,
        clustering="oss",
        high_availability=True,
        persistence="none",
        geo_replication=False,
        eviction_policy="allkeys-lru",
        auth="entra-id",
        tls=True,
        public_network_access=False,
    )
    base.update(fields)
    return Instance(**base)


def test_geo_replication_kind_per_product():
    premium = _instance(product="azure-cache-for-redis", tier="premium", geo_replication=True)
    assert platform.geo_replication_kind(premium) == "passive"
    assert platform.geo_replication_kind(_instance(geo_replication=True)) == "active"
    enterprise = _instance(product="azure-cache-for-redis", tier="enterprise", geo_replication=True)
    assert platform.has_active_geo_replication(enterprise)
    assert platform.geo_replication_kind(_instance()) == "none"


def test_hash_field_expiration_needs_redis_7_4():
    assert platform.supports_hash_field_expiration(_instance()) is True
    assert (
        platform.supports_hash_field_expiration(_instance(product="azure-cache-for-redis", tier="premium"))
        is False
    )
    ent = _instance(product="azure-cache-for-redis", tier="enterprise", auth="access-key")
    assert platform.supports_hash_field_expiration(ent) is False
    assert platform.supports_hash_field_expiration(_instance(product="redis-oss", tier=None)) is None


def test_a_real_configuration_is_possible():
    assert platform.impossible_configurations(_instance(sku="B10")) == []
    premium = _instance(product="azure-cache-for-redis", tier="premium", sku="P1", memory_gb=18, shards=3)
    assert platform.impossible_configurations(premium) == []


def test_premium_sizes_are_per_shard():
    premium = _instance(product="azure-cache-for-redis", tier="premium", sku="P2", memory_gb=None, shards=2)
    assert premium.memory_gb == 26


def test_sku_fills_memory():
    assert _instance(sku="b20", memory_gb=None).memory_gb == 24


@pytest.mark.django_db
def test_the_catalog_page_lists_every_tier_with_its_sources(client, viewer):
    client.force_login(viewer)
    response = client.get("/platform/")
    assert response.status_code == 200
    html = response.content.decode()
    for entry in platform.TIERS:
        assert f'id="{entry.product}-{entry.name}"' in html
        for url in set(entry.sources.values()):
            assert url in html
    # Unpublished figures show as a dash, never as a number someone made up.
    assert "Not published by Microsoft" in html
    assert ">B10<" in html and "12 GB" in html and "30,000" in html


@pytest.mark.django_db
def test_the_catalog_page_needs_a_login(client):
    response = client.get("/platform/")
    assert response.status_code == 302
