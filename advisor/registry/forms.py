"""Forms for the registry pages. The domain core's design models are the single source of
validation: a form turns its fields into a design-file mapping and lets the core judge it."""

from __future__ import annotations

from django import forms
from pydantic import ValidationError

from advisor.core import design as core
from advisor.core.patterns import PatternError, parse_pattern

from .models import Instance, Namespace, Team
from .permissions import editable_teams
from .services import instance_data, namespace_data

# Where a core model's error location lands on the form.
_NAMESPACE_FIELDS = {
    ("ttl", "mode"): "ttl_mode",
    ("ttl", "seconds"): "ttl_seconds",
    ("ttl", "jitter_seconds"): "ttl_jitter_seconds",
    ("value_bytes", "typical"): "value_bytes_typical",
    ("value_bytes", "max"): "value_bytes_max",
    ("ops_per_sec", "reads"): "ops_reads",
    ("ops_per_sec", "writes"): "ops_writes",
}
_INSTANCE_FIELDS = {
    ("connection", "url"): "connection_url",
    ("connection", "credential"): "connection_credential",
}


def _apply_core_errors(form: forms.Form, exc: ValidationError, mapping: dict) -> None:
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        name = mapping.get(loc[:2]) or (loc[0] if loc and loc[0] in form.fields else None)
        message = err["msg"].removeprefix("Value error, ")
        if name and name in form.fields and name not in form.errors:
            form.add_error(name, message)
        elif not name:
            form.add_error(None, f"{'.'.join(loc)}: {message}" if loc else message)


def _style_widgets(form: forms.Form) -> None:
    """Bootstrap classes on every widget but checkboxes."""
    for f in form.fields.values():
        widget = f.widget
        if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            continue
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()


def _candidate(form: forms.ModelForm, data: dict):
    """An unsaved row with the form's values, to hand to the registry's design-entry translation."""
    return form._meta.model(
        **{f: data.get(f) for f in form._meta.fields if f not in ("contains", "multi_key_with")}
    )


def pattern_problem(text: str) -> str | None:
    """The pattern's syntax error in words, or None when it parses."""
    try:
        parse_pattern(text)
    except PatternError as e:
        return str(e)
    return None


class NamespaceForm(forms.ModelForm):
    contains = forms.MultipleChoiceField(
        choices=[(c, c) for c in ("pii", "credentials", "tokens", "payment")],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Namespace
        fields = [
            "name",
            "team",
            "instance",
            "pattern",
            "description",
            "classification",
            "data_type",
            "ttl_mode",
            "ttl_seconds",
            "ttl_jitter_seconds",
            "value_bytes_typical",
            "value_bytes_max",
            "cardinality",
            "ops_reads",
            "ops_writes",
            "data_classification",
            "contains",
            "negative_cache",
            "source_of_truth",
            "multi_key_with",
        ]
        labels = {
            "ttl_mode": "TTL mode",
            "ttl_seconds": "TTL (seconds)",
            "ttl_jitter_seconds": "Jitter (seconds)",
            "value_bytes_typical": "Typical value (bytes)",
            "value_bytes_max": "Max value (bytes)",
            "ops_reads": "Reads/s",
            "ops_writes": "Writes/s",
            "multi_key_with": "Used atomically with",
        }
        help_texts = {
            "pattern": "Segments separated by ':'; placeholders like <id:int>, <session:uuid>, <digest:hash>; "
            "{…} is a Redis hash tag.",
            "source_of_truth": "Where the authoritative copy lives. Leave empty only when Redis holds the only copy.",
            "cardinality": "Expected number of live keys.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "multi_key_with": forms.SelectMultiple(attrs={"size": 4}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["team"].queryset = editable_teams(user)
        if self.instance.pk:
            self.fields["multi_key_with"].queryset = Namespace.objects.exclude(pk=self.instance.pk)
        self.fields["pattern"].widget.attrs.update(
            {"class": "font-monospace", "autocomplete": "off", "spellcheck": "false"}
        )
        _style_widgets(self)

    def clean_pattern(self):
        pattern = self.cleaned_data["pattern"]
        problem = pattern_problem(pattern)
        if problem:
            raise forms.ValidationError(problem)
        return pattern

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        elsewhere = [n.name for n in data.get("multi_key_with") or [] if n.instance_id != data["instance"].pk]
        if elsewhere:
            # Multi-key commands cannot span instances; the design file refuses this too.
            self.add_error("multi_key_with", f"Not on {data['instance'].name}: {', '.join(elsewhere)}.")
            return data
        candidate = _candidate(self, data)
        candidate.contains = list(data.get("contains") or [])
        mapping = namespace_data(candidate, multi_key_with=[n.name for n in data.get("multi_key_with") or []])
        try:
            core.Namespace.model_validate(mapping)
        except ValidationError as exc:
            _apply_core_errors(self, exc, _NAMESPACE_FIELDS)
        if data.get("ttl_mode") == "none":
            data["ttl_seconds"] = None
        return data


class InstanceForm(forms.ModelForm):
    class Meta:
        model = Instance
        fields = [
            "name",
            "environment",
            "product",
            "tier",
            "region",
            "memory_gb",
            "shards",
            "clustering",
            "high_availability",
            "persistence",
            "geo_replication",
            "eviction_policy",
            "auth",
            "tls",
            "public_network_access",
            "connection_url",
            "connection_credential",
        ]
        labels = {
            "memory_gb": "Memory (GB)",
            "tls": "TLS only (non-TLS port disabled)",
            "connection_url": "Connection URL",
            "connection_credential": "Credential reference",
        }
        help_texts = {
            "connection_url": "Needed only to scan, e.g. rediss://myapp.westeurope.redis.azure.net:10000/0. Never put a password here.",
            "connection_credential": "env:VAR (the worker reads the variable), entra-id, entra-id:<client-id> or none. Never the secret itself.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style_widgets(self)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        mapping = instance_data(_candidate(self, data))
        try:
            core.Instance.model_validate(mapping)
        except ValidationError as exc:
            _apply_core_errors(self, exc, _INSTANCE_FIELDS)
        return data


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "contact"]


class DesignUploadForm(forms.Form):
    file = forms.FileField(help_text="A design file (YAML or JSON), as export_designs writes it.")
