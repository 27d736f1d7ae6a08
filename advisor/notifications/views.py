"""The team's notifications page: its channels and their delivery history, add/edit/delete a
channel, "Send test". Thin shells over services; who may do what is permissions.can_edit_team
(the team's members and administrators). Others see the channels' names, kinds and events only:
no target, no history (errors quote what receivers answered)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from advisor.registry import permissions
from advisor.registry.models import Team

from . import services
from .forms import ChannelForm
from .models import NotificationChannel, NotificationDelivery

HISTORY_PER_PAGE = 25


def _team_and_rights(request, team: str) -> tuple[Team, bool]:
    row = get_object_or_404(Team, name=team)
    return row, permissions.can_edit_team(request.user, row)


def _require(allowed: bool, team: Team) -> None:
    if not allowed:
        raise PermissionDenied(
            f"Only members of team {team.name} and administrators manage its notifications."
        )


@login_required
@require_http_methods(["GET"])
def team_notifications(request, team):
    team, can_manage = _team_and_rights(request, team)
    channels = list(team.notification_channels.all())
    page = None
    if can_manage:
        history = NotificationDelivery.objects.filter(channel__team=team).select_related("channel")
        page = Paginator(history, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/team_notifications.html",
        {"team": team, "channels": channels, "can_manage": can_manage, "page": page},
    )


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request, team, pk=None):
    team, can_manage = _team_and_rights(request, team)
    _require(can_manage, team)
    channel = get_object_or_404(NotificationChannel, pk=pk, team=team) if pk is not None else None
    form = ChannelForm(request.POST if request.method == "POST" else None, channel=channel)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.channel_save(
                channel=channel, team=team, data=form.data_for_service(), actor=request.user
            )
        except services.ChannelInvalid as e:
            for field, message in e.errors.items():
                form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, f"Channel {saved.name} saved.")
            return redirect("team_notifications", team=team.name)
    return render(
        request, "notifications/channel_form.html", {"team": team, "channel": channel, "form": form}
    )


@login_required
@require_http_methods(["GET", "POST"])
def channel_delete(request, team, pk):
    team, can_manage = _team_and_rights(request, team)
    _require(can_manage, team)
    channel = get_object_or_404(NotificationChannel, pk=pk, team=team)
    if request.method == "POST":
        services.channel_delete(channel=channel, actor=request.user)
        messages.success(request, f"Channel {channel.name} deleted with its delivery history.")
        return redirect("team_notifications", team=team.name)
    return render(
        request,
        "notifications/channel_delete.html",
        {"team": team, "channel": channel, "deliveries": channel.deliveries.count()},
    )


@login_required
@require_POST
def channel_test(request, team, pk):
    team, can_manage = _team_and_rights(request, team)
    _require(can_manage, team)
    channel = get_object_or_404(NotificationChannel, pk=pk, team=team)
    services.channel_send_test(channel=channel, actor=request.user)
    messages.info(
        request, f"A test was queued for {channel.name}; its delivery shows below within a few seconds."
    )
    return redirect("team_notifications", team=team.name)
