"""The review API: list, get with diff and findings, submit, comment, approve, request changes;
waivers and waiver requests. Tokens and sessions both work; errors are {"detail": ...}."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from advisor.accounts.models import ApiToken
from advisor.registry.models import Namespace, Team, Waiver
from advisor.reviews import services
from advisor.reviews.models import Review, WaiverRequest

pytestmark = pytest.mark.django_db


def _auth(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user=user, name='t')[1]}"}


def _waivers(team, days=45):
    expires = (timezone.localdate() + dt.timedelta(days=days)).isoformat()
    return [
        {"rule": f.rule, "target": f.target, "reason": "accepted for now", "expires": expires}
        for f in services.blocking_findings(services.team_findings(team))
    ]


@pytest.fixture
def catalog(member):
    return Team.objects.get(name="catalog")


@pytest.fixture
def submitted(client, catalog, member):
    response = client.post(
        "/api/teams/catalog/reviews",
        {"waivers": _waivers(catalog)},
        content_type="application/json",
        **_auth(member),
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_submit_is_refused_while_high_findings_are_open(client, catalog, member):
    response = client.post("/api/teams/catalog/reviews", {}, content_type="application/json", **_auth(member))
    assert response.status_code == 409
    assert "TTL001 on namespace:search-results" in response.json()["detail"]


def test_submit_returns_the_review_with_diff_findings_and_waiver_requests(submitted):
    assert submitted["state"] == "in_review" and submitted["number"] == 1
    assert len(submitted["content_hash"]) == 64 and submitted["submitted_by"] == "mia-member"
    assert "product-cache" in submitted["diff"]["added"] and submitted["diff"]["changed"] == []
    assert {f["rule"] for f in submitted["findings"]} >= {"TTL001", "VAL001"}
    assert {w["rule"] for w in submitted["waiver_requests"]} == {"TTL001", "VAL001"}
    assert submitted["sizing"]["total_bytes"] > 0


def test_list_and_get(client, submitted, viewer):
    body = client.get("/api/reviews", **_auth(viewer)).json()
    assert body["count"] == 1 and body["items"][0]["id"] == submitted["id"]
    assert client.get("/api/reviews?state=approved", **_auth(viewer)).json()["count"] == 0
    got = client.get(f"/api/reviews/{submitted['id']}", **_auth(viewer)).json()
    assert got["content_hash"] == submitted["content_hash"] and got["snapshot"][0]["name"] == "bestsellers"
    assert client.get("/api/reviews/999", **_auth(viewer)).status_code == 404
    assert client.get("/api/reviews").status_code == 401


def test_comment_request_changes_resubmit_and_approve(client, submitted, catalog, member, reviewer):
    rid, url = submitted["id"], f"/api/reviews/{submitted['id']}"
    r = client.post(
        f"{url}/comments",
        {"body": "On TTL001", "finding_rule": "TTL001", "finding_target": "namespace:search-results"},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert r.status_code == 201 and r.json()["finding_rule"] == "TTL001"
    r = client.post(
        f"{url}/request-changes",
        {"expected_hash": submitted["content_hash"]},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert r.status_code == 422 and "comment is required" in r.json()["detail"][0]["msg"]
    r = client.post(
        f"{url}/request-changes",
        {"expected_hash": submitted["content_hash"], "comment": "Fix TTL001"},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert r.status_code == 200 and r.json()["state"] == "changes_requested"

    Namespace.objects.filter(name="search-results").update(
        ttl_mode="absolute", ttl_seconds=300, ttl_jitter_seconds=30
    )
    r = client.post(
        "/api/teams/catalog/reviews",
        {"waivers": _waivers(catalog)},
        content_type="application/json",
        **_auth(member),
    )
    second = r.json()
    assert r.status_code == 201 and second["id"] != rid and second["number"] == 2
    assert second["previous"] == rid and second["content_hash"] != submitted["content_hash"]
    new_hash = second["content_hash"]
    assert second["diff"]["added"]  # still compared with nothing: no approved revision yet
    assert [c["name"] for c in second["diff_previous"]["changed"]] == ["search-results"]
    assert [(v["number"], v["state"]) for v in second["revisions"]] == [
        (2, "in_review"),
        (1, "changes_requested"),
    ]
    # Revision 1 is still readable as it was decided.
    first = client.get(url, **_auth(reviewer)).json()
    assert first["state"] == "changes_requested" and first["content_hash"] == submitted["content_hash"]
    assert first["replaced_at"] and [c["body"] for c in first["comments"]] == ["On TTL001", "Fix TTL001"]

    stale = client.post(
        f"{url}/approve",
        {"expected_hash": submitted["content_hash"]},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert stale.status_code == 409 and "changed since you loaded it" in stale.json()["detail"]
    url = f"/api/reviews/{second['id']}"
    ok = client.post(
        f"{url}/approve", {"expected_hash": new_hash}, content_type="application/json", **_auth(reviewer)
    )
    assert (
        ok.status_code == 200
        and ok.json()["state"] == "approved"
        and ok.json()["decided_by"] == "rita-reviewer"
    )
    again = client.post(
        f"{url}/approve", {"expected_hash": new_hash}, content_type="application/json", **_auth(reviewer)
    )
    assert again.status_code == 409 and "already decided by rita-reviewer" in again.json()["detail"]


def test_self_approval_is_forbidden(client, catalog, reviewer):
    catalog.members.add(reviewer)
    r = client.post(
        "/api/teams/catalog/reviews",
        {"waivers": _waivers(catalog)},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert r.status_code == 201
    r = client.post(
        f"/api/reviews/{r.json()['id']}/approve",
        {"expected_hash": r.json()["content_hash"]},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert r.status_code == 403 and "own submission" in r.json()["detail"]


def test_waivers_and_stand_alone_waiver_requests(client, catalog, member, reviewer, viewer):
    listed = client.get("/api/waivers", **_auth(viewer)).json()
    assert {w["rule"] for w in listed["items"]} == {"INS004", "TTL001"}
    expires = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    payload = {
        "team": "catalog",
        "rule": "TTL002",
        "target": "namespace:product-content",
        "reason": "batch warm-up",
        "expires": expires,
    }
    assert (
        client.post(
            "/api/waiver-requests", payload, content_type="application/json", **_auth(viewer)
        ).status_code
        == 403
    )
    r = client.post("/api/waiver-requests", payload, content_type="application/json", **_auth(member))
    assert r.status_code == 201 and r.json()["state"] == "pending"
    dup = client.post("/api/waiver-requests", payload, content_type="application/json", **_auth(member))
    assert dup.status_code == 422 and "already pending" in dup.json()["detail"][0]["msg"]
    wid = r.json()["id"]
    assert client.get("/api/waiver-requests?state=pending", **_auth(viewer)).json()["count"] == 1
    assert client.post(f"/api/waiver-requests/{wid}/approve", **_auth(member)).status_code == 403
    r = client.post(f"/api/waiver-requests/{wid}/approve", **_auth(reviewer))
    assert (
        r.status_code == 200 and r.json()["state"] == "approved" and r.json()["decided_by"] == "rita-reviewer"
    )
    assert Waiver.objects.get(rule="TTL002").approved_by == "rita-reviewer"
    assert client.post(f"/api/waiver-requests/{wid}/reject", **_auth(reviewer)).status_code == 409


def test_invalid_input_is_a_located_422(client, catalog, member):
    r = client.post(
        "/api/teams/catalog/reviews",
        {"waivers": [{"rule": "nope"}]},
        content_type="application/json",
        **_auth(member),
    )
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)
    assert (
        client.post(
            "/api/teams/nope/reviews", {}, content_type="application/json", **_auth(member)
        ).status_code
        == 404
    )
    assert not Review.objects.exists() and not WaiverRequest.objects.exists()


def test_the_lists_a_body_may_carry_are_bounded(client, catalog, member, reviewer):
    ask = {"rule": "TTL001", "target": "namespace:search-results", "reason": "r", "expires": "2030-01-01"}
    r = client.post(
        "/api/teams/catalog/reviews",
        {"waivers": [ask] * 1001},
        content_type="application/json",
        **_auth(member),
    )
    assert r.status_code == 422 and "1000" in json.dumps(r.json())
    assert not Review.objects.exists()
    r = client.post(
        "/api/reviews/1/approve",
        {"expected_hash": "0" * 64, "rejected_waivers": list(range(1001))},
        content_type="application/json",
        **_auth(reviewer),
    )
    assert r.status_code == 422
