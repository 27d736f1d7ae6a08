"""The design linter without Django: `redis-key-lint FILE …`, `python -m advisor.lint_cli FILE …`.

CI jobs and pre-commit hooks lint design files on machines with no database, no Redis and no
settings (no secret key, no debug flag), so this module imports only the domain core, never
`advisor.settings`. `python manage.py lint_designs` dispatches here before Django is set up, and
the `lint_designs` management command is a thin shell over `run()`.

Exit codes: 0 no unwaived finding at or above --fail-on, 1 there is one, 2 a file is invalid or
unreadable. With several files the worst code wins.

A file larger than ADVISOR_MAX_DESIGN_BYTES (default 1 MiB; advisor/limits.py) is refused, exit 2,
before it is parsed.

SARIF help links (`helpUri`) point at the rule pages of the advisor named by the environment
variable ADVISOR_BASE_URL; without it they are left out, as SARIF only allows absolute links.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import sys
from typing import IO, Any

from advisor import limits
from advisor.core.design import DesignError, load_design
from advisor.core.engine import LintResult, exit_code, lint_design
from advisor.core.findings import SEVERITIES_HIGH_FIRST, Severity
from advisor.core.report_text import render_text
from advisor.core.sarif import to_sarif

PROG = "redis-key-lint"
EXIT_OK, EXIT_FINDINGS, EXIT_INVALID = 0, 1, 2
BASE_URL_ENV = "ADVISOR_BASE_URL"
STDIN = "-"

DESCRIPTION = (
    "Lint design files without touching the database. Exit 0: no unwaived finding at or above "
    "--fail-on; 1: there is one; 2: a file is invalid or unreadable. With several files the worst "
    "code wins."
)


class UsageError(Exception):
    """Arguments that make no sense together (argparse alone cannot tell)."""


def parse_date(value: str) -> dt.date:
    try:
        # fromisoformat alone would also take 20270401 and 2027-W13-4.
        return dt.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def add_arguments(parser: argparse.ArgumentParser, *, color_options: bool = True) -> None:
    """The linter's options; the management command adds them to Django's parser too.

    Django's parser already has --no-color and --force-color, hence `color_options`.
    """
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="design file (YAML or JSON); - reads standard input"
    )
    parser.add_argument("--format", choices=["text", "json", "sarif"], default="text")
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default=Severity.high.value,
        help="lowest severity that fails the run (default: high)",
    )
    parser.add_argument("--today", type=parse_date, help="lint as of this date (YYYY-MM-DD)")
    if color_options:
        parser.add_argument("--no-color", action="store_true", help="never colour the text output")
        parser.add_argument(
            "--force-color", action="store_true", help="colour the text output even when not on a terminal"
        )


def _add_django_options(parser: argparse.ArgumentParser) -> None:
    # `manage.py lint_designs` used to go through Django, which takes these on every command.
    # They mean nothing to a linter that needs no settings; accept them so old CI lines still work.
    hidden = argparse.SUPPRESS
    parser.add_argument("--settings", help=hidden)
    parser.add_argument("--pythonpath", help=hidden)
    parser.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3], help=hidden)
    parser.add_argument("--traceback", action="store_true", help=hidden)
    parser.add_argument("--skip-checks", action="store_true", help=hidden)


def use_color(stream: Any, *, no_color: bool = False, force_color: bool = False) -> bool:
    if no_color or "NO_COLOR" in os.environ:
        return False
    return force_color or bool(getattr(stream, "isatty", lambda: False)())


def help_base_uri_from_env() -> str:
    return os.environ.get(BASE_URL_ENV, "").strip()


def run(
    files: list[str],
    *,
    format: str = "text",
    fail_on: str = Severity.high.value,
    today: dt.date | None = None,
    color: bool = False,
    help_base_uri: str = "",
    stdout: IO[str],
    stderr: IO[str],
    stdin: IO[bytes] | None = None,
    max_bytes: int | None = None,
) -> int:
    """Lint each file, write the report to `stdout` and problems to `stderr`; the exit code.

    Files over `max_bytes` (by default ADVISOR_MAX_DESIGN_BYTES from the environment) are invalid.
    """
    if files.count(STDIN) > 1:
        raise UsageError("standard input (-) can be linted only once")
    if max_bytes is None:
        try:
            max_bytes = limits.max_design_bytes()
        except ValueError as e:
            raise UsageError(str(e)) from None
    today = today or dt.date.today()
    several = len(files) > 1
    worst = EXIT_OK
    linted: list[tuple[str, str, LintResult]] = []  # name, source text, result

    for file in files:
        loaded = _load(file, stderr, stdin, max_bytes)
        if loaded is None:
            worst = max(worst, EXIT_INVALID)
            continue
        name, text, design = loaded
        result = lint_design(design, today=today)
        worst = max(worst, exit_code(result, fail_on))
        if format == "text":
            # Streamed, so that a file's errors on stderr come between the reports they belong to.
            if several:
                stdout.write(f"==> {name} <==\n")
            stdout.write(render_text(result, color=color))
            if several:
                stdout.write("\n")
        else:
            linted.append((name, text, result))

    if format == "json" and linted:
        if several:
            doc: Any = [{"file": name, **result.to_dict()} for name, _, result in linted]
            stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        else:
            stdout.write(linted[0][2].to_json() + "\n")
    elif format == "sarif" and linted:
        log = _sarif(linted, help_base_uri=help_base_uri)
        stdout.write(json.dumps(log, indent=2, ensure_ascii=False) + "\n")
    return worst


def _load(file: str, stderr: IO[str], stdin: IO[bytes] | None, max_bytes: int) -> tuple[str, str, Any] | None:
    """(name, text, design) of a file, or None after saying on stderr why it cannot be linted."""
    try:
        name, raw = limits.read_named_file(file, max_bytes, stdin=stdin)
    except OSError as e:
        stderr.write(f"{file}: cannot read the design file: {e.strerror or e}\n")
        return None
    except limits.DesignTooLarge as e:
        stderr.write(f"{e}\n")
        return None
    try:
        design = load_design(raw, filename=name)
    except DesignError as e:
        count = len(e.errors)
        stderr.write(f"{name}: invalid design file ({count} error{'s' if count != 1 else ''}):\n{e}\n")
        return None
    return name, raw.decode("utf-8", errors="replace"), design


def _sarif(linted: list[tuple[str, str, LintResult]], *, help_base_uri: str) -> dict[str, Any]:
    """One SARIF log, one run: code-scanning services refuse several runs of the same tool."""
    logs = [
        to_sarif(result, name, source_text=text, help_base_uri=help_base_uri) for name, text, result in linted
    ]
    log = logs[0]
    run = log["runs"][0]
    if not help_base_uri:
        for rule in run["tool"]["driver"]["rules"]:
            rule.pop("helpUri", None)  # "/rules/ID/" is relative; SARIF wants an absolute URI
    if len(logs) == 1:
        return log

    artifacts: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    summary = {sev.value: 0 for sev in SEVERITIES_HIGH_FIRST} | {"waived": 0}
    for index, other in enumerate(logs):
        other_run = other["runs"][0]
        artifacts.extend(other_run["artifacts"])
        for result in other_run["results"]:
            result = copy.deepcopy(result)
            for location in [*result["locations"], *result.get("relatedLocations", [])]:
                location["physicalLocation"]["artifactLocation"]["index"] = index
            results.append(result)
        for key, count in other_run["properties"]["summary"].items():
            summary[key] = summary.get(key, 0) + count
    run["artifacts"], run["results"] = artifacts, results
    run["properties"]["summary"] = summary
    return log


def main(argv: list[str] | None = None, *, prog: str | None = None, django_options: bool = False) -> int:
    """The console script; `manage.py lint_designs` calls it with `django_options`."""
    parser = argparse.ArgumentParser(prog=prog or PROG, description=DESCRIPTION)
    add_arguments(parser)
    if django_options:
        _add_django_options(parser)
    args = parser.parse_args(argv)
    try:
        return run(
            args.files,
            format=args.format,
            fail_on=args.fail_on,
            today=args.today,
            color=use_color(sys.stdout, no_color=args.no_color, force_color=args.force_color),
            help_base_uri=help_base_uri_from_env(),
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    except UsageError as e:
        parser.error(str(e))


if __name__ == "__main__":
    sys.exit(main())
