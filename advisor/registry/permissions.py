"""Who may change what. One place, used by views and the API alike (never only templates)."""


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


def editable_teams(user):
    from .models import Team

    if is_admin(user):
        return Team.objects.all()
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(members=user)


def can_import_designs(user) -> bool:
    return is_admin(user)
