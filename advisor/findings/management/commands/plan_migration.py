"""`plan_migration NAME`: the migration plan of a registered instance on a retiring tier.

Exit codes (design-file contract): 0 the plan was printed; 2 unknown instance, or nothing to
migrate (the instance is not on a retiring Azure Cache for Redis tier), with a one-line reason on
stderr. The plan is the one the migration page and `GET /api/instances/{name}/migration-plan` show.
"""

import json
import sys

from django.core.management.base import BaseCommand

from advisor.core import migration
from advisor.findings import clock, planning
from advisor.lint_cli import parse_date


class Command(BaseCommand):
    help = "Print the migration plan of a registered instance on a retiring Azure Cache for Redis tier."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the registered instance's name")
        parser.add_argument(
            "--format",
            choices=["text", "json", "markdown"],
            default="text",
            help="output format (default text)",
        )
        parser.add_argument("--today", type=parse_date, help="plan as of this date (YYYY-MM-DD)")

    def handle(self, *args, name, format, today, **options):
        try:
            instance = planning.instance_by_name(name)
            plan = planning.instance_migration_plan(instance, today=today or clock.today())
        except migration.PlanError as e:
            sys.stderr.write(f"plan_migration: {e}\n")
            raise SystemExit(2) from None
        if format == "json":
            self.stdout.write(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False))
        elif format == "markdown":
            self.stdout.write(plan.to_markdown(), ending="")
        else:
            self.stdout.write(plan.to_text(), ending="")
