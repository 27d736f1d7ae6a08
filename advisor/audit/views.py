import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .models import AuditEvent

FILTERS = ("actor", "obj_type", "action", "obj_name", "since", "until")


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _filtered(params) -> tuple:
    qs = AuditEvent.objects.all()
    values = {k: params.get(k, "").strip() for k in FILTERS}
    if values["actor"]:
        qs = (
            qs.filter(actor_name=values["actor"]) if values["actor"] != "system" else qs.filter(actor_name="")
        )
    if values["obj_type"]:
        qs = qs.filter(obj_type=values["obj_type"])
    if values["action"]:
        qs = qs.filter(action=values["action"])
    if values["obj_name"]:
        qs = qs.filter(obj_name__icontains=values["obj_name"])
    tz = timezone.get_current_timezone()
    if since := _date(values["since"]):
        qs = qs.filter(at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=tz))
    if until := _date(values["until"]):
        qs = qs.filter(at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return qs, values


@login_required
@require_GET
def audit_list(request):
    qs, values = _filtered(request.GET)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": values,
        "querystring": query.urlencode(),
        "actors": AuditEvent.objects.order_by("actor_name").values_list("actor_name", flat=True).distinct(),
        "obj_types": AuditEvent.objects.order_by("obj_type").values_list("obj_type", flat=True).distinct(),
        "actions": AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct(),
    }
    template = "audit/audit_list.html#results" if request.htmx else "audit/audit_list.html"
    return render(request, template, context)
