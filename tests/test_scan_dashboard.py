"""The scan dashboard: a failed or cancelled scan is shown with its whole reason, when it happened
and who started it, above the last completed scan; the live progress reads the same everywhere
(status, keys, percent) while a real scan runs."""

import html
import re

import pytest
import redis
from django.utils import timezone

from advisor.lib.redisproc import RedisProcess, free_port
from advisor.scans import services
from advisor.scans.models import ScanRun
from tests.registry_fixtures import register_shop

pytestmark = pytest.mark.django_db

KEYS = 6_000


@pytest.fixture(scope="module")
def cache():
    with RedisProcess() as server:
        pipe = redis.Redis(port=server.port).pipeline(transaction=False)
        for i in range(KEYS):
            pipe.set(f"prod:shop:product:v1:{i}", "v", ex=600)
        pipe.execute()
        yield server


@pytest.fixture
def shop(cache, db):
    return register_shop(cache.url, cardinality=KEYS)


def _scan(instance, *, user=None, **options):
    run = services.scan_run_create(instance=instance, enqueue=False, user=user)
    return services.scan_run_execute(run=run, options=services.scan_options(**options))


def _unreachable(instance):
    instance.connection_url = f"redis://127.0.0.1:{free_port()}/0"
    instance.save()


def _text(body: str, element_id: str) -> str:
    match = re.search(rf'<div[^>]*id="{element_id}".*?</div>\s*</div>', body, re.S)
    assert match, f"no #{element_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


def test_a_failed_first_scan_shows_its_whole_reason_not_no_completed_scan(client, shop, admin_user):
    _unreachable(shop)
    run = _scan(shop, user=admin_user, connect_timeout=1.0)
    assert run.status == ScanRun.Status.FAILED and run.error_kind == "unreachable"
    client.force_login(admin_user)
    body = client.get(f"/instances/{shop.name}/scans/").content.decode()
    box = _text(body, "scan-unsuccessful")
    assert "The last scan, #1 , failed unreachable" in box
    assert run.reason in box  # whole, as stored
    assert f"started by {admin_user.username}, on the page" in box
    assert timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M") in box
    assert "The last completed scan is shown below" not in box
    assert "No completed scan yet: no scan of this instance has completed so far." in body


def test_a_reason_longer_than_any_line_is_stored_and_shown_whole(client, shop, viewer):
    reason = "the server answered: " + " ".join(f"part-{i:03d}" for i in range(150))  # ~1,300 characters
    run = ScanRun.objects.create(
        instance=shop, status=ScanRun.Status.FAILED, reason=reason, error_kind="protocol"
    )
    run.refresh_from_db()
    assert run.reason == reason
    client.force_login(viewer)
    dashboard = client.get(f"/instances/{shop.name}/scans/").content.decode()
    assert reason in _text(dashboard, "scan-unsuccessful")
    recent = re.search(r"Recent runs.*?</table>", dashboard, re.S).group(0)
    assert reason in recent and "text-truncate" not in recent
    assert reason in client.get(f"/scans/{run.pk}/").content.decode()
    assert client.get(f"/api/scans/{run.pk}").json()["reason"] == reason


def test_a_cancelled_scan_after_a_completed_one_is_shown_above_the_completed_one(client, shop, member):
    completed = _scan(shop)
    assert completed.status == ScanRun.Status.COMPLETED
    queued = services.scan_run_create(instance=shop, enqueue=False, trigger=ScanRun.Trigger.SCHEDULE)
    services.scan_run_cancel(run=queued)
    client.force_login(member)
    body = client.get(f"/instances/{shop.name}/scans/").content.decode()
    box = _text(body, "scan-unsuccessful")
    assert "The last scan, #2 , was cancelled" in box
    assert "cancelled before it started" in box and "started by the schedule" in box
    assert "The last completed scan is shown below" in box
    assert "No completed scan yet" not in body
    assert f'Last completed scan <a href="/scans/{completed.pk}/">#1</a>' in body
    assert body.index('id="scan-unsuccessful"') < body.index("keys scanned")


