"""`lint_designs`: the CI entry point. Output formats, exit codes, errors, and no database.

The call_command tests run without the `db` fixture, so any database access would fail them.
"""

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from advisor.core.design import DesignError, load_design
from advisor.core.engine import lint_design
from advisor.core.report_text import summary_line
from tests.conftest import CLEAN_DESIGN, DEMO_DESIGN, ROOT

SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
TODAY = "2026-11-26"

# One line of the clean design changed, so that exactly one rule fires.
ONE_TTL001 = (
    "ttl: {mode: absolute, seconds: 600, jitter_seconds: 90}\n    value_bytes: {typical: 2048, max: 16384}",
    "ttl: {mode: none}\n    value_bytes: {typical: 2048, max: 16384}",
)
ONE_KEY002 = (
    'pattern: "prod:catalog:product-miss:v1:<product_id:int>"',
    'pattern: "prod:catalog:product-miss:<product_id:int>"',
)

INVALID = """\
version: 1
teams:
  - name: Catalog
instances:
  - name: prod-cache
    environment: production
    product: azure-managed-redis
    tier: balanced
    memory_gb: -1
    clustering: oss
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: allkeys-lru
    auth: entra-id
    tls: true
    public_network_access: false
namespaces:
  - name: product-cache
    team: catalog
    instance: prod-cache
    pattern: "prod:catalog:<id:intt>"
    classification: disposable
    data_type: string
    ttl: {mode: absolute, seconds: 0}
    value_bytes: {typical: 10, max: 1}
    cardinality: 10
    ops_per_sec: {reads: 1, writes: 1}
    data_classification: internal
    colour: blue
"""


def demo_result():
    return lint_design(load_design(DEMO_DESIGN.read_bytes()), today=dt.date.fromisoformat(TODAY))


