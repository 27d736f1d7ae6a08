"""What every rule is, and the contexts rules read a design (or a scan) from.

A rule is a class named by its code. Its docstring is its documentation (Markdown), rendered into
the `/rules/` pages and the SARIF help text, so write it for the person who got the finding.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from advisor.core.findings import Finding, Severity

if TYPE_CHECKING:
    from advisor.core.design import Design, Instance, Namespace
    from advisor.core.patterns import Pattern
    from advisor.core.sizing import InstanceSizing

GROUPS: dict[str, str] = {
    "KEY": "Key design",
    "TTL": "Expiration",
    "EVI": "Eviction and workload separation",
    "DUR": "Durability",
    "INS": "Instance",
    "HSH": "Hash tags and clustering",
    "VAL": "Values and content",
    "DRF": "Drift",
}

_RULE_ID = re.compile(r"^(KEY|TTL|EVI|DUR|INS|HSH|VAL|DRF)\d{3}$")


def namespace_target(name: str) -> str:
    return f"namespace:{name}"


def instance_target(name: str) -> str:
    return f"instance:{name}"


class DesignContext:
    """Everything a design rule may look at, computed once per lint run and shared by all rules."""

    def __init__(self, design: Design, *, today: date, thresholds: dict[str, float] | None = None):
        self.design = design
        self.today = today
        if thresholds is None:
            thresholds = effective_thresholds(design)
        self.thresholds = thresholds
        self._patterns: dict[str, Pattern] = {}

    def threshold(self, name: str) -> float:
        """The effective value of `ID.name`: the policy's override, else the rule's default."""
        try:
            return self.thresholds[name]
        except KeyError:
            raise KeyError(f"unknown threshold {name!r}") from None

    def pattern(self, ns: Namespace) -> Pattern:
        """The parsed pattern of a namespace, parsed once per run."""
        parsed = self._patterns.get(ns.name)
        if parsed is None:
            from advisor.core.patterns import parse_pattern

            parsed = self._patterns[ns.name] = parse_pattern(ns.pattern)
        return parsed

    @cached_property
    def _namespaces_by_instance(self) -> dict[str, list[Namespace]]:
        grouped: dict[str, list[Namespace]] = {inst.name: [] for inst in self.design.instances}
        for ns in self.design.namespaces:
            grouped.setdefault(ns.instance, []).append(ns)
        return grouped

    def namespaces_on(self, instance_name: str) -> list[Namespace]:
        """The namespaces hosted on an instance, in design order."""
        return self._namespaces_by_instance.get(instance_name, [])

    @cached_property
    def _instances(self) -> dict[str, Instance]:
        return {inst.name: inst for inst in self.design.instances}

    @cached_property
    def _namespaces(self) -> dict[str, Namespace]:
        return {ns.name: ns for ns in self.design.namespaces}

    def instance(self, name: str) -> Instance:
        return self._instances[name]

    def instance_of(self, ns: Namespace) -> Instance:
        return self._instances[ns.instance]

    def namespace(self, name: str) -> Namespace | None:
        return self._namespaces.get(name)

    @cached_property
    def sizing(self) -> dict[str, InstanceSizing]:
        """Sizing-model estimates per instance name, with the effective `INS007.reserved_share`."""
        from advisor.core.sizing import RESERVED_SHARE, design_sizing

        reserved = self.thresholds.get("INS007.reserved_share", RESERVED_SHARE)
        return design_sizing(self.design, pattern_of=self.pattern, reserved_share=reserved)


class ScanContext(DesignContext):
    """What a drift rule looks at: the registered design plus one scan report of a live instance."""

    def __init__(
        self,
        design: Design,
        scan: Any,
        *,
        today: date,
        thresholds: dict[str, float] | None = None,
        instance_name: str | None = None,
    ):
        super().__init__(design, today=today, thresholds=thresholds)
        self.scan = scan
        self.instance_name = instance_name if instance_name is not None else getattr(scan, "instance", None)


class Rule:
    """Base class of all rules; subclasses set the class attributes and implement `check`."""

    id: ClassVar[str]
    title: ClassVar[str]
    group: ClassVar[str]
    default_severity: ClassVar[Severity]
    # Overridable thresholds, named `ID.name` exactly as in `policy.thresholds`, with their defaults.
    thresholds: ClassVar[dict[str, float]] = {}
    # Used when a finding does not bring its own remediation.
    remediation: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rule_id = cls.__dict__.get("id")
        if rule_id is None:
            return  # an intermediate base such as DriftRule
        if not _RULE_ID.match(rule_id):
            raise TypeError(f"{cls.__name__}: bad rule id {rule_id!r}")
        if "group" not in cls.__dict__:
            cls.group = rule_id[:3]
        for name in cls.thresholds:
            if not name.startswith(rule_id + "."):
                raise TypeError(f"{rule_id}: threshold {name!r} must be named {rule_id}.<name>")

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(
        self,
        target: str,
        message: str,
        remediation: str | None = None,
        *,
        severity: Severity | None = None,
        related: Iterable[str] = (),
    ) -> Finding:
        """A finding of this rule; `severity` only when this finding differs from the default."""
        return Finding(
            rule=self.id,
            severity=severity or self.default_severity,
            title=self.title,
            target=target,
            related=list(related),
            message=message,
            remediation=remediation if remediation is not None else self.remediation,
        )

    @classmethod
    def documentation(cls) -> str:
        """The rule's documentation in Markdown (its docstring, dedented)."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first paragraph of the documentation, as plain text on one line."""
        first = cls.documentation().split("\n\n", 1)[0]
        return " ".join(first.split())

    def __repr__(self) -> str:
        return f"<{self.id} {self.title}>"


class DriftRule(Rule):
    """A rule about a scan of a live instance compared with its registered design."""

    group = "DRF"

    def check(self, ctx: DesignContext) -> Iterable[Finding]:
        return ()  # drift rules have nothing to say about a design alone

    def check_scan(self, ctx: ScanContext) -> Iterable[Finding]:
        raise NotImplementedError


# Every rule's default thresholds, by name, as the registry (advisor.core.rules) sets them once it
# has listed its rules. This module cannot import that list: the registry imports every rule module
# and each of them imports this one. Python runs the registry before any module outside the
# package receives this one, so the table is set before anything reads it.
_DEFAULT_THRESHOLDS: dict[str, float] = {}


def set_default_thresholds(rules: Iterable[Rule]) -> None:
    """Make these rules' default thresholds the ones every context starts from (the registry's call)."""
    global _DEFAULT_THRESHOLDS
    _DEFAULT_THRESHOLDS = {name: value for rule in rules for name, value in rule.thresholds.items()}


def effective_thresholds(design: Design | None = None) -> dict[str, float]:
    """Every rule's default thresholds, overridden by the design's `policy.thresholds`."""
    values = dict(_DEFAULT_THRESHOLDS)
    policy = getattr(design, "policy", None)
    if policy is not None and policy.thresholds:
        values.update(policy.thresholds)
    return values
