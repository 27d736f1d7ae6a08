"""Prometheus metrics at /metrics: the advisor's findings, scans and retirement dates for the
monitoring a platform team already runs. See collector.py for what is exposed."""
