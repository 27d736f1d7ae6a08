from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from advisor.core.sizing import namespace_sizing
from advisor.registry import permissions
from advisor.registry.models import Instance
from advisor.registry.services import namespace_to_core

from . import schedules, services
from .models import ScanRun

HISTORY_POINTS = 30


def _namespace_rows(report: dict, instance: Instance) -> list[dict]:
    # namespace_to_core reads multi_key_with: prefetch it, or every row costs a query.
    namespaces = instance.namespaces.select_related("team", "instance").prefetch_related("multi_key_with")
    designs = {ns.name: ns for ns in namespaces}
    memory_refused = any(u.get("command") == "MEMORY USAGE" for u in report.get("unreadable_facts") or [])
    rows = []
    for ns in report.get("namespaces", []):
        design = designs.get(ns["name"])
        keys = ns.get("keys", 0)
        ttl = ns.get("ttl_seconds") or {}
        limit = None
        if design and design.ttl_mode != "none" and design.ttl_seconds:
            limit = design.ttl_seconds + design.ttl_jitter_seconds
        # per-field: the hash fields expire, the keys carry no TTL by design (DRF002)
        per_field = bool(design and design.ttl_mode == "per-field")
        rows.append(
            {
                "name": ns["name"],
                "keys": keys,
                "cardinality": design.cardinality if design else None,
                "without_ttl": ns.get("without_ttl", 0),
                "without_ttl_share": (ns.get("without_ttl", 0) / keys) if keys else 0,
                "designed_ttl": limit,
                "per_field": per_field,
                "ttl_p50": ttl.get("p50"),
                "ttl_max": ttl.get("max"),
                "ttl_over": bool(limit and ttl.get("max") and ttl["max"] > limit + 1),
                "memory_bytes": None
                if memory_refused and not ns.get("memory_sampled_keys")
                else ns.get("memory_bytes"),
                "memory_estimated": ns.get("memory_estimated"),
                # What the design's sizing model predicts, for the keys actually present.
                "memory_designed": (
                    namespace_sizing(namespace_to_core(design)).per_key_bytes * keys if design else None
                ),
                "types": sorted((ns.get("types") or {}).items(), key=lambda kv: -kv[1]),
                "data_type": design.data_type if design else None,
            }
        )
    return rows


def _history(instance: Instance) -> dict:
    runs = list(
        ScanRun.objects.filter(instance=instance, status=ScanRun.Status.COMPLETED)
        .order_by("-created_at")
        .values(
            "pk", "created_at", "keys_scanned", "memory_bytes", "findings_total", "findings_high", "coverage"
        )[:HISTORY_POINTS]
    )
    runs.reverse()
    return {
        "labels": [r["created_at"].strftime("%Y-%m-%d %H:%M") for r in runs],
        "keys": [r["keys_scanned"] for r in runs],
        "memory_mb": [round((r["memory_bytes"] or 0) / 2**20, 1) for r in runs],
        "findings": [r["findings_total"] for r in runs],
        "findings_high": [r["findings_high"] for r in runs],
        "coverage": [round(100 * (r["coverage"] or 0), 1) for r in runs],
    }


@login_required
def scan_dashboard(request, name):
    instance = get_object_or_404(Instance, name=name)
    runs = ScanRun.objects.filter(instance=instance).select_related("requested_by")
    active = runs.filter(status__in=ScanRun.ACTIVE).first()
    last = runs.filter(status=ScanRun.Status.COMPLETED).first()
    # A failed or cancelled run newer than the last completed one is what the team must see first.
    last_finished = runs.filter(status__in=ScanRun.FINISHED).first()
    unsuccessful = (
        last_finished if last_finished and last_finished.status != ScanRun.Status.COMPLETED else None
    )
    report = (last.report if last else None) or {}
    schedule = schedules.schedule_get(instance)
    context = {
        "instance": instance,
        "active": active,
        "last": last,
        "unsuccessful": unsuccessful,
        "report": report,
        "rows": _namespace_rows(report, instance) if last else [],
        "findings": report.get("findings", []),
        "unmatched": report.get("unmatched") or {},
        "history": _history(instance),
        "recent": runs[:10],
        "schedule": schedule,
        "schedule_cron": schedules.schedule_cron(schedule) or "",
        "default_cron": settings.ADVISOR_SCAN_DEFAULT_CRON,
        "can_scan": permissions.can_scan(request.user, instance),
        "can_cancel": active is not None and permissions.can_cancel_scan(request.user, active),
        "can_schedule": permissions.can_schedule_scans(request.user),
    }
    return render(request, "scans/dashboard.html", context)


@login_required
def scan_detail(request, pk):
    run = get_object_or_404(ScanRun.objects.select_related("instance"), pk=pk)
    report = run.report or {}
    return render(
        request,
        "scans/detail.html",
        {
            "run": run,
            "instance": run.instance,
            "report": report,
            "rows": _namespace_rows(report, run.instance),
            "findings": report.get("findings", []),
            "unmatched": report.get("unmatched") or {},
        },
    )


@login_required
def scan_progress(request, pk):
    """Polled by htmx while a scan runs; the fragment stops polling once the run has finished."""
    run = get_object_or_404(ScanRun, pk=pk)
    context = {
        "active": run,
        "instance": run.instance,
        "can_cancel": permissions.can_cancel_scan(request.user, run),
    }
    response = render(request, "scans/dashboard.html#progress", context)
    if run.is_finished and request.htmx:
        response["HX-Refresh"] = "true"  # show the new report
    return response


@login_required
@require_POST
def scan_start(request, name):
    instance = get_object_or_404(Instance, name=name)
    if not permissions.can_scan(request.user, instance):
        raise PermissionDenied("Only administrators and teams with namespaces on this instance start scans.")
    try:
        services.scan_run_request(instance=instance, user=request.user)
    except services.ScanRefused as e:
        messages.warning(request, str(e))
    except services.ScanQueueDown as e:
        messages.error(request, str(e))  # the run is failed, not left queued: a later start may go
    else:
        messages.success(request, f"Scan of {instance.name} queued.")
    return redirect("scan_dashboard", name=instance.name)


@login_required
@require_POST
def scan_cancel(request, pk):
    run = get_object_or_404(ScanRun.objects.select_related("instance"), pk=pk)
    if not permissions.can_cancel_scan(request.user, run):
        raise PermissionDenied("Only administrators and whoever started a scan cancel it.")
    services.scan_run_cancel(run=run)
    messages.info(
        request, "Cancellation requested." if run.status == ScanRun.Status.RUNNING else "Scan cancelled."
    )
    return redirect("scan_dashboard", name=run.instance.name)


@login_required
@require_POST
def scan_schedule(request, name):
    instance = get_object_or_404(Instance, name=name)
    if not permissions.can_schedule_scans(request.user):
        raise PermissionDenied("Only administrators change scan schedules.")
    cron = request.POST.get("cron", "").strip()
    enabled = request.POST.get("enabled") == "on"
    try:
        schedules.schedule_set(instance, cron=cron, enabled=enabled)
    except ValueError as e:
        messages.error(request, f"Schedule not saved: {e}")
    else:
        messages.success(request, f"Schedule saved: {cron}{'' if enabled else ' (paused)'}.")
    return redirect("scan_dashboard", name=instance.name)
