"""The registry API: /api/teams, /api/instances, /api/namespaces (CRUD, filters, pagination, errors).

Error shapes asserted here:
- invalid input: 422 {"detail": [{"loc": ["body", "payload", <field>, ...], "msg": ..., "type": ...}]};
  query parameters are located as ["query", <param>];
- unparsable body: 400 {"detail": "Cannot parse request body"};
- unknown name in the URL: 404, taken name or dependent rows: 409, both {"detail": "..."}.
"""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from jsonschema import Draft202012Validator

from advisor.core import design as core
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import design_import, namespace_data, registry_design
from tests.conftest import DEMO_DESIGN

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def demo_design():
    return core.load_design(DEMO_DESIGN.read_bytes(), filename=str(DEMO_DESIGN))


@pytest.fixture
def demo_registry(db, demo_design):
    # conftest's fixture, with the YAML parsed once per session instead of once per test.
    design_import(demo_design)


@pytest.fixture
def api(client, admin_user, demo_registry):
    client.force_login(admin_user)
    return client


def _send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _locs(response):
    assert response.status_code == 422, response.content
    return [tuple(e["loc"]) for e in response.json()["detail"]]


def _namespace(**overrides):
    entry = {
        "name": "price-cache",
        "team": "catalog",
        "instance": "prod-catalog-cache",
        "pattern": "prod:catalog:price:v1:<sku:int>",
        "classification": "disposable",
        "data_type": "string",
        "ttl": {"mode": "absolute", "seconds": 300, "jitter_seconds": 30},
        "value_bytes": {"typical": 200, "max": 1000},
        "cardinality": 1000,
        "ops_per_sec": {"reads": 100, "writes": 5},
        "data_classification": "internal",
        "source_of_truth": "pricing-db",
    }
    entry.update(overrides)
    return entry


def _instance(**overrides):
    entry = {
        "name": "dev-api-cache",
        "environment": "dev",
        "product": "redis-oss",
        "memory_gb": 1,
        "clustering": "none",
        "high_availability": False,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "allkeys-lru",
        "auth": "none",
        "tls": False,
        "public_network_access": False,
    }
    entry.update(overrides)
    return entry


def _names(response):
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["items"]]


# The contract: resources are design-file entries -----------------------------------------------


def test_it_returns_namespaces_exactly_as_the_design_file_has_them(api, demo_design):
    for expected in demo_design.namespaces:
        got = api.get(f"/api/namespaces/{expected.name}").json()
        assert set(got) == set(core.Namespace.model_fields)
        assert core.Namespace.model_validate(got) == expected


def test_it_returns_instances_and_teams_as_the_design_file_has_them(api, demo_design):
    for expected in demo_design.instances:
        got = api.get(f"/api/instances/{expected.name}").json()
        assert core.Instance.model_validate(got) == expected
    got = api.get("/api/teams/catalog").json()
    assert got == {"name": "catalog", "contact": "catalog-team@contoso.example"}


def test_what_get_returns_can_be_put_back_unchanged(api):
    for url in ["/api/namespaces/cart-items", "/api/instances/prod-legacy-cache", "/api/teams/identity"]:
        entry = api.get(url).json()
        response = _send(api, "put", url, entry)
        assert response.status_code == 200, response.content
        assert response.json() == entry


# Teams ------------------------------------------------------------------------------------------


def test_it_lists_teams_by_name_with_pagination(api):
    response = api.get("/api/teams")
    assert response.json()["count"] == 4
    assert _names(response) == ["catalog", "checkout", "identity", "platform"]
    assert _names(api.get("/api/teams", {"limit": 2, "offset": 1})) == ["checkout", "identity"]
    assert _names(api.get("/api/teams", {"offset": 10})) == []


