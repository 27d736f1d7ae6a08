"""Where events come from, and which teams they concern.

- Scans (`on_scan_finished`, connected to advisor.scans.signals.scan_finished): a failed run, and
  a completed run's *new* high drift, new compared with the instance's previous completed run by
  (rule, target): unwaived at high or above now, not unwaived at high or above then. The same
  drift found again every night is told once; drift that went away and came back is told again.
- Reviews (`on_review_event`, connected to advisor.reviews.signals.review_event, sent once the
  change commits): submitted, changes requested, approved.
- Daily jobs (tasks, beat): waivers that expire within WAIVER_NOTICE_DAYS, and instances within
  the platform catalog's RETIREMENT_WARNING_DAYS of their tier's retirement date (the date and
  step INS001 uses), each told once per channel and date.

Instances have no owner: an instance's events go to the teams with namespaces on it; a finding
about namespaces goes to the teams that own them (its target and related namespaces).

Chat systems are outside the advisor: a drift event names rule, severity, target and the rule's
title, never a finding's message (which may quote masked key examples); the link leads to it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.urls import reverse

from advisor.core import platform
from advisor.core.findings import Severity
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.scans.models import ScanRun

from .events import (
    INSTANCE_RETIRING,
    REVIEW_APPROVED,
    REVIEW_CHANGES_REQUESTED,
    REVIEW_SUBMITTED,
    SCAN_FAILED,
    SCAN_NEW_HIGH_DRIFT,
    WAIVER_EXPIRING,
    WAIVER_NOTICE_DAYS,
    Event,
)
from .services import dispatch

log = logging.getLogger(__name__)

LISTED = 10  # findings named in an event's text; the rest are counted


def _link(path: str) -> str:
    return settings.ADVISOR_BASE_URL.rstrip("/") + path


def instance_teams(instance_id: int) -> list[Team]:
    return list(Team.objects.filter(namespaces__instance_id=instance_id).distinct().order_by("name"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


# Scans -----------------------------------------------------------------------------------------


def on_scan_finished(sender, run: ScanRun, **kwargs):
    if run.status == ScanRun.Status.FAILED:
        return scan_failed(run)
    if run.status == ScanRun.Status.COMPLETED:
        return scan_new_high_drift(run)
    return []


def _scan_data(run: ScanRun) -> dict:
    return {"id": run.pk, "number": run.number, "url": _link(run.get_absolute_url())}


def scan_failed(run: ScanRun):
    name = run.instance.name
    event = Event(
        kind=SCAN_FAILED,
        title=f"Scan #{run.number} of {name} failed",
        text=f"The scan of {name} started by {run.origin} failed: {run.reason or 'no reason given'}",
        url=_link(run.get_absolute_url()),
        facts=(
            ("Instance", name),
            ("Scan", f"#{run.number}"),
            ("Kind of failure", run.error_kind or "—"),
            ("Attempts", str(run.attempts)),
        ),
        data={
            "instance": name,
            "scan": _scan_data(run),
            "reason": run.reason,
            "error_kind": run.error_kind,
            "trigger": run.trigger,
        },
        dedupe_key=f"scan:{run.pk}:failed",
    )
    return dispatch(event, instance_teams(run.instance_id))


def _unwaived_high(findings: list[dict]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for f in findings:
        try:
            severity = Severity(f.get("severity"))
        except ValueError:
            continue
        if not f.get("waived") and severity >= Severity.high:
            out.setdefault((f["rule"], f["target"]), f)
    return out


def new_high_drift(run: ScanRun) -> list[dict]:
    """The run's unwaived high (and critical) findings whose (rule, target) the instance's previous
    completed run did not have unwaived at high or above; all of them on a first scan."""
    previous = (
        ScanRun.objects.filter(
            instance_id=run.instance_id, status=ScanRun.Status.COMPLETED, number__lt=run.number
        )
        .order_by("-number")
        .first()
    )
    before = _unwaived_high(previous.findings) if previous is not None else {}
    return [f for key, f in _unwaived_high(run.findings).items() if key not in before]


def _teams_of_findings(findings: list[dict], instance_id: int) -> dict[int, list[dict]]:
    owner = dict(Namespace.objects.filter(instance_id=instance_id).values_list("name", "team_id"))
    on_instance = set(owner.values())
    by_team: dict[int, list[dict]] = defaultdict(list)
    for f in findings:
        named = {
            t.split(":", 1)[1] for t in [f["target"], *f.get("related", [])] if t.startswith("namespace:")
        }
        teams = {owner[n] for n in named if n in owner}
        if not teams and f["target"].startswith("instance:"):
            teams = on_instance
        for team in teams:
            by_team[team].append(f)
    return by_team


def scan_new_high_drift(run: ScanRun):
    new = new_high_drift(run)
    if not new:
        return []
    name = run.instance.name
    created = []
    by_team = _teams_of_findings(new, run.instance_id)
    for team in Team.objects.filter(pk__in=list(by_team)).order_by("name"):
        findings = sorted(
            by_team[team.pk], key=lambda f: (-Severity(f["severity"]).rank, f["rule"], f["target"])
        )
        lines = [
            f"- {f['severity']} {f['rule']} on {f['target']}: {f.get('title', '')}" for f in findings[:LISTED]
        ]
        if len(findings) > LISTED:
            lines.append(f"- and {len(findings) - LISTED} more")
        event = Event(
            kind=SCAN_NEW_HIGH_DRIFT,
            title=f"New high drift on {name}: {_plural(len(findings), 'finding')} in scan #{run.number}",
            text=f"Scan #{run.number} of {name} found drift at high or above that the previous scan did not:\n"
            + "\n".join(lines),
            url=_link(run.get_absolute_url()),
            facts=(("Instance", name), ("Scan", f"#{run.number}"), ("New high findings", str(len(findings)))),
            data={
                "instance": name,
                "scan": _scan_data(run),
                "findings": [
                    {k: f.get(k) for k in ("rule", "severity", "target", "related", "title")}
                    for f in findings
                ],
            },
            dedupe_key=f"scan:{run.pk}:new-high-drift",
        )
        created += dispatch(event, [team])
    return created


# Reviews ---------------------------------------------------------------------------------------

_REVIEW_KINDS = {
    "submitted": REVIEW_SUBMITTED,
    "changes_requested": REVIEW_CHANGES_REQUESTED,
    "approved": REVIEW_APPROVED,
}


def on_review_event(sender, review, event: str, actor=None, comment: str = "", **kwargs):
    kind = _REVIEW_KINDS.get(event)
    if kind is None:
        return []
    who = actor.get_username() if actor is not None else "someone"
    said = f"\n\n{who} wrote: {comment[:1000]}" if comment else ""
    title, text = {
        REVIEW_SUBMITTED: (
            f"{review} submitted for review by {who}",
            f"{who} submitted {review} ({_plural(len(review.snapshot), 'namespace')}, hash {review.short_hash}) "
            "for review.",
        ),
        REVIEW_CHANGES_REQUESTED: (
            f"Changes requested on {review} by {who}",
            f"{who} sent {review} back to the team.{said}",
        ),
        REVIEW_APPROVED: (
            f"{review} approved by {who}",
            f"{who} approved {review} (hash {review.short_hash}).{said}",
        ),
    }[kind]
    return dispatch(
        Event(
            kind=kind,
            title=title,
            text=text,
            url=_link(review.get_absolute_url()),
            facts=(("Team", review.team.name), ("Revision", str(review.number)), ("By", who)),
            data={
                "review": {
                    "id": review.pk,
                    "team": review.team.name,
                    "number": review.number,
                    "state": review.state,
                    "hash": review.content_hash,
                    "url": _link(review.get_absolute_url()),
                },
                "actor": who,
                "comment": comment,
            },
            dedupe_key=f"review:{review.pk}:{event}",
        ),
        [review.team],
    )


# Daily jobs ------------------------------------------------------------------------------------


def _teams_by_instance() -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for instance_id, team_id in Namespace.objects.values_list("instance_id", "team_id").distinct():
        out[instance_id].add(team_id)
    return out


def waivers_expiring(*, today: dt.date) -> list:
    """Tell the teams concerned about each waiver that expires within WAIVER_NOTICE_DAYS of `today`
    (a waiver still applies on its expiry date)."""
    horizon = today + dt.timedelta(days=WAIVER_NOTICE_DAYS)
    owner = dict(Namespace.objects.values_list("name", "team_id"))
    instance_ids = dict(Instance.objects.values_list("name", "pk"))
    by_instance = _teams_by_instance()
    teams = Team.objects.in_bulk()
    created = []
    for w in Waiver.objects.filter(expires__gte=today, expires__lte=horizon).order_by(
        "expires", "rule", "target"
    ):
        kind, _, name = w.target.partition(":")
        if kind == "namespace":
            concerned = {owner[name]} if name in owner else set()
        else:
            concerned = by_instance.get(instance_ids.get(name), set())
        if not concerned:
            continue
        days = (w.expires - today).days
        when = "today" if days == 0 else f"in {_plural(days, 'day')}"
        event = Event(
            kind=WAIVER_EXPIRING,
            title=f"The waiver of {w.rule} on {w.target} expires {when} ({w.expires.isoformat()})",
            text=f"The waiver of {w.rule} on {w.target} applies until {w.expires.isoformat()}; from the day after, "
            f"the finding counts again. Fix what it is about, or ask a reviewer to renew it. "
            f"Reason given: {w.reason[:500]}",
            url=_link(reverse("waiver_list")),
            facts=(
                ("Rule", w.rule),
                ("Target", w.target),
                ("Expires", w.expires.isoformat()),
                ("Approved by", w.approved_by or "—"),
            ),
            data={
                "waiver": {
                    "rule": w.rule,
                    "target": w.target,
                    "expires": w.expires.isoformat(),
                    "days_left": days,
                    "reason": w.reason,
                    "approved_by": w.approved_by,
                }
            },
            dedupe_key=f"waiver:{w.rule}:{w.target}:{w.expires.isoformat()}",
        )
        created += dispatch(event, [teams[t] for t in sorted(concerned) if t in teams])
    return created


def instances_retiring(*, today: dt.date) -> list:
    """Tell the teams on each instance whose tier retires within RETIREMENT_WARNING_DAYS of `today`
    (platform.retirement_date, the catalog's date from Microsoft Learn)."""
    by_instance = _teams_by_instance()
    teams = Team.objects.in_bulk()
    created = []
    for inst in Instance.objects.order_by("name"):
        retires = platform.retirement_date(inst.product, inst.tier)
        if retires is None:
            continue
        days = (retires - today).days
        if not 0 <= days <= platform.RETIREMENT_WARNING_DAYS:
            continue
        entry = platform.tier(inst.product, inst.tier)
        source = entry.sources.get("retirement", "") if entry else ""
        event = Event(
            kind=INSTANCE_RETIRING,
            title=f"{inst.name} retires in {_plural(days, 'day')} ({retires.isoformat()})",
            text=f"Instance {inst.name} runs on {entry.title if entry else inst.tier}, which retires on "
            f"{retires.isoformat()}, {_plural(days, 'day')} from {today.isoformat()}. Plan the migration to Azure "
            f"Managed Redis: python manage.py plan_migration {inst.name} drafts it."
            + (f" Source: {source}" if source else ""),
            url=_link(inst.get_absolute_url()),
            facts=(
                ("Instance", inst.name),
                ("Tier", entry.title if entry else inst.tier),
                ("Retires", retires.isoformat()),
                ("Days left", str(days)),
            ),
            data={
                "instance": inst.name,
                "product": inst.product,
                "tier": inst.tier,
                "retires": retires.isoformat(),
                "days_left": days,
                "source": source,
            },
            dedupe_key=f"retiring:{inst.name}:{retires.isoformat()}",
        )
        created += dispatch(event, [teams[t] for t in sorted(by_instance.get(inst.pk, ())) if t in teams])
    return created
