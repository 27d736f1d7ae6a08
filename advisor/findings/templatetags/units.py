"""`{% load units %}`: the template side of advisor.core.units, for every page and e-mail."""

from django import template

from advisor.core.units import format_bytes, format_duration

register = template.Library()


def _number(value):
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@register.filter
def size(value) -> str:
    """Bytes in binary units with IEC names: `{{ n|size }}` → 61.1 GiB, 512 B; — when unknown."""
    return format_bytes(_number(value))


@register.filter
def duration(value, parts=2) -> str:
    """Seconds as days, hours, minutes, seconds: `{{ ttl|duration }}` → 1 d 7 h; — when unknown."""
    return format_duration(_number(value), parts=None if parts in (None, "", "exact") else int(parts))
