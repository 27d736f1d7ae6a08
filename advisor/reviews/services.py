"""The review workflow: snapshots, the state machine, decisions, waiver requests and notifications.

Every change of a review's state goes through `_transition`, which reads the allowed moves from
`TRANSITIONS` and writes with a conditional UPDATE on (pk, state[, content_hash]). Two reviewers
acting at once therefore cannot both win, on SQLite and PostgreSQL alike: the second UPDATE
matches no row and is refused with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from advisor.audit.services import audit_record, waiver_data
from advisor.core.engine import lint_design
from advisor.core.findings import Finding, Severity
from advisor.core.sizing import design_sizing, namespace_sizing
from advisor.registry import permissions
from advisor.registry.models import Namespace, Team, Waiver
from advisor.registry.services import namespace_data, registry_design

from .drift import blocking_drift, drift_findings, drift_targets, team_drift
from .models import Review, ReviewComment, ReviewState, WaiverRequest, WaiverRequestState

S = ReviewState

# The state machine, in one place: action -> {from state: to state}.
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
WAIVER_MAX_DAYS = 366


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


def _target_state(action: str, review: Review) -> str:
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


# Snapshots, findings and sizing --------------------------------------------------------------


def team_snapshot(team: Team) -> list[dict]:
    """The team's namespaces as design-file dicts, sorted by name: what a revision freezes."""
    namespaces = (
        Namespace.objects.filter(team=team)
        .select_related("team", "instance")
        .prefetch_related("multi_key_with")
        .order_by("name")
    )
    return [namespace_data(ns) for ns in namespaces]


def content_hash(snapshot: list[dict]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _today() -> dt.date:
    return timezone.localdate()


def team_findings(team: Team, *, design=None, today: dt.date | None = None) -> list[Finding]:
    """The rule engine's findings about the team's namespaces, policy and waivers applied."""
    design = design if design is not None else registry_design()
    targets = {f"namespace:{ns.name}" for ns in design.namespaces if ns.team == team.name}
    result = lint_design(design, today=today or _today())
    return [f for f in result.findings if f.target in targets]


def blocking_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.waived and f.severity >= BLOCKING]


def team_sizing(team: Team, *, design=None) -> dict:
    """Memory estimate of the team's namespaces, and the share they take of each instance."""
    design = design if design is not None else registry_design()
    mine = [ns for ns in design.namespaces if ns.team == team.name]
    per_instance = design_sizing(design)
    instances = []
    for name in sorted({ns.instance for ns in mine}):
        sizing = per_instance[name]
        team_bytes = sum(s.memory_bytes for s in sizing.namespaces if s.name in {n.name for n in mine})
        instances.append(
            {
                "instance": name,
                "memory_gb": sizing.memory_gb,
                "usable_bytes": sizing.usable_bytes,
                "team_bytes": team_bytes,
                "total_bytes": sizing.total_bytes,
                "usage_ratio": round(sizing.usage_ratio, 4),
            }
        )
    namespaces = [namespace_sizing(ns).model_dump() | {"instance": ns.instance} for ns in mine]
    return {
        "namespaces": namespaces,
        "instances": instances,
        "total_bytes": sum(n["memory_bytes"] for n in namespaces),
    }


# The diff between two revisions --------------------------------------------------------------


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out: dict = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: value}


@dataclass
class NamespaceChange:
    name: str
    fields: list[tuple[str, object, object]]


