"""Page writes as the API's: the row and its audit record together or not at all, and a failing
findings refresh never turns a committed save into an error page."""

from __future__ import annotations

import pytest

from advisor.audit.models import AuditEvent
from advisor.registry.models import Namespace, Waiver
from tests.test_findings_pages import namespace_form_data

pytestmark = pytest.mark.django_db

NS = "search-results"


def _boom(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.fixture
def page(client, admin_user, demo_registry):
    client.force_login(admin_user)
    client.raise_request_exception = False  # an unexpected error answers 500, as under gunicorn
    return client


def test_a_failed_audit_leaves_the_namespace_unchanged(page, monkeypatch):
    ns = Namespace.objects.get(name=NS)
    events = AuditEvent.objects.count()
    monkeypatch.setattr("advisor.registry.writes.audit_change", _boom)
    response = page.post(f"/namespaces/{NS}/edit/", namespace_form_data(ns, description="changed"))
    assert response.status_code == 500
    assert Namespace.objects.get(name=NS).description == ns.description
    assert AuditEvent.objects.count() == events


def test_a_failed_findings_refresh_still_reports_the_saved_namespace(page, monkeypatch, caplog):
    ns = Namespace.objects.get(name=NS)
    monkeypatch.setattr("advisor.findings.services.lint_design", _boom)
    response = page.post(f"/namespaces/{NS}/edit/", namespace_form_data(ns, description="changed"))
    assert response.status_code == 302
    assert Namespace.objects.get(name=NS).description == "changed"
    assert "not refreshed after a committed change" in caplog.text


def test_a_failed_audit_leaves_no_waiver(page, monkeypatch):
    before = Waiver.objects.count()
    monkeypatch.setattr("advisor.registry.writes.audit_change", _boom)
    response = page.post(
        "/waivers/new/",
        {"rule": "KEY002", "target": "namespace:product-cache", "reason": "legacy", "expires": "2027-01-31"},
    )
    assert response.status_code == 500
    assert Waiver.objects.count() == before
