"""The live pattern check of the namespace form: a valid pattern also shows the design findings it
raises on its own (KEY003 for `<email:str>`...), from the rules themselves and the policy."""

import re

import pytest
from conftest import demo_design
from rule_cases import TODAY, base, build
from test_rules_key import CASES as KEY_CASES

from advisor.core.engine import lint_design, lint_pattern
from advisor.core.rules.key import PATTERN_RULES
from advisor.registry.models import Policy

URL = "/namespaces/validate-pattern/"
CLEAN = "prod:catalog:product:v3:<id:int>"


def _warnings(body: str) -> list[tuple[str, str]]:
    """(severity, rule) of each warning shown, in order."""
    block = re.search(r"<ul[^>]*data-pattern-warnings>(.*?)</ul>", body, re.S)
    if block is None:
        return []
    return re.findall(r'class="badge sev sev-(\w+)".*?href="/rules/(\w+)/"', block.group(1), re.S)


def _visible(body: str) -> str:
    return re.sub(r"<code>.*?</code>|<[^>]+>", "", body, flags=re.S)


@pytest.mark.django_db
def test_a_placeholder_named_after_personal_data_is_valid_with_its_warnings(client, viewer):
    client.force_login(viewer)
    body = client.post(URL, {"pattern": "<email:str>"}).content.decode()
    assert "Pattern is valid" in body
    # KEY003 (personal data), and what else the pattern alone decides: no literal namespace, no version.
    assert _warnings(body) == [("high", "KEY003"), ("medium", "KEY001"), ("low", "KEY002")]
    assert "Raw personal data in key" in body
    assert "puts raw personal data in the key: &lt;email:str&gt; (email)" in body
    assert "<code>&lt;email:str&gt;</code>" in body  # the message's code span, rendered
    assert "`" not in _visible(body)


@pytest.mark.django_db
def test_a_clean_pattern_has_no_warnings_and_an_invalid_one_only_its_error(client, viewer):
    client.force_login(viewer)
    clean = client.post(URL, {"pattern": CLEAN}).content.decode()
    assert "Pattern is valid" in clean and "data-pattern-warnings" not in clean
    bad = client.post(URL, {"pattern": "<email:strr>"}).content.decode()
    assert "invalid-feedback" in bad and "data-pattern-warnings" not in bad and "KEY003" not in bad
    assert "data-pattern-warnings" not in client.post(URL, {"pattern": ""}).content.decode()


@pytest.mark.django_db
def test_the_warnings_follow_the_organisation_policy(client, viewer):
    client.force_login(viewer)
    long_literal = "prod:catalog:" + "x" * 40 + ":v3:<id:int>"  # 57 literal bytes
    assert _warnings(client.post(URL, {"pattern": long_literal}).content.decode()) == []
    Policy.objects.create(
        pk=1,
        disable=["KEY002"],
        severity={"KEY003": "critical"},
        thresholds={"KEY007.max_literal_bytes": 50},
    )
    assert _warnings(client.post(URL, {"pattern": "<email:str>"}).content.decode()) == [
        ("critical", "KEY003"),
        ("medium", "KEY001"),
    ]
    body = client.post(URL, {"pattern": long_literal}).content.decode()
    assert _warnings(body) == [("low", "KEY007")]
    assert "is 57 bytes, over the limit of 50" in body


def _pattern_findings_of_the_whole_lint(design) -> dict[str, list]:
    pattern_rules = {rule.id for rule in PATTERN_RULES}
    by_target: dict[str, list] = {}
    for f in lint_design(design, today=TODAY).findings:
        if f.rule in pattern_rules:
            by_target.setdefault(f.target, []).append((f.rule, f.severity, f.message))
    return by_target


def _designs():
    yield "demo", demo_design()  # with its policy: KEY003 is critical there
    for case in KEY_CASES:
        d = base()
        case.change(d)
        yield case.id, build(d)


def test_a_pattern_alone_gets_what_the_design_lint_gives_its_namespace():
    """For every namespace of the demo design and of the KEY rule cases, the findings of the rules a
    pattern decides are, in the whole-design lint, the ones lint_pattern gives its pattern alone."""
    assert {rule.id for rule in PATTERN_RULES} == {"KEY001", "KEY002", "KEY003", "KEY004", "KEY007"}
    seen = set()
    for name, design in _designs():
        by_target = _pattern_findings_of_the_whole_lint(design)
        for ns in design.namespaces:
            target = f"namespace:{ns.name}"
            alone = lint_pattern(ns.pattern, policy=design.policy, target=target)
            assert [(f.rule, f.severity, f.message) for f in alone] == by_target.get(target, []), (
                name,
                ns.name,
            )
            assert all(f.target == target and f.title and f.remediation for f in alone)
            seen.update(f.rule for f in alone)
    assert seen == {"KEY001", "KEY002", "KEY003", "KEY004", "KEY007"}  # every one of them was compared
