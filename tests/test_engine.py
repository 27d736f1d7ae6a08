"""The lint engine: policy, waivers, ordering, the lint JSON, exit codes, and the shipped designs."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from rule_cases import TODAY, base, build, ns_add, ns_set

from advisor.core.design import DesignError, load_design
from advisor.core.engine import LintResult, apply_policy_and_waivers, exit_code, lint_design, lint_scan
from advisor.core.findings import Finding, Severity
from advisor.core.report_text import render_text
from advisor.core.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
CLEAN = ROOT / "tests" / "data" / "clean_design.yaml"
DEMO = ROOT / "advisor" / "demo" / "demo_design.yaml"


def _no_ttl_and_big_values() -> dict:
    """TTL001 (high) and VAL001 (medium) on product-cache, TTL004 (low) on sessions."""
    d = base()
    ns_set(d, "product-cache", ttl={"mode": "none"}, value_bytes={"typical": 2048, "max": 200_000})
    ns_set(d, "sessions", ttl={"mode": "sliding", "seconds": 2 * 86400})
    return d


def _rules(result: LintResult) -> list[tuple[str, str, str]]:
    return [(f.rule, f.target, f.severity.value) for f in result.findings]


def test_it_runs_every_design_rule_and_sorts_by_severity_rule_and_target():
    result = lint_design(build(_no_ttl_and_big_values()), today=TODAY)
    assert _rules(result) == [
        ("TTL001", "namespace:product-cache", "high"),
        ("VAL001", "namespace:product-cache", "medium"),
        ("TTL004", "namespace:sessions", "low"),
    ]


def test_it_skips_disabled_rules():
    d = _no_ttl_and_big_values()
    d["policy"] = {"disable": ["TTL001", "VAL001"]}
    assert [f.rule for f in lint_design(build(d), today=TODAY).findings] == ["TTL004"]


def test_it_applies_severity_overrides_before_sorting():
    d = _no_ttl_and_big_values()
    d["policy"] = {"severity": {"VAL001": "critical", "TTL004": "high", "TTL001": "info"}}
    assert _rules(lint_design(build(d), today=TODAY)) == [
        ("VAL001", "namespace:product-cache", "critical"),
        ("TTL004", "namespace:sessions", "high"),
        ("TTL001", "namespace:product-cache", "info"),
    ]


def test_it_applies_threshold_overrides():
    d = base()
    ns_set(d, "product-cache", value_bytes={"typical": 2048, "max": 70_000})
    assert lint_design(build(d), today=TODAY).findings == []
    d["policy"] = {"thresholds": {"VAL001.max_bytes": 65536}}
    (finding,) = lint_design(build(d), today=TODAY).findings
    assert (finding.rule, finding.severity) == ("VAL001", Severity.medium)
    assert "64.0 KiB" in finding.message


def test_the_reserve_threshold_reaches_the_sizing_of_the_whole_run():
    d = base()
    ns_set(d, "product-cache", cardinality=3_000_000)  # about 6.1 GiB: 63% of 80% of 12 GB
    (finding,) = lint_design(build(d), today=TODAY).findings
    assert (finding.rule, finding.severity) == ("INS007", Severity.medium)
    d["policy"] = {"thresholds": {"INS007.reserved_share": 0.1}}  # 56% of 90% of 12 GB
    assert lint_design(build(d), today=TODAY).findings == []


def test_the_new_thresholds_are_known_to_the_loader():
    d = base()
    d["policy"] = {"thresholds": {"INS007.reserved_share": 0.25, "VAL005.max_bytes": 262144}}
    assert build(d).policy.thresholds == {"INS007.reserved_share": 0.25, "VAL005.max_bytes": 262144}
    d["policy"] = {"thresholds": {"INS007.reserve_share": 0.25}}
    with pytest.raises(DesignError, match="did you mean 'INS007.reserved_share'"):
        build(d)


def _waived(expires: date) -> dict:
    d = _no_ttl_and_big_values()
    d["waivers"] = [
        {
            "rule": "TTL001",
            "target": "namespace:product-cache",
            "reason": "rebuilt nightly by a batch that deletes the namespace",
            "expires": expires.isoformat(),
            "approved_by": "platform-architects",
        }
    ]
    return d


def test_an_active_waiver_keeps_the_finding_listed_and_marked():
    result = lint_design(build(_waived(TODAY)), today=TODAY)  # expiring today still applies
    ttl001 = next(f for f in result.findings if f.rule == "TTL001")
    assert ttl001.waived is True
    assert ttl001.waiver is not None
    assert ttl001.waiver.reason.startswith("rebuilt nightly")
    assert ttl001.waiver.expires == TODAY
    assert ttl001.waiver.approved_by == "platform-architects"
    assert result.summary == {"critical": 0, "high": 0, "medium": 1, "low": 1, "info": 0, "waived": 1}


def test_an_expired_waiver_no_longer_applies():
    result = lint_design(build(_waived(TODAY - timedelta(days=1))), today=TODAY)
    ttl001 = next(f for f in result.findings if f.rule == "TTL001")
    assert (ttl001.waived, ttl001.waiver) == (False, None)
    assert result.summary["high"] == 1 and result.summary["waived"] == 0


def test_a_waiver_matches_rule_and_target_only():
    d = _waived(TODAY)
    d["waivers"][0]["target"] = "namespace:sessions"  # TTL001 does not fire on sessions
    result = lint_design(build(d), today=TODAY)
    assert not any(f.waived for f in result.findings)


def test_apply_policy_and_waivers_serves_drift_findings_too():
    d = _waived(TODAY)
    d["policy"] = {"disable": ["DRF011"], "severity": {"DRF001": "high"}}
    d["waivers"][0]["rule"] = "DRF002"
    design = build(d)

    def drift(rule: str, target: str) -> Finding:
        return Finding(rule=rule, severity="medium", title="t", target=target, message="m", remediation="r")

    out = apply_policy_and_waivers(
        [
            drift("DRF011", "namespace:sessions"),
            drift("DRF001", "instance:prod-cache"),
            drift("DRF002", "namespace:product-cache"),
        ],
        design,
        TODAY,
    )
    assert [(f.rule, f.severity.value, f.waived) for f in out] == [
        ("DRF001", "high", False),
        ("DRF002", "medium", True),
    ]


def _scan(status: str = "completed") -> dict:
    """A scan of prod-cache whose product-cache keys carry no TTL although the design has one."""
    return {
        "instance": "prod-cache",
        "status": status,
        "started_at": "2026-11-26T08:00:00Z",
        "finished_at": "2026-11-26T08:00:10Z",
        "duration_s": 10.0,
        "keys_scanned": 1000,
        "complete": True,
        "namespaces": [
            {
                "name": "product-cache",
                "keys": 1000,
                "without_ttl": 1000,
                "types": {"string": 1000},
                "memory_bytes": 2_000_000,
                "memory_estimated": True,
                "ttl_seconds": {},
            }
        ],
        "server": {"maxmemory_policy": "allkeys-lru", "maxmemory_policy_source": "config"},
    }


def test_lint_scan_runs_the_drift_rules_through_policy_and_waivers():
    pytest.importorskip("advisor.core.rules.drift")
    d = base()
    findings = lint_scan(build(d), _scan(), today=TODAY)
    assert ("DRF002", "namespace:product-cache", Severity.high) in [
        (f.rule, f.target, f.severity) for f in findings
    ]
    assert all(f.rule.startswith("DRF") for f in findings)

    d["policy"] = {"severity": {"DRF002": "critical"}}
    d["waivers"] = [
        {
            "rule": "DRF002",
            "target": "namespace:product-cache",
            "reason": "backfill without TTL until Friday",
            "expires": TODAY.isoformat(),
            "approved_by": "platform-architects",
        }
    ]
    drf002 = next(f for f in lint_scan(build(d), _scan(), today=TODAY) if f.rule == "DRF002")
    assert (drf002.severity, drf002.waived) == (Severity.critical, True)

    d["policy"] = {"disable": ["DRF002"]}
    assert "DRF002" not in [f.rule for f in lint_scan(build(d), _scan(), today=TODAY)]


def test_lint_scan_concludes_nothing_from_a_failed_scan():
    pytest.importorskip("advisor.core.rules.drift")
    assert lint_scan(build(base()), _scan("failed"), today=TODAY) == []


def test_order_is_stable_whatever_the_input_order():
    findings = lint_design(build(_no_ttl_and_big_values()), today=TODAY).findings
    design = build(base())
    assert apply_policy_and_waivers(reversed(findings), design, TODAY) == apply_policy_and_waivers(
        findings, design, TODAY
    )


def test_the_lint_json_has_the_contract_shape():
    result = lint_design(build(_waived(TODAY)), today=TODAY)
    doc = json.loads(result.to_json())
    assert list(doc) == ["version", "today", "summary", "findings"]
    assert doc["version"] == 1 and doc["today"] == "2026-11-26"
    assert list(doc["summary"]) == ["critical", "high", "medium", "low", "info", "waived"]
    for finding in doc["findings"]:
        assert list(finding) == [
            "rule",
            "severity",
            "title",
            "target",
            "related",
            "message",
            "remediation",
            "waived",
            "waiver",
        ]
    waived = next(f for f in doc["findings"] if f["waived"])
    assert waived["waiver"] == {
        "reason": "rebuilt nightly by a batch that deletes the namespace",
        "expires": "2026-11-26",
        "approved_by": "platform-architects",
    }
    assert doc == result.to_dict()


@pytest.mark.parametrize(
    "fail_on, code", [("critical", 0), ("high", 1), (Severity.medium, 1), ("low", 1), ("info", 1)]
)
def test_exit_code_follows_fail_on(fail_on, code):
    result = lint_design(build(_no_ttl_and_big_values()), today=TODAY)
    assert exit_code(result, fail_on) == code


def test_waived_findings_do_not_fail_the_build():
    d = base()
    ns_set(d, "product-cache", ttl={"mode": "none"})
    d["waivers"] = _waived(TODAY)["waivers"]
    result = lint_design(build(d), today=TODAY)
    assert [f.rule for f in result.findings] == ["TTL001"]
    assert exit_code(result, "info") == 0


def test_the_clean_design_file_gives_no_finding():
    design = load_design(CLEAN.read_bytes(), filename=str(CLEAN))
    result = lint_design(design, today=TODAY)
    assert result.findings == [], render_text(result, color=False)
    assert exit_code(result, "info") == 0


def test_a_clean_file_that_breaks_one_rule_gives_exactly_that_finding():
    data = yaml.safe_load(CLEAN.read_text())
    victim = next(ns for ns in data["namespaces"] if ns["classification"] == "disposable")
    victim["ttl"] = {"mode": "none"}
    result = lint_design(load_design(yaml.safe_dump(data), filename="one.yaml"), today=TODAY)
    assert _rules(result) == [("TTL001", f"namespace:{victim['name']}", "high")]


def test_the_demo_design_gives_a_plausible_set_of_findings():
    design = load_design(DEMO.read_bytes(), filename=str(DEMO))
    result = lint_design(design, today=TODAY)
    names = {f"namespace:{ns.name}" for ns in design.namespaces} | {
        f"instance:{i.name}" for i in design.instances
    }
    rule_ids = {r.id for r in ALL_RULES}
    assert len(result.findings) >= 5
    assert len({f.rule[:3] for f in result.findings}) >= 3  # several groups, not one rule everywhere
    assert any(f.severity >= Severity.high for f in result.findings)
    for f in result.findings:
        assert f.rule in rule_ids and f.target in names
        assert all(r in names for r in f.related)
    assert exit_code(result, "high") == 1


def test_it_renders_text_grouped_by_target_with_a_summary():
    d = _waived(TODAY)
    ns_set(d, "product-cache", value_bytes={"typical": 2048, "max": 16384})
    ns_set(d, "cart-items", contains=["credentials"])
    result = lint_design(build(d), today=TODAY)
    text = render_text(result, color=False)
    assert "\033[" not in text
    # the most severe target first; a target whose findings are all waived after the rest
    assert (
        text.index("namespace:cart-items")
        < text.index("namespace:sessions")
        < text.index("namespace:product-cache")
    )
    assert "waived until 2026-11-26, approved by platform-architects" in text
    assert text.rstrip().endswith("2 findings (0 critical, 1 high, 0 medium, 1 low, 0 info); 1 waived.")
    colored = render_text(result, color=True)
    assert "\033[1;31m" in colored and "\033[0m" in colored


def test_it_renders_no_findings():
    assert (
        render_text(lint_design(build(base()), today=TODAY), color=True)
        .strip()
        .endswith("No findings.\033[0m")
    )


def test_a_larger_design_lints_quickly():
    import time

    d = base()
    for i in range(1500):
        ns_add(d, f"ns-{i}", f"prod:team{i % 40}:entity{i % 7}:v1:<id{i}:int>:{i}", instance="prod-state")
    design = build(d)
    start = time.perf_counter()
    lint_design(design, today=TODAY)
    assert time.perf_counter() - start < 10  # all pairs on one instance would take minutes
