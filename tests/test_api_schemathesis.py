"""The OpenAPI document tells the truth: schemathesis over every operation of the API.

Schemathesis reads the API's OpenAPI document and sends generated requests, valid and invalid,
to every operation through the project's WSGI application in this process: once with an
administrator's API token and once with a team member's, against the demo registry with a
submitted review, its waiver requests and two scan runs. Every answer must be no server error, a
status code the document declares for that operation, the declared content type, and a body
that validates against the declared schema of that status.

Generated names and ids almost never name a row, so half of the fuzzed cases are aimed at the
registry: path parameters replaced by real names and ids, and request bodies built on a valid
entry with some of its fields replaced by generated values (which is how one huge number gets
into an otherwise valid instance). Each case runs in a savepoint that is rolled back, so every
case sees the same registry. Bounded: a few fuzzed examples per operation, deterministic, no
shrinking.
"""

import datetime as dt
import json
import re
from dataclasses import dataclass, field

import pytest
import schemathesis
import yaml
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from ninja.openapi.schema import OpenAPISchema
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from advisor.accounts.models import ApiToken
from advisor.api.main import api
from advisor.core.rules.docs import rule_catalog
from advisor.findings import services as findings
from advisor.registry.models import Instance, Team
from advisor.registry.services import design_import
from advisor.reviews import services as reviews
from advisor.scans.models import ScanRun
from tests.conftest import DEMO_DESIGN, demo_design

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 12

OPENAPI = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/")))

schema = schemathesis.openapi.from_dict(
    OPENAPI,
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            # Stateless: every operation on its own.
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)
schema.app = WSGIHandler()


# What the cases can aim at --------------------------------------------------------------------

# The demo design's entries by kind and name: the rows of the registry, and valid bodies to build
# requests on (a resource is exactly its design-file entry).
_DEMO = yaml.safe_load(DEMO_DESIGN.read_text())
ENTRIES = {kind: {e["name"]: e for e in _DEMO[kind]} for kind in ("teams", "instances", "namespaces")}
# The row a coverage case varies one field of: an instance with no sku, so that its memory_gb
# is its own, and a namespace of the member's team.
COVERAGE_ROWS = {"teams": "catalog", "instances": "dev-shared-cache", "namespaces": "product-cache"}


@dataclass
class Registry:
    """Ids and tokens of the rows the registry fixture created, for aiming fuzzed cases."""

    rules: list[str] = field(default_factory=list)
    reviews: dict[int, str] = field(default_factory=dict)  # id -> content hash
    review_waivers: dict[str, list[dict]] = field(default_factory=dict)  # team -> waiver asks
    waiver_asks: list[dict] = field(default_factory=list)  # valid POST /api/waiver-requests bodies
    waiver_requests: list[int] = field(default_factory=list)
    scans: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # persona -> API token


REGISTRY = Registry()
User = get_user_model()


def _copy(entry: dict) -> dict:
    return json.loads(json.dumps(entry))


def _entry_write(path: str, method: str) -> str | None:
    """The kind of entry a POST, PUT or PATCH of a team, instance or namespace writes, else None."""
    parts = path.split("/")  # "", "api", kind[, name]
    if method in ("POST", "PUT", "PATCH") and parts[2] in ENTRIES and len(parts) <= 4:
        return parts[2]
    return None


def _names_for(path: str, param: str) -> list:
    if param == "name":
        kind = path.split("/")[2]
        return sorted(ENTRIES.get(kind, ENTRIES["namespaces"]))
    return {
        "rule_id": REGISTRY.rules,
        "review_id": sorted(REGISTRY.reviews),
        "request_id": REGISTRY.waiver_requests,
        "pk": REGISTRY.scans,
    }[param]


@st.composite
def _aimed(draw, case):
    """`case` with its path parameters naming real rows and its body built on a valid entry, some
    of whose fields are replaced by the generated ones."""
    path, method = case.operation.path, case.method.upper()
    for param in list(case.path_parameters or {}):
        if draw(st.booleans()):
            case.path_parameters[param] = draw(st.sampled_from(_names_for(path, param)))
    name = (case.path_parameters or {}).get("name")

    if kind := _entry_write(path, method):
        entries = ENTRIES[kind]
        base = _copy(entries.get(name) or entries[draw(st.sampled_from(sorted(entries)))])
        generated = case.body
        if method == "PATCH":
            # A merge patch: some fields of a generated full entry (from the PUT's generator).
            generated, base = draw(schema[path]["PUT"].as_strategy()).body, {}
        elif method == "POST":
            base["name"] = f"{base['name']}-copy"
        if isinstance(generated, dict):
            keys = draw(st.sets(st.sampled_from(sorted(generated)))) if generated else set()
            case.body = {**base, **{k: generated[k] for k in keys}}
    elif path.endswith("/reviews") and method == "POST" and isinstance(case.body, dict):
        case.body = {**case.body, "waivers": REGISTRY.review_waivers.get(name, [])}
    elif path.startswith("/api/reviews/") and path.endswith(("/approve", "/request-changes")):
        review_hash = REGISTRY.reviews.get(case.path_parameters.get("review_id"))
        if review_hash and isinstance(case.body, dict):
            case.body = {**case.body, "expected_hash": review_hash, "comment": "please fix the TTLs"}
    elif path == "/api/waiver-requests" and method == "POST" and isinstance(case.body, dict):
        base = draw(st.sampled_from(REGISTRY.waiver_asks))
        keys = draw(st.sets(st.sampled_from(sorted(case.body)))) if case.body else set()
        case.body = {**base, **{k: case.body[k] for k in keys}}
    return case


