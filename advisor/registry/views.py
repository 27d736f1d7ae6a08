"""The registry's pages: instances, namespaces, teams and design files.

The findings and scans parts of the instance and namespace pages come from those apps' template
tags (findings_tags, scans_tags), and what the namespace form learns from the last scans comes
through `hooks`: the registry imports neither app, since both read the registry.
"""

import random

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from advisor import limits
from advisor.core import platform
from advisor.core.design import DesignError, load_design
from advisor.core.patterns import parse_pattern

from . import hooks, permissions, services, writes
from .declared import managed_notice, overwrite_warning
from .forms import DesignUploadForm, InstanceForm, NamespaceForm, pattern_problem
from .models import Instance, Namespace, Policy, Team

# Instances -----------------------------------------------------------------------------------


@login_required
def instance_list(request):
    instances = Instance.objects.annotate(ns_count=Count("namespaces")).order_by("name")
    page = Paginator(instances, 50).get_page(request.GET.get("page"))
    template = "registry/instance_list.html#results" if request.htmx else "registry/instance_list.html"
    return render(
        request,
        template,
        {
            "page": page,
            "instances": page.object_list,
            "querystring": "",
            "can_edit": permissions.can_edit_instances(request.user),
        },
    )


def _reserved_share() -> float:
    """The sizing model's reserve: the policy's INS007.reserved_share, else the catalog's default."""
    policy = Policy.objects.filter(pk=1).first()
    value = (policy.thresholds or {}).get("INS007.reserved_share") if policy else None
    return float(value) if isinstance(value, int | float) else platform.RESERVED_SHARE


@login_required
def instance_detail(request, name):
    instance = get_object_or_404(Instance, name=name)
    namespaces = instance.namespaces.select_related("team").order_by("name")
    return render(
        request,
        "registry/instance_detail.html",
        {
            "instance": instance,
            "catalog": instance.catalog_facts(reserved_share=_reserved_share()),
            "namespaces": namespaces,
            "can_edit": permissions.can_edit_instances(request.user),
            "retires": platform.retirement_date(instance.product, instance.tier),
            "managed": managed_notice(instance),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def instance_edit(request, name=None):
    if not permissions.can_edit_instances(request.user):
        raise PermissionDenied("Only administrators create or edit instances.")
    instance = get_object_or_404(Instance, name=name) if name else None
    form = InstanceForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            saved = writes.instance_save(instance=instance, data=form.entry, actor=request.user)
        except writes.Invalid as exc:
            form.add_entry_errors(exc.errors)
        except writes.Conflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Instance {saved.name} saved.")
            # An import would set back what it declares: say so now, not at the next import.
            warning = overwrite_warning(saved)
            if warning:
                messages.warning(request, warning)
            return redirect(saved)
    context = {"form": form, "instance": instance, "managed": managed_notice(instance) if instance else None}
    return render(request, "registry/instance_form.html", context)


@login_required
def instance_sku_fields(request):
    """The SKU picker and memory field for the product, tier and sku being chosen (htmx)."""
    if not permissions.can_edit_instances(request.user):
        raise PermissionDenied("Only administrators create or edit instances.")
    form = InstanceForm.for_sku_change(request.GET)
    return render(request, "registry/instance_form.html#sku-fields", {"form": form})


# Namespaces ----------------------------------------------------------------------------------


@login_required
def namespace_list(request):
    qs = Namespace.objects.select_related("team", "instance").order_by("name")
    team, inst, cls, q = (request.GET.get(k, "") for k in ("team", "instance", "classification", "q"))
    if team:
        qs = qs.filter(team__name=team)
    if inst:
        qs = qs.filter(instance__name=inst)
    if cls:
        qs = qs.filter(classification=cls)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(pattern__icontains=q) | Q(description__icontains=q))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": {"team": team, "instance": inst, "classification": cls, "q": q},
        "querystring": query.urlencode(),
        "teams": Team.objects.order_by("name"),
        "instances": Instance.objects.order_by("name"),
        "classifications": Namespace._meta.get_field("classification").choices,
        "can_create": permissions.editable_teams(request.user).exists(),
    }
    template = "registry/namespace_list.html#results" if request.htmx else "registry/namespace_list.html"
    return render(request, template, context)


@login_required
def namespace_detail(request, name):
    ns = get_object_or_404(Namespace.objects.select_related("team", "instance"), name=name)
    can_edit = permissions.can_edit_namespace(request.user, ns)
    return render(
        request,
        "registry/namespace_detail.html",
        {
            "ns": ns,
            "hexpire_url": platform.REDIS_HEXPIRE,
            "can_edit": can_edit,
            "can_delete": can_edit,
        },
    )


_PREFILL = ("pattern", "instance", "data_type", "team", "name", "cardinality", "classification")


