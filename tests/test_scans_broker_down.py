"""Starting a scan while the Celery broker is down (issue 11, item 5): the API answers 503 with a
JSON reason, the page says so, and no run is left queued to block the instance's next scan.

The broker is a real redis-server that the app has been talking to, stopped; transactional
tests, so that the task is sent in the request as in production (not on a commit that a test
transaction never makes)."""

from __future__ import annotations

import contextlib
import time

import pytest
from django.test import Client

from advisor.accounts.models import ApiToken
from advisor.celery import app
from advisor.lib.redisproc import RedisProcess
from advisor.scans.models import ScanRun
from tests.registry_fixtures import register_shop

pytestmark = pytest.mark.django_db(transaction=True)


def _point_celery_at(url: str, settings) -> None:
    # Only the app's references: kombu keeps one pool per broker URL for the process, and the
    # private broker's must stay open for the tests that come after.
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    app.conf.broker_url = url
    settings.CELERY_BROKER_URL = url
    settings.REDIS_URL = url


@contextlib.contextmanager
def stopped_broker(settings):
    """A broker the app has published to, then stopped: its port refuses connections."""
    original = app.conf.broker_url
    broker = RedisProcess().start()
    try:
        _point_celery_at(broker.url, settings)
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)  # the app did reach it once
        broker.stop()
        yield broker.url
    finally:
        broker.stop()
        _point_celery_at(original, settings)


@pytest.fixture
def shop(db):
    # The cache is never reached: the scan is not queued.
    return register_shop("redis://127.0.0.1:6390/0")


@pytest.fixture
def admin_api(admin_user):
    _, token = ApiToken.issue(user=admin_user, name="t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_api_answers_503_with_a_reason_and_leaves_no_run_queued(shop, admin_api, settings):
    with stopped_broker(settings):
        start = time.monotonic()
        response = admin_api.post(f"/api/instances/{shop.name}/scans")
        elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response["Retry-After"] == "60"
    detail = response.json()["detail"]
    assert detail.startswith(f"The scan of {shop.name} was not queued: the task queue is unreachable.")
    assert "127.0.0.1" not in detail  # the broker's address stays in the log
    assert elapsed < 15
    (run,) = ScanRun.objects.filter(instance=shop)
    assert run.status == ScanRun.Status.FAILED and run.finished_at is not None
    assert run.reason == "not queued: the task queue (the Celery broker) is unreachable"
    assert not ScanRun.objects.filter(status__in=ScanRun.ACTIVE).exists()

    # The broker is back: the next start is not refused with 409 by a run stuck in the queue.
    again = admin_api.post(f"/api/instances/{shop.name}/scans")
    assert again.status_code == 202 and again.json()["status"] == "queued"
    app.control.purge()  # its task must not reach a worker of a later test


def test_the_page_says_the_scan_was_not_queued_and_leaves_no_run_queued(shop, admin_user, client, settings):
    client.force_login(admin_user)
    with stopped_broker(settings):
        response = client.post(f"/instances/{shop.name}/scans/start/", follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "was not queued: the task queue is unreachable" in body
    assert not ScanRun.objects.filter(instance=shop, status__in=ScanRun.ACTIVE).exists()
    assert ScanRun.objects.get(instance=shop).status == ScanRun.Status.FAILED


def test_a_scheduled_scan_with_the_broker_down_fails_its_run_instead_of_queueing_it(shop, settings):
    from advisor.scans.tasks import scan_scheduled_task

    with stopped_broker(settings):
        result = scan_scheduled_task.run(shop.pk)
    assert result == {"instance": shop.name, "status": "failed: the task queue is unreachable"}
    assert ScanRun.objects.get(instance=shop).status == ScanRun.Status.FAILED


def test_a_broker_that_never_answered_is_down_too(shop, admin_api, settings):
    original = app.conf.broker_url
    port = RedisProcess().port  # a free port nobody listens on
    try:
        _point_celery_at(f"redis://127.0.0.1:{port}/0", settings)
        response = admin_api.post(f"/api/instances/{shop.name}/scans")
    finally:
        _point_celery_at(original, settings)
    assert response.status_code == 503 and "task queue is unreachable" in response.json()["detail"]
    assert not ScanRun.objects.filter(status=ScanRun.Status.QUEUED).exists()
