"""References between a design's items (names unique, every name it points at known, rule ids and
threshold names in the catalog), checked on the raw data so that broken items do not hide them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from advisor.core.design.errors import DesignError, DesignIssue, Loc, format_loc
from advisor.core.design.fields import RULE_ID_RE, SLUG_RE, TARGET_RE, THRESHOLD_RE
from advisor.core.rules import ALL_RULES

if TYPE_CHECKING:
    from advisor.core.design.models import Design


def _items(data: dict, key: str) -> Iterator[tuple[int, dict]]:
    items = data.get(key)
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield i, item


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    message = f"no {kind} named '{name}'"
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{message}; did you mean '{close[0]}'?" if close else message


def _is_slug(value: Any) -> bool:
    return isinstance(value, str) and SLUG_RE.fullmatch(value) is not None


def reference_problems(data: Any) -> Iterator[tuple[Loc, str]]:
    """Duplicate names and dangling references, as (path, message), tolerant of malformed items."""
    if not isinstance(data, dict):
        return
    # Names per kind; a kind whose list is missing or malformed is left out, so that one broken
    # list is one error rather than one more per reference to it.
    names: dict[str, dict[str, int]] = {}
    for key, kind in (("teams", "team"), ("instances", "instance"), ("namespaces", "namespace")):
        if not isinstance(data.get(key), list):
            continue
        seen = names[kind] = {}
        for i, item in _items(data, key):
            name = item.get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                yield (key, i, "name"), f"duplicate {kind} name '{name}' (first at {key}[{seen[name]}])"
            else:
                seen[name] = i

    namespace_instance = {
        item["name"]: item.get("instance")
        for _, item in _items(data, "namespaces")
        if isinstance(item.get("name"), str)
    }
    for i, ns in _items(data, "namespaces"):
        for field, kind in (("team", "team"), ("instance", "instance")):
            value = ns.get(field)
            if kind in names and _is_slug(value) and value not in names[kind]:
                yield ("namespaces", i, field), _unknown(kind, value, names[kind])
        others = ns.get("multi_key_with")
        if not isinstance(others, list):
            continue
        listed: set[str] = set()
        for j, other in enumerate(others):
            if not _is_slug(other):
                continue  # the field error says enough
            path = ("namespaces", i, "multi_key_with", j)
            if other == ns.get("name"):
                yield path, "names the namespace itself"
            elif other not in names["namespace"]:
                yield path, _unknown("namespace", other, names["namespace"])
            elif other in listed:
                yield path, f"lists '{other}' twice"
            elif (
                isinstance(ns.get("instance"), str)
                and isinstance(namespace_instance.get(other), str)
                and namespace_instance[other] != ns["instance"]
            ):
                yield (
                    path,
                    (
                        f"'{other}' is on instance '{namespace_instance[other]}', not '{ns['instance']}': "
                        "multi-key commands need both namespaces on one instance"
                    ),
                )
            listed.add(other)

    yield from _catalog_problems(data)

    waived: dict[tuple[str, str], int] = {}
    for i, waiver in _items(data, "waivers"):
        target = waiver.get("target")
        if not isinstance(target, str):
            continue
        m = TARGET_RE.fullmatch(target)
        if m and m.group(1) in names and _is_slug(m.group(2)) and m.group(2) not in names[m.group(1)]:
            yield ("waivers", i, "target"), _unknown(m.group(1), m.group(2), names[m.group(1)])
        rule = waiver.get("rule")
        if isinstance(rule, str):
            if (rule, target) in waived:
                yield (
                    ("waivers", i),
                    f"a second waiver of {rule} for {target} (the first is waivers[{waived[rule, target]}])",
                )
            else:
                waived[rule, target] = i


def _catalog_problems(data: dict) -> Iterator[tuple[Loc, str]]:
    """Rule ids and threshold names must exist: a typo would otherwise silently change nothing."""
    rules = {r.id: r for r in ALL_RULES}
    thresholds = {name for r in ALL_RULES for name in r.thresholds}
    policy = data.get("policy")
    if isinstance(policy, dict):
        for key in ("disable", "severity"):
            value = policy.get(key)
            ids = value if isinstance(value, list) else list(value) if isinstance(value, dict) else []
            for j, rule in enumerate(ids):
                if isinstance(rule, str) and RULE_ID_RE.fullmatch(rule) and rule not in rules:
                    where = ("policy", key, j) if key == "disable" else ("policy", key, rule)
                    yield where, _unknown("rule", rule, rules)
        value = policy.get("thresholds")
        if isinstance(value, dict):
            for name in value:
                if isinstance(name, str) and THRESHOLD_RE.fullmatch(name) and name not in thresholds:
                    yield ("policy", "thresholds", name), _unknown("threshold", name, thresholds)
    for i, waiver in _items(data, "waivers"):
        rule = waiver.get("rule")
        if isinstance(rule, str) and RULE_ID_RE.fullmatch(rule) and rule not in rules:
            yield ("waivers", i, "rule"), _unknown("rule", rule, rules)


def check_references(design: Design, *, filename: str = "<registry>") -> None:
    """Raise DesignError for dangling references and duplicates in a design built in code.

    For a design assembled from several sources (a registry after an import), where each part
    was valid alone but the whole may not be.
    """
    problems = list(reference_problems(design.model_dump(mode="python")))
    if problems:
        raise DesignError(
            [DesignIssue(loc=format_loc(path), message=message) for path, message in problems],
            filename=filename,
        )
