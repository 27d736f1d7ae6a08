"""The design registry: teams, instances, key namespaces, the organisation policy and waivers.

Field names follow the design file contract so that a registry row and a design-file entry are
the same thing. Allowed values come from the domain core's design models: one place per enum.
"""

import datetime as dt
import typing
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse

from advisor.core import design as core
from advisor.core import platform

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]*$", "Use lowercase letters, digits and dashes.")


def _values(annotation) -> list[str]:
    """The allowed string values of a pydantic field annotation (Literal, Enum, Optional, list)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return [a for a in args if a is not None]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [m.value for m in annotation]
    values: list[str] = []
    for arg in args:
        if arg is not type(None):
            values.extend(_values(arg))
    return values


def choices(model, field: str) -> list[tuple[str, str]]:
    return [(v, v) for v in _values(model.model_fields[field].annotation)]


class Team(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    contact = models.EmailField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class CatalogFacts:
    """What the platform catalog says about an instance's product, tier and size."""

    tier: platform.Tier | None
    size: platform.Sku | None  # None when no sku is given or it is not a size of the tier
    usable_bytes: int
    reserved_share: float
    # (what, Microsoft Learn page) for each fact shown
    sources: dict[str, str]

    @property
    def usable_gb(self) -> float:
        return self.usable_bytes / 2**30

    @property
    def max_connections(self) -> int | None:
        return self.size.max_connections if self.size else None

    @property
    def redis_version(self) -> str | None:
        return self.tier.redis_version if self.tier else None

    @property
    def retires(self) -> dt.date | None:
        return self.tier.retires if self.tier else None


MANAGED_BY = [("", "by hand"), ("terraform", "Terraform"), ("azure", "Azure Resource Manager")]


class Instance(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    environment = models.CharField(max_length=16, choices=choices(core.Instance, "environment"))
    product = models.CharField(max_length=32, choices=choices(core.Instance, "product"))
    tier = models.CharField(max_length=32, blank=True, choices=choices(core.Instance, "tier"))
    # The Azure size (B10, P2, E10...), upper case as Azure writes it; blank when not given.
    # Whether it is a size of the tier is INS009's to say, not a reason to refuse the row.
    sku = models.CharField(
        max_length=16,
        blank=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9]*$", "An Azure size such as B10, P2 or E10.")],
    )
    # Always stored: filled from the sku's size when the design leaves it out.
    # Bounds from the design model (the admin edits rows without it).
    memory_gb = models.FloatField(
        validators=[MinValueValidator(core.MIN_MEMORY_GB), MaxValueValidator(core.MAX_MEMORY_GB)]
    )
    shards = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(core.MAX_SHARDS)]
    )
    clustering = models.CharField(max_length=16, choices=choices(core.Instance, "clustering"))
    high_availability = models.BooleanField(default=True)
    persistence = models.CharField(
        max_length=8, choices=choices(core.Instance, "persistence"), default="none"
    )
    geo_replication = models.BooleanField(default=False)
    eviction_policy = models.CharField(max_length=24, choices=choices(core.Instance, "eviction_policy"))
    auth = models.CharField(max_length=16, choices=choices(core.Instance, "auth"))
    tls = models.BooleanField(default=True)
    public_network_access = models.BooleanField(default=False)
    region = models.CharField(max_length=64, blank=True)
    # Never a secret: a URL without password and a credential reference (env:VAR, entra-id, ...).
    connection_url = models.CharField(max_length=500, blank=True)
    connection_credential = models.CharField(max_length=200, blank=True)
    # Where the instance is declared, when imports keep it (import_terraform, discover_azure):
    # "terraform" with the resource address, or "azure" with the ARM resource id; "" when it is
    # kept by hand. `managed_values` are the columns the last import set, with their values: what
    # the next import sets again, and what an edit on the page is warned about.
    managed_by = models.CharField(max_length=16, blank=True, default="", choices=MANAGED_BY)
    managed_source = models.CharField(max_length=1000, blank=True)
    managed_values = models.JSONField(default=dict, blank=True)
    managed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("instance_detail", args=[self.name])

    def managed_overwrites(self, values: dict) -> dict[str, tuple]:
        """The columns among `values` that differ from what the last import set: {column:
        (declared value, value given)}. Empty for an instance kept by hand."""
        if not self.managed_by:
            return {}
        return {
            column: (declared, values[column])
            for column, declared in (self.managed_values or {}).items()
            if column in values and values[column] != declared
        }

    def catalog_facts(self, *, reserved_share: float = platform.RESERVED_SHARE) -> CatalogFacts:
        """The catalog's facts for this instance's tier and sku, with their sources."""
        entry = platform.tier(self.product, self.tier)
        size = entry.sku(self.sku) if entry and self.sku else None
        sources: dict[str, str] = {}
        if entry is not None:
            sources = {
                "sku": entry.sources.get("skus", ""),
                "version": entry.sources.get("version", ""),
                "retirement": entry.sources.get("retirement", ""),
                "memory": platform.AMR_MEMORY if self.product == platform.AMR else platform.ACR_MEMORY,
            }
        return CatalogFacts(
            tier=entry,
            size=size,
            usable_bytes=platform.usable_bytes(self.memory_gb, reserved_share),
            reserved_share=reserved_share,
            sources={k: v for k, v in sources.items() if v},
        )


