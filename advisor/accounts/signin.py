"""The sign-in page and the two OpenID Connect steps (advisor.accounts.oidc).

/login/              the password form (unless ADVISOR_LOCAL_LOGIN=false) and, when OIDC is
                     configured, "Sign in with Microsoft"
/oidc/authenticate/  sends the browser to the provider with a fresh state, nonce and PKCE challenge
/oidc/callback/      takes the provider's answer: the state must be one this browser's session
                     started (else refused), the code is exchanged and the id token checked
                     (advisor.accounts.oidc.OidcBackend); any refusal lands on the sign-in page
                     with its reason, not signed in

Both OIDC addresses answer 404 while OIDC is not configured.

With ADVISOR_LOCAL_LOGIN=false no password is accepted here, nor in the Django admin's form (the
password backend is not installed then), for anyone, superusers included: the way back in when
the provider fails is the operator's, setting ADVISOR_LOCAL_LOGIN=true again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .oidc import OidcRefused, current, library_setting, provider_metadata

log = logging.getLogger(__name__)

LOCAL_LOGIN_OFF = "Sign-in with a password is switched off here: use the single sign-on button."


def _log_refusal(request, reason: str) -> None:
    address = request.META.get("REMOTE_ADDR", "")
    log.warning("single sign-on refused from %s: %s", address, reason.replace("\n", " "))


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = current()
        context["oidc_label"] = config.label if config else None
        context["local_login"] = settings.ADVISOR_LOCAL_LOGIN
        return context

    def post(self, request, *args, **kwargs):
        if not settings.ADVISOR_LOCAL_LOGIN:
            messages.error(request, LOCAL_LOGIN_OFF)
            return render(request, self.template_name, self.get_context_data(), status=403)
        return super().post(request, *args, **kwargs)


def _configured():
    config = current()
    if config is None:
        raise Http404("Single sign-on is not configured.")
    return config


def _refuse(request, reason: str):
    _log_refusal(request, reason)
    messages.error(request, f"Sign-in refused. {reason}")
    return redirect("login")


class AuthenticateView(OIDCAuthenticationRequestView):
    get_settings = staticmethod(library_setting)

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the library's reads settings that are ours; see get()

    def get(self, request):
        config = _configured()
        try:
            metadata = provider_metadata(config)
        except OidcRefused as e:
            return _refuse(request, str(e))
        self.OIDC_OP_AUTH_ENDPOINT = metadata["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = config.client_id
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(library_setting)

    def get(self, request):
        _configured()
        try:
            return super().get(request)
        except OidcRefused as e:
            return _refuse(request, str(e))
        except SuspiciousOperation:
            # The library's own refusal here: a state this browser's session never started.
            return _refuse(request, _UNKNOWN_STATE)

    def login_success(self):
        response = super().login_success()
        # The groups are read again at the next sign-in: a session lasts ADVISOR_OIDC_SESSION_HOURS.
        self.request.session.set_expiry(current().session_seconds)
        return response

    def login_failure(self):
        request = self.request
        if request.GET.get("error"):
            error = request.GET.get("error", "")[:80]
            lines = (request.GET.get("error_description") or "").strip().splitlines()
            description = lines[0][:300] if lines else ""
            return _refuse(
                request, f"The sign-in service answered {error}{': ' + description if description else ''}."
            )
        user = getattr(self, "user", None)
        if user is not None and not user.is_active:
            return _refuse(
                request, "This account is deactivated in the advisor; an administrator can reactivate it."
            )
        if "code" in request.GET and "state" in request.GET and "oidc_states" not in request.session:
            return _refuse(request, _UNKNOWN_STATE)
        return _refuse(request, "The sign-in did not complete. Start again.")


_UNKNOWN_STATE = (
    "The answer from the sign-in service does not belong to a sign-in started in this browser (unknown "
    "state): it may be forged or replayed. Start again from this page."
)
