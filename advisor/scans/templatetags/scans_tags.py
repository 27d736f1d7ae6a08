"""`{% load scans_tags %}`: what the registry's pages show of the scans (advisor.scans.selectors)."""

from django import template

from advisor.scans import selectors

register = template.Library()


@register.simple_tag
def last_scan(instance):
    """`{% last_scan instance as run %}`: the instance's latest completed scan, or None."""
    return selectors.last_completed_run(instance)
