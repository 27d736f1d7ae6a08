"""Findings: what a rule says about a design or a scan. One shape everywhere (lint, scan, API)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank >= Severity(other).rank

    def __gt__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank > Severity(other).rank

    def __le__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank <= Severity(other).rank

    def __lt__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank < Severity(other).rank


_RANK = {Severity.info: 0, Severity.low: 1, Severity.medium: 2, Severity.high: 3, Severity.critical: 4}
SEVERITIES_HIGH_FIRST = [Severity.critical, Severity.high, Severity.medium, Severity.low, Severity.info]


class WaiverRef(BaseModel):
    """The waiver that covers a finding, as shown beside it."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    expires: dt.date
    approved_by: str | None = None


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str
    severity: Severity
    title: str
    target: str  # "namespace:NAME" or "instance:NAME"
    related: list[str] = Field(default_factory=list)
    message: str
    remediation: str
    waived: bool = False
    waiver: WaiverRef | None = None

    def sort_key(self) -> tuple:
        return (-self.severity.rank, self.rule, self.target, tuple(self.related), self.message)
