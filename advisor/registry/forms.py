"""Forms for the registry pages. The domain core's design models are the single source of
validation: a form turns its fields into a design-file mapping and lets the core judge it."""

from __future__ import annotations

from types import SimpleNamespace

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse
from pydantic import ValidationError

from advisor.core import design as core
from advisor.core import platform
from advisor.core.patterns import PatternError, parse_pattern

from .models import Instance, Namespace, Team
from .permissions import editable_teams
from .services import instance_data, memory_follows_sku, namespace_data

# Where a core model's error location lands on the form.
_NAMESPACE_FIELDS = {
    ("ttl",): "ttl_mode",  # per-field without data_type hash: the mode is what to change
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


def _apply_core_errors(form: forms.Form, errors: list[dict], mapping: dict) -> None:
    for err in errors:
        loc = tuple(str(p) for p in err["loc"])
        name = mapping.get(loc[:2]) or (loc[0] if loc and loc[0] in form.fields else None)
        message = err["msg"].removeprefix("Value error, ")
        if name and name in form.fields and name not in form.errors:
            form.add_error(name, message)
        elif not name:
            form.add_error(None, f"{'.'.join(loc)}: {message}" if loc else message)


# The design model's limits (advisor.core.design, "Limits"), so that the browser offers them and
# the form refuses past them at the field; the core model checks them again on the whole entry.
_NAMESPACE_BOUNDS = {
    "ttl_seconds": (0, core.MAX_SECONDS),
    "ttl_jitter_seconds": (0, core.MAX_SECONDS),
    "value_bytes_typical": (0, core.MAX_VALUE_BYTES),
    "value_bytes_max": (0, core.MAX_VALUE_BYTES),
    "cardinality": (0, core.MAX_KEYS),
    "ops_reads": (0, core.MAX_OPS_PER_SEC),
    "ops_writes": (0, core.MAX_OPS_PER_SEC),
}
_INSTANCE_BOUNDS = {
    "memory_gb": (core.MIN_MEMORY_GB, core.MAX_MEMORY_GB),
    "shards": (1, core.MAX_SHARDS),
}


def _bound(form: forms.Form, bounds: dict) -> None:
    for name, (low, high) in bounds.items():
        field = form.fields[name]
        field.min_value, field.max_value = low, high
        field.validators += [MinValueValidator(low), MaxValueValidator(high)]
        field.widget.attrs.update(min=low, max=high)


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
    """A namespace. Once valid, `entry` is its design entry as the core model validated it: what
    the write service (advisor.registry.writes) saves."""

    contains = forms.MultipleChoiceField(
        choices=[(c, c) for c in core.CONTENTS],
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
            "ttl_mode": "absolute: a key expires a fixed time after it is written; sliding: each access "
            "renews its TTL; none: keys never expire; per-field: the fields of a hash expire one by one "
            "(hash field expiration, HEXPIRE, Redis 7.4 or later) while the key itself has no TTL — "
            "hash namespaces only, and TTL (seconds) is then each field's TTL.",
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
        _bound(self, _NAMESPACE_BOUNDS)
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
            self.entry = core.Namespace.model_validate(mapping)
        except ValidationError as exc:
            _apply_core_errors(self, exc.errors(), _NAMESPACE_FIELDS)
        if data.get("ttl_mode") == "none":
            data["ttl_seconds"] = None
        return data

    def add_entry_errors(self, errors: list[dict]) -> None:
        """Problems the write service found with the entry, each on its field."""
        _apply_core_errors(self, errors, _NAMESPACE_FIELDS)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _sku_label(size: platform.Sku) -> str:
    """How a size reads in the picker: `B10 — 12 GB, 30,000 connections`."""
    entry = platform.tier(size.product, size.tier)
    if size.memory_gb is None:
        memory = "size not published"
    else:
        memory = f"{size.memory_gb:g} GB" + (" per shard" if entry and entry.memory_per_shard else "")
    parts = [memory]
    if size.max_connections is not None:
        parts.append(f"{size.max_connections:,} connections")
    return f"{size.name} — {', '.join(parts)}" + (" (preview)" if size.preview else "")


def sku_choices(product: str, tier: str, current: str = "") -> list:
    """The sizes to offer: those of the tier; every tier's, grouped, while no tier is chosen.

    A current value that is not among them stays selectable (marked), so that editing an
    instance never silently drops its sku.
    """
    entry = platform.tier(product, tier)
    choices: list = [("", "— no SKU —")]
    if entry is not None:
        offered = [(s.name, _sku_label(s)) for s in entry.skus]
        choices += offered
    else:
        tiers = platform.tiers(product) if product else list(platform.TIERS)
        offered = [(s.name, _sku_label(s)) for t in tiers for s in t.skus]
        choices += [(t.title, [(s.name, _sku_label(s)) for s in t.skus]) for t in tiers]
    current = (current or "").upper()
    if current and current not in {name for name, _ in offered}:
        where = entry.title if entry else "any tier of this product"
        choices.append((current, f"{current} — not a size of {where}"))
    return choices


def _sku_memory(values: dict) -> float | None:
    """The memory the chosen size gives (per shard times shards where sizes are per shard)."""
    try:
        shards = max(1, int(values.get("shards") or 1))
    except (TypeError, ValueError):
        shards = 1
    probe = SimpleNamespace(
        product=values.get("product") or "",
        tier=values.get("tier") or "",
        sku=(values.get("sku") or "").upper() or None,
        clustering=values.get("clustering") or "none",
        shards=shards,
    )
    return platform.sku_memory_gb(probe)


def _as_float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class InstanceForm(forms.ModelForm):
    """An instance. The SKU picker offers the sizes of the chosen tier and fills the memory from
    the chosen size; htmx refreshes both when product, tier, shards or clustering change. Once
    valid, `entry` is its design entry as the core model validated it."""

    # Free text under a select: a sku of another tier is INS009's finding, not a form error.
    sku = forms.CharField(required=False, max_length=16, label="SKU (Azure size)", widget=forms.Select)

    SKU_INPUTS = ("product", "tier", "sku", "memory_gb", "shards", "clustering")

    class Meta:
        model = Instance
        fields = [
            "name",
            "environment",
            "region",
            "product",
            "tier",
            "sku",
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
        memory = self.fields["memory_gb"]
        memory.required = False  # filled from the sku when it names a size with a published memory
        # Raw values, not BoundFields: those copy label and help text when first built.
        values = {name: self._raw(name) for name in self.SKU_INPUTS}
        self.fields["sku"].widget.attrs.pop("maxlength", None)
        self.fields["sku"].widget.choices = sku_choices(
            values["product"] or "", values["tier"] or "", values["sku"] or ""
        )
        self.size = platform.find_sku(values["product"], values["tier"], values["sku"])
        self.tier_entry = platform.tier(values["product"], values["tier"])
        self.sku_memory = _sku_memory(values)
        current = _as_float(values["memory_gb"])
        # Locked while it is the size's memory; a row that disagrees stays editable, to be fixed.
        self.memory_locked = self.sku_memory is not None and (
            current is None or abs(current - self.sku_memory) < 1e-6
        )
        if self.memory_locked:
            memory.widget.attrs["readonly"] = True
            memory.help_text = "From the SKU." + (
                f" {self.size.memory_gb:g} GB per shard × shards."
                if self.sku_memory != self.size.memory_gb
                else ""
            )
        elif self.size is not None and self.size.memory_gb is None:
            memory.help_text = (
                f"Microsoft publishes no memory size for {self.size.name}: enter the cache's memory."
            )
        elif self.sku_memory is not None:
            memory.help_text = (
                f"{self.size.name} has {_number(self.sku_memory)} GB; this value disagrees (INS009)."
            )
        else:
            memory.help_text = "Needed when no SKU is chosen."
        # The picker and the memory follow product, tier, shards and clustering as they change.
        url = reverse("instance_sku_fields")
        for name in ("product", "tier", "sku", "shards", "clustering"):
            self.fields[name].widget.attrs.update({"hx-get": url, "hx-trigger": "change"})
        _bound(self, _INSTANCE_BOUNDS)
        _style_widgets(self)

    def _raw(self, name: str):
        if self.is_bound:
            return self.data.get(self.add_prefix(name))
        return self.get_initial_for_field(self.fields[name], name)

    @classmethod
    def for_sku_change(cls, params) -> InstanceForm:
        """An unbound form showing what the SKU fields become for these values (the htmx refresh)."""
        values = {name: (params.get(name) or "").strip()[:32] for name in cls.SKU_INPUTS}
        memory = _sku_memory(values)
        if memory is not None:
            values["memory_gb"] = _number(memory)
        return cls(initial=values)

    def _memory_follows_sku(self, data: dict) -> bool:
        """An edit that changes the sku (or the shards) but not the memory brings the new size's memory."""
        return (
            self.instance.pk is not None
            and "memory_gb" not in self.changed_data
            and _sku_memory(data) is not None
            and memory_follows_sku(self.instance)
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if self._memory_follows_sku(data):
            data["memory_gb"] = None
        mapping = instance_data(_candidate(self, data))
        try:
            instance = core.Instance.model_validate(mapping)
        except ValidationError as exc:
            errors = exc.errors()
            unknown = platform.find_sku(data.get("product"), data.get("tier"), data.get("sku")) is None
            if data.get("sku") and unknown and data.get("memory_gb") is None:
                # Without a memory, a sku that is no size of the tier is what needs fixing.
                errors = [e for e in errors if tuple(e["loc"]) != ("memory_gb",)]
                if len(errors) < len(exc.errors()) and "sku" not in self.errors:
                    self.add_error("sku", self._not_a_size(data))
            _apply_core_errors(self, errors, _INSTANCE_FIELDS)
            return data
        self.entry = instance
        data["memory_gb"] = instance.memory_gb
        data["sku"] = instance.sku or ""
        return data

    def add_entry_errors(self, errors: list[dict]) -> None:
        """Problems the write service found with the entry, each on its field."""
        _apply_core_errors(self, errors, _INSTANCE_FIELDS)

    def _not_a_size(self, data: dict) -> str:
        sku = (data.get("sku") or "").upper()
        entry = platform.tier(data.get("product"), data.get("tier"))
        if entry is None:
            return (
                f"{sku} is not a size the catalog knows for this product and tier; enter the memory instead."
            )
        sizes = ", ".join(s.name for s in entry.skus)
        return f"{sku} is not a size of {entry.title} ({sizes}): choose one of them, or enter the memory."


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "contact"]


class DesignUploadForm(forms.Form):
    file = forms.FileField(help_text="A design file (YAML or JSON), as export_designs writes it.")
