"""Sign-in with Microsoft Entra ID, or any OpenID Connect provider, with mozilla-django-oidc.

Why mozilla-django-oidc: it is a small, plain OpenID Connect relying party for Django (the
authorization code flow with state, nonce and PKCE kept in the session, the code exchanged at the
token endpoint, the id token's signature checked against the provider's JWKS) and nothing else.
The alternative, django-allauth, brings its own account system (sign-up, e-mail addresses and
confirmation, social accounts, many templates and settings) that this app, whose accounts come
from its administrators or from the provider, would have to switch off piece by piece.

What this module adds to the library:

* the configuration comes from advisor.accounts.oidc_settings (ADVISOR_OIDC_*, read by
  advisor/settings.py), the endpoints from the provider's discovery document, the client secret
  from its reference at each sign-in;
* the id token is checked in full: signature (RS256, a key of the provider's JWKS), issuer,
  audience (this app's client id; `azp` when there are several), expiry and issue time, nonce.
  The library itself leaves audience and issuer unchecked and turns an expired token into a
  server error;
* the claims come from the verified id token, not the UserInfo endpoint, which for Entra ID
  returns neither `oid` nor `groups`; the account is found by `oid`/`sub` and its group rights are
  re-applied at each sign-in (advisor.accounts.oidc_rights);
* every refusal is an OidcRefused with a sentence for the person refused (advisor.accounts.signin).

Entra ID: endpoints https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc,
id token claims (aud, iss, nonce, oid, sub, groups and the groups overage) https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference
"""

from __future__ import annotations

import hmac
import logging
import threading
import time

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from .oidc_settings import OidcConfig, read_secret

log = logging.getLogger(__name__)

SIGNING_ALGORITHM = "RS256"  # Entra ID signs id tokens with RS256 (the token's alg header)
HTTP_TIMEOUT_S = 10
# Clocks of this host and the provider's may differ a little: exp, nbf and iat allow this much.
CLOCK_SKEW_S = 60
METADATA_TTL_S = 3600

# The library's own settings, fixed here rather than left to django.conf.settings.
_LIBRARY_SETTINGS = {
    "OIDC_RP_SIGN_ALGO": SIGNING_ALGORITHM,
    "OIDC_RP_IDP_SIGN_KEY": None,
    # profile: preferred_username, name and (Entra) oid; email: the e-mail address when there is one.
    "OIDC_RP_SCOPES": "openid profile email",
    "OIDC_USE_NONCE": True,
    "OIDC_USE_PKCE": True,
    "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
    "OIDC_TIMEOUT": HTTP_TIMEOUT_S,
    "OIDC_VERIFY_SSL": True,
    "OIDC_PROXY": None,
    "OIDC_TOKEN_USE_BASIC_AUTH": False,  # client_secret_post, which Entra ID accepts
    "OIDC_VERIFY_KID": True,
    "OIDC_ALLOW_UNSECURED_JWT": False,
    "OIDC_STORE_ACCESS_TOKEN": False,
    "OIDC_STORE_ID_TOKEN": False,
    "OIDC_CREATE_USER": True,
    "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc_authentication_callback",
    "OIDC_REDIRECT_FIELD_NAME": "next",
    "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {},
    "LOGIN_REDIRECT_URL_FAILURE": "login",
}


def library_setting(attr: str, *default):
    """The library's get_settings: the values above, then django.conf.settings (LOGIN_REDIRECT_URL...)."""
    if attr in _LIBRARY_SETTINGS:
        return _LIBRARY_SETTINGS[attr]
    return import_from_settings(attr, *default)


class OidcRefused(SuspiciousOperation):
    """A sign-in refused; the message is for the person refused (no secret, no token in it)."""


def current() -> OidcConfig | None:
    return getattr(settings, "ADVISOR_OIDC", None)


# The provider's discovery document ---------------------------------------------------------------

_metadata: dict[str, tuple[float, dict]] = {}
_metadata_lock = threading.Lock()


def forget_metadata() -> None:
    with _metadata_lock:
        _metadata.clear()


def provider_metadata(config: OidcConfig) -> dict:
    """The provider's OpenID configuration (endpoints, issuer), fetched once an hour per process.

    OidcRefused when it cannot be had or is not the configured provider's.
    """
    with _metadata_lock:
        cached = _metadata.get(config.discovery_url)
        if cached and time.monotonic() - cached[0] < METADATA_TTL_S:
            return cached[1]
    try:
        response = requests.get(config.discovery_url, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as e:
        log.warning("single sign-on: discovery document %s: %s", config.discovery_url, e)
        raise OidcRefused(
            "The sign-in service cannot be reached right now (its configuration document did not load). "
            "Try again in a moment; if it goes on, tell an administrator."
        ) from None
    if not isinstance(metadata, dict):
        raise OidcRefused("The sign-in service answered with something other than its configuration.")
    issuer = metadata.get("issuer")
    if not isinstance(issuer, str) or not config.issuer_accepted(issuer):
        log.error(
            "single sign-on: %s names issuer %r, not the configured %s",
            config.discovery_url,
            issuer,
            config.issuer,
        )
        raise OidcRefused("The sign-in service's configuration names another issuer than the configured one.")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not metadata.get(k)]
    if missing:
        raise OidcRefused(f"The sign-in service's configuration lacks {', '.join(missing)}.")
    with _metadata_lock:
        _metadata[config.discovery_url] = (time.monotonic(), metadata)
    return metadata


