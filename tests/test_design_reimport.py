"""Re-importing a design that matches the registry reports every entry unchanged and writes
nothing: no row, no audit event; a changed entry is the only one reported updated."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from advisor.audit.models import AuditEvent
from advisor.core.design import load_design
from advisor.registry.models import Instance, Namespace, Waiver
from advisor.registry.services import design_export, design_import
from tests.conftest import DEMO_DESIGN, demo_design

pytestmark = pytest.mark.django_db


def _all_unchanged() -> str:
    design = demo_design()
    counts = {
        "teams": len(design.teams),
        "instances": len(design.instances),
        "namespaces": len(design.namespaces),
        "waivers": len(design.waivers),
    }
    return "; ".join(f"{kind}: 0 created, 0 updated, {n} unchanged" for kind, n in counts.items())


def _stamps() -> list:
    return [
        *Instance.objects.order_by("pk").values_list("updated_at", flat=True),
        *Namespace.objects.order_by("pk").values_list("updated_at", flat=True),
    ]


def test_the_first_import_creates_everything(db):
    summary = design_import(demo_design())
    assert summary.created["namespaces"] == len(demo_design().namespaces)
    assert sum(summary.updated.values()) == sum(summary.unchanged.values()) == 0


def test_reimporting_the_same_file_reports_every_entry_unchanged_and_writes_nothing(demo_registry):
    events, stamps = AuditEvent.objects.count(), _stamps()
    out = io.StringIO()
    call_command("import_designs", str(DEMO_DESIGN), stdout=out)
    assert f"Imported {DEMO_DESIGN}: {_all_unchanged()}" in out.getvalue()
    assert AuditEvent.objects.count() == events
    assert _stamps() == stamps


def test_reimporting_an_export_reports_every_entry_unchanged(demo_registry, tmp_path):
    path = tmp_path / "export.yaml"
    path.write_text(design_export())
    out = io.StringIO()
    call_command("import_designs", str(path), stdout=out)
    assert _all_unchanged() in out.getvalue()


def test_the_upload_page_says_unchanged_too(client, admin_user, demo_registry):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("redis-designs.json", design_export("json").encode())
    response = client.post("/designs/", {"file": upload}, follow=True)
    assert f"Imported redis-designs.json: {_all_unchanged()}." in response.content.decode()


def test_only_the_changed_entries_are_reported_updated(demo_registry):
    text = design_export().replace("cardinality: 500000", "cardinality: 600000", 1)
    assert text != design_export()
    summary = design_import(load_design(text))
    assert summary.updated == {"teams": 0, "instances": 0, "namespaces": 1, "waivers": 0}
    assert summary.unchanged["namespaces"] == len(demo_design().namespaces) - 1
    (event,) = AuditEvent.objects.filter(action="import", before__isnull=False)
    assert ("cardinality", 500000, 600000) in event.changes


def test_a_changed_multi_key_with_alone_is_an_update(demo_registry):
    design = demo_design()
    entries = [
        ns.model_copy(update={"multi_key_with": []}) if ns.name == "cart-items" else ns
        for ns in design.namespaces
    ]
    summary = design_import(design.model_copy(update={"namespaces": entries}))
    assert summary.updated["namespaces"] == 1
    assert not Namespace.objects.get(name="cart-items").multi_key_with.exists()
    again = design_import(design)
    assert again.updated["namespaces"] == 1 and list(
        Namespace.objects.get(name="cart-items").multi_key_with.values_list("name", flat=True)
    ) == ["cart-totals"]


def test_an_unchanged_waiver_keeps_who_imported_it(demo_registry, admin_user):
    waiver = Waiver.objects.get(rule="TTL001")
    assert waiver.created_by is None
    summary = design_import(demo_design(), user=admin_user)
    assert summary.unchanged["waivers"] == 2
    waiver.refresh_from_db()
    assert waiver.created_by is None
