from django.contrib import admin

from .models import AuditEvent
from .services import audit_change, audit_delete, object_data


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is evidence, so nobody adds, edits or deletes events here."""

    list_display = ["at", "actor_name", "action", "obj_type", "obj_name"]
    list_filter = ["action", "obj_type"]
    search_fields = ["actor_name", "obj_name"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdminMixin:
    """Records admin changes to registry objects (team membership lives only in the admin)."""

    def save_model(self, request, obj, form, change):
        # The row is read again because the form has already written its values onto `obj`.
        current = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._audit_before = object_data(current) if current is not None else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        audit_change(actor=request.user, before=getattr(request, "_audit_before", None), obj=form.instance)

    def delete_model(self, request, obj):
        audit_delete(actor=request.user, obj=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_delete(actor=request.user, obj=obj)
        super().delete_queryset(request, queryset)


def _audit_registry_admins() -> None:
    # The registry registers its ModelAdmins first (INSTALLED_APPS order); we wrap them here so the
    # registry's admin stays about presentation and the audit concern stays in this app.
    from advisor.registry.models import Instance, Namespace, Team, Waiver

    for model in (Team, Instance, Namespace, Waiver):
        current = admin.site._registry.get(model)
        if current is None or isinstance(current, AuditedAdminMixin):
            continue
        audited = type(f"Audited{type(current).__name__}", (AuditedAdminMixin, type(current)), {})
        admin.site.unregister(model)
        admin.site.register(model, audited)


_audit_registry_admins()
