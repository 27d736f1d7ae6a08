"""What changing a registered namespace's pattern does to the keys the last scan counted for it.

Read from the stored report of the instance's latest complete scan, never from the live Redis.
The report counts the keys each namespace matched and keeps a few masked examples; the old and new
patterns are compared exactly (`core.patterns`): when the new pattern takes in every key of the
old one, all counted keys still match; when the two share no key, none does. In between, the
count cannot be known from a report, so the message says which kind of key is lost and how many
of the kept examples still match. Unregistered families of the same scan that the new pattern
would take in are named too.

The registry's namespace form asks for it through advisor.registry.hooks (it imports no scans
module); this app registers `pattern_change` there at startup.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import dateformat, timezone

from advisor.core.patterns import (
    ComparisonTooLarge,
    PatternError,
    difference_witness,
    intersection_witness,
    parse_pattern,
)
from advisor.registry.models import Instance

from .selectors import latest_complete_run

_FAMILIES_SHOWN = 3


@dataclass(frozen=True)
class PatternChange:
    """One or two sentences for the form, and how they should look (a Bootstrap colour)."""

    message: str
    level: str  # "success", "warning", "danger" or "secondary"


def pattern_change(*, name: str, instance: Instance, old: str, new: str) -> PatternChange | None:
    """What the last complete scan of `instance` says about `name` moving from `old` to `new`;
    None when nothing changes or the new pattern does not parse (the form says why)."""
    if not new or new == old:
        return None
    try:
        old_pattern, new_pattern = parse_pattern(old), parse_pattern(new)
    except PatternError:
        return None
    run = latest_complete_run(instance)
    if run is None or not isinstance(run.report, dict):
        return PatternChange(
            f"No complete scan of {instance.name} yet: there are no counted keys to check the new "
            "pattern against.",
            "secondary",
        )
    when = dateformat.format(timezone.localtime(run.finished_at), "j M Y") if run.finished_at else "undated"
    counted = next((ns for ns in run.report.get("namespaces") or [] if ns.get("name") == name), None)
    keys = int((counted or {}).get("keys") or 0)
    families = _families_taken_in(run.report, new_pattern)
    if not keys:
        message = (
            f"The last complete scan of {instance.name} ({when}) counted no keys for this namespace, "
            "so there is nothing to check the new pattern against."
        )
        return PatternChange(_with_families(message, families), "secondary")

    try:
        lost = difference_witness(old_pattern, new_pattern)
        shared = lost is None or intersection_witness(old_pattern, new_pattern) is not None
    except ComparisonTooLarge:
        lost, shared = "", True
    scope = f"{keys:,} key{'s' if keys != 1 else ''} the last scan ({when}) counted for this namespace"
    if lost is None:
        message = f"The new pattern matches all {scope}."
        level = "success"
    elif not shared:
        message = (
            f"The new pattern matches none of the {scope} (a key like “{lost}” no longer matches): "
            "the next scan would report them as unregistered."
        )
        level = "danger"
    else:
        examples = _examples(counted, old_pattern)
        still = sum(1 for key in examples if new_pattern.matches(key))
        message = (
            f"The new pattern matches only part of the {scope}"
            + (f" (a key like “{lost}” no longer matches)" if lost else "")
            + ": a scan report does not say how many."
            + (
                f" Of the {len(examples)} example key{'s' if len(examples) != 1 else ''} it kept, "
                f"{still} still match{'es' if still == 1 else ''}."
                if examples
                else ""
            )
        )
        level = "warning"
    return PatternChange(_with_families(message, families), level)


def _examples(counted: dict, old_pattern) -> list[str]:
    """The masked example keys of the namespace that still read as keys of the old pattern
    (masking can turn a long number or a token into something no pattern of it matches)."""
    keys = [*(counted.get("examples") or []), *(b.get("key") for b in counted.get("biggest_keys") or [])]
    unique = [key for key in dict.fromkeys(keys) if isinstance(key, str)]
    return [key for key in unique if old_pattern.matches(key)]


def _families_taken_in(report: dict, new_pattern) -> list[tuple[str, int]]:
    """(pattern, keys) of the scan's unregistered families the new pattern would match entirely."""
    taken = []
    for family in (report.get("unmatched") or {}).get("patterns") or []:
        try:
            if difference_witness(family["pattern"], new_pattern) is None:
                taken.append((family["pattern"], int(family.get("keys") or 0)))
        except (KeyError, TypeError, PatternError, ComparisonTooLarge):
            continue
    return taken


def _with_families(message: str, families: list[tuple[str, int]]) -> str:
    if not families:
        return message
    total = sum(keys for _, keys in families)
    shown = ", ".join(pattern for pattern, _ in families[:_FAMILIES_SHOWN])
    more = f" and {len(families) - _FAMILIES_SHOWN} more" if len(families) > _FAMILIES_SHOWN else ""
    return (
        f"{message} It would also take in {total:,} key{'s' if total != 1 else ''} the scan found "
        f"unregistered ({shown}{more})."
    )
