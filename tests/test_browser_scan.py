"""In Chromium: an administrator starts a scan from the dashboard, watches the live progress bar
(htmx polling against a real Celery worker), and the page shows the report when the scan ends."""

import pytest
import redis

from advisor.lib.redisproc import RedisProcess
from advisor.scans.models import ScanRun
from tests.browser import browser, login, new_page, page, screenshot  # noqa: F401
from tests.celery_worker import Worker
from tests.registry_fixtures import register_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEYS = 60_000


@pytest.fixture
def shop():
    with RedisProcess() as server:
        pipe = redis.Redis(port=server.port).pipeline(transaction=False)
        for i in range(KEYS):
            # Every tenth key without its TTL: drift the report must show.
            pipe.set(f"prod:shop:product:v1:{i}", "v", ex=None if i % 10 == 0 else 600)
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
        instance = register_shop(server.url, value_bytes_typical=10, value_bytes_max=100, cardinality=KEYS)
        yield instance


def test_a_scan_started_in_the_browser_shows_live_progress_then_the_report(
    page,  # noqa: F811
    admin_user,
    shop,
    private_broker,
):
    # An ops budget slows the scan to several seconds, so there is progress to watch.
    worker = Worker(private_broker.url, ADVISOR_SCAN_MAX_OPS="25000").start()
    try:
        login(page, admin_user.username)
        page.goto(f"/instances/{shop.name}/scans/")
        page.get_by_text("No completed scan yet").wait_for()
        page.click("text=Scan now")
        bar = page.locator("#scan-progress .progress-bar")
        bar.wait_for()
        page.locator("#scan-progress", has_text="Scanning").wait_for(timeout=30_000)
        page.wait_for_function(
            "() => parseInt(document.querySelector('#scan-progress .progress-bar').style.width) > 5",
            timeout=30_000,
        )
        screenshot(page, "scan-progress", full_page=False)
        # When the run ends the fragment asks for a refresh: the report replaces the progress bar.
        page.get_by_text("keys scanned").wait_for(timeout=90_000)
        assert page.locator("#scan-progress").count() == 0
        body = page.content()
        assert "DRF002" in body and "6,000 of 60,000 keys" in body
        screenshot(page, "scan-dashboard")
    finally:
        worker.stop()
    run = ScanRun.objects.get(instance=shop)
    assert run.status == ScanRun.Status.COMPLETED and run.keys_scanned == KEYS
