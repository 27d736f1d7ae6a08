from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "e.g. ci-pipeline"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per form, not at import: the bounds are settings.
        default, maximum = settings.ADVISOR_TOKEN_DEFAULT_DAYS, settings.ADVISOR_TOKEN_MAX_DAYS
        self.fields["days"] = forms.IntegerField(
            label="Expires in (days)",
            min_value=1,
            max_value=maximum,
            required=False,
            initial=default,
            help_text=f"1 to {maximum} days; {default} if left empty.",
            widget=forms.NumberInput(
                attrs={"class": "form-control", "min": 1, "max": maximum, "aria-describedby": "days-help"}
            ),
        )

    def clean_days(self):
        days = self.cleaned_data.get("days")
        return settings.ADVISOR_TOKEN_DEFAULT_DAYS if days is None else days


@never_cache  # the response may carry a new token in clear
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    form = TokenForm(request.POST or None)
    new_token = new_token_expires_at = None
    if request.method == "POST" and form.is_valid():
        token, new_token = ApiToken.issue(
            user=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
        )
        new_token_expires_at = token.expires_at
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    # The raw token is rendered once, in this response only; it is never stored.
    return render(
        request,
        "accounts/token_list.html",
        {
            "tokens": tokens,
            "form": form,
            "new_token": new_token,
            "new_token_expires_at": new_token_expires_at,
            "soon_days": 7,
        },
    )


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("token_list")
