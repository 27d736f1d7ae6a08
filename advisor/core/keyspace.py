"""What a parsed key pattern says about where its keys live: the environment its first segment
names, and what decides its keys' hash slot.

The rules (KEY, EVI, HSH) and the migration planner read patterns the same way; they import these
from here rather than from each other.
"""

from __future__ import annotations

from advisor.core.patterns import Literal, Pattern, key_hash_slot

# Words a key's first segment may use for an environment, and the environment each one means.
# qa is a test environment in every organisation we know of.
ENVIRONMENT_WORDS = {
    "prod": "prod",
    "production": "prod",
    "staging": "staging",
    "stage": "staging",
    "dev": "dev",
    "test": "test",
    "qa": "test",
}


def pattern_environment_word(pattern: Pattern) -> str | None:
    """The environment word the pattern's first segment names (`prod`, `stage`…), if it is one."""
    if not pattern.literal_prefix:
        return None
    first = pattern.literal_prefix[0].lower()
    return first if first in ENVIRONMENT_WORDS else None


def tag_text(pattern: Pattern) -> str:
    """The hash tag as written in the pattern, e.g. `{<customer:int>}`."""
    if pattern.hash_tag is None:
        return ""
    body = "".join(
        t.text if isinstance(t, Literal) else f"<{t.name or '*'}:{t.kind}>" for t in pattern.hash_tag
    )
    return "{" + body + "}"


def slot_determinant(pattern: Pattern) -> tuple | None:
    """What decides the slot of a key of this pattern, in a form two patterns can compare.

    `("slot", n)` when every key lands in slot n; `("tag", parts)` when the slot follows the values
    of named placeholders (two patterns with equal parts put keys built from the same values in the
    same slot); None when the slot varies in a way no other pattern can follow.
    """
    tag = pattern.hash_tag
    if tag is None:
        if pattern.placeholders:
            return None
        return ("slot", key_hash_slot(pattern.literal_text))
    if pattern.has_constant_hash_tag:
        return ("slot", key_hash_slot("{" + "".join(t.text for t in tag) + "}"))
    parts: list[tuple[str, str]] = []
    for t in tag:
        if isinstance(t, Literal):
            if parts and parts[-1][0] == "lit":
                parts[-1] = ("lit", parts[-1][1] + t.text)
            else:
                parts.append(("lit", t.text))
        elif t.name is None:
            return None  # an anonymous `*` cannot be tied to another pattern's value
        else:
            parts.append(("var", t.name))
    return ("tag", tuple(parts))
