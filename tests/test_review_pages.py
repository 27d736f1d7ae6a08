"""Review pages through the Django test client: team review, review detail with htmx decisions,
printable report, Markdown export, review list and the compliance overview."""

import datetime as dt

import pytest
from django.utils import timezone

from advisor.registry.models import Namespace, Team, Waiver
from advisor.reviews import services
from advisor.reviews.models import Review, ReviewState

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(member):
    return Team.objects.get(name="catalog")


def _waiver_form(team, *, days=60):
    """The submit form's fields, with a waiver request for every blocking finding."""
    data = {}
    expires = (timezone.localdate() + dt.timedelta(days=days)).isoformat()
    for i, f in enumerate(services.blocking_findings(services.team_findings(team))):
        data[f"reason_{i}"] = f"Accepted until the {f.rule} fix ships"
        data[f"expires_{i}"] = expires
    return data


@pytest.fixture
def submitted(client, catalog, member):
    client.force_login(member)
    response = client.post("/teams/catalog/review/", _waiver_form(catalog))
    assert response.status_code == 302
    client.logout()
    return Review.objects.get(team=catalog)


def test_it_shows_the_team_review_page(client, catalog, member):
    client.force_login(member)
    body = client.get("/teams/catalog/review/").content.decode()
    assert "Design review · catalog" in body
    assert "draft (never approved)" in body
    assert 'data-diff="added" data-namespace="product-cache"' in body
    assert "Compared with an empty design: 10 added" in body
    assert 'data-rule="TTL001" data-target="namespace:search-results"' in body
    assert "Estimated memory" in body
    assert 'id="submit-form"' in body and body.count('class="border rounded p-2 mb-2 waiver-request"') == 2


def test_the_team_review_page_hides_the_submit_form_from_others(client, catalog, other_member):
    client.force_login(other_member)
    body = client.get("/teams/catalog/review/").content.decode()
    assert 'id="submit-form"' not in body and "Only members of catalog" in body
    assert client.get("/teams/nope/review/").status_code == 404


def test_a_blocked_submission_says_which_findings_are_open(client, catalog, member):
    client.force_login(member)
    response = client.post("/teams/catalog/review/", {}, follow=True)
    body = response.content.decode()
    assert "Submission refused" in body and "TTL001 on namespace:search-results" in body
    assert not Review.objects.exists()


def test_the_submit_form_validates_waiver_expiry(client, catalog, member):
    client.force_login(member)
    data = _waiver_form(catalog)
    data["expires_0"] = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    body = client.post("/teams/catalog/review/", data).content.decode()
    assert "The expiry must be in the future" in body
    assert not Review.objects.exists()


def test_it_submits_with_waiver_requests_and_opens_the_review(client, catalog, member):
    client.force_login(member)
    response = client.post("/teams/catalog/review/", _waiver_form(catalog), follow=True)
    review = Review.objects.get(team=catalog)
    assert response.redirect_chain[-1][0] == f"/reviews/{review.pk}/"
    body = response.content.decode()
    assert review.state == ReviewState.IN_REVIEW
    assert review.content_hash in body and "submitted for review" in body
    assert 'data-state="pending"' in body and 'id="decision"' not in body  # members do not decide


def test_the_review_page_shows_diff_findings_sizing_and_the_decision_form(client, submitted, reviewer):
    client.force_login(reviewer)
    body = client.get(f"/reviews/{submitted.pk}/").content.decode()
    assert 'id="decision"' in body and f'name="expected_hash" value="{submitted.content_hash}"' in body
    assert f'hx-post="/reviews/{submitted.pk}/approve/"' in body
    assert 'data-diff="added" data-namespace="search-results"' in body
    assert 'data-severity="high"' in body and "Estimated memory" in body
    assert "Printable report" in body


