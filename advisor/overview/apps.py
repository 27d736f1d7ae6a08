from django.apps import AppConfig


class OverviewConfig(AppConfig):
    """What the overview and the compliance page show beside their own tables. It sits above the
    findings, reviews and scans apps and reads them; none of them imports it."""

    name = "advisor.overview"
    verbose_name = "Overview"
