"""What a migration plan is: the plan of the design-file contract (section 3) as models, the
errors that stop one, and the instances that need one.

`MigrationPlan.to_dict()` is the contract's JSON; `to_markdown()` a change ticket and `to_text()`
the terminal view (advisor.core.migration.render).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from advisor.core import platform
from advisor.core.design import Instance
from advisor.core.findings import Severity
from advisor.core.migration.render import render_markdown, render_text
from advisor.core.units import format_bytes

Status = Literal["ok", "action", "review"]
Strategy = Literal["rebuild", "continuity"]


class PlanError(Exception):
    """The plan cannot be made; `str()` is a one-line reason."""


class UnknownInstance(PlanError):
    pass


class NothingToMigrate(PlanError):
    pass


# Retiring instances ----------------------------------------------------------------------------


class RetiringInstance(BaseModel):
    name: str
    environment: str
    tier: str
    memory_gb: float
    retires: dt.date
    days_left: int  # negative once the date has passed
    urgency: Severity  # INS001's severity on that day

    @property
    def retired(self) -> bool:
        return self.days_left < 0

    @property
    def days_ago(self) -> int:
        return -self.days_left


def retirement_urgency(days_left: int) -> Severity:
    # The same steps as INS001, so the planner and the finding never disagree.
    if days_left < 0:
        return Severity.critical
    return Severity.high if days_left <= platform.RETIREMENT_WARNING_DAYS else Severity.medium


# The plan ------------------------------------------------------------------------------------


class Source(BaseModel):
    product: str
    tier: str
    sku: str | None
    memory_gb: int | float
    sku_inferred: bool = Field(
        False, description="the size was read from memory_gb, not from the design's sku"
    )
    label: str


class Need(BaseModel):
    memory_bytes: int
    ops_per_sec: int | float
    source: Literal["design", "last-scan"]
    design_bytes: int = Field(description="the sizing model's estimate of the registered namespaces")
    measured_bytes: int | None = Field(None, description="used_memory of the last completed scan")
    measured_at: dt.datetime | None = None
    write_share: float = Field(description="writes / declared operations")
    typical_value_bytes: int = Field(description="typical value size, weighted by declared operations")

    @property
    def memory_words(self) -> str:
        return format_bytes(self.memory_bytes)

    @property
    def design_words(self) -> str:
        return format_bytes(self.design_bytes)


class Target(BaseModel):
    product: str = platform.AMR
    tier: str
    sku: str
    memory_gb: int | float
    clustering: Literal["oss", "enterprise", "none"]
    eviction_policy: str
    port: int
    label: str
    usable_bytes: int = Field(description="memory_gb x 2^30 x (1 - the ~20% reserve)")
    covers_need: bool
    preview: bool
    high_availability: bool
    persistence: Literal["none", "rdb", "aof"]
    geo_replication: bool
    hostname: str
    why: list[str] = Field(description="why this tier and size")

    @property
    def usable_words(self) -> str:
        return format_bytes(self.usable_bytes)


class Alternative(BaseModel):
    tier: str
    sku: str
    memory_gb: int | float
    label: str
    usable_bytes: int
    preview: bool
    note: str

    @property
    def usable_words(self) -> str:
        return format_bytes(self.usable_bytes)


class DataMigration(BaseModel):
    id: Literal["rdb-import", "dual-write", "riot", "start-empty"]
    title: str
    available: bool
    why: str
    recommended: bool = False
    source: str


class Blocker(BaseModel):
    id: str
    message: str
    kind: Literal["blocker", "info"] = "blocker"
    source: str | None = None


class Step(BaseModel):
    id: str
    title: str
    detail: str
    status: Status = "action"
    points: list[str] = Field(default_factory=list)
    source: str | None = None


class SlotPair(BaseModel):
    namespace: str
    other: str
    same_slot: bool
    detail: str
    suggested_tag: str | None = None


class NamespacePlan(BaseModel):
    name: str
    team: str
    classification: str
    strategy: Strategy
    summary: str
    steps: list[str]
    memory_bytes: int

    @property
    def memory_words(self) -> str:
        return format_bytes(self.memory_bytes)


class MigrationPlan(BaseModel):
    """The migration plan of the design-file contract; `to_dict()` is its JSON."""

    instance: str
    retires: dt.date
    days_left: int
    source: Source
    need: Need
    target: Target
    alternatives: list[Alternative]
    data_migration: list[DataMigration]
    blockers: list[Blocker]
    steps: list[Step]
    # For the page, the text and the ticket; not part of the JSON.
    environment: str = Field("", exclude=True)
    today: dt.date | None = Field(None, exclude=True)
    current: Instance | None = Field(None, exclude=True)
    namespaces: list[NamespacePlan] = Field(default_factory=list, exclude=True)
    slot_pairs: list[SlotPair] = Field(default_factory=list, exclude=True)

    @property
    def retired(self) -> bool:
        return self.days_left < 0

    @property
    def days_ago(self) -> int:
        return -self.days_left

    @property
    def urgency(self) -> Severity:
        return retirement_urgency(self.days_left)

    @property
    def open_blockers(self) -> list[Blocker]:
        return [b for b in self.blockers if b.kind == "blocker"]

    @property
    def notes(self) -> list[Blocker]:
        return [b for b in self.blockers if b.kind == "info"]

    @property
    def recommended_migration(self) -> DataMigration | None:
        return next((d for d in self.data_migration if d.recommended), None)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    def to_markdown(self) -> str:
        return render_markdown(self)

    def to_text(self) -> str:
        return render_text(self)
