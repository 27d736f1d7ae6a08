"""The linter runs anywhere a CI job or a pre-commit hook runs (issue #8).

Every run here is a process with a clean environment: no ADVISOR_* variable (so no secret key and
no debug flag), no DJANGO_SETTINGS_MODULE, no DATABASE_URL, the current directory an empty temporary
one. A sitecustomize module on PYTHONPATH forbids network use and records, when the process ends,
whether the settings module, a database driver or a Redis client was ever imported.

The three entry points: `python /abs/manage.py lint_designs`, the console script `redis-key-lint`
installed with the project (`make test` installs it) and `python -m advisor.lint_cli`.
Output details (text layout, every error message) are in test_lint_command.py; this file checks that
each entry point gives them without any settings, plus several files at once.
"""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.core.management import call_command

from tests.conftest import CLEAN_DESIGN, DEMO_DESIGN, ROOT
from tests.test_lint_command import INVALID, ONE_KEY002, SARIF_SCHEMA, TODAY, variant

SCRIPT = Path(sys.executable).parent / "redis-key-lint"
ENTRY_POINTS = {
    "manage.py": [sys.executable, str(ROOT / "manage.py"), "lint_designs"],
    "console-script": [str(SCRIPT)],
    "module": [sys.executable, "-m", "advisor.lint_cli"],
}

GUARD = """
import atexit, os, socket, sys

_LOG = os.environ["LINT_GUARD_LOG"]


def _record(what):
    with open(_LOG, "a") as fh:
        fh.write(what + "\\n")


class _NoNetwork(socket.socket):
    def connect(self, address):
        _record(f"connect {address!r}")
        raise OSError("no network in this test")

    def connect_ex(self, address):
        _record(f"connect {address!r}")
        return 101


def _getaddrinfo(host, *args, **kwargs):
    _record(f"getaddrinfo {host!r}")
    raise socket.gaierror("no network in this test")


socket.socket = _NoNetwork
socket.getaddrinfo = _getaddrinfo
_FORBIDDEN = ("advisor.settings", "django.db", "sqlite3", "psycopg", "redis", "advisor.findings.clock")


@atexit.register
def _imports():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in _FORBIDDEN or m.startswith(_FORBIDDEN))
    if loaded:
        _record("imported " + " ".join(loaded))
"""


@pytest.fixture
def sandbox(tmp_path):
    """An empty working directory, a clean environment and the guard's log."""
    work = tmp_path / "work"
    guard = tmp_path / "guard"
    for d in (work, guard, tmp_path / "home"):
        d.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "guard.log"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(guard),
        "LINT_GUARD_LOG": str(log),
    }

    class Sandbox:
        def __init__(self):
            self.work, self.env, self.log = work, env, log

        def run(self, command, *args, stdin=None, extra_env=None):
            return subprocess.run(
                [*command, *map(str, args)],
                cwd=work,
                env={**env, **(extra_env or {})},
                input=stdin,
                capture_output=True,
                text=True,
                timeout=120,
            )

        def guard_log(self) -> str:
            return log.read_text() if log.exists() else ""

    yield Sandbox()
    # Nothing was written where the linter ran: no database, no var/ directory.
    assert list(work.iterdir()) == []


