"""Scan runs end to end against a real redis-server: the service, the command, the pages."""

import json
import time

import pytest
import redis
from django.core.management import call_command

from advisor.lib.redisproc import RedisProcess
from advisor.registry.models import Namespace, Team
from advisor.scans import schedules, services
from advisor.scans.models import ScanRun
from tests.registry_fixtures import register_shop

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def cache():
    """A private Redis with a small keyspace: one designed namespace (some keys drift) and a legacy family."""
    with RedisProcess(args=["--maxmemory-policy", "allkeys-lru"]) as server:
        client = redis.Redis(port=server.port)
        pipe = client.pipeline(transaction=False)
        for i in range(500):
            pipe.set(f"prod:shop:product:v1:{i}", "x" * 100, ex=300)
        for i in range(500, 520):
            pipe.set(f"prod:shop:product:v1:{i}", "x" * 100)  # drift: no TTL
        for i in range(200):
            pipe.hset(f"legacy:cart:{i}", mapping={"a": 1})
        pipe.set(b"legacy:blob:\xff\xfe", b"binary key name")
        pipe.execute()
        yield server


@pytest.fixture
def shop(cache, db):
    return register_shop(cache.url, ttl_seconds=300, ttl_jitter_seconds=30, cardinality=600)


def _run(instance, **options):
    run = services.scan_run_create(instance=instance, enqueue=False)
    return services.scan_run_execute(run=run, options=services.scan_options(**options))


def test_it_scans_and_stores_the_report_with_drift(shop):
    run = _run(shop, memory_sample=1.0)
    assert run.status == ScanRun.Status.COMPLETED, run.reason
    assert run.keys_scanned == 721 and run.complete
    assert run.coverage == pytest.approx(520 / 721)
    ns = {n["name"]: n for n in run.report["namespaces"]}
    assert ns["product-cache"]["keys"] == 520
    assert ns["product-cache"]["without_ttl"] == 20
    rules = {f["rule"] for f in run.findings}
    assert {"DRF001", "DRF002"} <= rules
    drf002 = next(f for f in run.findings if f["rule"] == "DRF002")
    assert "20" in drf002["message"]
    assert run.findings_high >= 1
    # masked examples only, never raw non-UTF-8 bytes in the stored report
    json.dumps(run.report)


def test_an_incomplete_scan_is_marked_and_never_says_no_drift(shop):
    run = _run(shop, max_keys=100, count=50)
    assert run.status == ScanRun.Status.COMPLETED
    assert not run.complete
    assert "DRF011" not in {f["rule"] for f in run.findings}


def test_an_unreachable_instance_fails_with_a_reason(shop):
    from advisor.lib.redisproc import free_port

    shop.connection_url = f"redis://127.0.0.1:{free_port()}/0"
    shop.save()
    run = _run(shop, connect_timeout=1.0)
    assert run.status == ScanRun.Status.FAILED
    assert run.error_kind == "unreachable"
    assert "127.0.0.1" in run.reason


def test_a_host_outside_the_allowlist_is_refused(shop):
    shop.connection_url = "redis://10.1.2.3:6379/0"
    shop.save()
    run = _run(shop)
    assert run.status == ScanRun.Status.FAILED
    assert run.error_kind == "refused_host"


def test_one_scan_per_instance_at_a_time(shop):
    lock = services.InstanceLock(shop.name)
    assert lock.acquire()
    try:
        run = services.scan_run_create(instance=shop, enqueue=False)
        with pytest.raises(services.ScanBusy):
            services.scan_run_execute(run=run)
        run.refresh_from_db()
        assert run.status == ScanRun.Status.QUEUED
    finally:
        lock.release()


def test_stale_running_runs_are_reaped(shop):
    import datetime as dt

    from django.utils import timezone

    run = ScanRun.objects.create(
        instance=shop, status=ScanRun.Status.RUNNING, heartbeat_at=timezone.now() - dt.timedelta(minutes=5)
    )
    fresh = ScanRun.objects.create(instance=shop, status=ScanRun.Status.RUNNING, heartbeat_at=timezone.now())
    assert services.scan_runs_reap_stale() == 1
    run.refresh_from_db()
    fresh.refresh_from_db()
    assert run.status == ScanRun.Status.FAILED and "worker" in run.reason
    assert fresh.status == ScanRun.Status.RUNNING


