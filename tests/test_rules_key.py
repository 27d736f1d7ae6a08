"""KEY rules: table-driven pass/fail cases, plus a property test of KEY005's exactness."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_cases import Case, base, build, inst_add, no_change, ns_add, ns_set, run_case, run_rule

from advisor.core.patterns import parse_pattern
from advisor.core.rules.key import name_words

P = "namespace:product-cache"


def pattern(text: str):
    return lambda d: ns_set(d, "product-cache", pattern=text)


def add_catalog(name: str, text: str, **fields):
    return lambda d: ns_add(d, name, text, **fields)


CASES = [
    # KEY001: fewer than 2 literal segments before the first placeholder
    Case("KEY001", "one-segment", pattern("product:<id:int>"), [(P, "medium")]),
    Case("KEY001", "placeholder-first", pattern("<env>:catalog:product:v3:<id:int>"), [(P, "medium")]),
    Case("KEY001", "placeholder-inside-second-segment", pattern("prod:cat<id:int>:v1"), [(P, "medium")]),
    Case("KEY001", "exactly-two", pattern("prod:catalog:<id:int>"), []),
    Case("KEY001", "fully-literal", pattern("prod:catalog:config:v1"), []),
    Case("KEY001", "base", no_change, []),
    # KEY002: no literal version segment
    Case("KEY002", "no-version", pattern("prod:catalog:product:<id:int>"), [(P, "low")]),
    Case("KEY002", "version-word", pattern("prod:catalog:version3:<id:int>"), [(P, "low")]),
    Case("KEY002", "version-placeholder", pattern("prod:catalog:v<ver:int>:<id:int>"), [(P, "low")]),
    Case("KEY002", "version-with-suffix", pattern("prod:catalog:v3x:<id:int>"), [(P, "low")]),
    Case("KEY002", "v10", pattern("prod:catalog:v10:product:<id:int>"), []),
    Case("KEY002", "base", no_change, []),
    # KEY003: personal data in placeholder names, unless kind hash
    Case("KEY003", "email", pattern("prod:identity:user:v1:<email>"), [(P, "high")]),
    Case("KEY003", "camel-case", pattern("prod:identity:user:v1:<customerEmail>"), [(P, "high")]),
    Case("KEY003", "snake-ip", pattern("prod:identity:user:v1:<user_ip>"), [(P, "high")]),
    Case("KEY003", "dash-name", pattern("prod:identity:user:v1:<first-name>"), [(P, "high")]),
    Case("KEY003", "acronym", pattern("prod:identity:user:v1:<userIPAddress:str>"), [(P, "high")]),
    Case("KEY003", "phone-int", pattern("prod:identity:user:v1:<phoneNumber:int>"), [(P, "high")]),
    Case("KEY003", "hash-kind-safe", pattern("prod:identity:user:v1:<email_hash:hash>"), []),
    Case("KEY003", "username-one-word", pattern("prod:identity:user:v1:<username>"), []),
    Case("KEY003", "emailed-at", pattern("prod:identity:user:v1:<emailed_at:int>"), []),
    # KEY004: unbounded free text
    Case("KEY004", "any-kind", pattern("prod:catalog:page:v1:<slug:any>"), [(P, "medium")]),
    Case("KEY004", "search-term", pattern("prod:catalog:search:v1:<search_term>"), [(P, "medium")]),
    Case("KEY004", "camel-url", pattern("prod:catalog:page:v1:<requestUrl>"), [(P, "medium")]),
    Case("KEY004", "hashed-query", pattern("prod:catalog:search:v1:<query_hash:hash>"), []),
    Case("KEY004", "any-but-hash", pattern("prod:catalog:search:v1:<query:hash>"), []),
    Case("KEY004", "terminal-not-term", pattern("prod:catalog:pos:v1:<terminal_id:int>"), []),
    Case("KEY004", "anonymous-star", pattern("prod:catalog:page:v1:*"), [(P, "medium")]),
    Case("KEY004", "star-inside-a-segment", pattern("prod:catalog:page-*:v1:<id:int>"), [(P, "medium")]),
    Case("KEY004", "named-str-is-not-star", pattern("prod:catalog:page:v1:<slug>"), []),
    Case("KEY004", "str-named-str", pattern("prod:catalog:page:v1:<str>"), []),
    # KEY005: exact overlap on one instance; high across teams; target is the first name
    Case(
        "KEY005",
        "same-team-medium",
        add_catalog("product-alias", "prod:catalog:product:v3:<sku>"),
        [("namespace:product-alias", "medium", ["namespace:product-cache"])],
    ),
    Case(
        "KEY005",
        "other-team-high",
        add_catalog("a-search", "prod:catalog:<entity>:v3:<id:int>", team="identity"),
        [("namespace:a-search", "high", ["namespace:product-cache"])],
    ),
    Case(
        "KEY005",
        "placeholder-first-segment",
        add_catalog("zz-any-env", "<env>:catalog:product:v3:<id:int>"),
        [("namespace:product-cache", "medium", ["namespace:zz-any-env"])],
    ),
    Case(
        "KEY005",
        "other-instance",
        lambda d: (
            inst_add(d, "prod-other"),
            ns_add(d, "alias", "prod:catalog:product:v3:<sku>", instance="prod-other"),
        ),
    ),
    Case("KEY005", "uuid-vs-int-disjoint", add_catalog("product-uuid", "prod:catalog:product:v3:<id:uuid>")),
    Case("KEY005", "longer-disjoint", add_catalog("product-meta", "prod:catalog:product:v3:<id:int>:meta")),
    Case("KEY005", "prefix-alike-disjoint", add_catalog("products", "prod:catalog:products:v3:<id:int>")),
    # KEY006: environment word of another environment
    Case("KEY006", "staging-on-prod", pattern("staging:catalog:product:v3:<id:int>"), [(P, "medium")]),
    Case("KEY006", "qa-on-prod", pattern("qa:catalog:product:v3:<id:int>"), [(P, "medium")]),
    Case(
        "KEY006",
        "prod-on-dev",
        lambda d: (
            inst_add(d, "dev-cache", environment="dev"),
            ns_add(d, "dev-x", "production:catalog:x:v1:<id:int>", instance="dev-cache"),
        ),
        [("namespace:dev-x", "medium")],
    ),
    Case("KEY006", "production-on-prod", pattern("production:catalog:product:v3:<id:int>"), []),
    Case("KEY006", "upper-case-prod", pattern("PROD:catalog:product:v3:<id:int>"), []),
    Case(
        "KEY006",
        "stage-on-staging",
        lambda d: (
            inst_add(d, "stg", environment="staging"),
            ns_add(d, "stg-x", "stage:catalog:x:v1:<id:int>", instance="stg"),
        ),
    ),
    Case("KEY006", "not-an-environment-word", pattern("prodx:catalog:product:v3:<id:int>"), []),
    # KEY007: literal text over 64 bytes; "prod:catalog:" + N + ":v3:" is 17 + N bytes
    Case("KEY007", "65-bytes", pattern("prod:catalog:" + "x" * 48 + ":v3:<id:int>"), [(P, "low")]),
    Case("KEY007", "65-bytes-utf8", pattern("prod:catalog:" + "x" * 46 + "é:v3:<id:int>"), [(P, "low")]),
    Case("KEY007", "64-bytes", pattern("prod:catalog:" + "x" * 47 + ":v3:<id:int>"), []),
    Case("KEY007", "64-bytes-utf8", pattern("prod:catalog:" + "x" * 45 + "é:v3:<id:int>"), []),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


@pytest.mark.parametrize(
    "name, words",
    [
        ("customerEmail", ["customer", "email"]),
        ("user_ip", ["user", "ip"]),
        ("first-name", ["first", "name"]),
        ("userIPAddress", ["user", "ip", "address"]),
        ("HTTPUrl", ["http", "url"]),
        ("ipv4", ["ipv4"]),
        (None, []),
    ],
)
def test_it_splits_placeholder_names_into_words(name, words):
    assert name_words(name) == words


def test_it_shows_a_witness_key_matching_both_patterns():
    d = _two_on_one_instance("prod:catalog:<kind>:v3:<id:int>", "prod:catalog:product:<ver>:<n:hex>")
    (finding,) = run_rule("KEY005", build(d))
    witness = _witness(finding.message)
    assert parse_pattern("prod:catalog:<kind>:v3:<id:int>").matches(witness)
    assert parse_pattern("prod:catalog:product:<ver>:<n:hex>").matches(witness)


def test_it_reports_each_overlapping_pair_once():
    d = _two_on_one_instance("prod:catalog:<a>:v1:<id:int>", "prod:catalog:x:<v>:<id:int>")
    ns_add(d, "ns-c", "prod:catalog:<b>:<c>:<id:int>", instance="prod-state")
    findings = run_rule("KEY005", build(d))
    pairs = sorted((f.target, *f.related) for f in findings)
    assert pairs == [
        ("namespace:ns-a", "namespace:ns-b"),
        ("namespace:ns-a", "namespace:ns-c"),
        ("namespace:ns-b", "namespace:ns-c"),
    ]


# ---------------------------------------------------------------------------------------------
# KEY005 is exact: a reported witness matches both patterns; when nothing is reported, keys of
# one pattern never match the other.

_literal = st.sampled_from(["a", "b", "ab", "1", "v1", "x-y"])
_placeholder = st.sampled_from(["<p:int>", "<p:hex>", "<p:str>", "<p:any>", "<p:uuid>", "<p:hash>", "*"])
_segment = st.one_of(_literal, _placeholder, st.tuples(_literal, _placeholder).map("".join))
_pattern = st.lists(_segment, min_size=1, max_size=4).map(lambda segs: "prod:t:" + ":".join(_number(segs)))


def _number(segments: list[str]) -> list[str]:
    # placeholder names must be unique within a pattern
    out, i = [], 0
    for s in segments:
        while "<p:" in s:
            s = s.replace("<p:", f"<p{i}:", 1)
            i += 1
        out.append(s)
    return out


def _two_on_one_instance(a: str, b: str) -> dict:
    from rule_cases import base

    d = base()
    ns_add(d, "ns-a", a, instance="prod-state")
    ns_add(d, "ns-b", b, instance="prod-state", team="identity")
    return d


def _witness(message: str) -> str:
    m = re.search(r"both match the key `(.*)` \(", message)
    assert m, message
    return m.group(1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=_pattern, b=_pattern, data=st.data())
def test_key005_is_exact(a, b, data):
    findings = run_rule("KEY005", build(_two_on_one_instance(a, b)))
    pa, pb = parse_pattern(a), parse_pattern(b)
    if findings:
        (finding,) = findings
        assert finding.severity.value == "high"  # the two namespaces belong to different teams
        witness = _witness(finding.message)
        assert pa.matches(witness) and pb.matches(witness)
    else:
        for _ in range(5):
            key = data.draw(st.from_regex(pa.regex(), fullmatch=True))
            assert not pb.matches(key), (a, b, key)
            key = data.draw(st.from_regex(pb.regex(), fullmatch=True))
            assert not pa.matches(key), (a, b, key)


def test_key004_says_what_the_star_is():
    d = base()
    pattern("prod:catalog:page:v1:*")(d)
    (finding,) = run_rule("KEY004", build(d))
    assert "`*` (anonymous" in finding.message
