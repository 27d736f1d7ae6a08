"""In Chromium: a team member signs in and registers a namespace through the form, fixing a bad
pattern that the form flags while it is being typed."""

import pytest

from advisor.registry.models import Instance, Namespace
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


def _choose(tab, select: str, value: str, *, until: str) -> None:
    """Select an option, then wait for the state (a JS expression) its htmx refresh brings."""
    tab.select_option(select, value)
    tab.wait_for_function(f"() => {until}")  # a function: an expression would need eval, which CSP forbids


def _sizes_of(sku: str) -> str:
    """The picker lists one tier's sizes (no groups), among them `sku`."""
    return f"!document.querySelector('#id_sku optgroup') && !!document.querySelector('#id_sku option[value={sku}]')"


def _grouped(label: str) -> str:
    return f"!!document.querySelector('#id_sku optgroup[label=\"{label}\"]')"


def _memory_is(value: str) -> str:
    return f"document.querySelector('#id_memory_gb').value === '{value}'"


def test_an_administrator_picks_a_tier_and_a_sku_and_the_memory_fills_in(page, admin_user):  # noqa: F811
    login(page, admin_user.username)
    page.goto("/instances/new/")
    page.fill("#id_name", "prod-search-cache")
    page.select_option("#id_environment", "prod")

    sku = page.locator("#id_sku")
    memory = page.locator("#id_memory_gb")
    # Before a tier is chosen, every size is offered, grouped by tier.
    assert page.locator("#id_sku optgroup").count() > 5

    _choose(page, "#id_product", "azure-managed-redis", until=_grouped("Azure Managed Redis Balanced"))
    _choose(page, "#id_tier", "balanced", until=_sizes_of("B10"))
    assert page.locator("#id_sku option[value=M10]").count() == 0
    assert "B10 — 12 GB, 30,000 connections" in sku.inner_text()

    _choose(page, "#id_sku", "B10", until=_memory_is("12"))
    assert memory.get_attribute("readonly") is not None
    assert "up to 30,000 connections" in page.locator("#sku-summary").inner_text()
    screenshot(page, "registry-instance-sku-picked", full_page=False)

    # Another tier offers its own sizes; its SKU brings its own memory.
    _choose(page, "#id_tier", "memory-optimized", until=_sizes_of("M20"))
    assert page.locator("#id_sku option[value=B10]").inner_text() == (
        "B10 — not a size of Azure Managed Redis Memory Optimized"
    )
    assert memory.get_attribute("readonly") is None  # B10 gives this tier no memory
    _choose(page, "#id_sku", "M20", until=_memory_is("24"))
    assert memory.get_attribute("readonly") is not None

    # A size without a published memory leaves the field to the user.
    _choose(page, "#id_product", "azure-cache-for-redis", until=_grouped("Azure Cache for Redis Enterprise"))
    _choose(page, "#id_tier", "enterprise", until=_sizes_of("E10"))
    _choose(
        page,
        "#id_sku",
        "E10",
        until="document.querySelector('#sku-fields').innerText.includes('Microsoft publishes no memory size for E10')",
    )
    assert memory.get_attribute("readonly") is None

    _choose(page, "#id_product", "azure-managed-redis", until=_grouped("Azure Managed Redis Balanced"))
    _choose(page, "#id_tier", "memory-optimized", until=_sizes_of("M20"))
    _choose(page, "#id_sku", "M20", until=_memory_is("24"))
    page.select_option("#id_clustering", "oss")
    page.select_option("#id_eviction_policy", "allkeys-lru")
    page.select_option("#id_auth", "entra-id")
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    page.click("form.card button:has-text('Save')")
    page.wait_for_url("**/instances/prod-search-cache/")
    facts = page.locator(".facts").first.inner_text()
    assert "M20" in facts and "24 GB" in facts and "19.2 GB" in facts and "up to 30,000" in facts
    screenshot(page, "registry-instance-catalog-facts")

    instance = Instance.objects.get(name="prod-search-cache")
    assert (instance.sku, instance.memory_gb, instance.tier) == ("M20", 24, "memory-optimized")
