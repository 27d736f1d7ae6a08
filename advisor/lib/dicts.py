"""Plain data, flattened: a snapshot's fields compared one by one (the audit trail, a review's diff)."""

from __future__ import annotations

from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as one level of dotted keys: {"ttl": {"mode": "none"}} -> {"ttl.mode": "none"}.

    Anything but a dict (a list, a number, None) is a leaf and kept whole.
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}
