import datetime as dt

from django import forms

from advisor.core.rules import get_rule
from advisor.registry.models import WAIVER_MAX_DAYS, Instance, Namespace, Waiver

from . import clock

_TARGET_MODELS = {"namespace": Namespace, "instance": Instance}


class WaiverForm(forms.ModelForm):
    class Meta:
        model = Waiver
        # approved_by is not a field: the server records who granted the waiver.
        fields = ["rule", "target", "reason", "expires"]
        widgets = {
            "rule": forms.TextInput(attrs={"class": "form-control font-monospace", "placeholder": "TTL001"}),
            "target": forms.TextInput(
                attrs={"class": "form-control font-monospace", "placeholder": "namespace:product-cache"}
            ),
            "reason": forms.Textarea(attrs={"class": "form-control", "rows": 3}),
            "expires": forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "target": "namespace:NAME or instance:NAME",
            "reason": "Why the exception is acceptable, and what ends it.",
            "expires": "The waiver applies up to and including this day; then the finding counts again.",
        }

    def clean_rule(self):
        rule = self.cleaned_data["rule"].strip().upper()
        try:
            get_rule(rule)
        except KeyError:
            raise forms.ValidationError(f"There is no rule {rule}.") from None
        return rule

    def clean_target(self):
        target = self.cleaned_data["target"].strip()
        kind, _, name = target.partition(":")
        model = _TARGET_MODELS.get(kind)
        if model is None:
            raise forms.ValidationError("Use namespace:NAME or instance:NAME.")
        if not model.objects.filter(name=name).exists():
            raise forms.ValidationError(f"There is no {kind} named {name}.")
        return target

    def clean_expires(self):
        expires = self.cleaned_data["expires"]
        today = clock.today()
        if expires < today:
            raise forms.ValidationError("The expiry date is in the past: such a waiver would never apply.")
        if expires > today + dt.timedelta(days=WAIVER_MAX_DAYS):
            raise forms.ValidationError(
                f"A waiver may run at most {WAIVER_MAX_DAYS} days; renew it when it ends."
            )
        return expires
