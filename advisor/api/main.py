import logging
from functools import wraps

import pydantic
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError, connection
from django.http import Http404
from ninja import NinjaAPI, Router, Status, Swagger
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError

from advisor.registry.writes import Conflict, Invalid

from .auth import api_auth, token_user
from .registry import router as registry_router
from .schemas import BodyParser, Error, Health, body_error, pydantic_errors

logger = logging.getLogger(__name__)


def _docs_access(view):
    """The docs and the OpenAPI document are for people who may use the API."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated or token_user(request):
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return wrapper


api = NinjaAPI(
    parser=BodyParser(),
    title="Redis key advisor API",
    version="1",
    description=(
        "Teams, instances, key namespaces, findings and scans of the Redis key design advisor.\n\n"
        "Every resource is its entry of the design file (`design-file.md`). Authenticate with the "
        "browser session (send the CSRF token on writes) or with a personal API token: "
        '`Authorization: Bearer rka_...`. Errors are `{"detail": "..."}`, or for invalid input '
        '(422) `{"detail": [{"loc": ["body", "payload", "ttl", "seconds"], "msg": "...", "type": "..."}]}`.\n\n'
        "Each operation lists the statuses it answers: 400 a body that is not JSON, 401 no valid token "
        "or session (or an expired token), 403 not allowed, or a browser write without its CSRF token, "
        "404 no such resource, 409 a conflict with the current state (a taken name, rows that depend on "
        "this one, a review decided meanwhile), 413 a body over the size limit, 415 a body of another "
        "content type, 422 invalid input, 503 a service the operation needs is down."
    ),
    urls_namespace="api",
    auth=api_auth,
    docs=Swagger(settings={"validatorUrl": None}),  # the validator badge would call swagger.io
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=_docs_access,
)
api.add_router("", registry_router)
api.add_router("", "advisor.api.findings.router")
api.add_router("", "advisor.api.reviews.router")
api.add_router("", "advisor.api.scans.router")
api.add_router("", "advisor.api.migration.router")


@api.get("/health", auth=None, response={200: Health, 503: Error}, tags=["health"])
def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("health check: database unavailable")
        return Status(503, {"detail": "database unavailable"})
    return {"status": "ok"}


# Errors: every failure is JSON, and no input reaches a 500 -------------------------------------


def _detail(request, status: int, detail, **headers):
    response = api.create_response(request, {"detail": detail}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    # An expired token says so (advisor.api.auth.ExpiredToken); anything else gets the generic 401.
    reason = getattr(exc, "reason", None)
    return _detail(
        request,
        401,
        reason or "Authentication required: log in, or send 'Authorization: Bearer <token>'.",
        **{"WWW-Authenticate": 'Bearer realm="api"' + (', error="invalid_token"' if reason else "")},
    )


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return _detail(request, 403, str(exc) or "Permission denied.")


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _detail(request, 404, str(exc) or "Not found.")


@api.exception_handler(Conflict)
def _conflict(request, exc):
    return _detail(request, 409, str(exc))


@api.exception_handler(Invalid)
def _invalid_entry(request, exc):
    # A registry write refused what only the database can see (a reference, a column's limits).
    return _detail(request, 422, [body_error(e["loc"], e["msg"], e["type"]) for e in exc.errors])


@api.exception_handler(IntegrityError)
def _integrity(request, exc):
    # Only reached when the checks before saving lost a race, or a row protects itself
    # (on_delete=PROTECT) in a way the services did not anticipate.
    logger.warning("API write refused by the database: %s", exc)
    return _detail(request, 409, "The change conflicts with other records.")


@api.exception_handler(DataError)
def _data(request, exc):
    # The one 422 shape (schemas.ValidationErrors): a NUL byte in a text on PostgreSQL, a number
    # past a column's range. The body is where it came from; which field the driver does not say.
    logger.warning("API write refused by the database: %s", exc)
    return _detail(
        request, 422, [body_error((), "A value does not fit what the database can store.", "value_error")]
    )


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc):
    # One shape for every 422 (schemas.ValidationErrors): ninja's own errors carry pydantic's
    # `ctx` as well, which the located message already says.
    return _detail(
        request, 422, [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors]
    )


@api.exception_handler(pydantic.ValidationError)
def _pydantic_invalid(request, exc):
    return _detail(request, 422, pydantic_errors(exc))


@api.exception_handler(DjangoValidationError)
def _django_invalid(request, exc):
    return _detail(request, 422, [{"loc": [], "msg": m, "type": "invalid"} for m in exc.messages])


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return _detail(request, 413, "The request body is too large.")


# Last of all: a path under /api/ that no operation has is a JSON 404 like every other API error,
# not the site's HTML page (a name with a "/" in it lands here too). Routers added after this one
# would never be reached.
_unknown_paths = Router()


@_unknown_paths.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:path}", auth=None, include_in_schema=False
)
def unknown_path(request, path: str):
    raise Http404("No API operation has this path; the operations are listed at /api/docs.")


api.add_router("", _unknown_paths)