def test_it_creates_updates_patches_and_deletes_a_team(api):
    response = _send(api, "post", "/api/teams", {"name": "search", "contact": "search@example.com"})
    assert response.status_code == 201
    assert response.json() == {"name": "search", "contact": "search@example.com"}

    response = _send(api, "put", "/api/teams/search", {"name": "search"})
    assert response.json() == {"name": "search", "contact": None}

    response = _send(api, "patch", "/api/teams/search", {"name": "discovery", "contact": "d@example.com"})
    assert response.json() == {"name": "discovery", "contact": "d@example.com"}
    assert api.get("/api/teams/search").status_code == 404

    assert api.delete("/api/teams/discovery").status_code == 204
    assert not Team.objects.filter(name="discovery").exists()


def test_it_refuses_to_delete_a_team_that_owns_namespaces(api):
    response = api.delete("/api/teams/identity")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "team 'identity' still owns 4 namespaces" in detail
    assert "legacy-session" in detail and "move or delete them first" in detail
    assert Team.objects.filter(name="identity").exists()


def test_it_refuses_a_team_name_that_is_taken(api):
    response = _send(api, "post", "/api/teams", {"name": "catalog"})
    assert response.status_code == 409
    assert response.json() == {"detail": "a team named 'catalog' already exists"}
    assert _send(api, "patch", "/api/teams/identity", {"name": "catalog"}).status_code == 409


def test_it_validates_teams_with_the_core_model(api):
    assert _locs(_send(api, "post", "/api/teams", {"name": "Not A Slug"})) == [("body", "payload", "name")]
    assert _locs(_send(api, "post", "/api/teams", {"name": "ok", "colour": "red"})) == [
        ("body", "payload", "colour")
    ]
    # The registry keeps contacts as e-mail addresses, as the team form does.
    assert _locs(_send(api, "post", "/api/teams", {"name": "ok", "contact": "call bob"})) == [
        ("body", "payload", "contact")
    ]


# Instances --------------------------------------------------------------------------------------


def test_it_filters_instances_by_environment_and_product(api):
    prod = _names(api.get("/api/instances", {"environment": "prod"}))
    assert prod == sorted(Instance.objects.filter(environment="prod").values_list("name", flat=True))
    assert "dev-shared-cache" not in prod
    acr = _names(api.get("/api/instances", {"product": "azure-cache-for-redis"}))
    assert acr == sorted(
        Instance.objects.filter(product="azure-cache-for-redis").values_list("name", flat=True)
    )
    assert "prod-legacy-cache" in acr and "prod-catalog-cache" not in acr
    assert _names(api.get("/api/instances", {"environment": "dev", "product": "azure-cache-for-redis"})) == []
    assert _locs(api.get("/api/instances", {"environment": "production"})) == [("query", "environment")]


def test_it_creates_updates_patches_and_deletes_an_instance(api):
    response = _send(api, "post", "/api/instances", _instance())
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["tier"] is None and created["shards"] == 1 and created["connection"] is None

    connection = {"url": "redis://127.0.0.1:6390/1", "credential": "env:DEV_REDIS_PASSWORD"}
    response = _send(
        api, "put", "/api/instances/dev-api-cache", _instance(memory_gb=2.5, connection=connection)
    )
    assert response.json()["memory_gb"] == 2.5 and response.json()["connection"] == connection

    response = _send(api, "patch", "/api/instances/dev-api-cache", {"connection": None, "shards": 2})
    assert response.json()["connection"] is None and response.json()["shards"] == 2
    assert Instance.objects.get(name="dev-api-cache").connection_url == ""

    assert api.delete("/api/instances/dev-api-cache").status_code == 204
    assert api.get("/api/instances/dev-api-cache").status_code == 404


def test_it_refuses_a_password_in_the_connection_url_without_echoing_it(api):
    connection = {"url": "rediss://:hunter2@cache.example.com:6380/0", "credential": "none"}
    response = _send(api, "post", "/api/instances", _instance(connection=connection))
    assert _locs(response) == [("body", "payload", "connection", "url")]
    assert "secrets only by reference" in response.json()["detail"][0]["msg"]
    assert "hunter2" not in response.content.decode()
    response = _send(
        api, "patch", "/api/instances/prod-catalog-cache", {"connection": {"url": connection["url"]}}
    )
    assert _locs(response) == [("body", "payload", "connection", "url")]
    assert "hunter2" not in response.content.decode()
    assert "hunter2" not in Instance.objects.get(name="prod-catalog-cache").connection_url


