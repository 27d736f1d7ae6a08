"""Deleting namespaces, instances and teams from the pages: a Delete button for those allowed, a
confirmation page that says what goes and what stands in the way, a POST that deletes (audited)
or is refused while other rows depend on the one deleted."""

from __future__ import annotations

import pytest
from django.test import Client

from advisor.audit.models import AuditEvent
from advisor.findings.models import DesignFinding
from advisor.findings.services import findings_refresh
from advisor.registry.models import Instance, Namespace, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(member, other_member, admin_user, viewer):
    return {"member": member, "other_member": other_member, "admin": admin_user, "viewer": viewer}


def _as(client, user):
    client.force_login(user)
    return client


def _delete_events(obj_type: str, name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="delete", obj_type=obj_type, obj_name=name))


# Who sees the button ---------------------------------------------------------------------------

BUTTONS = [
    # (page, the delete URL its button leads to, personas who see it)
    ("/namespaces/product-miss/", "/namespaces/product-miss/delete/", {"member", "admin"}),
    ("/namespaces/legacy-session/", "/namespaces/legacy-session/delete/", {"other_member", "admin"}),
    ("/instances/staging-loyalty-cache/", "/instances/staging-loyalty-cache/delete/", {"admin"}),
    ("/teams/", "/teams/catalog/delete/", {"admin"}),
]


@pytest.mark.parametrize("page, target, allowed", BUTTONS, ids=[b[1] for b in BUTTONS])
@pytest.mark.parametrize("persona", ["member", "other_member", "admin", "viewer"])
def test_the_delete_button_is_shown_to_those_allowed_only(client, users, page, target, allowed, persona):
    body = _as(client, users[persona]).get(page).content.decode()
    assert (f'href="{target}"' in body) == (persona in allowed)


# Who may open and use the confirmation page ------------------------------------------------------

PAGES = [
    ("/namespaces/product-miss/delete/", {"member", "admin"}, lambda: Namespace.objects.filter(name="product-miss")),
    ("/instances/staging-loyalty-cache/delete/", {"admin"}, lambda: Instance.objects.filter(name="staging-loyalty-cache")),
    ("/teams/empty/delete/", {"admin"}, lambda: Team.objects.filter(name="empty")),
]  # fmt: skip


