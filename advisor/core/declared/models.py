"""What a declaration says about Redis instances: a Terraform plan or state, or Azure Resource
Manager (ARM).

A `DeclaredInstance` is one cache as its source declares it: a partial instance entry of the
design file (section 1 of design-file.md, the same field names and values), the fields the source
does not say and why (`unknown`), and what the source does with it (`action`). Nothing is guessed:
a field the source leaves unknown is in `unknown`, never in `entry`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["terraform", "azure"]
Document = Literal["plan", "state", "arm"]
# Terraform's plan actions ("create", "update", "replace" for delete-and-create, "no-op", "delete",
# "forget"), and "present" for a resource a state or ARM lists.
Action = Literal["create", "update", "replace", "no-op", "delete", "forget", "present"]

# Actions after which the resource exists: these are imported; "delete" and "forget" are reported.
IMPORTED_ACTIONS = frozenset({"create", "update", "replace", "no-op", "present"})

# The design-file instance fields a declaration may carry, in the design file's order.
DECLARED_FIELDS = (
    "environment",
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
    "region",
    "connection.url",
)


class DeclaredError(ValueError):
    """The document is not what it should be (not `terraform show -json` output, an unsupported
    format version, a malformed ARM response); the message says what is wrong."""


class DeclaredInstance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The Azure resource name, lower case: the instance's name in the registry.
    name: str
    source: Source
    # Where it is declared: the Terraform address (a cluster and its database: both, joined by
    # " + "), or the ARM resource id.
    address: str
    resource_types: list[str]
    action: Action
    # A partial design-file instance entry: only what the source declares.
    entry: dict[str, Any] = Field(default_factory=dict)
    # Design-file field (dotted: "connection.url") -> why the source does not say.
    unknown: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def imported(self) -> bool:
        return self.action in IMPORTED_ACTIONS

    def declared(self, field: str) -> Any:
        """The declared value of a (dotted) field; None when it is not declared."""
        value: Any = self.entry
        for part in field.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value


class Reading(BaseModel):
    """Everything a document declares: the instances, what was left out and why."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    document: Document
    instances: list[DeclaredInstance] = Field(default_factory=list)
    # Resource types that are not Redis caches, with how many resources of each were skipped.
    ignored: dict[str, int] = Field(default_factory=dict)
    # Resources that could not be read as an instance (a database whose cluster is not in the
    # document), one sentence each.
    problems: list[str] = Field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """How many instances each action has, how many resources were ignored, how many fields
        are unknown."""
        actions = Counter(i.action for i in self.instances)
        return {
            **{action: actions[action] for action in sorted(actions)},
            "ignored": sum(self.ignored.values()),
            "unknown_fields": sum(len(i.unknown) for i in self.instances if i.imported),
        }