def test_it_checks_the_tier_against_the_product(api):
    response = _send(api, "post", "/api/instances", _instance(product="azure-managed-redis"))
    assert _locs(response) == [("body", "payload", "tier")]
    assert "required for azure-managed-redis" in response.json()["detail"][0]["msg"]


def test_it_refuses_to_delete_an_instance_with_namespaces_or_waivers(api):
    response = api.delete("/api/instances/prod-checkout-state")
    assert response.status_code == 409
    hosted = Namespace.objects.filter(instance__name="prod-checkout-state").count()
    assert f"instance 'prod-checkout-state' still hosts {hosted} namespaces" in response.json()["detail"]

    _send(api, "post", "/api/instances", _instance())
    Waiver.objects.create(
        rule="INS004", target="instance:dev-api-cache", reason="lab box", expires="2030-01-01"
    )
    response = api.delete("/api/instances/dev-api-cache")
    assert response.status_code == 409
    assert "waivers (INS004)" in response.json()["detail"]


def test_renaming_an_instance_keeps_its_waivers_and_namespaces(api):
    response = _send(api, "patch", "/api/instances/dev-shared-cache", {"name": "dev-sandbox"})
    assert response.status_code == 200
    assert Waiver.objects.filter(target="instance:dev-sandbox", rule="INS004").exists()
    assert _names(api.get("/api/namespaces", {"instance": "dev-sandbox"})) == [
        "dev-product-cache",
        "dev-session",
    ]
    registry_design()  # still a valid design: every reference resolves


def _amr(**overrides):
    return _instance(
        **{
            "environment": "prod",
            "product": "azure-managed-redis",
            "tier": "balanced",
            "sku": "B10",
            "memory_gb": None,
            "clustering": "oss",
            "high_availability": True,
            "auth": "entra-id",
            "tls": True,
            **overrides,
        }
    )


def _without_nulls(entry):
    return {k: v for k, v in entry.items() if v is not None}


def test_an_instance_with_a_sku_round_trips_and_takes_its_memory(api):
    response = _send(api, "post", "/api/instances", _without_nulls(_amr(sku="b10")))
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["sku"], created["memory_gb"]) == ("B10", 12)
    assert api.get("/api/instances/dev-api-cache").json() == created
    assert _send(api, "put", "/api/instances/dev-api-cache", created).json() == created
    assert Instance.objects.get(name="dev-api-cache").sku == "B10"
    # Without a sku the entry still says so, as null.
    plain = _send(api, "post", "/api/instances", _instance(name="dev-plain-cache")).json()
    assert plain["sku"] is None and plain["memory_gb"] == 1


def test_patching_the_sku_brings_its_memory_unless_the_memory_is_given(api):
    _send(api, "post", "/api/instances", _without_nulls(_amr()))
    patched = _send(api, "patch", "/api/instances/dev-api-cache", {"sku": "B20"}).json()
    assert (patched["sku"], patched["memory_gb"]) == ("B20", 24)
    # A sku that is no size of the tier gives no memory: the memory stays (and INS009 reports it).
    patched = _send(api, "patch", "/api/instances/dev-api-cache", {"sku": "M20"}).json()
    assert (patched["sku"], patched["memory_gb"]) == ("M20", 24)
    patched = _send(api, "patch", "/api/instances/dev-api-cache", {"sku": "B20"}).json()
    assert (patched["sku"], patched["memory_gb"]) == ("B20", 24)
    patched = _send(api, "patch", "/api/instances/dev-api-cache", {"sku": "B50", "memory_gb": 50}).json()
    assert (patched["sku"], patched["memory_gb"]) == ("B50", 50)
    # The memory no longer follows the sku once it disagrees; dropping the sku keeps the memory.
    patched = _send(api, "patch", "/api/instances/dev-api-cache", {"sku": "B100"}).json()
    assert (patched["sku"], patched["memory_gb"]) == ("B100", 50)
    patched = _send(api, "patch", "/api/instances/dev-api-cache", {"sku": None}).json()
    assert (patched["sku"], patched["memory_gb"]) == (None, 50)


