"""The instance import page: a Terraform plan or state uploaded, previewed field by field (a dry
run), then confirmed. Administrators only. The upload obeys ADVISOR_MAX_DESIGN_BYTES like a design
file (advisor.registry.uploads); the file itself is never kept (a plan carries access keys): the
preview keeps only what was read from it, in the session, until it is confirmed.
"""

from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from pydantic import ValidationError

from advisor import limits
from advisor.core.declared import DeclaredError, Reading, read_terraform
from advisor.core.design import ENVIRONMENTS

from . import permissions, writes
from .declared import plan_import

SESSION_KEY = "declared_import"


class TerraformUploadForm(forms.Form):
    file = forms.FileField(label="terraform show -json output (plan or state)")
    environment = forms.ChoiceField(
        choices=[("", "— from the environment tag —"), *((e, e) for e in ENVIRONMENTS)],
        required=False,
        help_text="For new instances whose resource has no environment tag.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def instance_import(request):
    if not permissions.can_edit_instances(request.user):
        raise PermissionDenied("Only administrators import instances.")
    limit = settings.ADVISOR_MAX_DESIGN_BYTES
    context = {"max_size": limits.human_bytes(limit), "form": TerraformUploadForm()}
    status = 200
    if request.method == "POST" and request.POST.get("action") == "confirm":
        return _confirm(request, context)
    if request.method == "POST":
        form = TerraformUploadForm(request.POST, request.FILES)
        context["form"] = form
        cut_off = getattr(request, "upload_too_large", None)  # advisor.registry.uploads
        if cut_off:
            context["error"] = _too_large(cut_off[0], limit)
            status = 413
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                reading = read_terraform(limits.read_design_bytes(upload, upload.name, limit))
            except limits.DesignTooLarge:
                context["error"] = _too_large(upload.name, limit)
                status = 413
            except DeclaredError as exc:
                context["error"] = f"{upload.name}: {exc}. Nothing imported."
                status = 400
            else:
                environment = form.cleaned_data["environment"] or None
                context.update(_preview(request, reading, upload.name, environment))
    return render(request, "registry/instance_import.html", context, status=status)


def _preview(request, reading: Reading, filename: str, environment: str | None) -> dict:
    """The dry run, kept in the session (what was read, never the file) until confirmed."""
    plan = plan_import(reading, environment=environment)
    token = secrets.token_urlsafe(16)
    request.session[SESSION_KEY] = {
        "token": token,
        "reading": reading.model_dump(mode="json"),
        "environment": environment,
        "filename": filename,
        "digest": plan.digest(),
    }
    return {"plan": plan, "filename": filename, "token": token, "counts": plan.counts()}


def _confirm(request, context: dict):
    pending = request.session.get(SESSION_KEY)
    if not pending or not secrets.compare_digest(
        str(pending.get("token", "")), request.POST.get("token", "")
    ):
        messages.error(
            request,
            "Nothing to confirm (the preview has expired or was confirmed already): upload the file again.",
        )
        return redirect("instance_import")
    try:
        reading = Reading.model_validate(pending["reading"])
    except ValidationError:
        request.session.pop(SESSION_KEY, None)
        messages.error(request, "The preview could not be read back: upload the file again.")
        return redirect("instance_import")
    filename, environment = pending["filename"], pending["environment"]
    try:
        plan = writes.declared_import(
            reading=reading, actor=request.user, environment=environment, expected=pending["digest"]
        )
    except writes.Conflict as exc:
        context.update(_preview(request, reading, filename, environment))
        context["error"] = f"Nothing imported: {exc}."
        return render(request, "registry/instance_import.html", context, status=409)
    except writes.Invalid as exc:
        request.session.pop(SESSION_KEY, None)
        context["error"] = f"{filename}: nothing imported: {exc}"
        return render(request, "registry/instance_import.html", context, status=400)
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"Imported {filename}: {plan.summary()}.")
    if plan.followed is False:
        messages.warning(
            request, "The findings could not be recomputed (see the log); they follow the next change."
        )
    return redirect("instance_import")


def _too_large(name: str, limit: int) -> str:
    return (
        f"{name}: files are limited to {limits.human_bytes(limit)} ({limit:,} bytes, "
        f"{limits.MAX_DESIGN_BYTES_ENV}); this one is larger. Raise the limit, or plan the Redis part "
        "alone (terraform plan -target). Nothing imported."
    )
