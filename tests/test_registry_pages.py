"""Registry pages through the Django test client."""

import re

import pytest

from advisor.registry.models import Instance, Namespace

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_users_to_login(client, demo_registry):
    for url in ["/", "/namespaces/", "/instances/", "/teams/", "/namespaces/new/", "/designs/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_it_lists_demo_namespaces_and_instances(client, viewer, demo_registry):
    client.force_login(viewer)
    body = client.get("/namespaces/").content.decode()
    assert "product-cache" in body or Namespace.objects.first().name in body
    body = client.get("/instances/").content.decode()
    for inst in Instance.objects.all():
        assert inst.name in body
        assert not inst.sku or f"<code>{inst.sku}</code>" in body


def test_it_filters_and_searches_namespaces(client, viewer, demo_registry):
    client.force_login(viewer)
    ns = Namespace.objects.select_related("team").first()
    response = client.get("/namespaces/", {"team": ns.team.name})
    names = {n.name for n in response.context["page"].object_list}
    assert names and all(Namespace.objects.get(name=n).team == ns.team for n in names)
    response = client.get("/namespaces/", {"q": ns.pattern[:12]})
    assert ns.name in {n.name for n in response.context["page"].object_list}
    response = client.get("/namespaces/", {"classification": "session"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body  # the htmx request gets only the results fragment
    sessions = Namespace.objects.filter(classification="session")
    assert sessions and all(n.name in body for n in sessions)
    assert all(n.name not in body for n in Namespace.objects.exclude(classification="session"))


def test_it_shows_namespace_and_instance_details(client, viewer, demo_registry):
    client.force_login(viewer)
    ns = Namespace.objects.first()
    assert client.get(f"/namespaces/{ns.name}/").status_code == 200
    assert client.get(f"/instances/{ns.instance.name}/").status_code == 200
    assert client.get("/namespaces/does-not-exist/").status_code == 404


def test_it_validates_patterns_inline(client, viewer):
    client.force_login(viewer)
    bad = client.post("/namespaces/validate-pattern/", {"pattern": "prod:cat:<id:intt>"}).content.decode()
    assert "invalid-feedback" in bad and "intt" in bad
    good = client.post("/namespaces/validate-pattern/", {"pattern": "prod:cat:v1:<id:int>"}).content.decode()
    assert "Pattern is valid" in good and "prod:cat:v1:" in good


def _namespace_post(**overrides):
    data = {
        "name": "price-cache",
        "team": "",
        "instance": "",
        "pattern": "prod:catalog:price:v1:<sku:int>",
        "classification": "disposable",
        "data_type": "string",
        "ttl_mode": "absolute",
        "ttl_seconds": "300",
        "ttl_jitter_seconds": "30",
        "value_bytes_typical": "200",
        "value_bytes_max": "1000",
        "cardinality": "1000",
        "ops_reads": "100",
        "ops_writes": "5",
        "data_classification": "internal",
        "source_of_truth": "pricing-db",
    }
    data.update(overrides)
    return data


def test_a_team_member_creates_a_namespace(client, member):
    from advisor.registry.models import Team

    client.force_login(member)
    team = Team.objects.get(name="catalog")
    inst = Instance.objects.first()
    response = client.post("/namespaces/new/", _namespace_post(team=team.pk, instance=inst.pk))
    assert response.status_code == 302, response.context["form"].errors
    ns = Namespace.objects.get(name="price-cache")
    assert ns.team == team and ns.ttl_seconds == 300


def test_the_core_validation_reaches_the_form(client, member):
    from advisor.registry.models import Team

    client.force_login(member)
    team = Team.objects.get(name="catalog")
    inst = Instance.objects.first()
    response = client.post(
        "/namespaces/new/",
        _namespace_post(team=team.pk, instance=inst.pk, pattern="a:<x", ttl_seconds="", value_bytes_max="10"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "pattern" in errors
    assert not Namespace.objects.filter(name="price-cache").exists()


def test_a_member_cannot_edit_another_teams_namespace(client, other_member):
    client.force_login(other_member)
    ns = Namespace.objects.filter(team__name="catalog").first()
    assert client.get(f"/namespaces/{ns.name}/edit/").status_code == 403
    assert client.post(f"/namespaces/{ns.name}/edit/", {}).status_code == 403


def test_only_admins_edit_instances(client, member, admin_user):
    client.force_login(member)
    assert client.get("/instances/new/").status_code == 403
    client.force_login(admin_user)
    assert client.get("/instances/new/").status_code == 200


def test_instance_form_refuses_a_password_in_the_url(client, admin_user, demo_registry):
    client.force_login(admin_user)
    inst = Instance.objects.get(name=Instance.objects.first().name)
    data = {
        f.name: getattr(inst, f.name)
        for f in Instance._meta.fields
        if f.name not in ("id", "updated_at") and not f.name.startswith("managed_")
    }
    data.update(connection_url="redis://:hunter2@cache.example.com:6379/0", connection_credential="none")
    data = {k: v for k, v in data.items() if v is not False}
    response = client.post(f"/instances/{inst.name}/edit/", data)
    assert response.status_code == 200
    assert "secrets only by reference" in str(response.context["form"].errors)
    assert "hunter2" not in response.content.decode().replace('value="redis://:hunter2', "")
    inst.refresh_from_db()
    assert "hunter2" not in inst.connection_url


def test_prefilled_draft_from_query(client, member):
    client.force_login(member)
    response = client.get("/namespaces/new/", {"pattern": "legacy:cart:<id:int>", "data_type": "hash"})
    assert response.context["form"].initial["pattern"] == "legacy:cart:<id:int>"


def test_the_namespace_list_paginates_and_keeps_filters(client, viewer, demo_registry):
    base = Namespace.objects.get(name=Namespace.objects.first().name)
    for i in range(30):
        base.pk, base.name, base.pattern = None, f"bulk-{i:02d}", f"prod:bulk:item:v1:{i}:<id:int>"
        base.save()
    client.force_login(viewer)
    body = client.get("/namespaces/", {"q": "bulk"}).content.decode()
    assert "Page 1 of 2" in body and "?q=bulk&amp;page=2" in body
    body = client.get("/namespaces/", {"q": "bulk", "page": 2}).content.decode()
    assert "Page 2 of 2" in body and "bulk-29" in body and "bulk-00" not in body


def test_renaming_a_namespace_in_the_form_keeps_its_waivers(client, admin_user, demo_registry):
    from advisor.registry.models import Waiver
    from advisor.registry.services import namespace_data

    waiver = Waiver.objects.filter(target__startswith="namespace:").first()
    ns = Namespace.objects.get(name=waiver.target.partition(":")[2])
    data = namespace_data(ns)
    post = {
        **{k: v for k, v in _namespace_post().items()},
        "name": ns.name + "-v2",
        "team": ns.team.pk,
        "instance": ns.instance.pk,
        "pattern": ns.pattern,
        "classification": ns.classification,
        "data_type": ns.data_type,
        "ttl_mode": ns.ttl_mode,
        "ttl_seconds": ns.ttl_seconds or "",
        "ttl_jitter_seconds": ns.ttl_jitter_seconds,
        "value_bytes_typical": ns.value_bytes_typical,
        "value_bytes_max": ns.value_bytes_max,
        "cardinality": ns.cardinality,
        "data_classification": ns.data_classification,
        "source_of_truth": data["source_of_truth"] or "",
    }
    client.force_login(admin_user)
    response = client.post(f"/namespaces/{ns.name}/edit/", post)
    assert response.status_code == 302, response.context["form"].errors
    waiver.refresh_from_db()
    assert waiver.target == f"namespace:{ns.name}-v2"


def test_multi_key_partners_must_share_the_instance(client, member):
    from advisor.registry.models import Team

    client.force_login(member)
    team = Team.objects.get(name="catalog")
    instance = Instance.objects.get(name="prod-catalog-cache")
    elsewhere = Namespace.objects.exclude(instance=instance).first()
    response = client.post(
        "/namespaces/new/", _namespace_post(team=team.pk, instance=instance.pk, multi_key_with=[elsewhere.pk])
    )
    assert response.status_code == 200
    assert "Not on prod-catalog-cache" in str(response.context["form"].errors["multi_key_with"])


# Instances: the SKU picker, memory from the SKU, and the platform catalog's facts -----------------


def _instance_post(**overrides):
    data = {
        "name": "prod-search-cache",
        "environment": "prod",
        "product": "azure-managed-redis",
        "tier": "balanced",
        "sku": "",
        "memory_gb": "",
        "shards": "1",
        "clustering": "oss",
        "high_availability": "on",
        "persistence": "none",
        "eviction_policy": "allkeys-lru",
        "auth": "entra-id",
        "tls": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _options(body: str) -> dict[str, str]:
    """value -> label of the SKU select's options."""
    select = re.search(r'<select name="sku".*?</select>', body, re.S).group(0)
    return dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select))


def _sku_fields(client, **params):
    response = client.get("/instances/new/sku-fields/", params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_the_sku_picker_offers_the_sizes_of_the_chosen_tier(client, admin_user):
    client.force_login(admin_user)
    body = _sku_fields(client, product="azure-managed-redis", tier="balanced")
    assert "<html" not in body and 'id="sku-fields"' in body
    options = _options(body)
    assert options["B10"] == "B10 — 12 GB, 30,000 connections"
    assert options["B500"].endswith("(preview)") and not options["B350"].endswith("(preview)")
    assert "M10" not in options and "P1" not in options
    assert list(options)[:3] == ["", "B0", "B1"]

    options = _options(_sku_fields(client, product="azure-cache-for-redis", tier="premium"))
    assert list(options) == ["", "P1", "P2", "P3", "P4", "P5"]
    assert options["P2"] == "P2 — 13 GB per shard, 15,000 connections"
    options = _options(_sku_fields(client, product="azure-cache-for-redis", tier="enterprise"))
    assert options["E10"] == "E10 — size not published"
    assert list(_options(_sku_fields(client, product="redis-oss"))) == [""]


def test_without_a_tier_the_picker_groups_every_size_by_tier(client, admin_user):
    client.force_login(admin_user)
    body = client.get("/instances/new/").content.decode()
    assert '<optgroup label="Azure Managed Redis Balanced">' in body
    assert '<optgroup label="Azure Cache for Redis Premium">' in body
    assert 'hx-get="/instances/new/sku-fields/"' in body


def test_choosing_a_sku_fills_the_memory_and_locks_it(client, admin_user):
    client.force_login(admin_user)
    body = _sku_fields(client, product="azure-managed-redis", tier="balanced", sku="B20", memory_gb="3")
    assert '<option value="B20" selected>' in body
    assert 'name="memory_gb" value="24"' in body and "readonly" in body
    # Premium sizes are per shard: a clustered P2 of 3 shards has 3 x 13 GB.
    body = _sku_fields(
        client, product="azure-cache-for-redis", tier="premium", sku="P2", shards="3", clustering="oss"
    )
    assert 'name="memory_gb" value="39"' in body and "per shard" in body
    # A size without a published memory leaves the field to the user.
    body = _sku_fields(client, product="azure-cache-for-redis", tier="enterprise", sku="E10", memory_gb="12")
    assert 'name="memory_gb" value="12"' in body and "readonly" not in body
    assert "publishes no memory size for E10" in body


def test_the_sku_picker_is_for_administrators_only(client, member):
    client.force_login(member)
    response = client.get("/instances/new/sku-fields/", {"product": "azure-managed-redis"})
    assert response.status_code == 403


def test_an_instance_saved_with_a_sku_gets_its_memory(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/instances/new/", _instance_post(sku="b10"))
    assert response.status_code == 302, response.context["form"].errors
    inst = Instance.objects.get(name="prod-search-cache")
    assert (inst.sku, inst.memory_gb) == ("B10", 12)
    body = client.get(response["Location"]).content.decode()
    assert '<option value="B10" selected>' not in body  # the detail page, not the form
    assert "B10" in body


def test_an_unknown_sku_without_memory_is_an_error_on_the_sku_field(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/instances/new/", _instance_post(product="azure-cache-for-redis", tier="premium", sku="X9")
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["sku"]
    assert "X9 is not a size of Azure Cache for Redis Premium (P1, P2, P3, P4, P5)" in errors["sku"][0]
    body = response.content.decode()
    assert '<option value="X9" selected>X9 — not a size of Azure Cache for Redis Premium</option>' in body
    assert not Instance.objects.filter(name="prod-search-cache").exists()


def test_a_sku_without_a_published_size_needs_the_memory(client, admin_user):
    client.force_login(admin_user)
    post = _instance_post(
        product="azure-cache-for-redis",
        tier="enterprise",
        sku="E10",
        clustering="enterprise",
        auth="access-key",
    )
    response = client.post("/instances/new/", post)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["memory_gb"]
    assert "Microsoft publishes no memory figure for E10" in errors["memory_gb"][0]
    response = client.post("/instances/new/", {**post, "memory_gb": "12"})
    assert response.status_code == 302
    assert Instance.objects.get(name="prod-search-cache").memory_gb == 12


def test_a_bad_sku_spelling_is_located_on_the_sku_field(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/instances/new/", _instance_post(sku="B-10", memory_gb="12"))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["sku"]


def test_changing_the_sku_brings_its_memory_when_the_memory_came_from_the_old_one(client, admin_user):
    client.force_login(admin_user)
    assert client.post("/instances/new/", _instance_post(sku="B20")).status_code == 302
    inst = Instance.objects.get(name="prod-search-cache")
    assert inst.memory_gb == 24
    # Without JavaScript the memory field still says 24 when the new sku is posted.
    response = client.post(f"/instances/{inst.name}/edit/", _instance_post(sku="B50", memory_gb="24"))
    assert response.status_code == 302, response.context["form"].errors
    inst.refresh_from_db()
    assert (inst.sku, inst.memory_gb) == ("B50", 60)
    # A sku of another tier gives no memory here: the memory stays, and INS009 names the mismatch.
    response = client.post(f"/instances/{inst.name}/edit/", _instance_post(sku="M50", memory_gb="60"))
    assert response.status_code == 302, response.context["form"].errors
    inst.refresh_from_db()
    assert (inst.sku, inst.memory_gb) == ("M50", 60)
    # A memory typed on purpose is kept, even if it disagrees (INS009 says so).
    response = client.post(f"/instances/{inst.name}/edit/", _instance_post(sku="B50", memory_gb="50"))
    assert response.status_code == 302
    inst.refresh_from_db()
    assert inst.memory_gb == 50


def _rule_ids() -> set[str]:
    from advisor.core.rules import ALL_RULES

    return {r.id for r in ALL_RULES}


def test_an_impossible_configuration_saves_and_shows_ins009(client, admin_user):
    client.force_login(admin_user)
    post = _instance_post(
        name="staging-loyalty-cache",
        environment="staging",
        product="azure-cache-for-redis",
        tier="standard",
        sku="C1",
        clustering="none",
        persistence="rdb",
    )
    response = client.post("/instances/new/", post)
    assert response.status_code == 302, response.context["form"].errors
    inst = Instance.objects.get(name="staging-loyalty-cache")
    assert (inst.persistence, inst.memory_gb) == ("rdb", 1)
    body = client.get(inst.get_absolute_url()).content.decode()
    if "INS009" in _rule_ids():
        assert "INS009" in body and "does not offer RDB persistence" in body


def test_a_sku_of_another_tier_with_memory_saves_and_is_flagged(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/instances/new/", _instance_post(sku="M10", memory_gb="12"))
    assert response.status_code == 302, response.context["form"].errors
    body = client.get("/instances/prod-search-cache/").content.decode()
    assert "not a size of Azure Managed Redis Balanced" in body
    if "INS009" in _rule_ids():
        assert "INS009" in body and "Memory Optimized size" in body


def test_the_instance_page_shows_the_catalog_facts_with_their_sources(client, admin_user):
    from advisor.core import platform

    client.force_login(admin_user)
    client.post(
        "/instances/new/",
        _instance_post(product="azure-cache-for-redis", tier="premium", sku="P2", clustering="none"),
    )
    body = client.get("/instances/prod-search-cache/").content.decode()
    facts = {
        name: " ".join(re.sub(r"<[^>]+>", " ", text).split())
        for name, text in re.findall(r'<dd id="fact-([a-z]+)">(.*?)</dd>', body, re.S)
    }
    assert facts == {
        "sku": "P2 Learn",
        "memory": "13 GB",
        "usable": "10.4 GB (keeping a 20% reserve for the service) Learn",  # 13 GB less 20%
        "connections": "up to 15,000 Learn",
        "version": "6 Learn",
        "retires": "2028-09-30 Learn",
    }
    for url in (
        platform.ACR_CONFIGURE,
        platform.ACR_MEMORY,
        platform.AMR_MIGRATE_BSP,
        platform.ACR_RETIREMENT,
    ):
        assert f'href="{url}"' in body


def test_per_field_ttl_on_a_string_is_an_error_on_the_ttl_mode(client, member):
    from advisor.registry.models import Team

    client.force_login(member)
    team = Team.objects.get(name="catalog")
    inst = Instance.objects.get(name="prod-catalog-cache")
    response = client.post(
        "/namespaces/new/",
        _namespace_post(team=team.pk, instance=inst.pk, ttl_mode="per-field", data_type="string"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["ttl_mode"] and "needs data_type: hash" in errors["ttl_mode"][0]

    response = client.post(
        "/namespaces/new/",
        _namespace_post(team=team.pk, instance=inst.pk, ttl_mode="per-field", data_type="hash"),
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Namespace.objects.get(name="price-cache").ttl_mode == "per-field"
    body = client.get("/namespaces/price-cache/").content.decode()
    assert "each hash field expires 5 min after it is set" in body


def test_the_namespace_form_explains_per_field(client, member):
    client.force_login(member)
    body = client.get("/namespaces/new/").content.decode()
    assert '<option value="per-field">per-field</option>' in body
    assert "hash field expiration, HEXPIRE" in body and "hash namespaces only" in body


def test_no_template_comment_leaks_into_a_page():
    # Django's {# #} comments are single-line: a multi-line one is printed as text.
    from pathlib import Path

    for path in (Path(__file__).resolve().parents[1] / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "{#" in line:
                assert "#}" in line.split("{#", 1)[1], f"{path}:{number}: a multi-line {{# comment"