@dataclass
class Diff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[NamespaceChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict:
        return {
            "added": [ns["name"] for ns in self.added],
            "removed": [ns["name"] for ns in self.removed],
            "changed": [
                {
                    "name": c.name,
                    "fields": [{"field": f, "before": old, "after": new} for f, old, new in c.fields],
                }
                for c in self.changed
            ],
            "unchanged": self.unchanged,
        }


def snapshot_diff(base: list[dict] | None, current: list[dict]) -> Diff:
    """Namespaces added, removed and changed (field by field, dotted for nested values)."""
    old = {ns["name"]: ns for ns in base or []}
    new = {ns["name"]: ns for ns in current}
    diff = Diff()
    for name in sorted(set(old) | set(new)):
        if name not in old:
            diff.added.append(new[name])
        elif name not in new:
            diff.removed.append(old[name])
        else:
            a, b = _flatten(old[name]), _flatten(new[name])
            fields = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            if fields:
                diff.changed.append(NamespaceChange(name, fields))
            else:
                diff.unchanged.append(name)
    return diff


def review_diff(review: Review) -> Diff:
    """Against the approved revision it is compared with: what approving it would change."""
    return snapshot_diff(review.base.snapshot if review.base else None, review.snapshot)


def revision_diff(review: Review) -> Diff | None:
    """Against the revision it follows (the one it resubmits, or the team's last one): what changed
    between two submissions. None for a team's first revision."""
    if review.previous_id is None:
        return None
    return snapshot_diff(review.previous.snapshot, review.snapshot)


def team_revisions(team: Team):
    """Every revision of the team, newest first: none is ever overwritten."""
    return Review.objects.filter(team=team).select_related("submitted_by", "decided_by").order_by("-number")


# A team's review status ----------------------------------------------------------------------


@dataclass
class TeamStatus:
    team: Team
    approved: Review | None
    open: Review | None
    live_hash: str
    snapshot: list[dict]

    @property
    def changed_since_approved(self) -> bool:
        return self.approved is None or self.approved.content_hash != self.live_hash

    @property
    def open_is_current(self) -> bool:
        """The open review shows exactly what the registry holds now."""
        return self.open is not None and self.open.content_hash == self.live_hash

    @property
    def label(self) -> str:
        if self.open is not None and self.open.state != S.DRAFT:
            return f"{ReviewState(self.open.state).label} (revision {self.open.number})"
        if self.approved is None:
            return "draft (never approved)" if self.snapshot else "no namespaces"
        if self.changed_since_approved:
            return f"draft (changes since approved revision {self.approved.number})"
        return f"approved (revision {self.approved.number})"


def team_status(team: Team) -> TeamStatus:
    snapshot = team_snapshot(team)
    return TeamStatus(
        team=team,
        approved=Review.objects.filter(team=team, state=S.APPROVED).order_by("-number").first(),
        open=Review.objects.open().filter(team=team).first(),
        live_hash=content_hash(snapshot),
        snapshot=snapshot,
    )


# Audit and notification helpers --------------------------------------------------------------


def _review_audit(review: Review) -> dict:
    return {
        "team": review.team.name,
        "revision": review.number,
        "state": review.state,
        "content_hash": review.content_hash,
        "namespaces": review.namespace_names(),
        "submitted_by": review.submitted_by.get_username() if review.submitted_by else None,
        "decided_by": review.decided_by.get_username() if review.decided_by else None,
    }


def _request_audit(wr: WaiverRequest) -> dict:
    return {
        "rule": wr.rule,
        "target": wr.target,
        "reason": wr.reason,
        "expires": wr.expires.isoformat(),
        "state": wr.state,
        "review": wr.review.number if wr.review_id else None,
        "requested_by": wr.requested_by.get_username() if wr.requested_by else None,
        "decided_by": wr.decided_by.get_username() if wr.decided_by else None,
    }


def _emails(users) -> list[str]:
    return [u.email for u in users if u.email]


def _team_recipients(team: Team) -> list[str]:
    return sorted({*([team.contact] if team.contact else []), *_emails(team.members.filter(is_active=True))})


def _reviewer_recipients(team: Team) -> list[str]:
    """The reviewers who may decide for `team`: its own members are not asked (separation of duties)."""
    users = get_user_model().objects.filter(is_active=True, groups__name=permissions.REVIEWERS_GROUP)
    return sorted(set(_emails(users.exclude(teams=team))))


def _notify(*, subject: str, body: str, recipients: list[str]) -> None:
    """Sent after the commit, so nobody is told about a change that was rolled back."""
    if not recipients:
        return
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True)
    )


