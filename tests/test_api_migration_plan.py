"""GET /api/instances/{name}/migration-plan: the same plan as the command and the page."""

import datetime as dt

import pytest

from advisor.core.migration import migration_plan
from advisor.findings import clock, planning
from advisor.registry.models import Instance

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)
URL = "/api/instances/{}/migration-plan"


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def test_it_returns_the_contract_json(client, viewer, demo_registry):
    client.force_login(viewer)
    response = client.get(URL.format("prod-legacy-cache"))
    assert response.status_code == 200, response.content
    data = response.json()
    plan = planning.instance_migration_plan(Instance.objects.get(name="prod-legacy-cache"), today=TODAY)
    assert data == plan.to_dict()
    assert set(data) == {
        "instance", "retires", "days_left", "source", "need", "target",
        "alternatives", "data_migration", "blockers", "steps",
    }  # fmt: skip
    assert data["days_left"] == 125
    assert client.get(URL.format("prod-legacy-cache") + "?today=2027-04-02").json()["days_left"] == -2


def test_it_is_the_core_plan_of_the_registry(client, viewer, demo_registry):
    from advisor.findings.services import instance_design

    client.force_login(viewer)
    legacy = Instance.objects.get(name="prod-legacy-cache")
    expected = migration_plan(instance_design(legacy), legacy.name, today=TODAY).to_dict()
    assert client.get(URL.format("prod-legacy-cache")).json() == expected


def test_unknown_instances_are_404_and_non_retiring_ones_409(client, viewer, demo_registry):
    client.force_login(viewer)
    response = client.get(URL.format("no-such-cache"))
    assert response.status_code == 404 and response.json() == {"detail": "no instance named 'no-such-cache'"}
    response = client.get(URL.format("prod-catalog-cache"))
    assert response.status_code == 409
    assert "not retiring: nothing to migrate" in response.json()["detail"]


def test_it_needs_authentication(client, demo_registry):
    response = client.get(URL.format("prod-legacy-cache"))
    assert response.status_code == 401


def test_it_is_documented(client, viewer):
    client.force_login(viewer)
    spec = client.get("/api/openapi.json").json()
    operation = spec["paths"]["/api/instances/{name}/migration-plan"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "404", "409"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {
        "instance", "retires", "days_left", "source", "need", "target",
        "alternatives", "data_migration", "blockers", "steps",
    }  # fmt: skip
