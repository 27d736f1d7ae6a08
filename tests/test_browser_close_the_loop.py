"""In Chromium, the loop a new team goes through: scan the cache, register what the scan found
from its draft, submit the design for review, get changes requested, resubmit, get approved.

Revision 1 stays readable with its "changes requested" state and the reviewer's comment, and the
review shows the drift of the scan. Screenshots are kept under tests/artifacts/.
"""

import pytest
import redis
from django.contrib.auth.models import Group

from advisor.lib.redisproc import RedisProcess
from advisor.registry.models import Namespace, Team, Waiver
from advisor.reviews.models import Review
from advisor.scans.models import ScanRun
from tests.browser import browser, login, new_page, screenshot  # noqa: F401
from tests.celery_worker import Worker
from tests.registry_fixtures import register_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL_FAMILY = "prod:identity:user:by-email:"


@pytest.fixture
def shop():
    """The shop's cache: its registered products, and e-mail keyed sessions nobody registered."""
    with RedisProcess() as server:
        pipe = redis.Redis(port=server.port).pipeline(transaction=False)
        for i in range(300):
            pipe.set(f"prod:shop:product:v1:{i}", "p" * 80, ex=600)
        for i in range(60):
            pipe.set(f"{EMAIL_FAMILY}customer{i}@example.com", "s" * 40, ex=3000 + i)
        pipe.execute()
        yield register_shop(server.url, value_bytes_typical=80, value_bytes_max=200, cardinality=400)


@pytest.fixture
def people(db, django_user_model):
    sam = django_user_model.objects.create_user("sam-shop", password="pw-sam-shop", email="sam@example.com")
    Team.objects.get(name="shop").members.add(sam)
    rita = django_user_model.objects.create_user("rita-reviewer", password="pw-rita-reviewer")
    rita.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return sam, rita


def test_scan_register_from_draft_review_resubmit_approve(new_page, shop, people, private_broker):  # noqa: F811
    sam_user, rita_user = people
    sam, rita = new_page(), new_page()
    login(sam, sam_user.username)
    login(rita, rita_user.username)

    # 1. The team scans its cache from the dashboard; a real worker runs the scan.
    worker = Worker(private_broker.url).start()
    try:
        sam.goto(f"/instances/{shop.name}/scans/")
        sam.click("text=Scan now")
        sam.get_by_text("keys scanned").wait_for(timeout=90_000)
    finally:
        worker.stop()
    run = ScanRun.objects.get(instance=shop)
    assert run.status == "completed" and run.complete and run.keys_scanned == 360
    assert "customer1@example.com" not in sam.content()  # examples are masked
    screenshot(sam, "loop-1-scan-report")

    # 2. The unregistered e-mail family is registered from the scan's draft.
    row = sam.locator("tr", has_text=EMAIL_FAMILY)
    row.get_by_text("Register this namespace").click()
    sam.wait_for_url("**/namespaces/new/**")
    assert sam.input_value("#id_pattern") == f"{EMAIL_FAMILY}<email:str>"
    assert sam.input_value("#id_data_type") == "string"
    assert int(sam.input_value("#id_ttl_seconds")) >= 3059  # covers the longest TTL observed
    assert int(sam.input_value("#id_cardinality")) >= 60
    assert sam.locator('input[name="contains"][value="pii"]').is_checked()
    sam.select_option("#id_team", label="shop")
    sam.fill("#id_name", "customer-sessions")
    sam.fill("#id_source_of_truth", "identity-db")
    screenshot(sam, "loop-2-register-from-draft")
    sam.click("text=Save namespace")
    sam.wait_for_url("**/namespaces/customer-sessions/")
    ns = Namespace.objects.get(name="customer-sessions")
    assert ns.pattern == f"{EMAIL_FAMILY}<email:str>" and ns.team.name == "shop"
    # The linter sees what the scan saw: personal data in the key name.
    assert "KEY003" in sam.content()

    # 3. Submitting asks for a waiver (or a fix) for each high finding, in the design or the scan.
    sam.goto("/teams/shop/review/")
    assert sam.locator('#review-drift [data-instance="prod-shop-cache"][data-scanned="yes"]').count() == 1
    fieldsets = sam.locator("fieldset.waiver-request")
    asked = {(f.get_attribute("data-rule"), f.get_attribute("data-target")) for f in fieldsets.all()}
    assert ("KEY003", "namespace:customer-sessions") in asked
    assert any(rule == "DRF006" for rule, _ in asked)  # e-mail addresses seen in key names by the scan
    for fieldset in fieldsets.all():
        fieldset.locator("textarea").fill(
            f"Until the hashed key ships ({fieldset.get_attribute('data-rule')})."
        )
    sam.click("#submit-review")
    sam.wait_for_url("**/reviews/*/")
    first = Review.objects.get(team__name="shop")
    assert first.number == 1 and first.state == "in_review"

    # 4. The reviewer sees the scan's drift on the review, and asks for changes.
    rita.goto(first.get_absolute_url())
    drift = rita.locator("#review-drift")
    assert drift.locator(f'a[href="/scans/{run.pk}/"]').count() == 1
    assert drift.locator('[data-rule="DRF006"]').count() >= 1
    rita.fill("#decision-comment", "Shorten the TTL to half an hour before this goes live.")
    rita.click("#request-changes-button")
    rita.wait_for_selector('#review-body h1 .review-state[data-state="changes_requested"]')

    # 5. The team changes the namespace and resubmits; its waiver reasons are still there.
    sam.goto("/namespaces/customer-sessions/edit/")
    sam.fill("#id_ttl_seconds", "1800")
    sam.fill("#id_ttl_jitter_seconds", "0")
    sam.click("text=Save namespace")
    sam.wait_for_url("**/namespaces/customer-sessions/")
    sam.goto("/teams/shop/review/")
    assert "Changes were requested on revision 1" in sam.content()
    for fieldset in sam.locator("fieldset.waiver-request").all():
        assert fieldset.locator("textarea").input_value().startswith("Until the hashed key ships")
    sam.click("#submit-review")
    sam.wait_for_url("**/reviews/*/")
    second = Review.objects.get(team__name="shop", number=2)
    assert second.previous_id == first.pk and second.state == "in_review"
    assert second.waiver_requests.count() == len(asked)

    # 6. The reviewer approves revision 2; the waiver requests become waivers.
    rita.goto(second.get_absolute_url())
    assert rita.locator('#revision-diff [data-namespace="customer-sessions"]').count() == 1
    rita.click("#approve-button")
    rita.wait_for_selector('#review-body h1 .review-state[data-state="approved"]')
    assert Waiver.objects.filter(rule="KEY003", target="namespace:customer-sessions").exists()
    screenshot(rita, "loop-3-approved-revision-2")

    # 7. Revision 1 is still readable as it was decided.
    rita.click('#revisions [data-revision="1"] a')
    rita.wait_for_url(f"**/reviews/{first.pk}/")
    assert rita.locator("#review-body h1 .review-state").get_attribute("data-state") == "changes_requested"
    assert "Shorten the TTL to half an hour" in rita.inner_text("#comments")
    assert first.content_hash in rita.inner_text("#content-hash")
    screenshot(rita, "loop-4-revision-1-kept")
