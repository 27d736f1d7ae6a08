"""Helpers for the notification tests: channels made through the service, a delivery attempted
through the Celery task (eagerly, with `.apply()`, as the scan tests run theirs), and an HMAC
check written from the README's recipe rather than taken from the code under test."""

from __future__ import annotations

import hashlib
import hmac

from advisor.notifications import services
from advisor.notifications.events import EVENT_KINDS
from advisor.notifications.models import NotificationChannel, NotificationDelivery
from advisor.notifications.tasks import notification_deliver_task

SECRET_VAR = "OPS_WEBHOOK_SECRET"
SECRET = "test-signing-secret-with-enough-entropy-4f1c"


def loopback_settings(settings, monkeypatch, *, attempts: int = 3, timeout: int = 1) -> None:
    """Webhooks to 127.0.0.1 (named on the allowlist, so plain http is accepted), short timeouts."""
    settings.ADVISOR_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.ADVISOR_NOTIFY_TIMEOUT_S = timeout
    settings.ADVISOR_NOTIFY_ATTEMPTS = attempts
    settings.ADVISOR_NOTIFY_BACKOFF_S = 1
    settings.ADVISOR_BASE_URL = "https://advisor.example.com"
    monkeypatch.setenv(SECRET_VAR, SECRET)


def channel(
    team,
    kind: str,
    target: str,
    *,
    events=EVENT_KINDS,
    secret_ref: str = "",
    name: str | None = None,
    enabled: bool = True,
) -> NotificationChannel:
    if kind == "webhook" and not secret_ref:
        secret_ref = f"env:{SECRET_VAR}"
    return services.channel_save(
        channel=None,
        team=team,
        data=services.ChannelData(
            name=name or f"{kind}-{NotificationChannel.objects.count() + 1}",
            kind=kind,
            target=target,
            secret_ref=secret_ref,
            events=tuple(events),
            enabled=enabled,
        ),
        actor=None,
    )


def deliver(delivery: NotificationDelivery) -> NotificationDelivery:
    """Every attempt of one delivery, as the worker would make them (retries come at once)."""
    notification_deliver_task.apply(args=[delivery.pk, delivery.token]).get()
    delivery.refresh_from_db()
    return delivery


def signature_ok(secret: str, request) -> bool:
    """The receiver's side: HMAC-SHA256 over "<timestamp>.<raw body>", compared in constant time."""
    timestamp = request.headers["X-Advisor-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, request.headers["X-Advisor-Signature"])
