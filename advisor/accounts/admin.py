from django.contrib import admin

from .models import ApiToken, OidcGroupMapping, OidcIdentity


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "lookup", "created_at", "expires_at", "last_used_at"]
    # An administrator revokes (deletes) a token; its lifetime is its owner's choice within the maximum.
    readonly_fields = ["lookup", "digest", "created_at", "expires_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are issued by their owners on the API tokens page, shown to them once


@admin.register(OidcGroupMapping)
class OidcGroupMappingAdmin(admin.ModelAdmin):
    """Groups of the identity provider and the role or team each gives, re-applied at each sign-in
    together with ADVISOR_OIDC_GROUP_MAP (advisor/accounts/oidc_rights.py)."""

    list_display = ["group_id", "role", "team", "note"]
    list_filter = ["role", "team"]
    search_fields = ["group_id", "note"]


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Accounts signed in with single sign-on. Add a row to link an existing account to its
    provider's user (issuer and object id) before that user's first sign-in."""

    list_display = ["user", "subject", "issuer", "last_sign_in"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["granted", "groups", "created_at", "last_sign_in"]
    raw_id_fields = ["user"]
