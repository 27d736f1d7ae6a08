"""Registry pages through the Django test client."""

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
        f.name: getattr(inst, f.name) for f in Instance._meta.fields if f.name not in ("id", "updated_at")
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
