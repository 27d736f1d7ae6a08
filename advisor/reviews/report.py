"""What a review shows: one context for the review page, the printable report and the Markdown export.

Everything people wrote is neutralised on the way out: comments are Markdown, rendered for pages by
`render_markdown` (raw HTML escaped, only http(s) and mailto: links) and rewritten for the export
by `markdown_inline`, so that whoever renders the exported file gets no live HTML or script link;
every other value in the export is escaped as plain text (`markdown_text`) or a code span.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from advisor.core.findings import SEVERITIES_HIGH_FIRST
from advisor.core.units import format_bytes
from advisor.findings.markup import markdown_code, markdown_inline, markdown_text, render_markdown

from .diff import review_diff, revision_diff
from .drift import drift_summary
from .models import Review, ReviewState
from .team_design import snapshot_drift, team_revisions


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "[]"
    return str(value)


def review_drift(review: Review) -> tuple[dict, bool]:
    """The drift a revision shows, and whether it is live: an undecided revision shows the latest
    scans as they are now; a decided or replaced one what was seen when it left review."""
    live = review.replaced_at is None and review.state in (ReviewState.DRAFT, ReviewState.IN_REVIEW)
    if live or not review.drift:
        return snapshot_drift(review.snapshot), True
    return review.drift, False


def drift_rows(drift: dict) -> list[dict]:
    rows = []
    for entry in drift.get("instances", []):
        finished = entry.get("finished_at")
        rows.append(
            {
                **entry,
                "finished": dt.datetime.fromisoformat(finished) if finished else None,
                "findings": [{**f, "key": f"{f['rule']}|{f['target']}"} for f in entry["findings"]],
            }
        )
    return rows


def review_context(review: Review) -> dict:
    comments = list(review.comments.select_related("author"))
    by_finding: dict[str, list] = {}
    for c in comments:
        c.body_html = render_markdown(c.body, hard_breaks=True)
        if c.finding_key:
            by_finding.setdefault(c.finding_key, []).append(c)
    waiver_requests = list(review.waiver_requests.select_related("requested_by", "decided_by"))
    requests_by_finding = {wr.finding_key: wr for wr in waiver_requests}
    findings = [
        {
            **f,
            "key": f"{f['rule']}|{f['target']}",
            "comments": by_finding.get(f"{f['rule']}|{f['target']}", []),
            "waiver_request": requests_by_finding.get(f"{f['rule']}|{f['target']}"),
        }
        for f in review.findings
    ]
    counts = Counter(f["severity"] for f in review.findings if not f["waived"])
    drift, drift_live = review_drift(review)
    review_comments = [c for c in comments if c.finding_key not in {f["key"] for f in findings}]
    return {
        "review": review,
        "diff": review_diff(review),
        "base_label": f"approved revision {review.base.number}"
        if review.base
        else "an empty design (first review)",
        "findings": findings,
        "severity_counts": [(s.value, counts.get(s.value, 0)) for s in SEVERITIES_HIGH_FIRST],
        "waived_count": sum(1 for f in review.findings if f["waived"]),
        "sizing": review.sizing,
        # A comment on a finding the revision no longer has (it was fixed) stays with the review.
        "review_comments": review_comments,
        "comment_count": len(review_comments),
        "finding_comment_count": len(comments) - len(review_comments),
        "waiver_requests": waiver_requests,
        "drift": drift_rows(drift),
        "drift_live": drift_live,
        "drift_raw": drift,
        "drift_summary": drift_summary(drift),
        "revision_diff": revision_diff(review),
        "revision_base_label": f"revision {review.previous.number}" if review.previous_id else "",
        "revisions": list(team_revisions(review.team)),
    }


def review_markdown(review: Review) -> str:
    """The review as Markdown, for the architecture board's records."""
    ctx = review_context(review)
    diff = ctx["diff"]
    text, code = markdown_text, markdown_code
    who = lambda u: text(u.get_username()) if u else "—"  # noqa: E731
    lines = [
        f"# Design review: {text(review.team.name)}, revision {review.number}",
        "",
        f"- **State:** {text(review.get_state_display())}",
        f"- **Content hash (SHA-256):** {code(review.content_hash)}",
        f"- **Submitted:** {who(review.submitted_by)}, {review.submitted_at:%Y-%m-%d %H:%M %Z}"
        if review.submitted_at
        else "- **Submitted:** —",
        f"- **Decided:** {who(review.decided_by)}, {review.decided_at:%Y-%m-%d %H:%M %Z}"
        if review.decided_at
        else "- **Decided:** —",
        f"- **Compared with:** revision {review.base.number} ({code(review.base.short_hash)})"
        if review.base
        else "- **Compared with:** nothing (first review of this team)",
        f"- **Namespaces:** {text(', '.join(review.namespace_names())) or '—'}",
        f"- **Resubmits:** revision {review.previous.number} ({text(review.previous.get_state_display())}, "
        f"{code(review.previous.short_hash)})"
        if review.previous_id
        else "- **Resubmits:** —",
        "",
        "## Changes",
        "",
    ]
    if diff.is_empty:
        lines.append("No changes against the compared revision.")
    for ns in diff.added:
        lines.append(
            f"- **Added** {code(ns['name'])}: {code(ns['pattern'])} "
            f"({text(ns['classification'])}, on {text(ns['instance'])})"
        )
    for ns in diff.removed:
        lines.append(f"- **Removed** {code(ns['name'])}: {code(ns['pattern'])}")
    for change in diff.changed:
        lines += ["", f"### Changed {code(change.name)}", "", "| Field | Before | After |", "|---|---|---|"]
        lines += [f"| {text(f)} | {text(_fmt(a))} | {text(_fmt(b))} |" for f, a, b in change.fields]
    if ctx["revision_diff"] is not None and review.previous_id != review.base_id:
        rdiff = ctx["revision_diff"]
        lines += ["", f"### Since revision {review.previous.number}", ""]
        if rdiff.is_empty:
            lines.append("The namespaces are the same as in the previous revision.")
        lines += [f"- **Added** {code(ns['name'])}" for ns in rdiff.added]
        lines += [f"- **Removed** {code(ns['name'])}" for ns in rdiff.removed]
        for change in rdiff.changed:
            fields = ", ".join(f"{text(f)}: {text(_fmt(a))} → {text(_fmt(b))}" for f, a, b in change.fields)
            lines.append(f"- **Changed** {code(change.name)}: {fields}")
    lines += ["", "## Findings", ""]
    summary = ", ".join(f"{n} {sev}" for sev, n in ctx["severity_counts"] if n) or "none unwaived"
    lines += [f"Unwaived: {summary}; waived: {ctx['waived_count']}.", ""]
    if ctx["findings"]:
        lines += ["| Severity | Rule | Target | Finding | Waiver |", "|---|---|---|---|---|"]
        for f in ctx["findings"]:
            wr = f["waiver_request"]
            if f["waived"]:
                waiver = f"waived until {text(f['waiver']['expires'])} ({text(f['waiver']['reason'])})"
            elif wr:
                waiver = f"requested until {wr.expires}: {text(wr.reason)} — {text(wr.state)}"
            else:
                waiver = "—"
            lines.append(
                f"| {text(f['severity'])} | {text(f['rule'])} | {text(f['target'])} "
                f"| {markdown_inline(f['message'], table=True)} | {waiver} |"
            )
    lines += _drift_markdown(ctx)
    sizing = ctx["sizing"] or {}
    lines += ["", "## Sizing", ""]
    if sizing.get("namespaces"):
        lines += [f"Estimated memory of the team's namespaces: {format_bytes(sizing['total_bytes'])}.", ""]
        lines += ["| Namespace | Instance | Keys | Bytes per key | Memory |", "|---|---|---:|---:|---:|"]
        for ns in sizing["namespaces"]:
            lines.append(
                f"| {text(ns['name'])} | {text(ns['instance'])} | {ns['cardinality']:,} "
                f"| {ns['per_key_bytes']:,} | {format_bytes(ns['memory_bytes'])} |"
            )
        lines += [
            "",
            "| Instance | Team's share | Instance total | Usable | Usage |",
            "|---|---:|---:|---:|---:|",
        ]
        for inst in sizing["instances"]:
            lines.append(
                f"| {text(inst['instance'])} | {format_bytes(inst['team_bytes'])} | {format_bytes(inst['total_bytes'])} "
                f"| {format_bytes(inst['usable_bytes'])} | {inst['usage_ratio']:.0%} |"
            )
    else:
        lines.append("No sizing recorded.")
    lines += [
        "",
        "## Revisions",
        "",
        "| Revision | State | Content hash | Submitted | Decided |",
        "|---|---|---|---|---|",
    ]
    for r in ctx["revisions"]:
        lines.append(
            f"| {r.number} | {text(r.get_state_display())} | {code(r.short_hash)} "
            f"| {who(r.submitted_by) if r.submitted_at else '—'}{f', {r.submitted_at:%Y-%m-%d}' if r.submitted_at else ''} "
            f"| {who(r.decided_by) if r.decided_at else '—'}{f', {r.decided_at:%Y-%m-%d}' if r.decided_at else ''} |"
        )
    lines += ["", "## Comments", ""]
    comments = list(review.comments.select_related("author"))
    if not comments:
        lines.append("No comments.")
    for c in comments:
        on = f" on {text(c.finding_rule)} {text(c.finding_target)}" if c.finding_rule else ""
        lines.append(f"- **{who(c.author)}**{on}, {c.created_at:%Y-%m-%d %H:%M}: {markdown_inline(c.body)}")
    lines.append("")
    return "\n".join(lines)


