"""Every way a number enters the registry refuses what no real cache can be, at its location.

The API, the registry's forms, the lint API, the upload page and `import_designs` all take the
design model's limits (advisor.core.design, "Limits"). Issue 11, item 1: `PATCH /api/instances/X
{"memory_gb": 1e308}` was stored, and from then on every page that reads the findings answered 500.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from advisor.audit.models import AuditEvent
from advisor.core import design as core
from advisor.findings.models import DesignFinding
from advisor.registry.models import Instance, Namespace, Team
from advisor.registry.services import design_export

pytestmark = pytest.mark.django_db

INSTANCE = "prod-catalog-cache"
NAMESPACE = "product-cache"
PAGES = [
    "/",
    "/findings/",
    "/compliance/",
    "/reviews/",
    "/teams/catalog/review/",
    f"/instances/{INSTANCE}/",
    f"/namespaces/{NAMESPACE}/",
    "/api/findings",
    f"/api/instances/{INSTANCE}",
]


@pytest.fixture
def api(client, admin_user, demo_registry):
    client.force_login(admin_user)
    client.get("/api/findings")  # the stored findings, as after any earlier visit
    return client


def _send(client, method: str, url: str, body, *, raw: bool = False):
    data = body if raw else json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json")


def _locs(response) -> list[tuple]:
    assert response.status_code == 422, response.content
    return [tuple(e["loc"]) for e in response.json()["detail"]]


def _state() -> tuple:
    """What a refused write must leave as it was."""
    return (
        design_export(),
        AuditEvent.objects.count(),
        sorted(DesignFinding.objects.values_list("rule", "target", "message")),
    )


def _pages_answer(client) -> None:
    for url in PAGES:
        assert client.get(url).status_code == 200, url


# Item 1, the API ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "1e400", "-1e400", "NaN", "Infinity", "2097153", "0.0001"])
def test_an_impossible_memory_is_a_located_422_and_nothing_changes(api, value):
    before = _state()
    response = _send(api, "patch", f"/api/instances/{INSTANCE}", f'{{"memory_gb": {value}}}', raw=True)
    assert _locs(response) == [("body", "payload", "memory_gb")]
    assert _state() == before
    _pages_answer(api)
    # The next write goes through as if nothing had happened.
    response = _send(api, "patch", f"/api/instances/{INSTANCE}", {"region": "northeurope"})
    assert response.status_code == 200, response.content
    assert Instance.objects.get(name=INSTANCE).region == "northeurope"


def test_an_impossible_memory_is_refused_by_put_and_post_too(api):
    entry = api.get(f"/api/instances/{INSTANCE}").json()
    before = _state()
    response = _send(api, "put", f"/api/instances/{INSTANCE}", {**entry, "memory_gb": 1e308})
    assert _locs(response) == [("body", "payload", "memory_gb")]
    response = _send(
        api, "post", "/api/instances", {**entry, "name": "huge-cache", "sku": None, "memory_gb": 1e308}
    )
    assert _locs(response) == [("body", "payload", "memory_gb")]
    assert _state() == before
    assert not Instance.objects.filter(name="huge-cache").exists()


@pytest.mark.parametrize(
    "patch, loc",
    [
        ({"shards": core.MAX_SHARDS + 1}, ("shards",)),
        ({"memory_gb": core.MAX_MEMORY_GB * 2}, ("memory_gb",)),
    ],
)
def test_instance_fields_past_their_bounds_are_located(api, patch, loc):
    before = _state()
    assert _locs(_send(api, "patch", f"/api/instances/{INSTANCE}", patch)) == [("body", "payload", *loc)]
    assert _state() == before


@pytest.mark.parametrize(
    "patch, loc",
    [
        ({"cardinality": core.MAX_KEYS + 1}, ("cardinality",)),
        ({"value_bytes": {"max": core.MAX_VALUE_BYTES + 1}}, ("value_bytes", "max")),
        ({"ops_per_sec": {"reads": core.MAX_OPS_PER_SEC * 2}}, ("ops_per_sec", "reads")),
        ({"ops_per_sec": {"writes": 1e308}}, ("ops_per_sec", "writes")),
        ({"ttl": {"jitter_seconds": core.MAX_SECONDS + 1}}, ("ttl", "jitter_seconds")),
    ],
)
def test_namespace_fields_past_their_bounds_are_located(api, patch, loc):
    before = _state()
    assert _locs(_send(api, "patch", f"/api/namespaces/{NAMESPACE}", patch)) == [("body", "payload", *loc)]
    assert _state() == before


@pytest.mark.parametrize(
    "field, loc",
    [
        ("shards", ("shards",)),
        ("memory_gb", ("memory_gb",)),
    ],
)
def test_an_integer_of_absurd_length_in_a_body_is_located(api, field, loc):
    huge = "9" * 5000
    before = _state()
    response = _send(api, "patch", f"/api/instances/{INSTANCE}", f'{{"{field}": {huge}}}', raw=True)
    assert _locs(response) == [("body", "payload", *loc)]
    assert huge not in response.content.decode()
    response = _send(api, "patch", f"/api/namespaces/{NAMESPACE}", f'{{"cardinality": {huge}}}', raw=True)
    assert _locs(response) == [("body", "payload", "cardinality")]
    assert _state() == before


def test_the_bounds_are_in_the_openapi_document(api):
    schemas = api.get("/api/openapi.json").json()["components"]["schemas"]
    instance = schemas["Instance"]["properties"]
    memory = next(s for s in instance["memory_gb"]["anyOf"] if s.get("type") == "number")
    assert memory["maximum"] == core.MAX_MEMORY_GB
    assert instance["shards"]["maximum"] == core.MAX_SHARDS
    assert schemas["Namespace"]["properties"]["cardinality"]["maximum"] == core.MAX_KEYS


# The forms ------------------------------------------------------------------------------------


def _instance_post(instance: Instance, **overrides) -> dict:
    from advisor.registry.services import instance_data

    entry = instance_data(instance)
    data = {
        **{k: v for k, v in entry.items() if k not in ("connection", "tier", "sku", "region")},
        "tier": entry["tier"] or "",
        "sku": entry["sku"] or "",
        "region": entry["region"] or "",
        "connection_url": instance.connection_url,
        "connection_credential": instance.connection_credential,
    }
    for flag in ("high_availability", "geo_replication", "tls", "public_network_access"):
        data[flag] = "on" if data[flag] else ""
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("memory_gb", "1e308", "less than or equal to 2097152"),
        ("memory_gb", "1e400", "Enter a number"),
        ("memory_gb", "0.0001", "greater than or equal to 0.001"),
        ("shards", "16385", "less than or equal to 16384"),
        ("shards", "9" * 5000, "Enter a whole number"),
    ],
)
def test_the_instance_form_refuses_impossible_numbers_at_the_field(api, field, value, says):
    instance = Instance.objects.get(name="dev-shared-cache")
    before = _state()
    response = api.post(f"/instances/{instance.name}/edit/", _instance_post(instance, **{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field] and says in errors[field][0]
    assert _state() == before


def test_the_instance_form_offers_the_bounds_to_the_browser(api):
    body = api.get("/instances/new/").content.decode()
    assert f'max="{core.MAX_MEMORY_GB}"' in body and f'max="{core.MAX_SHARDS}"' in body


def _namespace_post(ns: Namespace, **overrides) -> dict:
    data = {
        "name": ns.name,
        "team": ns.team_id,
        "instance": ns.instance_id,
        "pattern": ns.pattern,
        "classification": ns.classification,
        "data_type": ns.data_type,
        "ttl_mode": ns.ttl_mode,
        "ttl_seconds": ns.ttl_seconds or "",
        "ttl_jitter_seconds": ns.ttl_jitter_seconds,
        "value_bytes_typical": ns.value_bytes_typical,
        "value_bytes_max": ns.value_bytes_max,
        "cardinality": ns.cardinality,
        "ops_reads": ns.ops_reads,
        "ops_writes": ns.ops_writes,
        "data_classification": ns.data_classification,
        "source_of_truth": ns.source_of_truth,
        "description": ns.description,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "field, value",
    [
        ("cardinality", str(core.MAX_KEYS + 1)),
        ("cardinality", "9" * 5000),
        ("value_bytes_max", str(core.MAX_VALUE_BYTES + 1)),
        ("ops_reads", "1e308"),
        ("ops_writes", "1e400"),
        ("ttl_seconds", str(core.MAX_SECONDS + 1)),
    ],
)
def test_the_namespace_form_refuses_impossible_numbers_at_the_field(api, field, value):
    ns = Namespace.objects.get(name=NAMESPACE)
    before = _state()
    response = api.post(f"/namespaces/{ns.name}/edit/", _namespace_post(ns, **{field: value}))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert _state() == before


def test_the_namespace_form_at_the_bounds_saves(api):
    ns = Namespace.objects.get(name=NAMESPACE)
    response = api.post(
        f"/namespaces/{ns.name}/edit/",
        _namespace_post(
            ns,
            cardinality=core.MAX_KEYS,
            value_bytes_typical=core.MAX_VALUE_BYTES,
            value_bytes_max=core.MAX_VALUE_BYTES,
            ops_reads=core.MAX_OPS_PER_SEC,
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Namespace.objects.get(name=NAMESPACE).cardinality == core.MAX_KEYS
    _pages_answer(api)


# Design files: the lint API, the upload page, import_designs -----------------------------------

BOUNDS_YAML = """\
version: 1
teams: [{name: t}]
instances:
  - {name: i, environment: dev, product: redis-oss, memory_gb: 1e308, clustering: none, high_availability: false,
     persistence: none, geo_replication: false, eviction_policy: allkeys-lru, auth: none, tls: true,
     public_network_access: false}