def variant(tmp_path: Path, old: str, new: str, name: str = "variant.yaml") -> Path:
    text = CLEAN_DESIGN.read_text()
    assert text.count(old) == 1
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def lint(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("lint_designs", *map(str, args), stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def lint_json(*args) -> tuple[int, dict]:
    code, out, _ = lint(*args, "--format", "json")
    return code, json.loads(out)


# Text -----------------------------------------------------------------------------------------


def test_it_lints_the_demo_file_as_text_grouped_by_target():
    code, out, err = lint(DEMO_DESIGN, "--today", TODAY)
    assert code == 1 and err == ""
    assert out.startswith("namespace:user-by-email\n  CRITICAL  KEY003")
    assert "\ninstance:prod-legacy-cache\n" in out and "\nnamespace:search-results\n" in out
    assert "(waived)" in out and "waived until 2027-03-31" in out
    assert out.rstrip().endswith(summary_line(demo_result()))
    assert "\033[" not in out  # not a terminal: no colour


def test_it_colours_only_when_asked_or_on_a_terminal():
    _, out, _ = lint(DEMO_DESIGN, "--today", TODAY, "--force-color")
    assert "\033[1;97;41mCRITICAL" in out
    _, out, _ = lint(DEMO_DESIGN, "--today", TODAY, "--no-color")
    assert "\033[" not in out


def test_the_clean_file_has_no_finding_at_all():
    code, out, err = lint(CLEAN_DESIGN)
    assert (code, out, err) == (0, "No findings.\n", "")
    code, doc = lint_json(CLEAN_DESIGN, "--fail-on", "info")
    assert code == 0 and doc["findings"] == []
    assert doc["summary"] == {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0, "waived": 0}


@pytest.mark.parametrize(
    ("edit", "rule", "severity", "target"),
    [
        (ONE_TTL001, "TTL001", "high", "namespace:product-cache"),
        (ONE_KEY002, "KEY002", "low", "namespace:product-miss"),
    ],
)
def test_a_file_breaking_one_rule_gets_exactly_that_finding(tmp_path, edit, rule, severity, target):
    _, doc = lint_json(variant(tmp_path, *edit))
    assert [(f["rule"], f["severity"], f["target"]) for f in doc["findings"]] == [(rule, severity, target)]


# JSON -----------------------------------------------------------------------------------------


def test_json_is_the_lint_json_of_the_contract():
    code, doc = lint_json(DEMO_DESIGN, "--today", TODAY)
    assert code == 1
    assert list(doc) == ["version", "today", "summary", "findings"]
    assert doc["version"] == 1 and doc["today"] == TODAY
    assert doc == demo_result().to_dict()
    assert doc["summary"]["critical"] >= 1 and doc["summary"]["waived"] >= 1
    keys = ["rule", "severity", "title", "target", "related", "message", "remediation", "waived", "waiver"]
    assert all(list(f) == keys for f in doc["findings"])
    waived = [f for f in doc["findings"] if f["waived"]]
    assert [(f["rule"], f["waiver"]["expires"]) for f in waived] == [("INS004", "2027-03-31")]
    assert waived[0]["waiver"]["reason"] and waived[0]["waiver"]["approved_by"] == "platform-architects"


# Exit codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail_on", "expected"), [("info", 1), ("low", 1), ("medium", 0), ("high", 0), ("critical", 0)]
)
def test_fail_on_sets_the_lowest_failing_severity(tmp_path, fail_on, expected):
    one_low = variant(tmp_path, *ONE_KEY002)
    assert lint(one_low, "--fail-on", fail_on)[0] == expected


@pytest.mark.parametrize(("fail_on", "expected"), [(None, 1), ("high", 1), ("critical", 1)])
def test_fail_on_defaults_to_high(fail_on, expected):
    args = [DEMO_DESIGN, "--today", TODAY] + (["--fail-on", fail_on] if fail_on else [])
    assert lint(*args)[0] == expected


def test_a_waived_finding_does_not_fail_the_run(tmp_path):
    text = CLEAN_DESIGN.read_text().replace(*ONE_TTL001)
    text = text.replace(
        "waivers: []",
        "waivers:\n  - rule: TTL001\n    target: namespace:product-cache\n    reason: warmed by a batch job\n"
        "    expires: 2027-01-31\n    approved_by: platform",
    )
    path = tmp_path / "waived.yaml"
    path.write_text(text)
    code, doc = lint_json(path, "--today", TODAY)
    assert code == 0 and doc["findings"][0]["waived"] is True
    code, doc = lint_json(path, "--today", "2027-02-01")  # the waiver has expired
    assert code == 1 and doc["findings"][0]["waived"] is False and doc["findings"][0]["waiver"] is None


@pytest.mark.parametrize(
    ("today", "severity", "days"),
    [
        ("2026-01-01", "medium", "454 days"),
        ("2026-11-26", "high", "125 days"),
        ("2027-04-01", "critical", "1 days ago"),
    ],
)
def test_today_changes_the_retirement_severity(today, severity, days):
    _, doc = lint_json(DEMO_DESIGN, "--today", today)
    ins001 = [
        f for f in doc["findings"] if f["rule"] == "INS001" and f["target"] == "instance:prod-legacy-cache"
    ]
    assert [f["severity"] for f in ins001] == [severity]
    assert days in ins001[0]["message"] and doc["today"] == today


def test_a_bad_today_is_a_usage_error():
    with pytest.raises(CommandError, match="not a date"):
        lint(DEMO_DESIGN, "--today", "2026-02-30")


# Invalid and unreadable files -----------------------------------------------------------------


def test_an_invalid_file_exits_2_listing_every_error_with_its_location(tmp_path):
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID)
    with pytest.raises(DesignError) as expected:
        load_design(INVALID, filename=str(path))
    issues = expected.value.errors
    assert len(issues) >= 8

    code, out, err = lint(path)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == f"{path}: invalid design file ({len(issues)} errors):"
    assert lines[1:] == [issue.format(str(path)) for issue in issues]
    for fragment in [
        f"{path}:3: teams[0].name: must be a slug",
        f"{path}:6: instances[0].environment:",
        f"{path}:9: instances[0].memory_gb: must be > 0",
        f"{path}:22: namespaces[0].pattern: invalid pattern",
        f"{path}:25: namespaces[0].ttl.seconds: must be >= 1 when mode is absolute",
        f"{path}:26: namespaces[0].value_bytes.max: must be >= typical (10)",
        f"{path}:30: namespaces[0].colour: unknown field",
    ]:
        assert any(line.startswith(fragment) for line in lines), fragment


def test_an_unreadable_file_exits_2_with_a_clear_message(tmp_path):
    code, out, err = lint(tmp_path / "missing.yaml")
    assert code == 2 and out == ""
    assert (
        err.strip() == f"{tmp_path / 'missing.yaml'}: cannot read the design file: No such file or directory"
    )
    code, _, err = lint(tmp_path)
    assert code == 2 and "Is a directory" in err


