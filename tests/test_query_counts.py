"""Every list, the compliance page and a team's review page take as many queries for a registry
three times as large: more teams, instances, namespaces (the reviewed team's own too), findings,
waivers, reviews, waiver requests, scans and audit events. Timings belong in bench/web.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advisor.core import design as core
from advisor.findings.models import DesignFinding
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import design_import
from advisor.reviews import services as reviews
from advisor.reviews.models import Review, WaiverRequest
from advisor.scans.models import ScanRun

pytestmark = pytest.mark.django_db

N = 2

LISTS = [
    "/namespaces/",
    "/instances/",
    "/teams/",
    "/findings/",
    "/reviews/",
    "/waivers/",
    "/rules/",
    "/audit/",
    "/compliance/",
    "/teams/team-00/review/",
    "/api/teams",
    "/api/instances",
    "/api/namespaces",
    "/api/findings",
    "/api/reviews",
    "/api/waivers",
    "/api/waiver-requests",
    "/api/scans",
]


def _design(size: int) -> core.Design:
    """`size` teams and instances; team-00 owns `size` namespaces, every other team two. Each
    namespace keeps keys without TTL (TTL001, high), so each has a finding to count and waive."""
    teams = [core.Team(name=f"team-{t:02d}") for t in range(size)]
    instances = [
        core.Instance(
            name=f"prod-cache-{i:02d}",
            environment="prod",
            product="azure-managed-redis",
            tier="balanced",
            memory_gb=12,
            shards=2,
            clustering="oss",
            high_availability=True,
            persistence="none",
            geo_replication=False,
            eviction_policy="allkeys-lru",
            auth="entra-id",
            tls=True,
            public_network_access=False,
        )
        for i in range(size)
    ]
    owners = [(0, n) for n in range(size)] + [(t, n) for t in range(1, size) for n in range(2)]
    namespaces = [
        core.Namespace(
            name=f"ns-{t:02d}-{n:02d}",
            team=f"team-{t:02d}",
            instance=f"prod-cache-{(t + n) % size:02d}",
            pattern=f"prod:team{t}:item{n}:v1:<id:int>",
            classification="disposable",
            data_type="string",
            ttl={"mode": "none"},
            value_bytes={"typical": 100, "max": 1000},
            cardinality=1000,
            ops_per_sec={"reads": 10, "writes": 1},
            data_classification="internal",
            source_of_truth="orders-db",
        )
        for t, n in owners
    ]
    return core.Design(version=1, teams=teams, instances=instances, namespaces=namespaces)


@pytest.fixture
def people(django_user_model):
    admin = django_user_model.objects.create_user(
        "ada-admin", password="pw", is_staff=True, is_superuser=True
    )
    member = django_user_model.objects.create_user("max-member", password="pw")
    reviewer = django_user_model.objects.create_user("rob-reviewer", password="pw")
    reviewer.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return admin, member, reviewer


def _grow(size: int, people) -> None:
    """The registry at `size` (rows added to what is there), and for each new instance a scan, for
    each new team a review (approved, but team-00's, in review) and a stand-alone waiver request."""
    _, member, reviewer = people
    design_import(_design(size))
    for instance in Instance.objects.exclude(scan_runs__isnull=False):
        names = list(instance.namespaces.values_list("name", flat=True))
        ScanRun.objects.create(
            instance=instance,
            status=ScanRun.Status.COMPLETED,
            complete=True,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            keys_scanned=100,
            report={
                "namespaces": [{"name": n, "keys": 10, "without_ttl": 10} for n in names],
                "findings": [_drift(n) for n in names],
            },
            findings_total=len(names),
        )
    today = timezone.localdate()
    expires = today + dt.timedelta(days=60)
    for team in Team.objects.filter(reviews__isnull=True).order_by("name"):
        team.members.add(member)
        asks = [
            reviews.WaiverAsk(f.rule, f.target, "Until the fix ships", expires)
            for f in reviews.blocking_findings(reviews.team_findings(team, today=today))
        ]
        review = reviews.review_submit(team=team, user=member, waivers=asks, today=today)
        if team.name != "team-00":
            reviews.review_approve(review=review, user=reviewer, expected_hash=review.content_hash)
        first = team.namespaces.order_by("name").first()
        reviews.waiver_request_create(
            team=team,
            user=member,
            rule="DRF001",
            target=f"namespace:{first.name}",
            reason="The writer is being fixed",
            expires=expires,
        )


def _drift(namespace: str) -> dict:
    return {
        "rule": "DRF001",
        "severity": "medium",
        "title": "Keys without TTL",
        "target": f"namespace:{namespace}",
        "related": [],
        "message": "10 keys have no TTL.",
        "remediation": "Set a TTL.",
        "waived": False,
        "waiver": None,
    }


def _queries(client, url: str) -> int:
    assert client.get(url).status_code == 200, url  # first: caches warm, anything stale recomputed
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("viewer", ["admin", "member", "reviewer"])
def test_a_list_takes_as_many_queries_for_three_times_the_rows(client, people, viewer):
    user = dict(zip(["admin", "member", "reviewer"], people, strict=True))[viewer]
    client.force_login(user)
    _grow(N, people)
    few = {url: _queries(client, url) for url in LISTS}
    rows = (Namespace.objects.count(), DesignFinding.objects.count(), Review.objects.count())
    _grow(3 * N, people)
    assert Namespace.objects.count() > 2 * rows[0] and DesignFinding.objects.count() > 2 * rows[1]
    assert Review.objects.count() == 3 * rows[2] and Waiver.objects.count() > 2 * N
    assert WaiverRequest.objects.filter(review=None, state="pending").count() == 3 * N
    many = {url: _queries(client, url) for url in LISTS}
    assert {url: many[url] for url in LISTS if many[url] != few[url]} == {}, few
