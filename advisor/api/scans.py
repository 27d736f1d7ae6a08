"""/api/scans: scan runs of registered instances — list, get a report, start, cancel.

Reads need any authenticated user; starting and cancelling follow advisor.registry.permissions
(administrators, and teams with a namespace on the instance).
"""

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from advisor.registry import permissions
from advisor.registry.models import Instance
from advisor.scans import services
from advisor.scans.models import ScanRun

from .schemas import Pagination, errors

router = Router(tags=["scans"])


class ScanRunOut(Schema):
    id: int
    number: int = Field(
        ..., description="the run's number among its instance's runs (#1, #2, ...), as pages show it"
    )
    instance: str = Field(..., alias="instance.name")
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    trigger: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    keys_scanned: int
    keys_total: int | None
    progress_percent: int | None
    complete: bool
    coverage: float | None = Field(None, description="share of scanned keys that matched a namespace")
    findings_total: int = Field(..., description="unwaived drift findings")
    findings_high: int = Field(..., description="unwaived drift findings at high or above")
    reason: str = Field(..., description="why a run failed or was cancelled, one line")


class ScanFilters(Schema):
    instance: str | None = None
    status: Literal["queued", "running", "completed", "failed", "cancelled"] | None = None


def _run(pk: int) -> ScanRun:
    run = ScanRun.objects.select_related("instance").filter(pk=pk).first()
    if run is None:
        raise Http404(f"no scan run {pk}")
    return run


@router.get("/scans", response={200: list[ScanRunOut], **errors(401, 422)})
@paginate(Pagination)
def scan_list(request, filters: Query[ScanFilters]):
    runs = ScanRun.objects.select_related("instance").defer("report")  # a list shows no report
    if filters.instance:
        runs = runs.filter(instance__name=filters.instance)
    if filters.status:
        runs = runs.filter(status=filters.status)
    return runs


@router.get("/scans/{pk}", response={200: ScanRunOut, **errors(401, 404, 422)})
def scan_get(request, pk: int):
    return _run(pk)


@router.get(
    "/scans/{pk}/report",
    response={200: dict[str, Any], **errors(401, 404, 409, 422)},
    description="The scan report: the scan JSON of the design-file contract, findings included.",
)
def scan_report(request, pk: int):
    run = _run(pk)
    if not run.report:
        return Status(409, {"detail": f"scan run {pk} is {run.status} and has no report"})
    return run.report


@router.post("/instances/{name}/scans", response={202: ScanRunOut, **errors(401, 403, 404, 409, 503)})
def scan_start(request, name: str, response: HttpResponse):
    """Queue a scan. 409 when one is already queued or running; 503 (with Retry-After) when the
    task queue does not take it: the run is then failed, not left queued."""
    instance = Instance.objects.filter(name=name).first()
    if instance is None:
        raise Http404(f"no instance named '{name}'")
    if not permissions.can_scan(request.auth, instance):
        raise PermissionDenied("Only administrators and teams with namespaces on this instance start scans.")
    try:
        run = services.scan_run_request(instance=instance, user=request.auth, trigger=ScanRun.Trigger.API)
    except services.ScanRefused as e:
        return Status(409, {"detail": str(e)})
    except services.ScanQueueDown as e:
        response["Retry-After"] = "60"
        return Status(503, {"detail": str(e)})
    return Status(202, run)


@router.post("/scans/{pk}/cancel", response={200: ScanRunOut, **errors(401, 403, 404, 409, 422)})
def scan_cancel(request, pk: int):
    run = _run(pk)
    if not permissions.can_cancel_scan(request.auth, run):
        raise PermissionDenied("Only administrators and whoever started a scan cancel it.")
    if run.is_finished:
        return Status(409, {"detail": f"scan run {pk} has already {run.status}"})
    services.scan_run_cancel(run=run)
    return run
