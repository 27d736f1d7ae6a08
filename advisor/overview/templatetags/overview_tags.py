"""`{% load overview_tags %}`: the overview's and the compliance page's charts, and the reviews
waiting on the person looking. Each tag brings its own data (advisor.overview.selectors)."""

from django import template

from advisor.overview import selectors

register = template.Library()


@register.inclusion_tag("overview/_charts.html")
def overview_charts():
    """Open design findings by severity and the drift of every instance over time."""
    return {
        "severity_chart": selectors.severity_totals(),
        "drift_chart": selectors.drift_history(),
        "severity_source": "overview-severity",
        "drift_source": "overview-drift",
        "severity_kind": "severity-doughnut",
        "severity_title": "Open design findings by severity",
        "drift_title": "Drift over time, all instances",
    }


@register.inclusion_tag("overview/_charts.html")
def compliance_charts():
    """Findings by severity per team, and the drift of the instances hosting namespaces."""
    return {
        "severity_chart": selectors.severity_by_team(),
        "drift_chart": selectors.drift_history(hosting_namespaces=True),
        "severity_source": "compliance-severity",
        "drift_source": "compliance-drift",
        "severity_kind": "severity-by-team",
        "severity_title": "Unwaived findings per team, by severity",
        "drift_title": "Drift over time, instances hosting namespaces",
        "wrapper_id": "compliance-charts",
    }


@register.inclusion_tag("overview/_review_notices.html", takes_context=True)
def review_notices(context):
    """ "Changes requested on your review" for a team member, revisions to decide for a reviewer."""
    user = getattr(context.get("request"), "user", None)
    if user is None:
        return {"changes_requested": [], "waiting": []}
    return selectors.review_notices(user)
