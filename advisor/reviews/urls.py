from django.urls import path

from . import views

urlpatterns = [
    path("teams/<slug:team>/review/", views.team_review, name="team_review"),
    path("reviews/", views.review_list, name="review_list"),
    path("reviews/<int:pk>/", views.review_detail, name="review_detail"),
    path("reviews/<int:pk>/comment/", views.review_comment, name="review_comment"),
    path("reviews/<int:pk>/approve/", views.review_approve, name="review_approve"),
    path("reviews/<int:pk>/request-changes/", views.review_request_changes, name="review_request_changes"),
    path("reviews/<int:pk>/report/", views.review_report, name="review_report"),
    path("reviews/<int:pk>/report.md", views.review_report_markdown, name="review_report_markdown"),
    path("waiver-requests/<int:pk>/decide/", views.waiver_request_decide, name="waiver_request_decide"),
    path("compliance/", views.compliance, name="compliance"),
]