# The authentication backend ----------------------------------------------------------------------


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in with the code of an OpenID Connect callback (advisor.accounts.signin.CallbackView).

    Its authenticate() takes `nonce` and `code_verifier` only, so Django never offers it a
    username and password: password sign-in goes to the next backend as before.
    """

    get_settings = staticmethod(library_setting)

    def __init__(self, *args, **kwargs):
        # Built for every request that loads a signed-in user (get_user): no settings read, no network.
        self.UserModel = get_user_model()

    def authenticate(self, request, nonce=None, code_verifier=None):
        config = current()
        if config is None or request is None or not nonce:
            return None
        metadata = provider_metadata(config)
        self.config = config
        self.issuer = metadata["issuer"]
        self.OIDC_OP_TOKEN_ENDPOINT = metadata["token_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = metadata["jwks_uri"]
        self.OIDC_OP_USER_ENDPOINT = metadata.get("userinfo_endpoint")
        self.OIDC_RP_CLIENT_ID = config.client_id
        self.OIDC_RP_CLIENT_SECRET = read_secret(config.secret)
        self.OIDC_RP_SIGN_ALGO = SIGNING_ALGORITHM
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)

    def get_token(self, payload):
        try:
            return super().get_token(payload)
        except requests.HTTPError as e:
            detail = _error_of(e.response)
            log.warning("single sign-on: the token endpoint refused the code: %s", detail)
            raise OidcRefused(
                f"The sign-in service refused to complete the sign-in ({detail}). Start again."
            ) from None
        except requests.RequestException as e:
            log.warning("single sign-on: token endpoint: %s", e)
            raise OidcRefused(
                "The sign-in service cannot be reached right now. Try again in a moment."
            ) from None

    def retrieve_matching_jwk(self, token):
        try:
            return super().retrieve_matching_jwk(token)
        except requests.RequestException as e:
            log.warning("single sign-on: JWKS: %s", e)
            raise OidcRefused("The sign-in service's signing keys cannot be loaded right now.") from None
        except (SuspiciousOperation, KeyError, jwt.PyJWTError):
            raise OidcRefused(
                "The identity token is signed with a key the sign-in service does not publish."
            ) from None

    def verify_token(self, token, **kwargs):
        """The id token's claims, once signature, issuer, audience, times and nonce are checked."""
        nonce = kwargs.get("nonce")
        if not isinstance(token, str) or not token:
            raise OidcRefused("The sign-in service returned no identity token.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRefused("The identity token is malformed.") from None
        if header.get("alg") != SIGNING_ALGORITHM:
            raise OidcRefused(
                f"The identity token is signed with {header.get('alg')!r}, not {SIGNING_ALGORITHM}."
            )
        key = self.retrieve_matching_jwk(token)
        client_id = self.config.client_id
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[SIGNING_ALGORITHM],
                audience=client_id,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcRefused("The identity token has expired. Sign in again.") from None
        except jwt.InvalidAudienceError:
            aud = _unverified(token).get("aud")
            raise OidcRefused(
                f"The identity token was issued for another application (audience {aud!r}), not this one "
                f"({client_id})."
            ) from None
        except jwt.InvalidIssuerError:
            raise OidcRefused(
                "The identity token comes from another issuer than the configured one."
            ) from None
        except jwt.ImmatureSignatureError:
            raise OidcRefused("The identity token is not valid yet (check this server's clock).") from None
        except jwt.MissingRequiredClaimError as e:
            raise OidcRefused(f"The identity token has no {e.claim} claim.") from None
        except jwt.InvalidSignatureError:
            raise OidcRefused("The identity token's signature does not verify.") from None
        except jwt.PyJWTError as e:
            raise OidcRefused(f"The identity token is not valid ({e}).") from None
        # OpenID Connect Core 1.0, 3.1.3.7: with several audiences, azp must be this client.
        if isinstance(claims["aud"], list) and len(claims["aud"]) > 1 and claims.get("azp") != client_id:
            raise OidcRefused("The identity token was issued to another application (azp).")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not nonce or not hmac.compare_digest(token_nonce, nonce):
            raise OidcRefused(
                "The identity token's nonce is not the one this browser's sign-in sent: it was replayed or "
                "forged. Start again."
            )
        # More groups than a token holds (200 in a JWT): Entra sends a pointer to Microsoft Graph
        # instead of the groups claim ("Groups overage claim" in the claims reference above).
        if "groups" in (claims.get("_claim_names") or {}) or claims.get("hasgroups"):
            raise OidcRefused(
                "Your account is in more groups than a sign-in token can list, so your groups cannot be "
                "read. An administrator can limit the groups claim to the groups assigned to the application."
            )
        if self.config.tenant and not claims.get("oid"):
            raise OidcRefused("The identity token has no oid claim (the profile scope).")
        return claims

    def get_user(self, user_id):
        # Django's check, which the library's get_user skips: a deactivated account's session ends.
        return ModelBackend.get_user(self, user_id)

    def get_userinfo(self, access_token, id_token, payload):
        # The verified id token's claims: Entra's UserInfo endpoint returns neither oid nor groups.
        return payload

    def verify_claims(self, claims):
        return True  # verify_token checked them

    def get_or_create_user(self, access_token, id_token, payload):
        from .oidc_rights import sign_in

        return sign_in(issuer=self.issuer, claims=payload, settings_map=self.config.group_map)


def _unverified(token: str) -> dict:
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


def _error_of(response) -> str:
    """The OAuth error code (RFC 6749, 5.2) of a token endpoint's refusal, without its long description."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    return str(error)[:80] if error else f"HTTP {response.status_code}"
