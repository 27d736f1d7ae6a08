from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "advisor.registry"
    verbose_name = "Design registry"