def _link(review: Review) -> str:
    return settings.ADVISOR_BASE_URL.rstrip("/") + reverse("review_detail", args=[review.pk])


# Workflows -----------------------------------------------------------------------------------


@dataclass
class WaiverAsk:
    """A waiver requested with a submission."""

    rule: str
    target: str
    reason: str
    expires: dt.date


def _check_waiver_ask(ask: WaiverAsk, *, today: dt.date, targets: set[str]) -> None:
    if not ask.reason.strip():
        raise ReviewError(f"The waiver request for {ask.rule} on {ask.target} needs a reason.")
    if ask.expires <= today:
        raise ReviewError(f"The waiver request for {ask.rule} on {ask.target} must expire in the future.")
    if ask.expires > today + dt.timedelta(days=WAIVER_MAX_DAYS):
        raise ReviewError(
            f"The waiver request for {ask.rule} on {ask.target} may run at most {WAIVER_MAX_DAYS} days."
        )
    if ask.target not in targets:
        raise ReviewError(f"{ask.target} is not one of this team's namespaces nor an instance hosting them.")


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
        actor=user, action="start_draft", obj_type="review", obj_name=str(review), after=_review_audit(review)
    )
    return review


def snapshot_drift(snapshot: list[dict], *, today: dt.date | None = None) -> dict:
    """The live drift of the namespaces in `snapshot` and the instances hosting them."""
    return team_drift(
        namespaces=[ns["name"] for ns in snapshot],
        instances=sorted({ns["instance"] for ns in snapshot}),
        today=today,
    )


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
    today = today or _today()
    current = review_start_draft(team=team, user=user)
    _target_state("submit", current)

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
        _check_waiver_ask(ask, today=today, targets=targets)
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
        before = _review_audit(current)
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
            after=_request_audit(wr),
        )

    audit_record(
        actor=user,
        action="submit",
        obj_type="review",
        obj_name=str(review),
        before=before,
        after=_review_audit(review),
    )
    resubmitted = f" (resubmits revision {review.previous.number})" if before is None else ""
    _notify(
        subject=f"[Redis key advisor] Review requested: {review}",
        body=f"{user.get_username()} submitted {review}{resubmitted} ({len(snapshot)} namespaces, "
        f"hash {review.short_hash}).\n\nReview it: {_link(review)}\n",
        recipients=_reviewer_recipients(team),
    )
    return review


def carried_requests(review: Review | None) -> list[WaiverRequest]:
    """The waiver requests a resubmission starts from: those of the revision it replaces that no
    reviewer rejected (a rejected one the team must ask again, knowingly)."""
    if review is None or review.state == S.DRAFT:
        return []
    return list(review.waiver_requests.filter(state=WaiverRequestState.PENDING))


def _replace(current: Review, *, user, now, fields: dict) -> Review:
    """Close `current` (kept as it was, marked replaced) and create the next revision from `fields`."""
    closed_state = _target_state("replace", current)
    before = _review_audit(current)
    # Closed first: the one-open-revision constraint admits the next revision only then.
    if not Review.objects.filter(pk=current.pk, state=current.state, replaced_at=None).update(
        state=closed_state, replaced_at=now
    ):
        raise StaleRevision(f"{current} changed while you were resubmitting it; reload and try again.")
    current.refresh_from_db()
    for wr in current.waiver_requests.filter(state=WaiverRequestState.PENDING):
        wr_before = _request_audit(wr)
        WaiverRequest.objects.filter(pk=wr.pk).update(state=WaiverRequestState.WITHDRAWN)
        wr.refresh_from_db()
        audit_record(
            actor=user,
            action="withdraw",
            obj_type="waiver_request",
            obj_name=f"{wr.rule} on {wr.target}",
            before=wr_before,
            after=_request_audit(wr),
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
        after=_review_audit(current) | {"replaced_by": review.number},
    )
    return review


