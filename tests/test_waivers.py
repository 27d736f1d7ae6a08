"""Waivers: granting, renewing and revoking them, who may, and what they do to findings."""

import datetime as dt

import pytest

from advisor.findings import clock, services
from advisor.findings.models import DesignFinding
from advisor.findings.tasks import findings_refresh_task
from advisor.registry import permissions
from advisor.registry.models import Waiver

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)
TARGET = "namespace:search-results"


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def ttl001():
    return DesignFinding.objects.get(rule="TTL001", target=TARGET)


def grant(client, **overrides):
    data = {
        "rule": "TTL001",
        "target": TARGET,
        "reason": "Results are rebuilt nightly; a TTL comes with the search rewrite",
        "expires": "2027-01-31",
        **overrides,
    }
    return client.post("/waivers/new/", data)


def test_only_administrators_manage_waivers(admin_user, member, viewer):
    assert permissions.can_manage_waivers(admin_user)
    assert not permissions.can_manage_waivers(member)
    assert not permissions.can_manage_waivers(viewer)


def test_non_staff_cannot_create_or_delete_waivers(client, member):
    client.force_login(member)
    assert client.get("/waivers/new/").status_code == 403
    assert grant(client).status_code == 403
    waiver = Waiver.objects.first()
    assert client.post(f"/waivers/{waiver.pk}/delete/").status_code == 403
    assert Waiver.objects.filter(pk=waiver.pk).exists()
    assert client.get("/waivers/").status_code == 200  # everyone may read them


def test_a_waiver_makes_the_finding_waived(client, admin_user, demo_registry):
    services.findings_refresh()
    assert not ttl001().waived  # the demo's own waiver of it has expired
    client.force_login(admin_user)
    response = grant(client, next="/namespaces/search-results/")
    assert response.status_code == 302 and response["Location"] == "/namespaces/search-results/"

    finding = ttl001()
    assert finding.waived
    assert finding.waiver == {
        "reason": "Results are rebuilt nightly; a TTL comes with the search rewrite",
        "expires": "2027-01-31",
        "approved_by": admin_user.get_username(),  # recorded from the login, not typed in
    }
    body = client.get("/namespaces/search-results/").content.decode()
    assert "waived" in body and "Waived until <strong>2027-01-31</strong>" in body
    assert "Results are rebuilt nightly" in body
    assert "TTL001" not in {f.rule for f in client.get("/findings/").context["page"].object_list}


def test_granting_renews_the_existing_waiver_of_the_same_rule_and_target(client, admin_user, demo_registry):
    expired = Waiver.objects.get(rule="TTL001", target=TARGET)
    assert expired.expires < TODAY
    client.force_login(admin_user)
    form = client.get("/waivers/new/", {"rule": "TTL001", "target": TARGET})
    assert form.context["existing"] == expired and "already exists" in form.content.decode()
    assert grant(client).status_code == 302
    assert Waiver.objects.filter(rule="TTL001", target=TARGET).count() == 1
    renewed = Waiver.objects.get(pk=expired.pk)
    assert renewed.expires == dt.date(2027, 1, 31) and renewed.created_by == admin_user
    assert ttl001().waived


def test_an_expired_waiver_does_not_waive(admin_user, demo_registry):
    Waiver.objects.filter(rule="TTL001", target=TARGET).update(expires=TODAY - dt.timedelta(days=1))
    services.findings_refresh()
    finding = ttl001()
    assert not finding.waived and finding.waiver is None


def test_a_waiver_applies_through_its_expiry_day_and_lapses_the_next(
    client, viewer, demo_registry, monkeypatch
):
    Waiver.objects.filter(rule="TTL001", target=TARGET).update(expires=TODAY)
    findings_refresh_task()
    assert ttl001().waived
    monkeypatch.setattr(clock, "today", lambda: TODAY + dt.timedelta(days=1))
    client.force_login(viewer)
    # A new day: until the nightly job has run, the page says how old the findings are ...
    assert "Findings as of" in client.get("/findings/").content.decode()
    assert ttl001().waived
    findings_refresh_task()  # ... and once it has, the waiver has lapsed
    assert not ttl001().waived


