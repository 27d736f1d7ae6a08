"""Who is calling the API: a script with a personal token, or a logged-in browser.

Scripts send `Authorization: Bearer rka_...`; the browser (and the interactive docs) use the
Django session and must send the CSRF token on unsafe methods. Anyone else gets a 401.
"""

from ninja.security import HttpBearer, SessionAuth

from advisor.accounts.models import ApiToken

# Longer than any token we issue; keeps junk headers away from the database.
_MAX_TOKEN_LENGTH = 200


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
        return ApiToken.authenticate(token)


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
    """The user of a valid bearer token on this request, or None."""
    return TokenAuth()(request)


api_auth = [TokenAuth(), BrowserSessionAuth(csrf=True)]
