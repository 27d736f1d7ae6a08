"""The review state machine: which action moves a revision from which state to which, and the
refusals the workflow raises. Every change of a review's state is checked against `TRANSITIONS`."""

from __future__ import annotations

from advisor.core.findings import Finding, Severity

from .models import Review, ReviewState

S = ReviewState


TRANSITIONS: dict[str, dict[str, str]] = {
    # Submitting a draft puts that revision in review; submitting again (while in review, or after
    # changes were requested) creates the next revision, in review, and closes this one ("replace").
    "submit": {S.DRAFT: S.IN_REVIEW, S.IN_REVIEW: S.IN_REVIEW, S.CHANGES_REQUESTED: S.IN_REVIEW},
    "replace": {S.IN_REVIEW: S.WITHDRAWN, S.CHANGES_REQUESTED: S.CHANGES_REQUESTED},
    "request_changes": {S.IN_REVIEW: S.CHANGES_REQUESTED},
    "approve": {S.IN_REVIEW: S.APPROVED},
    "supersede": {S.APPROVED: S.SUPERSEDED},
}


BLOCKING = Severity.high


class ReviewError(Exception):
    """A workflow rule refused the action; the message is meant for the person who tried."""


class TransitionNotAllowed(ReviewError):
    pass


class StaleRevision(ReviewError):
    pass


class SubmissionBlocked(ReviewError):
    def __init__(self, message: str, *, findings: list[Finding]):
        super().__init__(message)
        self.findings = findings


def allowed(action: str, state: str) -> bool:
    return state in TRANSITIONS.get(action, {})


def target_state(action: str, review: Review) -> str:
    if review.replaced_at is not None:
        successor = Review.objects.filter(previous=review).only("number").first()
        later = f"revision {successor.number}" if successor else "a later revision"
        raise StaleRevision(f"{review} changed since you loaded it: the team resubmitted it as {later}.")
    try:
        return TRANSITIONS[action][review.state]
    except KeyError:
        label = ReviewState(review.state).label
        if review.decided_by_id and review.state in (S.APPROVED, S.CHANGES_REQUESTED):
            who = review.decided_by.get_username()
            raise TransitionNotAllowed(f"{review} was already decided by {who}: it is {label} now.") from None
        raise TransitionNotAllowed(f"{review} is {label}: it cannot be {_VERB[action]} now.") from None


_VERB = {
    "submit": "submitted",
    "request_changes": "sent back for changes",
    "approve": "approved",
    "supersede": "superseded",
    "replace": "replaced",
}
