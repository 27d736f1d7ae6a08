"""Design files name rules and thresholds that exist, and values the registry can store."""

import json
from pathlib import Path

import pytest
import yaml

from advisor.core.design import DesignError, load_design

CLEAN = Path(__file__).parent / "data" / "clean_design.yaml"


def _with(**sections) -> str:
    data = yaml.safe_load(CLEAN.read_text())
    data.update(sections)
    return yaml.safe_dump(data, sort_keys=False)


def _errors(text: str) -> dict[str, str]:
    with pytest.raises(DesignError) as exc:
        load_design(text)
    return {e.loc: e.message for e in exc.value.errors}


def test_it_refuses_unknown_rule_ids_in_the_policy():
    errors = _errors(_with(policy={"disable": ["TTL999"], "severity": {"KEY099": "high"}}))
    assert errors["policy.disable[0]"].startswith("no rule named 'TTL999'")
    assert errors["policy.severity.KEY099"].startswith("no rule named 'KEY099'")


def test_it_refuses_unknown_threshold_names_with_a_suggestion():
    errors = _errors(_with(policy={"thresholds": {"VAL001.max_byte": 1000}}))
    assert errors["policy.thresholds.VAL001.max_byte"] == (
        "no threshold named 'VAL001.max_byte'; did you mean 'VAL001.max_bytes'?"
    )


def test_it_accepts_known_rules_and_thresholds():
    design = load_design(
        _with(policy={"disable": ["KEY002"], "thresholds": {"TTL002.min_cardinality": 5000}})
    )
    assert design.policy.disable == ["KEY002"]


def test_it_refuses_a_waiver_of_an_unknown_rule():
    data = yaml.safe_load(CLEAN.read_text())
    ns = data["namespaces"][0]["name"]
    waiver = {
        "rule": "ABC123",
        "target": f"namespace:{ns}",
        "reason": "r",
        "expires": "2030-01-01",
        "approved_by": "x",
    }
    errors = _errors(_with(waivers=[waiver]))
    assert errors["waivers[0].rule"].startswith("no rule named 'ABC123'")


@pytest.mark.parametrize(
    "field,value",
    [
        ("cardinality", 2**63),
        ("ttl", {"mode": "absolute", "seconds": 2**31}),
        ("value_bytes", {"typical": 1, "max": 2**64}),
    ],
)
def test_it_refuses_values_too_large_to_store(field, value):
    data = yaml.safe_load(CLEAN.read_text())
    data["namespaces"][0][field] = value
    with pytest.raises(DesignError):
        load_design(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("text", ["[" * 5000, "{" * 5000, "a: " + "[" * 3000 + "]" * 3000])
def test_deeply_nested_input_is_a_clear_error_not_a_crash(text):
    with pytest.raises(DesignError) as exc:
        load_design(text)
    assert exc.value.errors


@pytest.mark.parametrize(
    "connection,message",
    [
        ({"url": "redis://10.0.0.5\u0000.redis.azure.net:22/0", "credential": "none"}, "NUL"),
        ({"url": "rediss://h.redis.azure.net:10000/0?ssl_cert_reqs=none", "credential": "none"}, "query"),
        ({"url": "rediss://h.redis.azure.net:10000/0#s3cret", "credential": "none"}, "query or fragment"),
        ({"url": "rediss://h.redis.azure.net:10000/0", "credential": "env:ADVISOR_SECRET_KEY"}, "reserved"),
        ({"url": "rediss://h.redis.azure.net:10000/0", "credential": "env:DATABASE_URL"}, "reserved"),
        ({"url": "rediss://h.redis.azure.net:10000/0", "credential": "env:AZURE_CLIENT_SECRET"}, "reserved"),
    ],
)
def test_connections_cannot_smuggle_hosts_options_or_the_advisors_secrets(connection, message):
    data = yaml.safe_load(CLEAN.read_text())
    data["instances"][0]["connection"] = connection
    with pytest.raises(DesignError) as exc:
        load_design(json.dumps(data))
    assert any(message in e.message and e.loc.endswith(("url", "credential")) for e in exc.value.errors)


@pytest.mark.parametrize(
    "where,field,limit",
    [
        (("teams", 0), "contact", 254),
        (("instances", 0), "region", 64),
        (("namespaces", 0), "source_of_truth", 200),
    ],
)
def test_text_longer_than_the_registry_stores_is_a_located_error(where, field, limit):
    data = yaml.safe_load(CLEAN.read_text())
    data[where[0]][where[1]][field] = "x" * (limit + 1)
    errors = _errors(yaml.safe_dump(data, sort_keys=False))
    assert errors[f"{where[0]}[{where[1]}].{field}"] == f"must be at most {limit} characters long"
    data[where[0]][where[1]][field] = "x" * limit
    load_design(yaml.safe_dump(data, sort_keys=False))
