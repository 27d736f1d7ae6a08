"""A team's notification channels and every delivery made to them.

A channel never holds a signing secret, only where to read it (`secret_ref`). A Slack or Teams
webhook URL is itself a credential (whoever has it may post to the channel): it is stored because
it must be, and pages show it masked (`masked_target`), never whole.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from advisor.registry.models import Team

from .events import EVENT_CHOICES


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams webhook (Workflows)"
    WEBHOOK = "webhook", "JSON webhook signed with HMAC-SHA256"


WEBHOOK_KINDS = (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.WEBHOOK)


class NotificationChannel(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="notification_channels")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    # The webhook URL, or the e-mail addresses (comma-separated) of an e-mail channel.
    target = models.TextField()
    # A signed webhook's secret: env:NAME or file:/path, never the secret itself.
    secret_ref = models.CharField(max_length=300, blank=True)
    events = models.JSONField(default=list)  # event kinds (events.EVENT_KINDS) the channel receives
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_channel_name_per_team")]

    def __str__(self) -> str:
        return f"{self.team.name}: {self.name}"

    @property
    def is_webhook(self) -> bool:
        return self.kind in WEBHOOK_KINDS

    @property
    def addresses(self) -> list[str]:
        return [a for a in (s.strip() for s in self.target.split(",")) if a] if not self.is_webhook else []

    @property
    def masked_target(self) -> str:
        from .targets import mask_url

        return mask_url(self.target) if self.is_webhook else ", ".join(self.addresses)

    def event_labels(self) -> list[str]:
        labels = dict(EVENT_CHOICES)
        return [labels.get(e, e) for e in self.events]


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


def _token() -> str:
    return secrets.token_hex(16)


class NotificationDelivery(models.Model):
    """One event sent (or being sent) to one channel."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=EVENT_CHOICES + [("test", "Test")])
    summary = models.CharField(max_length=300)  # the event's title, for the history
    payload = models.JSONField()  # the event as sent (events.Event.payload); never a secret
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The same event is delivered to a channel once: a scan run's, a waiver's expiry date's, an
    # instance's retirement date's ("" for test sends, which always go).
    dedupe_key = models.CharField(max_length=200, blank=True)
    # Carried by the task with the id: a task from another database's life finds no delivery.
    token = models.CharField(max_length=32, default=_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # when it was sent or given up

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "dedupe_key"], condition=~Q(dedupe_key=""), name="one_delivery_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel} ({self.status})"
