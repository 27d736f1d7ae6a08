from django.contrib import admin

from advisor.audit.services import audit_change, audit_delete

from . import hooks, writes
from .models import Instance, Namespace, Policy, Team, Waiver
from .services import row_kind, row_label, row_record


class _FollowedAdmin(admin.ModelAdmin):
    """The stored findings follow every change made here once the admin's transaction commits,
    as after the write services (the pages never recompute them)."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        hooks.registry_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        hooks.registry_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        hooks.registry_changed()


class _AuditedAdmin(_FollowedAdmin):
    """Records admin changes to registry rows in the audit trail (team membership lives only in
    the admin), inside the transaction the admin saves them in."""

    def save_model(self, request, obj, form, change):
        # The row is read again because the form has already written its values onto `obj`.
        current = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._audit_before = row_record(current) if current is not None else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        row = form.instance
        audit_change(
            actor=request.user,
            obj_type=row_kind(row),
            obj_name=row_label(row),
            before=getattr(request, "_audit_before", None),
            after=row_record(row),
        )

    def delete_model(self, request, obj):
        _audit_delete(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            _audit_delete(request, obj)
        super().delete_queryset(request, queryset)


def _audit_delete(request, row) -> None:
    audit_delete(actor=request.user, obj_type=row_kind(row), obj_name=row_label(row), before=row_record(row))


@admin.register(Team)
class TeamAdmin(_AuditedAdmin):
    list_display = ["name", "contact"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


@admin.register(Instance)
class InstanceAdmin(_AuditedAdmin):
    list_display = ["name", "environment", "product", "tier", "sku", "memory_gb", "eviction_policy"]
    list_filter = ["environment", "product", "tier", "clustering"]
    search_fields = ["name", "sku"]


@admin.register(Namespace)
class NamespaceAdmin(_AuditedAdmin):
    list_display = ["name", "team", "instance", "pattern", "classification", "ttl_mode"]
    list_filter = ["classification", "ttl_mode", "team", "instance"]
    search_fields = ["name", "pattern"]
    filter_horizontal = ["multi_key_with"]


@admin.register(Waiver)
class WaiverAdmin(admin.ModelAdmin):
    """Waivers saved and deleted through the write services, as on the waiver pages."""

    list_display = ["rule", "target", "expires", "approved_by"]
    search_fields = ["rule", "target"]

    def save_model(self, request, obj, form, change):
        saved = writes.waiver_save(
            waiver=obj if change else None,
            rule=obj.rule,
            target=obj.target,
            reason=obj.reason,
            expires=obj.expires,
            approved_by=obj.approved_by,
            created_by=obj.created_by,
            actor=request.user,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        writes.waiver_delete(waiver=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for waiver in queryset:
            writes.waiver_delete(waiver=waiver, actor=request.user)


@admin.register(Policy)
class PolicyAdmin(_FollowedAdmin):
    pass
