"""What import_terraform and discover_azure share: the options, the preview or the import, the
output and the exit codes.

Exit codes, as the other commands have them: 0 done (every declared instance imported or
unchanged; what the source deletes is reported, not a failure); 1 done, but some instances could
not be imported (incomplete: the source leaves out what a new instance needs) or some resources
could not be read; 2 invalid input, nothing changed; 3 (discover_azure) Azure could not be asked.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DatabaseError

from advisor.core.design import ENVIRONMENTS
from advisor.registry import writes
from advisor.registry.declared import plan_import


def add_options(parser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would change, field by field, and write nothing",
    )
    parser.add_argument(
        "--environment",
        choices=ENVIRONMENTS,
        help="environment of new instances whose resource has no `environment` tag",
    )


def run(command, reading, *, what: str, dry_run: bool, environment: str | None) -> None:
    """Preview or import `reading`, print it, and exit with the code it deserves."""
    out = command.stdout
    try:
        if dry_run:
            plan = plan_import(reading, environment=environment)
        else:
            plan = writes.declared_import(reading=reading, actor=None, environment=environment)
    except (writes.Invalid, writes.Conflict) as exc:
        command.stderr.write(f"{what}: nothing imported: {exc}")
        raise SystemExit(2) from None
    except DatabaseError as exc:
        raise CommandError(f"{what}: nothing imported: the database failed ({exc}); try again") from None
    out.write(f"{what} ({plan.source_label}, {reading.document}):")
    for line in plan.lines():
        out.write(f"  {line}")
    if dry_run:
        out.write(f"Dry run, nothing written: {plan.summary()}.")
    else:
        out.write(f"Imported {what}: {plan.summary()}.")
        if plan.followed is False:
            command.stderr.write(
                "The findings could not be recomputed (see the log); they are with the next change, and every night."
            )
    counts = plan.counts()
    if counts["incomplete"] or reading.problems:
        command.stderr.write(
            f"{counts['incomplete']} instance{'s' if counts['incomplete'] != 1 else ''} not imported"
            + (
                f" and {len(reading.problems)} resource problem{'s' if len(reading.problems) != 1 else ''}"
                if reading.problems
                else ""
            )
            + ": see the lines marked ! and problem: above."
        )
        raise SystemExit(1)