def test_a_reviewer_comments_on_the_review_and_a_finding_with_htmx(client, submitted, reviewer):
    client.force_login(reviewer)
    url = f"/reviews/{submitted.pk}/comment/"
    response = client.post(url, {"body": "Why no TTL?"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="review-body"' in body
    assert "Why no TTL?" in body and "Comment added." in body
    client.post(
        url,
        {
            "body": "This one needs a plan.",
            "finding_rule": "VAL001",
            "finding_target": "namespace:rendered-pages",
        },
        HTTP_HX_REQUEST="true",
    )
    comment = submitted.comments.get(finding_rule="VAL001")
    assert comment.finding_target == "namespace:rendered-pages" and comment.author == reviewer


def test_request_changes_and_approve_through_htmx(client, submitted, reviewer, member, catalog):
    client.force_login(reviewer)
    body = client.post(
        f"/reviews/{submitted.pk}/request-changes/",
        {"expected_hash": submitted.content_hash, "comment": "Give search-results a TTL."},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert (
        "Changes requested on" in body
        and 'data-state="changes_requested"' in body
        and 'id="decision"' not in body
    )
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.CHANGES_REQUESTED

    Namespace.objects.filter(name="search-results").update(
        ttl_mode="absolute", ttl_seconds=900, ttl_jitter_seconds=60
    )
    client.force_login(member)
    form = _waiver_form(catalog)
    assert len(form) == 2  # only VAL001 is left to waive
    client.post("/teams/catalog/review/", form)
    submitted.refresh_from_db()
    # Revision 1 keeps its decision and comment; the resubmission is revision 2.
    assert submitted.state == ReviewState.CHANGES_REQUESTED and submitted.replaced_at is not None
    second = Review.objects.get(previous=submitted)
    assert second.number == 2 and second.state == ReviewState.IN_REVIEW
    first_page = client.get(f"/reviews/{submitted.pk}/").content.decode()
    assert "Give search-results a TTL." in first_page and 'id="replaced-notice"' in first_page

    client.force_login(reviewer)
    body = client.post(
        f"/reviews/{second.pk}/approve/", {"expected_hash": second.content_hash}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "approved." in body and 'data-state="approved"' in body
    assert (
        Waiver.objects.get(rule="VAL001", target="namespace:rendered-pages").approved_by == reviewer.username
    )


def test_a_stale_hash_is_refused_with_a_clear_message(client, submitted, reviewer):
    client.force_login(reviewer)
    body = client.post(
        f"/reviews/{submitted.pk}/approve/", {"expected_hash": "0" * 64}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="review-error"' in body and "changed since you loaded it" in body
    # Without htmx: back to the page with the message.
    response = client.post(f"/reviews/{submitted.pk}/approve/", {"expected_hash": "0" * 64}, follow=True)
    assert "changed since you loaded it" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.state == ReviewState.IN_REVIEW


def test_the_second_reviewer_is_told_who_decided_first(client, submitted, reviewer, admin_user):
    client.force_login(admin_user)
    client.post(f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash})
    client.force_login(reviewer)
    body = client.post(
        f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "already decided by alice-admin" in body


def test_the_printable_report_and_the_markdown_export(client, submitted, reviewer, viewer):
    client.force_login(reviewer)
    client.post(f"/reviews/{submitted.pk}/comment/", {"body": "Noted | with a pipe"})
    client.post(
        f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash, "comment": "OK"}
    )
    client.force_login(viewer)
    html = client.get(f"/reviews/{submitted.pk}/report/").content.decode()
    assert "advisor/review-report.css" in html and "navbar" not in html and "data-print" in html
    assert submitted.content_hash in html and "rita-reviewer" in html and "TTL001" in html
    response = client.get(f"/reviews/{submitted.pk}/report.md")
    assert response["Content-Type"].startswith("text/markdown")
    assert 'filename="review-catalog-r1.md"' in response["Content-Disposition"]
    md = response.content.decode()
    assert md.startswith("# Design review: catalog, revision 1")
    assert f"`{submitted.content_hash}`" in md and "**State:** approved" in md
    assert "| high | TTL001 | namespace:search-results |" in md
    assert "Noted \\| with a pipe" in md and "## Sizing" in md and "**Added** `product-cache`" in md


def test_the_review_list_and_filters(client, submitted, viewer):
    client.force_login(viewer)
    body = client.get("/reviews/").content.decode()
    assert "catalog · revision 1" in body
    body = client.get("/reviews/", {"state": "approved"}).content.decode()
    assert "catalog · revision 1" not in body


def test_the_team_status_shows_a_draft_after_editing_an_approved_design(client, submitted, reviewer, member):
    client.force_login(reviewer)
    client.post(f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash})
    Namespace.objects.filter(name="product-cache").update(cardinality=123456)
    client.force_login(member)
    body = client.get("/teams/catalog/review/").content.decode()
    assert "draft (changes since approved revision 1)" in body
    assert "Compared with approved revision 1: 0 added, 0 removed, 1 changed" in body
    assert 'data-diff="changed" data-namespace="product-cache"' in body and 'data-field="cardinality"' in body
    assert "stays valid until a new revision is approved" in body
    body = client.get(f"/reviews/{submitted.pk}/").content.decode()
    assert 'data-state="approved"' in body


def test_the_compliance_overview(client, submitted, reviewer, viewer):
    client.force_login(reviewer)
    client.post(f"/reviews/{submitted.pk}/approve/", {"expected_hash": submitted.content_hash})
    client.force_login(viewer)
    response = client.get("/compliance/")
    rows = {r["team"].name: r for r in response.context["rows"]}
    assert rows["catalog"]["approved"].pk == submitted.pk and rows["catalog"]["current"]
    assert rows["identity"]["approved"] is None
    assert dict(rows["identity"]["severity_counts"])["critical"] == 1  # KEY003 user-by-email
    # The waivers the review created expire in 60 days; the demo's dev waiver is further out.
    assert rows["catalog"]["expiring"] == []
    soon = Waiver.objects.get(rule="VAL001")
    soon.expires = timezone.localdate() + dt.timedelta(days=10)
    soon.save()
    rows = {r["team"].name: r for r in client.get("/compliance/").context["rows"]}
    assert [w.rule for w in rows["catalog"]["expiring"]] == ["VAL001"]
    assert "catalog" in response.content.decode()


def test_nav_links_to_reviews_compliance_and_audit(client, viewer):
    client.force_login(viewer)
    body = client.get("/reviews/").content.decode()
    for href in ('href="/reviews/"', 'href="/compliance/"', 'href="/audit/"'):
        assert href in body
