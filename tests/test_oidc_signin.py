"""Sign-in with OpenID Connect against a real provider on loopback (tests/oidc_provider.py), driven
with Django's test client and a plain HTTP session: the code flow, and each refusal with its reason.
The same flows in Chromium are in test_browser_oidc.py."""

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from advisor.accounts.models import OidcIdentity
from tests.oidc_provider import CLIENT_ID, Provider, configure, sign_in

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/oidc/callback/"
REVIEWERS = "4f5d2a3c-0d5e-4c37-9c7a-1f0e2b3c4d5e"


@pytest.fixture
def provider():
    with Provider() as p:
        p.register_client(CLIENT_ID, "test-client-secret-" + "x" * 20, CALLBACK)
        p.add_user("alice@contoso.com", "pw-alice", groups=[REVIEWERS], email="alice@contoso.com")
        yield p


@pytest.fixture
def oidc(settings, provider, tmp_path):
    return configure(
        settings, provider, tmp_path / "client-secret", group_map={REVIEWERS: {"role": "reviewer"}}
    )


def _user_id(client):
    return client.session.get("_auth_user_id")


def _refusal(client, response) -> str:
    assert response.status_code == 302 and response["Location"] == "/login/", response
    page = client.get("/login/")
    texts = [m.message for m in page.context["messages"]]
    assert len(texts) == 1 and texts[0].startswith("Sign-in refused."), texts
    return texts[0]


def test_the_code_flow_signs_in_with_the_mapped_rights(client, provider, oidc):
    response = sign_in(client, provider, "alice@contoso.com", "pw-alice", next_url="/teams/")
    assert response.status_code == 302 and response["Location"] == "/teams/"
    user = get_user_model().objects.get(pk=_user_id(client))
    assert user.username == "alice@contoso.com" and user.email == "alice@contoso.com"
    assert user.groups.filter(name="reviewers").exists() and not user.is_staff
    assert not user.has_usable_password()
    identity = OidcIdentity.objects.get(user=user)
    assert identity.subject == provider.users["alice@contoso.com"].oid and identity.issuer == provider.issuer
    assert identity.granted == ["reviewer"] and identity.groups == [REVIEWERS]
    # A session from single sign-on lasts ADVISOR_OIDC_SESSION_HOURS, then the groups are read again.
    assert client.session.get_expiry_age() == 8 * 3600
    assert client.get("/teams/").status_code == 200


def test_the_login_page_offers_microsoft_beside_the_password_form(client, oidc):
    page = client.get("/login/?next=/teams/").content.decode()
    assert "Sign in with Microsoft" in page and 'href="/oidc/authenticate/?next=/teams/"' in page
    assert 'id="id_password"' in page


def test_without_the_settings_nothing_of_oidc_shows(client, settings):
    assert settings.ADVISOR_OIDC is None
    assert "advisor.accounts.oidc.OidcBackend" not in settings.AUTHENTICATION_BACKENDS
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page and 'id="id_password"' in page
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_a_wrong_audience_is_refused(client, provider, oidc):
    provider.claim_overrides = {"aud": "another-application"}
    message = _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert "issued for another application (audience 'another-application')" in message
    assert _user_id(client) is None and not get_user_model().objects.exists()


def test_several_audiences_need_this_client_as_authorized_party(client, provider, oidc):
    provider.claim_overrides = {"aud": [CLIENT_ID, "another-application"], "azp": "another-application"}
    assert "(azp)" in _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert _user_id(client) is None


