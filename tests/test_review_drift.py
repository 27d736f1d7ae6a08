"""Reviews see reality: the drift of the latest complete scan beside the design's findings.

The drift lab (tests/scan_fixtures.py) is loaded into a private redis-server and scanned for real;
the identity team's namespaces there hold e-mail addresses in key names (DRF006, high) and the
server's eviction policy differs from the design (DRF007, high, on the instance).
"""

import datetime as dt
import re

import pytest
import redis
from django.utils import timezone

from advisor.accounts.models import ApiToken
from advisor.registry.models import Instance, Team, Waiver
from advisor.registry.services import design_import
from advisor.reviews import services
from advisor.reviews.models import ReviewState
from advisor.reviews.report import review_markdown
from advisor.scans import services as scans
from advisor.scans.models import ScanRun
from tests.scan_fixtures import drift_design, drift_server, load_drift_keyspace

pytestmark = pytest.mark.django_db

IDENTITY_DRIFT_HIGH = {("DRF006", "namespace:user-by-email"), ("DRF007", "instance:lab-cache")}


@pytest.fixture(scope="module")
def lab_server():
    with drift_server() as server:
        load_drift_keyspace(redis.Redis(port=server.port), misses=0)
        yield server


@pytest.fixture
def identity(lab_server, db, django_user_model):
    design_import(drift_design(lab_server.url))
    team = Team.objects.get(name="identity")
    team.members.add(django_user_model.objects.create_user("ida-identity", password="pw"))
    return team


@pytest.fixture
def ida(identity):
    return identity.members.get()


def _scan() -> ScanRun:
    run = scans.scan_run_create(instance=Instance.objects.get(name="lab-cache"), enqueue=False)
    run = scans.scan_run_execute(run=run, options=scans.scan_options())
    assert run.status == ScanRun.Status.COMPLETED and run.complete, run.reason
    return run


def _asks(team, *, drift=True):
    """A waiver request for each blocking design finding, and for blocking drift if `drift`."""
    expires = timezone.localdate() + dt.timedelta(days=30)
    blocking = services.blocking_findings(services.team_findings(team))
    if drift:
        blocking += services.blocking_drift(services.snapshot_drift(services.team_snapshot(team)))
    return [services.WaiverAsk(f.rule, f.target, f"Known: {f.rule}", expires) for f in blocking]


def _auth(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user=user, name='t')[1]}"}


def test_drift_is_that_of_the_teams_namespaces_and_their_instances_in_the_latest_complete_scan(identity):
    old = _scan()
    run = _scan()
    drift = services.snapshot_drift(services.team_snapshot(identity))
    [entry] = drift["instances"]
    assert entry["instance"] == "lab-cache" and entry["scan"] == run.pk != old.pk
    found = {(f["rule"], f["target"]) for f in entry["findings"]}
    # The identity team's namespaces and the instance; never the catalog team's product-cache.
    assert IDENTITY_DRIFT_HIGH <= found and ("DRF008", "namespace:rate-limits") in found
    assert not any(t.endswith("product-cache") or t.endswith("retired") for _, t in found)
    assert {(f.rule, f.target) for f in services.blocking_drift(drift)} == IDENTITY_DRIFT_HIGH


def test_an_instance_never_scanned_is_said_so_and_a_failed_or_partial_scan_does_not_count(identity, ida):
    ScanRun.objects.create(instance=Instance.objects.get(name="lab-cache"), status="failed", reason="refused")
    ScanRun.objects.create(
        instance=Instance.objects.get(name="lab-cache"), status="completed", complete=False
    )
    drift = services.snapshot_drift(services.team_snapshot(identity))
    assert drift["instances"] == [
        {"instance": "lab-cache", "scan": None, "scan_number": None, "finished_at": None, "findings": []}
    ]
    review = services.review_submit(team=identity, user=ida, waivers=_asks(identity, drift=False))
    assert review.drift["instances"][0]["scan"] is None


def test_high_drift_blocks_a_submission_until_waivers_are_requested(identity, ida):
    _scan()
    with pytest.raises(services.SubmissionBlocked, match="in the latest scans") as exc:
        services.review_submit(team=identity, user=ida, waivers=_asks(identity, drift=False))
    assert IDENTITY_DRIFT_HIGH <= {(f.rule, f.target) for f in exc.value.findings}
    review = services.review_submit(team=identity, user=ida, waivers=_asks(identity))
    assert review.state == ReviewState.IN_REVIEW
    assert IDENTITY_DRIFT_HIGH <= {(wr.rule, wr.target) for wr in review.waiver_requests.all()}


