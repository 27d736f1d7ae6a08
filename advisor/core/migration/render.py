"""The plan in words: Markdown for a change ticket, plain text for a terminal."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from advisor.core import platform
from advisor.core.units import format_bytes, format_gb

if TYPE_CHECKING:
    from advisor.core.migration.plan import MigrationPlan


def _amr_version(tier_name: str) -> str:
    entry = platform.tier(platform.AMR, tier_name)
    return entry.redis_version if entry else "?"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _when(plan: MigrationPlan) -> str:
    if plan.retired:
        return f"retired on {plan.retires.isoformat()}, {plan.days_ago} day{'s' if plan.days_ago != 1 else ''} ago"
    return f"retires on {plan.retires.isoformat()}, {plan.days_left} day{'s' if plan.days_left != 1 else ''} left"


def _need_words(plan: MigrationPlan) -> str:
    need = plan.need
    if need.source == "last-scan":
        when = f" on {need.measured_at.date().isoformat()}" if need.measured_at else ""
        words = (
            f"{format_bytes(need.memory_bytes)}, measured by the last scan{when} (used_memory); the design's "
            f"namespaces are estimated at {format_bytes(need.design_bytes)}"
        )
    else:
        words = f"{format_bytes(need.memory_bytes)}, the design's estimate (no completed scan yet)"
    return words + f". Declared load: {float(need.ops_per_sec):,.0f} ops/s, {need.write_share:.0%} writes."


def _comparison(plan: MigrationPlan) -> list[tuple[str, str, str]]:
    inst, target = plan.current, plan.target
    source_size = plan.source.sku or "—"
    if plan.source.sku and plan.source.sku_inferred:
        source_size += " (from its memory)"
    rows = [
        ("Product", platform.PRODUCT_LABELS[plan.source.product], platform.PRODUCT_LABELS[platform.AMR]),
        (
            "Tier",
            plan.source.label.removeprefix("Azure Cache for Redis "),
            target.label.removeprefix("Azure Managed Redis "),
        ),
        ("Size", source_size, target.sku + (" (preview)" if target.preview else "")),
        (
            "Memory",
            format_gb(plan.source.memory_gb),
            f"{format_gb(target.memory_gb)} ({format_bytes(target.usable_bytes)} usable)",
        ),
    ]
    if inst is not None:
        source_tier = platform.tier(inst.product, inst.tier)
        rows += [
            ("Clustering", inst.clustering, target.clustering),
            ("Eviction policy", inst.eviction_policy, target.eviction_policy),
            ("High availability", _yes(inst.high_availability), _yes(target.high_availability)),
            ("Persistence", inst.persistence, target.persistence),
            (
                "Geo-replication",
                platform.geo_replication_kind(inst) if inst.geo_replication else "no",
                "active" if target.geo_replication else "no",
            ),
            ("Authentication", inst.auth, "entra-id"),
            ("Port", str(platform.default_port(inst.product, inst.tier, tls=inst.tls)), str(target.port)),
            ("Redis version", source_tier.redis_version if source_tier else "?", _amr_version(target.tier)),
        ]
    return rows


def _sources(plan: MigrationPlan) -> list[str]:
    urls = [
        platform.ACR_RETIREMENT,
        platform.AMR_MIGRATE,
        *(b.source for b in plan.blockers),
        *(d.source for d in plan.data_migration),
        *(s.source for s in plan.steps),
    ]
    seen: list[str] = []
    for url in urls:
        if url and url not in seen:
            seen.append(url)
    return seen


def _source_title(url: str) -> str:
    if url.startswith(platform.LEARN):
        return "Microsoft Learn: " + url.removeprefix(platform.LEARN + "/").replace("-", " ")
    return url.removeprefix("https://")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(plan: MigrationPlan) -> str:
    """The plan as a change ticket: what moves where, what blocks it, and the steps in order."""
    t = plan.target
    lines = [
        f"# Migration plan: {plan.instance} → Azure Managed Redis {t.sku}",
        "",
        f"{plan.source.label} {_when(plan)}"
        + (f" (as of {plan.today.isoformat()})" if plan.today else "")
        + f". Environment: {plan.environment or '?'}.",
        "",
        "## Source and target",
        "",
        "| | Source | Target |",
        "|---|---|---|",
        *(f"| {name} | {_cell(a)} | {_cell(b)} |" for name, a, b in _comparison(plan)),
        "",
        f"**Need:** {_need_words(plan)}",
        "",
        f"**Endpoint:** `{t.hostname}:{t.port}`",
        "",
        "Why this target:",
        "",
        *(f"- {reason}" for reason in t.why),
        "",
    ]
    if plan.alternatives:
        lines += [
            "### Alternatives",
            "",
            "| Tier | Size | Memory | Usable | Note |",
            "|---|---|---|---|---|",
            *(
                f"| {a.label} | {a.sku} | {format_gb(a.memory_gb)} | {format_bytes(a.usable_bytes)} "
                f"| {_cell(a.note)} |"
                for a in plan.alternatives
            ),
            "",
        ]
    lines += ["## Blockers", ""]
    if plan.open_blockers:
        lines += [f"- [ ] **{b.id}**: {b.message}" for b in plan.open_blockers]
    else:
        lines.append(
            "None found in the design" + (" and the last scan." if plan.need.source == "last-scan" else ".")
        )
    if plan.notes:
        lines += ["", "Notes:", "", *(f"- **{b.id}**: {b.message}" for b in plan.notes)]
    lines += [
        "",
        "## Data migration",
        "",
        "| Option | Available | Why |",
        "|---|---|---|",
        *(
            f"| {d.title} (`{d.id}`){' **recommended**' if d.recommended else ''} | {_yes(d.available)} | "
            f"{_cell(d.why)} [source]({d.source}) |"
            for d in plan.data_migration
        ),
        "",
        "## Steps",
        "",
    ]
    for number, step in enumerate(plan.steps, 1):
        done = " (already in place)" if step.status == "ok" else ""
        lines.append(f"{number}. **{step.title}**{done}: {step.detail}")
        lines += [f"   - {point}" for point in step.points]
    if plan.namespaces:
        lines += [
            "",
            "## Namespaces",
            "",
            "| Namespace | Team | Class | Strategy | Plan |",
            "|---|---|---|---|---|",
            *(
                f"| {ns.name} | {ns.team} | {ns.classification} | {ns.strategy} | "
                f"{_cell(ns.summary + ' ' + ' '.join(ns.steps))} |"
                for ns in plan.namespaces
            ),
        ]
    lines += ["", "## Sources", "", *(f"- [{_source_title(url)}]({url})" for url in _sources(plan)), ""]
    return "\n".join(lines)


def _wrap(text: str, indent: str = "  ", width: int = 100, hang: int = 2) -> list[str]:
    lines = textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + " " * hang,
        break_on_hyphens=False,
    )
    return lines or [indent]


def render_text(plan: MigrationPlan) -> str:
    """The plan for a terminal."""
    t = plan.target
    out = [
        f"Migration plan: {plan.instance} ({plan.source.label}) -> Azure Managed Redis",
        f"  {_when(plan)}" + (f", as of {plan.today.isoformat()}" if plan.today else ""),
        "",
        f"Target: {t.label} {t.sku}, {format_gb(t.memory_gb)} ({format_bytes(t.usable_bytes)} usable)"
        + (" [preview]" if t.preview else ""),
        f"  {t.hostname}:{t.port}, clustering {t.clustering}, eviction {t.eviction_policy}, "
        f"HA {_yes(t.high_availability)}, persistence {t.persistence}",
        *_wrap("Need: " + _need_words(plan)),
        *(line for reason in t.why for line in _wrap("- " + reason)),
    ]
    if plan.alternatives:
        out += ["", "Alternatives:"]
        out += [
            f"  {a.label} {a.sku}: {format_gb(a.memory_gb)} ({format_bytes(a.usable_bytes)} usable); {a.note}"
            for a in plan.alternatives
        ]
    out += ["", f"Blockers ({len(plan.open_blockers)}):"]
    for b in plan.open_blockers:
        out += _wrap(f"[ ] {b.id}: {b.message}")
    if not plan.open_blockers:
        out.append("  none found")
    for b in plan.notes:
        out += _wrap(f"note {b.id}: {b.message}")
    out += ["", "Data migration:"]
    for d in plan.data_migration:
        mark = "yes" if d.available else "no "
        out += _wrap(f"{mark} {d.id}{' (recommended)' if d.recommended else ''}: {d.why}")
    out += ["", "Steps:"]
    for number, step in enumerate(plan.steps, 1):
        done = " (in place)" if step.status == "ok" else ""
        out += _wrap(f"{number:>2}. {step.title}{done}: {step.detail}", hang=4)
        out += [line for point in step.points for line in _wrap("- " + point, indent="      ")]
    if plan.namespaces:
        out += ["", "Namespaces:"]
        for ns in plan.namespaces:
            out += _wrap(f"{ns.name} ({ns.classification}, {ns.strategy}): {ns.summary}")
    return "\n".join(out) + "\n"
