from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from advisor.core import migration, platform
from advisor.core.findings import SEVERITIES_HIGH_FIRST
from advisor.core.rules.docs import rule_catalog, rule_doc
from advisor.registry import permissions, writes
from advisor.registry.models import Instance, Policy, Team, Waiver
from advisor.registry.services import instance_to_core

from . import clock, planning, selectors, services
from .forms import WaiverForm
from .markup import render_markdown
from .models import DesignFinding, FindingsRun

# Findings ------------------------------------------------------------------------------------

_FILTERS = ("severity", "rule", "team", "instance")


@login_required
def finding_list(request):
    run = FindingsRun.objects.filter(pk=1).first()
    filters = {k: request.GET.get(k, "").strip() for k in _FILTERS}
    show_waived = request.GET.get("waived") == "1"
    qs = DesignFinding.objects.select_related("team", "instance")
    if filters["rule"]:
        qs = qs.filter(rule=filters["rule"].upper())
    if filters["team"]:
        qs = qs.filter(team__name=filters["team"])
    if filters["instance"]:
        qs = qs.filter(instance__name=filters["instance"])
    # The counts ignore the severity filter, so they double as the way to switch severity.
    counts = services.severity_counts(qs)
    waived_count = qs.filter(waived=True).count()
    if filters["severity"]:
        qs = qs.filter(severity=filters["severity"])
    if not show_waived:
        qs = qs.filter(waived=False)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "show_waived": show_waived,
        "counts": counts,
        "waived_count": waived_count,
        "querystring": query.urlencode(),
        "run": run,
        "age": selectors.findings_age(),
        "severities": [s.value for s in SEVERITIES_HIGH_FIRST],
        "rules": DesignFinding.objects.order_by("rule").values_list("rule", flat=True).distinct(),
        "teams": Team.objects.order_by("name").values_list("name", flat=True),
        "instances": Instance.objects.order_by("name").values_list("name", flat=True),
        "can_manage_waivers": permissions.can_manage_waivers(request.user),
    }
    template = "findings/finding_list.html#results" if request.htmx else "findings/finding_list.html"
    return render(request, template, context)


# Rule reference ------------------------------------------------------------------------------


def _policy():
    return Policy.objects.filter(pk=1).first() or Policy()


@login_required
def rule_list(request):
    open_counts = dict(
        DesignFinding.objects.filter(waived=False).values_list("rule").annotate(n=Count("id")).order_by()
    )
    policy = _policy()
    rules = [
        {
            **info,
            "open": open_counts.get(info["id"], 0),
            "disabled": info["id"] in (policy.disable or []),
            "severity_override": (policy.severity or {}).get(info["id"]),
            "threshold_overrides": {
                k: v for k, v in (policy.thresholds or {}).items() if k in info["thresholds"]
            },
        }
        for info in rule_catalog()
    ]
    groups = [
        {"id": key, "title": items[0]["group_title"], "rules": items}
        for key, items in ((k, list(g)) for k, g in groupby(rules, key=lambda r: r["group"]))
    ]
    return render(request, "findings/rule_list.html", {"groups": groups})


@login_required
def rule_detail(request, rule_id):
    if rule_id != rule_id.upper():
        return redirect("rule_detail", rule_id=rule_id.upper())
    try:
        info = rule_doc(rule_id)
    except KeyError:
        raise Http404(f"No rule {rule_id}") from None
    policy = _policy()
    context = {
        "rule": info,
        "documentation": render_markdown(info["documentation"]),
        "disabled": rule_id in (policy.disable or []),
        "severity_override": (policy.severity or {}).get(rule_id),
        "thresholds": [
            {"name": name, "default": default, "value": (policy.thresholds or {}).get(name, default)}
            for name, default in info["thresholds"].items()
        ],
        "open_count": DesignFinding.objects.filter(rule=rule_id, waived=False).count(),
        "waived_count": DesignFinding.objects.filter(rule=rule_id, waived=True).count(),
    }
    return render(request, "findings/rule_detail.html", context)


# Waivers -------------------------------------------------------------------------------------