def test_a_sku_that_gives_no_memory_needs_memory_gb(api):
    response = _send(api, "post", "/api/instances", _without_nulls(_amr(tier="memory-optimized")))
    assert _locs(response) == [("body", "payload", "memory_gb")]
    assert (
        "sku 'B10' is not a size of azure-managed-redis memory-optimized"
        in response.json()["detail"][0]["msg"]
    )
    enterprise = _amr(product="azure-cache-for-redis", tier="enterprise", sku="E10", clustering="enterprise")
    response = _send(api, "post", "/api/instances", _without_nulls(enterprise))
    assert _locs(response) == [("body", "payload", "memory_gb")]
    assert "Microsoft publishes no memory figure for E10" in response.json()["detail"][0]["msg"]
    response = _send(api, "post", "/api/instances", {**_without_nulls(enterprise), "memory_gb": 12})
    assert response.status_code == 201 and response.json()["sku"] == "E10"
    assert not Instance.objects.filter(name="dev-api-cache", memory_gb__isnull=True).exists()


def test_an_impossible_configuration_is_stored_for_ins009_to_report(api):
    standard = _amr(
        product="azure-cache-for-redis", tier="standard", sku="C1", clustering="none", persistence="rdb"
    )
    response = _send(api, "post", "/api/instances", _without_nulls(standard))
    assert response.status_code == 201, response.content
    assert (response.json()["persistence"], response.json()["memory_gb"]) == ("rdb", 1)
    other_tier = _amr(name="dev-other-tier", sku="M10", memory_gb=12)
    response = _send(api, "post", "/api/instances", other_tier)
    assert response.status_code == 201 and response.json()["sku"] == "M10"


def test_a_per_field_ttl_round_trips_for_hashes_only(api):
    entry = _namespace(data_type="hash", ttl={"mode": "per-field", "seconds": 3600, "jitter_seconds": 0})
    response = _send(api, "post", "/api/namespaces", entry)
    assert response.status_code == 201, response.content
    assert response.json()["ttl"] == {"mode": "per-field", "seconds": 3600, "jitter_seconds": 0}
    assert Namespace.objects.get(name="price-cache").ttl_mode == "per-field"
    response = _send(api, "patch", "/api/namespaces/price-cache", {"data_type": "string"})
    assert _locs(response) == [("body", "payload", "ttl")]
    assert "needs data_type: hash" in response.json()["detail"][0]["msg"]


# Namespaces -------------------------------------------------------------------------------------


def test_it_filters_and_searches_namespaces(api):
    catalog = _names(api.get("/api/namespaces", {"team": "catalog", "limit": 100}))
    assert catalog == sorted(Namespace.objects.filter(team__name="catalog").values_list("name", flat=True))
    sessions = _names(api.get("/api/namespaces", {"classification": "session"}))
    assert sessions == sorted(
        Namespace.objects.filter(classification="session").values_list("name", flat=True)
    )
    both = _names(api.get("/api/namespaces", {"team": "identity", "instance": "dev-shared-cache"}))
    assert both == ["dev-session"]
    assert _names(api.get("/api/namespaces", {"q": "CART:"})) == ["cart-items", "cart-totals"]
    assert _names(api.get("/api/namespaces", {"team": "nobody"})) == []
    assert _locs(api.get("/api/namespaces", {"classification": "precious"})) == [("query", "classification")]


def test_it_paginates_namespaces_with_limit_and_offset(api):
    total = Namespace.objects.count()
    everything = _names(api.get("/api/namespaces", {"limit": 500}))
    assert len(everything) == total == api.get("/api/namespaces").json()["count"]
    pages = [_names(api.get("/api/namespaces", {"limit": 5, "offset": o})) for o in range(0, total, 5)]
    assert [n for page in pages for n in page] == everything
    assert api.get("/api/namespaces", {"limit": 5}).json()["count"] == total
    assert _locs(api.get("/api/namespaces", {"limit": 0})) == [("query", "limit")]
    assert _locs(api.get("/api/namespaces", {"limit": 501})) == [("query", "limit")]
    assert _locs(api.get("/api/namespaces", {"offset": -1})) == [("query", "offset")]
    assert _locs(api.get("/api/namespaces", {"offset": 10**30})) == [("query", "offset")]


