"""SARIF output: valid against the OASIS SARIF 2.1.0 schema, one result per unwaived finding."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from rule_cases import TODAY, base, build, ns_set

from advisor.core.design import dump_design
from advisor.core.engine import lint_design
from advisor.core.rules import ALL_RULES
from advisor.core.sarif import level, target_lines, to_sarif

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def _design():
    d = base()
    ns_set(d, "product-cache", ttl={"mode": "none"}, value_bytes={"typical": 2048, "max": 200_000})
    ns_set(d, "sessions", ttl={"mode": "sliding", "seconds": 2 * 86400}, contains=["credentials"])
    ns_set(d, "cart-totals", pattern="prod:checkout:cart:v1:<customer:int>:totals")  # HSH002, a pair
    d["waivers"] = [
        {
            "rule": "VAL001",
            "target": "namespace:product-cache",
            "reason": "images, moving to blob storage",
            "expires": (TODAY + timedelta(days=30)).isoformat(),
            "approved_by": "platform-architects",
        }
    ]
    return build(d)


@pytest.fixture
def sarif():
    design = _design()
    text = dump_design(design)
    return to_sarif(lint_design(design, today=TODAY), "designs/prod design.yaml", source_text=text), text


def test_it_validates_against_the_sarif_schema(sarif):
    log, _ = sarif
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"


def test_an_empty_result_is_valid_too():
    log = to_sarif(lint_design(build(base()), today=TODAY), "clean.yaml")
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


def test_it_has_one_result_per_unwaived_finding(sarif):
    log, _ = sarif
    results = log["runs"][0]["results"]
    assert sorted((r["ruleId"], r["properties"]["target"]) for r in results) == [
        ("HSH002", "namespace:cart-items"),
        ("TTL001", "namespace:product-cache"),
        ("TTL004", "namespace:sessions"),
        ("VAL003", "namespace:sessions"),
    ]


def test_it_maps_severities_to_levels(sarif):
    assert [level(s) for s in ("critical", "high", "medium", "low", "info")] == [
        "error",
        "error",
        "warning",
        "note",
        "note",
    ]
    log, _ = sarif
    by_rule = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert by_rule == {"HSH002": "error", "TTL001": "error", "TTL004": "note", "VAL003": "error"}


def test_it_describes_every_rule(sarif):
    log, _ = sarif
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in ALL_RULES]
    ttl001 = next(r for r in rules if r["id"] == "TTL001")
    assert ttl001["shortDescription"] == {"text": "Disposable cache without TTL"}
    assert ttl001["helpUri"] == "/rules/TTL001/"
    assert "**Bad**" in ttl001["help"]["markdown"] and "```yaml" in ttl001["help"]["markdown"]
    assert "**" not in ttl001["help"]["text"]
    assert ttl001["fullDescription"]["text"] == "A disposable cache namespace has no TTL."
    assert ttl001["defaultConfiguration"] == {"level": "error"}
    for result in log["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_results_point_at_the_design_file_and_the_item_line(sarif):
    log, text = sarif
    lines = text.splitlines()
    for result in log["runs"][0]["results"]:
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "designs/prod%20design.yaml"
        name = result["properties"]["target"].split(":", 1)[1]
        assert lines[physical["region"]["startLine"] - 1].strip() == f"- name: {name}"
        assert location["logicalLocations"][0]["fullyQualifiedName"] == result["properties"]["target"]
    pair = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "HSH002")
    assert pair["relatedLocations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "namespace:cart-totals"


def test_without_the_source_text_results_still_have_a_location():
    log = to_sarif(lint_design(_design(), today=TODAY), "d.yaml")
    for result in log["runs"][0]["results"]:
        assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_fingerprints_are_stable_and_distinct(sarif):
    log, _ = sarif
    again = to_sarif(lint_design(_design(), today=TODAY), "designs/prod design.yaml")
    first = [r["partialFingerprints"] for r in log["runs"][0]["results"]]
    assert first == [r["partialFingerprints"] for r in again["runs"][0]["results"]]
    assert len({json.dumps(f) for f in first}) == len(first)


def test_target_lines_reads_yaml_and_json():
    assert target_lines("namespaces:\n  - name: a\n    team: t\n  - name: b\n") == {
        "namespace:a": 2,
        "namespace:b": 4,
    }
    assert target_lines('{"instances": [\n {"name": "x"}]}') == {"instance:x": 2}
    assert target_lines("{not yaml: [") == {}
    assert target_lines(None) == {}


def test_a_help_base_uri_makes_links_absolute():
    log = to_sarif(
        lint_design(build(base()), today=TODAY), "d.yaml", help_base_uri="https://advisor.example.com/"
    )
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["rules"][0]["helpUri"] == "https://advisor.example.com/rules/KEY001/"
    assert driver["informationUri"] == "https://advisor.example.com/rules/"
