"""Notification writes and sends: one service per change, as the registry's are.

- `channel_save` / `channel_delete`: one transaction each, the audit record inside it (the URL
  masked, the secret's reference only). `channel_problems` is the one validation, which the form
  shows field by field and the service enforces, so the allowlist is held at save time whatever
  the caller.
- `dispatch`: an event for a team becomes one queued delivery per enabled channel that chose it,
  written in one transaction; the tasks are sent once it commits (never from inside a request's
  work, and never for rows a rollback took back). A broker that does not take a task fails that
  delivery with the reason rather than leaving it queued.
- `delivery_attempt`: what the Celery task runs for one attempt; it claims the attempt with a
  conditional update, so two copies of one task cannot both send it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import KombuError

from advisor.audit.services import audit_record
from advisor.registry.models import Team

from . import delivery as sending
from .events import EVENT_KINDS, TEST, Event
from .models import WEBHOOK_KINDS, ChannelKind, DeliveryStatus, NotificationChannel, NotificationDelivery
from .targets import TargetRefused, check_webhook_url, parse_addresses, parse_secret_ref

log = logging.getLogger(__name__)

# Publishing a task to a broker that does not answer: two quick retries, then the delivery fails.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


class ChannelInvalid(Exception):
    """`errors`: {field: message}, for the form's fields ("__all__" for the whole channel)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ChannelData:
    name: str
    kind: str
    target: str | None  # None or "": keep the saved URL of a webhook channel of the same kind
    secret_ref: str = ""
    events: tuple[str, ...] = ()
    enabled: bool = True


def channel_record(channel: NotificationChannel) -> dict:
    """The audit snapshot: never the URL whole, never a secret."""
    return {
        "team": channel.team.name,
        "name": channel.name,
        "kind": channel.kind,
        "target": channel.masked_target,
        "secret_ref": channel.secret_ref,
        "events": list(channel.events),
        "enabled": channel.enabled,
    }


def channel_problems(data: ChannelData, *, current: NotificationChannel | None = None) -> tuple[dict, str]:
    """({field: message}, the target to store). Checks the URL against the allowlist now."""
    errors: dict[str, str] = {}
    target = (data.target or "").strip()
    if not data.name.strip():
        errors["name"] = "Give the channel a name."
    if data.kind not in ChannelKind.values:
        errors["kind"] = "Choose e-mail, Slack, Teams or a JSON webhook."
        return errors, target
    unknown = [e for e in data.events if e not in EVENT_KINDS]
    if unknown:
        errors["events"] = f"Unknown events: {', '.join(unknown)}."
    elif not data.events:
        errors["events"] = "Choose at least one event."
    if data.kind in WEBHOOK_KINDS:
        if not target:
            if current is not None and current.kind == data.kind and current.target:
                target = current.target  # kept: the page never shows it back
            else:
                errors["target"] = "Give the webhook URL."
        if target and "target" not in errors:
            try:
                check_webhook_url(target)
            except TargetRefused as e:
                errors["target"] = f"The URL {e}."
        if len(target) > 2000:
            errors["target"] = "The URL is longer than 2000 characters."
    else:
        try:
            target = ", ".join(parse_addresses(target))
        except ValidationError as e:
            errors["target"] = e.messages[0]
    if data.kind == ChannelKind.WEBHOOK:
        if not data.secret_ref.strip():
            errors["secret_ref"] = "A signed webhook needs the secret's reference (env:NAME or file:/path)."
        else:
            try:
                parse_secret_ref(data.secret_ref)
            except ValidationError as e:
                errors["secret_ref"] = e.messages[0]
    elif data.secret_ref.strip():
        errors["secret_ref"] = "Only a JSON webhook is signed; leave this empty."
    return errors, target


def channel_save(
    *, channel: NotificationChannel | None, team: Team, data: ChannelData, actor
) -> NotificationChannel:
    """Create (`channel` None) or change a channel of `team`. ChannelInvalid when it cannot be saved."""
    with transaction.atomic():
        current = (
            NotificationChannel.objects.select_for_update().select_related("team").get(pk=channel.pk)
            if channel is not None and channel.pk
            else None
        )
        errors, target = channel_problems(data, current=current)
        name = data.name.strip()
        taken = NotificationChannel.objects.filter(team=team, name=name)
        if current is not None:
            taken = taken.exclude(pk=current.pk)
        if name and taken.exists():
            errors["name"] = f"Team {team.name} already has a channel named {name}."
        if errors:
            raise ChannelInvalid(errors)
        before = channel_record(current) if current is not None else None
        row = current or NotificationChannel(team=team, created_by=actor if actor and actor.pk else None)
        row.name, row.kind, row.target = name, data.kind, target
        row.secret_ref = data.secret_ref.strip() if data.kind == ChannelKind.WEBHOOK else ""
        row.events = [e for e in EVENT_KINDS if e in data.events]
        row.enabled = data.enabled
        row.save()
        audit_record(
            actor=actor,
            action="update" if before else "create",
            obj_type="notification_channel",
            obj_name=f"{team.name}/{row.name}",
            before=before,
            after=channel_record(row),
        )
    return row


def channel_delete(*, channel: NotificationChannel, actor) -> None:
    """Delete a channel with its delivery history."""
    with transaction.atomic():
        current = NotificationChannel.objects.select_for_update().select_related("team").get(pk=channel.pk)
        before = channel_record(current)
        current.delete()
        audit_record(
            actor=actor,
            action="delete",
            obj_type="notification_channel",
            obj_name=f"{before['team']}/{before['name']}",
            before=before,
        )


