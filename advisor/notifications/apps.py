from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class NotificationsConfig(AppConfig):
    name = "advisor.notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # A typo in the webhook allowlist stops every process at startup, as one in the scan
        # allowlist does (the same entries, checked by the same code).
        from django.conf import settings

        from advisor.core.scan import validate_allowed_hosts
        from advisor.reviews.signals import review_event
        from advisor.scans.signals import scan_finished

        from . import sources
        from .targets import ALLOWLIST_ENV

        try:
            validate_allowed_hosts(settings.ADVISOR_WEBHOOK_ALLOWED_HOSTS, source=ALLOWLIST_ENV)
        except ValueError as e:
            raise ImproperlyConfigured(str(e)) from None
        scan_finished.connect(sources.on_scan_finished, dispatch_uid="notifications.scan_finished")
        review_event.connect(sources.on_review_event, dispatch_uid="notifications.review_event")
