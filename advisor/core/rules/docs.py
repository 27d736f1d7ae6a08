"""The rule catalog as data, for the `/rules/` pages and `GET /api/rules`."""

from __future__ import annotations

from typing import Any

from advisor.core.rules import ALL_RULES, get_rule
from advisor.core.rules.base import GROUPS, Rule


def rule_info(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "group": rule.group,
        "group_title": GROUPS[rule.group],
        "default_severity": rule.default_severity.value,
        "thresholds": dict(rule.thresholds),
        "summary": rule.summary(),
        "documentation": rule.documentation(),
        "kind": "drift" if rule.group == "DRF" else "design",
    }


def rule_catalog() -> list[dict[str, Any]]:
    """Every rule in registry order: id, title, group, default severity, thresholds, Markdown docs."""
    return [rule_info(rule) for rule in ALL_RULES]


def rule_doc(rule_id: str) -> dict[str, Any]:
    """One rule's catalog entry; KeyError for an unknown id."""
    return rule_info(get_rule(rule_id))
