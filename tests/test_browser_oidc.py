"""In Chromium: "Sign in with Microsoft" through a real OpenID Connect provider on loopback
(tests/oidc_provider.py, Authlib): the person types their account and password on the provider's
page and lands back in the advisor signed in with the rights their groups map to, or on the
sign-in page with the reason it was refused and signed in as nobody."""

import time

import pytest
from django.contrib.auth import get_user_model

from advisor.registry.models import Team
from tests.browser import browser, new_page, page, screenshot  # noqa: F401
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, configure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMINS = "a1111111-2222-3333-4444-555555555555"
REVIEWERS = "b1111111-2222-3333-4444-555555555555"
CATALOG = "c1111111-2222-3333-4444-555555555555"
USER_MENU = "nav .dropdown-toggle:has(.bi-person-circle)"
GROUP_MAP = {ADMINS: {"role": "admin"}, REVIEWERS: {"role": "reviewer"}, CATALOG: {"team": "catalog"}}


@pytest.fixture
def provider(live_server):
    with Provider() as p:
        p.register_client(CLIENT_ID, CLIENT_SECRET, f"{live_server.url}/oidc/callback/")
        p.add_user(
            "alice@contoso.com", "pw-alice", groups=[ADMINS, REVIEWERS, CATALOG], email="alice@contoso.com"
        )
        p.add_user("nina@contoso.com", "pw-nina", groups=["f1111111-2222-3333-4444-555555555555"])
        yield p


@pytest.fixture
def oidc(settings, provider, tmp_path):
    Team.objects.create(name="catalog")
    Team.objects.create(name="identity")
    return configure(settings, provider, tmp_path / "client-secret", group_map=GROUP_MAP)


def _sign_in_with_microsoft(page, provider, username, password, *, start="/login/", shot=None):  # noqa: F811
    page.goto(start)
    page.click("#oidc-sign-in")
    page.wait_for_url(f"{provider.issuer}/authorize**")
    assert page.title() == "Sign in to your account"
    page.fill("#username", username)
    page.fill("#password", password)
    if shot:
        screenshot(page, shot, full_page=False)
    page.click("#sign-in")
    page.wait_for_url(lambda url: not url.startswith(provider.base) and "/oidc/" not in url)


def _signed_in_as(page) -> str | None:  # noqa: F811
    toggle = page.locator(USER_MENU)
    return toggle.inner_text().strip() if toggle.count() else None


def _refusal(page) -> str:  # noqa: F811
    assert page.url.endswith("/login/"), page.url
    alert = page.locator(".alert-danger")
    alert.wait_for()
    assert _signed_in_as(page) is None
    return alert.inner_text()


def _sign_out(page):  # noqa: F811
    page.click(USER_MENU)
    page.click("text=Sign out")
    page.wait_for_url("**/login/")


def test_signed_in_through_the_provider_with_the_mapped_rights(page, provider, oidc, live_server):  # noqa: F811
    page.goto("/teams/")
    page.wait_for_url("**/login/?next=/teams/")
    assert page.locator("#oidc-sign-in").inner_text().strip() == "Sign in with Microsoft"
    assert page.locator("#id_password").count() == 1  # local accounts still sign in
    screenshot(page, "oidc-login-page", full_page=False)

    page.click("#oidc-sign-in")
    page.wait_for_url(f"{provider.issuer}/authorize**")
    page.fill("#username", "alice@contoso.com")
    page.fill("#password", "not-her-password")
    page.click("#sign-in")
    assert "incorrect" in page.locator("#error").inner_text()  # the provider's own refusal, on its page
    page.fill("#username", "alice@contoso.com")
    page.fill("#password", "pw-alice")
    screenshot(page, "oidc-provider-page", full_page=False)
    page.click("#sign-in")
    page.wait_for_url(f"{live_server.url}/teams/")

    assert _signed_in_as(page) == "alice@contoso.com"
    page.click(USER_MENU)
    assert page.locator("nav .dropdown-menu >> text=Admin").is_visible()  # the admin role: is_staff
    screenshot(page, "oidc-signed-in", full_page=False)
    user = get_user_model().objects.get(username="alice@contoso.com")
    assert user.is_staff and not user.is_superuser and user.groups.filter(name="reviewers").exists()
    assert list(user.teams.values_list("name", flat=True)) == ["catalog"]
    assert page.goto("/instances/new/").status == 200  # an administrator's page