def channel_send_test(*, channel: NotificationChannel, actor) -> NotificationDelivery:
    """Queue a test event to this one channel (enabled or not); it is sent once this commits."""
    who = actor.get_username() if actor is not None and actor.is_authenticated else "the advisor"
    link = settings.ADVISOR_BASE_URL.rstrip("/") + reverse("team_notifications", args=[channel.team.name])
    event = Event(
        kind=TEST,
        title=f"Test from the Redis key advisor for team {channel.team.name}",
        text=f"{who} sent this test to the channel {channel.name}. If you read it, the channel works.",
        url=link,
        facts=(("Team", channel.team.name), ("Channel", channel.name), ("Sent by", who)),
        data={"channel": channel.name, "requested_by": who},
    )
    [created] = _queue(event, channel.team, [channel])
    return created


# Dispatching events -----------------------------------------------------------------------------


def dispatch(event: Event, teams: Iterable[Team]) -> list[NotificationDelivery]:
    """Queue `event` to every enabled channel of these teams that chose it; sent once this commits.

    A channel that already had this event (same dedupe key) is skipped, so a job that runs twice,
    or an event announced twice, is delivered once."""
    created: list[NotificationDelivery] = []
    for team in teams:
        channels = [
            c for c in NotificationChannel.objects.filter(team=team, enabled=True) if event.kind in c.events
        ]
        if channels:
            created += _queue(event, team, channels)
    return created


def _queue(event: Event, team: Team, channels: list[NotificationChannel]) -> list[NotificationDelivery]:
    created = []
    with transaction.atomic():
        payload = event.payload(team.name)
        for channel in channels:
            if event.dedupe_key and channel.deliveries.filter(dedupe_key=event.dedupe_key).exists():
                continue
            try:
                with transaction.atomic():
                    created.append(
                        NotificationDelivery.objects.create(
                            channel=channel,
                            event=event.kind,
                            summary=event.title[:300],
                            payload=payload,
                            dedupe_key=event.dedupe_key,
                        )
                    )
            except IntegrityError:
                continue  # the same event queued at the same moment by someone else
        ids = [(d.pk, d.token) for d in created]
        if ids:
            transaction.on_commit(lambda: deliveries_enqueue(ids))
    return created


def deliveries_enqueue(ids: list[tuple[int, str]]) -> None:
    """Send the tasks of these (id, token) deliveries; one the broker refuses is failed with the reason."""
    from .tasks import notification_deliver_task

    for pk, token in ids:
        try:
            notification_deliver_task.apply_async(
                args=[pk, token], retry=True, retry_policy=PUBLISH_RETRY_POLICY
            )
        except (KombuError, redis.RedisError, OSError) as e:
            log.warning("notification delivery %s not queued, the broker refused it: %s", pk, e)
            NotificationDelivery.objects.filter(pk=pk, status=DeliveryStatus.QUEUED).update(
                status=DeliveryStatus.FAILED,
                finished_at=timezone.now(),
                last_error="not queued: the task queue (the Celery broker) is unreachable",
            )


# One attempt ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    status: str  # the delivery's status after the attempt, or "missing"
    retry_in: int | None = None  # seconds until the next attempt, when one is due
    note: str = ""


def backoff(attempt: int) -> int:
    """Seconds to wait after the `attempt`-th failed attempt: BACKOFF_S, then twice as long each time."""
    return settings.ADVISOR_NOTIFY_BACKOFF_S * 2 ** (attempt - 1)


def delivery_attempt(delivery_id: int, token: str, *, now: dt.datetime | None = None) -> Attempt:
    delivery = (
        NotificationDelivery.objects.select_related("channel", "channel__team")
        .filter(pk=delivery_id, token=token)
        .first()
    )
    if delivery is None:
        return Attempt("missing")
    if delivery.status != DeliveryStatus.QUEUED:
        return Attempt(delivery.status)  # done, or a copy of a task that has already run
    seen = delivery.attempts
    now = now or timezone.now()
    if not NotificationDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.QUEUED, attempts=seen
    ).update(attempts=F("attempts") + 1, last_attempt_at=now):
        return Attempt("taken")  # another copy of the task claimed this attempt
    attempt = seen + 1
    try:
        try:
            note = sending.send(delivery)
        except SoftTimeLimitExceeded:
            raise sending.Transient("the attempt ran past the task's time limit") from None
        except (sending.Permanent, sending.Transient):
            raise
        except Exception as e:  # a bug must not leave the delivery queued for ever
            log.exception("notification delivery %s failed", delivery.pk)
            raise sending.Permanent(f"internal error ({type(e).__name__}); see the worker log") from None
    except sending.Permanent as e:
        _finish(delivery, DeliveryStatus.FAILED, str(e))
        return Attempt(DeliveryStatus.FAILED, note=str(e))
    except sending.Transient as e:
        if attempt >= settings.ADVISOR_NOTIFY_ATTEMPTS:
            error = f"{e} (gave up after {attempt} attempt{'s' if attempt != 1 else ''})"
            _finish(delivery, DeliveryStatus.FAILED, error)
            return Attempt(DeliveryStatus.FAILED, note=error)
        wait = backoff(attempt)
        NotificationDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.QUEUED).update(
            last_error=f"{e} (attempt {attempt}; next in {wait} s)"
        )
        return Attempt(DeliveryStatus.QUEUED, retry_in=wait, note=str(e))
    _finish(delivery, DeliveryStatus.SENT, "")
    return Attempt(DeliveryStatus.SENT, note=note)


def _finish(delivery: NotificationDelivery, status: str, error: str) -> None:
    NotificationDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.QUEUED).update(
        status=status, last_error=error, finished_at=timezone.now()
    )
