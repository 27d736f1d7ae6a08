"""The audit trail: who changed what with before and after values, and no way to rewrite it."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver
from django.utils import timezone

from advisor.audit.models import AuditEvent
from advisor.audit.services import audit_record, flat_diff
from advisor.registry.models import Instance, Namespace, Team
from advisor.reviews import services
from tests.conftest import CLEAN_DESIGN
from tests.test_registry_pages import _namespace_post

pytestmark = pytest.mark.django_db


def _events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("pk"))


def test_the_demo_import_is_recorded_as_the_system(demo_registry):
    events = _events(action="import")
    assert {e.obj_type for e in events} == {"team", "instance", "namespace", "waiver"}
    assert all(e.actor is None and e.actor_name == "" and e.before is None for e in events)
    ns = next(e for e in events if e.obj_type == "namespace" and e.obj_name == "product-cache")
    assert ns.after["pattern"] == "prod:catalog:product:v3:<product_id:int>"


def test_namespace_create_and_edit_through_the_pages(client, member):
    client.force_login(member)
    catalog = Team.objects.get(name="catalog")
    inst = Instance.objects.get(name="prod-catalog-cache")
    client.post("/namespaces/new/", _namespace_post(team=catalog.pk, instance=inst.pk))
    created = _events(obj_type="namespace", obj_name="price-cache")
    assert [(e.action, e.actor, e.before) for e in created] == [("create", member, None)]
    assert created[0].after["ttl"] == {"mode": "absolute", "seconds": 300, "jitter_seconds": 30}

    client.post(
        "/namespaces/price-cache/edit/", _namespace_post(team=catalog.pk, instance=inst.pk, ttl_seconds="600")
    )
    update = _events(obj_type="namespace", obj_name="price-cache", action="update")
    assert len(update) == 1 and update[0].actor_name == "mia-member"
    assert flat_diff(update[0].before, update[0].after) == [("ttl.seconds", 300, 600)]

    # Saving without a change records nothing: the trail lists changes, not clicks.
    client.post(
        "/namespaces/price-cache/edit/", _namespace_post(team=catalog.pk, instance=inst.pk, ttl_seconds="600")
    )
    assert len(_events(obj_type="namespace", obj_name="price-cache")) == 2


def test_instance_edit_by_an_admin_has_no_secret(client, admin_user, demo_registry):
    from advisor.registry.forms import InstanceForm

    client.force_login(admin_user)
    inst = Instance.objects.get(name="prod-legacy-cache")
    data = {
        k: v
        for k, v in InstanceForm(instance=inst).initial.items()
        if v is not None and k in InstanceForm.Meta.fields
    }
    data.update(memory_gb="13", high_availability="on", tls="on")
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    response = client.post("/instances/prod-legacy-cache/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    (event,) = _events(obj_type="instance", action="update")
    assert event.actor == admin_user and ("memory_gb", 12.0, 13.0) in event.changes
    assert event.after["connection"]["credential"] == "env:LEGACY_REDIS_ACCESS_KEY"


def test_design_import_through_the_page_names_the_admin(client, admin_user, demo_registry):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("clean.yaml", CLEAN_DESIGN.read_bytes())
    client.post("/designs/", {"file": upload})
    events = _events(action="import", actor_name=admin_user.username)
    assert events and all(e.after for e in events)


def test_admin_changes_to_team_membership_are_recorded(client, admin_user, member):
    client.force_login(admin_user)
    team = Team.objects.get(name="catalog")
    response = client.post(
        f"/admin/registry/team/{team.pk}/change/",
        {"name": "catalog", "contact": "catalog@contoso.example", "members": [member.pk, admin_user.pk]},
    )
    assert response.status_code == 302
    (event,) = _events(obj_type="team", action="update")
    assert event.actor == admin_user
    assert event.before["members"] == ["mia-member"] and event.after["members"] == [
        "alice-admin",
        "mia-member",
    ]
    assert event.after["contact"] == "catalog@contoso.example"


def test_the_review_flow_is_recorded_step_by_step(member, reviewer):
    catalog = Team.objects.get(name="catalog")
    expires = timezone.localdate() + dt.timedelta(days=30)
    asks = [
        services.WaiverAsk(f.rule, f.target, "later", expires)
        for f in services.blocking_findings(services.team_findings(catalog))
    ]
    review = services.review_submit(team=catalog, user=member, waivers=asks)
    services.review_comment(review=review, user=reviewer, body="Hm.")
    services.review_approve(review=review, user=reviewer, expected_hash=review.content_hash)
    trail = [(e.actor_name, e.action, e.obj_type) for e in _events(actor__isnull=False)]
    assert trail == [
        ("mia-member", "start_draft", "review"),
        ("mia-member", "request", "waiver_request"),
        ("mia-member", "request", "waiver_request"),
        ("mia-member", "submit", "review"),
        ("rita-reviewer", "comment", "review"),
        ("rita-reviewer", "approve", "review"),
        ("rita-reviewer", "approve", "waiver_request"),
        ("rita-reviewer", "update", "waiver"),  # the demo's expired TTL001 waiver, renewed
        ("rita-reviewer", "approve", "waiver_request"),
        ("rita-reviewer", "create", "waiver"),
    ]
    approve = _events(action="approve", obj_type="review")[0]
    assert approve.before["state"] == "in_review" and approve.after["state"] == "approved"
    assert (
        approve.after["content_hash"] == review.content_hash
        and approve.after["decided_by"] == "rita-reviewer"
    )
    renewed = _events(obj_type="waiver", action="update")[0]
    assert renewed.before["expires"] == "2026-09-30" and renewed.after["approved_by"] == "rita-reviewer"


def test_events_cannot_be_changed_or_deleted(db):
    event = audit_record(actor=None, action="create", obj_type="team", obj_name="x", after={"a": 1})
    event.after = {"a": 2}
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(after={"a": 3})
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).after == {"a": 1}


def test_the_admin_is_read_only(client, admin_user):
    event = audit_record(actor=admin_user, action="create", obj_type="team", obj_name="x", after={"a": 1})
    client.force_login(admin_user)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client.post(
        "/admin/audit/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).action == "create"


def test_no_page_or_api_writes_the_trail(client, admin_user):
    audit_urls = [p for p in _all_routes() if "audit" in p and not p.startswith("admin/")]
    assert audit_urls == ["audit/"]
    client.force_login(admin_user)
    assert client.post("/audit/", {"action": "x"}).status_code == 405
    assert not [p for p in _openapi_paths() if "audit" in p]


def _all_routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if hasattr(p, "url_patterns"):
            yield from _all_routes(p, route)
        else:
            yield route


def _openapi_paths():
    from advisor.api import api

    return list(api.get_openapi_schema()["paths"])


def test_the_audit_page_lists_and_filters(client, viewer, member, reviewer):
    catalog = Team.objects.get(name="catalog")
    Namespace.objects.filter(name="search-results").update(
        ttl_mode="absolute", ttl_seconds=60, ttl_jitter_seconds=6
    )
    Namespace.objects.filter(name="rendered-pages").update(value_bytes_typical=1000, value_bytes_max=2000)
    services.review_submit(team=catalog, user=member)
    client.force_login(viewer)
    body = client.get("/audit/").content.decode()
    assert 'data-action="submit" data-actor="mia-member"' in body
    page = client.get("/audit/", {"actor": "mia-member"}).context["page"]
    assert {e.actor_name for e in page.object_list} == {"mia-member"}
    page = client.get("/audit/", {"obj_type": "namespace", "action": "import"}).context["page"]
    assert page.paginator.count == Namespace.objects.count()
    page = client.get("/audit/", {"actor": "system"}).context["page"]
    assert page.paginator.count > 0 and all(e.actor_name == "" for e in page.object_list)
    today = timezone.localdate()
    assert (
        client.get("/audit/", {"since": today.isoformat()}).context["page"].paginator.count
        == AuditEvent.objects.count()
    )
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert client.get("/audit/", {"since": tomorrow}).context["page"].paginator.count == 0
    fragment = client.get("/audit/", {"obj_name": "catalog"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "catalog revision 1" in fragment


def test_api_writes_are_recorded(client, member, admin_user):
    from advisor.accounts.models import ApiToken

    def auth(user):
        return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user=user, name='t')[1]}"}

    r = client.patch(
        "/api/namespaces/product-cache", {"cardinality": 42}, content_type="application/json", **auth(member)
    )
    assert r.status_code == 200
    (event,) = _events(obj_type="namespace", action="update")
    assert event.actor == member and event.changes == [("cardinality", 500000, 42)]
    r = client.post(
        "/api/teams",
        {"name": "payments", "contact": "pay@contoso.example"},
        content_type="application/json",
        **auth(admin_user),
    )
    assert r.status_code == 201
    assert _events(obj_type="team", action="create")[0].after == {
        "name": "payments",
        "contact": "pay@contoso.example",
        "members": [],
    }
    assert client.delete("/api/teams/payments", **auth(admin_user)).status_code == 204
    (deleted,) = _events(obj_type="team", action="delete")
    assert deleted.actor == admin_user and deleted.before["name"] == "payments" and deleted.after is None
    # A refused delete (the team still owns namespaces) records nothing.
    assert client.delete("/api/teams/catalog", **auth(admin_user)).status_code == 409
    assert len(_events(obj_type="team", action="delete")) == 1


def test_waiver_pages_are_recorded(client, reviewer, demo_registry):
    from advisor.registry.models import Waiver

    client.force_login(reviewer)
    expires = (timezone.localdate() + dt.timedelta(days=40)).isoformat()
    data = {
        "rule": "TTL001",
        "target": "namespace:search-results",
        "reason": "renewed",
        "expires": expires,
        "approved_by": "rita",
    }
    assert client.post("/waivers/new/", data).status_code == 302
    (renewed,) = _events(obj_type="waiver", action="update")
    assert renewed.actor == reviewer and renewed.before["expires"] == "2026-09-30"
    assert renewed.after["expires"] == expires and renewed.after["reason"] == "renewed"
    waiver = Waiver.objects.get(rule="TTL001")
    assert client.post(f"/waivers/{waiver.pk}/delete/").status_code == 302
    (deleted,) = _events(obj_type="waiver", action="delete")
    assert deleted.actor == reviewer and deleted.before["reason"] == "renewed" and deleted.after is None
