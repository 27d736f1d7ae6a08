from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "advisor.findings"
    verbose_name = "Findings"
