from django import forms

from advisor.core.rules import get_rule
from advisor.registry.models import Instance, Namespace, Waiver

from . import clock

_TARGET_MODELS = {"namespace": Namespace, "instance": Instance}


class WaiverForm(forms.ModelForm):
    class Meta:
        model = Waiver
        fields = ["rule", "target", "reason", "expires", "approved_by"]
        widgets = {
            "rule": forms.TextInput(attrs={"class": "form-control font-monospace", "placeholder": "TTL001"}),
            "target": forms.TextInput(
                attrs={"class": "form-control font-monospace", "placeholder": "namespace:product-cache"}
            ),
            "reason": forms.Textarea(attrs={"class": "form-control", "rows": 3}),
            "expires": forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
            "approved_by": forms.TextInput(attrs={"class": "form-control"}),
        }
        help_texts = {
            "target": "namespace:NAME or instance:NAME",
            "reason": "Why the exception is acceptable, and what ends it.",
            "expires": "The waiver applies up to and including this day; then the finding counts again.",
            "approved_by": "Who accepted the risk (a person or a board).",
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
        if expires < clock.today():
            raise forms.ValidationError("The expiry date is in the past: such a waiver would never apply.")
        return expires
