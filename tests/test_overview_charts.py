"""The overview and the compliance page: findings by severity and drift over time as charts (data
right, passed with json_script, drawn by a static script), the "most frequent" list with each
rule's counts per severity, the reviews waiting on the person looking, and a number of queries
that does not grow with the registry."""

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advisor.findings import services
from advisor.findings.models import DesignFinding
from advisor.overview import selectors as overview
from advisor.registry.models import Instance, Namespace, Team
from advisor.reviews import services as reviews
from advisor.reviews.models import ReviewState
from advisor.scans.models import ScanRun

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)


def _json_script(body: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', body, re.S)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def _completed(instance, when, high, total, **extra):
    return ScanRun.objects.create(
        instance=instance,
        status=ScanRun.Status.COMPLETED,
        complete=extra.pop("complete", True),
        finished_at=when,
        findings_high=high,
        findings_total=total,
        **extra,
    )


# The "most frequent" list -------------------------------------------------------------------------


def test_a_rule_with_findings_of_two_severities_shows_both_counts(client, viewer, demo_registry):
    services.findings_ensure_fresh()
    ins003 = DesignFinding.objects.filter(rule="INS003", waived=False)
    assert sorted(ins003.values_list("severity", flat=True)) == ["high", "medium"]  # the case
    top = {r["rule"]: r for r in services.top_rules(DesignFinding.objects.all())}
    assert top["INS003"]["n"] == 2
    assert top["INS003"]["severities"] == [("high", 1), ("medium", 1)]
    for row in top.values():  # every count adds up, most severe first
        assert sum(n for _, n in row["severities"]) == row["n"]
        assert row["severities"][0][0] == row["severity"]

    client.force_login(viewer)
    body = client.get("/").content.decode()
    item = re.search(r'<li[^>]*data-rule="INS003".*?</li>', body, re.S).group(0)
    badges = re.findall(r'data-severity="(\w+)">(\d+) (\w+)<', item)
    assert badges == [("high", "1", "high"), ("medium", "1", "medium")]
    assert 'href="/findings/?rule=INS003&amp;severity=medium"' in item


def test_top_rules_takes_two_queries_whatever_the_limit(demo_registry):
    services.findings_ensure_fresh()
    with CaptureQueriesContext(connection) as few:
        services.top_rules(DesignFinding.objects.all(), limit=2)
    with CaptureQueriesContext(connection) as many:
        services.top_rules(DesignFinding.objects.all(), limit=20)
    assert len(few) == len(many) == 2


# Chart data -------------------------------------------------------------------------------------


def test_the_severity_charts_count_what_the_pages_count(client, viewer, demo_registry):
    client.force_login(viewer)
    home = client.get("/").content.decode()
    doughnut = _json_script(home, "overview-severity")
    summary = dict(services.severity_counts(DesignFinding.objects.all()))
    assert dict(zip(doughnut["severities"], doughnut["counts"], strict=True)) == summary
    assert sum(doughnut["counts"]) == DesignFinding.objects.filter(waived=False).count() > 0

    page = client.get("/compliance/")
    per_team = _json_script(page.content.decode(), "compliance-severity")
    rows = {r["team"].name: dict(r["severity_counts"]) for r in page.context["rows"]}
    assert per_team["teams"] == sorted(rows)
    for series in per_team["series"]:
        # the compliance table lints the live registry; the chart counts the stored findings
        assert series["counts"] == [rows[t][series["severity"]] for t in per_team["teams"]]
    assert any(any(s["counts"]) for s in per_team["series"])


@pytest.fixture
def fleet(demo_registry):
    """Two instances hosting namespaces and one hosting none, with a history of scans."""
    hosting = Namespace.objects.values_list("instance__name", flat=True).distinct().order_by("instance__name")
    a, b = (Instance.objects.get(name=n) for n in list(hosting)[:2])
    bare = Instance.objects.get(name=a.name)
    bare.pk, bare.name = None, "bare-cache"
    bare.save()
    _completed(a, _at(TODAY - dt.timedelta(days=40), 3), 1, 3)  # before the window: day one starts from it
    _completed(a, _at(TODAY - dt.timedelta(days=10), 9), 5, 9)
    _completed(a, _at(TODAY - dt.timedelta(days=10), 18), 2, 4)  # the latest of that day counts
    _completed(b, _at(TODAY - dt.timedelta(days=5), 12), 1, 1, complete=False)
    ScanRun.objects.create(instance=b, status=ScanRun.Status.FAILED, finished_at=_at(TODAY, 1), reason="x")
    ScanRun.objects.create(instance=b, status=ScanRun.Status.RUNNING, findings_high=50, findings_total=50)
    _completed(bare, _at(TODAY - dt.timedelta(days=3), 8), 7, 7)
    return a, b, bare


def _by_day(history) -> dict:
    return {
        day: (high, total, n)
        for day, high, total, n in zip(
            history["labels"], history["high"], history["total"], history["instances"], strict=True
        )
    }


def test_drift_history_sums_each_instances_latest_completed_scan_per_day(fleet):
    history = overview.drift_history(today=TODAY)
    assert len(history["labels"]) == overview.DRIFT_DAYS and history["labels"][-1] == TODAY.isoformat()
    days = _by_day(history)

    def on(offset):
        return days[(TODAY - dt.timedelta(days=offset)).isoformat()]

    assert on(29) == on(11) == (1, 3, 1)  # only the scan from before the window
    assert on(10) == on(6) == (2, 4, 1)  # the evening scan of day -10, not the morning one
    assert on(5) == on(4) == (3, 5, 2)  # the second instance joins (incomplete scans count)
    assert on(3) == on(0) == (10, 12, 3)  # the instance hosting no namespace too, on the overview
    covered = _by_day(overview.drift_history(today=TODAY, hosting_namespaces=True))
    assert covered[TODAY.isoformat()] == (3, 5, 2)  # the compliance page leaves it out


def test_drift_history_without_scans_has_no_data_and_the_pages_say_so(client, viewer, demo_registry):
    history = overview.drift_history(today=TODAY)
    assert not history["has_data"] and set(history["high"]) == {None}
    client.force_login(viewer)
    for url in ("/", "/compliance/"):
        body = client.get(url).content.decode()
        assert "drift-history" not in body and "No completed scan yet." in body


def test_the_pages_pass_the_drift_history_and_load_the_charts_from_static_files(client, viewer, fleet):
    client.force_login(viewer)
    today = timezone.localdate()
    home = client.get("/").content.decode()
    assert _json_script(home, "overview-drift") == overview.drift_history(today=today)
    compliance = client.get("/compliance/").content.decode()
    assert _json_script(compliance, "compliance-drift") == overview.drift_history(
        today=today, hosting_namespaces=True
    )
    for body in (home, compliance):
        # no inline script: every <script> either loads a file or is a json_script data block
        for attributes, content in re.findall(r"<script([^>]*)>(.*?)</script>", body, re.S):
            assert "src=" in attributes or 'type="application/json"' in attributes, attributes
            assert "src=" not in attributes or not content.strip()
        assert '<script src="/static/advisor/charts.js" defer></script>' in body
        assert 'data-chart="drift-history"' in body
    assert 'data-chart="severity-doughnut"' in home and 'data-chart="severity-by-team"' in compliance
    assert "default-src 'self'" in client.get("/").headers["Content-Security-Policy"]


def test_the_charts_are_only_on_the_overview_and_the_compliance_page(client, viewer, demo_registry):
    client.force_login(viewer)
    for url in ("/findings/", "/reviews/", "/instances/", "/namespaces/"):
        body = client.get(url).content.decode()
        assert "advisor/charts.js" not in body and 'id="compliance-charts"' not in body


# Queries ----------------------------------------------------------------------------------------


def _grow(n: int, start: int) -> None:
    """n more teams, each with an instance, two namespaces with findings, and two completed scans."""
    template = Namespace.objects.select_related("team", "instance").get(name="search-results")
    for i in range(start, start + n):
        team = Team.objects.create(name=f"extra-{i}")
        instance = Instance.objects.get(pk=template.instance.pk)
        instance.pk, instance.name = None, f"extra-cache-{i}"
        instance.save()
        for j in range(2):
            ns = Namespace.objects.get(pk=template.pk)
            ns.pk, ns.name, ns.team, ns.instance = None, f"extra-{i}-{j}", team, instance
            ns.pattern = f"extra:{i}:{j}:<id:int>"
            ns.save()
        for days_ago in (2, 1):
            _completed(instance, timezone.now() - dt.timedelta(days=days_ago), 1, 2)
    services.findings_refresh()  # as the write services do once a change has committed


def _queries(client, url: str) -> int:
    client.get(url)  # the first request after a change fills the caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_overview_takes_as_many_queries_for_many_teams_as_for_few(client, member, reviewer):
    client.force_login(member)
    _grow(2, 0)
    few = _queries(client, "/")
    _grow(12, 2)
    assert _queries(client, "/") == few
    assert DesignFinding.objects.filter(team__name__startswith="extra-").count() >= 28  # all counted


def test_the_compliance_charts_take_as_many_queries_for_many_teams_as_for_few(demo_registry):
    """The charts' share of the compliance page (the whole page is checked in test_query_counts)."""
    template = engines["django"].from_string("{% load overview_tags %}{% compliance_charts %}")
    _grow(2, 0)
    template.render({})
    with CaptureQueriesContext(connection) as few:
        template.render({})
    _grow(12, 2)
    template.render({})
    with CaptureQueriesContext(connection) as many:
        html = template.render({})
    assert len(many) == len(few)
    teams = _json_script(html, "compliance-severity")["teams"]
    assert {f"extra-{i}" for i in range(14)} <= set(teams)


# Reviews waiting on the person looking ------------------------------------------------------------


@pytest.fixture
def sent_back(member, reviewer):
    """The catalog team's revision 1, sent back by the reviewer with a two-line comment."""
    catalog = Team.objects.get(name="catalog")
    expires = timezone.localdate() + dt.timedelta(days=60)
    asks = [
        reviews.WaiverAsk(f.rule, f.target, f"Accepted risk for {f.rule}", expires)
        for f in reviews.blocking_findings(reviews.team_findings(catalog))
    ]
    review = reviews.review_submit(team=catalog, user=member, waivers=asks)
    return reviews.review_request_changes(
        review=review,
        user=reviewer,
        expected_hash=review.content_hash,
        comment="Give `search-results` a TTL, please.\n\nThe rest can wait.",
    ), asks


def test_a_member_sees_changes_requested_on_their_review_until_they_resubmit(
    client, member, other_member, reviewer, sent_back
):
    review, asks = sent_back
    assert review.state == ReviewState.CHANGES_REQUESTED
    client.force_login(member)
    body = client.get("/").content.decode()
    notice = re.search(r'<li[^>]*data-changes-requested="\d+".*?</li>', body, re.S).group(0)
    assert "Changes requested on your review" in notice
    assert f'href="/reviews/{review.pk}/"' in notice and "catalog revision 1" in notice
    assert f"<strong>{reviewer.username}</strong>" in notice
    assert "Give <code>search-results</code> a TTL, please." in notice  # the first line, rendered
    assert "The rest can wait" not in notice and "`" not in notice

    client.force_login(other_member)  # another team's member: not theirs
    assert "data-changes-requested" not in client.get("/").content.decode()

    resubmitted = reviews.review_submit(team=review.team, user=member, waivers=asks)
    review.refresh_from_db()
    assert review.replaced_at is not None and resubmitted.state == ReviewState.IN_REVIEW
    client.force_login(member)
    assert "data-changes-requested" not in client.get("/").content.decode()


def test_a_reviewer_sees_the_revisions_they_may_decide(
    client, member, reviewer, admin_user, django_user_model, sent_back
):
    review, asks = sent_back
    client.force_login(reviewer)
    assert "data-waiting-review" not in client.get("/").content.decode()  # sent back: the team's turn
    resubmitted = reviews.review_submit(team=review.team, user=member, waivers=asks)
    body = client.get("/").content.decode()
    waiting = re.search(r'<li[^>]*data-waiting-review="(\d+)".*?</li>', body, re.S)
    assert waiting.group(1) == str(resubmitted.pk) and "catalog revision 2" in waiting.group(0)
    assert f"submitted by {member.username}" in waiting.group(0)

    client.force_login(member)  # a team member does not decide their team's review
    assert "data-waiting-review" not in client.get("/").content.decode()
    insider = django_user_model.objects.create_user("ivy-insider", password="x")
    insider.groups.add(*reviewer.groups.all())
    resubmitted.team.members.add(insider)
    client.force_login(insider)  # a reviewer inside the team neither
    assert "data-waiting-review" not in client.get("/").content.decode()


def test_the_notices_take_a_fixed_number_of_queries(member, reviewer, sent_back):
    review, asks = sent_back
    reviews.review_submit(team=review.team, user=member, waivers=asks)
    for user in (member, reviewer):
        with CaptureQueriesContext(connection) as queries:
            overview.review_notices(user)
        assert len(queries) <= 5
