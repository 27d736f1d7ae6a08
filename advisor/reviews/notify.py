"""Who hears about a review, and the e-mail that tells them: sent only once the change commits.
The same moments go to listeners of `signals.review_event` (the teams' notification channels)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from advisor.registry import permissions
from advisor.registry.models import Team

from .models import Review
from .signals import review_event

log = logging.getLogger(__name__)


def emails(users) -> list[str]:
    return [u.email for u in users if u.email]


def team_recipients(team: Team) -> list[str]:
    return sorted({*([team.contact] if team.contact else []), *emails(team.members.filter(is_active=True))})


def reviewer_recipients(team: Team) -> list[str]:
    """The reviewers who may decide for `team`: its own members are not asked (separation of duties)."""
    users = get_user_model().objects.filter(is_active=True, groups__name=permissions.REVIEWERS_GROUP)
    return sorted(set(emails(users.exclude(teams=team))))


def notify(*, subject: str, body: str, recipients: list[str]) -> None:
    """Sent after the commit, so nobody is told about a change that was rolled back."""
    if not recipients:
        return
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True)
    )


def announce(*, review: Review, event: str, actor, comment: str = "") -> None:
    """Send `signals.review_event` once the change commits; a listener's failure is logged."""

    def send() -> None:
        for receiver, result in review_event.send_robust(
            sender=Review, review=review, event=event, actor=actor, comment=comment.strip()
        ):
            if isinstance(result, Exception):
                log.error("%s: a review_event listener (%s) failed", review, receiver, exc_info=result)

    transaction.on_commit(send)


def review_link(review: Review) -> str:
    return settings.ADVISOR_BASE_URL.rstrip("/") + reverse("review_detail", args=[review.pk])
