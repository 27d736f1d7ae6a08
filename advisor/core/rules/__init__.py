"""The rule registry: an explicit list of every rule, design rules first, then drift rules."""

from __future__ import annotations

import importlib
import importlib.util

from advisor.core.rules import dur, evi, hsh, ins, key, ttl, val
from advisor.core.rules.base import DesignContext, DriftRule, Rule, ScanContext

# The drift rules live in their own module, written separately; the design rules work without it.
# find_spec rather than try/except so that a broken drift module fails loudly instead of vanishing.
if importlib.util.find_spec("advisor.core.rules.drift") is not None:
    drift = importlib.import_module("advisor.core.rules.drift")
else:
    drift = None

DESIGN_RULES: list[Rule] = [
    *key.RULES,
    *ttl.RULES,
    *evi.RULES,
    *dur.RULES,
    *ins.RULES,
    *hsh.RULES,
    *val.RULES,
]
DRIFT_RULES: list[DriftRule] = list(drift.RULES) if drift is not None else []
ALL_RULES: list[Rule] = [*DESIGN_RULES, *DRIFT_RULES]

_BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}


def get_rule(rule_id: str) -> Rule:
    """The rule with this id; KeyError when there is none."""
    return _BY_ID[rule_id]


__all__ = [
    "ALL_RULES",
    "DESIGN_RULES",
    "DRIFT_RULES",
    "DesignContext",
    "DriftRule",
    "Rule",
    "ScanContext",
    "get_rule",
]
