"""Celery tasks: thin shells over services (one delivery attempt) and sources (the daily jobs).

Arguments and results are JSON (the project's only serializer): ids, tokens, ISO dates.
"""

import datetime as dt

from celery import shared_task
from django.conf import settings

from advisor.findings import clock

from . import services, sources

# A request waits at most the timeout to connect and twice for the answer (headers, then the few
# bytes read of its body); the time limits bound anything else.
_SOFT_LIMIT_S = 3 * settings.ADVISOR_NOTIFY_TIMEOUT_S + 5


@shared_task(
    bind=True, acks_late=True, max_retries=None, soft_time_limit=_SOFT_LIMIT_S, time_limit=_SOFT_LIMIT_S + 10
)
def notification_deliver_task(self, delivery_id: int, token: str) -> dict:
    """One attempt; a passing failure comes back after the delivery's backoff (its attempts bound it)."""
    attempt = services.delivery_attempt(delivery_id, token)
    if attempt.retry_in is not None:
        raise self.retry(countdown=attempt.retry_in)
    return {"delivery": delivery_id, "status": attempt.status}


def _day(today: str | None) -> dt.date:
    return dt.date.fromisoformat(today) if today else clock.today()


@shared_task
def notify_expiring_waivers_task(today: str | None = None) -> dict:
    """Daily (beat): waivers that expire within 14 days, once per waiver and expiry date."""
    return {"queued": len(sources.waivers_expiring(today=_day(today)))}


@shared_task
def notify_retiring_instances_task(today: str | None = None) -> dict:
    """Daily (beat): instances within 180 days of their tier's retirement, once per instance and date."""
    return {"queued": len(sources.instances_retiring(today=_day(today)))}
