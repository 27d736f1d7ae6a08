from django.core.management.base import BaseCommand

from advisor.core.declared import DeclaredError
from advisor.registry import arm_discovery

from . import _declared


class Command(BaseCommand):
    help = (
        "Upsert the Redis instances Azure Resource Manager lists in a subscription (or one resource "
        "group): Azure Cache for Redis, Redis Enterprise and Azure Managed Redis, signed in with "
        "DefaultAzureCredential. Exit 0 done, 1 some not imported, 2 invalid arguments, 3 Azure "
        "could not be asked (nothing changed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subscription", required=True, help="the subscription id (a GUID)")
        parser.add_argument("--resource-group", help="only the caches of this resource group")
        _declared.add_options(parser)

    def handle(self, *args, subscription, resource_group, dry_run, environment, **options):
        what = f"subscription {subscription}" + (
            f", resource group {resource_group}" if resource_group else ""
        )
        try:
            reading = arm_discovery.discover(subscription, resource_group)
        except ValueError as e:
            self.stderr.write(f"{e}. Nothing imported.")
            raise SystemExit(2) from None
        except arm_discovery.DiscoveryError as e:
            self.stderr.write(f"{what}: {e}. Nothing imported.")
            raise SystemExit(3) from None
        except DeclaredError as e:
            self.stderr.write(f"{what}: Azure's answer could not be read: {e}. Nothing imported.")
            raise SystemExit(3) from None
        _declared.run(self, reading, what=what, dry_run=dry_run, environment=environment)
