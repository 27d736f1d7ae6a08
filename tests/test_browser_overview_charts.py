"""In Chromium: the overview and the compliance page draw their charts (findings by severity, drift
over time) under the strict Content-Security-Policy. Screenshots kept as artifacts."""

import datetime as dt

import pytest
from django.utils import timezone

from advisor.registry.models import Instance
from advisor.scans.models import ScanRun
from tests.browser import browser, login, new_page, page, screenshot  # noqa: F401
from tests.test_csp import Watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DRAWN = "(selector) => window.Chart && Chart.getChart(document.querySelector(selector))"


@pytest.fixture
def scanned(demo_registry):
    instance = Instance.objects.get(name="prod-catalog-cache")
    now = timezone.now()
    for days_ago, high, total in [(20, 3, 8), (12, 2, 6), (4, 1, 5), (1, 0, 3)]:
        ScanRun.objects.create(
            instance=instance,
            status=ScanRun.Status.COMPLETED,
            complete=True,
            finished_at=now - dt.timedelta(days=days_ago),
            findings_high=high,
            findings_total=total,
        )


def test_the_overview_and_compliance_charts_are_drawn_without_a_violation(page, viewer, scanned):  # noqa: F811
    watch = Watch(page)
    login(page, viewer.username)
    for url, charts, name in [
        ("/", ["severity-doughnut", "drift-history"], "overview-charts"),
        ("/compliance/", ["severity-by-team", "drift-history"], "compliance-charts"),
    ]:
        assert watch.visit(url, "canvas[data-chart]") == [], url
        for kind in charts:
            page.wait_for_function(DRAWN, arg=f'canvas[data-chart="{kind}"]')
        drift = page.evaluate(
            "() => Chart.getChart(document.querySelector('canvas[data-chart=\"drift-history\"]')).data.datasets[0].data"
        )
        assert drift[-1] == 3 and drift[-5] == 5  # the latest scan per day, carried forward
        page.locator(f'canvas[data-chart="{charts[1]}"]').scroll_into_view_if_needed()
        screenshot(page, name)