class Namespace(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="namespaces")
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="namespaces")
    pattern = models.CharField(max_length=500)
    classification = models.CharField(max_length=16, choices=choices(core.Namespace, "classification"))
    data_type = models.CharField(max_length=16, choices=choices(core.Namespace, "data_type"))
    ttl_mode = models.CharField(max_length=16, choices=choices(core.TTL, "mode"))
    ttl_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(core.MAX_SECONDS)]
    )
    ttl_jitter_seconds = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(core.MAX_SECONDS)]
    )
    value_bytes_typical = models.PositiveBigIntegerField(validators=[MaxValueValidator(core.MAX_VALUE_BYTES)])
    value_bytes_max = models.PositiveBigIntegerField(validators=[MaxValueValidator(core.MAX_VALUE_BYTES)])
    cardinality = models.PositiveBigIntegerField(validators=[MaxValueValidator(core.MAX_KEYS)])
    # Rates, not counts: a design may say 0.5 writes per second.
    ops_reads = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(core.MAX_OPS_PER_SEC)]
    )
    ops_writes = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(core.MAX_OPS_PER_SEC)]
    )
    data_classification = models.CharField(
        max_length=16, choices=choices(core.Namespace, "data_classification")
    )
    contains = models.JSONField(default=list, blank=True)
    negative_cache = models.BooleanField(default=False)
    source_of_truth = models.CharField(max_length=200, blank=True)
    multi_key_with = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="+")
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("namespace_detail", args=[self.name])


class Policy(models.Model):
    """The organisation policy: one row (pk=1)."""

    disable = models.JSONField(default=list, blank=True)
    severity = models.JSONField(default=dict, blank=True)
    thresholds = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "policy"

    def __str__(self) -> str:
        return "Organisation policy"

    def clean(self) -> None:
        # The admin edits these as raw JSON: hold them to the design file's rules (known rule ids
        # and threshold names, bounded values), as an import would.
        import pydantic

        try:
            core.Policy.model_validate(
                {"disable": self.disable, "severity": self.severity, "thresholds": self.thresholds}
            )
        except pydantic.ValidationError as e:
            raise ValidationError(
                "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            ) from None

    @classmethod
    def current(cls) -> "Policy":
        return cls.objects.get_or_create(pk=1)[0]


# The longest a waiver may run: a year and a day, so an annual review can renew it in time.
WAIVER_MAX_DAYS = 366


class Waiver(models.Model):
    rule = models.CharField(
        max_length=6, validators=[RegexValidator(r"^[A-Z]{3}[0-9]{3}$", "A rule id like TTL002.")]
    )
    target = models.CharField(max_length=80)
    reason = models.TextField()
    expires = models.DateField()
    approved_by = models.CharField(max_length=150, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule", "target"]
        constraints = [models.UniqueConstraint(fields=["rule", "target"], name="one_waiver_per_rule_target")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.target}"
