"""Deliveries through a real Celery worker (a subprocess) and a real Redis broker: a webhook that
answers is sent at once, while one that hangs and one that answers 500 are retried with backoff
and then marked failed, without holding up the rest."""

import os
import time

import pytest

from advisor.notifications import services
from advisor.notifications.models import DeliveryStatus, NotificationDelivery
from advisor.registry.models import Team
from tests.celery_worker import Worker
from tests.notification_fixtures import SECRET, SECRET_VAR, channel, loopback_settings, signature_ok
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _ready(worker, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b" ready." in os.pread(worker.log.fileno(), 1 << 22, 0):
            return
        time.sleep(0.1)
    raise AssertionError(f"the worker was not ready after {timeout}s")


def _until_final(delivery: NotificationDelivery, timeout: float) -> NotificationDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.QUEUED:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"delivery {delivery.pk} still queued after {timeout}s ({delivery.last_error})")


def test_the_worker_sends_retries_with_backoff_and_gives_up_without_blocking_others(
    demo_registry, private_broker, settings, monkeypatch
):
    loopback_settings(settings, monkeypatch, attempts=3, timeout=1)
    catalog = Team.objects.get(name="catalog")
    env = {
        "ADVISOR_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "ADVISOR_NOTIFY_TIMEOUT_S": "1",
        "ADVISOR_NOTIFY_ATTEMPTS": "3",
        "ADVISOR_NOTIFY_BACKOFF_S": "1",
        SECRET_VAR: SECRET,
    }
    with Receiver(slow_s=5.0) as receiver:
        hanging = channel(catalog, "webhook", receiver.url("/slow/hook"), name="hangs")
        failing = channel(catalog, "slack", receiver.url("/fail/slack"), name="fails")
        working = channel(catalog, "webhook", receiver.url("/ok/hook"), name="works")
        worker = Worker(private_broker.url, **env).start()
        try:
            _ready(worker)
            started = time.monotonic()
            # Outside a transaction each test send is committed, and its task sent, at once;
            # the hanging and failing ones are queued first.
            slow = services.channel_send_test(channel=hanging, actor=None)
            bad = services.channel_send_test(channel=failing, actor=None)
            good = services.channel_send_test(channel=working, actor=None)
            good = _until_final(good, 60)
            good_after = time.monotonic() - started
            slow = _until_final(slow, 60)
            bad = _until_final(bad, 60)
            all_after = time.monotonic() - started
        finally:
            log = worker.stop()
    print(f"sent after {good_after:.1f} s; both failures final after {all_after:.1f} s")
    assert good.status == DeliveryStatus.SENT and good.attempts == 1, (good.last_error, log[-3000:])
    [request] = receiver.to("/ok/hook")
    assert signature_ok(SECRET, request) and request.json()["delivery"] == good.pk

    assert slow.status == DeliveryStatus.FAILED and slow.attempts == 3
    assert slow.last_error == "127.0.0.1 did not answer within 1 s (gave up after 3 attempts)"
    assert bad.status == DeliveryStatus.FAILED and bad.attempts == 3
    assert bad.last_error == "127.0.0.1 answered HTTP 500: rollup_error (gave up after 3 attempts)"
    # Retried, not repeated at once: the attempts are a backoff apart (1 s, then 2 s).
    hits = [r.at for r in receiver.to("/fail/slack")]
    assert len(hits) == 3
    assert hits[1] - hits[0] >= 1.0 and hits[2] - hits[1] >= 2.0
    # The working channel did not wait for the others' retries: a hanging receiver holds the one
    # worker process for its timeout, never for the receiver's five seconds or the backoff.
    assert good_after < 1 + 10
    assert good.finished_at < slow.finished_at and good.finished_at < bad.finished_at
    assert log.count("Retry in 1s") == 2 and log.count("Retry in 2s") == 2  # two deliveries, two retries each
