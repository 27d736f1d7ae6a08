import re

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from advisor.core.units import format_bytes
from advisor.findings import selectors, services
from advisor.findings.models import DesignFinding

register = template.Library()

_DETAIL_URL = {"namespace": "namespace_detail", "instance": "instance_detail"}
_ICONS = {
    "critical": "bi-x-octagon-fill",
    "high": "bi-exclamation-triangle-fill",
    "medium": "bi-exclamation-circle",
    "low": "bi-info-circle",
    "info": "bi-chat-left-text",
}


@register.filter
def target_url(target: str) -> str:
    """`namespace:cart` → the namespace's page; empty when the target has no page."""
    kind, _, name = str(target).partition(":")
    try:
        return reverse(_DETAIL_URL[kind], args=[name])
    except (KeyError, NoReverseMatch):
        return ""


@register.filter
def target_name(target: str) -> str:
    return str(target).partition(":")[2] or str(target)


@register.filter
def target_kind(target: str) -> str:
    return str(target).partition(":")[0]


@register.filter
def sev_icon(severity: str) -> str:
    return _ICONS.get(str(severity), "bi-dot")


@register.filter
def percent(value, digits: int = 0) -> str:
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return ""


@register.filter
def gib(value, digits: int = 2) -> str:
    """Bytes in binary units (advisor.core.units; the name is older than that)."""
    try:
        return format_bytes(float(value), digits=int(digits))
    except (TypeError, ValueError):
        return ""


@register.filter
def bytes_h(value) -> str:
    """Bytes in the largest binary unit that keeps the number above one: 734.0 KiB, 1.2 GiB."""
    try:
        return format_bytes(float(value))
    except (TypeError, ValueError):
        return ""


_PRODUCTS = {
    "azure-managed-redis": "Azure Managed Redis",
    "azure-cache-for-redis": "Azure Cache for Redis",
    "redis-oss": "Redis (self-hosted)",
}


@register.filter
def product_label(product: str) -> str:
    return _PRODUCTS.get(str(product), str(product))


@register.inclusion_tag("findings/_home_summary.html")
def findings_summary():
    # The home page belongs to the overview; this card brings its own data so that page stays as is.
    qs = DesignFinding.objects.all()
    return {
        "counts": services.severity_counts(qs),
        "top_rules": services.top_rules(qs),
        "waived": qs.filter(waived=True).count(),
        "age": selectors.findings_age(),
    }


@register.inclusion_tag("findings/_target_findings.html", takes_context=True)
def namespace_findings(context, ns):
    """The findings card of the registry's namespace page."""
    return {**selectors.namespace_findings(ns, context["request"].user), "request": context["request"]}


@register.inclusion_tag("findings/_target_findings.html", takes_context=True)
def instance_findings(context, instance):
    """The findings card of the registry's instance page."""
    return {**selectors.instance_findings(instance, context["request"].user), "request": context["request"]}


@register.inclusion_tag("findings/_sizing.html")
def instance_sizing(instance):
    """The estimated memory card of the registry's instance page."""
    return {"sizing": services.instance_sizing_view(instance)}


_TICKS = re.compile(r"`([^`]+)`")


@register.filter
def ticks(text) -> str:
    """Text with `code` spans, as the rule engine writes messages, rendered with <code>."""
    return mark_safe(_TICKS.sub(r"<code>\1</code>", conditional_escape(str(text))))  # noqa: S308
