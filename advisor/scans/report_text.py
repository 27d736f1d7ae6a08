"""A scan report for people on a terminal."""

from __future__ import annotations

from advisor.core.units import format_bytes as _bytes
from advisor.core.units import format_duration

_COLORS = {
    "critical": "\033[1;31m",
    "high": "\033[31m",
    "medium": "\033[33m",
    "low": "\033[36m",
    "info": "\033[2m",
}
_RESET = "\033[0m"


def render_scan_text(report: dict, *, color: bool = False) -> str:
    def paint(sev: str, text: str) -> str:
        return f"{_COLORS.get(sev, '')}{text}{_RESET}" if color else text

    lines = []
    status = (
        "complete"
        if report.get("complete")
        else "INCOMPLETE (findings may be missing; this is not a clean bill)"
    )
    number = f" #{report['run_number']}" if report.get("run_number") else ""
    lines.append(
        f"Scan{number} of {report.get('instance')}: {report.get('keys_scanned', 0):,} keys in {format_duration(report.get('duration_s', 0))}, {status}"
    )
    server = report.get("server") or {}
    if server:
        lines.append(
            f"Server: Redis {server.get('redis_version', '?')}, maxmemory-policy {server.get('maxmemory_policy') or 'unknown'}, "
            f"used memory {_bytes(server.get('used_memory'))}, evicted keys {server.get('evicted_keys', 0):,}"
        )
    lines.append("")
    lines.append(f"{'namespace':<28} {'keys':>10} {'no TTL':>8} {'memory':>12}  TTL p50 / max")
    for ns in report.get("namespaces", []):
        ttl = ns.get("ttl_seconds") or {}
        p50, top = ttl.get("p50"), ttl.get("max")
        ttl_text = (
            f"{format_duration(p50)} / {format_duration(top)}" if p50 is not None and top is not None else "—"
        )
        mem = _bytes(ns.get("memory_bytes")) + ("~" if ns.get("memory_estimated") else "")
        lines.append(
            f"{ns['name']:<28} {ns.get('keys', 0):>10,} {ns.get('without_ttl', 0):>8,} {mem:>12}  {ttl_text}"
        )
    unreadable = report.get("unreadable_facts") or []
    if unreadable:
        lines.append("")
        lines.append("Not read (the server refused the command):")
        for u in unreadable:
            lines.append(f"  {u.get('command', '?'):<14} {u.get('fact', '')}: {u.get('reason', '')}")
    big = report.get("big_collections") or []
    if big:
        lines.append("")
        lines.append(
            f"Biggest collections (over {report.get('elements_limit') or 0:,} elements, sampled keys):"
        )
        for b in big[:10]:
            where = b.get("namespace") or "unregistered"
            lines.append(f"  {b['key']:<50} {b['type']:<7} {b['elements']:>12,}  {where}")
    unmatched = report.get("unmatched") or {}
    if unmatched.get("keys"):
        lines.append("")
        lines.append(f"Unregistered keys: {unmatched['keys']:,}")
        for p in unmatched.get("patterns", [])[:15]:
            lines.append(f"  {p['pattern']:<50} {p['keys']:>10,}  e.g. {p.get('example', '')}")
    findings = [f for f in report.get("findings", []) if not f.get("waived")]
    lines.append("")
    if findings:
        lines.append(f"Drift findings: {len(findings)}")
        for f in findings:
            lines.append(
                paint(
                    f["severity"], f"  [{f['severity'].upper():<8}] {f['rule']} {f['target']}: {f['title']}"
                )
            )
            lines.append(f"             {f['message']}")
    elif report.get("complete"):
        lines.append("No drift found.")
    else:
        lines.append("No drift found in the part scanned; the scan was incomplete.")
    return "\n".join(lines) + "\n"
