from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "advisor.findings"
    verbose_name = "Findings"

    def ready(self) -> None:
        # The registry imports no findings module: its write services call this once a change
        # has committed (advisor.registry.hooks), so the stored findings follow every change.
        from advisor.registry import hooks

        from . import services

        hooks.register(committed=services.findings_refresh_after_write)