@pytest.mark.parametrize("url, allowed, rows", PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("persona", ["anonymous", "member", "other_member", "admin", "viewer"])
def test_only_those_allowed_confirm_and_delete(client, users, url, allowed, rows, persona):
    Team.objects.create(name="empty")
    if persona != "anonymous":
        _as(client, users[persona])
    get, post = client.get(url), client.post(url)
    if persona == "anonymous":
        assert get.status_code == post.status_code == 302
        assert post["Location"].startswith("/login/")
        assert rows().exists()
    elif persona in allowed:
        assert get.status_code == 200 and "Delete" in get.content.decode()
        assert post.status_code == 302
        assert not rows().exists()
    else:
        assert get.status_code == post.status_code == 403
        # The refusal says why, inside the layout.
        assert "data-reason" in post.content.decode() and "delete" in post.content.decode()
        assert rows().exists()


def test_the_confirmation_says_what_goes_and_the_post_deletes_audits_and_redirects(client, member):
    findings_refresh()
    assert DesignFinding.objects.filter(target="namespace:recommendations").exists()
    _as(client, member)
    page = client.get("/namespaces/recommendations/delete/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "Delete namespace" in body and "prod:catalog:recs:&lt;product_id:int&gt;" in body
    assert "cannot be deleted yet" not in body and 'name="csrfmiddlewaretoken"' in body

    response = client.post("/namespaces/recommendations/delete/", follow=True)
    assert response.redirect_chain == [("/namespaces/", 302)]
    assert "Namespace recommendations deleted." in response.content.decode()
    assert not Namespace.objects.filter(name="recommendations").exists()
    (event,) = _delete_events("namespace", "recommendations")
    assert event.actor == member and event.after is None
    assert event.before["pattern"] == "prod:catalog:recs:<product_id:int>"
    # The stored findings follow the delete.
    assert not DesignFinding.objects.filter(target="namespace:recommendations").exists()


def test_the_post_needs_its_csrf_token(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post("/namespaces/product-miss/delete/")
    assert response.status_code == 403
    assert Namespace.objects.filter(name="product-miss").exists()


# Refused while others depend on it ---------------------------------------------------------------

REFUSALS = [
    ("/namespaces/cart-totals/delete/", "namespace 'cart-totals' is in multi_key_with of 1 namespace (cart-items)"),
    ("/namespaces/search-results/delete/", "namespace 'search-results' has waivers (TTL001)"),
    ("/instances/prod-checkout-state/delete/", "instance 'prod-checkout-state' still hosts 7 namespaces (cart-items, cart-totals, checkout-lock, idempotency, order-events, …)"),
    ("/instances/dev-shared-cache/delete/", "instance 'dev-shared-cache' has waivers (INS004)"),
    ("/teams/platform/delete/", "team 'platform' still owns 2 namespaces (feature-flags, rate-limit)"),
]  # fmt: skip


@pytest.mark.parametrize("url, reason", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_delete_is_refused_with_the_reason_while_dependants_exist(
    client, admin_user, demo_registry, url, reason
):
    _as(client, admin_user)
    events = AuditEvent.objects.count()
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "cannot be deleted yet" in body and reason.replace("'", "&#x27;") in body
    assert "disabled" in body  # the button does not invite a click that cannot work

    response = client.post(url)
    assert response.status_code == 409
    body = response.content.decode()
    assert "was not deleted" in body and reason.replace("'", "&#x27;") in body
    assert AuditEvent.objects.count() == events
    kind, name = url.split("/")[1], url.split("/")[2]
    model = {"namespaces": Namespace, "instances": Instance, "teams": Team}[kind]
    assert model.objects.filter(name=name).exists()


def test_a_team_with_a_review_history_is_kept(client, admin_user, demo_registry):
    from advisor.reviews.models import Review

    team = Team.objects.create(name="retired")
    Review.objects.create(team=team, number=1, content_hash="0" * 64)
    _as(client, admin_user)
    response = client.post("/teams/retired/delete/")
    assert response.status_code == 409
    assert "1 design review, kept as its review history" in response.content.decode()
    assert Team.objects.filter(name="retired").exists()


def test_each_reason_is_listed_when_there_are_several(client, admin_user, demo_registry):
    from advisor.registry.models import Waiver

    Waiver.objects.create(rule="TTL002", target="namespace:cart-totals", reason="r", expires="2030-01-01")
    _as(client, admin_user)
    body = client.get("/namespaces/cart-totals/delete/").content.decode()
    assert body.count("<li>") >= 2 and "multi_key_with of 1 namespace" in body and "waivers (TTL002)" in body


def test_deleting_an_instance_takes_its_schedule_and_scan_history(client, admin_user, demo_registry):
    from django_celery_beat.models import PeriodicTask

    from advisor.scans.models import ScanRun
    from advisor.scans.schedules import schedule_ensure

    instance = Instance.objects.get(name="staging-loyalty-cache")
    instance.connection_url = "redis://127.0.0.1:6390/0"
    instance.connection_credential = "none"
    instance.save()
    task = schedule_ensure(instance)
    ScanRun.objects.create(instance=instance, status="failed")
    _as(client, admin_user)
    body = client.get("/instances/staging-loyalty-cache/delete/").content.decode()
    assert "1 scan run" in body and "scan schedule" in body

    response = client.post("/instances/staging-loyalty-cache/delete/")
    assert response.status_code == 302 and response["Location"] == "/instances/"
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert not ScanRun.objects.filter(instance__name="staging-loyalty-cache").exists()
    (event,) = _delete_events("instance", "staging-loyalty-cache")
    assert event.before["connection"] == {"url": "redis://127.0.0.1:6390/0", "credential": "none"}


def test_deleting_a_team_records_its_members(client, admin_user, member):
    team = Team.objects.create(name="short-lived", contact="sl@example.com")
    team.members.add(member)
    _as(client, admin_user)
    body = client.get("/teams/short-lived/delete/").content.decode()
    assert "sl@example.com" in body and "membership of its 1 member" in body
    response = client.post("/teams/short-lived/delete/", follow=True)
    assert response.redirect_chain == [("/teams/", 302)]
    assert "Team short-lived deleted." in response.content.decode()
    (event,) = _delete_events("team", "short-lived")
    assert event.before == {"name": "short-lived", "contact": "sl@example.com", "members": ["mia-member"]}


@pytest.mark.parametrize("status", ["queued", "running"])
def test_an_instance_with_a_scan_queued_or_running_is_kept(client, admin_user, demo_registry, status):
    from advisor.scans.models import ScanRun

    instance = Instance.objects.get(name="staging-loyalty-cache")
    ScanRun.objects.create(instance=instance, status="completed")
    run = ScanRun.objects.create(instance=instance, status=status)
    reason = (
        f"instance 'staging-loyalty-cache' has scan #{run.number} {status}; "
        "wait for it to end or cancel it on Live scans first"
    )
    _as(client, admin_user)
    body = client.get("/instances/staging-loyalty-cache/delete/").content.decode()
    assert "cannot be deleted yet" in body and reason.replace("'", "&#x27;") in body
    response = client.post("/instances/staging-loyalty-cache/delete/")
    assert response.status_code == 409 and reason.replace("'", "&#x27;") in response.content.decode()
    response = client.delete("/api/instances/staging-loyalty-cache")
    assert response.status_code == 409 and reason in response.json()["detail"]
    assert Instance.objects.filter(name="staging-loyalty-cache").exists()
    assert ScanRun.objects.filter(pk=run.pk, status=status).exists()
    assert _delete_events("instance", "staging-loyalty-cache") == []

    # Once the scan has ended, the instance goes, its scan history with it.
    ScanRun.objects.filter(pk=run.pk).update(status="completed")
    assert client.post("/instances/staging-loyalty-cache/delete/").status_code == 302
    assert not ScanRun.objects.filter(instance__name="staging-loyalty-cache").exists()


def test_two_active_scans_are_named_together(admin_user, demo_registry):
    from advisor.registry import writes
    from advisor.scans.models import ScanRun

    instance = Instance.objects.get(name="staging-loyalty-cache")
    running = ScanRun.objects.create(instance=instance, status="running")
    queued = ScanRun.objects.create(instance=instance, status="queued")
    assert writes.delete_blockers(instance) == [
        f"instance 'staging-loyalty-cache' has scans #{running.number} running, #{queued.number} queued; "
        "wait for them to end or cancel them on Live scans first"
    ]
    # Other rows are not the scans' business.
    assert writes.delete_blockers(Team.objects.get(name="catalog")) == writes._team_blockers(
        Team.objects.get(name="catalog")
    )
