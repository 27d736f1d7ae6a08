from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "advisor.metrics"
    verbose_name = "Prometheus metrics"
