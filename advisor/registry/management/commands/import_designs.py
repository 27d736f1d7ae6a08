from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, DataError

from advisor.core.design import DesignError, load_design
from advisor.limits import DesignTooLarge, read_named_file
from advisor.registry.services import design_import


class Command(BaseCommand):
    help = "Upsert teams, instances, namespaces, policy and waivers from a design file, in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("file", help="design file (YAML or JSON); - reads standard input")

    def handle(self, *args, file, **options):
        limit = settings.ADVISOR_MAX_DESIGN_BYTES
        try:
            name, text = read_named_file(file, limit)
        except OSError as e:
            self.stderr.write(f"{file}: cannot read: {e.strerror}")
            raise SystemExit(2) from None
        except DesignTooLarge as e:
            self.stderr.write(f"{e}\nNothing imported.")
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
        except DataError as e:
            # A value the database cannot hold is the file's fault; the bounds of the design model
            # should have said so first.
            self.stderr.write(
                f"{name}: invalid design file, nothing imported: a value does not fit the database ({e})"
            )
            raise SystemExit(2) from None
        except DatabaseError as e:
            raise CommandError(f"{name}: nothing imported: the database failed ({e}); try again") from None
        # The import is committed and the findings have followed it; a failure there is no failure
        # of the import.
        if summary.followed is False:
            self.stderr.write(
                "The findings could not be recomputed (see the log); the next change or the nightly "
                "refresh recomputes them."
            )
        self.stdout.write(f"Imported {name}: {summary}")
