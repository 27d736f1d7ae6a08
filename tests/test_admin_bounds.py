"""The Django admin edits registry rows without the design model: the same bounds hold there."""

import pytest

from advisor.core import design as core
from advisor.registry.models import Instance, Policy

pytestmark = pytest.mark.django_db


def _instance_form(client, **changes):
    inst = Instance.objects.get(name="prod-catalog-cache")
    response = client.get(f"/admin/registry/instance/{inst.pk}/change/")
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    data.update(changes)
    return client.post(f"/admin/registry/instance/{inst.pk}/change/", data)


def test_the_admin_refuses_a_memory_no_cache_has(client, admin_user, demo_registry):
    client.force_login(admin_user)
    before = Instance.objects.get(name="prod-catalog-cache").memory_gb
    response = _instance_form(client, memory_gb="1e308")
    assert response.status_code == 200  # the form again, with the error
    assert f"{core.MAX_MEMORY_GB:,}".replace(",", "") in response.content.decode().replace(",", "")
    assert Instance.objects.get(name="prod-catalog-cache").memory_gb == before


def test_the_admin_refuses_policy_thresholds_the_design_file_would(client, admin_user, demo_registry):
    client.force_login(admin_user)
    Policy.current()
    response = client.post(
        "/admin/registry/policy/1/change/",
        {"disable": "[]", "severity": "{}", "thresholds": '{"INS007.reserved_share": 5}'},
    )
    assert response.status_code == 200
    assert "reserved_share" in response.content.decode()
    assert Policy.current().thresholds.get("INS007.reserved_share") != 5
