"""No input makes the registry API answer 5xx.

Garbage goes to every write endpoint as an administrator (who gets past the permission checks,
so the body reaches validation, reference checks and the database): wrong types, nulls, huge
numbers, NaN, NUL characters, arrays instead of objects, bytes that are not UTF-8, no body at
all, and valid entries with one field swapped for junk. Each example runs in a savepoint that
is rolled back, so examples do not see each other's writes.
"""

import json
from urllib.parse import quote

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.core.design import load_design
from advisor.registry.services import design_import
from tests.conftest import DEMO_DESIGN

pytestmark = pytest.mark.django_db

_FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="session")
def demo_design():
    return load_design(DEMO_DESIGN.read_bytes(), filename=str(DEMO_DESIGN))


@pytest.fixture
def demo_registry(db, demo_design):
    # conftest's fixture, with the YAML parsed once per session instead of once per test.
    design_import(demo_design)


@pytest.fixture
def api(client, admin_user, demo_registry):
    client.force_login(admin_user)
    return client


_NAMESPACE = {
    "name": "fuzz-cache",
    "team": "catalog",
    "instance": "prod-catalog-cache",
    "pattern": "prod:catalog:fuzz:v1:<id:int>",
    "classification": "disposable",
    "data_type": "string",
    "ttl": {"mode": "absolute", "seconds": 300, "jitter_seconds": 30},
    "value_bytes": {"typical": 200, "max": 1000},
    "cardinality": 1000,
    "ops_per_sec": {"reads": 100, "writes": 5},
    "data_classification": "internal",
    "contains": [],
    "negative_cache": False,
    "source_of_truth": "fuzz-db",
    "multi_key_with": ["product-cache"],
    "description": "",
}
_INSTANCE = {
    "name": "fuzz-instance",
    "environment": "dev",
    "product": "redis-oss",
    "tier": None,
    "memory_gb": 1,
    "shards": 1,
    "clustering": "none",
    "high_availability": False,
    "persistence": "none",
    "geo_replication": False,
    "eviction_policy": "allkeys-lru",
    "auth": "none",
    "tls": False,
    "public_network_access": False,
    "region": None,
    "connection": {"url": "redis://127.0.0.1:6390/0", "credential": "none"},
}
_TEAM = {"name": "fuzz-team", "contact": "fuzz@example.com"}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-1, 0, 2**31, 2**63, -(2**63) - 1, 10**40]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "\x00", "a\x00b", "ü", "<id:int>", "x" * 1000, "env:X", "rediss://:pw@h:1/0"]),
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(entry, prefix=()):
    for key, value in entry.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


def _mutated(entry):
    """A valid entry with one field (possibly nested) replaced or removed."""

    @st.composite
    def build(draw):
        result = json.loads(json.dumps(entry))
        *parents, key = draw(st.sampled_from(list(_paths(entry))))
        target = result
        for parent in parents:
            target = target[parent]
        if draw(st.booleans()):
            target[key] = draw(_json)
        else:
            del target[key]
        return result

    return build()


def _bodies(entry):
    """Raw request bodies: JSON text, or bytes that may not be JSON or even UTF-8."""
    as_json = st.one_of(_json, _mutated(entry), st.just(entry)).map(
        lambda value: json.dumps(value, allow_nan=True).encode()
    )
    junk = st.one_of(
        st.binary(max_size=64),
        st.sampled_from([b"", b"{", b"[" * 5000, b'{"name": "x"' * 2, b"\xff\xfe\xfd", b"NaN", b"1e999"]),
    )
    return st.one_of(as_json, junk)


_WRITES = [
    ("post", "/api/teams", _TEAM),
    ("put", "/api/teams/catalog", _TEAM),
    ("patch", "/api/teams/platform", _TEAM),
    ("post", "/api/instances", _INSTANCE),
    ("put", "/api/instances/dev-shared-cache", _INSTANCE),
    ("patch", "/api/instances/prod-catalog-cache", _INSTANCE),
    ("post", "/api/namespaces", _NAMESPACE),
    ("put", "/api/namespaces/product-miss", _NAMESPACE),
    ("patch", "/api/namespaces/cart-items", _NAMESPACE),
]


