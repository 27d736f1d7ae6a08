"""Waiver requests: asked with a submission or on their own, decided by a reviewer; an approved
request becomes the registry's waiver for that finding."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from advisor.audit.services import audit_record
from advisor.core.findings import Finding
from advisor.registry import permissions, writes
from advisor.registry.models import WAIVER_MAX_DAYS, Namespace, Team

from .drift import drift_findings, drift_targets
from .models import Review, WaiverRequest, WaiverRequestState
from .notify import notify, reviewer_recipients, team_recipients
from .states import ReviewError, S
from .team_design import local_today, snapshot_drift, team_findings, team_snapshot
from .trail import request_record


@dataclass
class WaiverAsk:
    """A waiver requested with a submission."""

    rule: str
    target: str
    reason: str
    expires: dt.date


def check_waiver_ask(ask: WaiverAsk, *, today: dt.date, targets: set[str]) -> None:
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


def carried_requests(review: Review | None) -> list[WaiverRequest]:
    """The waiver requests a resubmission starts from: those of the revision it replaces that no
    reviewer rejected (a rejected one the team must ask again, knowingly)."""
    if review is None or review.state == S.DRAFT:
        return []
    return list(review.waiver_requests.filter(state=WaiverRequestState.PENDING))


def decide_waiver_request(wr: WaiverRequest, *, user, approve: bool, now) -> WaiverRequest:
    # Every path to a decision passes here, those that come with a review's decision included.
    refusal = permissions.waiver_decision_refusal(user, wr)
    if refusal:
        raise PermissionDenied(refusal)
    before = request_record(wr)
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
        after=request_record(wr),
    )
    if approve:
        # Through the registry's write service: audited, and the stored findings follow once the
        # decision has committed.
        writes.waiver_save(
            waiver=None,
            rule=wr.rule,
            target=wr.target,
            reason=wr.reason,
            expires=wr.expires,
            approved_by=user.get_username(),
            created_by=wr.requested_by,
            actor=user,
        )
    return wr


@transaction.atomic
def waiver_request_create(
    *, team: Team, user, rule: str, target: str, reason: str, expires: dt.date
) -> WaiverRequest:
    """A waiver requested outside a review, for a finding on one of the team's namespaces."""
    if not permissions.can_request_waiver(user, team):
        raise PermissionDenied("Only members of the team request waivers for its namespaces.")
    today = local_today()
    targets = {
        f"namespace:{name}" for name in Namespace.objects.filter(team=team).values_list("name", flat=True)
    }
    snapshot = team_snapshot(team)
    drift = snapshot_drift(snapshot, today=today)
    targets |= drift_targets(drift)
    check_waiver_ask(WaiverAsk(rule, target, reason, expires), today=today, targets=targets)
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
        after=request_record(wr),
    )
    notify(
        subject=f"[Redis key advisor] Waiver requested: {rule} on {target}",
        body=f"{user.get_username()} asks to waive {rule} on {target} until {expires}:\n\n{reason.strip()}\n",
        recipients=reviewer_recipients(team),
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
    wr = decide_waiver_request(waiver_request, user=user, approve=approve, now=timezone.now())
    notify(
        subject=f"[Redis key advisor] Waiver {wr.state}: {wr.rule} on {wr.target}",
        body=f"{user.get_username()} {wr.state} the waiver request for {wr.rule} on {wr.target}.\n",
        recipients=team_recipients(wr.team),
    )
    return wr