def _drift_markdown(ctx: dict) -> list[str]:
    text = markdown_text
    when = "as of now" if ctx["drift_live"] else "as seen when the revision was decided"
    lines = ["", "## Drift in the latest scans", "", f"Latest complete scan of each instance, {when}.", ""]
    for entry in ctx["drift"]:
        if entry["scan"] is None:
            lines.append(f"- **{text(entry['instance'])}**: never completely scanned; its drift is unknown.")
            continue
        finished = (entry["finished_at"] or "")[:16].replace("T", " ")
        number = entry.get("scan_number") or entry["scan"]
        lines.append(
            f"- **{text(entry['instance'])}**: scan #{number} of {finished} UTC, "
            f"{len(entry['findings'])} finding(s) about the team's namespaces or the instance."
        )
    rows = [f for entry in ctx["drift"] for f in entry["findings"]]
    if rows:
        lines += ["", "| Severity | Rule | Target | Finding | Waiver |", "|---|---|---|---|---|"]
        for f in rows:
            waiver = f"waived until {text(f['waiver']['expires'])}" if f["waived"] else "—"
            lines.append(
                f"| {text(f['severity'])} | {text(f['rule'])} | {text(f['target'])} "
                f"| {markdown_inline(f['message'], table=True)} | {waiver} |"
            )
    return lines
