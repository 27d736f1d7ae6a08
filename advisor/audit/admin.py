from django.contrib import admin

from .models import AuditEvent


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
