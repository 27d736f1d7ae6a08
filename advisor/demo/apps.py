from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The `make run` demo: its design, keyspace and supervisor, and `manage.py load_demo`, which
    imports the design, points it at the demo caches, pauses the scans of made-up hosts and
    creates the demo users. It sits above every other app and nothing imports it."""

    name = "advisor.demo"
    verbose_name = "Demo"