def test_a_file_that_is_not_yaml_exits_2(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_bytes(b"version: 1\nteams: [\n")
    code, _, err = lint(path)
    assert code == 2 and "invalid YAML" in err
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = lint(path)
    assert code == 2 and "not UTF-8" in err
    path.write_bytes(b"a: " + b"[" * 5000)
    code, _, err = lint(path)
    assert code == 2 and "nests too deeply" in err


def test_json_design_files_are_read_too(tmp_path):
    from advisor.core.design import dump_design

    path = tmp_path / "demo.json"
    path.write_text(dump_design(load_design(DEMO_DESIGN.read_bytes()), "json"))
    _, from_json = lint_json(path, "--today", TODAY)
    _, from_yaml = lint_json(DEMO_DESIGN, "--today", TODAY)
    assert from_json == from_yaml


# SARIF ----------------------------------------------------------------------------------------


def test_sarif_validates_against_the_schema_and_has_one_result_per_unwaived_finding():
    code, out, _ = lint(DEMO_DESIGN, "--today", TODAY, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(log)

    _, doc = lint_json(DEMO_DESIGN, "--today", TODAY)
    unwaived = [f for f in doc["findings"] if not f["waived"]]
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["properties"]["target"]) for r in results] == [
        (f["rule"], f["target"]) for f in unwaived
    ]
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    assert [r["level"] for r in results] == [levels[f["severity"]] for f in unwaived]
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["TTL001"]["shortDescription"]["text"] == "Disposable cache without TTL"
    assert rules["TTL001"]["help"]["markdown"]
    # Results point at the line of their namespace in the file.
    line = DEMO_DESIGN.read_text().splitlines().index("  - name: user-by-email") + 1
    key003 = next(r for r in results if r["ruleId"] == "KEY003")
    assert key003["locations"][0]["physicalLocation"]["region"]["startLine"] == line


def test_sarif_of_the_clean_file_has_no_results():
    code, out, _ = lint(CLEAN_DESIGN, "--format", "sarif")
    assert code == 0 and json.loads(out)["runs"][0]["results"] == []


# As CI runs it: a process, no database ---------------------------------------------------------


def _manage(tmp_path, *args, stdin=None, **kwargs):
    env = {
        **os.environ,
        "ADVISOR_SECRET_KEY": "ci-secret",
        "DJANGO_SETTINGS_MODULE": "advisor.settings",
        # A database that does not exist: the command must not need it, nor create it.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite3'}",
        "ADVISOR_VAR_DIR": str(tmp_path / "var"),
    }
    env.pop("ADVISOR_DEBUG", None)
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "manage.py", "lint_designs", *map(str, args)],
        cwd=ROOT,
        env=env,
        input=stdin,
        timeout=120,
        **kwargs,
    )


def test_the_command_runs_in_a_process_without_a_database(tmp_path):
    demo = _manage(
        tmp_path, DEMO_DESIGN, "--format", "json", "--today", TODAY, capture_output=True, text=True
    )
    assert demo.returncode == 1, demo.stderr
    assert json.loads(demo.stdout)["summary"]["critical"] == 1

    clean = _manage(tmp_path, CLEAN_DESIGN, capture_output=True, text=True)
    assert (clean.returncode, clean.stdout) == (0, "No findings.\n")

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(INVALID)
    bad = _manage(tmp_path, invalid, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "namespaces[0].ttl.seconds: must be >= 1 when mode is absolute" in bad.stderr

    missing = _manage(tmp_path, tmp_path / "nope.yaml", capture_output=True, text=True)
    assert missing.returncode == 2 and "cannot read the design file" in missing.stderr

    low = _manage(
        tmp_path, variant(tmp_path, *ONE_KEY002), "--fail-on", "low", capture_output=True, text=True
    )
    assert low.returncode == 1

    assert not (tmp_path / "never.sqlite3").exists()


def test_the_command_reads_standard_input(tmp_path):
    result = _manage(tmp_path, "-", "--format", "json", stdin=CLEAN_DESIGN.read_bytes(), capture_output=True)
    assert result.returncode == 0 and json.loads(result.stdout)["findings"] == []


def test_text_output_is_coloured_on_a_terminal(tmp_path):
    import pty

    one_low = variant(tmp_path, *ONE_KEY002)
    primary, secondary = pty.openpty()
    try:
        result = _manage(tmp_path, one_low, stdout=secondary, stderr=subprocess.PIPE)
    finally:
        os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    out = b"".join(chunks).decode()
    assert result.returncode == 0
    assert "\033[36mLOW" in out and "KEY002" in out