namespaces:
  - {name: n, team: t, instance: i, pattern: "dev:t:thing:v1:<id:int>", classification: disposable,
     data_type: string, ttl: {mode: absolute, seconds: 60}, value_bytes: {typical: 10, max: 20},
     cardinality: 100000000000000000000, ops_per_sec: {reads: 1, writes: 1}, data_classification: internal}
"""
BOUNDS_LOCS = ["instances[0].memory_gb", "namespaces[0].cardinality"]


def test_the_lint_api_locates_values_past_the_bounds(api):
    response = api.post("/api/lint", BOUNDS_YAML, content_type="application/yaml")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == BOUNDS_LOCS


def test_the_upload_page_locates_values_past_the_bounds_and_changes_nothing(api):
    before = _state()
    response = api.post("/designs/", {"file": SimpleUploadedFile("big.yaml", BOUNDS_YAML.encode())})
    body = response.content.decode()
    assert response.status_code == 200 and "Nothing changed" in body
    assert all(loc in body for loc in BOUNDS_LOCS)
    assert _state() == before
    assert not Team.objects.filter(name="t").exists()


def test_import_designs_refuses_values_past_the_bounds_with_exit_2(api, tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text(BOUNDS_YAML)
    before = _state()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_designs", str(path), stdout=io.StringIO())
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "nothing imported" in err and all(loc in err for loc in BOUNDS_LOCS) and "Traceback" not in err
    assert _state() == before
