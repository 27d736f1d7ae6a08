"""Who hears about a review, and the e-mail that tells them: sent only once the change commits."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from advisor.registry import permissions
from advisor.registry.models import Team

from .models import Review


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


def review_link(review: Review) -> str:
    return settings.ADVISOR_BASE_URL.rstrip("/") + reverse("review_detail", args=[review.pk])
