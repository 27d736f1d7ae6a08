"""Findings of the rule engine over the registry, stored so that every page can filter and count
them without re-linting. `services.findings_refresh` is the only writer."""

from django.db import models

from advisor.core.findings import Severity

SEVERITY_CHOICES = [(s.value, s.value) for s in Severity]


class DesignFinding(models.Model):
    rule = models.CharField(max_length=16)
    severity = models.CharField(max_length=8, choices=SEVERITY_CHOICES)
    # Severities sort by meaning, not alphabetically: info 0 … critical 4.
    severity_rank = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    target = models.CharField(max_length=80)
    target_kind = models.CharField(max_length=16)
    target_name = models.CharField(max_length=63)
    related = models.JSONField(default=list, blank=True)
    # "|namespace:a|instance:b|": lets every database find the findings that name X with a LIKE.
    related_index = models.TextField(blank=True, default="")
    message = models.TextField()
    remediation = models.TextField(blank=True)
    waived = models.BooleanField(default=False)
    waiver = models.JSONField(null=True, blank=True)
    team = models.ForeignKey(
        "registry.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="design_findings"
    )
    instance = models.ForeignKey(
        "registry.Instance", null=True, blank=True, on_delete=models.CASCADE, related_name="design_findings"
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-severity_rank", "rule", "target", "id"]
        indexes = [
            models.Index(fields=["target_kind", "target_name"]),
            models.Index(fields=["rule"]),
            models.Index(fields=["-severity_rank", "rule"]),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.severity} on {self.target}"

    @property
    def waiver_reason(self) -> str:
        return (self.waiver or {}).get("reason", "")

    @property
    def waiver_expires(self) -> str:
        return (self.waiver or {}).get("expires", "")

    @property
    def waiver_approved_by(self) -> str:
        return (self.waiver or {}).get("approved_by") or ""

    def as_finding(self) -> dict:
        """The contract's Finding shape (design-file.md, section 4)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "target": self.target,
            "related": list(self.related or []),
            "message": self.message,
            "remediation": self.remediation,
            "waived": self.waived,
            "waiver": self.waiver,
        }


class FindingsRun(models.Model):
    """When the stored findings were computed, and for which day and registry state (one row)."""

    computed_at = models.DateTimeField()
    today = models.DateField()
    # A digest of the registry the findings were computed from; a change means they are stale.
    registry_stamp = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    finding_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Findings of {self.today} ({self.finding_count})"
