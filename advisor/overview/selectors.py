"""What the overview and the compliance page show beside their own tables: findings by severity,
drift over time, and the reviews waiting on the person looking.

Those pages belong to the registry and reviews apps; their templates pull this in through the tags
in overview_tags (the home_extra include and the compliance page), so each piece brings its own data. Every
function here runs a fixed number of queries, however many teams, namespaces, instances or scans
there are: the counting is done by the database (GROUP BY, window functions), Python only lays
the results out.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Prefetch, Q
from django.db.models.expressions import Window
from django.db.models.functions import FirstValue, TruncDate
from django.utils import timezone

from advisor.core.findings import SEVERITIES_HIGH_FIRST
from advisor.findings.markup import render_markdown
from advisor.findings.models import DesignFinding
from advisor.registry import permissions
from advisor.registry.models import Namespace, Team
from advisor.reviews.models import Review, ReviewComment, ReviewState
from advisor.scans.models import ScanRun

DRIFT_DAYS = 30

_SEVERITIES = [s.value for s in SEVERITIES_HIGH_FIRST]


# Findings by severity ------------------------------------------------------------------------


def severity_totals() -> dict:
    """Unwaived design findings per severity, most severe first (the overview's doughnut)."""
    counts = dict(
        DesignFinding.objects.filter(waived=False).values_list("severity").annotate(n=Count("id")).order_by()
    )
    return {"severities": _SEVERITIES, "counts": [counts.get(s, 0) for s in _SEVERITIES]}


def severity_by_team() -> dict:
    """Unwaived findings of each team's namespaces per severity (the compliance page's stacked
    bars): one row per team, teams without findings included, as the page's table lists them."""
    teams = list(Team.objects.order_by("name").values_list("name", flat=True))
    counts: dict[tuple[str, str], int] = {
        (team, severity): n
        for team, severity, n in DesignFinding.objects.filter(waived=False, team__isnull=False)
        .values_list("team__name", "severity")
        .annotate(n=Count("id"))
        .order_by()
    }
    return {
        "teams": teams,
        "series": [{"severity": s, "counts": [counts.get((t, s), 0) for t in teams]} for s in _SEVERITIES],
    }


# Drift over time -----------------------------------------------------------------------------


def _latest_per_instance(runs, *, per_day: bool) -> list[tuple]:
    """(instance id, [day,] findings_high, findings_total) of the latest completed run of each
    instance (of each day, with `per_day`), picked by the database with a window function."""
    partition = [F("instance_id"), F("day")] if per_day else [F("instance_id")]
    latest_first = [F("finished_at").desc(), F("pk").desc()]
    fields = ["instance_id", "day"] if per_day else ["instance_id"]
    return list(
        runs.annotate(
            last_high=Window(FirstValue("findings_high"), partition_by=partition, order_by=latest_first),
            last_total=Window(FirstValue("findings_total"), partition_by=partition, order_by=latest_first),
        )
        .values_list(*fields, "last_high", "last_total")
        .order_by()
        .distinct()
    )


def drift_history(*, days: int = DRIFT_DAYS, hosting_namespaces: bool = False, today=None) -> dict:
    """Drift findings (high or above, and all unwaived) of the completed scans, per day over the
    last `days` days, summed over instances: each instance counts with its latest completed scan
    up to that day, so an instance scanned weekly does not vanish on the other six days. With
    `hosting_namespaces`, only instances hosting a registered namespace (the compliance page).

    Two queries: the latest run of each instance per day in the window, and the latest run of
    each instance before it (what the first day starts from)."""
    tz = timezone.get_current_timezone()
    today = today or timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    runs = ScanRun.objects.filter(status=ScanRun.Status.COMPLETED, finished_at__isnull=False)
    if hosting_namespaces:
        runs = runs.filter(instance_id__in=Namespace.objects.values("instance_id"))
    in_window = _latest_per_instance(
        runs.filter(finished_at__gte=start).annotate(day=TruncDate("finished_at", tzinfo=tz)), per_day=True
    )
    before = _latest_per_instance(runs.filter(finished_at__lt=start), per_day=False)

    state: dict[int, tuple[int, int]] = {i: (high, total) for i, high, total in before}
    by_day: dict[dt.date, list[tuple[int, int, int]]] = {}
    for instance_id, day, high, total in in_window:
        by_day.setdefault(day, []).append((instance_id, high, total))
    labels, high_series, total_series, scanned = [], [], [], []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        for instance_id, high, total in by_day.get(day, []):
            state[instance_id] = (high, total)
        labels.append(day.isoformat())
        high_series.append(sum(h for h, _ in state.values()) if state else None)
        total_series.append(sum(t for _, t in state.values()) if state else None)
        scanned.append(len(state))
    return {
        "labels": labels,
        "high": high_series,
        "total": total_series,
        "instances": scanned,
        "has_data": bool(state),
    }


# Reviews waiting on the person looking --------------------------------------------------------


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.strip().splitlines() if line.strip()), "")


def review_notices(user) -> dict:
    """For a team member: their teams' revisions sent back with changes requested and not yet
    resubmitted (a resubmission sets `replaced_at` on the revision it replaces), with who asked
    and the first line of what they said. For a reviewer: revisions in review they may decide
    (not their own submission, not their own team's). At most five queries."""
    if not user.is_authenticated:
        return {"changes_requested": [], "waiting": []}
    open_revisions = Review.objects.filter(replaced_at__isnull=True).select_related("team")
    sent_back = list(
        open_revisions.filter(state=ReviewState.CHANGES_REQUESTED, team__members=user)
        .select_related("decided_by")
        .prefetch_related(
            Prefetch(
                "comments",
                queryset=ReviewComment.objects.filter(finding_rule="").order_by("-created_at", "-pk"),
                to_attr="general_comments",
            )
        )
        .order_by("-decided_at", "-pk")
    )
    changes_requested = []
    for review in sent_back:
        # The reviewer's latest comment on the whole revision is the one their decision added.
        said = next((c for c in review.general_comments if c.author_id == review.decided_by_id), None)
        changes_requested.append(
            {
                "review": review,
                "reviewer": review.decided_by.get_username() if review.decided_by else "a reviewer",
                # Comments are Markdown: the line is rendered (no literal backticks on the page).
                "first_line": render_markdown(_first_line(said.body)) if said else "",
                "decided_at": review.decided_at,
            }
        )
    waiting = []
    if permissions.is_reviewer(user):
        waiting = list(
            open_revisions.filter(state=ReviewState.IN_REVIEW)
            .exclude(Q(submitted_by=user) | Q(team__members=user))
            .select_related("submitted_by")
            .order_by("submitted_at", "pk")
        )
    return {"changes_requested": changes_requested, "waiting": waiting}
