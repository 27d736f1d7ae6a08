"""The findings API: /api/rules, /api/findings, /api/lint, and findings refreshed by API writes."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from advisor.accounts.models import ApiToken
from advisor.core.rules import ALL_RULES
from advisor.findings import clock
from advisor.findings.models import DesignFinding
from tests.conftest import CLEAN_DESIGN, DEMO_DESIGN

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


@pytest.fixture
def token(viewer):
    return ApiToken.issue(user=viewer, name="ci")[1]


@pytest.fixture
def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def command_json(path, *args) -> dict:
    out = io.StringIO()
    try:
        call_command("lint_designs", str(path), "--format", "json", *args, stdout=out)
    except SystemExit:
        pass
    return json.loads(out.getvalue())


def post_lint(client, body, content_type="application/yaml", query="", **headers):
    return client.post(f"/api/lint{query}", body, content_type=content_type, **headers)


# Authentication --------------------------------------------------------------------------------


def test_every_endpoint_needs_authentication(client, db):
    assert client.get("/api/rules").status_code == 401
    assert client.get("/api/rules/TTL001").status_code == 401
    assert client.get("/api/findings").status_code == 401
    assert post_lint(client, CLEAN_DESIGN.read_bytes()).status_code == 401


def test_a_browser_session_needs_the_csrf_token_to_lint(viewer):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(viewer)
    assert browser.get("/api/rules").status_code == 200
    assert post_lint(browser, CLEAN_DESIGN.read_bytes()).status_code == 403


# Rules -----------------------------------------------------------------------------------------


def test_the_rule_catalog(client, bearer):
    rules = client.get("/api/rules", **bearer).json()
    assert [r["id"] for r in rules] == [r.id for r in ALL_RULES]
    ttl002 = next(r for r in rules if r["id"] == "TTL002")
    assert ttl002["default_severity"] == "medium" and ttl002["group_title"] == "Expiration"
    assert ttl002["thresholds"] == {"TTL002.min_cardinality": 10000}
    assert ttl002["documentation"].startswith(ttl002["summary"][:20])


def test_one_rule(client, bearer):
    rule = client.get("/api/rules/INS007", **bearer).json()
    assert rule["id"] == "INS007" and rule["thresholds"] == {
        "INS007.high_ratio": 0.8,
        "INS007.medium_ratio": 0.6,
        "INS007.reserved_share": 0.2,
    }
    assert client.get("/api/rules/ins007", **bearer).json()["id"] == "INS007"
    missing = client.get("/api/rules/NOPE01", **bearer)
    assert missing.status_code == 404 and missing.json() == {"detail": "no rule 'NOPE01'"}


# Findings --------------------------------------------------------------------------------------


def test_findings_list_with_pagination(client, bearer, demo_registry):
    page = client.get("/api/findings", {"limit": 5}, **bearer).json()
    total = DesignFinding.objects.count()
    assert page["count"] == total > 5 and len(page["items"]) == 5
    keys = ["rule", "severity", "title", "target", "related", "message", "remediation", "waived", "waiver"]
    assert all(list(f) == keys for f in page["items"])
    assert page["items"][0]["severity"] == "critical"  # most severe first
    rest = client.get("/api/findings", {"limit": 500, "offset": 5}, **bearer).json()["items"]
    assert len(rest) == total - 5


def test_findings_filters(client, bearer, demo_registry):
    def items(**params):
        return client.get("/api/findings", {"limit": 500, **params}, **bearer).json()["items"]

    assert {f["severity"] for f in items(severity="high")} == {"high"}
    assert {f["rule"] for f in items(rule="ttl001")} == {"TTL001"}
    identity = items(team="identity")
    assert identity and all(
        DesignFinding.objects.get(rule=f["rule"], target=f["target"]).team.name == "identity"
        for f in identity
    )
    # EVI007: the demo's dev cache is volatile-lru with a disposable cache beside TTL'd sessions.
    assert {f["rule"] for f in items(instance="dev-shared-cache")} == {"EVI007", "INS003", "INS004"}
    waived = items(waived="true")
    assert waived and all(f["waived"] and f["waiver"]["expires"] for f in waived)
    assert all(not f["waived"] for f in items(waived="false"))
    assert client.get("/api/findings", {"severity": "urgent"}, **bearer).status_code == 422


def test_findings_follow_api_writes(client, admin_user, demo_registry):
    client.force_login(admin_user)
    assert not DesignFinding.objects.filter(target="namespace:product-cache").exists()
    response = client.patch(
        "/api/namespaces/product-cache",
        json.dumps({"ttl": {"mode": "none", "seconds": None, "jitter_seconds": 0}}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert DesignFinding.objects.filter(rule="TTL001", target="namespace:product-cache").exists()

    response = client.patch(
        "/api/instances/dev-shared-cache", json.dumps({"tls": True}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert not DesignFinding.objects.filter(rule="INS004", target="instance:dev-shared-cache").exists()

    assert DesignFinding.objects.filter(target="namespace:recommendations").exists()
    response = client.delete("/api/namespaces/recommendations")
    assert response.status_code == 204, response.content
    assert not DesignFinding.objects.filter(target="namespace:recommendations").exists()


def test_a_refused_write_changes_no_finding(client, member, demo_registry):
    from advisor.findings.services import findings_refresh

    run = findings_refresh()
    client.force_login(member)
    response = client.patch(
        "/api/instances/dev-shared-cache", json.dumps({"tls": True}), content_type="application/json"
    )
    assert response.status_code == 403
    assert DesignFinding.objects.filter(rule="INS004").exists()
    from advisor.findings.models import FindingsRun

    assert FindingsRun.objects.get().computed_at == run.computed_at


# Lint ------------------------------------------------------------------------------------------


def test_lint_answers_exactly_the_commands_json(client, bearer):
    for path in (DEMO_DESIGN, CLEAN_DESIGN):
        response = post_lint(client, path.read_bytes(), query=f"?today={TODAY}", **bearer)
        assert response.status_code == 200, response.content
        assert response.json() == command_json(path, "--today", str(TODAY))
    assert post_lint(client, CLEAN_DESIGN.read_bytes(), **bearer).json()["findings"] == []


@pytest.mark.parametrize("content_type", ["application/yaml", "text/plain", "application/x-yaml"])
def test_lint_accepts_yaml_as_text(client, bearer, content_type):
    response = post_lint(client, DEMO_DESIGN.read_text(), content_type=content_type, **bearer)
    assert response.status_code == 200 and response.json()["today"] == str(TODAY)


def test_lint_accepts_json(client, bearer):
    from advisor.core.design import dump_design, load_design

    body = dump_design(load_design(DEMO_DESIGN.read_bytes()), "json")
    response = post_lint(client, body, content_type="application/json", query="?today=2027-04-01", **bearer)
    assert response.status_code == 200
    assert response.json() == command_json(DEMO_DESIGN, "--today", "2027-04-01")
    assert next(f for f in response.json()["findings"] if f["rule"] == "INS001")["severity"] == "critical"


def test_lint_stores_nothing(client, bearer, db):
    post_lint(client, DEMO_DESIGN.read_bytes(), **bearer)
    assert not DesignFinding.objects.exists()


def test_an_invalid_design_is_a_422_with_every_error(client, bearer):
    from advisor.core.design import DesignError, load_design
    from tests.test_lint_command import INVALID

    with pytest.raises(DesignError) as expected:
        load_design(INVALID)
    response = post_lint(client, INVALID, **bearer)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {"loc": e.loc, "message": e.message, "line": e.line} for e in expected.value.errors
    ]
    assert body["detail"] == f"The design file is invalid: {len(expected.value.errors)} errors."
    assert {
        "loc": "namespaces[0].ttl.seconds",
        "message": "must be >= 1 when mode is absolute",
        "line": 25,
    } in body["errors"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"version: 1\nteams: [\n",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b'{"version": 2}',
        b"version: 1\nteams: 5\ninstances: null\nnamespaces: {a: b}\n",
        b"- !!python/object/apply:os.system ['true']\n",
        b"{" * 5000,
        b"a: " + b"[" * 5000,
        "version: 1\nteams: [{name: caf\u00e9}]\ninstances: []\nnamespaces: []\n".encode(),
    ],
)
def test_lint_never_fails_with_a_500(client, bearer, body):
    response = post_lint(client, body, **bearer)
    assert response.status_code == 422, response.content
    assert response.json()["errors"] and all(
        {"loc", "message", "line"} == set(e) for e in response.json()["errors"]
    )


def test_lint_refuses_other_content_types(client, bearer):
    response = client.post("/api/lint", {"file": "x"}, **bearer)  # a multipart form
    assert response.status_code == 415 and "application/yaml" in response.json()["detail"]


def test_lint_validates_today(client, bearer):
    response = post_lint(client, CLEAN_DESIGN.read_bytes(), query="?today=2026-02-30", **bearer)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "today"]


def test_the_openapi_document_describes_the_endpoints(client, bearer):
    schema = client.get("/api/openapi.json", **bearer).json()
    assert {"/api/rules", "/api/rules/{rule_id}", "/api/findings", "/api/lint"} <= set(schema["paths"])
    lint = schema["paths"]["/api/lint"]["post"]
    assert "application/yaml" in lint["requestBody"]["content"]
    assert {"200", "422"} <= set(lint["responses"])
