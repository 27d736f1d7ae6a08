"""/api/reviews, /api/waivers, /api/waiver-requests: the design review workflow.

Reads need any authenticated user. Team members submit their team's design and request waivers;
reviewers comment, approve and request changes, and decide waiver requests, never their own
(advisor.registry.permissions). A decision carries the content hash the reviewer saw: when the
revision changed since, or another reviewer decided first, the answer is a 409 saying so.
"""

import datetime as dt

from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from advisor.registry.models import Team, Waiver
from advisor.reviews import services
from advisor.reviews.models import Review, ReviewState, WaiverRequest, WaiverRequestState
from advisor.reviews.report import review_context

from .schemas import Entries, Pagination, body_error, errors

router = Router(tags=["reviews"])

_LIST_ERRORS = errors(401, 422)
_READ_ERRORS = errors(401, 404, 422)
_WRITE_ERRORS = errors(400, 401, 403, 404, 409, 413, 422)
_DECIDE_ERRORS = errors(401, 403, 404, 409, 422)  # no body


# Shapes ----------------------------------------------------------------------------------------


class WaiverAskIn(Schema):
    rule: str = Field(..., pattern=r"^[A-Z]{3}[0-9]{3}$", examples=["TTL001"])
    target: str = Field(..., max_length=80, examples=["namespace:search-results"])
    reason: str = Field(..., min_length=1, max_length=5000)
    expires: dt.date


# A request body names at most this many waiver requests: far more than a team's blocking
# findings, and a bound on the work one request can ask for.
MAX_LISTED = 1000


class SubmitIn(Schema):
    waivers: list[WaiverAskIn] | None = Field(
        None,
        max_length=MAX_LISTED,
        description="A waiver request for each unwaived finding (design or drift) at high or above that is "
        "not fixed. Omitted or null: a resubmission carries over the undecided requests of the revision it "
        "replaces that still apply; [] asks for none.",
    )


class CommentIn(Schema):
    body: str = Field(..., min_length=1, max_length=5000)
    finding_rule: str = Field("", max_length=6, description="Set both to comment on one finding.")
    finding_target: str = Field("", max_length=80)


class DecisionIn(Schema):
    expected_hash: str = Field(
        ..., min_length=64, max_length=64, description="The content hash you reviewed."
    )
    comment: str = Field("", max_length=5000, description="Required when requesting changes.")
    rejected_waivers: list[int] = Field(
        default_factory=list, max_length=MAX_LISTED, description="Waiver request ids to reject."
    )


class WaiverRequestIn(Schema):
    team: str = Field(..., max_length=63)
    rule: str = Field(..., pattern=r"^[A-Z]{3}[0-9]{3}$")
    target: str = Field(..., max_length=80)
    reason: str = Field(..., min_length=1, max_length=5000)
    expires: dt.date


class CommentOut(Schema):
    id: int
    author: str | None
    body: str
    finding_rule: str
    finding_target: str
    revision_hash: str
    created_at: dt.datetime


class WaiverRequestOut(Schema):
    id: int
    team: str
    review: int | None
    rule: str
    target: str
    reason: str
    expires: dt.date
    state: str
    requested_by: str | None
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None


class WaiverOut(Schema):
    rule: str
    target: str
    reason: str
    expires: dt.date
    approved_by: str


class ReviewSummaryOut(Schema):
    id: int
    team: str
    number: int
    state: str
    content_hash: str
    namespaces: list[str]
    submitted_by: str | None
    submitted_at: dt.datetime | None
    decided_by: str | None
    decided_at: dt.datetime | None
    base: int | None = Field(None, description="Id of the approved revision this one is compared with.")
    previous: int | None = Field(None, description="Id of the revision this one follows (resubmits).")
    replaced_at: dt.datetime | None = Field(None, description="When a resubmission replaced this revision.")


class FieldChangeOut(Schema):
    field: str
    before: object | None
    after: object | None


class NamespaceChangeOut(Schema):
    name: str
    fields: list[FieldChangeOut]


class DiffOut(Schema):
    added: list[str]
    removed: list[str]
    changed: list[NamespaceChangeOut]
    unchanged: list[str]


class RevisionOut(Schema):
    id: int
    number: int
    content_hash: str
    state: str
    submitted_by: str | None
    submitted_at: dt.datetime | None
    decided_by: str | None
    decided_at: dt.datetime | None


class DriftInstanceOut(Schema):
    instance: str
    scan: int | None = Field(description="The latest complete scan's id; null when never completely scanned.")
    scan_number: int | None = Field(None, description="That scan's number on its instance (#1, #2, ...).")
    finished_at: str | None
    findings: list[dict]


class DriftOut(Schema):
    computed_at: str | None = None
    live: bool = Field(
        description="True: the latest scans now; false: as frozen when the revision was decided."
    )
    instances: list[DriftInstanceOut]


