"""SARIF 2.1.0 output of a lint result, for code-scanning tools in CI."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import yaml

from advisor.core.engine import LintResult
from advisor.core.findings import Finding, Severity
from advisor.core.rules import ALL_RULES, Rule

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "redis-key-advisor"
TOOL_VERSION = "0.1.0"

LEVELS = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "note",
    Severity.info: "note",
}


def level(severity: Severity | str) -> str:
    return LEVELS[Severity(severity)]


def target_lines(source_text: str | None) -> dict[str, int]:
    """The 1-based line of each `namespace:NAME` / `instance:NAME` item in a design file's text.

    Best effort: a text that YAML (or JSON, which YAML reads) cannot compose gives no lines.
    """
    if not source_text:
        return {}
    try:
        root = yaml.compose(source_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        kind = {"namespaces": "namespace", "instances": "instance"}.get(getattr(key_node, "value", None))
        if kind is None or not isinstance(value_node, yaml.SequenceNode):
            continue
        for item in value_node.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            for k, v in item.value:
                if getattr(k, "value", None) == "name" and isinstance(v, yaml.ScalarNode):
                    lines.setdefault(f"{kind}:{v.value}", item.start_mark.line + 1)
    return lines


def _pascal(title: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", title))


def _plain(markdown: str) -> str:
    # Help text for viewers that cannot render Markdown: drop emphasis and code fences, keep content.
    text = re.sub(r"^```\w*\n?", "", markdown, flags=re.M)
    return text.replace("**", "").replace("`", "")


def rule_descriptor(rule: Rule, *, help_base_uri: str = "") -> dict[str, Any]:
    doc = rule.documentation()
    return {
        "id": rule.id,
        "name": _pascal(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.summary(), "markdown": doc.split("\n\n", 1)[0]},
        "help": {"text": _plain(doc), "markdown": doc},
        "helpUri": f"{help_base_uri.rstrip('/')}/rules/{rule.id}/",
        "defaultConfiguration": {"level": level(rule.default_severity)},
        "properties": {
            "group": rule.group,
            "severity": rule.default_severity.value,
            "thresholds": dict(rule.thresholds),
            "tags": ["redis", rule.group.lower()],
        },
    }


def _logical(target: str) -> dict[str, Any]:
    kind, _, name = target.partition(":")
    return {"name": name, "fullyQualifiedName": target, "kind": "resource", "properties": {"type": kind}}


def _location(target: str, uri: str, lines: dict[str, int]) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri, "index": 0},
            # Code-scanning services need a region; without a known line the file's top is the place.
            "region": {"startLine": lines.get(target, 1)},
        },
        "logicalLocations": [_logical(target)],
    }


def _fingerprint(f: Finding) -> str:
    # Stable across runs and message wording, so a code-scanning service tracks one alert per issue.
    raw = "\x1f".join([f.rule, f.target, *sorted(f.related)])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def to_sarif(
    result: LintResult,
    design_filename: str,
    rules: Iterable[Rule] | None = None,
    *,
    source_text: str | None = None,
    help_base_uri: str = "",
) -> dict[str, Any]:
    """The SARIF log (as Python data) of a lint result: one result per unwaived finding.

    `source_text` is the design file's text; when given, results point at the line of their
    namespace or instance. `help_base_uri` prefixes the `/rules/<ID>/` help links.
    """
    rules = list(ALL_RULES if rules is None else rules)
    index = {rule.id: i for i, rule in enumerate(rules)}
    uri = quote(design_filename.replace("\\", "/"), safe="/:._-~")
    lines = target_lines(source_text)

    results = []
    for f in result.findings:
        if f.waived:
            continue
        text = f"{f.message} Fix: {f.remediation}" if f.remediation else f.message
        entry: dict[str, Any] = {
            "ruleId": f.rule,
            "level": level(f.severity),
            "message": {"text": text},
            "locations": [_location(f.target, uri, lines)],
            "partialFingerprints": {"advisorFinding/v1": _fingerprint(f)},
            "properties": {
                "severity": f.severity.value,
                "title": f.title,
                "target": f.target,
                "related": list(f.related),
                "remediation": f.remediation,
            },
        }
        if f.rule in index:
            entry["ruleIndex"] = index[f.rule]
        if f.related:
            entry["relatedLocations"] = [
                {"id": i, **_location(t, uri, lines), "message": {"text": t}} for i, t in enumerate(f.related)
            ]
        results.append(entry)

    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "version": TOOL_VERSION,
        "rules": [rule_descriptor(rule, help_base_uri=help_base_uri) for rule in rules],
    }
    if help_base_uri:
        driver["informationUri"] = f"{help_base_uri.rstrip('/')}/rules/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "artifacts": [{"location": {"uri": uri}}],
                "results": results,
                "properties": {"today": result.today.isoformat(), "summary": result.summary},
            }
        ],
    }
