"""In Chromium: a team member signs in and registers a namespace through the form, fixing a bad
pattern that the form flags while it is being typed."""

import pytest

from advisor.registry.models import Namespace
from tests.browser import browser, login, new_page, page, screenshot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_creates_a_namespace_through_the_form(page, member):  # noqa: F811
    login(page, member.username)
    page.goto("/namespaces/")
    page.click("text=New namespace")
    page.wait_for_url("**/namespaces/new/")

    page.fill("#id_name", "price-cache")
    page.select_option("#id_team", label="catalog")
    page.select_option("#id_instance", label="prod-catalog-cache")

    pattern = page.locator("input[name=pattern]")
    pattern.fill("prod:catalog:price:v1:<sku:intt>")
    error = page.locator("#pattern-feedback .invalid-feedback")
    error.wait_for()
    assert "intt" in error.inner_text()
    screenshot(page, "registry-namespace-pattern-error", full_page=False)

    pattern.fill("prod:catalog:price:v1:<sku:int>")
    page.locator("#pattern-feedback .valid-feedback").wait_for()
    assert page.locator("#pattern-feedback .invalid-feedback").count() == 0

    page.select_option("#id_classification", "disposable")
    page.select_option("#id_data_type", "string")
    page.select_option("#id_data_classification", "internal")
    page.select_option("#id_ttl_mode", "absolute")
    page.fill("#id_ttl_seconds", "300")
    page.fill("#id_ttl_jitter_seconds", "30")
    page.fill("#id_value_bytes_typical", "200")
    page.fill("#id_value_bytes_max", "1000")
    page.fill("#id_cardinality", "20000")
    page.fill("#id_ops_reads", "150")
    page.fill("#id_ops_writes", "5")
    page.fill("#id_source_of_truth", "pricing-db.prices")
    page.click("text=Save namespace")
    page.wait_for_url("**/namespaces/price-cache/")
    assert "Namespace price-cache saved." in page.content()

    page.goto("/namespaces/?team=catalog")
    row = page.locator("tr", has_text="price-cache")
    assert row.count() == 1 and "prod:catalog:price:v1:<sku:int>" in row.inner_text()
    screenshot(page, "registry-namespace-list")

    ns = Namespace.objects.get(name="price-cache")
    assert ns.team.name == "catalog" and ns.ttl_seconds == 300
