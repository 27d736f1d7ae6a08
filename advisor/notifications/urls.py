from django.urls import path

from . import views

urlpatterns = [
    path("teams/<slug:team>/notifications/", views.team_notifications, name="team_notifications"),
    path("teams/<slug:team>/notifications/new/", views.channel_edit, name="channel_create"),
    path("teams/<slug:team>/notifications/<int:pk>/edit/", views.channel_edit, name="channel_edit"),
    path("teams/<slug:team>/notifications/<int:pk>/delete/", views.channel_delete, name="channel_delete"),
    path("teams/<slug:team>/notifications/<int:pk>/test/", views.channel_test, name="channel_test"),
]
