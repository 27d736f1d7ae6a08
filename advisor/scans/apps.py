from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class ScansConfig(AppConfig):
    name = "advisor.scans"
    verbose_name = "Scans"

    def ready(self) -> None:
        # A typo in the scan allowlist (a CIDR range such as 10.0.0.0/33) stops every process at
        # startup (web, worker, commands) instead of failing, or silently skipping an entry, mid-scan.
        from django.conf import settings

        from advisor.core.scan import validate_allowed_hosts

        try:
            validate_allowed_hosts(settings.ADVISOR_SCAN_ALLOWED_HOSTS)
        except ValueError as e:
            raise ImproperlyConfigured(str(e)) from None

        # The registry imports no scans module: an instance's schedule follows its writes, and the
        # namespace form learns what the last scans say, through advisor.registry.hooks.
        from advisor.registry import hooks

        from . import pattern_change, schedules, selectors

        hooks.register(
            instance_saved=schedules.schedule_follows,
            instance_deleting=schedules.schedule_delete,
            delete_blockers=selectors.delete_blockers,
            pattern_change=pattern_change.pattern_change,
            scan_draft=selectors.scan_draft,
        )