@pytest.fixture(scope="session")
def installed():
    """The project is installed in this virtualenv (editable: this checkout's code)."""
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: `make test` installs the project (pip install --no-deps -e .)")
    where = subprocess.run(
        [sys.executable, "-c", "import advisor; print(advisor.__file__)"],
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.strip() == str(ROOT / "advisor" / "__init__.py"), (
        "the installed project is not this checkout; reinstall with pip install --no-deps -e .",
        where.stdout,
        where.stderr,
    )


@pytest.fixture(params=list(ENTRY_POINTS))
def lint(request, sandbox, installed):
    """Runs the linter through one entry point; checks the guard found nothing when it ends."""

    def run(*args, **kwargs):
        return sandbox.run(ENTRY_POINTS[request.param], *args, **kwargs)

    run.sandbox = sandbox
    yield run
    assert sandbox.guard_log() == ""


def test_the_guard_sees_network_use_and_forbidden_imports(sandbox):
    code = "import socket, sqlite3; socket.create_connection(('127.0.0.1', 6379))"
    result = sandbox.run([sys.executable, "-c", code])
    assert result.returncode != 0
    log = sandbox.guard_log()
    assert "getaddrinfo '127.0.0.1'" in log and "imported" in log and "sqlite3" in log


def test_the_web_app_still_refuses_to_start_without_a_secret_key(sandbox):
    # Only the linter is exempt: any other command needs the settings, and they need the key.
    result = sandbox.run([sys.executable, str(ROOT / "manage.py"), "check"])
    assert result.returncode != 0
    assert "ADVISOR_SECRET_KEY must be set" in result.stderr


# Every entry point ----------------------------------------------------------------------------


def test_a_valid_design_exits_0_or_1(lint):
    clean = lint(CLEAN_DESIGN)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "No findings.\n", "")

    demo = lint(DEMO_DESIGN, "--today", TODAY)
    assert demo.returncode == 1 and demo.stderr == ""
    assert demo.stdout.startswith("namespace:user-by-email\n  CRITICAL  KEY003")


def test_an_invalid_design_exits_2_with_located_errors(lint, tmp_path):
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID)
    result = lint(path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"{path}: invalid design file (")
    assert f"{path}:25: namespaces[0].ttl.seconds: must be >= 1 when mode is absolute" in result.stderr

    missing = lint(tmp_path / "missing.yaml")
    assert missing.returncode == 2 and "cannot read the design file" in missing.stderr


