from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "lookup", "created_at", "last_used_at"]
    readonly_fields = ["lookup", "digest", "created_at", "last_used_at"]
