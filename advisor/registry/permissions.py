"""Who may change what. One place, used by views and the API alike (never only templates)."""

from collections.abc import Collection


def is_admin(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.is_staff)


def can_edit_instances(user) -> bool:
    return is_admin(user)


def can_edit_team(user, team) -> bool:
    """Admins, and members of the team, may change the team's namespaces."""
    if not user.is_authenticated:
        return False
    if is_admin(user):
        return True
    return team is not None and team.members.filter(pk=user.pk).exists()


def can_edit_namespace(user, namespace) -> bool:
    return can_edit_team(user, namespace.team)


def can_save_namespace(user, namespace, team) -> bool:
    """Saving `namespace` (None when creating it) with `team` as its owner.

    Moving a namespace to another team hands it over, so it needs rights on both teams.
    """
    if namespace is not None and not can_edit_namespace(user, namespace):
        return False
    return can_edit_team(user, team)


def can_manage_teams(user) -> bool:
    """Creating, renaming and deleting teams themselves (not their namespaces)."""
    return is_admin(user)


def editable_teams(user):
    from .models import Team

    if is_admin(user):
        return Team.objects.all()
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(members=user)


def can_scan(user, instance) -> bool:
    """Admins, and members of a team with a namespace on the instance, start and cancel scans."""
    if is_admin(user):
        return True
    return user.is_authenticated and instance.namespaces.filter(team__members=user).exists()


def can_cancel_scan(user, run) -> bool:
    """Admins, and whoever asked for the run: a team must not silence scans of another's cache."""
    if is_admin(user):
        return True
    return user.is_authenticated and run.requested_by_id is not None and run.requested_by_id == user.pk


def can_schedule_scans(user) -> bool:
    return is_admin(user)


def can_import_designs(user) -> bool:
    return is_admin(user)


# Design reviews --------------------------------------------------------------------------------

REVIEWERS_GROUP = "reviewers"


def is_reviewer(user) -> bool:
    """Architects in the reviewers group (and superusers) comment, decide reviews and waivers."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name=REVIEWERS_GROUP).exists()


def is_team_member(user, team) -> bool:
    return user.is_authenticated and team is not None and team.members.filter(pk=user.pk).exists()


def can_submit(user, team) -> bool:
    """Submitting a team's design for review is for the team's own members."""
    return is_team_member(user, team)


# Separation of duties: whoever decides a review or a waiver request is a reviewer who is not a party
# to it, neither the person who asked nor a member of the team whose design it is (superusers
# included). The page, the API and the service all ask these two functions, and the refusal they
# return is the reason shown to the person refused.


def review_decision_refusal(user, review) -> str | None:
    """Why `user` may not approve or request changes on `review`; None when they may."""
    if not is_reviewer(user):
        return "Only reviewers decide reviews."
    if review.submitted_by_id is not None and review.submitted_by_id == user.pk:
        return "Nobody approves or sends back their own submission: another reviewer decides it."
    if is_team_member(user, review.team):
        return (
            f"You are a member of team {review.team.name}, so you cannot decide its review: "
            "a reviewer outside the team decides it."
        )
    return None


def can_review(user, review) -> bool:
    """Approve or request changes: a reviewer who neither submitted it nor belongs to the team."""
    return review_decision_refusal(user, review) is None


def can_comment(user, review) -> bool:
    return is_reviewer(user) or is_team_member(user, review.team)


def can_request_waiver(user, team) -> bool:
    return is_team_member(user, team)


def waiver_decision_refusal(
    user, waiver_request, *, reviewer: bool | None = None, team_ids: Collection[int] | None = None
) -> str | None:
    """Why `user` may not approve or reject `waiver_request`; None when they may.

    A page listing many requests passes what it knows of `user` (`reviewer`: is_reviewer(user),
    `team_ids`: the teams they are a member of), so that no request costs a query."""
    if not (is_reviewer(user) if reviewer is None else reviewer):
        return "Only reviewers decide waiver requests."
    if waiver_request.requested_by_id is not None and waiver_request.requested_by_id == user.pk:
        return "Nobody decides their own waiver request: another reviewer decides it."
    if (
        is_team_member(user, waiver_request.team)
        if team_ids is None
        else user.is_authenticated and waiver_request.team_id in team_ids
    ):
        return (
            f"You are a member of team {waiver_request.team.name}, so you cannot decide its waiver "
            "requests: a reviewer outside the team decides them."
        )
    return None


def can_decide_waiver(user, waiver_request) -> bool:
    """Reviewers approve or reject waiver requests: not their own, nor their own team's."""
    return waiver_decision_refusal(user, waiver_request) is None


def can_manage_waivers(user) -> bool:
    """Grant, renew and revoke waivers of findings: administrators and reviewers."""
    return is_admin(user) or is_reviewer(user)


def can_grant_waiver(user, target: str) -> bool:
    """As can_manage_waivers, but nobody waives findings of their own team's namespace, superusers
    included: the same separation of duties as for reviews and waiver requests."""
    if not can_manage_waivers(user):
        return False
    kind, _, name = target.partition(":")
    if kind != "namespace":
        return True
    from .models import Namespace

    return not Namespace.objects.filter(name=name, team__members=user).exists()
