"""Lists that grow with the registry show 50 rows a page: instances, teams, and the active and
expired waivers (each paged on its own)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from advisor.registry.models import Instance, Team, Waiver

pytestmark = pytest.mark.django_db


def _instance(name: str) -> Instance:
    return Instance.objects.create(
        name=name,
        environment="dev",
        product="redis-oss",
        memory_gb=1,
        clustering="none",
        eviction_policy="allkeys-lru",
        auth="none",
        tls=True,
    )


def test_the_instance_list_shows_50_a_page(client, viewer):
    for i in range(60):
        _instance(f"cache-{i:02d}")
    client.force_login(viewer)
    first = client.get("/instances/")
    assert [i.name for i in first.context["instances"]][-1] == "cache-49"
    assert "60 instances" in first.content.decode() and "Page 1 of 2" in first.content.decode()
    second = client.get("/instances/", {"page": 2})
    assert [i.name for i in second.context["instances"]] == [f"cache-{i}" for i in range(50, 60)]
    fragment = client.get("/instances/", {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "cache-59" in fragment


def test_the_team_list_shows_50_a_page(client, viewer):
    Team.objects.bulk_create([Team(name=f"team-{t:02d}") for t in range(55)])
    client.force_login(viewer)
    body = client.get("/teams/").content.decode()
    assert "team-49" in body and "team-50" not in body and "55 teams" in body
    assert "team-54" in client.get("/teams/", {"page": 2}).content.decode()


def test_active_and_expired_waivers_page_on_their_own(client, viewer):
    today = timezone.localdate()
    Waiver.objects.bulk_create(
        [
            Waiver(
                rule="TTL001",
                target=f"namespace:ns-{i:02d}",
                reason="r",
                expires=today + dt.timedelta(days=i),
            )
            for i in range(1, 56)
        ]
        + [
            Waiver(
                rule="VAL001",
                target=f"namespace:ns-{i:02d}",
                reason="r",
                expires=today - dt.timedelta(days=i),
            )
            for i in range(1, 4)
        ]
    )
    client.force_login(viewer)
    response = client.get("/waivers/")
    body = response.content.decode()
    assert len(response.context["active"]) == 50 and len(response.context["expired"]) == 3
    assert "Active (55)" in body and "Expired (3)" in body
    assert 'href="?page=2&amp;expired_page=1"' in body
    second = client.get("/waivers/", {"page": 2, "expired_page": 1})
    assert [w.target for w in second.context["active"]] == [f"namespace:ns-{i}" for i in range(51, 56)]
    assert len(second.context["expired"]) == 3
