"""Pages use the one formatter: sizes in binary units with IEC names, TTLs as durations."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from advisor.core.units import format_bytes, format_duration
from advisor.registry.models import Instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned(demo_registry):
    from advisor.scans.models import ScanRun

    instance = Instance.objects.get(name="prod-catalog-cache")
    ns = instance.namespaces.exclude(ttl_mode="none").exclude(ttl_seconds=None).first()
    report = {
        "complete": True,
        "server": {"used_memory": 65_610_000_000},
        "namespaces": [
            {
                "name": ns.name,
                "keys": 1000,
                "without_ttl": 0,
                "ttl_seconds": {"p50": 111_230, "max": 174_983},
                "memory_bytes": 62_543.8 * 2**20,
                "types": {ns.data_type: 1000},
            }
        ],
        "findings": [],
    }
    run = ScanRun.objects.create(
        instance=instance, status="completed", complete=True, findings_total=0, keys_scanned=1000,
        finished_at=instance.updated_at, report=report,
    )  # fmt: skip
    return instance, ns, run


def _row(body, name):
    match = re.search(rf"<tr[^>]*>\s*<td[^>]*>.*?{re.escape(name)}.*?</tr>", body, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def test_the_scan_dashboard_shows_ttls_as_durations_and_sizes_in_iec_units(client, viewer, scanned):
    instance, ns, run = scanned
    client.force_login(viewer)
    for url in (f"/instances/{instance.name}/scans/", f"/scans/{run.pk}/"):
        body = client.get(url).content.decode()
        row = _row(body, ns.name)
        assert "1 d 7 h / 2 d 1 h" in row  # not "111230 / 174983 s"
        assert "111230" not in row and "174983" not in row
        assert "61.1 GiB" in row  # not "61.1 GB"
        designed = ns.ttl_seconds + ns.ttl_jitter_seconds
        assert f"≤ {format_duration(designed, parts=None)}<" in row  # the design's TTL, exact
    body = client.get(f"/instances/{instance.name}/scans/").content.decode()
    assert "61.1 GiB" in body  # used memory
    for decimal in (" KB<", " MB<", " GB<", " bytes<"):
        assert decimal not in body


def test_the_size_and_duration_filters(scanned):
    from django.template import engines

    template = engines["django"].from_string(
        "{% load units %}{{ a|size }}|{{ b|size }}|{{ c|duration }}|{{ c|duration:'exact' }}|{{ d|duration }}"
    )
    assert (
        template.render({"a": 512, "b": None, "c": 111_230, "d": "junk"})
        == "512 B|—|1 d 7 h|1 d 6 h 53 min 50 s|—"
    )


def test_a_review_page_and_its_markdown_give_the_same_sizes(client, member, viewer):
    from advisor.core.units import format_bytes
    from advisor.registry.models import Team
    from advisor.reviews import services
    from advisor.reviews.models import Review

    catalog = Team.objects.get(name="catalog")
    client.force_login(member)
    data = {}
    expires = (timezone.localdate() + dt.timedelta(days=60)).isoformat()
    for i, f in enumerate(services.blocking_findings(services.team_findings(catalog))):
        data[f"reason_{i}"] = f"Accepted until the {f.rule} fix ships"
        data[f"expires_{i}"] = expires
    assert client.post("/teams/catalog/review/", data).status_code == 302
    review = Review.objects.get(team=catalog)
    client.force_login(viewer)
    total = format_bytes(review.sizing["total_bytes"])
    assert re.search(r"\d (B|KiB|MiB|GiB|TiB)$", total)
    md = client.get(f"/reviews/{review.pk}/report.md").content.decode()
    page = client.get(f"/reviews/{review.pk}/").content.decode()
    report = client.get(f"/reviews/{review.pk}/report/").content.decode()
    assert f"Estimated memory of the team's namespaces: {total}." in md
    for html in (page, report):
        assert f"<strong>{total}</strong>" in html
        assert not re.search(r"\d (KB|MB|GB|bytes)<", html)


def test_namespace_pages_show_the_design_ttl_as_a_duration_and_values_in_iec_units(
    client, viewer, demo_registry
):
    from advisor.registry.models import Namespace

    ns = (
        Namespace.objects.exclude(ttl_mode="none")
        .exclude(ttl_seconds=None)
        .filter(ttl_seconds__gte=60)
        .first()
    )
    client.force_login(viewer)
    ttl = format_duration(ns.ttl_seconds, parts=None)
    detail = client.get(f"/namespaces/{ns.name}/").content.decode()
    assert ttl in detail and f"{ns.ttl_seconds} s" not in detail
    assert f">{format_bytes(ns.value_bytes_max)}</span>" in detail
    listing = client.get("/namespaces/", {"q": ns.name}).content.decode()
    assert ttl in listing and f"{ns.ttl_seconds}s" not in listing
