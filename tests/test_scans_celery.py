"""The real scan task through a real Celery worker (a subprocess) and a real Redis broker."""

import os
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
from tests.trickle_server import TrickleServer

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


# -- scans that always end (issue 11, item 4), through the real worker


def _worker_log(worker) -> str:
    """What the worker has logged so far (read without moving the file offset it writes at)."""
    return os.pread(worker.log.fileno(), 1 << 22, 0).decode(errors="replace")


def _until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not after {timeout}s")


def _running_with_keys(run):
    run = _wait(run, {ScanRun.Status.RUNNING})
    _until(lambda: run.refresh_from_db() or run.keys_scanned > 0, 60, "no keys scanned")
    return run


def _lock_key(instance) -> str:
    return services.InstanceLock(instance.name, client=redis.Redis()).key


def _scanner_connected(server) -> bool:
    clients = redis.Redis(port=server.port, decode_responses=True).client_list()
    return any(c.get("name") == "redis-key-advisor-scan" for c in clients)


def test_cancel_stops_a_running_scan_within_seconds(instance, cache, private_broker):
    # 30,000 keys at 300 commands a second: over three minutes unless the cancel stops it.
    worker = Worker(private_broker.url, ADVISOR_SCAN_MAX_OPS="300").start()
    try:
        run = services.scan_run_create(instance=instance, enqueue=False)
        _send(run, private_broker.url)
        run = _running_with_keys(run)
        asked = time.monotonic()
        services.scan_run_cancel(run=run)
        run = _wait(run, ScanRun.FINISHED, timeout=30)
        took = time.monotonic() - asked
        _until(lambda: not _scanner_connected(cache), 10, "the scanner is still connected")
    finally:
        worker.stop()
    print(f"cancel to stop: {took:.2f} s")
    assert run.status == ScanRun.Status.CANCELLED and run.reason == "cancelled by a user"
    assert 0 < run.keys_scanned < 30_000 and not run.complete
    assert took < 10  # a look every 2 s, a batch every tenth of a second


def test_a_run_reaped_while_its_worker_waits_on_a_trickling_server_stays_failed(db, private_broker, settings):
    broker = redis.Redis.from_url(private_broker.url)
    with TrickleServer(slow={"SCAN"}, life=120) as server:
        instance = register_shop(server.url)
        # a reply deadline far away: only the reap can end this scan soon
        worker = Worker(private_broker.url, ADVISOR_SCAN_REPLY_TIMEOUT_S="60").start()
        try:
            run = services.scan_run_create(instance=instance, enqueue=False)
            _send(run, private_broker.url)
            run = _wait(run, {ScanRun.Status.RUNNING})
            _until(lambda: server.bytes_trickled >= 2, 30, "the server is not trickling its SCAN reply")
            settings.ADVISOR_SCAN_STALE_AFTER_S = 0
            assert services.scan_runs_reap_stale() == 1
            reaped = time.monotonic()
            # The worker sees its run taken, stops scanning, hangs up and gives its lock back.
            _until(lambda: not broker.exists(_lock_key(instance)), 15, "the worker still holds the lock")
            _until(lambda: server.open_connections == 0, 15, "the worker is still connected")
            took = time.monotonic() - reaped
            _until(lambda: "succeeded" in _worker_log(worker), 15, "the task did not end")
            run.refresh_from_db()
        finally:
            log = worker.stop()
    print(f"reap to stop: {took:.2f} s")
    assert run.status == ScanRun.Status.FAILED and "no heartbeat" in run.reason  # the reaper's word stands
    assert run.attempts == 1 and run.error_kind == "" and run.report is None
    assert "retry" not in log.lower()
    assert server.connections == 1  # no second attempt came


def test_a_trickling_server_fails_the_attempt_and_a_cancel_before_the_retry_is_final(db, private_broker):
    # INFO trickles: the scan cannot start (a failed attempt, which is retried; a SCAN that
    # stalls later ends the scan incomplete instead).
    with TrickleServer(slow={"INFO"}, life=120) as server:
        instance = register_shop(server.url)
        worker = Worker(private_broker.url, ADVISOR_SCAN_REPLY_TIMEOUT_S="2").start()
        try:
            run = services.scan_run_create(instance=instance, enqueue=False)
            _send(run, private_broker.url)
            run = _wait(run, {ScanRun.Status.RUNNING})
            started = time.monotonic()
            # the first attempt fails at its reply deadline and goes back to the queue
            run = _wait(run, {ScanRun.Status.QUEUED}, timeout=30)
            failed_after = time.monotonic() - started
            assert run.error_kind == "timeout" and "no complete reply within 2s" in run.reason
            assert "retrying in 10s" in run.reason and run.attempts == 1
            services.scan_run_cancel(run=run)
            # the retry comes ten seconds later and finds the run final
            _until(lambda: "'status': 'cancelled'" in _worker_log(worker), 40, "the retry did not run")
            run.refresh_from_db()
        finally:
            worker.stop()
    print(f"reply deadline 2 s: the attempt failed after {failed_after:.2f} s")
    assert failed_after < 2 + 6
    assert run.status == ScanRun.Status.CANCELLED and run.attempts == 1
    assert server.connections == 1  # the retry did not connect


def test_a_worker_that_loses_its_lock_stops_scanning(instance, cache, private_broker):
    broker = redis.Redis.from_url(private_broker.url)
    worker = Worker(private_broker.url, ADVISOR_SCAN_MAX_OPS="300").start()
    try:
        run = services.scan_run_create(instance=instance, enqueue=False)
        _send(run, private_broker.url)
        run = _running_with_keys(run)
        broker.set(_lock_key(instance), "another-worker")  # as if it had lapsed and been taken
        taken = time.monotonic()
        run = _wait(run, ScanRun.FINISHED, timeout=30)
        took = time.monotonic() - taken
        _until(lambda: not _scanner_connected(cache), 10, "the scanner is still connected")
        assert broker.get(_lock_key(instance)) == b"another-worker"  # the other owner's lock is left alone
    finally:
        broker.delete(_lock_key(instance))
        worker.stop()
    assert run.status == ScanRun.Status.FAILED and "lost its instance lock" in run.reason
    assert took < 10