def test_a_wrong_audience_is_refused(page, provider, oidc):  # noqa: F811
    provider.claim_overrides = {"aud": "00000000-0000-0000-0000-0000000000aa"}
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    message = _refusal(page)
    assert "Sign-in refused. The identity token was issued for another application" in message
    assert f"not this one ({CLIENT_ID})" in message
    screenshot(page, "oidc-refused-audience", full_page=False)
    assert not get_user_model().objects.exists()


def test_an_expired_token_is_refused(page, provider, oidc):  # noqa: F811
    now = int(time.time())
    provider.claim_overrides = {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    assert "The identity token has expired" in _refusal(page)
    assert not get_user_model().objects.exists()


def test_a_user_in_no_mapped_group_is_signed_in_with_no_rights(page, provider, oidc):  # noqa: F811
    _sign_in_with_microsoft(page, provider, "nina@contoso.com", "pw-nina")
    assert _signed_in_as(page) == "nina@contoso.com"
    page.click(USER_MENU)
    assert page.locator("nav .dropdown-menu >> text=Admin").count() == 0
    assert page.goto("/teams/").status == 200  # reads like any signed-in viewer
    assert page.goto("/instances/new/").status == 403
    user = get_user_model().objects.get(username="nina@contoso.com")
    assert not user.is_staff and not user.groups.exists() and not user.teams.exists()


def test_a_group_removed_between_two_sign_ins_takes_its_rights(page, provider, oidc):  # noqa: F811
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    assert page.goto("/instances/new/").status == 200
    _sign_out(page)

    provider.users["alice@contoso.com"].groups = [CATALOG]  # out of the admins and reviewers groups
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    assert _signed_in_as(page) == "alice@contoso.com"
    assert page.goto("/instances/new/").status == 403
    user = get_user_model().objects.get(username="alice@contoso.com")
    assert not user.is_staff and not user.groups.filter(name="reviewers").exists()
    assert list(user.teams.values_list("name", flat=True)) == ["catalog"]
    assert get_user_model().objects.count() == 1  # the same account, found by its oid
    _sign_out(page)

    provider.users["alice@contoso.com"].groups = []
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    assert not get_user_model().objects.get(username="alice@contoso.com").teams.exists()


def test_a_forged_state_is_refused(page, provider, oidc):  # noqa: F811
    provider.forge_state = True
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    message = _refusal(page)
    assert "does not belong to a sign-in started in this browser (unknown state)" in message
    screenshot(page, "oidc-refused-state", full_page=False)
    assert provider.token_requests == 0 and not get_user_model().objects.exists()


def test_a_forged_nonce_is_refused(page, provider, oidc):  # noqa: F811
    provider.claim_overrides = {"nonce": "a-nonce-this-browser-never-sent"}
    _sign_in_with_microsoft(page, provider, "alice@contoso.com", "pw-alice")
    assert "nonce is not the one this browser's sign-in sent" in _refusal(page)
    assert not get_user_model().objects.exists()


def test_with_local_login_off_the_page_offers_only_microsoft(page, provider, settings, tmp_path, live_server):  # noqa: F811
    configure(settings, provider, tmp_path / "client-secret", local_login=False, group_map=GROUP_MAP)
    page.goto("/login/")
    assert page.locator("#id_password").count() == 0 and page.locator("#oidc-sign-in").is_visible()
    screenshot(page, "oidc-login-page-sso-only", full_page=False)
    _sign_in_with_microsoft(page, provider, "nina@contoso.com", "pw-nina")
    assert _signed_in_as(page) == "nina@contoso.com" and page.url == f"{live_server.url}/"
