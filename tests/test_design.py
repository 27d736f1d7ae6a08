"""The design file: models, validation with located errors, YAML/JSON loading and dumping.

No Django here: run with `python -m pytest tests/test_design.py -p no:django`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from advisor.core.design import (
    MAX_RESERVED_SHARE,
    MAX_THRESHOLD,
    TIERS_BY_PRODUCT,
    Connection,
    Design,
    DesignError,
    DesignIssue,
    Namespace,
    dump_design,
    load_design,
    load_design_file,
)
from advisor.core.findings import Severity
from advisor.core.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "advisor" / "demo" / "demo_design.yaml"
CLEAN = ROOT / "tests" / "data" / "clean_design.yaml"


def _base() -> dict[str, Any]:
    """A small valid design as plain data; each test breaks one thing in a copy."""
    return {
        "version": 1,
        "teams": [
            {"name": "catalog", "contact": "catalog@example.com"},
            {"name": "platform"},
            {"name": "search"},
        ],
        "instances": [
            {
                "name": "prod-cache",
                "environment": "prod",
                "product": "azure-managed-redis",
                "tier": "balanced",
                "memory_gb": 12,
                "shards": 3,
                "clustering": "oss",
                "high_availability": True,
                "persistence": "none",
                "geo_replication": False,
                "eviction_policy": "allkeys-lru",
                "auth": "entra-id",
                "tls": True,
                "public_network_access": False,
                "region": "westeurope",
                "connection": {
                    "url": "rediss://prod-cache.westeurope.redis.azure.net:10000/0",
                    "credential": "env:CATALOG_REDIS_PASSWORD",
                },
            },
            {
                "name": "dev-box",
                "environment": "dev",
                "product": "redis-oss",
                "memory_gb": 0.5,
                "clustering": "none",
                "high_availability": False,
                "persistence": "none",
                "geo_replication": False,
                "eviction_policy": "volatile-lru",
                "auth": "none",
                "tls": False,
                "public_network_access": False,
            },
            {
                "name": "staging-legacy",
                "environment": "staging",
                "product": "azure-cache-for-redis",
                "tier": "premium",
                "memory_gb": 6,
                "clustering": "oss",
                "high_availability": True,
                "persistence": "rdb",
                "geo_replication": False,
                "eviction_policy": "volatile-lru",
                "auth": "access-key",
                "tls": True,
                "public_network_access": False,
            },
        ],
        "namespaces": [
            {
                "name": "product-cache",
                "team": "catalog",
                "instance": "prod-cache",
                "pattern": "prod:catalog:product:v3:<id:int>",
                "classification": "disposable",
                "data_type": "string",
                "ttl": {"mode": "absolute", "seconds": 600, "jitter_seconds": 90},
                "value_bytes": {"typical": 2048, "max": 16384},
                "cardinality": 500000,
                "ops_per_sec": {"reads": 2000, "writes": 50},
                "data_classification": "internal",
            },
            {
                "name": "cart-items",
                "team": "catalog",
                "instance": "prod-cache",
                "pattern": "prod:catalog:cart:v1:{<cart:uuid>}:items",
                "classification": "durable",
                "data_type": "hash",
                "ttl": {"mode": "sliding", "seconds": 86400},
                "value_bytes": {"typical": 512, "max": 4096},
                "cardinality": 1000,
                "ops_per_sec": {"reads": 10, "writes": 5},
                "data_classification": "confidential",
                "contains": ["pii"],
                "source_of_truth": "orders-sql.carts",
                "multi_key_with": ["cart-totals"],
            },
            {
                "name": "cart-totals",
                "team": "catalog",
                "instance": "prod-cache",
                "pattern": "prod:catalog:cart:v1:{<cart:uuid>}:totals",
                "classification": "durable",
                "data_type": "hash",
                "ttl": {"mode": "sliding", "seconds": 86400},
                "value_bytes": {"typical": 128, "max": 512},
                "cardinality": 1000,
                "ops_per_sec": {"reads": 10, "writes": 5},
                "data_classification": "confidential",
                "multi_key_with": ["cart-items"],
            },
            {
                "name": "flags",
                "team": "platform",
                "instance": "dev-box",
                "pattern": "dev:platform:flags:v1:<flag>",
                "classification": "disposable",
                "data_type": "hash",
                "ttl": {"mode": "none"},
                "value_bytes": {"typical": 100, "max": 1000},
                "cardinality": 50,
                "ops_per_sec": {"reads": 0.5, "writes": 0},
                "data_classification": "public",
            },
        ],
        "policy": {
            "disable": ["KEY002"],
            "severity": {"TTL002": "high"},
            "thresholds": {"VAL001.max_bytes": 65536},
        },
        "waivers": [
            {
                "rule": "HSH003",
                "target": "namespace:cart-items",
                "reason": "cart keys are read together with totals in one MULTI",
                "expires": "2027-06-30",
                "approved_by": "platform-architects",
            }
        ],
    }


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _issues(text: str | bytes, filename: str = "design.yaml") -> list[DesignIssue]:
    with pytest.raises(DesignError) as info:
        load_design(text, filename=filename)
    return info.value.errors


def _pairs(issues: list[DesignIssue]) -> list[tuple[str, str]]:
    return [(i.loc, i.message) for i in issues]


def _set(data: dict, path: tuple, value: Any) -> None:
    *parents, last = path
    for step in parents:
        data = data[step]
    data[last] = value


def _delete(data: dict, path: tuple) -> None:
    *parents, last = path
    for step in parents:
        data = data[step]
    del data[last]


DELETE = object()


# --------------------------------------------------------------------------------------------
# Valid files


def test_it_loads_the_base_design():
    design = load_design(_yaml(_base()))
    assert [t.name for t in design.teams] == ["catalog", "platform", "search"]
    dev = design.instance("dev-box")
    assert (dev.tier, dev.shards, dev.region, dev.connection) == (None, 1, None, None)
    flags = design.namespace("flags")
    assert flags.contains == [] and flags.multi_key_with == [] and flags.description == ""
    assert flags.negative_cache is False and flags.source_of_truth is None
    assert flags.ttl.seconds is None and flags.ttl.jitter_seconds == 0
    assert design.policy.severity == {"TTL002": Severity.high}
    assert design.waivers[0].expires == dt.date(2027, 6, 30)


def test_it_loads_the_demo_design():
    design = load_design_file(DEMO)
    assert len(design.teams) >= 3
    assert 4 <= len(design.instances) <= 8
    assert 18 <= len(design.namespaces) <= 24
    legacy = design.instance("prod-legacy-cache")
    assert (legacy.product, legacy.tier) == ("azure-cache-for-redis", "enterprise")
    products = {(i.product, i.tier, i.clustering) for i in design.instances}
    assert ("azure-managed-redis", "balanced", "oss") in products
    assert any(i.tier == "flash-optimized" for i in design.instances)
    assert any(i.product == "redis-oss" and i.environment == "dev" for i in design.instances)
    local = [
        i.name
        for i in design.instances
        if i.connection and i.connection.url.startswith("redis://127.0.0.1:6390")
    ]
    assert len(local) == 2
    assert all(i.connection.credential == "none" for i in design.instances if i.name in local)
    today = dt.date(2026, 11, 26)
    assert sorted(w.is_active(today=today) for w in design.waivers) == [False, True]


def test_it_loads_the_clean_design():
    design = load_design_file(CLEAN)
    assert len(design.teams) <= 2 and len(design.instances) == 2
    assert 4 <= len(design.namespaces) <= 6
    assert design.waivers == [] and design.policy.disable == []


def test_it_has_lookup_helpers():
    design = load_design(_yaml(_base()))
    prod, dev = design.instance("prod-cache"), design.instance("dev-box")
    assert prod.is_clustered and prod.is_prod
    assert not dev.is_clustered and not dev.is_prod
    assert [n.name for n in design.namespaces_on("prod-cache")] == [
        "product-cache",
        "cart-items",
        "cart-totals",
    ]
    assert design.namespaces_on("nowhere") == []
    assert design.team("platform").contact is None
    product = design.namespace("product-cache")
    assert product.has_ttl and product.ttl_max_seconds == 690
    assert design.namespace("cart-items").ttl_max_seconds == 86400
    flags = design.namespace("flags")
    assert not flags.has_ttl and flags.ttl_max_seconds is None
    for lookup in (design.team, design.instance, design.namespace):
        with pytest.raises(KeyError):
            lookup("missing")


def test_it_normalises_zero_seconds_without_expiry():
    data = _base()
    data["namespaces"][3]["ttl"] = {"mode": "none", "seconds": 0, "jitter_seconds": 0}
    assert load_design(_yaml(data)).namespace("flags").ttl.seconds is None


# --------------------------------------------------------------------------------------------
# Validation: one broken value, one error, at the right place

NS0 = ("namespaces", 0)
INST0 = ("instances", 0)
CONN = ("instances", 0, "connection")
W0 = ("waivers", 0)
SLUG = "must be a slug: lowercase letters, digits and '-', starting with a letter or digit"
AMR_TIERS = "memory-optimized, balanced, compute-optimized, flash-optimized"

# fmt: off
VALIDATION_CASES = [
    # teams
    (("teams", 2, "name"), "Catalog", "teams[2].name", SLUG),
    (("teams", 2, "name"), "-catalog", "teams[2].name", SLUG),
    (("teams", 2, "name"), "a" * 64, "teams[2].name", "must be at most 63 characters"),
    (("teams", 2, "name"), 42, "teams[2].name", "must be a string"),
    (("teams", 2, "name"), "catalog", "teams[2].name", "duplicate team name 'catalog' (first at teams[0])"),
    (("teams", 0, "contact"), "  ", "teams[0].contact", "must not be blank"),
    (("teams", 0, "email"), "x@example.com", "teams[0].email", "unknown field (allowed: name, contact)"),
    (("teams",), {"name": "catalog"}, "teams", "must be a list"),
    # instances
    (("instances", 2, "name"), "staging_legacy", "instances[2].name", SLUG),
    (("instances", 2, "name"), "prod-cache", "instances[2].name", "duplicate instance name 'prod-cache' (first at instances[0])"),
    ((*INST0, "environment"), "production", "instances[0].environment", "must be 'prod', 'staging', 'dev' or 'test', not 'production'"),
    ((*INST0, "product"), "elasticache", "instances[0].product", "must be 'azure-managed-redis', 'azure-cache-for-redis' or 'redis-oss', not 'elasticache'"),
    ((*INST0, "tier"), "premium", "instances[0].tier", f"'premium' is not a tier of azure-managed-redis; use one of {AMR_TIERS}"),
    ((*INST0, "tier"), DELETE, "instances[0].tier", f"required for azure-managed-redis: one of {AMR_TIERS}"),
    ((*INST0, "tier"), "gold", "instances[0].tier", "must be 'memory-optimized', 'balanced', 'compute-optimized', 'flash-optimized', 'basic', 'standard', 'premium', 'enterprise' or 'enterprise-flash', not 'gold'"),
    (("instances", 1, "tier"), "balanced", "instances[1].tier", "must be omitted or null for redis-oss"),
    ((*INST0, "memory_gb"), 0, "instances[0].memory_gb", "must be > 0"),
    ((*INST0, "memory_gb"), -2.5, "instances[0].memory_gb", "must be > 0"),
    ((*INST0, "memory_gb"), "lots", "instances[0].memory_gb", "must be a number"),
    ((*INST0, "memory_gb"), float("inf"), "instances[0].memory_gb", "must be a finite number"),
    ((*INST0, "shards"), 0, "instances[0].shards", "must be >= 1"),
    ((*INST0, "shards"), 1.5, "instances[0].shards", "must be a whole number"),
    ((*INST0, "clustering"), "redis-cluster", "instances[0].clustering", "must be 'oss', 'enterprise' or 'none', not 'redis-cluster'"),
    ((*INST0, "high_availability"), "maybe", "instances[0].high_availability", "must be true or false"),
    ((*INST0, "persistence"), "both", "instances[0].persistence", "must be 'none', 'rdb' or 'aof', not 'both'"),
    ((*INST0, "eviction_policy"), "lru", "instances[0].eviction_policy", "must be 'noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random' or 'volatile-ttl', not 'lru'"),
    ((*INST0, "auth"), "password", "instances[0].auth", "must be 'entra-id', 'access-key' or 'none', not 'password'"),
    ((*INST0, "tls"), DELETE, "instances[0].tls", "required"),
    ((*INST0, "shard"), 3, "instances[0].shard", "unknown field; did you mean 'shards'?"),
    ((*INST0, "skus"), "B5", "instances[0].skus", "unknown field; did you mean 'sku'?"),
    ((*INST0, "sku"), 10, "instances[0].sku", "must be a string"),
    ((*INST0, "eviction"), "allkeys-lru", "instances[0].eviction", "unknown field; did you mean 'eviction_policy'?"),
    # connection: scheme, host, database, and secrets only by reference
    ((*CONN, "url"), "http://prod-cache:6379", "instances[0].connection.url", "must start with redis:// or rediss://"),
    ((*CONN, "url"), "rediss://:10000/0", "instances[0].connection.url", "must name a host, as in rediss://host:10000/0"),
    ((*CONN, "url"), "rediss://host:99999/0", "instances[0].connection.url", "must be a URL such as rediss://host:10000/0"),
    ((*CONN, "url"), "rediss://host:10000/cache", "instances[0].connection.url", "the path must be a database number, as in /0"),
    ((*CONN, "url"), "redis://:s3cret@host:6379/0", "instances[0].connection.url", "secrets only by reference: use credential: env:VAR"),
    ((*CONN, "url"), "rediss://default:s3cret@host:10000", "instances[0].connection.url", "secrets only by reference: use credential: env:VAR"),
    ((*CONN, "url"), "rediss://host:10000/0?password=s3cret", "instances[0].connection.url", "secrets only by reference: use credential: env:VAR"),
    ((*CONN, "credential"), "s3cret", "instances[0].connection.credential", "must be env:VAR, entra-id, entra-id:<client-id> or none (secrets only by reference)"),
    ((*CONN, "credential"), "env:redis_password", "instances[0].connection.credential", "must be env:VAR, entra-id, entra-id:<client-id> or none (secrets only by reference)"),
    ((*CONN, "credential"), "env:", "instances[0].connection.credential", "must be env:VAR, entra-id, entra-id:<client-id> or none (secrets only by reference)"),
    ((*CONN, "credential"), "entra-id:my-app", "instances[0].connection.credential", "entra-id:<client-id> needs the managed identity's client id, a GUID"),
    ((*CONN, "credential"), DELETE, "instances[0].connection.credential", "required"),
    ((*CONN, "password"), "s3cret", "instances[0].connection.password", "unknown field (allowed: url, credential)"),
    # namespaces: pattern and fields
    ((*NS0, "name"), "Product Cache", "namespaces[0].name", SLUG),
    (("namespaces", 3, "name"), "product-cache", "namespaces[3].name", "duplicate namespace name 'product-cache' (first at namespaces[0])"),
    ((*NS0, "pattern"), "prod:catalog:product:v3:<id:int", "namespaces[0].pattern", "invalid pattern: unclosed '<' at position 24"),
    ((*NS0, "pattern"), "prod:catalog:product:v3:<id:number>", "namespaces[0].pattern", "invalid pattern: unknown placeholder kind 'number' at position 28 (expected one of int, uuid, hex, hash, str, any)"),
    ((*NS0, "pattern"), "prod:catalog:product:v3:<>", "namespaces[0].pattern", "invalid pattern: empty placeholder name at position 24"),
    ((*NS0, "pattern"), "prod:catalog:{}:<id:int>", "namespaces[0].pattern", "invalid pattern: empty hash tag '{}' at position 13"),
    ((*NS0, "pattern"), "", "namespaces[0].pattern", "invalid pattern: empty pattern"),
    ((*NS0, "classification"), "cache", "namespaces[0].classification", "must be 'disposable', 'session', 'coordination' or 'durable', not 'cache'"),
    ((*NS0, "data_type"), "bitmap", "namespaces[0].data_type", "must be 'string', 'hash', 'list', 'set', 'zset', 'stream', 'json' or 'other', not 'bitmap'"),
    ((*NS0, "data_classification"), "secret", "namespaces[0].data_classification", "must be 'public', 'internal', 'confidential' or 'restricted', not 'secret'"),
    ((*NS0, "contains"), ["pii", "emails"], "namespaces[0].contains[1]", "must be 'pii', 'credentials', 'tokens' or 'payment', not 'emails'"),
    ((*NS0, "contains"), ["pii", "pii"], "namespaces[0].contains", "lists an item twice"),
    ((*NS0, "negative_cache"), "sometimes", "namespaces[0].negative_cache", "must be true or false"),
    ((*NS0, "cardinality"), -1, "namespaces[0].cardinality", "must be >= 0"),
    ((*NS0, "ttl"), DELETE, "namespaces[0].ttl", "required"),
    ((*NS0, "source_of_truth"), "", "namespaces[0].source_of_truth", "must not be blank"),
    ((*NS0, "owner"), "catalog", "namespaces[0].owner", "unknown field (allowed: name, team, instance, pattern, classification, data_type, ttl, value_bytes, cardinality, ops_per_sec, data_classification, contains, negative_cache, source_of_truth, multi_key_with, description)"),
    ((*NS0, "descripton"), "typo", "namespaces[0].descripton", "unknown field; did you mean 'description'?"),
    # ttl
    ((*NS0, "ttl", "seconds"), 0, "namespaces[0].ttl.seconds", "must be >= 1 when mode is absolute"),
    ((*NS0, "ttl", "seconds"), -600, "namespaces[0].ttl.seconds", "must be >= 1 when mode is absolute"),
    ((*NS0, "ttl", "seconds"), DELETE, "namespaces[0].ttl.seconds", "required when mode is absolute"),
    ((*NS0, "ttl", "seconds"), None, "namespaces[0].ttl.seconds", "required when mode is absolute"),
    (("namespaces", 1, "ttl", "seconds"), 0, "namespaces[1].ttl.seconds", "must be >= 1 when mode is sliding"),
    (("namespaces", 1, "ttl", "seconds"), DELETE, "namespaces[1].ttl.seconds", "required when mode is sliding"),
    (("namespaces", 3, "ttl", "seconds"), 600, "namespaces[3].ttl.seconds", "must be omitted when mode is none: the keys never expire"),
    (("namespaces", 3, "ttl", "jitter_seconds"), 30, "namespaces[3].ttl.jitter_seconds", "must be 0 when mode is none: the keys never expire"),
    ((*NS0, "ttl", "jitter_seconds"), -1, "namespaces[0].ttl.jitter_seconds", "must be >= 0"),
    ((*NS0, "ttl", "mode"), "forever", "namespaces[0].ttl.mode", "must be 'absolute', 'sliding', 'none' or 'per-field', not 'forever'"),
    ((*NS0, "ttl", "jitter"), 30, "namespaces[0].ttl.jitter", "unknown field; did you mean 'jitter_seconds'?"),
    # value_bytes, ops
    ((*NS0, "value_bytes", "max"), 1024, "namespaces[0].value_bytes.max", "must be >= typical (2048)"),
    ((*NS0, "value_bytes", "typical"), -1, "namespaces[0].value_bytes.typical", "must be >= 0"),
    ((*NS0, "value_bytes", "max"), -1, "namespaces[0].value_bytes.max", "must be >= 0"),
    ((*NS0, "ops_per_sec", "writes"), -5, "namespaces[0].ops_per_sec.writes", "must be >= 0"),
    ((*NS0, "ops_per_sec", "reads"), DELETE, "namespaces[0].ops_per_sec.reads", "required"),
    ((*NS0, "ops_per_sec"), 100, "namespaces[0].ops_per_sec", "must be a mapping"),
    # references
    ((*NS0, "team"), "catalgo", "namespaces[0].team", "no team named 'catalgo'; did you mean 'catalog'?"),
    ((*NS0, "team"), "billing", "namespaces[0].team", "no team named 'billing'"),
    ((*NS0, "instance"), "prod-cach", "namespaces[0].instance", "no instance named 'prod-cach'; did you mean 'prod-cache'?"),
    ((*NS0, "multi_key_with"), ["product-cache"], "namespaces[0].multi_key_with[0]", "names the namespace itself"),
    ((*NS0, "multi_key_with"), ["cart-item"], "namespaces[0].multi_key_with[0]", "no namespace named 'cart-item'; did you mean 'cart-items'?"),
    ((*NS0, "multi_key_with"), ["cart"], "namespaces[0].multi_key_with[0]", "no namespace named 'cart'"),
    (("namespaces", 1, "multi_key_with"), ["cart-totals", "cart-totals"], "namespaces[1].multi_key_with[1]", "lists 'cart-totals' twice"),
    ((*NS0, "multi_key_with"), ["flags"], "namespaces[0].multi_key_with[0]", "'flags' is on instance 'dev-box', not 'prod-cache': multi-key commands need both namespaces on one instance"),
    ((*NS0, "multi_key_with"), ["Cart"], "namespaces[0].multi_key_with[0]", SLUG),
    # policy
    (("policy", "disable"), ["KEY002", "key003"], "policy.disable[1]", "must be a rule id such as TTL001"),
    (("policy", "severity"), {"TTL002": "urgent"}, "policy.severity.TTL002", "must be 'info', 'low', 'medium', 'high' or 'critical', not 'urgent'"),
    (("policy", "severity"), {"TTL02": "high"}, "policy.severity.TTL02", "must be a rule id such as TTL001"),
    (("policy", "thresholds"), {"VAL001": 5}, "policy.thresholds.VAL001", "must be a threshold name RULE.name, such as VAL001.max_bytes"),
    (("policy", "thresholds"), {"VAL001.max_bytes": "big"}, "policy.thresholds.VAL001.max_bytes", "must be a number"),
    (("policy", "thresholds"), {"VAL001.max_bytes": float("nan")}, "policy.thresholds.VAL001.max_bytes", "must be a finite number"),
    (("policy", "enable"), ["KEY002"], "policy.enable", "unknown field; did you mean 'disable'?"),
    # waivers
    ((*W0, "rule"), "HSH03", "waivers[0].rule", "must be a rule id such as TTL001"),
    ((*W0, "target"), "cart-items", "waivers[0].target", "must be namespace:NAME or instance:NAME"),
    ((*W0, "target"), "team:catalog", "waivers[0].target", "must be namespace:NAME or instance:NAME"),
    ((*W0, "target"), "namespace:cart-item", "waivers[0].target", "no namespace named 'cart-item'; did you mean 'cart-items'?"),
    ((*W0, "target"), "instance:prod", "waivers[0].target", "no instance named 'prod'"),
    ((*W0, "reason"), "", "waivers[0].reason", "must not be blank"),
    ((*W0, "expires"), DELETE, "waivers[0].expires", "required"),
    ((*W0, "expires"), "next year", "waivers[0].expires", "must be a date (YYYY-MM-DD)"),
    ((*W0, "expires"), "2027-02-30", "waivers[0].expires", "must be a date (YYYY-MM-DD)"),
    ((*W0, "approved_by"), DELETE, "waivers[0].approved_by", "required"),
    # top level
    (("version",), DELETE, "version", "required"),
    (("namespace",), [], "namespace", "unknown field; did you mean 'namespaces'?"),
    (("instances",), DELETE, "instances", "required"),
    ((*NS0, "team"), "Catalog", "namespaces[0].team", SLUG),
]
# fmt: on


@pytest.mark.parametrize(
    ("path", "value", "loc", "message"),
    VALIDATION_CASES,
    ids=[f"{c[2]}={c[1]!r}"[:60] for c in VALIDATION_CASES],
)
def test_it_reports_each_validation_error_with_its_location(path, value, loc, message):
    data = _base()
    if value is DELETE:
        _delete(data, path)
    else:
        _set(data, path, value)
    for text in (_yaml(data), json.dumps(data, allow_nan=True)):
        issues = _issues(text)
        assert _pairs(issues) == [(loc, message)]
        assert issues[0].line is not None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((*CONN, "url"), "redis://:hunter2@host:6379/0"),
        ((*CONN, "url"), "rediss://host:10000/0?password=hunter2"),
        ((*CONN, "credential"), "hunter2"),
        ((*CONN, "credential"), "entra-id:hunter2"),
    ],
)
def test_it_never_echoes_a_secret(path, value):
    data = _base()
    _set(data, path, value)
    with pytest.raises(DesignError) as info:
        load_design(_yaml(data))
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value.errors)


def test_it_never_echoes_a_secret_when_built_in_code():
    with pytest.raises(ValidationError) as info:
        Connection(url="redis://:hunter2@host:6379/0", credential="none")
    assert "hunter2" not in str(info.value)
    data = _base()
    data["instances"][0]["connection"]["url"] = "redis://:hunter2@host:6379/0"
    with pytest.raises(ValidationError) as info:
        Design.model_validate(data)
    assert "hunter2" not in str(info.value)


def test_it_accepts_every_credential_form():
    for credential in (
        "none",
        "entra-id",
        "entra-id:7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "env:REDIS_KEY_2",
        "env:_X",
    ):
        data = _base()
        data["instances"][0]["connection"]["credential"] = credential
        assert load_design(_yaml(data)).instances[0].connection.credential == credential


def test_it_accepts_a_username_without_password():
    data = _base()
    data["instances"][0]["connection"]["url"] = "rediss://scanner@prod-cache.example.net:10000"
    assert load_design(_yaml(data)).instances[0].connection.url.startswith("rediss://scanner@")


@pytest.mark.parametrize(
    ("product", "tier"),
    [(p, t) for p, tiers in TIERS_BY_PRODUCT.items() for t in tiers or (None,)],
)
def test_it_accepts_every_tier_of_its_product(product, tier):
    data = _base()
    instance = data["instances"][0]
    instance.update(product=product, tier=tier, clustering="none")
    assert load_design(_yaml(data)).instances[0].tier == tier


@pytest.mark.parametrize(
    ("index", "changes"),
    [
        (0, {"product": "azure-cache-for-redis", "tier": "standard", "clustering": "oss"}),
        (0, {"product": "azure-cache-for-redis", "tier": "basic", "clustering": "oss", "persistence": "rdb"}),
        (1, {"clustering": "enterprise"}),  # dev-box is self-hosted redis-oss
        (0, {"sku": "M10"}),  # a Memory Optimized size on a Balanced instance
        (0, {"sku": "B10", "memory_gb": 13}),  # B10 has 12 GB
    ],
    ids=[
        "standard-clustered",
        "basic-clustered-persistent",
        "redis-oss-enterprise",
        "sku-of-another-tier",
        "sku-memory",
    ],
)
def test_impossible_configurations_load_and_are_ins009_findings(index, changes):
    # A design that describes its cache wrongly still loads: saying what is wrong is INS009's job.
    from advisor.core.rules import get_rule
    from advisor.core.rules.base import DesignContext

    data = _base()
    data["instances"][index].update(changes)
    design = load_design(_yaml(data))
    name = data["instances"][index]["name"]
    findings = get_rule("INS009").check(DesignContext(design, today=dt.date(2026, 11, 26)))
    assert any(f.target == f"instance:{name}" for f in findings)


# --------------------------------------------------------------------------------------------
# sku and per-field TTLs


@pytest.mark.parametrize("sku", ["B-10", "", "B 10", "B10" * 6])
def test_a_malformed_sku_is_a_located_error(sku):
    data = _base()
    data["instances"][0]["sku"] = sku
    ((loc, message),) = _pairs(_issues(_yaml(data)))
    assert loc == "instances[0].sku" and message


def test_a_sku_fills_in_memory_gb():
    data = _base()
    del data["instances"][0]["memory_gb"]
    data["instances"][0]["sku"] = "B20"
    instance = load_design(_yaml(data)).instances[0]
    assert (instance.sku, instance.memory_gb) == ("B20", 24)


def test_a_lower_case_sku_is_the_same_size():
    data = _base()
    del data["instances"][0]["memory_gb"]
    data["instances"][0]["sku"] = "b10"
    instance = load_design(_yaml(data)).instances[0]
    assert (instance.sku, instance.memory_gb) == ("B10", 12)


def test_a_given_memory_gb_is_kept_beside_the_sku():
    data = _base()
    data["instances"][0].update(sku="B10", memory_gb=13)
    assert load_design(_yaml(data)).instances[0].memory_gb == 13


def test_an_unknown_sku_without_memory_gb_is_a_located_error():
    data = _base()
    del data["instances"][0]["memory_gb"]
    data["instances"][0]["sku"] = "B7"
    ((loc, message),) = _pairs(_issues(_yaml(data)))
    assert loc == "instances[0].memory_gb"
    assert message.startswith("required: sku 'B7' is not a size of azure-managed-redis balanced (B0, B1, B3")
    assert message.endswith(", so memory_gb cannot be taken from it")


def test_a_sku_of_another_tier_without_memory_gb_is_a_located_error():
    data = _base()
    del data["instances"][0]["memory_gb"]
    data["instances"][0]["sku"] = "M10"
    ((loc, message),) = _pairs(_issues(_yaml(data)))
    assert (
        loc == "instances[0].memory_gb" and "'M10' is not a size of azure-managed-redis balanced" in message
    )


def test_neither_sku_nor_memory_gb_is_a_located_error():
    data = _base()
    del data["instances"][0]["memory_gb"]
    assert _pairs(_issues(_yaml(data))) == [
        ("instances[0].memory_gb", "required unless sku names the Azure size (e.g. sku: B10)")
    ]


def test_the_error_has_the_yaml_line_of_the_instance():
    data = _base()
    del data["instances"][2]["memory_gb"]
    data["instances"][2]["sku"] = "P9"
    (issue,) = _issues(_yaml(data))
    assert issue.loc == "instances[2].memory_gb" and "sku 'P9'" in issue.message
    assert issue.line is not None


def test_per_field_ttl_needs_a_hash():
    data = _base()
    data["namespaces"][0]["ttl"] = {"mode": "per-field", "seconds": 600}  # product-cache is a string
    assert _pairs(_issues(_yaml(data))) == [
        (
            "namespaces[0].ttl",
            "mode per-field expires hash fields (HEXPIRE) and needs data_type: hash, not string; "
            "use absolute or sliding for other types",
        )
    ]


def test_per_field_ttl_loads_on_a_hash():
    data = _base()
    data["namespaces"][1]["ttl"] = {"mode": "per-field", "seconds": 900, "jitter_seconds": 60}  # cart-items
    ns = load_design(_yaml(data)).namespace("cart-items")
    assert (ns.ttl.mode, ns.ttl.seconds, ns.ttl_max_seconds) == ("per-field", 900, 960)
    assert ns.has_ttl is True and ns.key_has_ttl is False


@pytest.mark.parametrize(
    ("ttl", "loc", "message"),
    [
        ({"mode": "per-field"}, "namespaces[1].ttl.seconds", "required when mode is per-field"),
        (
            {"mode": "per-field", "seconds": 0},
            "namespaces[1].ttl.seconds",
            "must be >= 1 when mode is per-field",
        ),
    ],
)
def test_per_field_ttl_needs_seconds(ttl, loc, message):
    data = _base()
    data["namespaces"][1]["ttl"] = ttl
    assert _pairs(_issues(_yaml(data))) == [(loc, message)]


@pytest.mark.parametrize(
    ("mode", "has_ttl", "key_has_ttl"),
    [("absolute", True, True), ("sliding", True, True), ("per-field", True, False), ("none", False, False)],
)
def test_what_each_ttl_mode_expires(mode, has_ttl, key_has_ttl):
    data = _base()
    data["namespaces"][1]["ttl"] = {"mode": mode} if mode == "none" else {"mode": mode, "seconds": 60}
    ns = load_design(_yaml(data)).namespace("cart-items")
    assert (ns.has_ttl, ns.key_has_ttl) == (has_ttl, key_has_ttl)


def test_it_refuses_two_waivers_for_one_finding():
    data = _base()
    data["waivers"].append(dict(data["waivers"][0], expires="2028-01-01"))
    assert _pairs(_issues(_yaml(data))) == [
        ("waivers[1]", "a second waiver of HSH003 for namespace:cart-items (the first is waivers[0])")
    ]


# --------------------------------------------------------------------------------------------
# Whole-file problems

MULTI_ERROR_YAML = """\
version: 1
teams:
  - name: catalog
