from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "advisor.scans"
    verbose_name = "Scans"
