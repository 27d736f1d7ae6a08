"""Who is calling the API: a script with a personal token, or a logged-in browser.

Scripts send `Authorization: Bearer rka_...`; the browser (and the interactive docs) use the
Django session and must send the CSRF token on unsafe methods. Anyone else gets a 401; an
expired token gets a 401 that says so (ExpiredToken), so its owner knows to create a new one.
"""

from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from advisor.accounts.models import ApiToken, TokenExpired

# Longer than any token we issue; keeps junk headers away from the database.
_MAX_TOKEN_LENGTH = 200


class ExpiredToken(AuthenticationError):
    """A 401 whose detail is the reason: the token was genuine but has expired."""

    def __init__(self, reason: str):
        super().__init__(401, reason)
        self.reason = reason


class TokenAuth(HttpBearer):
    def __call__(self, request):
        # HttpBearer logs a header with another scheme verbatim under DEBUG; it may hold a secret.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token)

    def authenticate(self, request, token):
        if not (token.isascii() and token.isprintable()) or len(token) > _MAX_TOKEN_LENGTH:
            return None
        try:
            return ApiToken.authenticate(token)
        except TokenExpired as exc:
            raise ExpiredToken(str(exc)) from None


class BrowserSessionAuth(SessionAuth):
    """The Django session, with ninja's CSRF check for unsafe methods."""

    def __call__(self, request):
        # A request carrying an Authorization header is judged by its token alone, so a wrong
        # token is a 401 and not a CSRF failure. An anonymous request is a 401 as well: the CSRF
        # check only protects a session that exists.
        if "authorization" in request.headers or not request.user.is_authenticated:
            return None
        return super().__call__(request)


def token_user(request):
    """The user of a valid bearer token on this request, or None (an expired token is not valid)."""
    try:
        return TokenAuth()(request)
    except ExpiredToken:
        return None


api_auth = [TokenAuth(), BrowserSessionAuth(csrf=True)]
