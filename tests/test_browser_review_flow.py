"""In Chromium, the whole review: a member makes a change that raises a high finding, submits it
with a waiver request, a reviewer requests changes, the member fixes it and resubmits, the
reviewer approves. The review page and the printable report are kept as screenshots, and the
audit trail shows each step with the person who took it."""

import pytest

from advisor.audit.models import AuditEvent
from advisor.registry.models import Namespace
from advisor.reviews.models import Review
from tests.browser import browser, login, new_page, screenshot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fix_demo_mistakes():
    """The demo ships catalog with two high findings; clear them so the flow starts clean."""
    Namespace.objects.filter(name="search-results").update(
        ttl_mode="absolute", ttl_seconds=600, ttl_jitter_seconds=60
    )
    Namespace.objects.filter(name="rendered-pages").update(value_bytes_typical=16384, value_bytes_max=65536)


def _edit_ttl(page, *, mode: str, seconds: str, jitter: str):
    page.goto("/namespaces/product-cache/edit/")
    page.select_option("#id_ttl_mode", mode)
    page.fill("#id_ttl_seconds", seconds)
    page.fill("#id_ttl_jitter_seconds", jitter)
    page.click("text=Save namespace")
    page.wait_for_url("**/namespaces/product-cache/")


def test_the_review_flow_from_edit_to_approval(new_page, member, reviewer):  # noqa: F811
    _fix_demo_mistakes()
    mia, rita = new_page(), new_page()
    login(mia, member.username)
    login(rita, reviewer.username)

    # The member takes the TTL off a disposable cache: TTL001, high.
    _edit_ttl(mia, mode="none", seconds="", jitter="0")
    mia.goto("/teams/catalog/review/")
    assert "draft (never approved)" in mia.inner_text("#team-status")
    blocking = mia.locator("fieldset.waiver-request")
    assert blocking.count() == 1 and blocking.get_attribute("data-target") == "namespace:product-cache"

    # Submitting without a waiver request is refused and says why.
    mia.click("#submit-review")
    mia.wait_for_selector(".alert-danger")
    assert "TTL001 on namespace:product-cache" in mia.inner_text(".alert-danger")

    blocking = mia.locator("fieldset.waiver-request")
    blocking.locator("textarea").fill("Cache warm-up depends on it until the loader ships.")
    mia.click("#submit-review")
    mia.wait_for_url("**/reviews/*/")
    review = Review.objects.get(team__name="catalog")
    assert review.state == "in_review"
    assert "submitted for review" in mia.content()

    # The reviewer reads it and asks for changes, through htmx.
    rita.goto(f"/reviews/{review.pk}/")
    assert rita.locator('[data-diff="added"][data-namespace="product-cache"]').count() == 1
    finding = rita.locator('.finding[data-rule="TTL001"][data-target="namespace:product-cache"]')
    assert finding.get_attribute("data-severity") == "high"
    finding.locator("summary").click()
    finding.locator("textarea").fill("A disposable cache must expire.")
    finding.locator("button[type=submit]").click()
    rita.wait_for_selector("#review-notice")
    rita.fill("#decision-comment", "Put the TTL back instead of waiving it.")
    rita.click("#request-changes-button")
    rita.wait_for_selector('#review-body h1 .review-state[data-state="changes_requested"]')
    assert "Changes requested on" in rita.inner_text("#review-notice")

    # The member fixes it and resubmits: nothing left to waive.
    _edit_ttl(mia, mode="absolute", seconds="600", jitter="90")
    mia.goto("/teams/catalog/review/")
    assert mia.locator("fieldset.waiver-request").count() == 0
    assert "Changes were requested on revision 1" in mia.content()
    mia.click("#submit-review")
    first = review
    review = Review.objects.get(previous=first)
    mia.wait_for_url(f"**/reviews/{review.pk}/")
    assert review.number == 2 and review.state == "in_review" and not review.waiver_requests.exists()
    first.refresh_from_db()
    assert first.state == "changes_requested"

    # The reviewer approves the revision they are looking at.
    rita.goto(f"/reviews/{review.pk}/")
    assert rita.input_value('input[name="expected_hash"]') == review.content_hash
    rita.fill("#decision-comment", "Approved. Thanks for restoring the TTL.")
    rita.click("#approve-button")
    rita.wait_for_selector('#review-body h1 .review-state[data-state="approved"]')
    review.refresh_from_db()
    assert review.state == "approved" and review.decided_by == reviewer
    # The first revision's finding comment stays with revision 1, one click away.
    assert rita.locator('#revisions [data-revision="1"] .review-state').get_attribute("data-state") == (
        "changes_requested"
    )
    rita.click('#revisions [data-revision="1"] a')
    rita.wait_for_url(f"**/reviews/{first.pk}/")
    assert "A disposable cache must expire." in rita.content()
    assert rita.locator("#replaced-notice").is_visible()
    rita.goto(f"/reviews/{review.pk}/")
    screenshot(rita, "review-page")

    # One click to the printable report, shown as it prints.
    rita.click("#report-link")
    rita.wait_for_url(f"**/reviews/{review.pk}/report/")
    assert rita.locator("nav.navbar").count() == 0
    assert review.content_hash in rita.inner_text("#review-report")
    rita.emulate_media(media="print")
    assert not rita.locator(".no-print").first.is_visible()
    screenshot(rita, "review-report-print")

    # The audit trail: every step, by the person who took it.
    steps = [
        (e.actor_name, e.action, e.obj_type)
        for e in AuditEvent.objects.exclude(actor_name="").order_by("pk")
        if e.obj_type in ("namespace", "review", "waiver_request")
    ]
    assert steps == [
        ("mia-member", "update", "namespace"),
        ("mia-member", "start_draft", "review"),
        ("mia-member", "request", "waiver_request"),
        ("mia-member", "submit", "review"),
        ("rita-reviewer", "comment", "review"),  # on the TTL001 finding
        ("rita-reviewer", "request_changes", "review"),
        ("rita-reviewer", "comment", "review"),  # the reason for the request
        ("mia-member", "update", "namespace"),
        ("mia-member", "withdraw", "waiver_request"),
        ("mia-member", "replace", "review"),  # revision 1 kept, closed
        ("mia-member", "submit", "review"),  # revision 2
        ("rita-reviewer", "approve", "review"),
        ("rita-reviewer", "comment", "review"),
    ]
    rita.emulate_media(media="screen")
    rita.goto("/audit/?obj_type=review")
    rows = rita.locator("#audit-events tbody tr")
    shown = {(r.get_attribute("data-actor"), r.get_attribute("data-action")) for r in rows.all()}
    assert {
        ("mia-member", "submit"),
        ("rita-reviewer", "request_changes"),
        ("rita-reviewer", "approve"),
    } <= shown
    screenshot(rita, "review-audit-trail")