class ReviewOut(ReviewSummaryOut):
    snapshot: list[dict]
    diff: DiffOut
    diff_previous: DiffOut | None = Field(
        None, description="Against the previous revision (the one this one resubmits or follows)."
    )
    revisions: list[RevisionOut] = Field(description="Every revision of the team, newest first.")
    drift: DriftOut
    findings: list[dict]
    sizing: dict
    comments: list[CommentOut]
    waiver_requests: list[WaiverRequestOut]


class ReviewFilters(Schema):
    state: ReviewState | None = None
    team: str | None = Field(None, max_length=63)


class WaiverRequestFilters(Schema):
    state: WaiverRequestState | None = None
    team: str | None = Field(None, max_length=63)


def _name(user) -> str | None:
    return user.get_username() if user else None


def _summary(r: Review) -> dict:
    return {
        "id": r.pk,
        "team": r.team.name,
        "number": r.number,
        "state": r.state,
        "content_hash": r.content_hash,
        "namespaces": r.namespace_names(),
        "submitted_by": _name(r.submitted_by),
        "submitted_at": r.submitted_at,
        "decided_by": _name(r.decided_by),
        "decided_at": r.decided_at,
        "base": r.base_id,
        "previous": r.previous_id,
        "replaced_at": r.replaced_at,
    }


def _comment(c) -> dict:
    return {
        "id": c.pk,
        "author": _name(c.author),
        "body": c.body,
        "finding_rule": c.finding_rule,
        "finding_target": c.finding_target,
        "revision_hash": c.revision_hash,
        "created_at": c.created_at,
    }


def _waiver_request(wr: WaiverRequest) -> dict:
    return {
        "id": wr.pk,
        "team": wr.team.name,
        "review": wr.review_id,
        "rule": wr.rule,
        "target": wr.target,
        "reason": wr.reason,
        "expires": wr.expires,
        "state": wr.state,
        "requested_by": _name(wr.requested_by),
        "requested_at": wr.requested_at,
        "decided_by": _name(wr.decided_by),
        "decided_at": wr.decided_at,
    }


def _full(review: Review) -> dict:
    review = Review.objects.select_related("team", "submitted_by", "decided_by").get(pk=review.pk)
    ctx = review_context(review)
    revision_diff = ctx["revision_diff"]
    return {
        **_summary(review),
        "snapshot": review.snapshot,
        "diff": ctx["diff"].to_dict(),
        "diff_previous": revision_diff.to_dict() if revision_diff is not None else None,
        "revisions": [
            {
                "id": r.pk,
                "number": r.number,
                "content_hash": r.content_hash,
                "state": r.state,
                "submitted_by": _name(r.submitted_by),
                "submitted_at": r.submitted_at,
                "decided_by": _name(r.decided_by),
                "decided_at": r.decided_at,
            }
            for r in ctx["revisions"]
        ],
        "drift": {**ctx["drift_raw"], "live": ctx["drift_live"]},
        "findings": review.findings,
        "sizing": review.sizing,
        "comments": [_comment(c) for c in review.comments.select_related("author")],
        "waiver_requests": [_waiver_request(wr) for wr in ctx["waiver_requests"]],
    }


def _refused(exc: services.ReviewError):
    """Workflow refusals: a conflict with the review's state (409) or an unacceptable request (422)."""
    if isinstance(exc, services.StaleRevision | services.TransitionNotAllowed | services.SubmissionBlocked):
        return Status(409, {"detail": str(exc)})
    return Status(422, {"detail": [body_error((), str(exc), "review")]})


def _review(review_id: int) -> Review:
    return get_object_or_404(
        Review.objects.select_related("team", "submitted_by", "decided_by"), pk=review_id
    )


def _team(name: str) -> Team:
    team = Team.objects.filter(name=name).first()
    if team is None:
        raise Http404(f"no team named '{name}'")
    return team


# Reviews ---------------------------------------------------------------------------------------


@router.get("/reviews", response={200: list[ReviewSummaryOut], **_LIST_ERRORS})
@paginate(Pagination)
def review_list(request, filters: Query[ReviewFilters]):
    # The frozen findings, sizing and drift are not part of a summary: not read.
    qs = (
        Review.objects.select_related("team", "submitted_by", "decided_by")
        .defer("findings", "sizing", "drift")
        .order_by("-pk")
    )
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.team:
        qs = qs.filter(team__name=filters.team)
    return Entries(qs, _summary)


@router.get("/reviews/{review_id}", response={200: ReviewOut, **_READ_ERRORS})
def review_get(request, review_id: int):
    """One revision with its snapshot, the diff against the approved revision, findings and sizing."""
    return _full(_review(review_id))