def test_high_drift_found_after_submission_blocks_approval_unless_waived(identity, ida, reviewer):
    review = services.review_submit(team=identity, user=ida, waivers=_asks(identity, drift=False))
    _scan()  # the nightly scan runs while the revision waits for its reviewer
    with pytest.raises(services.ReviewError, match="Approval refused: the latest scans show 2") as exc:
        services.review_approve(review=review, user=reviewer, expected_hash=review.content_hash)
    assert "DRF006 on namespace:user-by-email" in str(exc.value)
    review.refresh_from_db()
    assert review.state == ReviewState.IN_REVIEW and review.decided_by is None  # rolled back

    # Sent back; the team resubmits with waiver requests for the drift, and the approval goes through.
    services.review_request_changes(
        review=review, user=reviewer, expected_hash=review.content_hash, comment="E-mails in keys."
    )
    review.refresh_from_db()
    assert review.drift["instances"][0]["scan"] is not None  # what the reviewer saw is frozen
    second = services.review_submit(team=identity, user=ida, waivers=_asks(identity))
    approved = services.review_approve(review=second, user=reviewer, expected_hash=second.content_hash)
    assert approved.state == ReviewState.APPROVED
    assert Waiver.objects.filter(rule="DRF006", target="namespace:user-by-email").exists()
    # Frozen at the decision, with the waivers the approval itself created.
    approved.refresh_from_db()
    assert not services.blocking_drift(approved.drift)
    assert {f["rule"] for f in services.drift_findings(approved.drift) if f["waived"]} >= {"DRF006", "DRF007"}


def test_a_resubmission_starts_from_the_earlier_requests(identity, ida, reviewer):
    _scan()
    first = services.review_submit(team=identity, user=ida, waivers=_asks(identity))
    services.review_request_changes(
        review=first, user=reviewer, expected_hash=first.content_hash, comment="Shorter expiry please."
    )
    second = services.review_submit(team=identity, user=ida)  # no waivers given: carried over
    assert {(w.rule, w.target, w.reason) for w in second.waiver_requests.all()} == {
        (w.rule, w.target, w.reason) for w in first.waiver_requests.all()
    }
    assert set(first.waiver_requests.values_list("state", flat=True)) == {"withdrawn"}


def test_the_page_form_starts_from_the_earlier_requests(client, identity, ida, reviewer):
    _scan()
    first = services.review_submit(team=identity, user=ida, waivers=_asks(identity))
    services.review_request_changes(
        review=first, user=reviewer, expected_hash=first.content_hash, comment="Fix the keys."
    )
    client.force_login(ida)
    body = client.get("/teams/identity/review/").content.decode()
    assert body.count("Known: DRF006") == 1 and "Requested with revision 1" in body
    assert 'data-instance="lab-cache" data-scanned="yes"' in body


def test_the_page_api_report_and_markdown_show_the_drift_with_the_scan(client, identity, ida, reviewer):
    run = _scan()
    review = services.review_submit(team=identity, user=ida, waivers=_asks(identity))
    client.force_login(reviewer)
    page = client.get(review.get_absolute_url()).content.decode()
    report = client.get(f"/reviews/{review.pk}/report/").content.decode()
    for body in (page, report):
        assert "Drift in the latest scans" in body and f"/scans/{run.pk}/" in body
        assert 'data-rule="DRF006"' in body and 'data-drift="1"' in body
        assert run.finished_at.strftime("%Y-%m-%d") in body
        visible = re.sub(r"<(code|pre|script)[^>]*>.*?</\1>", "", body, flags=re.S)
        assert "`" not in re.sub(r"<[^>]+>", "", visible)
    # Raw e-mail addresses never reach the page: examples are masked.
    assert "user1@example.com" not in page

    data = client.get(f"/api/reviews/{review.pk}", **_auth(reviewer)).json()
    assert data["drift"]["live"] is True
    [entry] = data["drift"]["instances"]
    assert entry["scan"] == run.pk and entry["instance"] == "lab-cache"
    assert IDENTITY_DRIFT_HIGH <= {(f["rule"], f["target"]) for f in entry["findings"]}

    md = review_markdown(review)
    assert (
        "## Drift in the latest scans" in md and f"scan #{run.number} of" in md and "| high | DRF006 |" in md
    )
    assert f"scan #{run.number} of" in page


def test_a_waiver_approved_after_the_scan_counts_and_an_expired_one_does_not(identity):
    _scan()
    Waiver.objects.create(
        rule="DRF007",
        target="instance:lab-cache",
        reason="Policy set by platform",
        expires=timezone.localdate(),
    )
    Waiver.objects.create(
        rule="DRF006",
        target="namespace:user-by-email",
        reason="old",
        expires=timezone.localdate() - dt.timedelta(days=1),
    )
    drift = services.snapshot_drift(services.team_snapshot(identity))
    by_key = {(f["rule"], f["target"]): f for f in drift["instances"][0]["findings"]}
    assert by_key[("DRF007", "instance:lab-cache")]["waived"] is True
    assert by_key[("DRF006", "namespace:user-by-email")]["waived"] is False
    assert {(f.rule, f.target) for f in services.blocking_drift(drift)} == {
        ("DRF006", "namespace:user-by-email")
    }


def test_a_waiver_request_may_name_the_instance_hosting_the_teams_namespaces_but_no_other(identity, ida):
    _scan()
    expires = timezone.localdate() + dt.timedelta(days=10)
    wr = services.waiver_request_create(
        team=identity,
        user=ida,
        rule="DRF007",
        target="instance:lab-cache",
        reason="Platform policy",
        expires=expires,
    )
    assert wr.state == "pending"
    with pytest.raises(services.ReviewError, match="nor an instance hosting them"):
        services.waiver_request_create(
            team=identity,
            user=ida,
            rule="DRF002",
            target="namespace:product-cache",
            reason="x",
            expires=expires,
        )
