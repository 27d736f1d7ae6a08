"""The rule registry: an explicit list of every rule, design rules first, then drift rules.

A new rule goes into its group's module and that module's `RULES`; a new group's module is added
below like the others.
"""

from __future__ import annotations

from advisor.core.rules.base import (
    DesignContext,
    DriftRule,
    Rule,
    ScanContext,
    effective_thresholds,
    set_default_thresholds,
)
from advisor.core.rules.drift import RULES as DRF_RULES
from advisor.core.rules.dur import RULES as DUR_RULES
from advisor.core.rules.evi import RULES as EVI_RULES
from advisor.core.rules.hsh import RULES as HSH_RULES
from advisor.core.rules.ins import RULES as INS_RULES
from advisor.core.rules.key import RULES as KEY_RULES
from advisor.core.rules.ttl import RULES as TTL_RULES
from advisor.core.rules.val import RULES as VAL_RULES

DESIGN_RULES: list[Rule] = [
    *KEY_RULES,
    *TTL_RULES,
    *EVI_RULES,
    *DUR_RULES,
    *INS_RULES,
    *HSH_RULES,
    *VAL_RULES,
]
DRIFT_RULES: list[DriftRule] = list(DRF_RULES)
ALL_RULES: list[Rule] = [*DESIGN_RULES, *DRIFT_RULES]

_BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}

set_default_thresholds(ALL_RULES)


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
    "effective_thresholds",
    "get_rule",
]