instances:
  - name: prod-cache
    environment: prod
    product: azure-managed-redis
    tier: balanced
    memory_gb: 12
    clustering: oss
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: allkeys-lru
    auth: entra-id
    tls: true
    public_network_access: false
namespaces:
  - name: product-cache
    team: catalog
    instance: prod-cache
    pattern: "prod:catalog:product:v3:<id:int"
    classification: disposable
    data_type: string
    ttl: {mode: absolute, seconds: 600, jitter_seconds: 90}
    value_bytes: {typical: 2048, max: 16384}
    cardinality: 500000
    ops_per_sec: {reads: 2000, writes: 50}
    data_classification: internal
    colour: blue
  - name: price-cache
    team: pricing
    instance: prod-cache
    pattern: "prod:catalog:price:v1:<sku>"
    classification: disposable
    data_type: string
    ttl:
      mode: absolute
      seconds: -60
    value_bytes: {typical: 64, max: 128}
    cardinality: 1000
    ops_per_sec: {reads: 10, writes: 1}
    data_classification: internal
"""


def test_it_reports_all_errors_at_once_with_lines():
    with pytest.raises(DesignError) as info:
        load_design(MULTI_ERROR_YAML, filename="team.yaml")
    # fmt: off
    assert [(i.line, i.loc, i.message) for i in info.value.errors] == [
        (22, "namespaces[0].pattern", "invalid pattern: unclosed '<' at position 24"),
        (30, "namespaces[0].colour", "unknown field (allowed: name, team, instance, pattern, classification, data_type, ttl, value_bytes, cardinality, ops_per_sec, data_classification, contains, negative_cache, source_of_truth, multi_key_with, description)"),
        (32, "namespaces[1].team", "no team named 'pricing'"),
        (39, "namespaces[1].ttl.seconds", "must be >= 1 when mode is absolute"),
    ]
    # fmt: on
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    assert lines[0] == "team.yaml:22: namespaces[0].pattern: invalid pattern: unclosed '<' at position 24"
    assert lines[3] == "team.yaml:39: namespaces[1].ttl.seconds: must be >= 1 when mode is absolute"


def test_it_points_at_the_mapping_that_misses_a_field():
    text = MULTI_ERROR_YAML.replace("    cardinality: 1000\n", "")
    issues = [i for i in _issues(text) if i.loc == "namespaces[1].cardinality"]
    assert [(i.line, i.message) for i in issues] == [(31, "required")]


def test_it_finds_lines_through_merge_keys():
    text = """\