def test_the_command_prints_json_and_exits_1_on_high_findings(shop, capsys):
    with pytest.raises(SystemExit) as exc:
        call_command("scan_instance", shop.name, "--json")
    assert exc.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["instance"] == shop.name and out["status"] == "completed"
    assert out["keys_scanned"] == 721
    assert {"namespaces", "unmatched", "server", "findings"} <= set(out)
    assert ScanRun.objects.filter(instance=shop, trigger="command").count() == 1


def test_the_command_exits_3_with_a_one_line_reason_when_the_scan_fails(shop, capsys):
    from advisor.lib.redisproc import free_port

    shop.connection_url = f"redis://127.0.0.1:{free_port()}/0"
    shop.save()
    with pytest.raises(SystemExit) as exc:
        call_command("scan_instance", shop.name)
    assert exc.value.code == 3
    err = capsys.readouterr().err.strip()
    number = ScanRun.objects.get(instance=shop).number
    assert err.startswith(f"scan #{number} of {shop.name} failed:") and "\n" not in err


def test_schedules_default_nightly_and_validate_cron(shop):
    task = schedules.schedule_ensure(shop)
    assert schedules.schedule_cron(task) == "0 2 * * *"
    schedules.schedule_set(shop, cron="*/30 * * * *")
    assert schedules.schedule_cron(schedules.schedule_get(shop)) == "*/30 * * * *"
    with pytest.raises(ValueError):
        schedules.schedule_set(shop, cron="61 * * * *")
    with pytest.raises(ValueError):
        schedules.schedule_set(shop, cron="nightly")


