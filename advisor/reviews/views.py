import datetime as dt
import logging
from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from advisor.core.findings import SEVERITIES_HIGH_FIRST
from advisor.findings.models import DesignFinding
from advisor.registry import permissions
from advisor.registry.models import Instance, Namespace, Team, Waiver

from . import services
from .drift import blocking_drift, drift_summary
from .forms import CommentForm, DecisionForm, SubmitForm
from .models import Review, ReviewState, WaiverRequest, WaiverRequestState
from .report import drift_rows, review_context, review_markdown

logger = logging.getLogger(__name__)


# The team's review page --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def team_review(request, team):
    team = get_object_or_404(Team, name=team)
    if request.method == "POST" and not permissions.can_submit(request.user, team):
        raise PermissionDenied("Only members of the team submit its design for review.")
    status = services.team_status(team)
    # The page shows the stored findings; a submission lints the registry for real, and its form
    # must name the findings that submission will see.
    if request.method == "POST":
        findings = services.team_findings(team)
    else:
        findings = services.team_stored_findings(team)
    drift = services.snapshot_drift(status.snapshot)
    blocking = [*services.blocking_findings(findings), *blocking_drift(drift)]
    # A resubmission starts from the requests of the revision it replaces, rejected ones included
    # (shown as such) so the team can answer the reviewer rather than retype.
    earlier = (
        {wr.finding_key: wr for wr in status.open.waiver_requests.select_related("decided_by")}
        if status.open is not None and status.open.state != ReviewState.DRAFT
        else {}
    )
    form = SubmitForm(request.POST if request.method == "POST" else None, blocking=blocking, earlier=earlier)
    if request.method == "POST" and form.is_valid():
        try:
            review = services.review_submit(team=team, user=request.user, waivers=form.waiver_asks())
        except services.ReviewError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{review} submitted for review (hash {review.short_hash}).")
            return redirect(review)
    counts = Counter(f.severity.value for f in findings if not f.waived)
    context = {
        "team": team,
        "status": status,
        "diff": services.snapshot_diff(
            status.approved.snapshot if status.approved else None, status.snapshot
        ),
        "base_label": f"approved revision {status.approved.number}" if status.approved else "an empty design",
        "findings": [f.model_dump(mode="json") for f in findings],
        "blocking": blocking,
        "severity_counts": [(s.value, counts.get(s.value, 0)) for s in SEVERITIES_HIGH_FIRST],
        "sizing": services.team_sizing(team),
        "drift": drift_rows(drift),
        "drift_live": True,
        "drift_summary": drift_summary(drift),
        "form": form,
        "can_submit": permissions.can_submit(request.user, team),
        "history": services.team_revisions(team),
    }
    return render(request, "reviews/team_review.html", context)


# Reviews -----------------------------------------------------------------------------------------


@login_required
@require_GET
def review_list(request):
    qs = Review.objects.select_related("team", "submitted_by", "decided_by").order_by("-pk")
    state, team = request.GET.get("state", ""), request.GET.get("team", "")
    if state:
        qs = qs.filter(state=state)
    if team:
        qs = qs.filter(team__name=team)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    pending_waivers = list(
        WaiverRequest.objects.filter(review=None, state=WaiverRequestState.PENDING).select_related(
            "team", "requested_by"
        )
    )
    reviewer = permissions.is_reviewer(request.user)
    team_ids = set(request.user.teams.values_list("pk", flat=True))
    for wr in pending_waivers:
        # The buttons show only to who may decide; the others read why they may not.
        wr.decision_refusal = permissions.waiver_decision_refusal(
            request.user, wr, reviewer=reviewer, team_ids=team_ids
        )
    return render(
        request,
        "reviews/review_list.html",
        {
            "page": page,
            "filters": {"state": state, "team": team},
            "states": ReviewState.choices,
            "teams": Team.objects.order_by("name"),
            "pending_waivers": pending_waivers,
            "is_reviewer": reviewer,
        },
    )


def _detail_context(request, review: Review, **extra) -> dict:
    ctx = review_context(review)
    refusal = permissions.review_decision_refusal(request.user, review)
    ctx.update(
        can_review=refusal is None and review.state == ReviewState.IN_REVIEW,
        # Shown to reviewers in place of the decision form: why someone else decides this revision.
        decision_refusal=refusal if permissions.is_reviewer(request.user) else None,
        can_comment=permissions.can_comment(request.user, review)
        and review.state != ReviewState.SUPERSEDED
        and review.replaced_at is None,
        is_reviewer=permissions.is_reviewer(request.user),
        status=services.team_status(review.team),
        **extra,
    )
    return ctx