def _assert_no_5xx(response, what):
    assert response.status_code < 500, (what, response.status_code, response.content[:500])
    if response.status_code != 204:
        assert isinstance(response.json(), dict)


@pytest.mark.parametrize("method, url, entry", _WRITES, ids=[f"{m} {u}" for m, u, _ in _WRITES])
def test_no_body_makes_a_write_endpoint_fail(api, method, url, entry):
    @_FUZZ
    @given(body=_bodies(entry))
    def check(body):
        with transaction.atomic():
            response = getattr(api, method)(url, body, content_type="application/json")
            transaction.set_rollback(True)
        _assert_no_5xx(response, body[:200])

    check()


@_FUZZ
@given(
    name=st.text(max_size=40),
    method=st.sampled_from(["get", "delete"]),
    kind=st.sampled_from(["teams", "instances", "namespaces"]),
)
def test_no_name_in_the_url_makes_an_endpoint_fail(api, name, method, kind):
    url = f"/api/{kind}/{quote(name, safe='')}"
    with transaction.atomic():
        response = getattr(api, method)(url)
        transaction.set_rollback(True)
    # A name with "/" in it misses the API's routes and gets Django's own 404 page.
    assert response.status_code < 500, (url, response.status_code)


@_FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["limit", "offset", "team", "instance", "classification", "q", "environment", "product"]
        ),
        st.one_of(st.text(max_size=30), st.integers().map(str), st.just("\x00"), st.just(str(10**40))),
        max_size=4,
    ),
    kind=st.sampled_from(["teams", "instances", "namespaces"]),
)
def test_no_query_makes_a_list_endpoint_fail(api, params, kind):
    response = api.get(f"/api/{kind}", params)
    _assert_no_5xx(response, params)


def test_missing_bodies_and_empty_objects_are_4xx(api):
    for method, url, _ in _WRITES:
        for body in (b"", b"{}", b"null", b"[]"):
            with transaction.atomic():
                response = getattr(api, method)(url, body, content_type="application/json")
                transaction.set_rollback(True)
            expected_ok = method == "patch" and body == b"{}"
            assert (response.status_code == 200) if expected_ok else (400 <= response.status_code < 500), (
                method,
                url,
                body,
                response.content,
            )


def test_nan_and_infinity_are_422(api):
    # Python's json reads bare NaN and Infinity; the core models refuse them (allow_inf_nan=False).
    for value in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = json.dumps({**_NAMESPACE, "ops_per_sec": {"reads": 0, "writes": 0}}).encode()
        body = body.replace(b'"reads": 0', b'"reads": ' + value)
        response = api.post("/api/namespaces", body, content_type="application/json")
        assert response.status_code == 422, (value, response.content)
        assert response.json()["detail"][0]["loc"] == ["body", "payload", "ops_per_sec", "reads"]


def test_a_value_the_database_refuses_is_a_422_in_the_one_error_shape(api, monkeypatch):
    """PostgreSQL refuses a NUL byte in a text (SQLite stores it): whichever database, the answer
    is the documented 422 shape, a list of located errors, never a bare string."""
    from django.db import DataError

    from advisor.reviews import services as reviews

    def refuse(**kwargs):
        raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")

    monkeypatch.setattr(reviews, "waiver_request_create", refuse)
    response = api.post(
        "/api/waiver-requests",
        {
            "team": "catalog",
            "rule": "TTL001",
            "target": "namespace:search-results",
            "reason": "a\x00b",
            "expires": "2030-01-01",
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["msg"] == "A value does not fit what the database can store." and error["loc"] == [
        "body",
        "payload",
    ]
