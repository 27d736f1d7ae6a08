"""Runs the rules over a design (or a scan) and applies the organisation's policy and waivers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, computed_field

from advisor.core.findings import SEVERITIES_HIGH_FIRST, Finding, Severity, WaiverRef
from advisor.core.patterns import parse_pattern
from advisor.core.rules import DESIGN_RULES, DRIFT_RULES, Rule
from advisor.core.rules.base import DesignContext, ScanContext, effective_thresholds
from advisor.core.rules.key import PATTERN_RULES

if TYPE_CHECKING:
    from advisor.core.design import Design, Policy, Waiver

LINT_JSON_VERSION = 1


class LintResult(BaseModel):
    today: date
    findings: list[Finding]

    @property
    def unwaived(self) -> list[Finding]:
        return [f for f in self.findings if not f.waived]

    @computed_field
    @property
    def summary(self) -> dict[str, int]:
        """Unwaived findings per severity, plus how many findings a waiver covers."""
        counts = {sev.value: 0 for sev in SEVERITIES_HIGH_FIRST}
        waived = 0
        for f in self.findings:
            if f.waived:
                waived += 1
            else:
                counts[f.severity.value] += 1
        counts["waived"] = waived
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The lint JSON document (docs/design-file.md, section 5) as Python data."""
        return {
            "version": LINT_JSON_VERSION,
            "today": self.today.isoformat(),
            "summary": self.summary,
            "findings": [f.model_dump(mode="json") for f in self.findings],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _policy(design: Design) -> Any:
    return getattr(design, "policy", None)


def _disabled(design: Design) -> set[str]:
    policy = _policy(design)
    return set(policy.disable) if policy is not None and policy.disable else set()


def _active_waiver(
    finding: Finding, waivers: dict[tuple[str, str], list[Waiver]], today: date
) -> Waiver | None:
    # A waiver expiring today still applies today; among several, the longest-lived is shown.
    live = [w for w in waivers.get((finding.rule, finding.target), ()) if w.expires >= today]
    return max(live, key=lambda w: w.expires) if live else None


def apply_policy_and_waivers(findings: Iterable[Finding], design: Design, today: date) -> list[Finding]:
    """Drops findings of disabled rules, applies severity overrides and live waivers, and sorts.

    Sorted stably by severity (high first), rule and target, so output is reproducible.
    """
    disabled = _disabled(design)
    policy = _policy(design)
    overrides: dict[str, Severity] = (
        {rule: Severity(sev) for rule, sev in policy.severity.items()}
        if policy is not None and policy.severity
        else {}
    )
    waivers: dict[tuple[str, str], list[Waiver]] = {}
    for w in getattr(design, "waivers", None) or ():
        waivers.setdefault((w.rule, w.target), []).append(w)

    out: list[Finding] = []
    for f in findings:
        if f.rule in disabled:
            continue
        update: dict[str, Any] = {}
        if f.rule in overrides and overrides[f.rule] != f.severity:
            update["severity"] = overrides[f.rule]
        waiver = _active_waiver(f, waivers, today) if waivers else None
        if waiver is not None:
            update["waived"] = True
            update["waiver"] = WaiverRef(
                reason=waiver.reason, expires=waiver.expires, approved_by=waiver.approved_by
            )
        elif f.waived or f.waiver is not None:
            update["waived"] = False
            update["waiver"] = None
        # Findings are treated as immutable, so an unchanged one is passed on as it is.
        out.append(f.model_copy(update=update) if update else f)
    out.sort(key=Finding.sort_key)
    return out


def _run(rules: Iterable[Rule], disabled: set[str], check) -> list[Finding]:
    findings: list[Finding] = []
    for rule in rules:
        if rule.id not in disabled:
            findings.extend(check(rule))
    return findings


def lint_design(design: Design, *, today: date, rules: Iterable[Rule] | None = None) -> LintResult:
    """All design rules over one design, with its policy and waivers applied."""
    ctx = DesignContext(design, today=today)
    raw = _run(DESIGN_RULES if rules is None else rules, _disabled(design), lambda rule: rule.check(ctx))
    return LintResult(today=today, findings=apply_policy_and_waivers(raw, design, today))


def lint_scan(design: Design, scan: Any, *, today: date, instance_name: str | None = None) -> list[Finding]:
    """All drift rules over one scan report, with the design's policy and waivers applied."""
    ctx = ScanContext(design, scan, today=today, instance_name=instance_name)
    raw = _run(DRIFT_RULES, _disabled(design), lambda rule: rule.check_scan(ctx))
    return apply_policy_and_waivers(raw, design, today)


class _PolicyOnly:
    """What `lint_pattern` has of a design: the policy; no namespace yet, so no waiver."""

    waivers = ()

    def __init__(self, policy: Policy | None):
        self.policy = policy


def lint_pattern(text: str, *, policy: Policy | None = None, target: str = "pattern") -> list[Finding]:
    """What the design rules say about a key pattern on its own, before it belongs to a namespace.

    Runs the rules that the pattern alone decides (`key.PATTERN_RULES`: KEY001 to KEY004 and
    KEY007), with the policy's disabled rules, severity overrides and thresholds, so the findings
    are the ones `lint_design` gives a namespace with this pattern; rules that need anything else
    (other namespaces, the instance, the TTL) are not run. Raises PatternError for an invalid pattern.
    """
    pattern = parse_pattern(text)
    alone: Any = _PolicyOnly(policy)
    thresholds = effective_thresholds(alone)
    raw = _run(
        PATTERN_RULES,
        _disabled(alone),
        lambda rule: rule.check_pattern(text, pattern, thresholds.__getitem__, target),
    )
    return apply_policy_and_waivers(raw, alone, date.today())


def exit_code(result: LintResult, fail_on: Severity | str = Severity.high) -> int:
    """1 when an unwaived finding is at or above `fail_on`, else 0."""
    threshold = Severity(fail_on)
    return 1 if any(f.severity >= threshold for f in result.unwaived) else 0