def test_dashboard_and_detail_pages(client, shop, admin_user, viewer):
    run = _run(shop)
    client.force_login(viewer)
    body = client.get(f"/instances/{shop.name}/scans/").content.decode()
    assert "product-cache" in body and "Register this namespace" in body and "legacy:cart" in body
    assert "Design estimate" in body
    assert "Scan now" not in body  # a viewer may not scan
    assert client.post(f"/instances/{shop.name}/scans/start/").status_code == 403
    assert client.post(f"/instances/{shop.name}/scans/schedule/", {"cron": "0 3 * * *"}).status_code == 403
    assert client.get(f"/scans/{run.pk}/").status_code == 200
    instance_page = client.get(f"/instances/{shop.name}/").content.decode()
    assert "Last scan" in instance_page and f">#{run.number}</a>" in instance_page
    client.force_login(admin_user)
    response = client.post(f"/instances/{shop.name}/scans/start/")
    assert response.status_code == 302
    queued = ScanRun.objects.filter(instance=shop, status="queued").first()
    assert queued is not None
    fragment = client.get(f"/scans/{queued.pk}/progress/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in fragment.content.decode()
    client.post(f"/scans/{queued.pk}/cancel/")
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    fragment = client.get(f"/scans/{queued.pk}/progress/", HTTP_HX_REQUEST="true")
    assert "every 1s" not in fragment.content.decode() and fragment["HX-Refresh"] == "true"


def test_no_raw_personal_data_reaches_the_dashboard(cache, shop, viewer, client):
    client_redis = redis.Redis(port=cache.port)
    client_redis.set("prod:shop:user:by-email:jane.doe@example.com", "1")
    try:
        _run(shop)
        client.force_login(viewer)
        body = client.get(f"/instances/{shop.name}/scans/").content.decode()
        assert "jane.doe@example.com" not in body
    finally:
        client_redis.delete("prod:shop:user:by-email:jane.doe@example.com")


def test_the_api_lists_gets_starts_and_cancels_scans(client, shop, admin_user, viewer):
    run = _run(shop)
    client.force_login(viewer)
    listing = client.get("/api/scans", {"instance": shop.name}).json()
    assert listing["count"] == 1 and listing["items"][0]["status"] == "completed"
    one = client.get(f"/api/scans/{run.pk}").json()
    assert one["instance"] == shop.name and one["keys_scanned"] == 721
    report = client.get(f"/api/scans/{run.pk}/report").json()
    assert report["instance"] == shop.name and "findings" in report
    assert client.get("/api/scans/999999").status_code == 404
    assert client.post(f"/api/instances/{shop.name}/scans").status_code in (401, 403)  # CSRF or permission
    from django.test import Client

    api_client = Client()
    from advisor.accounts.models import ApiToken

    _, token = ApiToken.issue(user=viewer, name="t")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api_client.post(f"/api/instances/{shop.name}/scans", **headers).status_code == 403
    _, token = ApiToken.issue(user=admin_user, name="t")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    started = api_client.post(f"/api/instances/{shop.name}/scans", **headers)
    assert started.status_code == 202 and started.json()["status"] == "queued"
    again = api_client.post(f"/api/instances/{shop.name}/scans", **headers)
    assert again.status_code == 409 and "already" in again.json()["detail"]
    cancelled = api_client.post(f"/api/scans/{started.json()['id']}/cancel", **headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api_client.get(f"/api/scans/{started.json()['id']}/report", **headers).status_code == 409


def test_the_task_retries_connection_failures_with_backoff_then_gives_up(shop):
    from advisor.lib.redisproc import free_port
    from advisor.scans.tasks import MAX_RETRIES, scan_instance_task

    shop.connection_url = f"redis://127.0.0.1:{free_port()}/0"
    shop.save()
    run = services.scan_run_create(instance=shop, enqueue=False)
    # Eager apply runs the retries in this process, one after the other.
    scan_instance_task.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == ScanRun.Status.FAILED and run.error_kind == "unreachable"
    assert run.attempts == MAX_RETRIES


def test_the_task_does_not_retry_what_a_retry_cannot_fix(shop):
    from advisor.scans.tasks import scan_instance_task

    shop.connection_url = "redis://10.9.8.7:6379/0"  # not on the allowlist
    shop.save()
    run = services.scan_run_create(instance=shop, enqueue=False)
    scan_instance_task.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == ScanRun.Status.FAILED and run.error_kind == "refused_host" and run.attempts == 1


def test_a_task_delivered_twice_does_not_scan_twice(shop):
    from advisor.scans.tasks import scan_instance_task

    run = _run(shop)
    result = scan_instance_task.apply(args=[run.pk]).get()
    assert result["status"] == "completed"
    assert ScanRun.objects.get(pk=run.pk).attempts == 1


def test_the_overview_never_says_no_drift_for_an_incomplete_scan(client, shop, viewer):
    from advisor.scans.models import ScanRun

    ScanRun.objects.create(
        instance=shop, status="completed", complete=False, findings_total=0, keys_scanned=10,
        finished_at=shop.updated_at, report={"complete": False},
    )  # fmt: skip
    client.force_login(viewer)
    body = client.get("/").content.decode()
    assert "incomplete" in body and "no drift" not in body
    ScanRun.objects.create(
        instance=shop, status="completed", complete=True, findings_total=0, keys_scanned=10,
        finished_at=shop.updated_at, report={"complete": True},
    )  # fmt: skip
    assert "no drift" in client.get("/").content.decode()


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-instance"],
        ["prod-shop-cache", "--memory-sample", "2"],
        ["prod-shop-cache", "--max-ops", "-1"],
    ],
)
def test_usage_errors_exit_2_not_1_which_means_high_findings(shop, capsys, args):
    with pytest.raises(SystemExit) as exc:
        call_command("scan_instance", *args)
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("scan_instance: ")


