"""Stored findings are kept fresh by whatever changes what the lint reads, once the change has
committed, never by a page: waivers (pages, admin, review approvals), the policy, the registry's
admin, the design import and the date (a Celery beat job shortly after midnight). Pages and the
API only read, and say "findings as of" when the stored findings are older than the registry."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from advisor.audit.models import AuditEvent
from advisor.celery import app
from advisor.findings import clock, services
from advisor.findings.models import DesignFinding, FindingsRun
from advisor.findings.tasks import NIGHTLY, findings_refresh_task
from advisor.registry import hooks
from advisor.registry.models import Namespace, Policy, Team, Waiver
from advisor.reviews import services as reviews

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TARGET = "namespace:search-results"


def _ttl001():
    return DesignFinding.objects.get(rule="TTL001", target=TARGET)


def _follows(callbacks) -> int:
    return sum(1 for c in callbacks if c is hooks._follow)


def test_the_nightly_job_is_scheduled_shortly_after_midnight(settings):
    task = PeriodicTask.objects.select_related("crontab").get(name=NIGHTLY)  # from the migration
    assert task.enabled and task.task == findings_refresh_task.name and task.task in app.tasks
    c = task.crontab
    assert (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week) == ("5", "0", "*", "*", "*")
    assert str(c.timezone) == settings.TIME_ZONE


def test_the_nightly_job_recomputes_only_what_is_stale(demo_registry, monkeypatch):
    run = FindingsRun.objects.get()
    assert findings_refresh_task()["computed_at"] == run.computed_at.isoformat()  # same day, same registry
    tomorrow = clock.today() + dt.timedelta(days=1)
    monkeypatch.setattr(clock, "today", lambda: tomorrow)
    result = findings_refresh_task.apply().get()
    assert result["today"] == tomorrow.isoformat() and result["findings"] == DesignFinding.objects.count()
    assert FindingsRun.objects.get().computed_at > run.computed_at


def test_no_page_or_api_read_recomputes_the_findings(client, admin_user, demo_registry):
    # Changed around the write services (a script): only the nightly job would recompute.
    Namespace.objects.filter(name="product-cache").update(
        ttl_mode="none", ttl_seconds=None, ttl_jitter_seconds=0
    )
    Namespace.objects.get(name="product-cache").save()  # updated_at moves, as with any save
    before = FindingsRun.objects.get().computed_at
    client.force_login(admin_user)
    for url in (
        "/",
        "/findings/",
        "/namespaces/product-cache/",
        "/instances/prod-catalog-cache/",
        "/compliance/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/findings").status_code == 200
    assert FindingsRun.objects.get().computed_at == before
    assert not DesignFinding.objects.filter(rule="TTL001", target="namespace:product-cache").exists()
    for url in ("/", "/findings/", "/namespaces/product-cache/", "/instances/prod-catalog-cache/"):
        assert "Findings as of" in client.get(url).content.decode(), url


def test_fresh_findings_carry_no_notice(client, viewer, demo_registry):
    client.force_login(viewer)
    for url in ("/", "/findings/", "/namespaces/search-results/"):
        assert "Findings as of" not in client.get(url).content.decode(), url


_WRITES = {"delete", "bulk_create", "bulk_update", "create", "update", "get_or_create", "update_or_create"}


def test_only_findings_refresh_writes_design_findings():
    allowed = ROOT / "advisor" / "findings" / "services.py"
    wrong = []
    for path in sorted((ROOT / "advisor").rglob("*.py")):
        if "migrations" in path.parts or "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        refresh = next(
            (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "findings_refresh"), None
        )
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in _WRITES or "DesignFinding.objects" not in ast.unparse(node.func.value):
                continue
            if (
                path == allowed
                and refresh is not None
                and refresh.lineno <= node.lineno <= refresh.end_lineno
            ):
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert wrong == []
    # The reader sees the writes findings_refresh makes (else the test above proves nothing).
    source = allowed.read_text(encoding="utf-8")
    assert "DesignFinding.objects.all().delete()" in source and "DesignFinding.objects.bulk_create(" in source


# Waivers ----------------------------------------------------------------------------------------


def test_the_waiver_admin_saves_through_the_service(
    client, admin_user, demo_registry, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    waiver = Waiver.objects.get(rule="TTL001", target=TARGET)
    assert waiver.expires < timezone.localdate() and not _ttl001().waived
    expires = timezone.localdate() + dt.timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/admin/registry/waiver/{waiver.pk}/change/",
            {
                "rule": "TTL001",
                "target": TARGET,
                "reason": "renewed in the admin",
                "expires": expires.isoformat(),
            },
        )
    assert response.status_code == 302
    assert _follows(callbacks) == 1 and _ttl001().waived  # the findings followed the commit
    event = AuditEvent.objects.get(obj_type="waiver", action="update")
    assert event.actor == admin_user and event.after["reason"] == "renewed in the admin"
    assert event.before["expires"] == waiver.expires.isoformat()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/registry/waiver/{waiver.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Waiver.objects.filter(pk=waiver.pk).exists()
    assert AuditEvent.objects.filter(obj_type="waiver", action="delete", actor=admin_user).count() == 1
    assert not _ttl001().waived


def test_an_approval_that_creates_waivers_refreshes_the_findings_once(
    member, reviewer, django_capture_on_commit_callbacks
):
    catalog = Team.objects.get(name="catalog")
    expires = timezone.localdate() + dt.timedelta(days=60)
    asks = [
        reviews.WaiverAsk(f.rule, f.target, f"Accepted risk for {f.rule}", expires)
        for f in reviews.blocking_findings(reviews.team_findings(catalog))
    ]
    assert len(asks) >= 2
    review = reviews.review_submit(team=catalog, user=member, waivers=asks)
    assert not _ttl001().waived
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reviews.review_approve(review=review, user=reviewer, expected_hash=review.content_hash)
    assert _follows(callbacks) == 1  # one refresh for the whole approval, however many waivers
    assert all(DesignFinding.objects.get(rule=a.rule, target=a.target).waived for a in asks)
    events = AuditEvent.objects.filter(obj_type="waiver", actor=reviewer)
    assert {e.obj_name for e in events} == {f"{a.rule} on {a.target}" for a in asks}


# The policy and the registry's admin ------------------------------------------------------------------


def test_a_policy_change_in_the_admin_refreshes_the_findings(
    client, admin_user, demo_registry, django_capture_on_commit_callbacks
):
    Policy.current()
    assert DesignFinding.objects.filter(rule="KEY003").exists()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            "/admin/registry/policy/1/change/",
            {"disable": '["KEY003"]', "severity": "{}", "thresholds": "{}"},
        )
    assert response.status_code == 302
    assert _follows(callbacks) == 1 and not DesignFinding.objects.filter(rule="KEY003").exists()


def test_a_namespace_change_in_the_admin_refreshes_the_findings(
    client, admin_user, demo_registry, django_capture_on_commit_callbacks
):
    ns = Namespace.objects.get(name="product-cache")
    client.force_login(admin_user)
    page = client.get(f"/admin/registry/namespace/{ns.pk}/change/")
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if isinstance(value, list):
            data[name] = [getattr(v, "pk", v) for v in value]
            continue
        data[name] = "" if value is None else getattr(value, "pk", value)
    data.update(ttl_mode="none", ttl_seconds="", ttl_jitter_seconds="0")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/admin/registry/namespace/{ns.pk}/change/", data)
    assert response.status_code == 302, page.context["adminform"].form.errors
    assert _follows(callbacks) == 1
    assert DesignFinding.objects.filter(rule="TTL001", target="namespace:product-cache").exists()


# What Prometheus sees ---------------------------------------------------------------------------------


def test_metrics_say_when_the_findings_were_computed(client, settings, demo_registry):
    from prometheus_client.parser import text_string_to_metric_families

    settings.ADVISOR_METRICS_TOKEN = "metrics-token-for-tests-" + "0123456789abcdef" * 2
    run = services.findings_refresh()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.ADVISOR_METRICS_TOKEN}")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    (sample,) = families["advisor_findings_computed_timestamp_seconds"].samples
    assert sample.value == pytest.approx(run.computed_at.timestamp())
