"""Content-Security-Policy (issue #11): every response carries a strict policy, and the pages keep
working under it: no inline script or style, no eval, nothing from another origin. The browser
test loads the main pages in Chromium and fails on any violation the browser reports."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from advisor.lib.csp import HEADER, POLICY, header_value
from advisor.registry.models import Instance, Team
from advisor.reviews.models import Review
from advisor.scans.models import ScanRun
from tests.browser import browser, login, new_page, page, screenshot  # noqa: F401
from tests.test_review_pages import _waiver_form

EXPECTED = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


def test_the_policy_is_the_strict_one():
    assert header_value(POLICY) == EXPECTED
    assert "unsafe" not in EXPECTED  # neither 'unsafe-inline' nor 'unsafe-eval'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, status",
    [
        ("/login/", 200),
        ("/", 302),
        ("/api/health", 200),
        ("/api/teams", 401),
        ("/no-such-page/", 404),
        ("/admin/login/", 200),
    ],
)
def test_every_response_carries_the_policy(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response[HEADER] == EXPECTED


@pytest.mark.django_db
def test_signed_in_pages_and_errors_carry_it_too(client, admin_user, demo_registry):
    client.force_login(admin_user)
    for url in ["/", "/instances/prod-catalog-cache/", "/api/docs", "/api/openapi.json", "/account/tokens/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response[HEADER] == EXPECTED, url
    response = client.post("/api/teams", "{", content_type="application/json")
    assert response.status_code >= 400 and response[HEADER] == EXPECTED


def test_no_template_has_inline_script_style_or_handlers():
    import re
    from pathlib import Path

    offenders = []
    for path in (Path(__file__).resolve().parent.parent / "templates").rglob("*.html"):
        text = path.read_text()
        for pattern in (
            r"<style",
            r"\sstyle=",
            r"\son[a-z]+=",
            r"<script(?![^>]*\bsrc=)(?![^>]*application/json)",
            "javascript:",
        ):
            if re.search(pattern, text):
                offenders.append(f"{path.name}: {pattern}")
    assert offenders == []


# In Chromium --------------------------------------------------------------------------------------

_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watch:
    """Every CSP violation on a page: the browser's event, and its console message."""

    def __init__(self, tab):
        self.page = tab
        self.console = []
        tab.on("console", self._console)
        tab.context.add_init_script(_RECORDER)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def visit(self, url, ready):
        """Load a page and wait until it is ready and quiet; its violations."""
        self.console.clear()
        response = self.page.goto(url)
        assert response.status < 400, (url, response.status)
        assert response.headers["content-security-policy"] == EXPECTED, url
        self.page.locator(ready).first.wait_for()
        self.page.wait_for_load_state("networkidle")
        return self.violations()

    def violations(self):
        """Those of the page now shown (the recorder starts afresh with each document)."""
        return self.console + self.page.evaluate("window.__cspViolations")


@pytest.fixture
def review(admin_user, member):
    catalog = Team.objects.get(name="catalog")
    client = Client()
    client.force_login(member)
    assert client.post("/teams/catalog/review/", _waiver_form(catalog)).status_code == 302
    return Review.objects.get(team=catalog)


@pytest.fixture
def running_scan(admin_user):
    now = timezone.now()
    return ScanRun.objects.create(
        instance=Instance.objects.get(name="prod-catalog-cache"),
        status=ScanRun.Status.RUNNING,
        started_at=now - dt.timedelta(seconds=5),
        heartbeat_at=now + dt.timedelta(minutes=5),
        keys_scanned=4_200,
        keys_total=10_000,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_main_pages_work_in_chromium_without_a_violation(page, admin_user, review, running_scan):  # noqa: F811
    watch = Watch(page)
    login(page, admin_user.username)
    pages = [
        ("/", "h1"),
        ("/instances/prod-catalog-cache/", "canvas[data-sizing-chart]"),
        ("/instances/prod-catalog-cache/scans/", "#scan-progress .progress-bar"),
        ("/namespaces/", "h1"),
        ("/findings/", "h1"),
        ("/rules/", "th.w-16rem"),
        ("/rules/KEY001/", ".rule-doc"),
        ("/migration/prod-legacy-cache/", "h1"),
        ("/platform/", "h1"),
        (f"/reviews/{review.pk}/", "h1"),
        ("/reviews/", "select[data-autosubmit]"),
        (f"/reviews/{review.pk}/report/", "[data-print]"),
        ("/account/tokens/", "#id_days"),
        ("/designs/", "h1"),
        ("/audit/", "h1"),
        ("/api/docs", ".swagger-ui .opblock"),
        ("/admin/", "#content"),
        ("/admin/axes/accessattempt/", "#content"),
        (f"/admin/auth/user/{admin_user.pk}/change/", "#content form"),
    ]
    found = {url: watch.visit(url, ready) for url, ready in pages}
    assert {url: v for url, v in found.items() if v} == {}

    # The pages still do what the inline code did: the chart is drawn, widths applied, htmx polls.
    page.goto("/instances/prod-catalog-cache/")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-sizing-chart]'))"
    )
    page.goto("/instances/prod-catalog-cache/scans/")
    bar = "document.querySelector('#scan-progress .progress-bar')"
    page.wait_for_function(f"() => {bar}.style.width === '42%'")
    ScanRun.objects.filter(pk=running_scan.pk).update(keys_scanned=7_300, heartbeat_at=timezone.now())
    page.wait_for_function(f"() => {bar}.style.width === '73%'", timeout=20_000)  # swapped in by htmx
    screenshot(page, "csp-scan-progress", full_page=False)
    page.goto("/api/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 20
    # Swagger UI's own requests go to this origin: try one out.
    page.locator(".opblock-summary", has_text="/api/health").first.click()
    page.click("text=Try it out")
    page.click("button.execute")
    page.locator(".live-responses-table .response-col_status", has_text="200").wait_for()
    screenshot(page, "csp-api-docs", full_page=False)
    page.goto("/account/tokens/")
    page.fill("#id_name", "ci")
    page.fill("#id_days", "30")
    page.click("text=Create token")
    page.get_by_text("30 days left").wait_for()
    screenshot(page, "token-page", full_page=False)
    page.goto("/reviews/")
    with page.expect_navigation():
        page.select_option("#id_state", index=1)
    assert "state=" in page.url
    assert watch.violations() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_sign_in_and_lockout_pages_work_without_a_violation(page, member):  # noqa: F811
    watch = Watch(page)
    assert watch.visit("/login/", "#id_username") == []
    for attempt in range(5):
        page.fill("#id_username", member.username)
        page.fill("#id_password", f"wrong-{attempt}")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
    page.get_by_text("Too many sign-in attempts").first.wait_for()
    screenshot(page, "login-locked-out", full_page=False)
    assert watch.violations() == []