def test_a_completed_scan_after_a_failed_one_hides_the_failure(client, shop, viewer):
    url = shop.connection_url
    _unreachable(shop)
    _scan(shop, connect_timeout=1.0)
    shop.connection_url = url
    shop.save()
    _scan(shop)
    client.force_login(viewer)
    body = client.get(f"/instances/{shop.name}/scans/").content.decode()
    assert 'id="scan-unsuccessful"' not in body
    assert "Last completed scan" in body


# Progress ---------------------------------------------------------------------------------------


def _fragment(client, run) -> dict:
    body = client.get(f"/scans/{run.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    bar = re.search(r'class="progress-bar[^"]*"[^>]*data-width="([^"]+)">([^<]*)<', body)
    keys = re.search(r'id="scan-progress-keys">(.*?)</span>', body, re.S).group(1)
    valuenow = re.search(r'aria-valuenow="(\d+)"', body)
    return {
        "body": body,
        "width": bar.group(1),
        "label": bar.group(2).strip(),
        "keys": " ".join(keys.split()),
        "valuenow": valuenow.group(1) if valuenow else None,
    }


def test_a_queued_scan_shows_no_keys_and_no_percent(client, shop, viewer):
    run = services.scan_run_create(instance=shop, enqueue=False)
    client.force_login(viewer)
    f = _fragment(client, run)
    assert "Scan #1 queued" in f["body"]
    assert f["keys"] == "waiting for a worker"
    assert f["label"] == "" and f["valuenow"] is None and f["width"] == "100"  # indeterminate
    assert 'aria-valuetext="queued"' in f["body"]


def test_a_scan_queued_again_for_a_retry_forgets_the_progress_of_its_attempt(client, shop, viewer):
    run = services.scan_run_create(instance=shop, enqueue=False)
    # What a heartbeat of an attempt wrote: 40% of the keys.
    ScanRun.objects.filter(pk=run.pk).update(keys_scanned=2_400, keys_total=KEYS)
    _unreachable(shop)
    run = services.scan_run_execute(
        run=run, options=services.scan_options(connect_timeout=1.0), max_attempts=3
    )
    assert run.status == ScanRun.Status.QUEUED and run.retry_in == 10
    assert (run.keys_scanned, run.keys_total, run.progress_percent) == (0, None, None)
    client.force_login(viewer)
    f = _fragment(client, run)
    assert f["keys"] == "attempt 2 waits for a worker"
    assert f["label"] == "" and f["valuenow"] is None
    assert "The last attempt failed:" in f["body"] and "retrying in 10s" in f["body"]
    assert client.get(f"/api/scans/{run.pk}").json()["progress_percent"] is None


def test_the_progress_figures_agree_at_every_step_of_a_real_scan(client, shop, viewer, monkeypatch):
    """While a real scan runs, its fragment is read after every progress report: the keys, the
    percent beside them, the bar's width and label and aria-valuenow are the stored run's."""
    monkeypatch.setattr(services, "HEARTBEAT_EVERY_S", 0.0)  # every look writes the progress
    client.force_login(viewer)
    run = services.scan_run_create(instance=shop, enqueue=False)
    seen = []

    def look(progress):
        stored = ScanRun.objects.get(pk=run.pk)
        if stored.status != ScanRun.Status.RUNNING:
            return
        f = _fragment(client, stored)
        assert "Scanning (#1)" in f["body"]
        if stored.keys_total:
            percent = min(99, int(100 * stored.keys_scanned / stored.keys_total))
            assert f["keys"] == f"{stored.keys_scanned:,} keys of ~{stored.keys_total:,} · {percent}%"
            assert (f["width"], f["label"], f["valuenow"]) == (str(percent), f"{percent}%", str(percent))
        else:
            assert f["keys"] == f"{stored.keys_scanned:,} keys"
            assert (f["width"], f["label"], f["valuenow"]) == ("100", "", None)
        seen.append(stored.keys_scanned)

    run = services.scan_run_execute(
        run=run,
        options=services.scan_options(count=500, progress_interval=0.0),
        on_progress=look,
    )
    assert run.status == ScanRun.Status.COMPLETED and run.keys_scanned == KEYS
    assert len(seen) >= 3 and max(seen) > 0  # it was looked at while keys were being counted
    f = _fragment(client, run)
    assert "Scan #1 completed" in f["body"] and f["keys"] == f"{KEYS:,} keys of ~{KEYS:,} · 100%"
    assert (f["width"], f["label"]) == ("100", "100%")