version: 1
teams: [{name: catalog}]
instances:
  - &prod
    name: prod-cache
    environment: prod
    product: azure-managed-redis
    tier: balanced
    memory_gb: 12
    clustering: oss
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: allkeys-lru
    auth: entra-id
    tls: true
    public_network_access: false
  - <<: *prod
    name: staging-cache
    environment: stage
namespaces: []
"""
    issues = _issues(text)
    assert [(i.line, i.loc) for i in issues] == [(20, "instances[1].environment")]


# fmt: off
@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "the file is empty; a design starts with 'version: 1'"),
        ("# nothing but a comment\n", None, "the file is empty; a design starts with 'version: 1'"),
        ("- version: 1\n", 1, "the top level must be a mapping with version, teams, instances and namespaces"),
        ("just text\n", 1, "the top level must be a mapping with version, teams, instances and namespaces"),
        ("version: 1\nteams: [\n  {name: a}\ninstances: []\n", 4, "invalid YAML: while parsing a flow sequence, expected ',' or ']', but got '<scalar>'"),
        ("version: 1\nteams:\n  - name: a\n   bad: indent\n", 4, "invalid YAML: while parsing a block collection, expected <block end>, but found '<block mapping start>'"),
        ("version: 1\n---\nversion: 1\n", 2, "invalid YAML: expected a single document in the stream, but found another document"),
        ("version: 1\nteams: !!python/object:os.system {}\n", 2, "invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
    ],
)
# fmt: on
def test_it_reports_file_level_problems(text, line, message):
    issues = _issues(text)
    assert [(i.line, i.loc, i.message) for i in issues] == [(line, "", message)]


@pytest.mark.parametrize("version", [2, 0, "1", 1.0, True, None])
def test_it_reads_only_version_1(version):
    data = _base()
    data["version"] = version
    data["teams"] = "this would be an error in version 1"
    issues = _issues(_yaml(data))
    assert _pairs(issues) == [("version", f"unsupported version {version!r}: this advisor reads version 1")]
    assert issues[0].line == 1


def test_it_refuses_duplicate_keys_in_yaml():
    text = _yaml(_base()).replace("  cardinality: 500000\n", "  cardinality: 500000\n  cardinality: 5\n", 1)
    issues = _issues(text)
    line = text.splitlines().index("  cardinality: 5") + 1
    assert [(i.line, i.loc, i.message) for i in issues] == [
        (line, "namespaces[0].cardinality", f"duplicate key 'cardinality' (first at line {line - 1})")
    ]


def test_it_refuses_duplicate_keys_in_flow_mappings_and_json():
    text = _yaml(_base()).replace("version: 1\n", "version: 1\nteams: []\n", 1)
    assert _pairs(_issues(text)) == [("teams", "duplicate key 'teams' (first at line 2)")]
    data = json.dumps(_base(), indent=2)
    text = data.replace('"mode": "absolute",', '"mode": "absolute", "mode": "sliding",', 1)
    issues = _issues(text, filename="design.json")
    assert _pairs(issues) == [("namespaces[0].ttl.mode", "duplicate key 'mode'")]
    assert issues[0].line == text.splitlines().index('      "ttl": {') + 2


def test_it_does_not_count_merge_overrides_as_duplicates():
    text = """\