def test_revoking_a_waiver_unwaives_the_finding(client, admin_user, demo_registry):
    waiver = Waiver.objects.get(rule="INS004")
    services.findings_refresh()
    assert DesignFinding.objects.get(rule="INS004").waived
    client.force_login(admin_user)
    response = client.post(f"/waivers/{waiver.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/waivers/"
    assert not Waiver.objects.filter(pk=waiver.pk).exists()
    assert not DesignFinding.objects.get(rule="INS004").waived
    assert client.get(f"/waivers/{waiver.pk}/delete/").status_code == 405


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"rule": "TTL999"}, "rule", "There is no rule TTL999."),
        ({"target": "namespace:nope"}, "target", "There is no namespace named nope."),
        ({"target": "cluster:prod"}, "target", "Use namespace:NAME or instance:NAME."),
        ({"expires": "2026-11-25"}, "expires", "in the past"),
        ({"reason": ""}, "reason", "required"),
    ],
)
def test_the_form_refuses_waivers_that_could_not_apply(
    client, admin_user, demo_registry, overrides, field, message
):
    client.force_login(admin_user)
    response = grant(client, **overrides)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])


def test_the_form_normalises_the_rule_id(client, admin_user, demo_registry):
    client.force_login(admin_user)
    assert grant(client, rule=" ttl001 ", target="instance:prod-catalog-cache").status_code == 302
    assert Waiver.objects.filter(rule="TTL001", target="instance:prod-catalog-cache").exists()


def test_the_waive_button_opens_the_form_prefilled(client, admin_user, demo_registry):
    services.findings_refresh()
    client.force_login(admin_user)
    body = client.get("/namespaces/user-by-email/").content.decode()
    assert (
        "/waivers/new/?rule=KEY003&amp;target=namespace%3Auser-by-email&amp;next=/namespaces/user-by-email/"
        in body
    )
    form = client.get("/waivers/new/", {"rule": "KEY003", "target": "namespace:user-by-email"}).context[
        "form"
    ]
    assert form.initial["rule"] == "KEY003" and form.initial["target"] == "namespace:user-by-email"
    assert "approved_by" not in form.fields


def test_nobody_waives_their_own_teams_findings(client, member, demo_registry):
    from django.contrib.auth.models import Group

    member.groups.add(Group.objects.get_or_create(name="reviewers")[0])  # a reviewer in the catalog team
    client.force_login(member)
    assert grant(client).status_code == 403  # search-results belongs to catalog
    assert not Waiver.objects.filter(rule="TTL001", target=TARGET, expires__gt=TODAY).exists()


def test_a_waiver_runs_at_most_366_days(client, admin_user, demo_registry):
    import datetime as dt

    client.force_login(admin_user)
    response = grant(client, expires=(TODAY + dt.timedelta(days=367)).isoformat())
    assert response.status_code == 200 and "at most 366 days" in response.content.decode()


def test_an_offsite_next_is_ignored(client, admin_user, demo_registry):
    client.force_login(admin_user)
    response = grant(client, target="namespace:user-by-email", rule="KEY003", next="https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/waivers/"


def test_the_list_separates_active_and_expired_waivers(client, viewer, demo_registry):
    client.force_login(viewer)
    response = client.get("/waivers/")
    assert [w.rule for w in response.context["active"]] == ["INS004"]
    assert [(w.rule, w.target) for w in response.context["expired"]] == [("TTL001", TARGET)]
    body = response.content.decode()
    assert "Active (1)" in body and "Expired (1)" in body
    assert "Revoke" not in body  # viewers see no management buttons


def test_the_list_shows_management_buttons_to_staff(client, admin_user, demo_registry):
    client.force_login(admin_user)
    body = client.get("/waivers/").content.decode()
    assert "Revoke" in body and "New waiver" in body and 'hx-confirm="Revoke the waiver' in body


def test_the_list_has_empty_states(client, viewer, db):
    client.force_login(viewer)
    body = client.get("/waivers/").content.decode()
    assert "No active waivers." in body and "No expired waivers." in body


def test_not_even_a_superuser_waives_their_own_teams_findings(client, admin_user, demo_registry):
    from advisor.registry.models import Team

    Team.objects.get(name="catalog").members.add(admin_user)
    client.force_login(admin_user)
    assert grant(client).status_code == 403  # search-results belongs to catalog
    assert not Waiver.objects.filter(rule="TTL001", target=TARGET, expires__gt=TODAY).exists()
