"""The scanner core: read a live Redis read-only, match every key to its namespace, report drift.

No Django here. The Celery task and `scan_instance` call, in this order:

    target = ScanTarget.from_instance(design.instance(name))     # URL, credential reference, product
    report = run_scan(target, namespace_specs(design, name), ScanOptions(...),
                      progress=callback, cancel=flag)            # ScanError if it cannot start
    findings = evaluate_drift(design, name, report, today)       # DRF001-DRF016, policy, waivers

`run_scan` raises ScanError (`.kind`, one-line `.reason`) only when nothing could be read: host
not on the allowlist, unreachable, TLS, authentication, INFO refused. A scan that fails later
returns its report with `complete: false` and `error` set; `ScanReport.failed` builds the
report of one that never started. Commands a server refuses without that stopping the scan
(CONFIG GET, SLOWLOG GET, MEMORY USAGE, the element counts) are listed in `unreadable_facts`.

Bounds: every reply must be in full within `ScanOptions.read_timeout` and the whole scan within
`scan_timeout`, as deadlines a trickling server cannot stretch (error_kind `timeout`); the ops
budget (`max_ops`) holds over any one-second window as the server counts, pauses included; the
`cancel` check is asked between batches, while pausing for the budget and while waiting on a
server, and a cancelled scan returns its report with status `cancelled`.

Modules: `connect` (URL, credential, TLS, deadlines, allowlist, cluster
discovery), `reader` (the pipelined read loop and the ops budget), `aggregate` (bounded statistics), `infer`
(patterns of unmatched keys), `masking` (personal data), `facts` (INFO, CONFIG, SLOWLOG),
`report` (the scan JSON), `runner` (`run_scan`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from advisor.core.findings import Finding
from advisor.core.scan.connect import (
    check_host_allowed,
    default_allowed_hosts,
    host_allowed,
    validate_allowed_hosts,
)
from advisor.core.scan.errors import ERROR_KINDS, ScanError
from advisor.core.scan.report import ScanReport
from advisor.core.scan.runner import run_scan
from advisor.core.scan.spec import NamespaceSpec, ScanOptions, ScanProgress, ScanTarget, namespace_specs


def evaluate_drift(design: Any, instance_name: str, report: ScanReport, today: dt.date) -> list[Finding]:
    """The drift findings (DRF001-DRF016) of one scan report, with the design's policy and waivers."""
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
    "validate_allowed_hosts",
]
