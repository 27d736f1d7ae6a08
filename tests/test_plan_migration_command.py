"""`plan_migration NAME`: formats, exit codes and the last scan, against the registry."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from advisor.registry.models import Instance
from advisor.scans.models import ScanRun
from tests.test_migration_planner import CONTRACT_KEYS

pytestmark = pytest.mark.django_db


def run(capsys, *args):
    """(exit code, stdout, stderr) of the command."""
    try:
        call_command("plan_migration", *args)
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_it_prints_the_plan_as_json(capsys, demo_registry):
    code, out, err = run(capsys, "prod-legacy-cache", "--format", "json", "--today", "2026-11-26")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert set(data) == CONTRACT_KEYS
    assert data["instance"] == "prod-legacy-cache" and data["retires"] == "2027-03-31"
    assert data["days_left"] == 125
    assert data["target"]["product"] == "azure-managed-redis" and data["target"]["port"] == 10000
    assert data["need"]["source"] == "design"
    code, out, _ = run(capsys, "prod-legacy-cache", "--format", "json", "--today", "2027-04-02")
    assert json.loads(out)["days_left"] == -2


def test_it_prints_markdown_and_text(capsys, demo_registry):
    code, out, _ = run(capsys, "prod-legacy-cache", "--format", "markdown", "--today", "2026-11-26")
    assert code == 0
    assert out.startswith("# Migration plan: prod-legacy-cache")
    for heading in ["## Source and target", "## Blockers", "## Data migration", "## Steps", "## Sources"]:
        assert f"\n{heading}\n" in out, heading
    code, out, _ = run(capsys, "prod-legacy-cache", "--today", "2026-11-26")
    assert code == 0
    assert out.startswith("Migration plan: prod-legacy-cache (Azure Cache for Redis Enterprise)")
    assert "125 days left" in out and "\nSteps:\n" in out and "\nData migration:\n" in out


def test_it_exits_2_for_an_unknown_instance(capsys, demo_registry):
    code, out, err = run(capsys, "no-such-cache")
    assert code == 2 and out == ""
    assert err == "plan_migration: no registered instance named 'no-such-cache'\n"


def test_it_exits_2_when_there_is_nothing_to_migrate(capsys, demo_registry):
    code, out, err = run(capsys, "prod-catalog-cache", "--format", "json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "not retiring: nothing to migrate" in err
    assert "Azure Managed Redis" in err


def test_it_refuses_a_date_that_is_not_yyyy_mm_dd(demo_registry):
    with pytest.raises(CommandError, match="is not a date"):
        call_command("plan_migration", "prod-legacy-cache", "--today", "20261126")


def test_it_sizes_on_the_last_completed_scan(capsys, demo_registry):
    legacy = Instance.objects.get(name="prod-legacy-cache")
    when = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    older = {"instance": legacy.name, "status": "completed", "server": {"used_memory": 20 * 2**30}}
    latest = {"instance": legacy.name, "status": "completed", "server": {"used_memory": 3 * 2**30}}
    ScanRun.objects.create(
        instance=legacy, status="completed", finished_at=when - dt.timedelta(days=7), report=older
    )
    ScanRun.objects.create(instance=legacy, status="completed", finished_at=when, report=latest)
    ScanRun.objects.create(instance=legacy, status="cancelled", finished_at=when + dt.timedelta(hours=1))
    code, out, _ = run(capsys, "prod-legacy-cache", "--format", "json")
    need = json.loads(out)["need"]
    assert code == 0 and need["source"] == "last-scan" and need["memory_bytes"] == 3 * 2**30
    assert need["design_bytes"] < need["memory_bytes"]


def test_it_reports_what_the_scan_saw_when_the_report_says_it(capsys, demo_registry):
    legacy = Instance.objects.get(name="prod-legacy-cache")
    report = {
        "instance": legacy.name,
        "status": "completed",
        "server": {"used_memory": 2**30, "notify_keyspace_events": "Ex"},
        "keyspace": {"db0": {"keys": 10}, "db4": {"keys": 2}},
    }
    ScanRun.objects.create(
        instance=legacy,
        status="completed",
        finished_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        report=report,
    )
    code, out, _ = run(capsys, "prod-legacy-cache", "--format", "json")
    blockers = {b["id"]: b["message"] for b in json.loads(out)["blockers"]}
    assert "database 4" in blockers["db-index"]
    assert "`Ex`" in blockers["keyspace-notifications"]