version: 1
teams: [{name: catalog}]
instances:
  - &prod {name: prod-cache, environment: prod, product: azure-managed-redis, tier: balanced, memory_gb: 12, clustering: oss, high_availability: true, persistence: none, geo_replication: false, eviction_policy: allkeys-lru, auth: entra-id, tls: true, public_network_access: false}
  - <<: *prod
    name: staging-cache
    environment: staging
namespaces: []
"""
    design = load_design(text)
    assert [(i.name, i.environment) for i in design.instances] == [("prod-cache", "prod"), ("staging-cache", "staging")]


# --------------------------------------------------------------------------------------------
# JSON, bytes and files


def test_it_loads_json():
    data = _base()
    expected = load_design(_yaml(data))
    assert load_design(json.dumps(data)) == expected
    # Tabs and JSON-only number forms, which a YAML parser would refuse or misread
    text = json.dumps(data, indent="\t").replace('"memory_gb": 12,', '"memory_gb": 1.2e1,')
    assert load_design(text.encode(), filename="design.json") == expected


def test_it_reports_invalid_json_with_its_line():
    issues = _issues('{\n  "version": 1,\n  "teams": [,]\n}\n', filename="design.json")
    assert [(i.line, i.message) for i in issues] == [(3, "invalid JSON: Expecting value")]


def test_it_reads_bytes_with_a_bom_and_refuses_other_encodings():
    text = _yaml(_base())
    assert load_design(b"\xef\xbb\xbf" + text.encode()) == load_design(text)
    assert _pairs(_issues(text.encode("utf-16"))) == [("", "not UTF-8 text (byte 0)")]


def test_it_formats_errors_as_file_line_loc_message():
    error = DesignError(
        [
            DesignIssue(loc="namespaces[3].ttl.seconds", message="must be >= 1 when mode is absolute", line=40),
            DesignIssue(loc="", message="invalid YAML: oops", line=2),
            DesignIssue(loc="teams", message="required"),
        ],
        filename="designs/catalog.yaml",
    )
    assert str(error).splitlines() == [
        "designs/catalog.yaml:40: namespaces[3].ttl.seconds: must be >= 1 when mode is absolute",
        "designs/catalog.yaml:2: invalid YAML: oops",
        "designs/catalog.yaml: teams: required",
    ]
    assert isinstance(error, ValueError)


def test_it_names_the_file_it_read(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nteams: 3\ninstances: []\nnamespaces: []\n")
    with pytest.raises(DesignError) as info:
        load_design_file(path)
    assert str(info.value) == f"{path}:2: teams: must be a list"


# --------------------------------------------------------------------------------------------
# Building designs in code


def test_it_checks_references_when_built_in_code():
    data = _base()
    assert Design.model_validate(data) == load_design(_yaml(data))
    data["namespaces"][0]["team"] = "nobody"
    with pytest.raises(ValidationError, match="namespaces\\[0\\].team: no team named 'nobody'"):
        Design.model_validate(data)


def test_a_namespace_validates_its_pattern_alone():
    fields = copy.deepcopy(_base()["namespaces"][0])
    assert Namespace(**fields).pattern == fields["pattern"]
    with pytest.raises(ValidationError, match="invalid pattern"):
        Namespace(**dict(fields, pattern="prod:<"))


# --------------------------------------------------------------------------------------------
# Dumping


def test_it_dumps_in_contract_order_with_defaults_written_out():
    text = dump_design(load_design(_yaml(_base())))
    top = [line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()]
    assert top == ["version", "teams", "instances", "namespaces", "policy", "waivers"]
    dev = text[text.index("  - name: dev-box") :]
    assert "    tier: null\n    sku: null\n    memory_gb: 0.5\n    shards: 1\n" in dev
    assert "    region: null\n    connection: null\n" in dev
    assert '    pattern: "prod:catalog:product:v3:<id:int>"\n' in text
    assert "    ttl: {mode: absolute, seconds: 600, jitter_seconds: 90}\n" in text
    assert "    ttl: {mode: none}\n" in text
    assert "    ops_per_sec: {reads: 0.5, writes: 0}\n" in text
    assert "    contains: [pii]\n" in text and "    multi_key_with: [cart-totals]\n" in text
    assert "    expires: 2027-06-30\n" in text
    assert "  disable: [KEY002]\n  severity:\n    TTL002: high\n  thresholds:\n    VAL001.max_bytes: 65536\n" in text


def test_it_keeps_empty_policy_and_waivers():
    data = _base()
    del data["policy"], data["waivers"]
    text = dump_design(load_design(_yaml(data)))
    assert text.endswith("\npolicy:\n  disable: []\n  severity: {}\n  thresholds: {}\n\nwaivers: []\n")


@pytest.mark.parametrize("path", [DEMO, CLEAN], ids=["demo", "clean"])
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_files_round_trip(path, fmt):
    design = load_design_file(path)
    text = dump_design(design, fmt)
    assert load_design(text) == design
    assert dump_design(load_design(text), fmt) == text


def test_the_clean_file_is_already_canonical():
    body = CLEAN.read_text()
    body = body[body.index("version: 1") :]
    assert dump_design(load_design_file(CLEAN)) == body


def test_json_dump_is_plain_json():
    data = json.loads(dump_design(load_design(_yaml(_base())), "json"))
    assert data["waivers"][0]["expires"] == "2027-06-30"
    assert data["instances"][1]["tier"] is None
    assert data["namespaces"][3]["ttl"] == {"mode": "none"}


def test_it_refuses_an_unknown_dump_format():
    with pytest.raises(ValueError, match="unknown format"):
        dump_design(load_design(_yaml(_base())), "toml")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Round trip of random valid designs

_slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}", fullmatch=True)
# Any text but NUL, which design files refuse (it cuts strings short in C libraries).
_chars = st.characters(blacklist_characters="\x00")
_text = st.text(_chars, max_size=40)
_non_blank = st.text(_chars, min_size=1, max_size=30).filter(str.strip)
_rule_ids = st.sampled_from(sorted(r.id for r in ALL_RULES))
_PATTERNS = [
    "prod:catalog:product:v3:<id:int>",
    "staging:identity:session:v1:<sid:hash>",
    "cart:{<customer:int>}:items",
    "cart:{all}:items",
    "dev:x:*:y",
    "prod:search:v2:<q:any>",
    "prod:orders:<order:uuid>:lines:<line:hex>",
    "plain",
    "ünïcode:<id>",
]


def _threshold_value(name: str):
    if name.endswith("reserved_share"):
        return st.floats(0, MAX_RESERVED_SHARE)
    if name.endswith(("_ratio", "_share")):
        return st.floats(0, 1)
    return st.floats(0, MAX_THRESHOLD) | st.integers(0, MAX_THRESHOLD)


@st.composite
def designs(draw) -> Design:
    teams = draw(st.lists(_slugs, min_size=1, max_size=3, unique=True))
    instance_names = draw(st.lists(_slugs, min_size=1, max_size=3, unique=True))
    instances = []
    for name in instance_names:
        product = draw(st.sampled_from(list(TIERS_BY_PRODUCT)))
        tiers = TIERS_BY_PRODUCT[product]
        connection = draw(
            st.none()
            | st.fixed_dictionaries(
                {
                    "url": st.sampled_from(["redis://127.0.0.1:6390/0", "rediss://h.example.net:10000", "redis://u@h"]),
                    "credential": st.sampled_from(["none", "entra-id", "env:A_B"]),
                }
            )
        )
        instances.append(
            {
                "name": name,
                "environment": draw(st.sampled_from(["prod", "staging", "dev", "test"])),
                "product": product,
                "tier": draw(st.sampled_from(tiers)) if tiers else None,
                "memory_gb": draw(st.floats(min_value=0.001, max_value=1e6) | st.integers(1, 4096)),
                "shards": draw(st.integers(1, 64)),
                "clustering": "none" if product != "azure-managed-redis" else draw(st.sampled_from(["oss", "enterprise", "none"])),
                "high_availability": draw(st.booleans()),
                "persistence": draw(st.sampled_from(["none", "rdb", "aof"])),
                "geo_replication": draw(st.booleans()),
                "eviction_policy": draw(st.sampled_from(["noeviction", "allkeys-lru", "volatile-ttl"])),
                "auth": draw(st.sampled_from(["entra-id", "access-key", "none"])),
                "tls": draw(st.booleans()),
                "public_network_access": draw(st.booleans()),
                "region": draw(st.none() | _non_blank),
                "connection": connection,
            }
        )
    ns_names = draw(st.lists(_slugs, min_size=0, max_size=5, unique=True))
    placed = {name: draw(st.sampled_from(instance_names)) for name in ns_names}
    namespaces = []
    for name in ns_names:
        mode = draw(st.sampled_from(["absolute", "sliding", "none"]))
        ttl = {"mode": mode} if mode == "none" else {
            "mode": mode,
            "seconds": draw(st.integers(1, 10**9)),
            "jitter_seconds": draw(st.integers(0, 10**6)),
        }
        typical = draw(st.integers(0, 10**7))
        partners = [n for n in ns_names if n != name and placed[n] == placed[name]]
        namespaces.append(
            {
                "name": name,
                "team": draw(st.sampled_from(teams)),
                "instance": placed[name],
                "pattern": draw(st.sampled_from(_PATTERNS)),
                "classification": draw(st.sampled_from(["disposable", "session", "coordination", "durable"])),
                "data_type": draw(st.sampled_from(["string", "hash", "zset", "stream", "json", "other"])),
                "ttl": ttl,
                "value_bytes": {"typical": typical, "max": typical + draw(st.integers(0, 10**6))},
                "cardinality": draw(st.integers(0, 10**10)),
                "ops_per_sec": {
                    "reads": draw(st.floats(0, 1e7) | st.integers(0, 10**6)),
                    "writes": draw(st.floats(0, 1e7)),
                },
                "data_classification": draw(st.sampled_from(["public", "internal", "confidential", "restricted"])),
                "contains": draw(st.lists(st.sampled_from(["pii", "credentials", "tokens", "payment"]), unique=True)),
                "negative_cache": draw(st.booleans()),
                "source_of_truth": draw(st.none() | _non_blank),
                "multi_key_with": draw(st.lists(st.sampled_from(partners), unique=True)) if partners else [],
                "description": draw(_text | st.sampled_from(["two\nlines", "ends with newline\n", "  leading", "a: b # c"])),
            }
        )
    targets = [f"namespace:{n}" for n in ns_names] + [f"instance:{n}" for n in instance_names]
    waivers = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "rule": _rule_ids,
                    "target": st.sampled_from(targets),
                    "reason": _non_blank,
                    "expires": st.dates(),
                    "approved_by": _non_blank,
                }
            ),
            max_size=3,
            unique_by=lambda w: (w["rule"], w["target"]),
        )
    )
    policy = {
        "disable": draw(st.lists(_rule_ids, max_size=3)),
        "severity": draw(st.dictionaries(_rule_ids, st.sampled_from([s.value for s in Severity]), max_size=3)),
        "thresholds": {
            name: draw(_threshold_value(name))
            for name in draw(
                st.lists(
                    st.sampled_from(sorted({t for r in ALL_RULES for t in r.thresholds})), max_size=3, unique=True
                )
            )
        },
    }
    data = {
        "version": 1,
        "teams": [{"name": t, "contact": draw(st.none() | _non_blank)} for t in teams],
        "instances": instances,
        "namespaces": namespaces,
        "policy": policy,
        "waivers": waivers,
    }
    return Design.model_validate(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=designs(), fmt=st.sampled_from(["yaml", "json"]))
def test_random_designs_round_trip(design, fmt):
    text = dump_design(design, fmt)
    loaded = load_design(text, filename=f"design.{fmt}")
    assert loaded == design
    assert dump_design(loaded, fmt) == text


def test_a_size_without_a_published_memory_figure_needs_memory_gb():
    # Azure Cache for Redis Enterprise sizes grow with their capacity setting: E10 alone says no size.
    data = _base()
    data["instances"][0].update(product="azure-cache-for-redis", tier="enterprise", sku="E10", auth="access-key")
    del data["instances"][0]["memory_gb"]
    assert _pairs(_issues(_yaml(data))) == [
        ("instances[0].memory_gb", "required: Microsoft publishes no memory figure for E10, so give it here")
    ]
    data["instances"][0]["memory_gb"] = 12
    assert load_design(_yaml(data)).instances[0].memory_gb == 12