def test_only_admins_and_the_requester_cancel_a_scan(client, shop, member, admin_user, django_user_model):

    # A catalog namespace on the instance lets the catalog member start scans of it.
    ns = Namespace.objects.get(name="product-cache")
    ns.pk, ns.name, ns.instance, ns.team = None, "catalog-on-shop", shop, Team.objects.get(name="catalog")
    ns.save()
    client.force_login(member)
    response = client.post(f"/instances/{shop.name}/scans/start/")
    assert response.status_code == 302
    mine = ScanRun.objects.get(instance=shop, status="queued")
    assert (
        f'action="/scans/{mine.pk}/cancel/"' in client.get(f"/instances/{shop.name}/scans/").content.decode()
    )
    services.scan_run_cancel(run=mine)
    scheduled = ScanRun.objects.create(instance=shop, trigger="schedule")
    body = client.get(f"/instances/{shop.name}/scans/").content.decode()
    assert f'action="/scans/{scheduled.pk}/cancel/"' not in body
    assert client.post(f"/scans/{scheduled.pk}/cancel/").status_code == 403
    scheduled.refresh_from_db()
    assert scheduled.status == "queued"
    client.force_login(admin_user)
    assert client.post(f"/scans/{scheduled.pk}/cancel/").status_code == 302
    scheduled.refresh_from_db()
    assert scheduled.status == "cancelled"


def test_compliance_shows_drift_only_for_scanned_instances(client, shop, viewer):
    client.force_login(viewer)
    rows = {r["team"].name: r for r in client.get("/compliance/").context["rows"]}
    assert rows["shop"]["drift"]["scanned"] == 0
    assert "not scanned" in client.get("/compliance/").content.decode()
    _run(shop)
    rows = {r["team"].name: r for r in client.get("/compliance/").context["rows"]}
    assert rows["shop"]["drift"]["scanned"] == 1 and rows["shop"]["drift"]["findings"] >= 1  # DRF002


def test_max_ops_0_lifts_the_ops_budget(shop, capsys, settings):
    settings.ADVISOR_SCAN_MAX_OPS = 100  # ~1,500 commands would take 15 s at this budget
    assert services.scan_options().max_ops == 100
    assert services.scan_options(max_ops=0).max_ops is None
    with pytest.raises(SystemExit) as exc:
        call_command("scan_instance", shop.name, "--json", "--max-ops", "0")
    assert exc.value.code == 1  # completed, with high findings
    out = json.loads(capsys.readouterr().out)
    assert out["complete"] and out["paused_s"] == 0 and out["ops_sent"] > 1400
    settings.ADVISOR_SCAN_MAX_OPS = 0  # the setting takes 0 the same way
    assert services.scan_options().max_ops is None


def test_a_negative_max_ops_is_a_usage_error_that_says_what_is_allowed(shop, capsys):
    with pytest.raises(SystemExit) as exc:
        call_command("scan_instance", shop.name, "--max-ops", "-5")
    assert exc.value.code == 2
    assert "--max-ops must be 0 (no limit) or a positive number" in capsys.readouterr().err
    assert not ScanRun.objects.filter(instance=shop).exists()


def test_refused_commands_are_listed_in_the_text_output_the_json_and_the_page(db, client, viewer, capsys):
    args = []
    for command in ("CONFIG", "SLOWLOG"):
        args += ["--rename-command", command, ""]
    with RedisProcess(args=args) as server:
        redis.Redis(port=server.port).set("prod:shop:product:v1:1", "x", ex=300)
        shop = register_shop(server.url, ttl_seconds=300, ttl_jitter_seconds=30, cardinality=600)
        # the server runs noeviction, the design says allkeys-lru: DRF007 (high), so exit 1
        outputs = []
        for args in ([], ["--json"]):
            with pytest.raises(SystemExit) as exc:
                call_command("scan_instance", shop.name, *args)
            assert exc.value.code == 1
            outputs.append(capsys.readouterr().out)
        text, data = outputs[0], json.loads(outputs[1])
    assert "Not read (the server refused the command):" in text
    assert "CONFIG GET" in text and "taken from INFO instead" in text and "SLOWLOG GET" in text
    assert [u["command"] for u in data["unreadable_facts"]] == ["CONFIG GET", "SLOWLOG GET"]
    assert data["server"]["maxmemory_policy_source"] == "info"
    run = ScanRun.objects.filter(instance=shop).first()
    client.force_login(viewer)
    body = client.get(f"/scans/{run.pk}/").content.decode()
    assert (
        'id="unreadable-facts"' in body
        and "<code>CONFIG GET</code>" in body
        and "<code>SLOWLOG GET</code>" in body
    )