def test_an_expired_token_is_refused(client, provider, oidc):
    now = int(time.time())
    provider.claim_overrides = {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
    assert "has expired" in _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert _user_id(client) is None and not get_user_model().objects.exists()


def test_a_token_from_another_issuer_is_refused(client, provider, oidc):
    provider.claim_overrides = {
        "iss": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
    }
    assert "another issuer" in _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert _user_id(client) is None


def test_a_forged_nonce_is_refused(client, provider, oidc):
    provider.claim_overrides = {"nonce": "a-nonce-this-browser-never-sent"}
    message = _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert "nonce is not the one this browser's sign-in sent" in message
    assert _user_id(client) is None and not get_user_model().objects.exists()


def test_a_forged_state_is_refused_before_the_code_is_used(client, provider, oidc):
    provider.forge_state = True
    message = _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert "unknown state" in message
    assert _user_id(client) is None and provider.token_requests == 0


def test_a_callback_started_in_another_browser_is_refused(client, provider, oidc, django_user_model):
    """Login CSRF: an attacker's own code and state, sent to a victim's browser, sign nobody in."""
    from django.test import Client

    attacker = Client()
    attacker.get("/oidc/authenticate/")  # the attacker's session holds the state, not the victim's
    state = next(iter(attacker.session["oidc_states"]))
    response = client.get(f"/oidc/callback/?code=attackers-code&state={state}")
    assert "unknown state" in _refusal(client, response)
    assert _user_id(client) is None and provider.token_requests == 0


def test_a_replayed_callback_is_refused(client, provider, oidc):
    first = sign_in(client, provider, "alice@contoso.com", "pw-alice")
    assert first.status_code == 302 and _user_id(client)
    client.post("/logout/")
    # The same code and state again: the state was used up by the first sign-in.
    replay = client.get(first.request["PATH_INFO"] + "?" + first.request["QUERY_STRING"])
    assert "unknown state" in _refusal(client, replay)
    assert _user_id(client) is None


def test_the_providers_error_is_shown(client, provider, oidc):
    client.get("/oidc/authenticate/")
    state = next(iter(client.session["oidc_states"]))
    response = client.get(
        f"/oidc/callback/?error=access_denied&error_description=AADSTS50105%3A+not+assigned&state={state}"
    )
    assert "answered access_denied: AADSTS50105: not assigned" in _refusal(client, response)
    assert state not in client.session.get("oidc_states", {})


def test_a_wrong_client_secret_is_refused_by_the_provider(client, provider, oidc, tmp_path):
    (tmp_path / "client-secret").write_text("not-the-secret")  # read at each sign-in
    message = _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert "refused to complete the sign-in (invalid_client)" in message
    assert "not-the-secret" not in message and _user_id(client) is None


def test_a_discovery_document_of_another_issuer_is_refused(client, provider, settings, tmp_path):
    from dataclasses import replace

    config = configure(settings, provider, tmp_path / "secret")
    settings.ADVISOR_OIDC = replace(config, issuer=provider.issuer.replace("/v2.0", "/v2.0/"))
    response = client.get("/oidc/authenticate/")
    assert "names another issuer" in _refusal(client, response)


def test_an_unreachable_provider_is_a_clear_refusal(client, provider, settings, tmp_path):
    from dataclasses import replace

    config = configure(settings, provider, tmp_path / "secret")
    settings.ADVISOR_OIDC = replace(config, issuer="http://127.0.0.1:9/nobody/v2.0")  # discard port
    assert "cannot be reached" in _refusal(client, client.get("/oidc/authenticate/"))


def test_a_deactivated_account_is_refused(client, provider, oidc):
    assert sign_in(client, provider, "alice@contoso.com", "pw-alice").status_code == 302
    client.post("/logout/")
    get_user_model().objects.filter(username="alice@contoso.com").update(is_active=False)
    assert "deactivated" in _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert _user_id(client) is None


def test_deactivating_the_account_ends_its_open_session_at_once(client, provider, oidc):
    sign_in(client, provider, "alice@contoso.com", "pw-alice")
    assert client.get("/teams/").status_code == 200
    get_user_model().objects.filter(username="alice@contoso.com").update(is_active=False)
    assert client.get("/teams/").status_code == 302


def test_more_groups_than_a_token_holds_is_refused_with_the_fix(client, provider, oidc):
    provider.claim_overrides = {
        "groups": None,
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
    }
    message = _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert "more groups than a sign-in token can list" in message and "assigned to the application" in message


@pytest.mark.parametrize(
    "same_kid, reason",
    [(False, "signed with a key the sign-in service does not publish"), (True, "signature does not verify")],
)
def test_a_token_signed_with_another_key_is_refused(client, provider, oidc, same_kid, reason):
    from joserfc.jwk import RSAKey

    provider.sign_with = (
        RSAKey.generate_key(2048, private=True),
        provider.kid if same_kid else "not-published",
    )
    assert reason in _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert _user_id(client) is None


# Local accounts ----------------------------------------------------------------------------------


def test_password_sign_in_keeps_working_beside_oidc(client, oidc, django_user_model):
    django_user_model.objects.create_user(username="vera-viewer", password="pw-vera-viewer")
    response = client.post("/login/", {"username": "vera-viewer", "password": "pw-vera-viewer"})
    assert response.status_code == 302 and _user_id(client)


def test_the_lockout_still_counts_passwords_and_not_oidc_sign_ins(
    client, provider, oidc, django_user_model, settings
):
    django_user_model.objects.create_user(username="vera-viewer", password="pw-vera-viewer")
    provider.claim_overrides = {"aud": "another-application"}
    for _ in range(settings.ADVISOR_LOGIN_FAILURE_LIMIT + 1):
        _refusal(client, sign_in(client, provider, "alice@contoso.com", "pw-alice"))
    assert not AccessAttempt.objects.exists()  # refused sign-ins by the provider are not password guesses
    for i in range(settings.ADVISOR_LOGIN_FAILURE_LIMIT):
        client.post("/login/", {"username": "vera-viewer", "password": f"wrong-{i}"})
    locked = client.post("/login/", {"username": "vera-viewer", "password": "pw-vera-viewer"})
    assert locked.status_code == 429 and _user_id(client) is None
    # The lockout is for passwords: single sign-on still signs in.
    provider.claim_overrides = {}
    assert sign_in(client, provider, "alice@contoso.com", "pw-alice").status_code == 302 and _user_id(client)


def test_local_login_off_hides_the_form_and_refuses_passwords(
    client, provider, settings, tmp_path, django_user_model
):
    configure(settings, provider, tmp_path / "secret", local_login=False)
    django_user_model.objects.create_user(
        username="root", password="pw-root", is_superuser=True, is_staff=True
    )
    page = client.get("/login/").content.decode()
    assert "Sign in with Microsoft" in page and 'id="id_password"' not in page
    response = client.post("/login/", {"username": "root", "password": "pw-root"})
    assert response.status_code == 403 and _user_id(client) is None
    assert any("switched off" in m.message for m in get_messages(response.wsgi_request))
    # Nor through the admin's own form: no backend takes a password.
    client.post("/admin/login/?next=/admin/", {"username": "root", "password": "pw-root"})
    assert _user_id(client) is None
    # Single sign-on still does.
    assert sign_in(client, provider, "alice@contoso.com", "pw-alice").status_code == 302 and _user_id(client)


def test_a_password_session_ends_when_local_login_is_switched_off(
    client, provider, settings, tmp_path, django_user_model
):
    django_user_model.objects.create_user(username="vera-viewer", password="pw-vera-viewer")
    client.post("/login/", {"username": "vera-viewer", "password": "pw-vera-viewer"})
    assert client.get("/teams/").status_code == 200
    configure(settings, provider, tmp_path / "secret", local_login=False)
    assert client.get("/teams/").status_code == 302  # back to the sign-in page


def test_the_authorization_request_carries_state_nonce_and_a_pkce_challenge(client, oidc):
    from urllib.parse import parse_qs, urlsplit

    start = client.get("/oidc/authenticate/")
    fields = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    assert fields["client_id"] == CLIENT_ID and fields["redirect_uri"] == CALLBACK
    assert fields["scope"] == "openid profile email" and fields["response_type"] == "code"
    assert fields["code_challenge_method"] == "S256" and len(fields["code_challenge"]) == 43
    stored = client.session["oidc_states"][fields["state"]]
    assert stored["nonce"] == fields["nonce"] and len(fields["state"]) == 32
