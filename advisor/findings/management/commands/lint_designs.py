import argparse
import datetime as dt
import json
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from advisor.core.design import DesignError, load_design
from advisor.core.engine import exit_code, lint_design
from advisor.core.findings import Severity
from advisor.core.report_text import render_text
from advisor.core.sarif import to_sarif
from advisor.findings import clock


def _date(value: str) -> dt.date:
    try:
        # fromisoformat alone would also take 20270401 and 2027-W13-4.
        return dt.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Lint a design file without touching the database. Exit 0: no unwaived finding at or above "
        "--fail-on; 1: there is one; 2: the file is invalid or unreadable."
    )
    # CI runs this against a checkout with no database at all: nothing here may need one.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("file", help="design file (YAML or JSON); - reads standard input")
        parser.add_argument("--format", choices=["text", "json", "sarif"], default="text")
        parser.add_argument(
            "--fail-on",
            choices=[s.value for s in Severity],
            default=Severity.high.value,
            help="lowest severity that fails the run (default: high)",
        )
        parser.add_argument("--today", type=_date, help="lint as of this date (YYYY-MM-DD)")

    def handle(self, *args, file, format, fail_on, today, **options):
        text, name = self._read(file)
        try:
            design = load_design(text, filename=name)
        except DesignError as e:
            count = len(e.errors)
            self.stderr.write(f"{name}: invalid design file ({count} error{'s' if count != 1 else ''}):")
            self.stderr.write(str(e))
            raise SystemExit(2) from None
        result = lint_design(design, today=today or clock.today())

        if format == "json":
            self.stdout.write(result.to_json())
        elif format == "sarif":
            source = text.decode("utf-8", errors="replace")
            log = to_sarif(result, name, source_text=source, help_base_uri=settings.ADVISOR_BASE_URL)
            self.stdout.write(json.dumps(log, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(render_text(result, color=self._color(options)), ending="")

        code = exit_code(result, fail_on)
        if code:
            raise SystemExit(code)

    def _read(self, file: str) -> tuple[bytes, str]:
        try:
            if file == "-":
                return sys.stdin.buffer.read(), "<stdin>"
            with open(file, "rb") as fh:
                return fh.read(), file
        except OSError as e:
            self.stderr.write(f"{file}: cannot read the design file: {e.strerror or e}")
            raise SystemExit(2) from None

    def _color(self, options) -> bool:
        if options.get("no_color") or "NO_COLOR" in os.environ:
            return False
        return bool(options.get("force_color")) or self.stdout.isatty()
