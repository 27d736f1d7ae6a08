from django.core.management.base import BaseCommand

from advisor.registry.services import design_export


class Command(BaseCommand):
    help = "Write the registry as a design file that import_designs and lint_designs accept."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")

    def handle(self, *args, format, **options):
        self.stdout.write(design_export(format), ending="")
