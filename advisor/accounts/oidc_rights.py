"""Accounts from single sign-on, and the rights their groups give, applied at each sign-in.

An account is found by the provider's immutable user id (Entra's `oid`, else `sub`) and the
issuer, never by a name or an e-mail address, which can change and be reused
(https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference#use-claims-to-reliably-identify-a-user).
It is created at the first sign-in, named after `preferred_username` (else `email`, else the id),
and renamed when that changes, unless another account has the new name.

Rights come from the groups claim, mapped by ADVISOR_OIDC_GROUP_MAP and by the admin's
single sign-on group mappings (advisor.accounts.models.OidcGroupMapping):

    role admin      is_staff (an administrator for advisor.registry.permissions.is_admin)
    role superuser  is_staff and is_superuser (also the whole Django admin)
    role reviewer   a member of the "reviewers" group
    team <name>     a member of that team

At each sign-in the rights the groups give now are given, and those the previous sign-in gave
and the groups no longer give are taken (OidcIdentity.granted records which). A right the account
had already, given by hand, is left alone both ways. An account in no mapped group signs in with
no rights: it reads what every signed-in user reads and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from advisor.registry.permissions import REVIEWERS_GROUP

from .models import OidcGroupMapping, OidcIdentity
from .oidc_settings import Grant, normalize_group_id

log = logging.getLogger(__name__)

ROLE_RIGHTS = {"admin": ("is_staff",), "superuser": ("is_staff", "is_superuser"), "reviewer": ("reviewer",)}
USERNAME_MAX = 150  # django.contrib.auth's User.username


@dataclass
class Rights:
    """What an account may do, as the audit trail records it."""

    admin: bool
    superuser: bool
    reviewer: bool
    teams: list[str]

    @classmethod
    def of(cls, user) -> Rights:
        return cls(
            admin=user.is_staff,
            superuser=user.is_superuser,
            reviewer=user.groups.filter(name=REVIEWERS_GROUP).exists(),
            teams=sorted(user.teams.values_list("name", flat=True)),
        )

    def as_dict(self) -> dict:
        return {
            "admin": self.admin,
            "superuser": self.superuser,
            "reviewer": self.reviewer,
            "teams": self.teams,
        }


def grants_for(
    group_ids: Iterable[str], settings_map: Mapping[str, tuple[Grant, ...]]
) -> list[tuple[str, Grant]]:
    """(group id, grant) for each mapped group among `group_ids`: the settings' map, then the admin's."""
    ids = {normalize_group_id(g) for g in group_ids if isinstance(g, str) and g.strip()}
    found: list[tuple[str, Grant]] = [(g, grant) for g in sorted(ids) for grant in settings_map.get(g, ())]
    rows = OidcGroupMapping.objects.filter(group_id__in=ids).select_related("team").order_by("group_id", "pk")
    for row in rows:
        found.append((row.group_id, Grant("role", row.role) if row.role else Grant("team", row.team.name)))
    return found


def desired_rights(grants: Iterable[tuple[str, Grant]]) -> set[str]:
    """The rights ("is_staff", "is_superuser", "reviewer", "team:<pk>") that `grants` give.

    Teams are kept by primary key, so a renamed team stays the same right. A team named in the
    settings that does not exist gives nothing (and is logged): sign-in never creates teams.
    """
    from advisor.registry.models import Team

    rights: set[str] = set()
    team_names: set[str] = set()
    for _group, grant in grants:
        if grant.kind == "role":
            rights.update(ROLE_RIGHTS[grant.value])
        else:
            team_names.add(grant.value)
    teams = dict(Team.objects.filter(name__in=team_names).values_list("name", "pk"))
    for name in sorted(team_names - set(teams)):
        log.warning("single sign-on: a group maps to team %s, which does not exist; it gives nothing", name)
    rights.update(f"team:{pk}" for pk in teams.values())
    return rights


def _holds(user, right: str) -> bool:
    if right in ("is_staff", "is_superuser"):
        return getattr(user, right)
    if right == "reviewer":
        return user.groups.filter(name=REVIEWERS_GROUP).exists()
    return user.teams.filter(pk=int(right.partition(":")[2])).exists()


def _set(user, right: str, on: bool) -> None:
    from advisor.registry.models import Team

    if right in ("is_staff", "is_superuser"):
        setattr(user, right, on)
        user.save(update_fields=[right])
    elif right == "reviewer":
        group = Group.objects.get_or_create(name=REVIEWERS_GROUP)[0]
        (user.groups.add if on else user.groups.remove)(group)
    else:
        team = Team.objects.filter(pk=int(right.partition(":")[2])).first()
        if team is not None:  # a team deleted since: nothing to give or take
            (team.members.add if on else team.members.remove)(user)


def apply_rights(user, identity: OidcIdentity, desired: set[str]) -> None:
    """Give what `desired` has and the account lacks; take what the last sign-in gave and `desired`
    no longer has. Rights held already and not given by a sign-in are never recorded, so never taken."""
    previous = set(identity.granted or [])
    granted: set[str] = set()
    for right in sorted(previous | desired):
        held = _holds(user, right)
        if right in desired:
            if not held:
                _set(user, right, True)
                granted.add(right)
            elif right in previous:
                granted.add(right)  # still the sign-in's to take when the group goes
        elif held and right in previous:
            _set(user, right, False)
    identity.granted = sorted(granted)


def _username_from(claims: Mapping, subject: str) -> str:
    for claim in ("preferred_username", "email"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:USERNAME_MAX]
    return subject[:USERNAME_MAX]


def _free_username(wanted: str, user=None) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`... when another account has it."""
    users = get_user_model().objects.exclude(pk=user.pk) if user is not None else get_user_model().objects
    name, n = wanted, 1
    while users.filter(username__iexact=name).exists():
        n += 1
        suffix = f"-{n}"
        name = wanted[: USERNAME_MAX - len(suffix)] + suffix
    return name


