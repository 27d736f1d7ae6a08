"""A plain-text lint report for people: findings grouped by target, a summary line at the end."""

from __future__ import annotations

from advisor.core.engine import LintResult
from advisor.core.findings import SEVERITIES_HIGH_FIRST, Finding, Severity

_COLORS = {
    Severity.critical: "\033[1;97;41m",  # bold white on red
    Severity.high: "\033[1;31m",
    Severity.medium: "\033[33m",
    Severity.low: "\033[36m",
    Severity.info: "\033[2m",
}
_BOLD = "\033[1m"
_DIM = "\033[2m"
_RESET = "\033[0m"
_WIDTH = max(len(s.value) for s in Severity)


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _finding_lines(f: Finding, color: bool) -> list[str]:
    label = _paint(f.severity.value.upper().ljust(_WIDTH), _COLORS[f.severity], color and not f.waived)
    head = f"  {label}  {f.rule}  {f.title}"
    lines = [head, f"      {f.message}"]
    if f.related:
        lines.append(f"      related: {', '.join(f.related)}")
    if f.remediation:
        lines.append(f"      fix: {f.remediation}")
    if f.waived and f.waiver is not None:
        by = f", approved by {f.waiver.approved_by}" if f.waiver.approved_by else ""
        lines.append(
            _paint(f"      waived until {f.waiver.expires.isoformat()}{by}: {f.waiver.reason}", _DIM, color)
        )
    if f.waived:
        lines[0] = _paint(head + "  (waived)", _DIM, color) if color else head + "  (waived)"
    return lines


def summary_line(result: LintResult) -> str:
    counts = result.summary
    unwaived = sum(counts[s.value] for s in SEVERITIES_HIGH_FIRST)
    if not result.findings:
        return "No findings."
    parts = ", ".join(f"{counts[s.value]} {s.value}" for s in SEVERITIES_HIGH_FIRST)
    return f"{unwaived} finding{'s' if unwaived != 1 else ''} ({parts}); {counts['waived']} waived."


def render_text(result: LintResult, *, color: bool = False) -> str:
    """Findings grouped by target (most severe target first), then one summary line."""
    groups: dict[str, list[Finding]] = {}
    for f in result.findings:  # already sorted most severe first, so groups come out in that order
        groups.setdefault(f.target, []).append(f)
    out: list[str] = []
    # Unwaived before waived within the listing, so what needs doing comes first.
    ordered = sorted(groups.items(), key=lambda item: all(f.waived for f in item[1]))
    for target, findings in ordered:
        out.append(_paint(target, _BOLD, color))
        for f in findings:
            out.extend(_finding_lines(f, color))
        out.append("")
    out.append(_paint(summary_line(result), _BOLD, color))
    return "\n".join(out) + "\n"
