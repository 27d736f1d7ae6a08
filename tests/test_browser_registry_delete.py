"""In Chromium: a team member edits a registered pattern and is told, while typing, what the new one
does to the keys the last scan counted; then deletes a namespace through its confirmation page,
and is shown why another one cannot go yet."""

import datetime as dt

import pytest

from advisor.registry.models import Instance, Namespace
from advisor.scans.models import ScanRun
from tests.browser import browser, login, new_page, page, screenshot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_live_check_tells_what_a_new_pattern_does_to_the_counted_keys(page, member):  # noqa: F811
    ScanRun.objects.create(
        instance=Instance.objects.get(name="prod-catalog-cache"),
        status="completed",
        complete=True,
        finished_at=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        report={
            "namespaces": [
                {"name": "product-cache", "keys": 1310, "examples": ["prod:catalog:product:v3:17"]}
            ],
            "unmatched": {"keys": 0, "patterns": []},
        },
    )
    login(page, member.username)
    page.goto("/namespaces/product-cache/edit/")
    pattern = page.locator("input[name=pattern]")
    pattern.fill("prod:catalog:product:v4:<product_id:int>")
    change = page.locator("#pattern-feedback [data-pattern-change]")
    change.wait_for()
    assert "matches none of the 1,310 keys the last scan (28 Nov 2026) counted" in change.inner_text()
    screenshot(page, "registry-pattern-change-none", full_page=False)

    pattern.fill("prod:catalog:product:v3:<product_id:str>")
    page.wait_for_function(
        "() => (document.querySelector('#pattern-feedback [data-pattern-change]') || {}).textContent"
        "?.includes('matches all 1,310 keys')"
    )


def test_a_member_deletes_a_namespace_after_confirming(page, member):  # noqa: F811
    login(page, member.username)
    page.goto("/namespaces/product-miss/")
    page.click("text=Delete")
    page.wait_for_url("**/namespaces/product-miss/delete/")
    assert "Delete namespace product-miss?" in page.locator("h1").inner_text()
    screenshot(page, "registry-namespace-delete-confirm", full_page=False)
    page.click("button:has-text('Delete namespace')")
    page.wait_for_url("**/namespaces/")
    assert "Namespace product-miss deleted." in page.content()
    assert not Namespace.objects.filter(name="product-miss").exists()


def test_the_confirmation_says_why_a_namespace_cannot_go_yet(page, admin_user, demo_registry):  # noqa: F811
    login(page, admin_user.username)
    page.goto("/namespaces/cart-totals/delete/")
    blockers = page.locator("[data-delete-blockers]")
    assert "is in multi_key_with of 1 namespace (cart-items)" in blockers.inner_text()
    assert page.locator("button:has-text('Delete namespace')").is_disabled()
    screenshot(page, "registry-namespace-delete-refused", full_page=False)
