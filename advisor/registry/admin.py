from django.contrib import admin

from .models import Instance, Namespace, Policy, Team, Waiver


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "contact"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "product", "tier", "sku", "memory_gb", "eviction_policy"]
    list_filter = ["environment", "product", "tier", "clustering"]
    search_fields = ["name", "sku"]


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "instance", "pattern", "classification", "ttl_mode"]
    list_filter = ["classification", "ttl_mode", "team", "instance"]
    search_fields = ["name", "pattern"]
    filter_horizontal = ["multi_key_with"]


@admin.register(Waiver)
class WaiverAdmin(admin.ModelAdmin):
    list_display = ["rule", "target", "expires", "approved_by"]
    search_fields = ["rule", "target"]


admin.site.register(Policy)
