"""Who may change what: every page and API endpoint that changes something, for every persona.

Each case names the personas allowed to act; everyone else must be refused (a redirect to the
login page or a 401 for anonymous callers, a 403 otherwise, unless the case says otherwise) and
the change must not have happened. Checks live in views and the API, so the requests here go
straight at the endpoints, never through a rendered page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from advisor.accounts.models import ApiToken
from advisor.registry.forms import InstanceForm, NamespaceForm
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import namespace_data
from advisor.reviews import services as reviews
from advisor.reviews.models import Review, ReviewComment, WaiverRequest

pytestmark = pytest.mark.django_db

# member_reviewer is in the reviewers group and a member of the catalog team: separation of duties
# lets them act as a member, never decide a review or a waiver request of their own team.
PERSONAS = ["anonymous", "member", "other_member", "reviewer", "member_reviewer", "admin", "viewer"]
AUTHENTICATED = set(PERSONAS) - {"anonymous"}
ADMIN = {"admin"}
MEMBERS = {"member", "member_reviewer"}  # the catalog team's members
TEAM = MEMBERS | {"admin"}  # the catalog team's members, and administrators
DECIDERS = {"reviewer", "admin"}  # reviewers outside the catalog team; the admin persona is a superuser
COMMENTERS = MEMBERS | DECIDERS


@dataclass
class Case:
    id: str
    method: str
    url: Callable[[SimpleNamespace], str]
    allowed: set[str]
    effect: Callable[[SimpleNamespace], bool] | None
    data: Callable[[SimpleNamespace], object] | None = None
    api: bool = False
    ok: int = 302
    denied: dict[str, int] = field(default_factory=dict)
    setup: Callable[[SimpleNamespace], None] | None = None
    needs: str | None = None  # a URL name another app provides; skipped until it exists


# Form data -----------------------------------------------------------------------------------


def _form_data(form_class, instance, **changes) -> dict:
    """What the edit page would post for `instance`, with `changes` applied."""
    form = form_class(instance=instance)
    data = {}
    for name in form.fields:
        value = form.initial.get(name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if value is None:
            value = ""
        if isinstance(value, list | tuple):
            data[name] = [getattr(v, "pk", v) for v in value]
            continue
        data[name] = getattr(value, "pk", value)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def _namespace_form(ctx, **changes):
    return _form_data(NamespaceForm, Namespace.objects.get(name="product-cache"), **changes)


def _instance_form(ctx, **changes):
    return _form_data(InstanceForm, Instance.objects.get(name="prod-catalog-cache"), **changes)


def _expires(days=30) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def _blocking_asks(team):
    return [
        reviews.WaiverAsk(f.rule, f.target, "accepted for now", timezone.localdate() + dt.timedelta(days=30))
        for f in reviews.blocking_findings(reviews.team_findings(team))
    ]


def _submit_form(ctx) -> dict:
    data = {}
    for i, _ in enumerate(reviews.blocking_findings(reviews.team_findings(ctx.catalog))):
        data[f"reason_{i}"] = "accepted for now"
        data[f"expires_{i}"] = _expires()
    return data


# Setups --------------------------------------------------------------------------------------


def _submitted(ctx):
    ctx.review = reviews.review_submit(
        team=ctx.catalog, user=ctx.users["member"], waivers=_blocking_asks(ctx.catalog)
    )


def _waiver_requested(ctx):
    ctx.waiver_request = reviews.waiver_request_create(
        team=ctx.catalog,
        user=ctx.users["member"],
        rule="TTL002",
        target="namespace:product-content",
        reason="warm-up job",
        expires=timezone.localdate() + dt.timedelta(days=20),
    )


def _member_token(ctx):
    ctx.token, _ = ApiToken.issue(user=ctx.users["member"], name="member-ci")


def _queued_scan(ctx):
    from advisor.scans.models import ScanRun

    ctx.scan = ScanRun.objects.create(instance=Instance.objects.get(name="prod-catalog-cache"))


def _empty_team(ctx):
    Team.objects.create(name="empty")


def _unused_instance(ctx):
    inst = Instance.objects.get(name="dev-shared-cache")
    inst.pk, inst.name = None, "spare-cache"
    inst.save()


def _schedule_hour(ctx) -> str | None:
    from advisor.scans.schedules import schedule_get

    task = schedule_get(Instance.objects.get(name="prod-catalog-cache"))
    return task.crontab.hour if task and task.crontab else None


def _api_instance(ctx) -> dict:
    from advisor.registry.services import instance_to_core

    data = instance_to_core(Instance.objects.get(name="prod-catalog-cache")).model_dump(mode="json")
    return {**data, "name": "new-cache"}


def _api_namespace(ctx) -> dict:
    data = namespace_data(Namespace.objects.get(name="product-cache"))
    return {**data, "name": "price-cache", "pattern": "prod:catalog:price:v1:<sku:int>", "multi_key_with": []}


CASES = [
    # Registry pages ------------------------------------------------------------------------------
    Case(
        "page namespace create",
        "post",
        lambda c: "/namespaces/new/",
        TEAM,
        lambda c: Namespace.objects.filter(name="price-cache").exists(),
        data=lambda c: _namespace_form(
            c, name="price-cache", pattern="prod:catalog:price:v1:<sku:int>", multi_key_with=False
        ),
        # A member of another team gets the form back: catalog is not a team they may choose.
        denied={"other_member": 200},
    ),
    Case(
        "page namespace edit",
        "post",
        lambda c: "/namespaces/product-cache/edit/",
        TEAM,
        lambda c: Namespace.objects.get(name="product-cache").cardinality == 4242,
        data=lambda c: _namespace_form(c, cardinality="4242"),
    ),
    Case(
        "page instance create",
        "post",
        lambda c: "/instances/new/",
        ADMIN,
        lambda c: Instance.objects.filter(name="new-cache").exists(),
        data=lambda c: _instance_form(c, name="new-cache"),
    ),
    Case(
        "page instance edit",
        "post",
        lambda c: "/instances/prod-catalog-cache/edit/",
        ADMIN,
        lambda c: Instance.objects.get(name="prod-catalog-cache").memory_gb == 48,
        data=lambda c: _instance_form(c, memory_gb="48"),
    ),
    Case(
        "page namespace delete",
        "post",
        lambda c: "/namespaces/product-miss/delete/",
        TEAM,
        lambda c: not Namespace.objects.filter(name="product-miss").exists(),
    ),
    Case(
        "page instance delete",
        "post",
        lambda c: "/instances/spare-cache/delete/",
        ADMIN,
        lambda c: not Instance.objects.filter(name="spare-cache").exists(),
        setup=_unused_instance,
    ),
    Case(
        "page team delete",
        "post",
        lambda c: "/teams/empty/delete/",
        ADMIN,
        lambda c: not Team.objects.filter(name="empty").exists(),
        setup=_empty_team,
    ),
    Case(
        "page design import",
        "post",
        lambda c: "/designs/",
        ADMIN,
        lambda c: Team.objects.filter(name="payments").exists(),
        data=lambda c: {
            "file": SimpleUploadedFile(
                "d.yaml", b"version: 1\nteams:\n  - name: payments\ninstances: []\nnamespaces: []\n"
            )
        },
    ),
    Case(
        "page token create",
        "post",
        lambda c: "/account/tokens/",
        AUTHENTICATED,
        lambda c: ApiToken.objects.filter(name="ci").exists(),
        data=lambda c: {"name": "ci"},
        ok=200,
    ),
    Case(
        "page token revoke",
        "post",
        lambda c: f"/account/tokens/{c.token.pk}/revoke/",
        {"member"},
        lambda c: not ApiToken.objects.filter(pk=c.token.pk).exists(),
        setup=_member_token,
        # Someone else's token is not found rather than forbidden: its existence is not disclosed.
        denied={p: 404 for p in AUTHENTICATED - {"member"}},
    ),
    Case(
        "page waiver create",
        "post",
        lambda c: "/waivers/new/",
        DECIDERS,
        lambda c: Waiver.objects.filter(rule="TTL002").exists(),
        data=lambda c: {
            "rule": "TTL002",
            "target": "namespace:product-content",
            "reason": "warm-up job",
            "expires": _expires(),
            "approved_by": "someone",
        },
        needs="waiver_create",
    ),
    Case(
        "page waiver delete",
        "post",
        lambda c: f"/waivers/{c.waiver.pk}/delete/",
        # Revoking only reopens a finding: a reviewer may revoke one of their own team's waivers.
        DECIDERS | {"member_reviewer"},
        lambda c: not Waiver.objects.filter(rule="TTL001").exists(),
        setup=lambda c: setattr(c, "waiver", Waiver.objects.get(rule="TTL001")),
        needs="waiver_delete",
    ),
    Case(
        "page scan start",
        "post",
        lambda c: "/instances/prod-catalog-cache/scans/start/",
        TEAM,
        lambda c: __import__("advisor.scans.models", fromlist=["ScanRun"]).ScanRun.objects.exists(),
        needs="scan_start",
    ),
    Case(
        "page scan cancel",
        "post",
        lambda c: f"/scans/{c.scan.pk}/cancel/",
        ADMIN,  # a scan someone else started: only administrators cancel it
        lambda c: type(c.scan).objects.get(pk=c.scan.pk).status == "cancelled",
        setup=_queued_scan,
        needs="scan_cancel",
    ),
    Case(
        "page scan schedule",
        "post",
        lambda c: "/instances/prod-catalog-cache/scans/schedule/",
        ADMIN,
        lambda c: _schedule_hour(c) == "3",
        data=lambda c: {"cron": "15 3 * * *", "enabled": "on"},
        needs="scan_schedule",
    ),
    # Review pages --------------------------------------------------------------------------------
    Case(
        "page review submit",
        "post",
        lambda c: "/teams/catalog/review/",
        MEMBERS,
        lambda c: Review.objects.filter(team__name="catalog", state="in_review").exists(),
        data=_submit_form,
    ),
    Case(
        "page review comment",
        "post",
        lambda c: f"/reviews/{c.review.pk}/comment/",
        COMMENTERS,
        lambda c: ReviewComment.objects.filter(body="a comment").exists(),
        data=lambda c: {"body": "a comment"},
        setup=_submitted,
    ),
    Case(
        "page review approve",
        "post",
        lambda c: f"/reviews/{c.review.pk}/approve/",
        DECIDERS,
        lambda c: Review.objects.get(pk=c.review.pk).state == "approved",
        data=lambda c: {"expected_hash": c.review.content_hash},
        setup=_submitted,
    ),
    Case(
        "page review request changes",
        "post",
        lambda c: f"/reviews/{c.review.pk}/request-changes/",
        DECIDERS,
        lambda c: Review.objects.get(pk=c.review.pk).state == "changes_requested",
        data=lambda c: {"expected_hash": c.review.content_hash, "comment": "fix it"},
        setup=_submitted,
    ),
    Case(
        "page waiver request decide",
        "post",
        lambda c: f"/waiver-requests/{c.waiver_request.pk}/decide/",
        DECIDERS,
        lambda c: WaiverRequest.objects.get(pk=c.waiver_request.pk).state == "approved",
        data=lambda c: {"decision": "approve"},
        setup=_waiver_requested,
    ),
    # Registry API --------------------------------------------------------------------------------
    Case(
        "api team create",
        "post",
        lambda c: "/api/teams",
        ADMIN,
        lambda c: Team.objects.filter(name="payments").exists(),
        data=lambda c: {"name": "payments"},
        api=True,
        ok=201,
    ),
    Case(
        "api team update",
        "patch",
        lambda c: "/api/teams/catalog",
        ADMIN,
        lambda c: Team.objects.get(name="catalog").contact == "new@contoso.example",
        data=lambda c: {"contact": "new@contoso.example"},
        api=True,
        ok=200,
    ),
    Case(
        "api team replace",
        "put",
        lambda c: "/api/teams/catalog",
        ADMIN,
        lambda c: Team.objects.get(name="catalog").contact == "",
        data=lambda c: {"name": "catalog"},
        api=True,
        ok=200,
    ),
    Case(
        "api team delete",
        "delete",
        lambda c: "/api/teams/empty",
        ADMIN,
        lambda c: not Team.objects.filter(name="empty").exists(),
        setup=_empty_team,
        api=True,
        ok=204,
    ),
    Case(
        "api instance create",
        "post",
        lambda c: "/api/instances",
        ADMIN,
        lambda c: Instance.objects.filter(name="new-cache").exists(),
        data=_api_instance,
        api=True,
        ok=201,
    ),
    Case(
        "api instance update",
        "patch",
        lambda c: "/api/instances/prod-catalog-cache",
        ADMIN,
        lambda c: Instance.objects.get(name="prod-catalog-cache").memory_gb == 48,
        data=lambda c: {"memory_gb": 48},
        api=True,
        ok=200,
    ),
    Case(
        "api instance replace",
        "put",
        lambda c: "/api/instances/prod-catalog-cache",
        ADMIN,
        lambda c: Instance.objects.get(name="prod-catalog-cache").memory_gb == 48,
        data=lambda c: {**_api_instance(c), "name": "prod-catalog-cache", "memory_gb": 48},
        api=True,
        ok=200,
    ),
    Case(
        "api instance delete",
        "delete",
        lambda c: "/api/instances/spare-cache",
        ADMIN,
        lambda c: not Instance.objects.filter(name="spare-cache").exists(),
        setup=_unused_instance,
        api=True,
        ok=204,
    ),
    Case(
        "api namespace create",
        "post",
        lambda c: "/api/namespaces",
        TEAM,
        lambda c: Namespace.objects.filter(name="price-cache").exists(),
        data=_api_namespace,
        api=True,
        ok=201,
    ),
    Case(
        "api namespace update",
        "patch",
        lambda c: "/api/namespaces/product-cache",
        TEAM,
        lambda c: Namespace.objects.get(name="product-cache").cardinality == 4242,
        data=lambda c: {"cardinality": 4242},
        api=True,
        ok=200,
    ),
    Case(
        "api namespace replace",
        "put",
        lambda c: "/api/namespaces/product-cache",
        TEAM,
        lambda c: Namespace.objects.get(name="product-cache").cardinality == 4242,
        data=lambda c: {**namespace_data(Namespace.objects.get(name="product-cache")), "cardinality": 4242},
        api=True,
        ok=200,
    ),
    Case(
        "api namespace delete",
        "delete",
        lambda c: "/api/namespaces/bestsellers",
        TEAM,
        lambda c: not Namespace.objects.filter(name="bestsellers").exists(),
        api=True,
        ok=204,
    ),
    Case(
        "api scan start",
        "post",
        lambda c: "/api/instances/prod-catalog-cache/scans",
        TEAM,
        lambda c: __import__("advisor.scans.models", fromlist=["ScanRun"]).ScanRun.objects.exists(),
        api=True,
        ok=202,
    ),
    Case(
        "api scan cancel",
        "post",
        lambda c: f"/api/scans/{c.scan.pk}/cancel",
        ADMIN,  # a scan someone else started: only administrators cancel it
        lambda c: type(c.scan).objects.get(pk=c.scan.pk).status == "cancelled",
        setup=_queued_scan,
        api=True,
        ok=200,
    ),
    # Review API ----------------------------------------------------------------------------------
    Case(
        "api review submit",
        "post",
        lambda c: "/api/teams/catalog/reviews",
        MEMBERS,
        lambda c: Review.objects.filter(team__name="catalog", state="in_review").exists(),
        data=lambda c: {
            "waivers": [
                {"rule": a.rule, "target": a.target, "reason": a.reason, "expires": a.expires.isoformat()}
                for a in _blocking_asks(c.catalog)
            ]
        },
        api=True,
        ok=201,
    ),
    Case(
        "api review comment",
        "post",
        lambda c: f"/api/reviews/{c.review.pk}/comments",
        COMMENTERS,
        lambda c: ReviewComment.objects.filter(body="a comment").exists(),
        data=lambda c: {"body": "a comment"},
        setup=_submitted,
        api=True,
        ok=201,
    ),
    Case(
        "api review approve",
        "post",
        lambda c: f"/api/reviews/{c.review.pk}/approve",
        DECIDERS,
        lambda c: Review.objects.get(pk=c.review.pk).state == "approved",
        data=lambda c: {"expected_hash": c.review.content_hash},
        setup=_submitted,
        api=True,
        ok=200,
    ),
    Case(
        "api review request changes",
        "post",
        lambda c: f"/api/reviews/{c.review.pk}/request-changes",
        DECIDERS,
        lambda c: Review.objects.get(pk=c.review.pk).state == "changes_requested",
        data=lambda c: {"expected_hash": c.review.content_hash, "comment": "fix it"},
        setup=_submitted,
        api=True,
        ok=200,
    ),
    Case(
        "api waiver request create",
        "post",
        lambda c: "/api/waiver-requests",
        MEMBERS,
        lambda c: WaiverRequest.objects.filter(rule="TTL002").exists(),
        data=lambda c: {
            "team": "catalog",
            "rule": "TTL002",
            "target": "namespace:product-content",
            "reason": "warm-up job",
            "expires": _expires(),
        },
        api=True,
        ok=201,
    ),
    Case(
        "api waiver request approve",
        "post",
        lambda c: f"/api/waiver-requests/{c.waiver_request.pk}/approve",
        DECIDERS,
        lambda c: WaiverRequest.objects.get(pk=c.waiver_request.pk).state == "approved",
        setup=_waiver_requested,
        api=True,
        ok=200,
    ),
    Case(
        "api waiver request reject",
        "post",
        lambda c: f"/api/waiver-requests/{c.waiver_request.pk}/reject",
        DECIDERS,
        lambda c: WaiverRequest.objects.get(pk=c.waiver_request.pk).state == "rejected",
        setup=_waiver_requested,
        api=True,
        ok=200,
    ),
]


@pytest.fixture
def member_reviewer(member, reviewer, django_user_model):
    """In the reviewers group and a member of the catalog team."""
    user = django_user_model.objects.create_user(username="rhea-member-reviewer", password="pw-rhea")
    user.groups.set(reviewer.groups.all())
    Team.objects.get(name="catalog").members.add(user)
    return user


@pytest.fixture
def ctx(member, other_member, reviewer, member_reviewer, admin_user, viewer):
    return SimpleNamespace(
        catalog=Team.objects.get(name="catalog"),
        users={
            "anonymous": None,
            "member": member,
            "other_member": other_member,
            "reviewer": reviewer,
            "member_reviewer": member_reviewer,
            "admin": admin_user,
            "viewer": viewer,
        },
    )


def _expected_status(case: Case, persona: str) -> int:
    if persona in case.allowed:
        return case.ok
    if persona in case.denied:
        return case.denied[persona]
    if persona == "anonymous":
        return 401 if case.api else 302
    return 403


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_permission_matrix(client, ctx, case, persona):
    if case.needs:
        try:
            reverse(case.needs, kwargs=_kwargs_for(case.needs))
        except NoReverseMatch:
            pytest.skip(f"{case.needs} is not part of this build yet")
    if case.setup:
        case.setup(ctx)
    user = ctx.users[persona]
    if user is not None:
        client.force_login(user)
    data = case.data(ctx) if case.data else None
    url = case.url(ctx)
    if case.api:
        kwargs = {"content_type": "application/json"}
        body = json.dumps(data) if data is not None else None
        response = (
            getattr(client, case.method)(url, body, **kwargs) if body else getattr(client, case.method)(url)
        )
    else:
        response = getattr(client, case.method)(url, data or {})

    expected = _expected_status(case, persona)
    detail = response.content.decode(errors="replace")[:600]
    assert response.status_code == expected, f"{case.id} as {persona}: {response.status_code} {detail}"
    if persona == "anonymous" and not case.api:
        assert response["Location"].startswith("/login/")
    if case.effect is not None:
        happened = case.effect(ctx)
        assert happened == (persona in case.allowed), f"{case.id} as {persona}: effect={happened}"


def _kwargs_for(name: str) -> dict:
    return {"waiver_delete": {"pk": 1}, "scan_cancel": {"pk": 1}}.get(name) or (
        {"name": "x"} if name.startswith("scan_") else {}
    )


_DUMMY = SimpleNamespace(
    waiver=SimpleNamespace(pk=1),
    review=SimpleNamespace(pk=1),
    waiver_request=SimpleNamespace(pk=1),
    token=SimpleNamespace(pk=1),
    scan=SimpleNamespace(pk=1),
)
# API operations that accept a body but change nothing.
_API_READ_ONLY = {("post", "/api/lint")}
# The review and audit apps' pages that only read.
_PAGES_READ_ONLY = {
    "review_list",
    "review_detail",
    "review_report",
    "review_report_markdown",
    "compliance",
    "audit_list",
}


def test_every_writing_api_operation_is_in_the_matrix():
    """A new write endpoint without a row here fails, so the matrix cannot fall behind the API."""
    import re

    from advisor.api import api

    covered = [(c.method, c.url(_DUMMY)) for c in CASES if c.api]
    missing = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")
        for method in operations:
            if method in ("get", "head", "options") or (method, path) in _API_READ_ONLY:
                continue
            if not any(m == method and pattern.match(url) for m, url in covered):
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"write operations missing from the permission matrix: {missing}"


def test_every_review_page_that_writes_is_in_the_matrix():
    from django.urls import get_resolver, resolve

    covered = {resolve(c.url(_DUMMY)).url_name for c in CASES if not c.api}
    review_routes = {
        name
        for name, module in _named_routes(get_resolver())
        if module.startswith(("advisor.reviews", "advisor.audit"))
    }
    assert review_routes - covered == _PAGES_READ_ONLY


def _named_routes(resolver):
    for p in resolver.url_patterns:
        if hasattr(p, "url_patterns"):
            yield from _named_routes(p)
        elif p.name:
            yield p.name, p.callback.__module__
