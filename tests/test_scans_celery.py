"""The real scan task through a real Celery worker (a subprocess) and a real Redis broker."""

import time
from pathlib import Path

import pytest
import redis

from advisor.celery import app
from advisor.lib.redisproc import RedisProcess
from advisor.scans import services
from advisor.scans.models import ScanRun
from advisor.scans.tasks import scan_instance_task
from tests.celery_worker import Worker
from tests.registry_fixtures import register_shop

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def cache():
    with RedisProcess() as server:
        client = redis.Redis(port=server.port)
        pipe = client.pipeline(transaction=False)
        for i in range(30_000):
            pipe.set(f"prod:shop:product:v1:{i}", "v", ex=600)
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        yield server


@pytest.fixture
def instance(cache):
    return register_shop(cache.url, value_bytes_typical=10, value_bytes_max=100, cardinality=30_000)


def _send(run, broker_url):
    with app.connection_for_write(broker_url) as conn:
        scan_instance_task.apply_async(args=[run.pk], connection=conn)


def _wait(run, statuses, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in statuses:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} still {run.status} after {timeout}s")


def test_the_worker_runs_a_scan_task_to_completion(instance, private_broker):
    worker = Worker(private_broker.url).start()
    try:
        run = services.scan_run_create(instance=instance, enqueue=False)
        _send(run, private_broker.url)
        run = _wait(run, ScanRun.FINISHED)
        assert run.status == ScanRun.Status.COMPLETED, run.reason
        assert run.keys_scanned == 30_000 and run.complete
        assert run.task_id
    finally:
        log = worker.stop()
    assert "succeeded" in log


def test_a_worker_killed_mid_scan_leaves_no_run_running_forever(instance, private_broker, settings):
    # A slow scan (ops budget) so that there is time to kill the worker in the middle.
    env = {"ADVISOR_SCAN_MAX_OPS": "3000", "ADVISOR_SCAN_LOCK_TTL_S": "3"}
    worker = Worker(private_broker.url, **env).start()
    try:
        run = services.scan_run_create(instance=instance, enqueue=False)
        _send(run, private_broker.url)
        run = _wait(run, {ScanRun.Status.RUNNING})
        deadline = time.monotonic() + 30
        while run.keys_scanned == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            run.refresh_from_db()
        worker.kill()
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == ScanRun.Status.RUNNING  # nobody is left to say otherwise...
    settings.ADVISOR_SCAN_STALE_AFTER_S = 1
    time.sleep(1.5)
    assert services.scan_runs_reap_stale() == 1  # ...until housekeeping notices the silence
    run.refresh_from_db()
    assert run.status == ScanRun.Status.FAILED and "worker" in run.reason

    # The dead worker's lock lapses by itself; a new worker scans the instance again.
    time.sleep(3.5)
    worker = Worker(private_broker.url).start()
    try:
        again = services.scan_run_create(instance=instance, enqueue=False)
        _send(again, private_broker.url)
        again = _wait(again, ScanRun.FINISHED, timeout=90)
        assert again.status == ScanRun.Status.COMPLETED, again.reason
    finally:
        worker.stop()
