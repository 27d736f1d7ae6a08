"""What a scan reads for the migration planner: databases that hold keys and keyspace
notifications, from a real redis-server, through to the plan's blockers."""

from __future__ import annotations

import datetime as dt

from scan_fixtures import DRIFT_INSTANCE, client, drift_design, options

from advisor.core import migration
from advisor.core.scan import ScanTarget, namespace_specs, run_scan
from advisor.lib.redisproc import RedisProcess


def _scan(server: RedisProcess):
    design = drift_design(server.url)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    return run_scan(target, namespace_specs(design, DRIFT_INSTANCE), options())


def test_it_reports_databases_with_keys_and_keyspace_notifications():
    with RedisProcess(args=["--notify-keyspace-events", "Ex"]) as server:
        client(server).set("prod:catalog:product:v3:1", "x", ex=60)
        client(server, db=3).set("legacy:thing", "x")
        report = _scan(server)
    assert report.server.keyspace == {"db0": 1, "db3": 1}
    assert set(report.server.notify_keyspace_events) == {"E", "x"}


def test_without_notifications_the_setting_is_empty_not_missing():
    with RedisProcess() as server:
        client(server).set("prod:catalog:product:v3:1", "x", ex=60)
        report = _scan(server)
    assert report.server.keyspace == {"db0": 1}
    assert report.server.notify_keyspace_events == ""


def test_a_refused_config_leaves_the_setting_unknown():
    with RedisProcess(args=["--rename-command", "CONFIG", ""]) as server:
        client(server).set("prod:catalog:product:v3:1", "x", ex=60)
        report = _scan(server)
    assert report.server.notify_keyspace_events is None
    assert report.server.keyspace == {"db0": 1}


def test_the_scanned_facts_become_migration_blockers():
    with RedisProcess(args=["--notify-keyspace-events", "KEA"]) as server:
        client(server, db=2).set("x", "1")
        report = _scan(server)
    # The same design, described as a retiring Premium cache.
    design = drift_design("redis://127.0.0.1:6380/0")
    data = design.model_dump(mode="python")
    data["instances"][0].update(product="azure-cache-for-redis", tier="premium", auth="access-key")
    premium = type(design).model_validate(data)
    plan = migration.migration_plan(
        premium,
        DRIFT_INSTANCE,
        today=dt.date(2026, 11, 28),
        measured_databases=sorted(int(db[2:]) for db in report.server.keyspace),
        notify_keyspace_events=report.server.notify_keyspace_events,
    )
    ids = {b["id"] for b in plan.to_dict()["blockers"]}
    assert {"db-index", "keyspace-notifications"} <= ids
