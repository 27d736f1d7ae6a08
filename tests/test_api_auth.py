"""Who may call the API and what they may change: session (with CSRF) or bearer token, and the
permission matrix of advisor.registry.permissions applied to every write."""

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from advisor.accounts.models import ApiToken
from advisor.core.design import load_design
from advisor.registry.models import Namespace, Team
from advisor.registry.services import design_import
from tests.conftest import DEMO_DESIGN

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def demo_design():
    return load_design(DEMO_DESIGN.read_bytes(), filename=str(DEMO_DESIGN))


@pytest.fixture
def demo_registry(db, demo_design):
    # conftest's fixture, with the YAML parsed once per session instead of once per test.
    design_import(demo_design)


def _send(client, method, url, body=None, **headers):
    if body is None:
        return getattr(client, method)(url, headers=headers)
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", headers=headers)


def _new_namespace(team="catalog", name="price-cache"):
    return {
        "name": name,
        "team": team,
        "instance": "prod-catalog-cache",
        "pattern": f"prod:{team}:{name}:v1:<id:int>",
        "classification": "disposable",
        "data_type": "string",
        "ttl": {"mode": "absolute", "seconds": 300, "jitter_seconds": 30},
        "value_bytes": {"typical": 200, "max": 1000},
        "cardinality": 1000,
        "ops_per_sec": {"reads": 100, "writes": 5},
        "data_classification": "internal",
        "source_of_truth": "pricing-db",
    }


