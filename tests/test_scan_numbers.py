"""Run numbers per instance (#1, #2, #3 of each instance, not global ids): assigned when a run is
created, also by concurrent creators; existing runs numbered by the migration; shown on pages, by
the command, in the scan JSON and in the API."""

import json
import threading

import pytest
import redis
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from advisor.lib.redisproc import RedisProcess
from advisor.registry.models import Instance
from advisor.scans import services
from advisor.scans.models import ScanRun
from tests.registry_fixtures import register_shop


def _command(*args) -> int:
    """scan_instance's exit code (it returns normally for 0)."""
    try:
        call_command("scan_instance", *args)
    except SystemExit as e:
        return e.code
    return 0


@pytest.fixture(scope="module")
def cache():
    with RedisProcess() as server:
        pipe = redis.Redis(port=server.port).pipeline(transaction=False)
        for i in range(300):
            pipe.set(f"prod:shop:product:v1:{i}", "x" * 10, ex=600)
        pipe.execute()
        yield server


@pytest.fixture
def shop(cache, db):
    return register_shop(cache.url)


def _second_instance(shop) -> Instance:
    other = Instance.objects.get(pk=shop.pk)
    other.pk, other.name = None, "prod-other-cache"
    other.save()
    return other


@pytest.mark.django_db
def test_each_instance_numbers_its_runs_from_one(shop):
    other = _second_instance(shop)
    order = [shop, other, shop, shop, other]
    runs = [services.scan_run_create(instance=i, enqueue=False) for i in order]
    assert [(r.instance.name, r.number) for r in runs] == [
        ("prod-shop-cache", 1),
        ("prod-other-cache", 1),
        ("prod-shop-cache", 2),
        ("prod-shop-cache", 3),
        ("prod-other-cache", 2),
    ]
    assert str(runs[3]) == "scan #3 of prod-shop-cache (queued)"


@pytest.mark.django_db
def test_numbers_follow_the_highest_so_a_deleted_run_leaves_a_gap_not_a_duplicate(shop):
    first, second = (services.scan_run_create(instance=shop, enqueue=False) for _ in range(2))
    first.delete()
    assert services.scan_run_create(instance=shop, enqueue=False).number == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_get_distinct_consecutive_numbers(shop):
    """Eight threads, each with its own database connection, create runs of one instance at once."""
    threads, per_thread = 8, 5
    start = threading.Barrier(threads)
    errors = []

    def create():
        try:
            start.wait()
            for _ in range(per_thread):
                ScanRun.objects.create(instance_id=shop.pk)
        except Exception as e:  # reported below: the test must fail, not the thread silently
            errors.append(e)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=create) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert errors == []
    numbers = sorted(ScanRun.objects.filter(instance=shop).values_list("number", flat=True))
    assert numbers == list(range(1, threads * per_thread + 1))


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_existing_runs_per_instance_in_the_order_they_were_queued(shop):
    other = _second_instance(shop)
    before, after = [("scans", "0003_scanrun_owner")], [("scans", "0005_scanrun_number_required")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldRun = old.get_model("scans", "ScanRun")
        created = []
        # Queued in this order, with ids that do not follow it for the first two.
        for instance, minute in [(shop, 5), (other, 1), (shop, 1), (shop, 9), (other, 3)]:
            run = OldRun.objects.create(instance_id=instance.pk, status="completed")
            OldRun.objects.filter(pk=run.pk).update(created_at=f"2026-11-20 10:{minute:02d}:00Z")
            created.append(run.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    numbers = dict(ScanRun.objects.values_list("pk", "number"))
    assert [numbers[pk] for pk in created] == [2, 1, 1, 3, 2]
    # and new runs continue after them
    assert services.scan_run_create(instance=shop, enqueue=False).number == 4


@pytest.mark.django_db
def test_pages_command_scan_json_and_api_name_the_instance_number(shop, client, viewer, capsys):
    _second_instance(shop)
    # Runs of another instance first: the global ids run ahead of this instance's numbers.
    for _ in range(3):
        services.scan_run_create(instance=Instance.objects.get(name="prod-other-cache"), enqueue=False)
    services.scan_run_create(instance=shop, enqueue=False)  # #1, left queued
    assert _command(shop.name, "--json") in (0, 1)  # completed (1: with high drift), not failed (3)
    out = json.loads(capsys.readouterr().out)
    run = ScanRun.objects.get(instance=shop, trigger="command")
    assert run.number == 2 and run.pk != 2
    assert out["run_number"] == 2 and run.report["run_number"] == 2

    client.force_login(viewer)
    dashboard = client.get(f"/instances/{shop.name}/scans/").content.decode()
    assert f'<a href="/scans/{run.pk}/">#2</a>' in dashboard
    detail = client.get(f"/scans/{run.pk}/").content.decode()
    assert f"Scan #2 of {shop.name}" in detail
    api = client.get(f"/api/scans/{run.pk}").json()
    assert api["id"] == run.pk and api["number"] == 2
    listing = client.get("/api/scans", {"instance": shop.name}).json()
    assert sorted(item["number"] for item in listing["items"]) == [1, 2]
    assert client.get(f"/api/scans/{run.pk}/report").json()["run_number"] == 2


@pytest.mark.django_db
def test_the_text_report_of_the_command_names_the_run(shop, capsys):
    services.scan_run_create(instance=shop, enqueue=False)
    assert _command(shop.name) in (0, 1)
    assert capsys.readouterr().out.startswith(f"Scan #2 of {shop.name}: 300 keys")
