"""Stored findings and the pages that show them: namespace and instance pages, /findings/, /rules/,
the home summary, and the refresh after every design change."""

import datetime as dt
import json
import time

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from advisor.core.engine import lint_design
from advisor.core.rules import ALL_RULES
from advisor.findings import clock, services
from advisor.findings.markup import render_markdown
from advisor.findings.models import DesignFinding, FindingsRun
from advisor.findings.tasks import findings_refresh_task
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import registry_design
from tests.conftest import DEMO_DESIGN

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def namespace_form_data(ns: Namespace, **overrides) -> dict:
    """What the edit form posts for `ns` unchanged, with `overrides` applied."""
    data = {}
    for name, value in model_to_dict(ns).items():
        if name in ("id", "updated_at"):
            continue
        if name == "multi_key_with":
            value = [o.pk for o in value]
        if value is None:
            value = ""
        data[name] = value
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not False}


def test_it_redirects_anonymous_users_to_login(client, demo_registry):
    for url in ["/findings/", "/rules/", "/rules/TTL001/", "/waivers/", "/waivers/new/", "/migration/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_the_import_stores_the_findings_the_pages_show(client, viewer, demo_registry):
    run = FindingsRun.objects.get()  # stored by the fixture's import, once it committed
    assert run.today == TODAY and run.finding_count == DesignFinding.objects.count() > 0
    client.force_login(viewer)
    body = client.get("/findings/").content.decode()
    assert "KEY003" in body and "user-by-email" in body


def test_stored_findings_equal_the_lint_of_the_registry(demo_registry):
    services.findings_refresh(today=TODAY)
    expected = lint_design(registry_design(), today=TODAY).to_dict()["findings"]
    stored = [
        f.as_finding() for f in DesignFinding.objects.order_by("-severity_rank", "rule", "target", "id")
    ]
    key = lambda f: (f["rule"], f["target"], tuple(f["related"]), f["message"])  # noqa: E731
    assert sorted(stored, key=key) == sorted(expected, key=key)


def test_stored_findings_know_their_team_and_instance(demo_registry):
    services.findings_refresh(today=TODAY)
    ttl = DesignFinding.objects.get(rule="TTL001", target="namespace:search-results")
    ns = Namespace.objects.get(name="search-results")
    assert (ttl.team, ttl.instance, ttl.target_kind, ttl.target_name) == (
        ns.team,
        ns.instance,
        "namespace",
        "search-results",
    )
    ins = DesignFinding.objects.get(rule="INS001", target="instance:prod-legacy-cache")
    assert ins.team is None and ins.instance.name == "prod-legacy-cache"
    assert ins.severity == "high" and ins.severity_rank == 3


def test_removing_a_ttl_shows_ttl001_on_the_namespace_page_and_in_the_list(client, member):
    services.findings_refresh()
    ns = Namespace.objects.get(name="product-cache")
    assert not DesignFinding.objects.filter(rule="TTL001", target="namespace:product-cache").exists()
    client.force_login(member)

    response = client.post(
        "/namespaces/product-cache/edit/",
        namespace_form_data(ns, ttl_mode="none", ttl_seconds="", ttl_jitter_seconds="0"),
    )
    assert response.status_code == 302, response.context["form"].errors

    # Stored at once by the edit, not only when a page looks.
    assert DesignFinding.objects.filter(rule="TTL001", target="namespace:product-cache").exists()
    body = client.get("/namespaces/product-cache/").content.decode()
    assert "TTL001" in body and "Disposable cache without TTL" in body
    assert 'href="/rules/TTL001/"' in body
    body = client.get("/findings/", {"rule": "TTL001"}).content.decode()
    assert "namespace:product-cache" in body


def test_an_instance_edit_refreshes_findings(client, admin_user, demo_registry):
    services.findings_refresh()
    inst = Instance.objects.get(name="prod-catalog-cache")
    data = {
        f.name: getattr(inst, f.name)
        for f in Instance._meta.fields
        if f.name not in ("id", "updated_at") and not f.name.startswith("managed_")
    }
    data.update(tls=False)
    data = {k: v for k, v in data.items() if v is not False}
    client.force_login(admin_user)
    response = client.post(f"/instances/{inst.name}/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    assert DesignFinding.objects.filter(rule="INS004", target="instance:prod-catalog-cache").exists()


def test_the_design_import_page_and_command_refresh_findings(client, admin_user, db, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(admin_user)
    upload = SimpleUploadedFile("demo.yaml", DEMO_DESIGN.read_bytes(), content_type="application/yaml")
    assert client.post("/designs/", {"file": upload}).status_code == 302
    assert DesignFinding.objects.filter(rule="KEY003").exists()

    changed = DEMO_DESIGN.read_text().replace(
        'pattern: "prod:identity:user-by-email:v1:<email>"',
        'pattern: "prod:identity:user-by-email:v1:<email:hash>"',
    )
    path = tmp_path / "changed.yaml"
    path.write_text(changed)
    call_command("import_designs", str(path))
    assert not DesignFinding.objects.filter(rule="KEY003").exists()


def test_the_nightly_job_recomputes_on_a_new_day_and_pages_say_how_old_they_are(
    client, viewer, demo_registry, monkeypatch
):
    services.findings_refresh(today=dt.date(2026, 1, 1))
    legacy = {"rule": "INS001", "target": "instance:prod-legacy-cache"}
    assert DesignFinding.objects.get(**legacy).severity == "medium"
    client.force_login(viewer)
    assert "Findings as of" in client.get("/findings/").content.decode()  # read, not recomputed
    assert DesignFinding.objects.get(**legacy).severity == "medium"
    findings_refresh_task()
    assert DesignFinding.objects.get(**legacy).severity == "high"  # 125 days left on TODAY
    assert "Findings as of" not in client.get("/findings/").content.decode()
    monkeypatch.setattr(clock, "today", lambda: dt.date(2027, 4, 1))
    assert "Findings as of" in client.get("/instances/prod-legacy-cache/").content.decode()
    findings_refresh_task()
    assert DesignFinding.objects.get(**legacy).severity == "critical"


def test_pages_notice_a_change_made_around_the_views(client, viewer, demo_registry):
    services.findings_refresh()
    # A row changed around the write services (a script, a shell): nothing refreshes the findings.
    Namespace.objects.filter(name="product-cache").update(
        ttl_mode="none", ttl_seconds=None, ttl_jitter_seconds=0
    )
    Namespace.objects.get(name="product-cache").save()
    client.force_login(viewer)
    body = client.get("/namespaces/product-cache/").content.decode()
    assert "Findings as of" in body and "TTL001" not in body  # noticed, not recomputed by the page
    findings_refresh_task()
    body = client.get("/namespaces/product-cache/").content.decode()
    assert "TTL001" in body and "Findings as of" not in body


def test_ensure_fresh_does_not_recompute_an_unchanged_registry(demo_registry, django_assert_max_num_queries):
    run = services.findings_refresh()
    with django_assert_max_num_queries(8):
        assert services.findings_ensure_fresh().computed_at == run.computed_at


def test_findings_refresh_is_fast_on_the_demo_registry(demo_registry):
    services.findings_refresh()  # warm imports and caches
    started = time.perf_counter()
    services.findings_refresh()
    assert time.perf_counter() - started < 2.0


def test_the_namespace_page_lists_its_findings_and_pair_findings(client, viewer, demo_registry):
    services.findings_refresh()
    client.force_login(viewer)
    body = client.get("/namespaces/search-results/").content.decode()
    stored = DesignFinding.objects.filter(target="namespace:search-results")
    assert stored.filter(rule="TTL001").exists()
    assert all(f.rule in body and f.title in body for f in stored)
    assert "sev-high" in body and "Fix:" in body
    assert 'href="/waivers/new/' not in body  # no waive button for non-staff

    clean = client.get("/namespaces/product-cache/").content.decode()
    assert "No findings: this design passes every rule." in clean

    # A pattern overlapping product-cache, owned by another team: KEY005 names both namespaces.
    template = Namespace.objects.get(name="product-cache")
    Namespace.objects.create(
        **{
            **{f: getattr(template, f) for f in namespace_form_data(template) if f != "multi_key_with"},
            "name": "product-shadow",
            "pattern": "prod:catalog:product:v3:<sku:str>",
            "team": Team.objects.get(name="identity"),
            "instance": template.instance,
        }
    )
    services.findings_refresh()
    pair = DesignFinding.objects.get(rule="KEY005")
    assert {pair.target, *pair.related} == {"namespace:product-cache", "namespace:product-shadow"}
    for name in ("product-cache", "product-shadow"):
        assert "KEY005" in client.get(f"/namespaces/{name}/").content.decode(), name


def test_the_instance_page_lists_findings_of_the_instance_and_its_namespaces(client, viewer, demo_registry):
    services.findings_refresh()
    client.force_login(viewer)
    body = client.get("/instances/prod-legacy-cache/").content.decode()
    assert "INS001" in body and "INS003" in body  # the instance's own
    assert "KEY003" in body and "EVI001" in body  # its namespaces'
    assert "/migration/prod-legacy-cache/" in body  # retiring: a link to its plan


def test_the_instance_page_shows_the_sizing_chart_and_table(client, viewer, demo_registry):
    client.force_login(viewer)
    response = client.get("/instances/prod-catalog-cache/")
    body = response.content.decode()
    assert 'data-sizing-chart="sizing-data"' in body
    assert "vendor/chartjs/chart.umd.min.js" in body and "advisor/findings.js" in body
    start = body.index('<script id="sizing-data" type="application/json">') + len(
        '<script id="sizing-data" type="application/json">'
    )
    data = json.loads(body[start : body.index("</script>", start)])
    assert data["thresholds"] == {"medium": 0.6, "high": 0.8}
    assert {ns["name"] for ns in data["namespaces"]} <= set(
        Namespace.objects.filter(instance__name="prod-catalog-cache").values_list("name", flat=True)
    )
    sizing = response.context["sizing"].sizing
    assert data["total_bytes"] == sizing.total_bytes == sum(n.memory_bytes for n in sizing.namespaces)
    assert "product-cache" in body and "Share of usable" in body
    assert "<script>" not in body.split("<main", 1)[1]  # no inline script code, only json_script and src


def test_the_sizing_chart_groups_the_tail_of_many_namespaces(demo_registry):
    inst = Instance.objects.get(name="prod-catalog-cache")
    template = Namespace.objects.get(name="product-cache")
    for i in range(15):
        Namespace.objects.create(
            **{
                **{f: getattr(template, f) for f in namespace_form_data(template) if f != "multi_key_with"},
                "name": f"extra-{i}",
                "pattern": f"prod:catalog:extra{i}:v1:<id:int>",
                "team": template.team,
                "instance": inst,
            }
        )
    data = services.instance_sizing_view(inst).chart_data()
    assert len(data["namespaces"]) == 11 and data["namespaces"][-1]["name"].endswith("others")
    assert sum(ns["bytes"] for ns in data["namespaces"]) == data["total_bytes"]


def test_the_findings_list_filters_and_counts(client, viewer, demo_registry):
    client.force_login(viewer)
    response = client.get("/findings/")
    expected = lint_design(registry_design(), today=TODAY)
    counts = dict(response.context["counts"])
    assert counts == {k: v for k, v in expected.summary.items() if k != "waived"}
    assert response.context["page"].paginator.count == len(expected.unwaived)
    assert response.context["waived_count"] == expected.summary["waived"] >= 1

    only_high = client.get("/findings/", {"severity": "high"}).context["page"].object_list
    assert only_high and {f.severity for f in only_high} == {"high"}
    by_team = client.get("/findings/", {"team": "identity"}).context["page"].object_list
    assert by_team and {f.team.name for f in by_team} == {"identity"}
    by_instance = client.get("/findings/", {"instance": "dev-shared-cache"}).context["page"].object_list
    assert {f.rule for f in by_instance} == {"EVI007", "INS003"}
    with_waived = client.get("/findings/", {"instance": "dev-shared-cache", "waived": "1"}).context["page"]
    assert {f.rule for f in with_waived.object_list} == {"EVI007", "INS003", "INS004"}
    assert "waived" in client.get("/findings/", {"waived": "1"}).content.decode()


def test_the_findings_list_answers_htmx_with_the_results_fragment(client, viewer, demo_registry):
    client.force_login(viewer)
    body = client.get("/findings/", {"rule": "KEY002"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and "<form" not in body
    assert "KEY002" in body and "KEY003" not in body
    assert "sev-critical" in body  # the counts row is part of the fragment


def test_the_findings_list_has_empty_states(client, viewer, db):
    client.force_login(viewer)
    assert "No open findings" in client.get("/findings/").content.decode()
    assert "No finding matches these filters" in client.get("/findings/", {"rule": "ZZZ999"}).content.decode()


def test_the_rule_reference_lists_every_rule(client, viewer, db):
    client.force_login(viewer)
    body = client.get("/rules/").content.decode()
    for rule in ALL_RULES:
        assert f'href="/rules/{rule.id}/"' in body, rule.id
        assert rule.title in body.replace("&#x27;", "'")


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_page_renders_its_documentation(client, viewer, rule):
    client.force_login(viewer)
    response = client.get(f"/rules/{rule.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert rule.id in body and f"sev-{rule.default_severity.value}" in body
    assert "<p>" in body
    if "**Why it matters.**" in rule.documentation():
        assert "<strong>Why it matters.</strong>" in body
    for name in rule.thresholds:
        assert name in body


def test_rule_pages_redirect_lowercase_ids_and_404_unknown_ones(client, viewer, db):
    client.force_login(viewer)
    response = client.get("/rules/ttl001/")
    assert response.status_code == 302 and response["Location"] == "/rules/TTL001/"
    assert client.get("/rules/XXX999/").status_code == 404


def test_rule_pages_show_the_policy_in_force(client, viewer, demo_registry):
    from advisor.registry.models import Policy

    Policy.objects.update_or_create(
        pk=1,
        defaults={
            "disable": ["KEY002"],
            "severity": {"TTL002": "high"},
            "thresholds": {"VAL001.max_bytes": 65536},
        },
    )
    client.force_login(viewer)
    assert "disabled" in client.get("/rules/KEY002/").content.decode()
    assert "sev-high" in client.get("/rules/TTL002/").content.decode()
    assert "65536" in client.get("/rules/VAL001/").content.decode()


def test_markdown_is_rendered_without_raw_html():
    html = render_markdown(
        "<script>alert(1)</script>\n\nText <b onclick=x>bold</b> [link](javascript:alert(1)) "
        "[ok](https://example.com)\n\n```yaml\nkey: <x>\n```"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b " not in html and "&lt;b onclick=x&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://example.com"' in html
    assert "<pre><code" in html and "key: &lt;x&gt;" in html


def test_the_home_page_shows_the_findings_summary(client, viewer, demo_registry):
    client.force_login(viewer)
    body = client.get("/").content.decode()
    assert "Most frequent" in body
    assert 'href="/findings/?severity=critical"' in body
    assert 'href="/rules/INS003/"' in body  # two INS003 findings: the most frequent rule


def test_the_navigation_links_the_new_pages(client, viewer, db):
    client.force_login(viewer)
    body = client.get("/rules/").content.decode()
    for url in ["/findings/", "/rules/", "/waivers/", "/migration/"]:
        assert f'href="{url}"' in body


def test_waived_findings_show_reason_and_expiry(client, viewer, demo_registry):
    client.force_login(viewer)
    body = client.get("/instances/dev-shared-cache/").content.decode()
    waiver = Waiver.objects.get(rule="INS004")
    assert "finding sev-border-high waived" in body
    assert "Waived until <strong>2027-03-31</strong>" in body and waiver.reason.split(";")[0] in body


def test_refresh_keeps_no_rows_of_deleted_things(demo_registry):
    services.findings_refresh()
    Namespace.objects.filter(team__name="identity").delete()
    services.findings_refresh()
    assert not DesignFinding.objects.filter(team=Team.objects.get(name="identity")).exists()
    assert not DesignFinding.objects.filter(target="namespace:user-by-email").exists()
