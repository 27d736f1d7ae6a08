"""The site's error pages: 400, 403 (a refusal or a failed CSRF check), 404 and 500 inside the app's layout.

A refusal (PermissionDenied) or a missing object (Http404) is an expected answer, not a fault: its
page carries the reason the code gave, and the log gets one warning line without a traceback.
Django's own handlers would log both with the exception attached (a traceback per refused click).
A 500 page says nothing about the fault (its details are in the log Django writes) and is rendered
without context processors, so a failing database or session cannot break the error page itself.
"""

import logging

from django.http import (
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseServerError,
)
from django.template import loader

logger = logging.getLogger("django.request")

_FALLBACK_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Server error · Redis key advisor</title>'
    "</head><body><h1>Server error</h1><p>Something went wrong on our side; the error has been logged.</p>"
    "</body></html>"
)


def _reason(exception) -> str:
    """The message the code gave when raising, if it gave one as text (a resolver's 404 gives a dict)."""
    if exception is None or not exception.args:
        return ""
    message = exception.args[0]
    return message if isinstance(message, str) else ""


def _escaped(text: str) -> str:
    # As Django's log_response does with the path: a newline in a URL cannot forge a log line.
    return text.encode("unicode_escape").decode("ascii")


def _who(request) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return "anonymous"
    return _escaped(user.get_username())


def _answer(request, response, message: str, reason: str):
    # One line (path, user, reason), no exc_info; Django's own log_response then sees the response
    # logged and stays quiet.
    logger.warning(
        "%s: %s by %s%s",
        message,
        _escaped(request.path),
        _who(request),
        f" ({_escaped(reason)})" if reason else "",
        extra={"status_code": response.status_code, "request": request},
    )
    response._has_been_logged = True
    return response


def bad_request(request, exception=None):
    """A request Django refused before any view (a host not allowed, a malformed upload, too many
    fields). The reason stays in the log: it can name the header an attacker sent."""
    body = loader.render_to_string("400.html", {}, request)
    return _answer(request, HttpResponseBadRequest(body), "Bad Request", _reason(exception))


def permission_denied(request, exception=None):
    reason = _reason(exception)
    body = loader.render_to_string("403.html", {"reason": reason}, request)
    return _answer(request, HttpResponseForbidden(body), "Forbidden (Permission denied)", reason)


def page_not_found(request, exception=None):
    reason = _reason(exception)
    body = loader.render_to_string("404.html", {"reason": reason, "request_path": request.path}, request)
    return _answer(request, HttpResponseNotFound(body), "Not Found", reason)


def csrf_failure(request, reason=""):
    """A form refused by the CSRF check (settings.CSRF_FAILURE_VIEW): the layout, what to do, the reason."""
    body = loader.render_to_string("403_csrf.html", {"reason": reason}, request)
    return _answer(request, HttpResponseForbidden(body), "Forbidden (CSRF check failed)", reason)


def server_error(request):
    try:
        body = loader.get_template("500.html").render({})  # no request: no context processors run
    except Exception:
        logger.exception("The 500 page failed to render")
        body = _FALLBACK_500
    return HttpResponseServerError(body)