def test_json_and_sarif_parse(lint):
    result = lint(DEMO_DESIGN, "--today", TODAY, "--format", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["version", "today", "summary", "findings"] and doc["today"] == TODAY
    assert doc["summary"]["critical"] == 1

    result = lint(DEMO_DESIGN, "--today", TODAY, "--format", "sarif")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    unwaived = [f for f in doc["findings"] if not f["waived"]]
    assert len(log["runs"][0]["results"]) == len(unwaived)
    # Without ADVISOR_BASE_URL there is no absolute link to give, and SARIF takes no relative one.
    driver = log["runs"][0]["tool"]["driver"]
    assert all("helpUri" not in rule for rule in driver["rules"]) and "informationUri" not in driver


def test_fail_on(lint, tmp_path):
    one_low = variant(tmp_path, *ONE_KEY002)
    assert lint(one_low).returncode == 0  # the default is high
    assert lint(one_low, "--fail-on", "medium").returncode == 0
    assert lint(one_low, "--fail-on", "low").returncode == 1
    assert lint(one_low, "--fail-on", "nonsense").returncode == 2  # usage error


def test_today(lint):
    def ins001(today):
        result = lint(DEMO_DESIGN, "--today", today, "--format", "json")
        doc = json.loads(result.stdout)
        assert doc["today"] == today
        return [
            f["severity"]
            for f in doc["findings"]
            if f["rule"] == "INS001" and f["target"] == "instance:prod-legacy-cache"
        ]

    assert ins001("2026-01-01") == ["medium"]
    assert ins001("2027-04-01") == ["critical"]
    bad = lint(DEMO_DESIGN, "--today", "2026-02-30")
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_standard_input(lint):
    result = lint("-", "--format", "json", stdin=CLEAN_DESIGN.read_text())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == []


# Several files ----------------------------------------------------------------------------------


@pytest.fixture
def cli(sandbox, installed):
    def run(*args, **kwargs):
        return sandbox.run(ENTRY_POINTS["console-script"], *args, **kwargs)

    yield run
    assert sandbox.guard_log() == ""


def test_several_files_exit_with_the_worst_code(cli, tmp_path):
    one_low = variant(tmp_path, *ONE_KEY002)
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(INVALID)

    assert cli(CLEAN_DESIGN, one_low).returncode == 0
    assert cli(CLEAN_DESIGN, one_low, "--fail-on", "low").returncode == 1
    # An invalid file does not stop the others from being linted.
    result = cli(invalid, one_low, "--fail-on", "low")
    assert result.returncode == 2
    assert f"{invalid}: invalid design file" in result.stderr
    assert result.stdout.startswith(f"==> {one_low} <==\nnamespace:product-miss\n")
    assert f"==> {invalid} <==" not in result.stdout


def test_several_files_as_text_json_and_sarif(cli, tmp_path):
    one_low = variant(tmp_path, *ONE_KEY002)

    text = cli(CLEAN_DESIGN, one_low)
    assert text.stdout.startswith(f"==> {CLEAN_DESIGN} <==\nNo findings.\n\n==> {one_low} <==\n")

    result = cli(CLEAN_DESIGN, DEMO_DESIGN, "--today", TODAY, "--format", "json")
    assert result.returncode == 1
    docs = json.loads(result.stdout)
    assert [d["file"] for d in docs] == [str(CLEAN_DESIGN), str(DEMO_DESIGN)]
    assert docs[0]["findings"] == [] and docs[1]["summary"]["critical"] == 1

    result = cli(one_low, DEMO_DESIGN, "--today", TODAY, "--format", "sarif")
    log = json.loads(result.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    # One run (code scanning refuses several runs of one tool), each result pointing at its file.
    [run] = log["runs"]
    uris = [a["location"]["uri"] for a in run["artifacts"]]
    assert uris == [str(one_low), str(DEMO_DESIGN)]
    located = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    assert located[0] == {"uri": uris[0], "index": 0} and {"uri": uris[1], "index": 1} in located
    assert all(loc["uri"] == uris[loc["index"]] for loc in located)
    assert run["results"][0]["ruleId"] == "KEY002"
    assert run["properties"]["summary"]["low"] == docs[1]["summary"]["low"] + 1


def test_standard_input_among_files_and_only_once(cli):
    result = cli(CLEAN_DESIGN, "-", stdin=CLEAN_DESIGN.read_text())
    assert result.returncode == 0 and "==> <stdin> <==\nNo findings.\n" in result.stdout
    twice = cli("-", "-", stdin="")
    assert twice.returncode == 2 and "only once" in twice.stderr


def test_help_links_come_from_advisor_base_url(cli):
    result = cli(
        CLEAN_DESIGN, "--format", "sarif", extra_env={"ADVISOR_BASE_URL": "https://advisor.example.com/"}
    )
    driver = json.loads(result.stdout)["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://advisor.example.com/rules/"
    assert {r["helpUri"] for r in driver["rules"]} >= {"https://advisor.example.com/rules/TTL001/"}


def test_manage_py_still_accepts_djangos_common_options(sandbox):
    result = sandbox.run(
        ENTRY_POINTS["manage.py"], CLEAN_DESIGN, "--settings=advisor.settings", "-v", "0", "--no-color"
    )
    assert (result.returncode, result.stdout) == (0, "No findings.\n"), result.stderr
    assert sandbox.guard_log() == ""


def test_the_management_command_takes_several_files_too(tmp_path):
    # call_command in a configured project (this test suite's settings), without a database.
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(
            "lint_designs", str(CLEAN_DESIGN), str(DEMO_DESIGN), "--today", TODAY, "--format", "json",
            stdout=out, stderr=err,
        )  # fmt: skip
    assert exited.value.code == 1 and err.getvalue() == ""
    assert [d["file"] for d in json.loads(out.getvalue())] == [str(CLEAN_DESIGN), str(DEMO_DESIGN)]


def test_the_readme_pre_commit_hook_matches_design_files():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(# \.pre-commit-config\.yaml\n.*?)```", readme, re.S)
    assert block, "the README shows a .pre-commit-config.yaml"
    [hook] = yaml.safe_load(block.group(1))["repos"][0]["hooks"]
    assert hook["entry"] == "redis-key-lint" and hook["language"] == "system"
    pattern = re.compile(hook["files"])
    assert pattern.search("designs/catalog.yaml") and pattern.search("designs/sub/x.yml")
    assert not pattern.search("designs/notes.md")
