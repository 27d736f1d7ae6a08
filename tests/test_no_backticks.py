"""No page that shows findings shows a literal backtick: the rules write `code` spans in their
messages and remediations, and every page renders them (as <code>), never as raw Markdown.

The registry is the demo design (design findings with code spans on most teams), one of its
caches is scanned for real (a private redis-server holding the demo keyspace with its drift), and
the catalog team submits a review through its page; then every page that shows findings is
rendered with the test client and read as a reader would: without tags, and without <code> and
<pre> blocks, where a backtick may be meant literally.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil

import pytest
from django.utils import timezone

from advisor.demo import keyspace as ks
from advisor.findings.models import DesignFinding
from advisor.findings.services import findings_ensure_fresh
from advisor.lib.redisproc import RedisProcess
from advisor.registry.models import Instance, Namespace
from advisor.scans import services as scans
from advisor.scans.models import ScanRun

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
]

SCANNED = "prod-catalog-cache"  # hosts the catalog team's namespaces
TEAM = "catalog"

_LITERAL = re.compile(r"<(code|pre|script|style)\b[^>]*>.*?</\1>", re.S | re.I)
_UNSEEN = re.compile(r"<(script|style)\b[^>]*>.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def backtick_lines(body: str) -> list[str]:
    """The lines of visible text that show a backtick, outside code and pre blocks."""
    text = html.unescape(_TAG.sub(" ", _LITERAL.sub(" ", body)))
    return [" ".join(line.split()) for line in text.splitlines() if "`" in line]


def reader_text(body: str) -> str:
    """The page's text on one line, code spans read as the text they hold."""
    body = re.sub(r"</?code>", "", _UNSEEN.sub(" ", body))
    return " ".join(html.unescape(_TAG.sub(" ", body)).split())


def as_read(markdown: str) -> str:
    """A message with code spans, as a reader sees it once rendered: the spans' text, no backticks."""
    return " ".join(markdown.replace("`", "").split())


@pytest.fixture(scope="module")
def cache():
    """A private redis-server holding the demo keyspace of prod-catalog-cache, drift included."""
    from conftest import demo_design

    with RedisProcess(args=["--maxmemory-policy", "allkeys-lru"]) as server:
        ks.load_demo_keyspace(server.url, demo_design(), [SCANNED], total_keys=3000, seed=7)
        yield server


@pytest.fixture
def scanned(cache, demo_registry, member, reviewer) -> ScanRun:
    """The demo registry with a completed scan of prod-catalog-cache that found drift."""
    # The demo runner starts a cluster for this instance; here its keyspace is one plain server.
    Instance.objects.filter(name=SCANNED).update(connection_url=cache.url, clustering="none")
    run = scans.scan_run_create(instance=Instance.objects.get(name=SCANNED), enqueue=False)
    run = scans.scan_run_execute(run=run, options=scans.scan_options(memory_sample=1.0, max_ops=0))
    assert run.status == ScanRun.Status.COMPLETED and run.complete, run.reason
    assert {"DRF002", "DRF006"} <= {f["rule"] for f in run.findings}  # keys without TTL, e-mails in keys
    return run


@pytest.fixture
def spanned(scanned) -> ScanRun:
    """A later completed scan of the same instance whose stored report has a drift finding written
    as the design rules write theirs, with code spans (the drift rules' messages have none today)."""
    report = dict(scanned.report)
    real = next(f for f in report["findings"] if f["rule"] == "DRF002")
    pattern = Namespace.objects.get(name=real["target"].partition(":")[2]).pattern
    report["findings"] = [
        {
            **real,
            "message": f"Keys of `{pattern}`: {real['message']}",
            "remediation": f"Give every key of `{pattern}` a TTL. {real['remediation']}",
        },
        *report["findings"],
    ]
    return ScanRun.objects.create(
        instance=scanned.instance,
        status=ScanRun.Status.COMPLETED,
        complete=True,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        keys_scanned=scanned.keys_scanned,
        keys_total=scanned.keys_total,
        coverage=scanned.coverage,
        memory_bytes=scanned.memory_bytes,
        report=report,
        findings_total=scanned.findings_total + 1,
        findings_high=scanned.findings_high,
    )


