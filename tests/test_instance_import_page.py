"""The instance import page (a Terraform plan or state: preview, then confirm; administrators only)
and what the pages say of an instance an import keeps: its source on the instance page, a warning
on its form, and after a save that a later import would undo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from advisor.audit.models import AuditEvent
from advisor.core import design as core
from advisor.registry import writes
from advisor.registry.forms import InstanceForm
from advisor.registry.models import Instance
from advisor.registry.views_declared import SESSION_KEY

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "terraform"
URL = "/instances/import/terraform/"


def upload(name: str, content: bytes | None = None, **extra) -> dict:
    body = content if content is not None else (DATA / name).read_bytes()
    return {"action": "preview", "file": SimpleUploadedFile(name, body, "application/json"), **extra}


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_page_is_for_administrators_only(client, viewer, django_user_model):
    assert reverse("instance_import") == URL
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(viewer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, upload("plan_amr_b20.json")).status_code == 403
    assert client.post(URL, {"action": "confirm", "token": "x"}).status_code == 403
    assert not Instance.objects.exists()


def test_a_preview_shows_every_change_and_writes_nothing(admin):
    page = admin.get(URL)
    assert page.status_code == 200 and b'name="file"' in page.content
    response = admin.post(URL, upload("plan_acr_premium_geo.json"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="change-catalog-cache-weu" data-status="create"' in html
    assert "<code>sku</code></td><td>P3</td>" in html
    assert (
        "<code>memory_gb</code></td><td>78.0</td>" in html or "<code>memory_gb</code></td><td>78</td>" in html
    )
    assert "hostname is known only after apply" in html
    assert "azurerm_resource_group</code> (2)" in html
    assert "Import: create 2, update 0" in html
    assert not Instance.objects.exists() and not AuditEvent.objects.exists()


def test_confirming_the_preview_imports_it_once(admin, admin_user):
    admin.post(URL, upload("plan_acr_premium_geo.json"))
    token = admin.session[SESSION_KEY]["token"]
    response = admin.post(URL, {"action": "confirm", "token": token})
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Imported plan_acr_premium_geo.json: 2 created" in m for m in messages)
    assert set(Instance.objects.values_list("name", flat=True)) == {"catalog-cache-weu", "catalog-cache-neu"}
    assert set(AuditEvent.objects.values_list("actor", flat=True)) == {admin_user.pk}
    # The preview is spent: a second confirmation writes nothing.
    response = admin.post(URL, {"action": "confirm", "token": token}, follow=True)
    assert b"Nothing to confirm" in response.content
    assert AuditEvent.objects.count() == 2


def test_a_forged_token_confirms_nothing(admin):
    admin.post(URL, upload("plan_amr_b20.json"))
    response = admin.post(URL, {"action": "confirm", "token": "forged"}, follow=True)
    assert b"Nothing to confirm" in response.content
    assert not Instance.objects.exists()


def test_the_file_is_not_kept_only_what_was_read_from_it(admin):
    admin.post(URL, upload("state_child_modules.json"))
    kept = json.dumps(admin.session[SESSION_KEY])
    for secret in ("AccountKey", "bm90LWEt", "primary_access_key"):
        assert secret not in kept


def test_a_registry_changed_since_the_preview_is_shown_again_not_imported(admin):
    admin.post(URL, upload("plan_amr_b20.json"))
    token = admin.session[SESSION_KEY]["token"]
    entry = {
        "name": "orders-amr",
        "environment": "dev",
        "product": "azure-managed-redis",
        "tier": "balanced",
        "sku": "B10",
        "clustering": "oss",
        "high_availability": True,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "noeviction",
        "auth": "entra-id",
        "tls": True,
        "public_network_access": False,
    }
    writes.instance_save(instance=None, data=core.Instance.model_validate(entry), actor=None)
    response = admin.post(URL, {"action": "confirm", "token": token})
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed since the preview" in html
    assert 'id="change-orders-amr" data-status="update"' in html
    row = Instance.objects.get(name="orders-amr")
    assert (row.sku, row.managed_by) == ("B10", "")
    # The new preview can be confirmed.
    response = admin.post(URL, {"action": "confirm", "token": admin.session[SESSION_KEY]["token"]})
    assert response.status_code == 302
    assert Instance.objects.get(name="orders-amr").sku == "B20"


def test_a_file_that_is_not_terraform_output_is_refused(admin):
    response = admin.post(URL, upload("plan.json", b"not json"))
    assert response.status_code == 400
    assert b"not JSON" in response.content and b"Nothing imported" in response.content
    assert SESSION_KEY not in admin.session


def test_a_file_over_the_limit_is_refused(admin, settings):
    settings.ADVISOR_MAX_DESIGN_BYTES = 2048
    response = admin.post(URL, upload("plan_acr_premium_geo.json"))
    assert response.status_code == 413
    assert b"ADVISOR_MAX_DESIGN_BYTES" in response.content
    assert not Instance.objects.exists()


def test_the_environment_of_untagged_instances_comes_from_the_form(admin):
    doc = json.loads((DATA / "plan_amr_b20.json").read_text())
    doc["resource_changes"][0]["change"]["after"]["tags"] = {}
    body = json.dumps(doc).encode()
    html = admin.post(URL, upload("untagged.json", body)).content.decode()
    assert 'data-status="incomplete"' in html and "no `environment` tag" in html
    html = admin.post(URL, upload("untagged.json", body, environment="test")).content.decode()
    assert 'id="change-orders-amr" data-status="create"' in html
    admin.post(URL, {"action": "confirm", "token": admin.session[SESSION_KEY]["token"]})
    assert Instance.objects.get(name="orders-amr").environment == "test"


# Instances an import keeps ----------------------------------------------------------------------


@pytest.fixture
def imported(admin):
    admin.post(URL, upload("plan_acr_premium_geo.json"))
    admin.post(URL, {"action": "confirm", "token": admin.session[SESSION_KEY]["token"]})
    return Instance.objects.get(name="catalog-cache-weu")


def _form_data(instance: Instance, **changes) -> dict:
    form = InstanceForm(instance=instance)
    data = {}
    for name in form.fields:
        value = form.initial.get(name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def test_the_instance_page_names_its_source(admin, imported):
    html = admin.get(imported.get_absolute_url()).content.decode()
    assert 'id="fact-managed"' in html
    assert 'Terraform <code class="small">azurerm_redis_cache.primary</code>' in html
    assert "import_terraform" in html


def test_the_form_warns_which_fields_an_import_sets_again(admin, imported):
    html = admin.get(reverse("instance_edit", args=[imported.name])).content.decode()
    assert 'id="managed-warning"' in html
    assert "<code>azurerm_redis_cache.primary</code>" in html
    assert "<code>sku</code> P3" in html and "<code>eviction_policy</code> allkeys-lru" in html


def test_saving_a_declared_field_warns_that_the_next_import_sets_it_back(admin, imported):
    data = _form_data(imported, eviction_policy="noeviction")
    response = admin.post(reverse("instance_edit", args=[imported.name]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    messages = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert ("success", "Instance catalog-cache-weu saved.") in messages
    warnings = [text for level, text in messages if level == "warning"]
    assert warnings == [
        "catalog-cache-weu is declared in Terraform (azurerm_redis_cache.primary): the next "
        "import_terraform sets eviction_policy to allkeys-lru again. Change it there to keep it."
    ]
    assert Instance.objects.get(pk=imported.pk).eviction_policy == "noeviction"  # the edit stands


def test_saving_an_undeclared_field_warns_of_nothing(admin, imported):
    data = _form_data(imported, connection_url="rediss://catalog-cache-weu.redis.cache.windows.net:6380")
    data["connection_credential"] = "env:CATALOG_REDIS_KEY"
    response = admin.post(reverse("instance_edit", args=[imported.name]), data)
    assert response.status_code == 302
    levels = [m.level_tag for m in get_messages(response.wsgi_request)]
    assert "success" in levels and "warning" not in levels


def test_an_instance_kept_by_hand_has_no_warning(admin):
    entry = {
        "name": "handmade",
        "environment": "dev",
        "product": "redis-oss",
        "memory_gb": 1,
        "clustering": "none",
        "high_availability": False,
        "persistence": "none",
        "geo_replication": False,
        "eviction_policy": "noeviction",
        "auth": "none",
        "tls": False,
        "public_network_access": False,
    }
    row = writes.instance_save(instance=None, data=core.Instance.model_validate(entry), actor=None)
    assert b"managed-warning" not in admin.get(reverse("instance_edit", args=[row.name])).content
    assert b"fact-managed" not in admin.get(row.get_absolute_url()).content
