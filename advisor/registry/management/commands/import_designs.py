from django.core.management.base import BaseCommand

from advisor.core.design import DesignError, load_design
from advisor.findings.services import findings_refresh
from advisor.registry.services import design_import


class Command(BaseCommand):
    help = "Upsert teams, instances, namespaces, policy and waivers from a design file, in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("file", help="design file (YAML or JSON); - reads standard input")

    def handle(self, *args, file, **options):
        try:
            if file == "-":
                import sys

                text, name = sys.stdin.buffer.read(), "<stdin>"
            else:
                with open(file, "rb") as fh:
                    text, name = fh.read(), file
        except OSError as e:
            self.stderr.write(f"{file}: cannot read: {e.strerror}")
            raise SystemExit(2) from None
        try:
            summary = design_import(load_design(text, filename=name))
        except DesignError as e:
            count = len(e.errors)
            self.stderr.write(
                f"{name}: invalid design file, nothing imported ({count} error{'s' if count != 1 else ''}):"
            )
            self.stderr.write(str(e))
            raise SystemExit(2) from None
        findings_refresh()
        self.stdout.write(f"Imported {name}: {summary}")