def _submit_review(client, member):
    """The catalog team's review, submitted through its page with a waiver asked for every
    blocking finding (the page's own form decides which those are)."""
    from advisor.reviews.models import Review

    client.force_login(member)
    form = client.get(f"/teams/{TEAM}/review/").content.decode()
    expires = (timezone.localdate() + dt.timedelta(days=60)).isoformat()
    data = {}
    for i in re.findall(r'name="reason_(\d+)"', form):
        data[f"reason_{i}"] = "Accepted until the fix ships"
        data[f"expires_{i}"] = expires
    response = client.post(f"/teams/{TEAM}/review/", data)
    assert response.status_code == 302, response.content.decode()
    client.logout()
    return Review.objects.filter(team__name=TEAM).latest("pk")


def _review_pages(review) -> list[str]:
    return [f"/teams/{TEAM}/review/", f"/reviews/{review.pk}/", f"/reviews/{review.pk}/report/"]


def _scan_pages(run: ScanRun) -> list[str]:
    return [f"/instances/{SCANNED}/scans/", f"/scans/{run.pk}/"]


def _render(client, user, urls: list[str]) -> dict[str, str]:
    client.force_login(user)
    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.content.decode()
    return bodies


def _literal_backticks(bodies: dict[str, str]) -> dict[str, list[str]]:
    return {url: lines[:3] for url, body in bodies.items() if (lines := backtick_lines(body))}


def test_no_page_with_a_finding_shows_a_literal_backtick(client, scanned, member, reviewer):
    review = _submit_review(client, member)
    findings_ensure_fresh()
    spans = DesignFinding.objects.filter(message__contains="`")
    assert spans.count() >= 10  # the demo's findings do carry code spans
    rules = sorted(
        {*DesignFinding.objects.values_list("rule", flat=True), *(f["rule"] for f in scanned.findings)}
    )
    retiring = Instance.objects.filter(product="azure-cache-for-redis").values_list("name", flat=True)
    assert retiring
    urls = ["/", "/findings/", "/compliance/", "/waivers/", "/migration/"]
    urls += [
        f"/namespaces/{name}/" for name in Namespace.objects.order_by("name").values_list("name", flat=True)
    ]
    urls += [
        f"/instances/{name}/" for name in Instance.objects.order_by("name").values_list("name", flat=True)
    ]
    urls += [f"/rules/{rule}/" for rule in rules]
    urls += [f"/migration/{name}/" for name in retiring]
    urls += _scan_pages(scanned) + _review_pages(review)
    bodies = _render(client, reviewer, urls)

    assert _literal_backticks(bodies) == {}

    # The pages did show those messages and remediations, code spans rendered.
    text = {url: reader_text(body) for url, body in bodies.items()}
    for f in spans:
        page = f"/{f.target_kind}s/{f.target_name}/"
        assert as_read(f.message) in text[page], (page, f.message)
        assert as_read(f.remediation) in text[page], (page, f.remediation)
        assert "<code>" in bodies[page]
    assert sum(as_read(f.message) in text["/findings/"] for f in spans) >= 10
    team_spans = [
        f
        for f in spans
        if f.target_name in Namespace.objects.filter(team__name=TEAM).values_list("name", flat=True)
    ]
    assert team_spans
    for url in _review_pages(review):
        assert all(as_read(f.message) in text[url] for f in team_spans), url
    for url in _scan_pages(scanned):
        assert all(as_read(f["message"]) in text[url] for f in scanned.findings), url
    for rule in rules:  # the rule's documentation, Markdown with code spans
        assert "<code>" in bodies[f"/rules/{rule}/"], rule


def test_the_review_pages_render_code_spans_in_the_drift_they_show(client, spanned, member, reviewer):
    review = _submit_review(client, member)
    bodies = _render(client, reviewer, _review_pages(review))
    assert _literal_backticks(bodies) == {}
    drift = spanned.findings[0]
    for url, body in bodies.items():
        assert as_read(drift["message"]) in reader_text(body), url
        assert as_read(drift["remediation"]) in reader_text(body), url


def test_the_scan_pages_render_code_spans_in_drift_findings(client, spanned, reviewer):
    bodies = _render(client, reviewer, _scan_pages(spanned))
    assert _literal_backticks(bodies) == {}
    drift = spanned.findings[0]
    for url, body in bodies.items():
        assert as_read(drift["message"]) in reader_text(body), url
        assert as_read(drift["remediation"]) in reader_text(body), url