def _review_body(request, review: Review, *, notice: str = "", error: str = "") -> HttpResponse:
    """After an action: the htmx fragment, or a redirect back to the page for plain forms."""
    if request.htmx:
        review.refresh_from_db()
        ctx = _detail_context(request, review, notice=notice, error=error)
        return render(request, "reviews/review_detail.html#review-body", ctx)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(review)


@login_required
@require_GET
def review_detail(request, pk):
    review = get_object_or_404(
        Review.objects.select_related("team", "base", "previous", "submitted_by", "decided_by"), pk=pk
    )
    return render(request, "reviews/review_detail.html", _detail_context(request, review))


@login_required
@require_POST
def review_comment(request, pk):
    review = get_object_or_404(Review, pk=pk)
    if not permissions.can_comment(request.user, review):
        raise PermissionDenied("Only reviewers and the team's members comment on its review.")
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _review_body(request, review, error="The comment is empty.")
    try:
        services.review_comment(
            review=review,
            user=request.user,
            body=form.cleaned_data["body"],
            finding_rule=form.cleaned_data["finding_rule"],
            finding_target=form.cleaned_data["finding_target"],
        )
    except services.ReviewError as exc:
        return _review_body(request, review, error=str(exc))
    return _review_body(request, review, notice="Comment added.")


def _refused(request, reason: str, *, back: str, back_label: str) -> HttpResponse:
    """A 403 that says why. htmx does not swap a 403, so it reloads the page, which shows the reason."""
    if request.htmx:
        messages.error(request, reason)
        response = HttpResponse(reason, status=403, content_type="text/plain; charset=utf-8")
        response["HX-Refresh"] = "true"
        return response
    return render(
        request,
        "reviews/refused.html",
        {"reason": reason, "back": back, "back_label": back_label},
        status=403,
    )


def _decision(request, pk, action: str):
    review = get_object_or_404(Review.objects.select_related("team"), pk=pk)
    refusal = permissions.review_decision_refusal(request.user, review)
    if refusal:
        return _refused(request, refusal, back=review.get_absolute_url(), back_label=f"Back to {review}")
    form = DecisionForm(request.POST, review=review)
    if not form.is_valid():
        return _review_body(request, review, error="The decision form was incomplete; reload the page.")
    data = form.cleaned_data
    try:
        if action == "approve":
            services.review_approve(
                review=review,
                user=request.user,
                expected_hash=data["expected_hash"],
                rejected_waivers=data["reject_waivers"],
                comment=data["comment"],
            )
            notice = f"{review} approved."
        else:
            services.review_request_changes(
                review=review,
                user=request.user,
                expected_hash=data["expected_hash"],
                comment=data["comment"],
                rejected_waivers=data["reject_waivers"],
            )
            notice = f"Changes requested on {review}."
    except PermissionDenied as exc:
        return _refused(request, str(exc), back=review.get_absolute_url(), back_label=f"Back to {review}")
    except services.ReviewError as exc:
        return _review_body(request, review, error=str(exc))
    return _review_body(request, review, notice=notice)


@login_required
@require_POST
def review_approve(request, pk):
    return _decision(request, pk, "approve")


@login_required
@require_POST
def review_request_changes(request, pk):
    return _decision(request, pk, "request_changes")


@login_required
@require_GET
def review_report(request, pk):
    review = get_object_or_404(
        Review.objects.select_related("team", "base", "previous", "submitted_by", "decided_by"), pk=pk
    )
    ctx = review_context(review)
    ctx["generated_at"] = timezone.now()
    return render(request, "reviews/review_report.html", ctx)


@login_required
@require_GET
def review_report_markdown(request, pk):
    review = get_object_or_404(
        Review.objects.select_related("team", "base", "previous", "submitted_by", "decided_by"), pk=pk
    )
    response = HttpResponse(review_markdown(review), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="review-{review.team.name}-r{review.number}.md"'
    return response


# Stand-alone waiver requests -------------------------------------------------------------------


@login_required
@require_POST
def waiver_request_decide(request, pk):
    wr = get_object_or_404(WaiverRequest.objects.select_related("team"), pk=pk)
    refusal = permissions.waiver_decision_refusal(request.user, wr)
    if refusal:
        return _refused(request, refusal, back=reverse("review_list"), back_label="Back to the reviews")
    try:
        services.waiver_request_decide(
            waiver_request=wr, user=request.user, approve=request.POST.get("decision") == "approve"
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc), back=reverse("review_list"), back_label="Back to the reviews")
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        wr.refresh_from_db()
        messages.success(request, f"Waiver request for {wr.rule} on {wr.target} {wr.state}.")
    return redirect("review_list")