@schema.hook
def flatmap_case(context, case):
    # Half of the fuzzed cases as generated, half aimed at the registry.
    return st.one_of(st.just(case), _aimed(case))


def _varied_field(data) -> tuple[str, ...]:
    """The body field (and its sub-field) a coverage case varies, from its description; () when
    it varies the body as a whole."""
    names = re.findall(r"/properties/([^/]+)", data.location or "")
    if not names:
        names = re.findall(r"'([^']+)' value", data.description)
    missing = re.search(r"Missing required property: (\S+)", data.description)
    if missing:
        names.append(missing.group(1))
    return tuple(names[:2])


@schema.hook
def map_case(context, case):
    """A coverage case that varies one field of a team, instance or namespace varies it in the
    valid entry of a real row, so that boundary values go through the whole write and the
    findings that follow it, not just the validation. (Coverage cases are built when the tests
    are collected, before any fixture: hence the entries of the design file.)"""
    meta, path, method = case.meta, case.operation.path, case.method.upper()
    if meta is None or meta.phase.name != TestPhase.COVERAGE or method == "PATCH":
        return case
    kind = _entry_write(path, method)
    if kind is None or meta.phase.data.parameter_location != ParameterLocation.BODY:
        return case
    if not isinstance(case.body, dict) or not (varied := _varied_field(meta.phase.data)):
        return case
    name = COVERAGE_ROWS[kind]
    body = _copy(ENTRIES[kind][name])
    if method == "POST":
        body["name"] = f"{name}-copy"
    else:
        case.path_parameters["name"] = name
    key, *sub = varied
    target, source, leaf = body, case.body, key
    if sub and isinstance(body.get(key), dict) and isinstance(case.body.get(key), dict):
        target, source, leaf = body[key], case.body[key], sub[0]
    if leaf in source:
        target[leaf] = source[leaf]
    else:
        target.pop(leaf, None)
    case.body = body
    return case


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """A request closes the database connection when it finishes (as in production); the test's
    transaction lives on that connection, so the closing waits, as in Django's test client."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def registry(django_db_setup, django_db_blocker):
    """The demo registry with a submitted review of the catalog team, its waiver requests, a queued
    and a completed scan run, and an API token for an administrator and one for a catalog member.

    Built once for the module inside a transaction that is rolled back at the end (each test's own
    transaction is a savepoint within it), as Django's TestCase.setUpTestData does.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_registry()
        transaction.set_rollback(True)


def _build_registry() -> Registry:
    design_import(demo_design())
    admin = User.objects.create_user("sam-admin", is_staff=True, is_superuser=True)
    member = User.objects.create_user("max-member")
    catalog = Team.objects.get(name="catalog")
    catalog.members.add(member)

    expires = timezone.localdate() + dt.timedelta(days=30)
    blocking = reviews.blocking_findings(reviews.team_findings(catalog))
    asks = [reviews.WaiverAsk(f.rule, f.target, "accepted for now", expires) for f in blocking]
    review = reviews.review_submit(team=catalog, user=member, waivers=asks)
    cache = Instance.objects.get(name="prod-catalog-cache")
    queued = ScanRun.objects.create(instance=cache)
    done = ScanRun.objects.create(
        instance=cache,
        status=ScanRun.Status.COMPLETED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        complete=True,
        report={"instance": cache.name, "complete": True, "findings": []},
    )

    REGISTRY.__init__()
    REGISTRY.tokens = {
        "admin": ApiToken.issue(user=admin, name="schemathesis")[1],
        "member": ApiToken.issue(user=member, name="schemathesis")[1],
    }
    REGISTRY.rules = [rule["id"] for rule in rule_catalog()]
    REGISTRY.reviews = {review.pk: review.content_hash}
    ask_json = [
        {"rule": a.rule, "target": a.target, "reason": a.reason, "expires": a.expires.isoformat()}
        for a in asks
    ]
    REGISTRY.review_waivers = {"catalog": ask_json}
    REGISTRY.waiver_asks = [{"team": "catalog", **a} for a in ask_json]
    REGISTRY.waiver_requests = list(review.waiver_requests.values_list("pk", flat=True))
    REGISTRY.scans = [queued.pk, done.pk]
    findings.findings_refresh()  # as after any write: reads do not recompute them
    return REGISTRY


