"""The demo never scans its fictitious hosts on a schedule (issue #11, item 11).

The demo design names made-up public Azure hosts (contoso-*.redis.azure.net and the like) next to
the two local demo caches. `make run` imports it with `load_demo`, and the import gives every
instance with a connection the nightly scan: a `make run` left running overnight would connect
out. Now only the local demo caches keep their nightly scan; the others have it paused, and what
celery beat would run (its database scheduler, read here as beat reads it) holds no scan of them.
"""

import io
import json
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from advisor.registry.models import Instance
from advisor.scans.schedules import TASK, schedule_get, schedule_set
from tests.conftest import DEMO_DESIGN

pytestmark = pytest.mark.django_db

LOCAL = {"prod-catalog-cache", "dev-shared-cache"}
FICTITIOUS = {"prod-legacy-cache", "prod-checkout-state", "prod-catalog-flash", "prod-loyalty-cache"}


def _load_demo(tmp_path) -> str:
    out = io.StringIO()
    call_command(
        "load_demo",
        "--cache-url",
        "redis://127.0.0.1:7001/0",
        "--password-file",
        str(tmp_path / "demo-login.txt"),
        stdout=out,
    )
    return out.getvalue()


def _beat_would_scan() -> set[str]:
    """Names of the instances celery beat would scan: the enabled tasks its scheduler reads.

    (DatabaseScheduler.all_as_schedule() narrows these further to the ones due around the
    current hour, which would make the answer depend on when the test runs.)
    """
    names = set()
    for task in DatabaseScheduler.Model.objects.enabled():
        if task.task == TASK:
            (pk,) = json.loads(task.args)
            names.add(Instance.objects.get(pk=pk).name)
    return names


def test_load_demo_schedules_only_the_local_demo_caches(tmp_path, settings):
    out = _load_demo(tmp_path)

    assert _beat_would_scan() == LOCAL
    for name in LOCAL:
        task = schedule_get(Instance.objects.get(name=name))
        assert task.enabled and task.crontab.hour == settings.ADVISOR_SCAN_DEFAULT_CRON.split()[1]
    for name in FICTITIOUS:
        instance = Instance.objects.get(name=name)
        assert urlsplit(instance.connection_url).hostname.endswith(".net")  # a made-up Azure host
        task = schedule_get(instance)
        assert task is not None and not task.enabled, name
    assert "Scheduled scans paused (fictitious hosts): " + ", ".join(sorted(FICTITIOUS)) in out


def test_every_enabled_scan_schedule_points_at_this_machine(tmp_path):
    _load_demo(tmp_path)
    enabled = PeriodicTask.objects.filter(task=TASK, enabled=True)
    assert enabled.count() == len(LOCAL)
    for task in enabled:
        instance = Instance.objects.get(pk=json.loads(task.args)[0])
        assert urlsplit(instance.connection_url).hostname in ("127.0.0.1", "localhost", "::1")


def test_the_pause_survives_a_reimport_and_an_edit_of_the_instance(tmp_path, client, admin_user):
    _load_demo(tmp_path)
    # An administrator imports the demo design again, as the upload page or import_designs does ...
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    # ... and saves a fictitious instance through its form (which ensures a nightly schedule).
    client.force_login(admin_user)
    form = client.get("/instances/prod-checkout-state/edit/").context["form"]
    data = {f.html_name: f.value() for f in form if f.value() not in (None, False)}
    data = {k: ("on" if v is True else v) for k, v in data.items()}
    response = client.post("/instances/prod-checkout-state/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    assert _beat_would_scan() == LOCAL


def test_the_next_make_run_pauses_a_schedule_someone_enabled_again(tmp_path):
    _load_demo(tmp_path)
    schedule_set(Instance.objects.get(name="prod-loyalty-cache"), cron="0 3 * * *", enabled=True)
    assert "prod-loyalty-cache" in _beat_would_scan()
    _load_demo(tmp_path)
    assert _beat_would_scan() == LOCAL
    task = schedule_get(Instance.objects.get(name="prod-loyalty-cache"))
    assert not task.enabled and task.crontab.hour == "3"  # its own time kept, only paused
