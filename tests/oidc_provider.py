"""A real OpenID Connect provider on loopback for the sign-in tests, built with Authlib's
authorization server (authorization code grant, OpenID Connect id tokens, PKCE) behind a small
WSGI app on a free port, in a thread of the test process.

It serves what the advisor uses of Entra ID: the discovery document, an authorization endpoint
with a sign-in page (username and password), the token endpoint (client_secret_post or basic),
the JWKS with the RS256 key its id tokens are signed with (a `kid` in both), and a UserInfo
endpoint. Per test it holds users with their claims (oid, preferred_username, groups...), and
`claim_overrides` rewrite any claim of the next id tokens (aud, exp, nonce...), `forge_state`
sends the browser back with another state than the one it came with, `sign_with` signs with a key
the JWKS does not publish.

Nothing leaves the machine: the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import JsonRequest, grants
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from requests.structures import CaseInsensitiveDict

TENANT_ID = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"


# Users, clients, codes ----------------------------------------------------------------------------


@dataclass
class User:
    username: str
    password: str
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    groups: list[str] = field(default_factory=list)
    email: str | None = None
    name: str | None = None

    def claims(self, client_id: str) -> dict:
        out = {
            # Entra's sub is pairwise: per user and application.
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{client_id}/{self.oid}")),
            "oid": self.oid,
            "tid": TENANT_ID,
            "preferred_username": self.username,
            "name": self.name or self.username.split("@")[0].title(),
            "groups": list(self.groups),
            "ver": "2.0",
        }
        if self.email:
            out["email"] = self.email
        return out


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in ("openid", "profile", "email"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret or "", self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None

    def is_expired(self):
        return time.time() - self.auth_time > 300


# Requests from WSGI ---------------------------------------------------------------------------------


class _Payload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]):
        self._datalist = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class WsgiOAuth2Request(OAuth2Request):
    def __init__(self, environ, uri: str, query: list, form: list):
        headers = CaseInsensitiveDict(
            {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        )
        super().__init__(environ["REQUEST_METHOD"], uri, headers=headers)
        self.payload = _Payload(query + form)
        self._args = dict(query)
        self._form = dict(form)

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


# The authorization server -------------------------------------------------------------------------


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        self.server.provider.codes[code] = Code(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope
            if isinstance(getattr(request, "scope", None), str)
            else data.get("scope", ""),
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code, client):
        item = self.server.provider.codes.get(code)
        if item and item.client_id == client.client_id and not item.is_expired():
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        self.server.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider):
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce, request):
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def resolve_client_private_key(self, client):
        return (self.provider.sign_with or (self.provider.key, None))[0]

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {
            "alg": "RS256",
            "typ": "JWT",
            "kid": (self.provider.sign_with or (None, self.provider.kid))[1],
        }

    def get_client_claims(self, client):
        now = int(time.time())
        # Entra's id tokens carry aud as a string, the application (client) id.
        return {
            "iss": self.provider.issuer,
            "aud": client.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }

    def generate_user_info(self, user, scope):
        # Merged last into the id token's claims: the overrides win over everything.
        return {**user.claims(self.provider.client.client_id), **self.provider.claim_overrides}


class _Server(AuthorizationServer):
    def __init__(self, provider):
        super().__init__(scopes_supported=["openid", "profile", "email"])
        self.provider = provider
        self.register_token_generator(
            "default", BearerTokenGenerator(access_token_generator=lambda **kw: secrets.token_urlsafe(32))
        )
        self.register_grant(_CodeGrant, [CodeChallenge(required=True), _OpenIDCode(provider)])

    def query_client(self, client_id):
        client = self.provider.client
        return client if client and client.client_id == client_id else None

    def save_token(self, token, request):
        self.provider.access_tokens[token["access_token"]] = request.user

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return JsonRequest(request.method, request.uri, request.headers)

    def handle_response(self, status, body, headers):
        if isinstance(body, dict):
            body = json.dumps(body)
        return status, list(headers), body

    def send_signal(self, name, *args, **kwargs):
        pass


# The provider ----------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


_STATUS = {
    200: "200 OK",
    302: "302 Found",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    404: "404 Not Found",
}

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body>
<h1>Contoso test identity provider</h1>
<p>Sign in to continue to {client}</p>
{error}
<form method="post" action="{action}">
{hidden}
<label>Username <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="sign-in" type="submit">Sign in</button>
</form>
</body></html>
"""


