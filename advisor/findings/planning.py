"""The migration plan of a registered instance, for the page, the API and `plan_migration`.

The registry's design of the instance and the facts of its last completed scan go to the domain
core (`advisor.core.migration.migration_plan`). All three callers come through here, so that they
cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from advisor.core import migration
from advisor.registry.models import Instance
from advisor.scans.models import ScanRun

from . import services


@dataclass(frozen=True)
class ScanFacts:
    """What the last completed scan saw that the plan uses; None where the report does not say."""

    run_id: int
    finished_at: dt.datetime | None
    used_memory: int | None
    # Database indexes holding keys, from the report's server.keyspace ({"db0": ..., "db3": ...});
    # older reports have none, and then only the connection URL tells.
    databases: list[int] | None
    # The server's notify-keyspace-events setting (server.notify_keyspace_events), when reported.
    notify_keyspace_events: str | None


def last_scan_facts(instance: Instance) -> ScanFacts | None:
    """The facts of the instance's latest completed scan; None when it was never scanned."""
    run = (
        ScanRun.objects.filter(instance=instance, status=ScanRun.Status.COMPLETED)
        .order_by("-finished_at", "-pk")
        .only("pk", "finished_at", "report", "memory_bytes")
        .first()
    )
    if run is None:
        return None
    report = run.report if isinstance(run.report, dict) else {}
    server = report.get("server") if isinstance(report.get("server"), dict) else {}
    used = server.get("used_memory")
    if not isinstance(used, int) or isinstance(used, bool) or used < 0:
        used = run.memory_bytes
    notify = server.get("notify_keyspace_events")
    return ScanFacts(
        run_id=run.pk,
        finished_at=run.finished_at,
        used_memory=used,
        databases=_databases(server.get("keyspace", report.get("keyspace"))),
        notify_keyspace_events=notify if isinstance(notify, str) and notify else None,
    )


def _databases(keyspace) -> list[int] | None:
    if not isinstance(keyspace, dict):
        return None
    out = []
    for name in keyspace:
        number = str(name).removeprefix("db")
        if number.isdigit():
            out.append(int(number))
    return sorted(out)


def instance_migration_plan(instance: Instance, *, today: dt.date) -> migration.MigrationPlan:
    """The plan of a registered instance. Raises migration.NothingToMigrate when it is not retiring."""
    facts = last_scan_facts(instance)
    return migration.migration_plan(
        services.instance_design(instance),
        instance.name,
        today=today,
        measured_used_memory=facts.used_memory if facts else None,
        measured_at=facts.finished_at if facts else None,
        measured_databases=facts.databases if facts else None,
        notify_keyspace_events=facts.notify_keyspace_events if facts else None,
    )


def instance_by_name(name: str) -> Instance:
    """The registered instance; migration.UnknownInstance when there is none."""
    instance = Instance.objects.filter(name=name).first() if _is_slug(name) else None
    if instance is None:
        raise migration.UnknownInstance(f"no registered instance named {name!r}")
    return instance


def _is_slug(name: str) -> bool:
    # Not a name we could have stored: no query (PostgreSQL refuses NUL characters, for one).
    return bool(name) and len(name) <= 63 and all(c.isascii() and (c.isalnum() or c == "-") for c in name)