def _scan_draft_initial(request) -> dict:
    """The form's initial values from the `draft` of an unregistered family of a scan report,
    referenced as ?scan=<run id>&family=<index>, so that key examples never travel in URLs.
    An unknown run or index prefills nothing (with a message saying so)."""
    try:
        found = hooks.scan_draft(run_id=int(request.GET["scan"]), index=int(request.GET.get("family", "")))
    except (TypeError, ValueError):
        found = None
    if found is None:
        messages.warning(request, "That scan's draft is no longer available: the form starts empty.")
        return {}
    instance_id, draft = found
    initial = {
        k: draft[k] for k in ("name", "pattern", "classification", "data_type", "cardinality") if k in draft
    }
    initial["instance"] = instance_id
    ttl = draft.get("ttl") or {}
    if ttl.get("mode"):
        initial["ttl_mode"] = ttl["mode"]
        initial["ttl_seconds"] = ttl.get("seconds") or 0
        initial["ttl_jitter_seconds"] = ttl.get("jitter_seconds") or 0
    value_bytes = draft.get("value_bytes") or {}
    for part in ("typical", "max"):
        if part in value_bytes:
            initial[f"value_bytes_{part}"] = value_bytes[part]
    for key, field in (("data_classification", "data_classification"), ("contains", "contains")):
        if key in draft:
            initial[field] = draft[key]
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def namespace_edit(request, name=None):
    ns = get_object_or_404(Namespace, name=name) if name else None
    if ns is not None and not permissions.can_edit_namespace(request.user, ns):
        raise PermissionDenied("Only members of the owning team edit this namespace.")
    if ns is None and not permissions.editable_teams(request.user).exists():
        raise PermissionDenied("You are not a member of any team.")
    # As stored: a bound form writes the values it is given into `ns`.
    stored = (ns.name, ns.instance, ns.pattern) if ns else None
    initial = {}
    if ns is None and request.method == "GET":
        # "Register this namespace" from a scan report arrives with a prefilled draft.
        initial = {k: request.GET[k] for k in _PREFILL if request.GET.get(k)}
        if request.GET.get("scan"):
            initial = _scan_draft_initial(request)
        elif "instance" in initial:
            found = Instance.objects.filter(name=initial["instance"]).first()
            initial["instance"] = found.pk if found else None
        if "team" in initial:
            found = Team.objects.filter(name=initial["team"]).first()
            initial["team"] = found.pk if found else None
        if not initial.get("team"):
            # Someone in exactly one team registers for that team, most likely.
            teams = list(request.user.teams.values_list("pk", flat=True)[:2])
            if len(teams) == 1:
                initial["team"] = teams[0]
        initial.setdefault("ttl_mode", "absolute")
    form = NamespaceForm(request.POST or None, instance=ns, initial=initial, user=request.user)
    change = None
    if request.method == "POST":
        if stored is not None:
            name_, instance_, pattern_ = stored
            change = hooks.pattern_change(
                name=name_, instance=instance_, old=pattern_, new=request.POST.get("pattern", "")
            )
        if form.is_valid():
            # The team chosen must be one the user may edit, also when changing it.
            if not permissions.can_edit_team(request.user, form.cleaned_data["team"]):
                raise PermissionDenied("You may only assign namespaces to your own teams.")
            try:
                saved = writes.namespace_save(
                    namespace=ns, data=form.entry, team=form.cleaned_data["team"], actor=request.user
                )
            except writes.Invalid as exc:
                form.add_entry_errors(exc.errors)
            except writes.Conflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Namespace {saved.name} saved.")
                if change is not None:
                    level = messages.SUCCESS if change.level == "success" else messages.WARNING
                    messages.add_message(request, level, change.message)
                return redirect(saved)
    return render(request, "registry/namespace_form.html", {"form": form, "ns": ns, "change": change})


@login_required
@require_POST
def namespace_validate_pattern(request):
    """Inline validation while typing: re-renders the pattern field's feedback.

    A valid pattern also gets the design findings it would raise on its own (KEY003 for
    `<email:str>`, KEY001, KEY002...), from the rules themselves with the organisation's policy.
    Editing a registered namespace (?namespace=<name>), it also says what the new pattern does to
    the keys its instance's last complete scan counted for it.
    """
    from advisor.core.design import Policy as CorePolicy
    from advisor.core.engine import lint_pattern

    text = request.POST.get("pattern", "")
    problem = pattern_problem(text) if text else None
    # A key the pattern describes, so the author sees what the placeholders turn into.
    example = parse_pattern(text).example(random.Random(text)) if text and not problem else None
    warnings = []
    if text and not problem:
        row = Policy.objects.filter(pk=1).values("disable", "severity", "thresholds").first()
        warnings = lint_pattern(text, policy=CorePolicy(**row) if row else None)
    change = None
    ns = Namespace.objects.select_related("instance").filter(name=request.GET.get("namespace", "")).first()
    if ns is not None and text and not problem:
        change = hooks.pattern_change(name=ns.name, instance=ns.instance, old=ns.pattern, new=text)
    return render(
        request,
        "registry/namespace_form.html#pattern-feedback",
        {"problem": problem, "text": text, "example": example, "warnings": warnings, "change": change},
    )


# Deleting ------------------------------------------------------------------------------------


