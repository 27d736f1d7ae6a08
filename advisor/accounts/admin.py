from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "lookup", "created_at", "expires_at", "last_used_at"]
    # An administrator revokes (deletes) a token; its lifetime is its owner's choice within the maximum.
    readonly_fields = ["lookup", "digest", "created_at", "expires_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are issued by their owners on the API tokens page, shown to them once
