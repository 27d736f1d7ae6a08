from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from advisor.accounts import signin
from advisor.accounts import views as accounts
from advisor.api import api
from advisor.metrics import views as metrics
from advisor.overview import views as overview
from advisor.registry import views as registry
from advisor.registry import views_declared
from advisor.scans import views as scans

handler400 = "advisor.views_errors.bad_request"
handler403 = "advisor.views_errors.permission_denied"
handler404 = "advisor.views_errors.page_not_found"
handler500 = "advisor.views_errors.server_error"

urlpatterns = [
    path("", overview.home, name="home"),
    path("login/", signin.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Single sign-on (advisor/accounts/signin.py): 404 while ADVISOR_OIDC_* is not set.
    path("oidc/authenticate/", signin.AuthenticateView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", signin.CallbackView.as_view(), name="oidc_authentication_callback"),
    path("instances/", registry.instance_list, name="instance_list"),
    path("instances/new/", registry.instance_edit, name="instance_create"),
    path("instances/new/sku-fields/", registry.instance_sku_fields, name="instance_sku_fields"),
    path("instances/import/terraform/", views_declared.instance_import, name="instance_import"),
    path("instances/<slug:name>/", registry.instance_detail, name="instance_detail"),
    path("instances/<slug:name>/edit/", registry.instance_edit, name="instance_edit"),
    path("instances/<slug:name>/delete/", registry.instance_delete, name="instance_delete"),
    path("namespaces/", registry.namespace_list, name="namespace_list"),
    path("namespaces/new/", registry.namespace_edit, name="namespace_create"),
    path(
        "namespaces/validate-pattern/", registry.namespace_validate_pattern, name="namespace_validate_pattern"
    ),
    path("namespaces/<slug:name>/", registry.namespace_detail, name="namespace_detail"),
    path("namespaces/<slug:name>/edit/", registry.namespace_edit, name="namespace_edit"),
    path("namespaces/<slug:name>/delete/", registry.namespace_delete, name="namespace_delete"),
    path("instances/<slug:name>/scans/", scans.scan_dashboard, name="scan_dashboard"),
    path("instances/<slug:name>/scans/start/", scans.scan_start, name="scan_start"),
    path("instances/<slug:name>/scans/schedule/", scans.scan_schedule, name="scan_schedule"),
    path("scans/<int:pk>/", scans.scan_detail, name="scan_detail"),
    path("scans/<int:pk>/progress/", scans.scan_progress, name="scan_progress"),
    path("scans/<int:pk>/cancel/", scans.scan_cancel, name="scan_cancel"),
    path("teams/", registry.team_list, name="team_list"),
    path("teams/<slug:name>/delete/", registry.team_delete, name="team_delete"),
    path("designs/", registry.design_transfer, name="design_transfer"),
    path("designs/download/", registry.design_download, name="design_download"),
    path("account/tokens/", accounts.token_list, name="token_list"),
    path("account/tokens/<int:pk>/revoke/", accounts.token_revoke, name="token_revoke"),
    path("", include("advisor.reviews.urls")),
    path("", include("advisor.audit.urls")),
    path("", include("advisor.findings.urls")),
    path("", include("advisor.notifications.urls")),
    path("api/", api.urls),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]
