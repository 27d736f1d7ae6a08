"""The review workflow: start a draft, submit (every submission a kept revision), decide, comment.

Every change of a review's state goes through `target_state` (the table in `states.py`) and writes
with a conditional UPDATE on (pk, state[, content_hash]). Two reviewers acting at once therefore
cannot both win, on SQLite and PostgreSQL alike: the second UPDATE matches no row and is refused
with the reason.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from advisor.audit.services import audit_record
from advisor.core.findings import Finding, Severity
from advisor.registry import permissions
from advisor.registry.models import Team
from advisor.registry.services import registry_design

from .drift import blocking_drift, drift_findings, drift_targets
from .models import Review, ReviewComment, ReviewState, WaiverRequest, WaiverRequestState
from .notify import announce, emails, notify, review_link, reviewer_recipients, team_recipients
from .states import (
    BLOCKING,
    ReviewError,
    S,
    StaleRevision,
    SubmissionBlocked,
    TransitionNotAllowed,
    target_state,
)
from .team_design import (
    blocking_findings,
    content_hash,
    local_today,
    snapshot_drift,
    team_findings,
    team_sizing,
    team_snapshot,
)
from .trail import request_record, review_record
from .waivers import WaiverAsk, carried_requests, check_waiver_ask, decide_waiver_request


@transaction.atomic
def review_start_draft(*, team: Team, user) -> Review:
    """The team's open revision, or a new draft of its current namespaces."""
    if not permissions.can_submit(user, team):
        raise PermissionDenied("Only members of the team start a review of its design.")
    # Lock the team row so two members starting at once get the same draft.
    Team.objects.select_for_update().filter(pk=team.pk).first()
    existing = Review.objects.open().filter(team=team).first()
    if existing is not None:
        return existing
    snapshot = team_snapshot(team)
    number = (Review.objects.filter(team=team).aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            review = Review.objects.create(
                team=team,
                number=number,
                state=S.DRAFT,
                snapshot=snapshot,
                content_hash=content_hash(snapshot),
                created_by=user,
            )
    except IntegrityError:
        # Someone else opened one in between (SQLite has no row locks to wait on).
        return Review.objects.open().get(team=team)
    audit_record(
        actor=user, action="start_draft", obj_type="review", obj_name=str(review), after=review_record(review)
    )
    return review


def _listed(findings) -> str:
    return ", ".join(f"{f.rule} on {f.target}" for f in findings)


@transaction.atomic
def review_submit(
    *, team: Team, user, waivers: list[WaiverAsk] | None = None, today: dt.date | None = None
) -> Review:
    """Freeze the team's namespaces, their findings and the live drift, and put them in review.

    Refused while an unwaived finding or drift finding at `high` or above has no waiver request
    with this submission. Submitting a draft puts it in review; submitting while a revision is in
    review or has changes requested creates the next revision and keeps the earlier one as it was.
    `waivers=None` carries over the earlier revision's undecided requests that still apply.
    """
    if not permissions.can_submit(user, team):
        raise PermissionDenied("Only members of the team submit its design for review.")
    today = today or local_today()
    current = review_start_draft(team=team, user=user)
    target_state("submit", current)

    design = registry_design()
    snapshot = team_snapshot(team)
    if not snapshot:
        raise ReviewError(f"Team {team.name} has no namespaces to review.")
    findings = team_findings(team, design=design, today=today)
    drift = snapshot_drift(snapshot, today=today)
    drift_found = [Finding.model_validate(f) for f in drift_findings(drift)]
    targets = {f"namespace:{ns['name']}" for ns in snapshot} | drift_targets(drift)
    found = {(f.rule, f.target) for f in [*findings, *drift_found]}
    if waivers is None:
        waivers = [
            WaiverAsk(wr.rule, wr.target, wr.reason, wr.expires)
            for wr in carried_requests(current)
            if (wr.rule, wr.target) in found and wr.expires > today
        ]
    asks = {(a.rule, a.target): a for a in waivers}
    for ask in asks.values():
        check_waiver_ask(ask, today=today, targets=targets)
        if (ask.rule, ask.target) not in found:
            raise ReviewError(f"There is no finding {ask.rule} on {ask.target} to waive.")
    uncovered = [
        f for f in [*blocking_findings(findings), *blocking_drift(drift)] if (f.rule, f.target) not in asks
    ]
    if uncovered:
        raise SubmissionBlocked(
            f"Submission refused: {len(uncovered)} unwaived finding(s) at high or above, in the design "
            f"or in the latest scans, need a fix or a waiver request (reason and expiry): {_listed(uncovered)}.",
            findings=uncovered,
        )

    now = timezone.now()
    fields = {
        "state": S.IN_REVIEW,
        "snapshot": snapshot,
        "content_hash": content_hash(snapshot),
        "findings": [f.model_dump(mode="json") for f in findings],
        "sizing": team_sizing(team, design=design),
        "drift": drift,
        "base": Review.objects.filter(team=team, state=S.APPROVED).order_by("-number").first(),
        "submitted_by": user,
        "submitted_at": now,
    }
    if current.state == S.DRAFT:
        before = review_record(current)
        previous = Review.objects.filter(team=team, number__lt=current.number).order_by("-number").first()
        if not Review.objects.filter(pk=current.pk, state=S.DRAFT, replaced_at=None).update(
            previous=previous, **fields
        ):
            raise StaleRevision(f"{current} changed while you were submitting it; reload and try again.")
        review = Review.objects.get(pk=current.pk)
    else:
        before = None
        review = _replace(current, user=user, now=now, fields=fields)

    for ask in asks.values():
        wr = WaiverRequest.objects.create(
            review=review,
            team=team,
            rule=ask.rule,
            target=ask.target,
            reason=ask.reason.strip(),
            expires=ask.expires,
            requested_by=user,
        )
        audit_record(
            actor=user,
            action="request",
            obj_type="waiver_request",
            obj_name=f"{wr.rule} on {wr.target}",
            after=request_record(wr),
        )

    audit_record(
        actor=user,
        action="submit",
        obj_type="review",
        obj_name=str(review),
        before=before,
        after=review_record(review),
    )
    resubmitted = f" (resubmits revision {review.previous.number})" if before is None else ""
    notify(
        subject=f"[Redis key advisor] Review requested: {review}",
        body=f"{user.get_username()} submitted {review}{resubmitted} ({len(snapshot)} namespaces, "
        f"hash {review.short_hash}).\n\nReview it: {review_link(review)}\n",
        recipients=reviewer_recipients(team),
    )
    announce(review=review, event="submitted", actor=user)
    return review


def _replace(current: Review, *, user, now, fields: dict) -> Review:
    """Close `current` (kept as it was, marked replaced) and create the next revision from `fields`."""
    closed_state = target_state("replace", current)
    before = review_record(current)
    # Closed first: the one-open-revision constraint admits the next revision only then.
    if not Review.objects.filter(pk=current.pk, state=current.state, replaced_at=None).update(
        state=closed_state, replaced_at=now
    ):
        raise StaleRevision(f"{current} changed while you were resubmitting it; reload and try again.")
    current.refresh_from_db()
    for wr in current.waiver_requests.filter(state=WaiverRequestState.PENDING):
        wr_before = request_record(wr)
        WaiverRequest.objects.filter(pk=wr.pk).update(state=WaiverRequestState.WITHDRAWN)
        wr.refresh_from_db()
        audit_record(
            actor=user,
            action="withdraw",
            obj_type="waiver_request",
            obj_name=f"{wr.rule} on {wr.target}",
            before=wr_before,
            after=request_record(wr),
        )
    number = (Review.objects.filter(team=current.team).aggregate(n=Max("number"))["n"] or 0) + 1
    review = Review.objects.create(
        team=current.team, number=number, previous=current, created_by=user, **fields
    )
    audit_record(
        actor=user,
        action="replace",
        obj_type="review",
        obj_name=str(current),
        before=before,
        after=review_record(current) | {"replaced_by": review.number},
    )
    return review


def _check_decider(review: Review, user) -> None:
    refusal = permissions.review_decision_refusal(user, review)
    if refusal:
        raise PermissionDenied(refusal)


def _decide(*, review: Review, user, action: str, expected_hash: str) -> Review:
    """The conditional UPDATE that makes a decision: exactly one concurrent decider wins."""
    _check_decider(review, user)
    new_state = target_state(action, review)
    if expected_hash != review.content_hash:
        raise StaleRevision(
            f"{review} changed since you loaded it (you saw {expected_hash[:12] or 'nothing'}, it is now "
            f"{review.short_hash}). Reload the review and check the changes before you decide."
        )
    updated = Review.objects.filter(pk=review.pk, state=S.IN_REVIEW, content_hash=expected_hash).update(
        state=new_state, decided_by=user, decided_at=timezone.now()
    )
    if not updated:
        current = Review.objects.select_related("decided_by").get(pk=review.pk)
        if current.replaced_at is not None:
            target_state(action, current)  # raises, naming the revision that replaced it
        if current.state != S.IN_REVIEW:
            who = current.decided_by.get_username() if current.decided_by else "someone else"
            raise StaleRevision(
                f"{current} was already decided by {who}: it is {ReviewState(current.state).label} now."
            )
        raise StaleRevision(
            f"{current} changed since you loaded it. Reload the review and check the changes."
        )
    review.refresh_from_db()
    return review


@transaction.atomic
def review_approve(
    *, review: Review, user, expected_hash: str, rejected_waivers: list[int] = (), comment: str = ""
) -> Review:
    """Approve the revision the reviewer saw; its waiver requests become registry waivers.

    The previously approved revision of the team is superseded. Rejecting a waiver request for a
    finding at `high` or above leaves that finding open, so such an approval is refused.
    """
    _check_decider(review, user)
    before = review_record(review)
    review = _decide(review=review, user=user, action="approve", expected_hash=expected_hash)
    # Read after winning the UPDATE, so the requests are those of the revision being approved;
    # a refusal below rolls the approval back with the transaction.
    pending = list(review.waiver_requests.filter(state=WaiverRequestState.PENDING))
    rejected = {wr.pk for wr in pending if wr.pk in set(rejected_waivers)}
    blocking = {
        (f["rule"], f["target"])
        for f in review.findings
        if not f["waived"] and Severity(f["severity"]) >= BLOCKING
    }
    if any((wr.rule, wr.target) in blocking for wr in pending if wr.pk in rejected):
        raise ReviewError(
            "A rejected waiver leaves a high finding open: request changes instead of approving."
        )
    # Reality may have moved since the submission: the drift is read again, and high drift that
    # neither a registry waiver nor an accepted request of this revision covers blocks approval.
    drift = snapshot_drift(review.snapshot)
    accepted = {(wr.rule, wr.target) for wr in pending if wr.pk not in rejected}
    open_drift = [f for f in blocking_drift(drift) if (f.rule, f.target) not in accepted]
    if open_drift:
        raise ReviewError(
            f"Approval refused: the latest scans show {len(open_drift)} unwaived drift finding(s) at high or "
            f"above: {_listed(open_drift)}. Request changes, so that the team fixes the keys or asks for waivers."
        )
    # The decision first, then what follows from it, so the trail reads in cause-and-effect order.
    audit_record(
        actor=user,
        action="approve",
        obj_type="review",
        obj_name=str(review),
        before=before,
        after=review_record(review),
    )
    now = timezone.now()
    for wr in pending:
        decide_waiver_request(wr, user=user, approve=wr.pk not in rejected, now=now)
    # Frozen once the accepted requests are waivers, so the record shows the drift as approved.
    review.drift = snapshot_drift(review.snapshot)
    Review.objects.filter(pk=review.pk).update(drift=review.drift)
    for old in Review.objects.filter(team=review.team, state=S.APPROVED).exclude(pk=review.pk):
        old_before = review_record(old)
        target_state("supersede", old)
        if Review.objects.filter(pk=old.pk, state=S.APPROVED).update(state=S.SUPERSEDED, superseded_at=now):
            old.refresh_from_db()
            audit_record(
                actor=user,
                action="supersede",
                obj_type="review",
                obj_name=str(old),
                before=old_before,
                after=review_record(old),
            )
    if comment.strip():
        _add_comment(review=review, user=user, body=comment)
    notify(
        subject=f"[Redis key advisor] Approved: {review}",
        body=f"{user.get_username()} approved {review} (hash {review.short_hash}).\n\n{comment.strip()}\n\n"
        f"Report: {review_link(review)}\n",
        recipients=sorted(
            {*team_recipients(review.team), *emails([review.submitted_by] if review.submitted_by else [])}
        ),
    )
    announce(review=review, event="approved", actor=user, comment=comment)
    return review


@transaction.atomic
def review_request_changes(
    *, review: Review, user, expected_hash: str, comment: str, rejected_waivers: list[int] = ()
) -> Review:
    """Send the revision back to the team, with the reason as a comment."""
    _check_decider(review, user)
    if not comment.strip():
        raise ReviewError("Say what needs to change: the comment is required.")
    before = review_record(review)
    review = _decide(review=review, user=user, action="request_changes", expected_hash=expected_hash)
    # What the reviewer saw when deciding stays with the revision.
    Review.objects.filter(pk=review.pk).update(drift=snapshot_drift(review.snapshot))
    audit_record(
        actor=user,
        action="request_changes",
        obj_type="review",
        obj_name=str(review),
        before=before,
        after=review_record(review),
    )
    now = timezone.now()
    for wr in review.waiver_requests.filter(state=WaiverRequestState.PENDING, pk__in=list(rejected_waivers)):
        decide_waiver_request(wr, user=user, approve=False, now=now)
    _add_comment(review=review, user=user, body=comment)
    notify(
        subject=f"[Redis key advisor] Changes requested: {review}",
        body=f"{user.get_username()} asked for changes to {review}:\n\n{comment.strip()}\n\n{review_link(review)}\n",
        recipients=team_recipients(review.team),
    )
    announce(review=review, event="changes_requested", actor=user, comment=comment)
    return review


def _add_comment(
    *, review: Review, user, body: str, finding_rule: str = "", finding_target: str = ""
) -> ReviewComment:
    c = ReviewComment.objects.create(
        review=review,
        author=user,
        body=body.strip(),
        finding_rule=finding_rule,
        finding_target=finding_target,
        revision_hash=review.content_hash,
    )
    audit_record(
        actor=user,
        action="comment",
        obj_type="review",
        obj_name=str(review),
        after={"comment": c.body, "finding": f"{finding_rule} on {finding_target}" if finding_rule else None},
    )
    return c


@transaction.atomic
def review_comment(
    *, review: Review, user, body: str, finding_rule: str = "", finding_target: str = ""
) -> ReviewComment:
    """A comment on the review, or on one of its findings (rule and target)."""
    if not permissions.can_comment(user, review):
        raise PermissionDenied("Only reviewers and the team's members comment on its review.")
    if review.state == S.SUPERSEDED:
        raise TransitionNotAllowed(f"{review} is superseded; comment on the current revision.")
    if review.replaced_at is not None:
        raise TransitionNotAllowed(f"{review} was resubmitted; comment on the current revision.")
    if not body.strip():
        raise ReviewError("The comment is empty.")
    if finding_rule and not any(
        f["rule"] == finding_rule and f["target"] == finding_target for f in review.findings
    ):
        raise ReviewError(f"{review} has no finding {finding_rule} on {finding_target}.")
    return _add_comment(
        review=review, user=user, body=body, finding_rule=finding_rule, finding_target=finding_target
    )
