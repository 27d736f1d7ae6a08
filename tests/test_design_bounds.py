"""Numbers that Python cannot even convert are located design errors, never a crash."""

import pytest

from advisor.core.design import DesignError, load_design

HUGE = "9" * 5000  # past Python's 4,300-digit limit for int()

MINIMAL_YAML = """\
version: 1
teams: [{{name: t}}]
instances:
  - {{name: i, environment: dev, product: redis-oss, memory_gb: 1, clustering: none, high_availability: false,
      persistence: none, geo_replication: false, eviction_policy: allkeys-lru, auth: none, tls: true,
      public_network_access: false}}
namespaces:
  - {{name: n, team: t, instance: i, pattern: "dev:t:thing:v1:<id:int>", classification: disposable,
      data_type: string, ttl: {{mode: absolute, seconds: 60}}, value_bytes: {{typical: 10, max: 20}},
      cardinality: {cardinality}, ops_per_sec: {{reads: 1, writes: 1}}, data_classification: internal}}
"""


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_an_integer_of_absurd_length_is_a_located_error(fmt):
    text = MINIMAL_YAML.format(cardinality=HUGE)
    if fmt == "json":
        import json

        import yaml

        data = yaml.safe_load(MINIMAL_YAML.format(cardinality=1))
        text = json.dumps(data).replace('"cardinality": 1', f'"cardinality": {HUGE}')
    with pytest.raises(DesignError) as e:
        load_design(text, filename=f"d.{fmt}")
    [issue] = e.value.errors
    assert issue.loc == "namespaces[0].cardinality"
    assert HUGE not in str(e.value)


def test_a_huge_version_is_refused_without_echoing_it():
    with pytest.raises(DesignError) as e:
        load_design(f"version: {HUGE}\n")
    assert "unsupported version" in str(e.value)
    assert len(str(e.value)) < 200


def test_the_minimal_design_loads():
    assert load_design(MINIMAL_YAML.format(cardinality=5)).namespaces[0].cardinality == 5


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("INS007.medium_ratio", -0.1, "must not be negative"),
        ("INS007.reserved_share", 1, "below 1"),
        ("DRF014.max_clients_share", 1.5, "between 0 and 1"),
    ],
)
def test_shares_in_the_policy_are_between_0_and_1(name, value, says):
    text = MINIMAL_YAML.format(cardinality=1) + f"policy: {{thresholds: {{{name}: {value}}}}}\n"
    with pytest.raises(DesignError) as e:
        load_design(text)
    [issue] = e.value.errors
    assert issue.loc == "policy.thresholds" and says in issue.message and name in issue.message


def test_a_share_at_its_bound_is_accepted():
    text = (
        MINIMAL_YAML.format(cardinality=1)
        + "policy: {thresholds: {INS007.reserved_share: 0.5, INS007.high_ratio: 1, DRF013.max_ratio: 3}}\n"
    )
    assert load_design(text).policy.thresholds["INS007.reserved_share"] == 0.5


def test_a_malformed_sku_says_what_a_size_looks_like():
    text = MINIMAL_YAML.format(cardinality=1).replace("memory_gb: 1,", "memory_gb: 1, sku: B-10,")
    with pytest.raises(DesignError) as e:
        load_design(text)
    [issue] = e.value.errors
    assert issue.loc == "instances[0].sku" and "Azure size name" in issue.message