@pytest.fixture(params=["admin", "member"])
def auth(request, registry):
    return {"Authorization": f"Bearer {registry.tokens[request.param]}"}


# Tests ----------------------------------------------------------------------------------------


def test_the_document_is_the_one_served(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/api/openapi.json").json() == OPENAPI


def test_no_two_schemas_share_a_name(monkeypatch):
    # ninja files every model's JSON schema under its class name, and a second class of the same
    # name silently replaces the first (two WaiverOut once made findings violate the document).
    seen, clashes = {}, []
    add = OpenAPISchema.add_schema_definitions

    def add_checked(self, definitions):
        for name, definition in definitions.items():
            if seen.setdefault(name, definition) != definition:
                clashes.append(name)
        return add(self, definitions)

    monkeypatch.setattr(OpenAPISchema, "add_schema_definitions", add_checked)
    api.get_openapi_schema(path_prefix="/api/")
    assert len(seen) > 50 and clashes == []


def test_every_operation_documents_its_errors():
    # Schemathesis always sends a valid token, so the 401s and the body errors are checked here.
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            where, statuses = f"{method.upper()} {path}", set(operation["responses"])
            if path != "/api/health":
                assert "401" in statuses, where
            if "requestBody" in operation:
                assert {"403", "413", "422"} <= statuses, where
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]
                    refs = [ref] if "$ref" in ref else ref["anyOf"]
                    names = {r["$ref"].rsplit("/", 1)[1] for r in refs}
                    assert names <= {"Error", "ValidationErrors", "InvalidDesign"}, (where, status, names)
                    assert ("ValidationErrors" in names) == (status == "422"), (where, status)


def _url(path: str) -> str:
    """`path` with its parameters filled in: ids 1, names catalog."""
    return re.sub(r"\{(name|rule_id)\}", "catalog", re.sub(r"\{(\w+_id|pk)\}", "1", path))


_WRITES_WITH_BODIES = [
    (method, path)
    for path, operations in OPENAPI["paths"].items()
    for method, operation in operations.items()
    if "requestBody" in operation
]


@pytest.mark.parametrize("method, path", _WRITES_WITH_BODIES)
def test_a_body_over_the_limit_is_the_documented_413(client, admin_user, settings, method, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.ADVISOR_MAX_DESIGN_BYTES = 1024
    _, token = ApiToken.issue(user=admin_user, name="limits")
    url = _url(path)
    body = json.dumps({"name": "catalog", "description": "x" * 4096})
    response = getattr(client, method)(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 413, (url, response.content[:200])
    assert "413" in OPENAPI["paths"][path][method]["responses"]
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"detail"} and isinstance(response.json()["detail"], str)


_OPERATIONS = [
    (method, path)
    for path, operations in OPENAPI["paths"].items()
    for method in operations
    if path != "/api/health"
]


@pytest.mark.parametrize("method, path", _OPERATIONS)
def test_a_request_without_credentials_is_the_documented_401(client, method, path):
    body = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
    response = getattr(client, method)(_url(path), **body)
    assert response.status_code == 401, (path, response.content[:200])
    assert "401" in OPENAPI["paths"][path][method]["responses"]
    assert set(response.json()) == {"detail"} and isinstance(response.json()["detail"], str)


_UNSAFE = [
    (method, path)
    for path, operations in OPENAPI["paths"].items()
    for method in operations
    if method != "get" and path != "/api/health"
]


@pytest.mark.parametrize("method, path", _UNSAFE)
def test_a_browser_write_without_its_csrf_token_is_the_documented_403(admin_user, method, path):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    url = _url(path)
    response = getattr(browser, method)(url, "{}", content_type="application/json")
    assert response.status_code == 403, (url, response.content[:200])
    assert "403" in OPENAPI["paths"][path][method]["responses"]
    assert response.json() == {"detail": "CSRF check Failed"}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/nothing", "/api/teams/a/b", "/api/teams/a%2Fb", "/api/teams/"])
def test_a_path_no_operation_has_is_a_json_404(client, admin_user, method, path):
    client.force_login(admin_user)
    response = getattr(client, method)(path)
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "detail": "No API operation has this path; the operations are listed at /api/docs."
    }


@schema.parametrize()
# A deadline far above any answer (tens of milliseconds), so that only a request that hangs
# trips it, never a busy machine.
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=dt.timedelta(seconds=20),
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_openapi_document(case, auth):
    with transaction.atomic():
        case.call_and_validate(headers=auth, checks=CHECKS)
        transaction.set_rollback(True)
