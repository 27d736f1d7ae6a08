"""Accounts from single sign-on and the rights their groups give (advisor/accounts/oidc_rights.py):
found by the immutable id, created and renamed, rights given and taken at each sign-in from the
settings' map and the admin's mappings, and rights given by hand never touched."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from advisor.accounts.models import OidcGroupMapping, OidcIdentity
from advisor.accounts.oidc_rights import sign_in
from advisor.accounts.oidc_settings import parse_group_map
from advisor.audit.models import AuditEvent
from advisor.registry import permissions
from advisor.registry.models import Team

pytestmark = pytest.mark.django_db

ISSUER = "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0"
OID = "00000000-0000-0000-0000-0000000a11ce"
ADMINS, REVIEWERS, CATALOG, IDENTITY = (f"{n}1111111-2222-3333-4444-555555555555" for n in "abcd")
MAP = parse_group_map(
    f'{{"{ADMINS}": {{"role": "admin"}}, "{REVIEWERS}": {{"role": "reviewer"}},'
    f' "{CATALOG}": {{"team": "catalog"}}, "{IDENTITY}": [{{"team": "identity"}}, {{"role": "reviewer"}}]}}'
)


@pytest.fixture
def teams(db):
    return {name: Team.objects.create(name=name) for name in ("catalog", "identity", "payments")}


def _claims(groups=(), oid=OID, **extra):
    return {
        "sub": "pairwise-sub-" + oid[-5:],
        "oid": oid,
        "preferred_username": "alice@contoso.com",
        "name": "Alice Example",
        "groups": list(groups),
        **extra,
    }


def _sign_in(groups=(), settings_map=MAP, **claims):
    user = sign_in(issuer=ISSUER, claims=_claims(groups, **claims), settings_map=settings_map)
    return get_user_model().objects.get(pk=user.pk)


def _rights(user):
    return {
        "admin": permissions.is_admin(user),
        "reviewer": permissions.is_reviewer(user),
        "superuser": user.is_superuser,
        "teams": sorted(user.teams.values_list("name", flat=True)),
    }


NONE = {"admin": False, "reviewer": False, "superuser": False, "teams": []}


def test_the_first_sign_in_creates_the_account_with_the_mapped_rights(teams):
    user = _sign_in([ADMINS, CATALOG, "unmapped-group"])
    assert user.username == "alice@contoso.com" and user.first_name == "Alice Example"
    assert not user.has_usable_password()
    assert _rights(user) == {"admin": True, "reviewer": False, "superuser": False, "teams": ["catalog"]}
    identity = user.oidc_identity
    assert (identity.issuer, identity.subject) == (ISSUER, OID)
    assert identity.granted == ["is_staff", f"team:{teams['catalog'].pk}"]
    assert identity.groups == sorted([ADMINS, CATALOG, "unmapped-group"])
    assert permissions.can_edit_instances(user) and permissions.can_edit_team(user, teams["payments"])


def test_a_user_in_no_mapped_group_signs_in_with_no_rights(teams):
    user = _sign_in(["unmapped-group"])
    assert user.is_active and _rights(user) == NONE
    assert not permissions.can_edit_team(user, teams["catalog"]) and not permissions.can_manage_waivers(user)
    assert user.oidc_identity.granted == []


def test_the_same_oid_is_the_same_account_after_a_rename(teams):
    first = _sign_in([CATALOG])
    renamed = _sign_in(
        [CATALOG], preferred_username="alice.smith@contoso.com", email="alice.smith@contoso.com"
    )
    assert renamed.pk == first.pk and renamed.username == "alice.smith@contoso.com"
    assert renamed.email == "alice.smith@contoso.com" and get_user_model().objects.count() == 1


def test_another_oid_with_the_same_name_is_another_account(teams):
    first = _sign_in([ADMINS])
    other = _sign_in([], oid="00000000-0000-0000-0000-00000000b0b0")
    assert other.pk != first.pk and other.username == "alice@contoso.com-2"
    assert _rights(other) == NONE  # nothing of the first account's rights


def test_a_local_account_with_the_name_is_never_taken_over(teams, django_user_model):
    local = django_user_model.objects.create_user("alice@contoso.com", password="pw", is_staff=True)
    user = _sign_in([])
    assert user.pk != local.pk and user.username == "alice@contoso.com-2" and not user.is_staff
    local.refresh_from_db()
    assert local.has_usable_password() and local.is_staff


def test_a_rename_onto_a_taken_name_keeps_the_old_name(teams, django_user_model):
    django_user_model.objects.create_user("bob@contoso.com")
    user = _sign_in([])
    assert _sign_in([], preferred_username="bob@contoso.com").username == user.username


def test_the_username_falls_back_to_email_then_the_id(teams):
    assert _sign_in([], preferred_username=None, email="al@contoso.com").username == "al@contoso.com"
    assert _sign_in([], oid="00000000-0000-0000-0000-0000000000c3", preferred_username=None).username == (
        "00000000-0000-0000-0000-0000000000c3"
    )


def test_without_oid_the_sub_claim_is_the_link(teams):
    claims = {"sub": "keycloak-user-1", "preferred_username": "kc-user", "groups": [REVIEWERS]}
    user = sign_in(issuer="https://idp.example/realms/x", claims=claims, settings_map=MAP)
    assert user.oidc_identity.subject == "keycloak-user-1" and permissions.is_reviewer(user)


def test_a_group_removed_between_two_sign_ins_takes_its_rights(teams):
    user = _sign_in([ADMINS, REVIEWERS, CATALOG, IDENTITY])
    assert _rights(user) == {
        "admin": True,
        "reviewer": True,
        "superuser": False,
        "teams": ["catalog", "identity"],
    }
    user = _sign_in([REVIEWERS])
    assert _rights(user) == {"admin": False, "reviewer": True, "superuser": False, "teams": []}
    user = _sign_in([])
    assert _rights(user) == NONE and user.oidc_identity.granted == []
    assert _rights(_sign_in([IDENTITY])) == {
        "admin": False,
        "reviewer": True,
        "superuser": False,
        "teams": ["identity"],
    }


def test_a_right_two_groups_give_stays_while_one_of_them_does(teams):
    _sign_in([REVIEWERS, IDENTITY])
    user = _sign_in([IDENTITY])
    assert permissions.is_reviewer(user) and user.oidc_identity.granted == [
        "reviewer",
        f"team:{teams['identity'].pk}",
    ]


def test_rights_given_by_hand_are_never_taken(teams):
    user = _sign_in([CATALOG])
    # An administrator adds her to payments, makes her a reviewer and staff by hand.
    teams["payments"].members.add(user)
    user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    user = _sign_in([])
    assert _rights(user) == {"admin": True, "reviewer": True, "superuser": False, "teams": ["payments"]}
    # A group that now gives what she holds by hand does not make it the sign-in's to take.
    _sign_in([REVIEWERS, ADMINS])
    user = _sign_in([])
    assert _rights(user) == {"admin": True, "reviewer": True, "superuser": False, "teams": ["payments"]}


def test_a_linked_local_account_keeps_its_hand_given_rights(teams, django_user_model):
    """An administrator links an existing account in the admin before its first sign-in."""
    local = django_user_model.objects.create_user("alice", password="pw", is_staff=True)
    teams["payments"].members.add(local)
    OidcIdentity.objects.create(user=local, issuer=ISSUER, subject=OID)
    user = _sign_in([REVIEWERS])
    assert user.pk == local.pk and user.username == "alice@contoso.com" and user.has_usable_password()
    assert _rights(user) == {"admin": True, "reviewer": True, "superuser": False, "teams": ["payments"]}
    assert _rights(_sign_in([])) == {
        "admin": True,
        "reviewer": False,
        "superuser": False,
        "teams": ["payments"],
    }


def test_superuser_is_staff_and_superuser_and_both_go_with_the_group(teams):
    mapping = parse_group_map('{"root-group": {"role": "superuser"}}')
    user = _sign_in(["root-group"], settings_map=mapping)
    assert user.is_staff and user.is_superuser
    user = _sign_in([], settings_map=mapping)
    assert not user.is_staff and not user.is_superuser


def test_the_admins_mappings_apply_like_the_settings(teams):
    OidcGroupMapping.objects.create(
        group_id="  Platform-Reviewers ", role="reviewer", note="Platform reviewers"
    )
    OidcGroupMapping.objects.create(group_id=CATALOG.upper(), team=teams["payments"])
    user = _sign_in(["Platform-Reviewers", CATALOG])
    assert _rights(user) == {
        "admin": False,
        "reviewer": True,
        "superuser": False,
        "teams": ["catalog", "payments"],
    }
    # Removed in the admin: gone at the next sign-in.
    OidcGroupMapping.objects.filter(team=teams["payments"]).delete()
    assert _rights(_sign_in(["Platform-Reviewers", CATALOG]))["teams"] == ["catalog"]


def test_a_renamed_team_keeps_the_admins_mapping_and_leaves_the_settings_one(teams):
    OidcGroupMapping.objects.create(group_id="by-admin", team=teams["identity"])
    mapping = parse_group_map('{"by-settings": {"team": "catalog"}}')
    _sign_in(["by-admin", "by-settings"], settings_map=mapping)
    Team.objects.filter(name="identity").update(name="identity-platform")
    Team.objects.filter(name="catalog").update(name="catalogue")
    # The admin's mapping follows the team; the settings still name catalog, which is gone.
    user = _sign_in(["by-admin", "by-settings"], settings_map=mapping)
    assert _rights(user)["teams"] == ["identity-platform"]


def test_a_team_that_does_not_exist_gives_nothing(teams, caplog):
    user = _sign_in(["g"], settings_map=parse_group_map('{"g": {"team": "no-such-team"}}'))
    assert _rights(user) == NONE and "team no-such-team, which does not exist" in caplog.text
    assert not Team.objects.filter(name="no-such-team").exists()


def test_no_groups_claim_takes_what_the_groups_gave_and_says_why(teams, caplog):
    _sign_in([ADMINS])
    user = sign_in(
        issuer=ISSUER,
        claims={"sub": "s", "oid": OID, "preferred_username": "alice@contoso.com"},
        settings_map=MAP,
    )
    assert not user.is_staff and "has no groups claim" in caplog.text


def test_a_deactivated_account_is_returned_untouched(teams):
    user = _sign_in([ADMINS])
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    user = _sign_in([])
    assert not user.is_active and user.is_staff  # the caller refuses it; nothing changes


def test_rights_changes_are_audited(teams):
    _sign_in([CATALOG])
    _sign_in([CATALOG])  # nothing changed: nothing recorded
    _sign_in([])
    events = list(
        AuditEvent.objects.order_by("pk").values_list("action", "obj_type", "obj_name", "before", "after")
    )
    assert events[0][:3] == ("create", "user", "alice@contoso.com")
    assert events[1] == (
        "sign_in_rights",
        "user",
        "alice@contoso.com",
        None,
        {"admin": False, "superuser": False, "reviewer": False, "teams": ["catalog"]},
    )
    assert events[2][3]["teams"] == ["catalog"] and events[2][4]["teams"] == []
    assert len(events) == 3


def test_the_admin_model_takes_a_role_or_a_team_not_both(teams):
    from django.core.exceptions import ValidationError

    mapping = OidcGroupMapping(group_id="g", role="reviewer", team=teams["catalog"])
    with pytest.raises(ValidationError, match="either a role or a team"):
        mapping.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        OidcGroupMapping.objects.create(group_id="g")
    OidcGroupMapping.objects.create(group_id="G-1", role="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        OidcGroupMapping.objects.create(group_id="G-1", role="admin")


def test_the_admin_pages_list_and_edit_mappings(admin_client, teams):
    response = admin_client.post(
        "/admin/accounts/oidcgroupmapping/add/",
        {"group_id": CATALOG.upper(), "role": "", "team": teams["catalog"].pk, "note": "Catalog developers"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert OidcGroupMapping.objects.get().group_id == CATALOG
    page = admin_client.get("/admin/accounts/oidcgroupmapping/").content.decode()
    assert CATALOG in page and "Catalog developers" in page
    refused = admin_client.post(
        "/admin/accounts/oidcgroupmapping/add/",
        {"group_id": "x", "role": "admin", "team": teams["catalog"].pk},
    )
    assert (
        refused.status_code == 200 and "Give either a role or a team, not both." in refused.content.decode()
    )
    _sign_in([CATALOG])
    assert "alice@contoso.com" in admin_client.get("/admin/accounts/oidcidentity/").content.decode()