def _profile(user, claims: Mapping) -> list[str]:
    changed = []
    fields = {
        "email": claims.get("email") or "",
        "first_name": claims.get("given_name")
        or (claims.get("name") if not claims.get("family_name") else "")
        or "",
        "last_name": claims.get("family_name") or "",
    }
    for field, value in fields.items():
        value = str(value)[:150] if field != "email" else str(value)[:254]
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    return changed


def sign_in(*, issuer: str, claims: Mapping, settings_map: Mapping[str, tuple[Grant, ...]]):
    """The account for these verified id-token claims, created or updated, its group rights applied."""
    from advisor.audit.services import audit_record

    subject = str(claims.get("oid") or claims["sub"])
    groups = sorted({normalize_group_id(g) for g in claims.get("groups") or [] if isinstance(g, str)})
    if "groups" not in claims:
        log.warning(
            "single sign-on: the id token of %s has no groups claim, so no group gives rights; "
            "add a groups claim to the app registration's token configuration",
            subject,
        )
    User = get_user_model()
    with transaction.atomic():
        identity = (
            OidcIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        wanted = _username_from(claims, subject)
        if identity is None:
            user = User(username=_free_username(wanted))
            user.set_unusable_password()  # this account signs in through the provider only
            _profile(user, claims)
            user.save()
            identity = OidcIdentity(user=user, issuer=issuer, subject=subject)
            if user.username != wanted:
                log.warning(
                    "single sign-on: %s signed in for the first time and got account %s, since another "
                    "account is named %s; an administrator links accounts under Single sign-on identities",
                    subject,
                    user.username,
                    wanted,
                )
            audit_record(
                actor=None,
                action="create",
                obj_type="user",
                obj_name=user.username,
                after={"subject": subject},
            )
            before = None
        else:
            user = identity.user
            if not user.is_active:
                return user  # refused by the caller; a deactivated account's rights stay as they are
            before = Rights.of(user).as_dict()
            changed = _profile(user, claims)
            if (
                user.username != wanted
                and not User.objects.exclude(pk=user.pk).filter(username__iexact=wanted).exists()
            ):
                changed.append("username")
                user.username = wanted
            if changed:
                user.save(update_fields=changed)
        apply_rights(user, identity, desired_rights(grants_for(groups, settings_map)))
        identity.groups = groups
        identity.last_sign_in = timezone.now()
        identity.save()
        after = Rights.of(user).as_dict()
        if after != before and (before is not None or any(after[k] for k in after)):
            audit_record(
                actor=None,
                action="sign_in_rights",
                obj_type="user",
                obj_name=user.username,
                before=before,
                after=after,
            )
    return user