def _check_decider(review: Review, user) -> None:
    refusal = permissions.review_decision_refusal(user, review)
    if refusal:
        raise PermissionDenied(refusal)


def _decide(*, review: Review, user, action: str, expected_hash: str) -> Review:
    """The conditional UPDATE that makes a decision: exactly one concurrent decider wins."""
    _check_decider(review, user)
    new_state = _target_state(action, review)
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
            _target_state(action, current)  # raises, naming the revision that replaced it
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
    before = _review_audit(review)
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
        after=_review_audit(review),
    )
    now = timezone.now()
    for wr in pending:
        _decide_waiver_request(wr, user=user, approve=wr.pk not in rejected, now=now)
    # Frozen once the accepted requests are waivers, so the record shows the drift as approved.
    review.drift = snapshot_drift(review.snapshot)
    Review.objects.filter(pk=review.pk).update(drift=review.drift)
    for old in Review.objects.filter(team=review.team, state=S.APPROVED).exclude(pk=review.pk):
        old_before = _review_audit(old)
        _target_state("supersede", old)
        if Review.objects.filter(pk=old.pk, state=S.APPROVED).update(state=S.SUPERSEDED, superseded_at=now):
            old.refresh_from_db()
            audit_record(
                actor=user,
                action="supersede",
                obj_type="review",
                obj_name=str(old),
                before=old_before,
                after=_review_audit(old),
            )
    if comment.strip():
        _add_comment(review=review, user=user, body=comment)
    _notify(
        subject=f"[Redis key advisor] Approved: {review}",
        body=f"{user.get_username()} approved {review} (hash {review.short_hash}).\n\n{comment.strip()}\n\n"
        f"Report: {_link(review)}\n",
        recipients=sorted(
            {*_team_recipients(review.team), *_emails([review.submitted_by] if review.submitted_by else [])}
        ),
    )
    return review


@transaction.atomic
def review_request_changes(
    *, review: Review, user, expected_hash: str, comment: str, rejected_waivers: list[int] = ()
) -> Review:
    """Send the revision back to the team, with the reason as a comment."""
    _check_decider(review, user)
    if not comment.strip():
        raise ReviewError("Say what needs to change: the comment is required.")
    before = _review_audit(review)
    review = _decide(review=review, user=user, action="request_changes", expected_hash=expected_hash)
    # What the reviewer saw when deciding stays with the revision.
    Review.objects.filter(pk=review.pk).update(drift=snapshot_drift(review.snapshot))
    audit_record(
        actor=user,
        action="request_changes",
        obj_type="review",
        obj_name=str(review),
        before=before,
        after=_review_audit(review),
    )
    now = timezone.now()
    for wr in review.waiver_requests.filter(state=WaiverRequestState.PENDING, pk__in=list(rejected_waivers)):
        _decide_waiver_request(wr, user=user, approve=False, now=now)
    _add_comment(review=review, user=user, body=comment)
    _notify(
        subject=f"[Redis key advisor] Changes requested: {review}",
        body=f"{user.get_username()} asked for changes to {review}:\n\n{comment.strip()}\n\n{_link(review)}\n",
        recipients=_team_recipients(review.team),
    )
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


# Waiver requests -----------------------------------------------------------------------------