def test_a_bad_cidr_in_the_scan_allowlist_stops_the_app_at_startup(settings):
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    config = apps.get_app_config("scans")
    settings.ADVISOR_SCAN_ALLOWED_HOSTS = [".redis.azure.net", "10.0.0.0/8", "fd00::/8"]
    config.ready()
    settings.ADVISOR_SCAN_ALLOWED_HOSTS = [".redis.azure.net", "10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured) as e:
        config.ready()
    assert str(e.value).startswith("ADVISOR_SCAN_ALLOWED_HOSTS: '10.0.0.0/33' is not a valid CIDR range")


# -- runs that are final stay final; a worker stops when its run or its lock is taken (issue 11)


@pytest.fixture
def quick_looks(monkeypatch):
    """The worker looks at its lock and its run five times a second instead of every 2 s."""
    monkeypatch.setattr(services, "HEARTBEAT_EVERY_S", 0.2)


def _slow_run(shop, on_progress):
    """A scan of the 721 keys at 100 commands a second: about 16 s unless something stops it."""
    run = services.scan_run_create(instance=shop, enqueue=False)
    options = services.scan_options(max_ops=100, progress_interval=0.2)
    return services.scan_run_execute(run=run, options=options, on_progress=on_progress)


def _scanner_gone(cache, timeout: float = 10.0) -> bool:
    """Whether the scanner's connection to the cache closes (polled: the server notices a close
    in its own time)."""
    r = redis.Redis(port=cache.port, decode_responses=True)
    deadline = time.monotonic() + timeout
    while any(c.get("name") == "redis-key-advisor-scan" for c in r.client_list()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_run_reaped_while_it_scans_stops_the_scan_and_keeps_what_the_reaper_wrote(
    cache, shop, settings, quick_looks
):
    reaped = []

    def reap(p):
        if not reaped:
            settings.ADVISOR_SCAN_STALE_AFTER_S = 0
            reaped.append((services.scan_runs_reap_stale(), time.monotonic(), p.keys_scanned))

    run = _slow_run(shop, reap)
    stopped_after = time.monotonic() - reaped[0][1]
    assert reaped[0][0] == 1
    assert run.status == ScanRun.Status.FAILED and "no heartbeat" in run.reason
    assert run.report is None and run.error_kind == ""  # nothing the worker found overwrote it
    assert run.keys_scanned < 721
    assert stopped_after < 5  # not the ~15 s the rest of the scan would take
    assert not services.InstanceLock(shop.name).client.exists(services.InstanceLock(shop.name).key)
    assert _scanner_gone(cache)


def test_a_worker_whose_lock_is_taken_stops_and_fails_its_run(cache, shop, quick_looks):
    taken = []

    def take_lock(p):
        if not taken:
            lock = services.InstanceLock(shop.name)
            lock.client.set(lock.key, "another-worker")
            taken.append(time.monotonic())

    try:
        run = _slow_run(shop, take_lock)
        stopped_after = time.monotonic() - taken[0]
        lock = services.InstanceLock(shop.name)
        assert lock.client.get(lock.key) == b"another-worker"  # not released by the loser
    finally:
        lock.client.delete(lock.key)
    assert run.status == ScanRun.Status.FAILED
    assert run.reason.startswith("stopped: the scan lost its instance lock")
    assert not run.complete and run.keys_scanned < 721
    assert stopped_after < 5


def test_a_cancel_stops_a_running_scan_within_seconds(cache, shop, quick_looks):
    asked = []

    def cancel(p):
        if not asked:
            services.scan_run_cancel(run=ScanRun.objects.get(instance=shop, status="running"))
            asked.append(time.monotonic())

    run = _slow_run(shop, cancel)
    assert time.monotonic() - asked[0] < 5
    assert run.status == ScanRun.Status.CANCELLED and run.reason == "cancelled by a user"
    assert run.report["status"] == "cancelled" and not run.complete


def test_a_late_finish_cannot_move_a_final_run(shop):
    run = ScanRun.objects.create(
        instance=shop, status=ScanRun.Status.FAILED, owner="token-1", reason="reaped"
    )
    assert not services._move(run, ScanRun.Status.RUNNING, ScanRun.Status.COMPLETED, as_owner="token-1")
    assert not services._move(run, ScanRun.Status.RUNNING, ScanRun.Status.QUEUED, as_owner="token-1")
    assert run.status == ScanRun.Status.FAILED and run.reason == "reaped"
    running = ScanRun.objects.create(instance=shop, status=ScanRun.Status.RUNNING, owner="token-2")
    assert not services._move(running, ScanRun.Status.RUNNING, ScanRun.Status.COMPLETED, as_owner="token-1")
    assert running.status == ScanRun.Status.RUNNING  # another attempt's run: not ours to finish


def test_a_cancelled_run_waiting_for_its_retry_is_never_retried(shop):
    from advisor.lib.redisproc import free_port
    from advisor.scans.tasks import scan_instance_task

    shop.connection_url = f"redis://127.0.0.1:{free_port()}/0"
    shop.save()
    run = services.scan_run_create(instance=shop, enqueue=False)
    run = services.scan_run_execute(run=run, max_attempts=3)
    assert run.status == ScanRun.Status.QUEUED and run.retry_in == 10 and run.owner == ""
    assert "retrying in 10s" in run.reason
    services.scan_run_cancel(run=run)
    result = scan_instance_task.apply(args=[run.pk]).get()  # the retry arrives
    run.refresh_from_db()
    assert result["status"] == "cancelled"
    assert run.status == ScanRun.Status.CANCELLED and run.attempts == 1


def test_a_task_for_a_reaped_run_does_nothing(shop):
    from advisor.scans.tasks import scan_instance_task

    run = ScanRun.objects.create(instance=shop, status=ScanRun.Status.FAILED, reason="reaped", attempts=1)
    assert scan_instance_task.apply(args=[run.pk]).get() == {"run": run.pk, "status": "failed"}
    run.refresh_from_db()
    assert run.attempts == 1 and run.reason == "reaped"


def test_housekeeping_fails_queued_runs_that_no_worker_started(shop, settings):
    import datetime as dt

    from django.utils import timezone

    from advisor.scans.tasks import scan_housekeeping_task, scan_instance_task

    settings.ADVISOR_SCAN_QUEUED_TIMEOUT_S = 600
    now = timezone.now()
    never = ScanRun.objects.create(instance=shop)
    fresh = ScanRun.objects.create(instance=shop)
    retry_due = ScanRun.objects.create(instance=shop, attempts=1)  # back in the queue after a failure
    ScanRun.objects.filter(pk__in=[never.pk, retry_due.pk]).update(created_at=now - dt.timedelta(hours=1))
    ScanRun.objects.filter(pk=retry_due.pk).update(heartbeat_at=now - dt.timedelta(minutes=5))
    result = scan_housekeeping_task.apply().get()
    assert result["unstarted"] == 1 and result["reaped"] == 0
    for r in (never, fresh, retry_due):
        r.refresh_from_db()
    assert (
        never.status == ScanRun.Status.FAILED and "no worker started this scan within 600 s" in never.reason
    )
    assert (
        fresh.status == retry_due.status == ScanRun.Status.QUEUED
    )  # its retry is minutes, not an hour, away
    # the instance may be scanned again, and the reaped run's task, should it come, does nothing
    assert scan_instance_task.apply(args=[never.pk]).get()["status"] == "failed"
    never.refresh_from_db()
    assert never.attempts == 0


def test_scan_options_carry_the_deadlines_of_the_settings(settings):
    settings.ADVISOR_SCAN_REPLY_TIMEOUT_S = 7
    settings.ADVISOR_SCAN_DEADLINE_S = 3600
    options = services.scan_options()
    assert options.read_timeout == 7.0 and options.scan_timeout == 3600.0
    settings.ADVISOR_SCAN_DEADLINE_S = 0
    assert services.scan_options().scan_timeout is None
