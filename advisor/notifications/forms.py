"""The channel form: its fields, and the service's validation shown field by field."""

from __future__ import annotations

from django import forms

from .events import EVENT_CHOICES
from .models import ChannelKind, NotificationChannel
from .services import ChannelData, channel_problems


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="How the team knows it, e.g. #cache-alerts.")
    kind = forms.ChoiceField(choices=ChannelKind.choices, label="Kind")
    target = forms.CharField(
        required=False,
        max_length=2000,
        label="Webhook URL or e-mail addresses",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Slack, Teams or JSON webhook: its https:// URL (the host must be on the administrators' "
        "allowlist). E-mail: addresses separated by commas.",
    )
    secret_ref = forms.CharField(
        required=False,
        max_length=300,
        label="Signing secret (reference)",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="JSON webhook only: where the HMAC secret is, never the secret itself: an environment "
        "variable's name (env:OPS_WEBHOOK_SECRET) or a file (file:/run/secrets/ops-webhook).",
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple, label="Events it receives"
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args, channel: NotificationChannel | None = None, **kwargs):
        self.channel = channel
        if channel is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": channel.name,
                "kind": channel.kind,
                # A webhook URL is a credential: never written back into the page.
                "target": "" if channel.is_webhook else channel.target,
                "secret_ref": channel.secret_ref,
                "events": channel.events,
                "enabled": channel.enabled,
            }
        super().__init__(*args, **kwargs)
        if channel is not None and channel.is_webhook:
            self.fields["target"].help_text = (
                f"Saved: {channel.masked_target}. Leave empty to keep it; paste a new URL to replace it. "
                + self.fields["target"].help_text
            )
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                widget.attrs["class"] = "form-check-input"
                continue
            widget.attrs["class"] = "form-select" if isinstance(widget, forms.Select) else "form-control"

    def data_for_service(self) -> ChannelData:
        c = self.cleaned_data
        return ChannelData(
            name=c["name"],
            kind=c["kind"],
            target=c["target"],
            secret_ref=c["secret_ref"],
            events=tuple(c["events"]),
            enabled=c["enabled"],
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        errors, _ = channel_problems(self.data_for_service(), current=self.channel)
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned
