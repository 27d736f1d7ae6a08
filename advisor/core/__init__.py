"""The advisor's domain core: design models, key patterns, rules, sizing, scanning.

Nothing in this package imports Django. The Django apps, the Celery tasks, the API and the
management commands are thin shells over it.
"""