def _decide_waiver_request(wr: WaiverRequest, *, user, approve: bool, now) -> WaiverRequest:
    # Every path to a decision passes here, those that come with a review's decision included.
    refusal = permissions.waiver_decision_refusal(user, wr)
    if refusal:
        raise PermissionDenied(refusal)
    before = _request_audit(wr)
    state = WaiverRequestState.APPROVED if approve else WaiverRequestState.REJECTED
    if not WaiverRequest.objects.filter(pk=wr.pk, state=WaiverRequestState.PENDING).update(
        state=state, decided_by=user, decided_at=now
    ):
        raise ReviewError(f"The waiver request for {wr.rule} on {wr.target} was already decided.")
    wr.refresh_from_db()
    audit_record(
        actor=user,
        action="approve" if approve else "reject",
        obj_type="waiver_request",
        obj_name=f"{wr.rule} on {wr.target}",
        before=before,
        after=_request_audit(wr),
    )
    if approve:
        existing = Waiver.objects.filter(rule=wr.rule, target=wr.target).first()
        waiver_before = waiver_data(existing) if existing else None
        waiver, _ = Waiver.objects.update_or_create(
            rule=wr.rule,
            target=wr.target,
            defaults={
                "reason": wr.reason,
                "expires": wr.expires,
                "approved_by": user.get_username(),
                "created_by": wr.requested_by,
            },
        )
        audit_record(
            actor=user,
            action="create" if waiver_before is None else "update",
            obj_type="waiver",
            obj_name=f"{waiver.rule} on {waiver.target}",
            before=waiver_before,
            after=waiver_data(waiver),
        )
    return wr


@transaction.atomic
def waiver_request_create(
    *, team: Team, user, rule: str, target: str, reason: str, expires: dt.date
) -> WaiverRequest:
    """A waiver requested outside a review, for a finding on one of the team's namespaces."""
    if not permissions.can_request_waiver(user, team):
        raise PermissionDenied("Only members of the team request waivers for its namespaces.")
    today = _today()
    targets = {
        f"namespace:{name}" for name in Namespace.objects.filter(team=team).values_list("name", flat=True)
    }
    snapshot = team_snapshot(team)
    drift = snapshot_drift(snapshot, today=today)
    targets |= drift_targets(drift)
    _check_waiver_ask(WaiverAsk(rule, target, reason, expires), today=today, targets=targets)
    found = [*team_findings(team, today=today), *(Finding.model_validate(f) for f in drift_findings(drift))]
    if not any(f.rule == rule and f.target == target for f in found):
        raise ReviewError(f"There is no finding {rule} on {target} to waive.")
    if WaiverRequest.objects.filter(rule=rule, target=target, state=WaiverRequestState.PENDING).exists():
        raise ReviewError(f"A waiver request for {rule} on {target} is already pending.")
    wr = WaiverRequest.objects.create(
        team=team, rule=rule, target=target, reason=reason.strip(), expires=expires, requested_by=user
    )
    audit_record(
        actor=user,
        action="request",
        obj_type="waiver_request",
        obj_name=f"{rule} on {target}",
        after=_request_audit(wr),
    )
    _notify(
        subject=f"[Redis key advisor] Waiver requested: {rule} on {target}",
        body=f"{user.get_username()} asks to waive {rule} on {target} until {expires}:\n\n{reason.strip()}\n",
        recipients=_reviewer_recipients(team),
    )
    return wr


@transaction.atomic
def waiver_request_decide(*, waiver_request: WaiverRequest, user, approve: bool) -> WaiverRequest:
    """Decide a stand-alone waiver request; requests that came with a review are decided with it."""
    refusal = permissions.waiver_decision_refusal(user, waiver_request)
    if refusal:
        raise PermissionDenied(refusal)
    if waiver_request.review_id is not None:
        raise ReviewError("This waiver request is part of a review: decide it with the review.")
    if waiver_request.state != WaiverRequestState.PENDING:
        raise ReviewError(f"The waiver request was already {waiver_request.state}.")
    wr = _decide_waiver_request(waiver_request, user=user, approve=approve, now=timezone.now())
    _notify(
        subject=f"[Redis key advisor] Waiver {wr.state}: {wr.rule} on {wr.target}",
        body=f"{user.get_username()} {wr.state} the waiver request for {wr.rule} on {wr.target}.\n",
        recipients=_team_recipients(wr.team),
    )
    return wr