def test_it_gets_a_namespace_or_404(api):
    response = api.get("/api/namespaces/cart-items")
    assert response.json() == namespace_data(Namespace.objects.get(name="cart-items"))
    response = api.get("/api/namespaces/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "no namespace named 'nope'"}
    assert api.get("/api/namespaces/NOT%20A%20NAME%00").status_code == 404


def test_it_creates_a_namespace_with_defaults_for_omitted_fields(api):
    response = _send(api, "post", "/api/namespaces", _namespace(multi_key_with=["product-cache"]))
    assert response.status_code == 201, response.content
    entry = response.json()
    assert entry["contains"] == [] and entry["negative_cache"] is False and entry["description"] == ""
    assert entry["multi_key_with"] == ["product-cache"]
    assert api.get("/api/namespaces/price-cache").json() == entry
    ns = Namespace.objects.get(name="price-cache")
    assert (ns.team.name, ns.ttl_seconds, ns.ops_reads) == ("catalog", 300, 100)


def test_put_replaces_the_whole_namespace(api):
    entry = _namespace(name="product-cache", description="")
    response = _send(api, "put", "/api/namespaces/product-cache", entry)
    assert response.status_code == 200
    assert response.json()["pattern"] == entry["pattern"]
    assert response.json()["description"] == ""
    response = _send(api, "put", "/api/namespaces/product-cache", {"name": "product-cache"})
    assert ("body", "payload", "pattern") in _locs(response)


def test_patch_merges_into_the_namespace(api):
    response = _send(api, "patch", "/api/namespaces/product-cache", {"ttl": {"seconds": 900}})
    assert response.json()["ttl"] == {"mode": "absolute", "seconds": 900, "jitter_seconds": 90}
    # null removes a key, so switching expiry off also drops the seconds
    response = _send(
        api,
        "patch",
        "/api/namespaces/product-cache",
        {"ttl": {"mode": "none", "seconds": None, "jitter_seconds": 0}},
    )
    assert response.json()["ttl"] == {"mode": "none", "seconds": None, "jitter_seconds": 0}
    response = _send(api, "patch", "/api/namespaces/product-cache", {"ttl": {"mode": "sliding"}})
    assert _locs(response) == [("body", "payload", "ttl", "seconds")]
    assert response.json()["detail"][0]["msg"] == "required when mode is sliding"
    assert _send(api, "patch", "/api/namespaces/product-cache", {}).status_code == 200


@pytest.mark.parametrize(
    "overrides, loc, message",
    [
        ({"pattern": "prod:catalog:<id:intt>"}, ("pattern",), "invalid pattern"),
        ({"pattern": "prod:{}:x"}, ("pattern",), "invalid pattern"),
        ({"ttl": {"mode": "absolute", "seconds": -1}}, ("ttl", "seconds"), "must be >= 1"),
        ({"ttl": {"mode": "none", "seconds": 60}}, ("ttl", "seconds"), "must be omitted"),
        ({"value_bytes": {"typical": 10, "max": 5}}, ("value_bytes", "max"), "must be >= typical"),
        ({"cardinality": -3}, ("cardinality",), "greater than or equal to 0"),
        ({"cardinality": "many"}, ("cardinality",), "valid integer"),
        ({"ops_per_sec": {"reads": "fast", "writes": 1}}, ("ops_per_sec", "reads"), "valid number"),
        ({"classification": "precious"}, ("classification",), "'disposable'"),
        ({"contains": ["pii", "pii"]}, ("contains",), "twice"),
        ({"name": "Price Cache"}, ("name",), "must be a slug"),
        ({"colour": "red"}, ("colour",), "Extra inputs are not permitted"),
        ({"ttl": [300]}, ("ttl",), "valid dictionary"),
        ({"source_of_truth": "  "}, ("source_of_truth",), "must not be blank"),
    ],
)
def test_it_locates_invalid_namespace_fields(api, overrides, loc, message):
    response = _send(api, "post", "/api/namespaces", _namespace(**overrides))
    assert _locs(response) == [("body", "payload", *loc)]
    assert message in response.json()["detail"][0]["msg"]
    assert not Namespace.objects.filter(name__in=["price-cache", "Price Cache"]).exists()


def test_it_reports_every_missing_field(api):
    response = _send(api, "post", "/api/namespaces", {"name": "price-cache"})
    missing = {loc[2] for loc in _locs(response)}
    assert missing == {
        "team",
        "instance",
        "pattern",
        "classification",
        "data_type",
        "ttl",
        "value_bytes",
        "cardinality",
        "ops_per_sec",
        "data_classification",
    }
    assert {e["type"] for e in response.json()["detail"]} == {"missing"}


@pytest.mark.parametrize(
    "overrides, loc, message",
    [
        ({"team": "catalogue"}, ("team",), "no team named 'catalogue'; did you mean 'catalog'?"),
        ({"instance": "prod-nowhere"}, ("instance",), "no instance named 'prod-nowhere'"),
        ({"multi_key_with": ["ghost"]}, ("multi_key_with", 0), "no namespace named 'ghost'"),
        ({"multi_key_with": ["price-cache"]}, ("multi_key_with", 0), "names the namespace itself"),
        (
            {"multi_key_with": ["product-cache", "product-cache"]},
            ("multi_key_with", 1),
            "lists 'product-cache' twice",
        ),
        (
            {"multi_key_with": ["cart-items"]},
            ("multi_key_with", 0),
            "'cart-items' is on instance 'prod-checkout-state', not 'prod-catalog-cache'",
        ),
    ],
)
def test_it_checks_references_by_name(api, overrides, loc, message):
    response = _send(api, "post", "/api/namespaces", _namespace(**overrides))
    assert _locs(response) == [("body", "payload", *loc)]
    assert response.json()["detail"][0]["msg"].startswith(message)
    assert response.json()["detail"][0]["type"] == "reference"


@pytest.mark.parametrize(
    "overrides, loc",
    [
        ({"cardinality": 10**20}, ("cardinality",)),
        ({"value_bytes": {"typical": 1, "max": 10**19}}, ("value_bytes", "max")),
        ({"ttl": {"mode": "absolute", "seconds": 10**19}}, ("ttl", "seconds")),
        ({"ops_per_sec": {"reads": 1e300, "writes": 0}}, ("ops_per_sec", "reads")),
        ({"pattern": "prod:catalog:" + "x" * 600}, ("pattern",)),
        ({"description": "nul \x00 byte"}, ("description",)),
    ],
)
def test_it_refuses_values_the_database_cannot_hold(api, overrides, loc):
    response = _send(api, "post", "/api/namespaces", _namespace(**overrides))
    assert _locs(response) == [("body", "payload", *loc)]
    assert not Namespace.objects.filter(name="price-cache").exists()


def test_it_refuses_a_namespace_name_that_is_taken(api):
    response = _send(api, "post", "/api/namespaces", _namespace(name="product-cache"))
    assert response.status_code == 409
    assert response.json() == {"detail": "a namespace named 'product-cache' already exists"}
    response = _send(api, "patch", "/api/namespaces/product-miss", {"name": "product-cache"})
    assert response.status_code == 409


def test_renaming_a_namespace_keeps_its_partners_and_waivers(api):
    response = _send(api, "patch", "/api/namespaces/cart-items", {"name": "cart-lines"})
    assert response.status_code == 200
    assert api.get("/api/namespaces/cart-totals").json()["multi_key_with"] == ["cart-lines"]
    _send(api, "patch", "/api/namespaces/search-results", {"name": "search-hits"})
    assert Waiver.objects.filter(rule="TTL001", target="namespace:search-hits").exists()
    registry_design()


def test_moving_a_namespace_away_from_its_partners_is_refused(api):
    response = _send(api, "patch", "/api/namespaces/cart-items", {"instance": "prod-catalog-cache"})
    assert set(_locs(response)) == {("body", "payload", "multi_key_with", 0), ("body", "payload", "instance")}
    assert Namespace.objects.get(name="cart-items").instance.name == "prod-checkout-state"


def test_it_deletes_a_namespace_unless_others_depend_on_it(api):
    assert api.delete("/api/namespaces/product-miss").status_code == 204
    assert not Namespace.objects.filter(name="product-miss").exists()

    response = api.delete("/api/namespaces/cart-totals")
    assert response.status_code == 409
    assert "in multi_key_with of 1 namespace (cart-items)" in response.json()["detail"]

    response = api.delete("/api/namespaces/search-results")
    assert response.status_code == 409
    assert "waivers (TTL001)" in response.json()["detail"]
    assert api.delete("/api/namespaces/product-miss").status_code == 404


def test_the_registry_stays_a_valid_design_after_api_writes(api):
    _send(api, "post", "/api/namespaces", _namespace(multi_key_with=["product-cache"]))
    assert _send(api, "patch", "/api/namespaces/cart-items", {"multi_key_with": None}).status_code == 200
    assert api.delete("/api/namespaces/cart-totals").status_code == 204
    design = registry_design()
    assert design.namespace("price-cache").multi_key_with == ["product-cache"]
    assert design.namespace("cart-items").multi_key_with == []


# Malformed requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"\xff\xfe\x00garbage", 400),
        (b"", 422),
        (b"null", 422),
        (b"[]", 422),
        (b'"a string"', 422),
        (b"12", 422),
    ],
)
def test_it_answers_malformed_bodies_with_4xx(api, body, status):
    for method, url in [
        ("post", "/api/namespaces"),
        ("put", "/api/teams/catalog"),
        ("patch", "/api/instances/dev-shared-cache"),
    ]:
        response = getattr(api, method)(url, body, content_type="application/json")
        assert response.status_code == status, (method, url, response.content)
        assert "detail" in response.json()


