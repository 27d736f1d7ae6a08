"""Design reviews: a team's namespaces frozen as a revision, its findings, comments and waiver requests.

A `Review` is one revision of one team's design. Its snapshot, findings, sizing and the drift of the
latest scans are frozen when it is submitted, so what was approved stays provable: the content hash
is the SHA-256 of the canonical JSON of the snapshot. Every submission is a revision of its own: a
resubmission creates the next revision (`previous` points back) and leaves the one it replaces
readable with its state, decision and comments (`replaced_at` set).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from advisor.registry.models import Team


class ReviewState(models.TextChoices):
    DRAFT = "draft", "draft"
    IN_REVIEW = "in_review", "in review"
    CHANGES_REQUESTED = "changes_requested", "changes requested"
    APPROVED = "approved", "approved"
    SUPERSEDED = "superseded", "superseded"
    # Resubmitted while still in review, before anyone decided: the next revision replaced it.
    WITHDRAWN = "withdrawn", "withdrawn (resubmitted)"


OPEN_STATES = (ReviewState.DRAFT, ReviewState.IN_REVIEW, ReviewState.CHANGES_REQUESTED)


class ReviewQuerySet(models.QuerySet):
    def open(self):
        """The revisions being worked on or reviewed: a replaced revision is closed whatever its state."""
        return self.filter(state__in=OPEN_STATES, replaced_at__isnull=True)


class Review(models.Model):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="reviews")
    number = models.PositiveIntegerField(help_text="Revision number within the team.")
    state = models.CharField(max_length=20, choices=ReviewState.choices, default=ReviewState.DRAFT)
    # The approved revision this one is compared with; empty for a team's first review.
    base = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    snapshot = models.JSONField(default=list, help_text="The team's namespaces as design dicts, by name.")
    content_hash = models.CharField(max_length=64)
    findings = models.JSONField(default=list)
    sizing = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    # The revision this one resubmits (after changes were requested, or while it was in review).
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    replaced_at = models.DateTimeField(null=True, blank=True, help_text="When a resubmission replaced it.")
    drift = models.JSONField(
        default=dict,
        blank=True,
        help_text="Drift of the latest complete scans, frozen at submission and decision.",
    )

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "number"], name="one_number_per_team_revision"),
            # At most one revision of a team is being worked on or reviewed at a time.
            models.UniqueConstraint(
                fields=["team"],
                condition=Q(state__in=[s.value for s in OPEN_STATES], replaced_at__isnull=True),
                name="one_open_review_per_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team.name} revision {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("review_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES and self.replaced_at is None

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]

    def namespace_names(self) -> list[str]:
        return [ns["name"] for ns in self.snapshot]


class ReviewComment(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    # Set when the comment is about one finding rather than the whole review.
    finding_rule = models.CharField(max_length=6, blank=True)
    finding_target = models.CharField(max_length=80, blank=True)
    revision_hash = models.CharField(max_length=64, blank=True, help_text="The content hash commented on.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.review}"

    @property
    def finding_key(self) -> str:
        return f"{self.finding_rule}|{self.finding_target}" if self.finding_rule else ""


class WaiverRequestState(models.TextChoices):
    PENDING = "pending", "pending"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"
    # Undecided when its revision was replaced; the resubmission carries its own requests.
    WITHDRAWN = "withdrawn", "withdrawn"


class WaiverRequest(models.Model):
    """A request to waive one finding, decided by a reviewer; approval creates the registry Waiver.

    Requests travel with a review submission, or stand alone (through the API) for a finding on a
    design that is already approved.
    """

    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.CASCADE, related_name="waiver_requests"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="waiver_requests")
    rule = models.CharField(max_length=6)
    target = models.CharField(max_length=80)
    reason = models.TextField()
    expires = models.DateField()
    state = models.CharField(
        max_length=10, choices=WaiverRequestState.choices, default=WaiverRequestState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rule", "target", "pk"]

    def __str__(self) -> str:
        return f"Waiver request {self.rule} on {self.target} ({self.state})"

    @property
    def finding_key(self) -> str:
        return f"{self.rule}|{self.target}"
