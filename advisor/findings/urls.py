from django.urls import path

from . import views

urlpatterns = [
    path("findings/", views.finding_list, name="finding_list"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/<str:rule_id>/", views.rule_detail, name="rule_detail"),
    path("waivers/", views.waiver_list, name="waiver_list"),
    path("waivers/new/", views.waiver_create, name="waiver_create"),
    path("waivers/<int:pk>/delete/", views.waiver_delete, name="waiver_delete"),
    path("platform/", views.platform_catalog, name="platform_catalog"),
    path("migration/", views.migration_list, name="migration_list"),
    path("migration/<slug:name>/", views.migration_detail, name="migration_detail"),
    path("migration/<slug:name>/plan.md", views.migration_markdown, name="migration_markdown"),
]