@router.post("/teams/{name}/reviews", response={201: ReviewOut, **_WRITE_ERRORS})
def review_submit(request, name: str, payload: SubmitIn):
    """Submit the team's current namespaces for review.

    Submitting while a revision is in review or has changes requested creates the next revision;
    the earlier one stays readable with its state, decision and comments.
    """
    team = _team(name)
    asks = (
        None
        if payload.waivers is None
        else [services.WaiverAsk(w.rule, w.target, w.reason, w.expires) for w in payload.waivers]
    )
    try:
        review = services.review_submit(team=team, user=request.auth, waivers=asks)
    except services.ReviewError as exc:
        return _refused(exc)
    return Status(201, _full(review))


@router.post("/reviews/{review_id}/comments", response={201: CommentOut, **_WRITE_ERRORS})
def review_comment(request, review_id: int, payload: CommentIn):
    review = _review(review_id)
    try:
        comment = services.review_comment(
            review=review,
            user=request.auth,
            body=payload.body,
            finding_rule=payload.finding_rule,
            finding_target=payload.finding_target,
        )
    except services.ReviewError as exc:
        return _refused(exc)
    return Status(201, _comment(comment))


@router.post("/reviews/{review_id}/approve", response={200: ReviewOut, **_WRITE_ERRORS})
def review_approve(request, review_id: int, payload: DecisionIn):
    review = _review(review_id)
    try:
        review = services.review_approve(
            review=review,
            user=request.auth,
            expected_hash=payload.expected_hash,
            rejected_waivers=payload.rejected_waivers,
            comment=payload.comment,
        )
    except services.ReviewError as exc:
        return _refused(exc)
    return _full(review)


@router.post("/reviews/{review_id}/request-changes", response={200: ReviewOut, **_WRITE_ERRORS})
def review_request_changes(request, review_id: int, payload: DecisionIn):
    review = _review(review_id)
    try:
        review = services.review_request_changes(
            review=review,
            user=request.auth,
            expected_hash=payload.expected_hash,
            comment=payload.comment,
            rejected_waivers=payload.rejected_waivers,
        )
    except services.ReviewError as exc:
        return _refused(exc)
    return _full(review)


# Waivers ---------------------------------------------------------------------------------------


@router.get("/waivers", response={200: list[WaiverOut], **_LIST_ERRORS}, tags=["waivers"])
@paginate(Pagination)
def waiver_list(request):
    """The registry's waivers, expired ones included (their `expires` says so)."""
    return Entries(Waiver.objects.order_by("rule", "target"), _waiver)


def _waiver(w: Waiver) -> dict:
    return {
        "rule": w.rule,
        "target": w.target,
        "reason": w.reason,
        "expires": w.expires,
        "approved_by": w.approved_by,
    }


@router.get("/waiver-requests", response={200: list[WaiverRequestOut], **_LIST_ERRORS}, tags=["waivers"])
@paginate(Pagination)
def waiver_request_list(request, filters: Query[WaiverRequestFilters]):
    qs = WaiverRequest.objects.select_related("team", "requested_by", "decided_by").order_by("-pk")
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.team:
        qs = qs.filter(team__name=filters.team)
    return Entries(qs, _waiver_request)


@router.post("/waiver-requests", response={201: WaiverRequestOut, **_WRITE_ERRORS}, tags=["waivers"])
def waiver_request_create(request, payload: WaiverRequestIn):
    """Request a waiver for a finding on one of your team's namespaces, outside a review."""
    team = _team(payload.team)
    try:
        wr = services.waiver_request_create(
            team=team,
            user=request.auth,
            rule=payload.rule,
            target=payload.target,
            reason=payload.reason,
            expires=payload.expires,
        )
    except services.ReviewError as exc:
        return _refused(exc)
    return Status(201, _waiver_request(wr))


def _decide(request, request_id: int, approve: bool):
    wr = get_object_or_404(WaiverRequest.objects.select_related("team"), pk=request_id)
    try:
        wr = services.waiver_request_decide(waiver_request=wr, user=request.auth, approve=approve)
    except services.ReviewError as exc:
        return Status(409, {"detail": str(exc)})
    return _waiver_request(wr)


@router.post(
    "/waiver-requests/{request_id}/approve",
    response={200: WaiverRequestOut, **_DECIDE_ERRORS},
    tags=["waivers"],
)
def waiver_request_approve(request, request_id: int):
    """Approve: the waiver enters the registry with you as its approver."""
    return _decide(request, request_id, True)


@router.post(
    "/waiver-requests/{request_id}/reject",
    response={200: WaiverRequestOut, **_DECIDE_ERRORS},
    tags=["waivers"],
)
def waiver_request_reject(request, request_id: int):
    return _decide(request, request_id, False)