class Provider:
    """Start with `with Provider() as provider:`; `provider.issuer` is its URL."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, private=True)
        self.kid = secrets.token_hex(8)
        self.client: Client | None = None
        self.users: dict[str, User] = {}
        self.codes: dict[str, Code] = {}
        self.access_tokens: dict[str, User] = {}
        self.claim_overrides: dict = {}
        self.forge_state = False
        self.sign_with = None  # (key, kid) to sign with instead of the published key
        self.token_requests = 0
        self.server_ = _Server(self)
        self._httpd = make_server(
            "127.0.0.1", 0, self.app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.issuer = f"http://127.0.0.1:{self._httpd.server_port}/{TENANT_ID}/v2.0"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="oidc-provider", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # Test set-up
    def register_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.client = Client(client_id, client_secret, [redirect_uri])

    def add_user(self, username: str, password: str, **kwargs) -> User:
        user = User(username, password, **kwargs)
        self.users[username] = user
        return user

    @property
    def base(self) -> str:
        return self.issuer.rsplit("/", 2)[0]

    def metadata(self) -> dict:
        root = self.issuer
        return {
            "issuer": root,
            "authorization_endpoint": f"{root}/authorize",
            "token_endpoint": f"{root}/token",
            "jwks_uri": f"{root}/keys",
            "userinfo_endpoint": f"{root}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "oid",
                "tid",
                "preferred_username",
                "name",
                "email",
                "groups",
            ],
        }

    # WSGI
    def app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        prefix = urlsplit(self.issuer).path
        route = path[len(prefix) :] if path.startswith(prefix) else None
        method = environ["REQUEST_METHOD"]
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        form: list = []
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qsl(environ["wsgi.input"].read(length).decode(), keep_blank_values=True)
        uri = f"{self.base}{path}" + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        if route == "/.well-known/openid-configuration":
            status, headers, body = 200, [("Content-Type", "application/json")], json.dumps(self.metadata())
        elif route == "/keys":
            jwk = self.key.as_dict(private=False)
            jwk.update(kid=self.kid, use="sig")
            status, headers, body = 200, [("Content-Type", "application/json")], json.dumps({"keys": [jwk]})
        elif route == "/authorize":
            status, headers, body = self._authorize(WsgiOAuth2Request(environ, uri, query, form), form)
        elif route == "/token" and method == "POST":
            self.token_requests += 1
            status, headers, body = self.server_.create_token_response(
                WsgiOAuth2Request(environ, uri, query, form)
            )
        elif route == "/userinfo":
            auth = environ.get("HTTP_AUTHORIZATION", "")
            user = self.access_tokens.get(auth.removeprefix("Bearer ").strip())
            if user is None:
                status, headers, body = 401, [("WWW-Authenticate", 'Bearer error="invalid_token"')], ""
            else:
                status, headers, body = (
                    200,
                    [("Content-Type", "application/json")],
                    json.dumps(user.claims(self.client.client_id)),
                )
        else:
            status, headers, body = 404, [("Content-Type", "text/plain")], "not found"
        start_response(_STATUS.get(status, f"{status} Error"), [*headers, ("Cache-Control", "no-store")])
        return [body.encode() if isinstance(body, str) else body]

    def _authorize(self, request, form):
        try:
            grant = self.server_.get_consent_grant(request, end_user=None)
        except OAuth2Error as error:
            status, body, headers = error()
            if status == 302:
                return status, headers, ""
            return 400, [("Content-Type", "text/plain")], f"{error.error}: {error.description}"
        if request.method == "GET":
            return self._login_page(request, "")
        fields = dict(form)
        user = self.users.get(fields.get("username", ""))
        if user is None or not secrets.compare_digest(user.password, fields.get("password", "")):
            return self._login_page(request, "Your account or password is incorrect.")
        status, headers, body = self.server_.create_authorization_response(
            request, grant_user=user, grant=grant
        )
        if self.forge_state:
            headers = [
                (k, _with_state(v, secrets.token_urlsafe(24)) if k == "Location" else v) for k, v in headers
            ]
        return status, headers, body

    def _login_page(self, request, error: str):
        keep = {k: v for k, v in request.payload.data.items() if k not in ("username", "password")}
        hidden = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in keep.items()
        )
        page = LOGIN_PAGE.format(
            action=html.escape(f"{self.issuer}/authorize"),
            client=html.escape(request.payload.client_id or ""),
            error=f'<p id="error" role="alert">{html.escape(error)}</p>' if error else "",
            hidden=hidden,
        )
        return 200, [("Content-Type", "text/html; charset=utf-8")], page


def _with_state(location: str, state: str) -> str:
    parts = urlsplit(location)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "state"] + [("state", state)]
    return urlunsplit(parts._replace(query=urlencode(query)))


# The advisor's side: settings as advisor/settings.py makes them from ADVISOR_OIDC_* --------------

CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "test-client-secret-" + "x" * 20


def configure(settings, provider: Provider, secret_file, *, local_login: bool = True, group_map=None, **env):
    """Point the advisor at `provider` (the client secret by reference, in `secret_file`)."""
    from advisor.accounts import oidc, oidc_settings

    secret_file.write_text(CLIENT_SECRET + "\n")
    environ = {
        "ADVISOR_OIDC_ISSUER": provider.issuer,
        "ADVISOR_OIDC_CLIENT_ID": CLIENT_ID,
        "ADVISOR_OIDC_CLIENT_SECRET_ENV": str(secret_file),
        "ADVISOR_OIDC_LABEL": "Microsoft",
        **env,
    }
    if group_map is not None:
        environ["ADVISOR_OIDC_GROUP_MAP"] = json.dumps(group_map)
    config = oidc_settings.from_environ(environ)
    settings.ADVISOR_OIDC = config
    settings.ADVISOR_LOCAL_LOGIN = local_login
    settings.AUTHENTICATION_BACKENDS = [
        "advisor.accounts.throttling.LoginThrottleBackend",
        "advisor.accounts.oidc.OidcBackend",
        *(["django.contrib.auth.backends.ModelBackend"] if local_login else []),
    ]
    oidc.forget_metadata()
    return config


def sign_in(client, provider: Provider, username: str, password: str, *, next_url: str = ""):
    """The whole code flow with Django's test client and a plain HTTP session as the browser's two
    halves: the advisor's response to the callback (not followed)."""
    import requests

    start = client.get("/oidc/authenticate/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start
    browser = requests.Session()
    page = browser.get(start["Location"], timeout=10)
    assert page.status_code == 200 and 'id="sign-in"' in page.text, page.text[:500]
    fields = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    answer = browser.post(
        f"{provider.issuer}/authorize",
        data={**fields, "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    back = urlsplit(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")