def _confirm_delete(request, row, *, kind: str, allowed: bool, refusal: str, facts: list, goes_with: list):
    """The confirmation page (GET) and the delete itself (POST) of a team, instance or namespace:
    what goes, and what stands in the way while other rows still depend on it."""
    if not allowed:
        raise PermissionDenied(refusal)
    list_url = {"team": "team_list", "instance": "instance_list", "namespace": "namespace_list"}[kind]
    status = 200
    if request.method == "POST":
        try:
            getattr(writes, f"{kind}_delete")(**{kind: row}, actor=request.user)
        except writes.Conflict:
            messages.error(
                request, f"{kind.capitalize()} {row.name} was not deleted: something still depends on it."
            )
            status = 409
        else:
            messages.success(request, f"{kind.capitalize()} {row.name} deleted.")
            return redirect(list_url)
    context = {
        "kind": kind,
        "row": row,
        "facts": facts,
        "goes_with": goes_with,
        "blockers": writes.delete_blockers(row),
        "cancel_url": row.get_absolute_url() if hasattr(row, "get_absolute_url") else reverse(list_url),
    }
    return render(request, "registry/confirm_delete.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def namespace_delete(request, name):
    ns = get_object_or_404(Namespace.objects.select_related("team", "instance"), name=name)
    return _confirm_delete(
        request,
        ns,
        kind="namespace",
        allowed=permissions.can_edit_namespace(request.user, ns),
        refusal=f"Only members of team {ns.team.name} and administrators delete its namespaces.",
        facts=[
            ("Pattern", ns.pattern),
            ("Team", ns.team.name),
            ("Instance", ns.instance.name),
            ("Cardinality", f"{ns.cardinality:,} keys"),
        ],
        goes_with=[
            "Its design findings. Its keys stay in the cache: the next scan reports them as unregistered."
        ],
    )


@login_required
@require_http_methods(["GET", "POST"])
def instance_delete(request, name):
    instance = get_object_or_404(Instance, name=name)
    runs = instance.scan_runs.count()
    return _confirm_delete(
        request,
        instance,
        kind="instance",
        allowed=permissions.can_edit_instances(request.user),
        refusal="Only administrators delete instances.",
        facts=[
            ("Environment", instance.environment),
            ("Product", instance.get_product_display() + (f" · {instance.sku}" if instance.sku else "")),
            ("Memory", f"{instance.memory_gb:g} GB"),
        ],
        goes_with=[
            *(
                [f"Its scan history: {runs:,} scan run{'s' if runs != 1 else ''} with their reports."]
                if runs
                else []
            ),
            *(["Its scan schedule."] if instance.connection_url else []),
            "Its design findings.",
        ],
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_delete(request, name):
    team = get_object_or_404(Team, name=name)
    members = team.members.count()
    return _confirm_delete(
        request,
        team,
        kind="team",
        allowed=permissions.can_manage_teams(request.user),
        refusal="Only administrators delete teams.",
        facts=[("Contact", team.contact or "—"), ("Members", f"{members:,}")],
        goes_with=[f"The membership of its {members:,} member{'s' if members != 1 else ''}."]
        if members
        else [],
    )


# Teams ---------------------------------------------------------------------------------------


@login_required
def team_list(request):
    teams = Team.objects.annotate(
        ns_count=Count("namespaces", distinct=True), member_count=Count("members", distinct=True)
    )
    page = Paginator(teams.order_by("name"), 50).get_page(request.GET.get("page"))
    template = "registry/team_list.html#results" if request.htmx else "registry/team_list.html"
    return render(
        request,
        template,
        {
            "page": page,
            "teams": page.object_list,
            "querystring": "",
            "can_delete": permissions.can_manage_teams(request.user),
        },
    )


# Design files --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def design_transfer(request):
    form = DesignUploadForm()
    errors = None
    too_large = None
    limit = settings.ADVISOR_MAX_DESIGN_BYTES
    if request.method == "POST":
        if not permissions.can_import_designs(request.user):
            raise PermissionDenied("Only administrators import design files.")
        form = DesignUploadForm(request.POST, request.FILES)
        # The upload handler cut off a file over the limit (advisor.registry.uploads).
        cut_off = getattr(request, "upload_too_large", None)
        if cut_off:
            too_large = limits.too_large_message(cut_off[0], None, limit)
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                summary = services.design_import(
                    load_design(limits.read_design_bytes(upload, upload.name, limit), filename=upload.name),
                    user=request.user,
                )
            except limits.DesignTooLarge as exc:
                too_large = str(exc)
            except DesignError as exc:
                errors = exc.errors
            else:
                messages.success(request, f"Imported {upload.name}: {summary}.")
                return redirect("design_transfer")
    return render(
        request,
        "registry/design_transfer.html",
        {
            "form": form,
            "errors": errors,
            "too_large": too_large,
            "max_size": limits.human_bytes(limit),
            "can_import": permissions.can_import_designs(request.user),
        },
        status=413 if too_large else 200,
    )


@login_required
def design_download(request):
    fmt = "json" if request.GET.get("format") == "json" else "yaml"
    body = services.design_export(fmt)
    response = HttpResponse(body, content_type="application/json" if fmt == "json" else "application/yaml")
    response["Content-Disposition"] = f'attachment; filename="redis-designs.{fmt}"'
    return response
