"""The site's error pages: 403, 404 and 500 inside the app's layout.

A refusal (PermissionDenied) or a missing object (Http404) is an expected answer, not a fault: its
page carries the reason the code gave, and the log gets one warning line without a traceback.
Django's own handlers would log both with the exception attached (a traceback per refused click).
A 500 page says nothing about the fault (its details are in the log Django writes) and is rendered
without context processors, so a failing database or session cannot break the error page itself.
"""

import logging

from django.http import HttpResponseForbidden, HttpResponseNotFound, HttpResponseServerError
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


def _answer(request, response, message: str, reason: str):
    # One line, no exc_info; Django's own log_response then sees the response logged and stays quiet.
    logger.warning(
        "%s: %s%s",
        message,
        request.path.encode("unicode_escape").decode("ascii"),
        f" ({reason})" if reason else "",
        extra={"status_code": response.status_code, "request": request},
    )
    response._has_been_logged = True
    return response


def permission_denied(request, exception=None):
    reason = _reason(exception)
    body = loader.render_to_string("403.html", {"reason": reason}, request)
    return _answer(request, HttpResponseForbidden(body), "Forbidden (Permission denied)", reason)


def page_not_found(request, exception=None):
    reason = _reason(exception)
    body = loader.render_to_string("404.html", {"reason": reason, "request_path": request.path}, request)
    return _answer(request, HttpResponseNotFound(body), "Not Found", reason)


def server_error(request):
    try:
        body = loader.get_template("500.html").render({})  # no request: no context processors run
    except Exception:
        logger.exception("The 500 page failed to render")
        body = _FALLBACK_500
    return HttpResponseServerError(body)