# Compliance --------------------------------------------------------------------------------------


def _drift_by_team(hosts: dict[str, set[int]], ns_team: dict[str, str]) -> dict[str, dict]:
    """Per team: unwaived drift findings on its namespaces in each instance's latest completed
    scan, and how many of the instances hosting them have been scanned (completely).

    `hosts`: the instance ids hosting each team's namespaces; `ns_team`: each namespace's team."""
    from advisor.scans.models import ScanRun

    latest = (
        ScanRun.objects.filter(instance=OuterRef("pk"), status=ScanRun.Status.COMPLETED)
        .order_by("-finished_at", "-pk")
        .values("pk")[:1]
    )
    run_ids = Instance.objects.annotate(run=Subquery(latest)).filter(run__isnull=False).values("run")
    # The findings only: a report's namespaces and key families are not read here.
    runs = {
        instance_id: (complete, findings or [])
        for instance_id, complete, findings in ScanRun.objects.filter(pk__in=run_ids).values_list(
            "instance_id", "complete", "report__findings"
        )
    }
    drift: dict[str, dict] = {}
    for team, instance_ids in hosts.items():
        scanned = [runs[i] for i in instance_ids if i in runs]
        drift[team] = {
            "findings": 0,
            "instances": len(instance_ids),
            "scanned": len(scanned),
            "incomplete": any(not complete for complete, _ in scanned),
        }
    for _, findings in runs.values():
        for f in findings:
            if f.get("waived"):
                continue
            named = {
                t.split(":", 1)[1]
                for t in [f.get("target", ""), *f.get("related", [])]
                if t.startswith("namespace:")
            }
            for team in {ns_team[n] for n in named if n in ns_team}:
                drift[team]["findings"] += 1
    return drift


@login_required
@require_GET
def compliance(request):
    """Every team's review status, findings, drift and expiring waivers, in a fixed number of
    queries: the stored findings counted by the database, the live content hashes from one read
    of the namespaces."""
    today = timezone.localdate()
    horizon = today + dt.timedelta(days=30)
    teams = list(Team.objects.order_by("name"))
    ns_team: dict[str, str] = {}
    hosts: dict[str, set[int]] = {}
    for name, team, instance_id in Namespace.objects.values_list("name", "team__name", "instance_id"):
        ns_team[name] = team
        hosts.setdefault(team, set()).add(instance_id)
    namespace_counts = Counter(ns_team.values())
    drift = _drift_by_team(hosts, ns_team)
    counts: dict[int, Counter] = {}
    for team_id, severity, n in (
        DesignFinding.objects.filter(target_kind="namespace", team__isnull=False, waived=False)
        .values_list("team_id", "severity")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts.setdefault(team_id, Counter())[severity] = n
    light = ("pk", "team_id", "number", "state", "content_hash", "decided_at")  # not the frozen JSON
    approved: dict[int, Review] = {}
    for review in Review.objects.filter(state=ReviewState.APPROVED).only(*light).order_by("-number"):
        approved.setdefault(review.team_id, review)
    pending: dict[int, Review] = {}
    for review in Review.objects.open().only(*light).order_by("-pk"):
        pending.setdefault(review.team_id, review)
    live_hash = services.team_content_hashes([t for t in teams if t.pk in approved])
    expiring: dict[str, list[Waiver]] = {}
    for waiver in Waiver.objects.filter(expires__gte=today, expires__lte=horizon).order_by("expires"):
        kind, _, name = waiver.target.partition(":")
        if kind == "namespace" and name in ns_team:
            expiring.setdefault(ns_team[name], []).append(waiver)
    rows = []
    for team in teams:
        found = counts.get(team.pk, Counter())
        rows.append(
            {
                "team": team,
                "namespace_count": namespace_counts[team.name],
                "approved": approved.get(team.pk),
                "pending": pending.get(team.pk),
                "current": team.pk in approved and approved[team.pk].content_hash == live_hash[team.pk],
                "severity_counts": [(s.value, found.get(s.value, 0)) for s in SEVERITIES_HIGH_FIRST],
                "unwaived_total": sum(found.values()),
                "drift": drift.get(team.name),
                "expiring": expiring.get(team.name, []),
            }
        )
    return render(
        request,
        "reviews/compliance.html",
        {"rows": rows, "today": today, "horizon": horizon},
    )
