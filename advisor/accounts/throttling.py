"""Login throttling with django-axes: after ADVISOR_LOGIN_FAILURE_LIMIT failed sign-ins for one
username from one address, that username is locked out from that address for
ADVISOR_LOGIN_COOLOFF_MINUTES after the last failed attempt (each attempt during the lockout,
right password or not, starts the wait again). Other users, and the same user from elsewhere,
are not affected. API tokens never go through a password check, so the API is untouched.

The address is the connecting one; behind a proxy (ADVISOR_BEHIND_PROXY) it is the one the proxy
saw, the last entry of X-Forwarded-For, which the proxy appends itself (entries before it are
whatever the client sent).

An administrator lifts a lockout in the admin (Axes → Access attempts: delete the row) or with
`python manage.py axes_reset_username USERNAME`.
"""

import ipaddress

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.shortcuts import render


def client_address(request) -> str | None:
    """The client's address for the lockout (axes' AXES_CLIENT_IP_CALLABLE)."""
    if settings.ADVISOR_BEHIND_PROXY:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))  # the column holds addresses only
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' lockout check for sign-ins made through a request (the login page, the admin's).

    Code that authenticates without one (the shell, a management command) has no client to lock
    out; axes itself would raise there, so such calls go straight to the next backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def locked_out(request, original_response=None, credentials=None):
    """The page shown instead of the login form while locked out (axes' AXES_LOCKOUT_CALLABLE)."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60)
    response = render(
        request,
        "registration/locked_out.html",
        {
            "username": get_client_username(request, credentials) or "",
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": minutes,
        },
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