_NEW_INSTANCE = {
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

# Every endpoint, with a body that is valid for an administrator.
_ENDPOINTS = [
    ("get", "/api/teams", None),
    ("get", "/api/teams/catalog", None),
    ("post", "/api/teams", {"name": "search"}),
    ("put", "/api/teams/catalog", {"name": "catalog"}),
    ("patch", "/api/teams/catalog", {"contact": "c@example.com"}),
    ("delete", "/api/teams/catalog", None),
    ("get", "/api/instances", None),
    ("get", "/api/instances/prod-catalog-cache", None),
    ("post", "/api/instances", _NEW_INSTANCE),
    ("put", "/api/instances/dev-shared-cache", None),
    ("patch", "/api/instances/dev-shared-cache", {"memory_gb": 2}),
    ("delete", "/api/instances/dev-shared-cache", None),
    ("get", "/api/namespaces", None),
    ("get", "/api/namespaces/product-cache", None),
    ("post", "/api/namespaces", _new_namespace()),
    ("put", "/api/namespaces/product-cache", None),
    ("patch", "/api/namespaces/product-cache", {"cardinality": 7}),
    ("delete", "/api/namespaces/product-miss", None),
]


# Anonymous ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, url, body", _ENDPOINTS)
def test_anonymous_requests_get_a_401_json(client, demo_registry, method, url, body):
    response = _send(client, method, url, body if body is not None or method == "get" else {})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_health_needs_no_authentication(client, db):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# The permission matrix ---------------------------------------------------------------------------

_PERSONAS = ["admin_user", "member", "other_member", "viewer", "reviewer"]


def _as(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    return client


@pytest.mark.parametrize("persona", _PERSONAS)
def test_every_authenticated_user_reads_everything(client, request, demo_registry, persona):
    _as(client, request, persona)
    for method, url, _ in _ENDPOINTS:
        if method == "get":
            assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "persona, expected",
    [("admin_user", 201), ("member", 201), ("other_member", 403), ("viewer", 403), ("reviewer", 403)],
)
def test_namespaces_are_created_by_the_owning_team_and_admins(
    client, request, demo_registry, persona, expected
):
    _as(client, request, persona)
    response = _send(client, "post", "/api/namespaces", _new_namespace(team="catalog"))
    assert response.status_code == expected, response.content
    assert Namespace.objects.filter(name="price-cache").exists() == (expected == 201)
    if expected == 403:
        assert "Only members of team 'catalog'" in response.json()["detail"]


@pytest.mark.parametrize(
    "persona, expected",
    [("admin_user", 200), ("member", 200), ("other_member", 403), ("viewer", 403), ("reviewer", 403)],
)
def test_namespaces_are_changed_by_the_owning_team_and_admins(
    client, request, demo_registry, persona, expected
):
    _as(client, request, persona)
    entry = client.get("/api/namespaces/product-cache").json()
    entry["cardinality"] = 123
    assert _send(client, "put", "/api/namespaces/product-cache", entry).status_code == expected
    assert _send(client, "patch", "/api/namespaces/product-cache", {"cardinality": 9}).status_code == expected
    assert (Namespace.objects.get(name="product-cache").cardinality == 9) == (expected == 200)


@pytest.mark.parametrize(
    "persona, expected",
    [("admin_user", 204), ("member", 204), ("other_member", 403), ("viewer", 403), ("reviewer", 403)],
)
def test_namespaces_are_deleted_by_the_owning_team_and_admins(
    client, request, demo_registry, persona, expected
):
    _as(client, request, persona)
    assert client.delete("/api/namespaces/product-miss").status_code == expected
    assert Namespace.objects.filter(name="product-miss").exists() == (expected == 403)


def test_moving_a_namespace_to_another_team_needs_rights_on_both(client, demo_registry, member, other_member):
    client.force_login(member)  # catalog only
    response = _send(client, "patch", "/api/namespaces/product-cache", {"team": "identity"})
    assert response.status_code == 403
    assert "needs membership of both teams" in response.json()["detail"]

    client.force_login(other_member)  # identity only
    assert _send(client, "patch", "/api/namespaces/product-cache", {"team": "identity"}).status_code == 403

    Team.objects.get(name="identity").members.add(member)
    client.force_login(member)  # now both
    response = _send(client, "patch", "/api/namespaces/product-cache", {"team": "identity"})
    assert response.status_code == 200
    assert Namespace.objects.get(name="product-cache").team.name == "identity"


def test_a_member_cannot_create_a_namespace_for_another_team(client, demo_registry, member):
    client.force_login(member)
    response = _send(client, "post", "/api/namespaces", _new_namespace(team="identity"))
    assert response.status_code == 403


@pytest.mark.parametrize("persona", ["member", "other_member", "viewer", "reviewer"])
def test_only_admins_write_teams_and_instances(client, request, demo_registry, persona):
    _as(client, request, persona)
    for method, url, body in _ENDPOINTS:
        if method == "get" or "/namespaces" in url:
            continue
        if body is None and method == "put":
            body = client.get(url).json()
        response = _send(client, method, url, body)
        assert response.status_code == 403, (method, url)
        assert response.json()["detail"].startswith("Only administrators")
    assert Team.objects.filter(name="catalog", contact="catalog-team@contoso.example").exists()


def test_admins_write_teams_and_instances(client, demo_registry, admin_user):
    client.force_login(admin_user)
    assert _send(client, "post", "/api/teams", {"name": "search"}).status_code == 201
    assert _send(client, "post", "/api/instances", _NEW_INSTANCE).status_code == 201
    assert client.delete("/api/instances/dev-api-cache").status_code == 204
    assert client.delete("/api/teams/search").status_code == 204


# Tokens ------------------------------------------------------------------------------------------


@pytest.fixture
def member_token(member):
    return ApiToken.issue(user=member, name="ci")


def test_a_valid_token_authenticates_reads_and_writes(demo_registry, member_token):
    token, raw = member_token
    client = Client(enforce_csrf_checks=True)  # tokens need no CSRF token
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/namespaces", headers=auth).status_code == 200
    response = _send(client, "post", "/api/namespaces", _new_namespace(), **auth)
    assert response.status_code == 201
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_carries_its_users_permissions(client, demo_registry, viewer):
    _, raw = ApiToken.issue(user=viewer, name="read-only")
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/teams", headers=auth).status_code == 200
    assert _send(client, "post", "/api/namespaces", _new_namespace(), **auth).status_code == 403


def test_a_revoked_token_is_refused(client, demo_registry, member_token):
    token, raw = member_token
    token.delete()
    assert client.get("/api/teams", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_the_token_of_a_deactivated_user_is_refused(client, demo_registry, member, member_token):
    _, raw = member_token
    member.is_active = False
    member.save()
    assert client.get("/api/teams", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer rka_",
        "Bearer rka_deadbeef",
        "Bearer not-a-token",
        "Bearer rka_000000000000_secret",
        "Bearer rka_" + "a" * 500,
        "Bearer rka_ü_secret",
        "Token {raw}",
        "Basic {raw}",
        "{raw}",
        "Bearer {raw} extra",
    ],
)
def test_malformed_tokens_are_refused(client, demo_registry, member_token, header):
    _, raw = member_token
    response = client.get("/api/teams", headers={"Authorization": header.format(raw=raw)})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_wrong_secret_is_refused(client, demo_registry, member_token):
    _, raw = member_token
    tampered = raw[:-3] + ("aaa" if not raw.endswith("aaa") else "bbb")
    assert client.get("/api/teams", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_a_bad_token_is_not_rescued_by_a_session(client, demo_registry, member):
    client.force_login(member)
    response = client.get("/api/teams", headers={"Authorization": "Bearer rka_000000000000_nope"})
    assert response.status_code == 401


# CSRF for the browser session --------------------------------------------------------------------


def test_session_writes_need_the_csrf_token(demo_registry, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.get("/api/namespaces").status_code == 200  # safe methods need none

    response = _send(client, "post", "/api/namespaces", _new_namespace())
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF check Failed"}
    assert client.delete("/api/namespaces/product-miss").status_code == 403
    assert not Namespace.objects.filter(name="price-cache").exists()

    # The docs page hands the token to Swagger UI, as a page hands it to htmx.
    client.get("/api/docs")
    csrf = client.cookies["csrftoken"].value
    response = _send(client, "post", "/api/namespaces", _new_namespace(), **{"X-CSRFToken": csrf})
    assert response.status_code == 201


def test_anonymous_writes_are_401_not_a_csrf_failure(db):
    client = Client(enforce_csrf_checks=True)
    assert _send(client, "post", "/api/teams", {"name": "x"}).status_code == 401


# Docs and the OpenAPI document -------------------------------------------------------------------


def test_docs_need_a_login(client, db):
    response = client.get("/api/docs")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert client.get("/api/openapi.json").status_code == 302


def test_scripts_fetch_the_openapi_document_with_a_token(client, demo_registry, member_token):
    _, raw = member_token
    response = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert "/api/namespaces" in response.json()["paths"]


# Token expiry ------------------------------------------------------------------------------------


def _expire(token, **ago):
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(**ago))


def test_a_token_gets_the_default_lifetime(member_token, settings):
    token, _ = member_token
    lifetime = token.expires_at - token.created_at
    assert abs(lifetime - dt.timedelta(days=settings.ADVISOR_TOKEN_DEFAULT_DAYS)) < dt.timedelta(minutes=1)
    assert token.days_left == 90 and not token.is_expired


@pytest.mark.parametrize("days, ok", [(0, False), (1, True), (365, True), (366, False), (-5, False)])
def test_issue_keeps_the_lifetime_within_the_maximum(member, days, ok):
    if ok:
        token, _ = ApiToken.issue(user=member, name="t", days=days)
        assert token.days_left == days
    else:
        with pytest.raises(ValueError, match="1 to 365 days"):
            ApiToken.issue(user=member, name="t", days=days)


def test_an_expired_token_is_refused_with_its_reason(client, demo_registry, member_token):
    token, raw = member_token
    _expire(token, seconds=1)
    response = client.get("/api/teams", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert detail.startswith("API token 'ci' expired on ") and "/account/tokens/" in detail
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    token.refresh_from_db()
    assert token.last_used_at is None  # a refused token is not "used"


def test_an_expired_token_writes_nothing(demo_registry, member_token):
    token, raw = member_token
    _expire(token, days=3)
    client = Client(enforce_csrf_checks=True)
    response = _send(client, "post", "/api/namespaces", _new_namespace(), Authorization=f"Bearer {raw}")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert not Namespace.objects.filter(name="price-cache").exists()


def test_a_token_works_until_its_last_minute(client, demo_registry, member_token):
    token, raw = member_token
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=1))
    assert client.get("/api/teams", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    token.refresh_from_db()
    assert token.days_left == 1


def test_expiry_is_only_told_to_the_holder_of_the_secret(client, demo_registry, member_token):
    token, raw = member_token
    _expire(token, days=1)
    tampered = raw[:-3] + ("aaa" if not raw.endswith("aaa") else "bbb")
    response = client.get("/api/teams", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")


def test_the_expired_token_of_a_deactivated_user_says_nothing_more(
    client, demo_registry, member, member_token
):
    token, raw = member_token
    _expire(token, days=1)
    member.is_active = False
    member.save()
    response = client.get("/api/teams", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401 and response.json()["detail"].startswith("Authentication required")


def test_an_expired_token_does_not_open_the_docs(client, demo_registry, member_token):
    token, raw = member_token
    _expire(token, seconds=1)
    response = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_session_is_not_affected_by_an_expired_token_elsewhere(client, demo_registry, member, member_token):
    token, _ = member_token
    _expire(token, days=1)
    client.force_login(member)
    assert client.get("/api/teams").status_code == 200


# The token page ----------------------------------------------------------------------------------


def test_the_token_page_creates_a_token_with_the_chosen_lifetime(client, member):
    client.force_login(member)
    page = client.get("/account/tokens/").content.decode()
    assert 'name="days"' in page and 'value="90"' in page and 'max="365"' in page
    assert "1 to 365 days; 90 if left empty." in page

    response = client.post("/account/tokens/", {"name": "ci", "days": "30"})
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ci")
    assert token.days_left == 30
    page = response.content.decode()
    assert f"It expires on {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}" in page
    assert "30 days left" in page


def test_the_token_page_uses_the_default_when_no_lifetime_is_given(client, member):
    client.force_login(member)
    client.post("/account/tokens/", {"name": "ci", "days": ""})
    assert ApiToken.objects.get(name="ci").days_left == 90
    client.post("/account/tokens/", {"name": "ci2"})
    assert ApiToken.objects.get(name="ci2").days_left == 90


@pytest.mark.parametrize(
    "days, message",
    [
        ("366", "Ensure this value is less than or equal to 365."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-1", "Ensure this value is greater than or equal to 1."),
        ("ten", "Enter a whole number."),
        ("1e9", "Enter a whole number."),
        ("9" * 5000, "Enter a whole number."),  # past int()'s digit limit: refused, not a crash
    ],
)
def test_the_token_page_refuses_a_lifetime_out_of_bounds(client, member, days, message):
    client.force_login(member)
    response = client.post("/account/tokens/", {"name": "ci", "days": days})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_bounds_follow_the_settings(client, member, settings):
    settings.ADVISOR_TOKEN_MAX_DAYS = 30
    settings.ADVISOR_TOKEN_DEFAULT_DAYS = 7
    client.force_login(member)
    assert "1 to 30 days; 7 if left empty." in client.get("/account/tokens/").content.decode()
    response = client.post("/account/tokens/", {"name": "ci", "days": "31"})
    assert "less than or equal to 30" in response.content.decode()
    client.post("/account/tokens/", {"name": "ci"})
    assert ApiToken.objects.get(name="ci").days_left == 7


def test_the_token_page_shows_days_left_and_expired_tokens(client, member):
    fresh, _ = ApiToken.issue(user=member, name="fresh", days=200)
    soon, _ = ApiToken.issue(user=member, name="soon", days=3)
    old, _ = ApiToken.issue(user=member, name="old")
    _expire(old, days=2)
    client.force_login(member)
    page = client.get("/account/tokens/").content.decode()
    assert "200 days left" in page
    assert '<span class="badge text-bg-warning">3 days left</span>' in page
    assert '<span class="badge text-bg-danger">expired</span>' in page
    assert page.count("days left") == 2


@pytest.mark.django_db(transaction=True)
def test_tokens_from_before_expiry_get_the_default_lifetime_from_the_upgrade(django_user_model, settings):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("accounts", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    OldToken = executor.loader.project_state(before).apps.get_model("accounts", "ApiToken")
    user = django_user_model.objects.create_user("old-timer")
    OldToken.objects.create(user_id=user.pk, name="legacy", lookup="abcdef012345", digest="0" * 64)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    token = ApiToken.objects.get(name="legacy")
    expected = timezone.now() + dt.timedelta(days=settings.ADVISOR_TOKEN_DEFAULT_DAYS)
    assert abs(token.expires_at - expected) < dt.timedelta(minutes=5)


def test_administrators_see_and_revoke_tokens_in_the_admin_but_do_not_issue_them(client, admin_user, member):
    token, _ = ApiToken.issue(user=member, name="ci", days=10)
    client.force_login(admin_user)
    listing = client.get("/admin/accounts/apitoken/").content.decode()
    assert "ci" in listing and token.lookup in listing
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
    response = client.post(f"/admin/accounts/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ApiToken.objects.exists()
