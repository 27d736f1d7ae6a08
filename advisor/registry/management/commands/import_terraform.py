from django.conf import settings
from django.core.management.base import BaseCommand

from advisor.core.declared import DeclaredError, read_terraform
from advisor.limits import DesignTooLarge, human_bytes, read_named_file

from . import _declared


class Command(BaseCommand):
    help = (
        "Upsert the Redis instances a Terraform plan or state declares (the output of "
        "`terraform show -json`): azurerm_redis_cache, azurerm_managed_redis and "
        "azurerm_redis_enterprise_cluster with its database. Exit 0 done, 1 some not imported, "
        "2 invalid file (nothing changed)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="terraform show -json output (plan or state); - reads standard input"
        )
        _declared.add_options(parser)

    def handle(self, *args, file, dry_run, environment, **options):
        # One size limit for every file the advisor reads (ADVISOR_MAX_DESIGN_BYTES).
        limit = settings.ADVISOR_MAX_DESIGN_BYTES
        try:
            name, data = read_named_file(file, limit)
        except OSError as e:
            self.stderr.write(f"{file}: cannot read: {e.strerror}")
            raise SystemExit(2) from None
        except DesignTooLarge as e:
            self.stderr.write(
                f"{e.name}: files are limited to {human_bytes(limit)} ({limit:,} bytes, ADVISOR_MAX_DESIGN_BYTES); "
                "this one is larger. Raise the limit, or plan the Redis part alone (terraform plan -target). "
                "Nothing imported."
            )
            raise SystemExit(2) from None
        try:
            reading = read_terraform(data)
        except DeclaredError as e:
            self.stderr.write(f"{name}: {e}. Nothing imported.")
            raise SystemExit(2) from None
        _declared.run(self, reading, what=name, dry_run=dry_run, environment=environment)
