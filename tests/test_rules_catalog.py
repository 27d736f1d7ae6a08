"""The rule catalog itself: ids, metadata, documentation, and the coverage of the case tables."""

from __future__ import annotations

import re

import pytest
import test_rules_dur
import test_rules_evi
import test_rules_hsh
import test_rules_ins
import test_rules_key
import test_rules_ttl
import test_rules_val
from rule_cases import TODAY, base, build, counts

from advisor.core.findings import Severity
from advisor.core.rules import ALL_RULES, DESIGN_RULES, DRIFT_RULES, get_rule
from advisor.core.rules.base import DesignContext, DriftRule, Rule
from advisor.core.rules.docs import rule_catalog, rule_doc

# The ids, default severities and thresholds of docs/rules.md.
CONTRACT = {
    "KEY001": "medium", "KEY002": "low", "KEY003": "high", "KEY004": "medium", "KEY005": "medium",
    "KEY006": "medium", "KEY007": "low",
    "TTL001": "high", "TTL002": "medium", "TTL003": "high", "TTL004": "low", "TTL005": "medium",
    "TTL006": "high", "TTL007": "low", "TTL008": "high",
    "EVI001": "high", "EVI002": "medium", "EVI003": "medium", "EVI004": "high", "EVI005": "high", "EVI006": "medium",
    "EVI007": "high",
    "DUR001": "high", "DUR002": "medium", "DUR003": "info",
    "INS001": "medium", "INS002": "high", "INS003": "medium", "INS004": "high", "INS005": "medium",
    "INS006": "medium", "INS007": "medium", "INS008": "medium", "INS009": "high",
    "HSH001": "high", "HSH002": "high", "HSH003": "low", "HSH004": "medium",
    "VAL001": "medium", "VAL002": "medium", "VAL003": "high", "VAL004": "low", "VAL005": "medium",
}  # fmt: skip
THRESHOLDS = {
    "KEY007.max_literal_bytes": 64,
    "TTL002.min_cardinality": 10000,
    "TTL004.max_seconds": 86400,
    "TTL005.max_seconds": 300,
    "INS007.high_ratio": 0.8,
    "INS007.medium_ratio": 0.6,
    "INS007.reserved_share": 0.2,
    "VAL001.max_bytes": 102400,
    "VAL001.high_bytes": 1048576,
    "VAL002.max_bytes": 16384,
    "VAL005.max_bytes": 524288,
}

ALL_CASES = [
    *test_rules_key.CASES,
    *test_rules_ttl.CASES,
    *test_rules_evi.CASES,
    *test_rules_dur.CASES,
    *test_rules_ins.CASES,
    *test_rules_hsh.CASES,
    *test_rules_val.CASES,
]


def test_it_has_every_design_rule_of_the_contract():
    assert {r.id: r.default_severity.value for r in DESIGN_RULES} == CONTRACT
    assert [r.id for r in DESIGN_RULES] == list(CONTRACT)  # registry order is catalog order


def test_it_declares_the_contract_thresholds():
    declared = {name: value for r in DESIGN_RULES for name, value in r.thresholds.items()}
    assert declared == THRESHOLDS


def test_it_lists_drift_rules_after_design_rules():
    assert ALL_RULES == [*DESIGN_RULES, *DRIFT_RULES]
    assert all(isinstance(r, DriftRule) and r.group == "DRF" for r in DRIFT_RULES)
    assert len({r.id for r in ALL_RULES}) == len(ALL_RULES)


@pytest.mark.parametrize("rule", DESIGN_RULES, ids=lambda r: r.id)
def test_every_rule_has_two_failing_and_two_passing_cases(rule):
    failing, passing = counts(ALL_CASES).get(rule.id, (0, 0))
    assert failing >= 2 and passing >= 2, (failing, passing)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_documents_itself(rule: Rule):
    assert type(rule).__name__ == rule.id or isinstance(rule, DriftRule)
    assert rule.group == rule.id[:3]
    assert isinstance(rule.default_severity, Severity)
    assert rule.title and len(rule.title) <= 60
    doc = rule.documentation()
    if not isinstance(rule, DriftRule):
        for part in ("**Why it matters.**", "**What to do instead.**", "**Bad**", "**Good**", "```yaml"):
            assert part in doc, part
    for name in rule.thresholds:
        assert name in doc, f"{name} is not documented"
    assert rule.summary() and "\n" not in rule.summary()


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_cites_its_sources(rule: Rule):
    """Design and drift rules alike end in one `**Sources.**` paragraph of linked pages."""
    doc = rule.documentation()
    assert doc.count("**Sources.**") == 1
    sources = doc.split("**Sources.**", 1)[1].split("\n\n", 1)[0]
    cited = re.findall(r"<(https://[^>\s]+)>", sources)
    assert cited, "no linked source in the Sources paragraph"
    urls = re.findall(r"<(https://[^>\s]+)>", doc)
    assert all(url.startswith(("https://learn.microsoft.com/", "https://redis.io/docs/")) for url in urls), (
        urls
    )
    # every address is a Markdown autolink, so the rule page renders it as a link
    bare = [m.start() for m in re.finditer("https://", doc) if doc[m.start() - 1] != "<"]
    assert not bare, [doc[i : i + 60] for i in bare]