@login_required
def waiver_list(request):
    today = clock.today()
    waivers = Waiver.objects.select_related("created_by").order_by("expires", "rule", "target")
    # Each list pages on its own: ?page= the active waivers, ?expired_page= the expired ones.
    active = Paginator(waivers.filter(expires__gte=today), 50).get_page(request.GET.get("page"))
    expired = Paginator(waivers.filter(expires__lt=today), 50).get_page(request.GET.get("expired_page"))
    return render(
        request,
        "findings/waiver_list.html",
        {
            "active": active,
            "expired": expired,
            "today": today,
            "can_manage_waivers": permissions.can_manage_waivers(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def waiver_create(request):
    if not permissions.can_manage_waivers(request.user):
        raise PermissionDenied("Only administrators and reviewers grant waivers.")
    source = request.POST if request.method == "POST" else request.GET
    # A second waiver for the same rule and target renews the first (one per pair, as in design files).
    existing = Waiver.objects.filter(
        rule=source.get("rule", "").strip().upper(), target=source.get("target", "").strip()
    ).first()
    next_url = _safe_next(request, source.get("next"))
    if request.method == "POST":
        form = WaiverForm(request.POST, instance=existing)
        if form.is_valid() and not permissions.can_grant_waiver(request.user, form.cleaned_data["target"]):
            raise PermissionDenied("Nobody waives findings of their own team's namespaces.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                waiver = writes.waiver_save(
                    waiver=existing,
                    rule=data["rule"],
                    target=data["target"],
                    reason=data["reason"],
                    expires=data["expires"],
                    approved_by=request.user.get_username(),
                    created_by=request.user,
                    actor=request.user,
                )
            except writes.Conflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"{'Renewed' if existing else 'Granted'} the waiver of {waiver.rule} on {waiver.target}.",
                )
                return redirect(next_url or "waiver_list")
    else:
        initial = {"rule": source.get("rule", ""), "target": source.get("target", "")}
        form = WaiverForm(instance=existing, initial=initial if existing is None else None)
    return render(
        request, "findings/waiver_form.html", {"form": form, "existing": existing, "next": next_url}
    )


@login_required
@require_POST
def waiver_delete(request, pk):
    if not permissions.can_manage_waivers(request.user):
        raise PermissionDenied("Only administrators and reviewers revoke waivers.")
    waiver = get_object_or_404(Waiver, pk=pk)
    writes.waiver_delete(waiver=waiver, actor=request.user)
    messages.success(request, f"Revoked the waiver of {waiver.rule} on {waiver.target}.")
    return redirect("waiver_list")


def _safe_next(request, url):
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


# Migration planner ---------------------------------------------------------------------------


@login_required
def migration_list(request):
    today = clock.today()
    instances = {i.name: i for i in Instance.objects.annotate(ns_count=Count("namespaces"))}
    retiring = migration.retiring_instances([instance_to_core(i) for i in instances.values()], today=today)
    rows = [{"plan": r, "instance": instances[r.name]} for r in retiring]
    return render(request, "findings/migration_list.html", {"rows": rows, "today": today})


def _migration_plan_or_404(name):
    instance = get_object_or_404(Instance, name=name)
    try:
        return instance, planning.instance_migration_plan(instance, today=clock.today())
    except migration.NothingToMigrate as e:
        raise Http404(str(e)) from None


@login_required
def migration_detail(request, name):
    instance, plan = _migration_plan_or_404(name)
    return render(
        request,
        "findings/migration_detail.html",
        {
            "instance": instance,
            "plan": plan,
            "today": plan.today,
            "findings_url": reverse("finding_list") + f"?instance={instance.name}",
        },
    )


@login_required
def migration_markdown(request, name):
    instance, plan = _migration_plan_or_404(name)
    response = HttpResponse(plan.to_markdown(), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="migration-plan-{instance.name}.md"'
    return response


# Platform catalog ----------------------------------------------------------------------------


@login_required
def platform_catalog(request):
    tiers = platform.catalog()
    products = [
        {"label": label, "tiers": [t for t in tiers if t["product"] == product]}
        for product, label in platform.PRODUCT_LABELS.items()
        if any(t["product"] == product for t in tiers)
    ]
    context = {
        "products": products,
        "reserved_percent": round(platform.RESERVED_SHARE * 100),
        "enterprise_commands": platform.ENTERPRISE_CROSS_SLOT_COMMANDS,
        "active_geo_commands": platform.ACTIVE_GEO_CROSS_SLOT_COMMANDS,
        "sources": {
            "reserve_amr": platform.AMR_ARCHITECTURE,
            "reserve_acr": platform.ACR_MEMORY,
            "cross_slot": platform.AMR_ARCHITECTURE,
        },
    }
    return render(request, "findings/platform.html", context)
