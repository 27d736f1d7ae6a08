"""The scanner core: read a live Redis read-only, match every key to its namespace, report drift.

No Django here. The Celery task and `scan_instance` call `run_scan`, store the `ScanReport`
and attach the findings of `evaluate_drift`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from advisor.core.findings import Finding
from advisor.core.scan.connect import check_host_allowed, default_allowed_hosts, host_allowed
from advisor.core.scan.errors import ERROR_KINDS, ScanError
from advisor.core.scan.report import ScanReport
from advisor.core.scan.runner import run_scan
from advisor.core.scan.spec import NamespaceSpec, ScanOptions, ScanProgress, ScanTarget, namespace_specs


def evaluate_drift(design: Any, instance_name: str, report: ScanReport, today: dt.date) -> list[Finding]:
    """The drift findings (DRF001-DRF014) of one scan report, with the design's policy and waivers."""
    from advisor.core.engine import lint_scan

    return lint_scan(design, report, today=today, instance_name=instance_name)


__all__ = [
    "ERROR_KINDS",
    "NamespaceSpec",
    "ScanError",
    "ScanOptions",
    "ScanProgress",
    "ScanReport",
    "ScanTarget",
    "check_host_allowed",
    "default_allowed_hosts",
    "evaluate_drift",
    "host_allowed",
    "namespace_specs",
    "run_scan",
]