@pytest.mark.parametrize(
    ("rule_id", "page"),
    [
        ("TTL008", "https://redis.io/docs/latest/commands/hexpire/"),
        ("VAL005", "https://learn.microsoft.com/azure/redis/best-practices-flash-optimized"),
        ("HSH004", "https://learn.microsoft.com/azure/redis/architecture"),
        ("INS001", "https://learn.microsoft.com/azure/azure-cache-for-redis/retirement-faq"),
        ("INS003", "https://learn.microsoft.com/azure/redis/entra-for-authentication"),
        ("INS007", "https://learn.microsoft.com/azure/redis/best-practices-memory-management"),
        ("INS008", "https://learn.microsoft.com/azure/azure-cache-for-redis/cache-how-to-geo-replication"),
    ],
)
def test_azure_facts_cite_their_microsoft_learn_page(rule_id, page):
    from advisor.core import platform

    assert page in get_rule(rule_id).documentation()
    constants = {v for k, v in vars(platform).items() if k.isupper() and isinstance(v, str)}
    assert page.rstrip("/") in constants or page.startswith("https://redis.io/")


def test_titles_are_unique():
    titles = [r.title for r in ALL_RULES]
    assert len(set(titles)) == len(titles)


def test_it_finds_rules_by_id():
    assert get_rule("TTL001").title == "Disposable cache without TTL"
    with pytest.raises(KeyError):
        get_rule("XXX999")


def test_the_catalog_carries_what_the_rule_pages_need():
    catalog = rule_catalog()
    assert [entry["id"] for entry in catalog] == [r.id for r in ALL_RULES]
    entry = rule_doc("VAL001")
    assert entry["title"] == "Large values"
    assert entry["group"] == "VAL" and entry["group_title"] == "Values and content"
    assert entry["default_severity"] == "medium"
    assert entry["thresholds"] == {"VAL001.max_bytes": 102400, "VAL001.high_bytes": 1048576}
    assert entry["documentation"].startswith("Values can be very large")
    assert entry["kind"] == "design"


def test_the_clean_base_design_gives_no_finding():
    ctx = DesignContext(build(base()), today=TODAY)
    findings = [f for rule in DESIGN_RULES for f in rule.check(ctx)]
    assert findings == []


def test_rules_reject_bad_metadata():
    with pytest.raises(TypeError):

        class Bad(Rule):
            id = "KEY01"

    with pytest.raises(TypeError):

        class BadThreshold(Rule):
            id = "KEY099"
            thresholds = {"KEY001.x": 1}


def test_the_registry_includes_the_drift_module_when_it_exists(monkeypatch):
    import importlib
    import importlib.machinery
    import sys
    import types

    import advisor.core.rules as registry

    class DRF099(DriftRule):
        """A drift rule for this test only."""

        id = "DRF099"
        title = "Test drift rule"
        default_severity = Severity.low

    fake = types.ModuleType("advisor.core.rules.drift")
    fake.__spec__ = importlib.machinery.ModuleSpec("advisor.core.rules.drift", None)
    fake.RULES = [DRF099()]
    monkeypatch.setitem(sys.modules, "advisor.core.rules.drift", fake)
    try:
        reloaded = importlib.reload(registry)
        assert reloaded.DRIFT_RULES == fake.RULES
        assert reloaded.ALL_RULES[-1] is fake.RULES[0]
        assert reloaded.get_rule("DRF099") is fake.RULES[0]
        assert list(fake.RULES[0].check(None)) == []  # drift rules say nothing about a design alone
    finally:
        monkeypatch.undo()
        importlib.reload(registry)