# OpenAPI and the interactive docs ---------------------------------------------------------------

_PATHS = [
    "/api/health",
    "/api/teams",
    "/api/teams/{name}",
    "/api/instances",
    "/api/instances/{name}",
    "/api/namespaces",
    "/api/namespaces/{name}",
]


def test_the_openapi_document_lists_every_path_and_method(api):
    spec = api.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert set(_PATHS) <= set(spec["paths"])
    for path in _PATHS[2::2]:
        assert set(spec["paths"][path]) == {"get", "put", "patch", "delete"}
    for path in _PATHS[1::2]:
        assert set(spec["paths"][path]) == ({"get"} if path == "/api/health" else {"get", "post"})
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_the_openapi_schemas_are_valid_and_describe_the_responses(api):
    spec = api.get("/api/openapi.json").json()
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)

    def validate(instance, component):
        schema = {"$ref": f"#/components/schemas/{component}", "components": spec["components"]}
        Draft202012Validator(schema).validate(instance)

    validate(api.get("/api/namespaces/cart-items").json(), "NamespaceOut")
    validate(api.get("/api/namespaces").json(), "PagedNamespaceOut")
    validate(api.get("/api/instances").json(), "PagedInstanceOut")
    validate(api.get("/api/teams/catalog").json(), "TeamOut")
    validate(_send(api, "post", "/api/teams", {"name": 5}).json(), "ValidationErrors")
    # the request bodies are the core's design models
    validate(api.get("/api/namespaces/cart-items").json(), "Namespace")
    validate(api.get("/api/instances/prod-legacy-cache").json(), "Instance")


def test_the_docs_render_from_local_static_files_only(api):
    response = api.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert not re.findall(r"https?://", html), "the docs page must not load anything from another host"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/static/ninja/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a shipped static file"
    # Swagger UI's validator badge would call validator.swagger.io.
    assert '"validatorUrl": null' in html
