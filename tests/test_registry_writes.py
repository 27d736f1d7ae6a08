"""The registry write services (advisor.registry.writes): each refusal, the audit record written
with the change, and all or nothing: a failure in any step of a service, a page save, an API
write or an import leaves the database and the audit trail as they were."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from advisor.audit.models import AuditEvent
from advisor.core import design as core
from advisor.core.design import load_design
from advisor.findings.models import DesignFinding
from advisor.findings.services import findings_refresh
from advisor.registry import writes
from advisor.registry.forms import InstanceForm, NamespaceForm
from advisor.registry.models import Instance, Namespace, Policy, Team, Waiver
from advisor.registry.services import design_export, instance_data, namespace_data
from advisor.scans.schedules import schedule_cron, schedule_get, schedule_set
from tests.test_permissions_matrix import _form_data

pytestmark = pytest.mark.django_db


class Boom(RuntimeError):
    pass


def _boom(*args, **kwargs):
    raise Boom("injected failure")


def _state() -> tuple:
    return (
        *(
            list(model.objects.order_by("pk").values())
            for model in (Team, Instance, Namespace, Waiver, Policy)
        ),
        list(Namespace.multi_key_with.through.objects.order_by("pk").values()),
        list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "obj_name")),
        list(PeriodicTask.objects.order_by("pk").values_list("name", "enabled")),
    )


def _namespace(of: str, /, **changes) -> core.Namespace:
    entry = namespace_data(Namespace.objects.get(name=of))
    return core.Namespace.model_validate({**entry, **changes})


def _instance(of: str, /, **changes) -> core.Instance:
    entry = instance_data(Instance.objects.get(name=of))
    return core.Instance.model_validate({**entry, **changes})


def _locs(exc: writes.Invalid) -> set[tuple]:
    return {tuple(e["loc"]) for e in exc.errors}


# Refusals ---------------------------------------------------------------------------------------


def test_a_namespace_needs_an_instance_that_exists(demo_registry, admin_user):
    catalog = Team.objects.get(name="catalog")
    entry = _namespace("product-miss", name="price-cache", instance="prod-catalog-cach")
    with pytest.raises(writes.Invalid) as exc:
        writes.namespace_save(namespace=None, data=entry, team=catalog, actor=admin_user)
    assert _locs(exc.value) == {("instance",)}
    assert "did you mean 'prod-catalog-cache'?" in exc.value.errors[0]["msg"]


@pytest.mark.parametrize(
    "partners, message",
    [
        (["product-miss"], "names the namespace itself"),
        (["product-mis"], "no namespace named 'product-mis'"),
        (["product-cache", "product-cache"], "lists 'product-cache' twice"),
        (["cart-items"], "'cart-items' is on instance 'prod-checkout-state', not 'prod-catalog-cache'"),
    ],
)
def test_multi_key_with_follows_the_design_file_rules(demo_registry, admin_user, partners, message):
    ns = Namespace.objects.get(name="product-miss")
    with pytest.raises(writes.Invalid) as exc:
        writes.namespace_save(
            namespace=ns,
            data=_namespace("product-miss", multi_key_with=partners),
            team=ns.team,
            actor=admin_user,
        )
    assert any(message in e["msg"] and e["loc"][0] == "multi_key_with" for e in exc.value.errors)


def test_moving_a_namespace_away_from_those_that_list_it_is_refused(demo_registry, admin_user):
    ns = Namespace.objects.get(name="cart-totals")
    entry = _namespace("cart-totals", instance="prod-catalog-cache", multi_key_with=[])
    with pytest.raises(writes.Invalid) as exc:
        writes.namespace_save(namespace=ns, data=entry, team=ns.team, actor=admin_user)
    assert _locs(exc.value) == {("instance",)}
    assert "'cart-items' lists this namespace in multi_key_with" in exc.value.errors[0]["msg"]


def test_what_a_column_cannot_hold_is_located_in_the_entry(demo_registry, admin_user):
    # The design model takes any contact text; the column holds an e-mail address.
    with pytest.raises(writes.Invalid) as exc:
        writes.team_save(team=None, data=core.Team(name="ok", contact="not-an-e-mail"), actor=admin_user)
    assert _locs(exc.value) == {("contact",)}
    assert not Team.objects.filter(name="ok").exists()


@pytest.mark.parametrize(
    "save",
    [
        lambda u: writes.team_save(team=None, data=core.Team(name="catalog"), actor=u),
        lambda u: writes.instance_save(instance=None, data=_instance("dev-shared-cache"), actor=u),
        lambda u: writes.namespace_save(
            namespace=Namespace.objects.get(name="product-miss"),
            data=_namespace("product-miss", name="product-cache"),
            team=Team.objects.get(name="catalog"),
            actor=u,
        ),
    ],
    ids=["team", "instance", "namespace"],
)
def test_a_taken_name_is_a_conflict(demo_registry, admin_user, save):
    before = _state()
    with pytest.raises(writes.Conflict, match="already exists"):
        save(admin_user)
    assert _state() == before


@pytest.mark.parametrize(
    "kind, name, reason",
    [
        ("team", "identity", "team 'identity' still owns 4 namespaces"),
        ("instance", "prod-legacy-cache", "instance 'prod-legacy-cache' still hosts 3 namespaces"),
        ("instance", "dev-shared-cache", "instance 'dev-shared-cache' still hosts 2 namespaces"),
        (
            "namespace",
            "cart-items",
            "namespace 'cart-items' is in multi_key_with of 1 namespace (cart-totals)",
        ),
        ("namespace", "search-results", "namespace 'search-results' has waivers (TTL001)"),
    ],
)
def test_a_delete_is_refused_while_something_depends_on_the_row(
    demo_registry, admin_user, kind, name, reason
):
    model = {"team": Team, "instance": Instance, "namespace": Namespace}[kind]
    row = model.objects.get(name=name)
    assert any(reason in blocker for blocker in writes.delete_blockers(row))
    before = _state()
    with pytest.raises(writes.Conflict) as exc:
        getattr(writes, f"{kind}_delete")(**{kind: row}, actor=admin_user)
    assert reason in str(exc.value)
    assert _state() == before


def test_several_reasons_are_all_given(demo_registry, admin_user):
    row = Instance.objects.get(name="dev-shared-cache")
    blockers = writes.delete_blockers(row)
    assert len(blockers) == 2 and "waivers (INS004)" in blockers[1]
    with pytest.raises(writes.Conflict) as exc:
        writes.instance_delete(instance=row, actor=admin_user)
    assert str(exc.value) == ". ".join(blockers)


def test_a_team_with_reviews_or_waiver_requests_is_kept(demo_registry, admin_user):
    from advisor.reviews.models import Review, WaiverRequest

    team = Team.objects.create(name="retired")
    assert writes.delete_blockers(team) == []
    Review.objects.create(team=team, number=1, content_hash="0" * 64)
    WaiverRequest.objects.create(
        team=team, rule="TTL001", target="namespace:x", reason="r", expires="2030-01-01"
    )
    assert writes.delete_blockers(team) == [
        "team 'retired' has 1 design review and 1 waiver request, kept as its review history"
    ]


# The audit record, written with the change ------------------------------------------------------------


def test_each_write_records_who_changed_what_before_and_after(demo_registry, admin_user):
    catalog = Team.objects.get(name="catalog")
    ns = writes.namespace_save(
        namespace=None, data=_namespace("product-miss", name="price-cache", pattern="prod:catalog:price:v9:<id:int>"),
        team=catalog, actor=admin_user,
    )  # fmt: skip
    ns = writes.namespace_save(
        namespace=ns, data=_namespace("price-cache", cardinality=7), team=catalog, actor=admin_user
    )
    writes.namespace_save(namespace=ns, data=_namespace("price-cache"), team=catalog, actor=admin_user)
    writes.namespace_delete(namespace=ns, actor=admin_user)
    events = list(AuditEvent.objects.filter(obj_type="namespace", obj_name="price-cache").order_by("pk"))
    # The save that changed nothing is not in the trail.
    assert [e.action for e in events] == ["create", "update", "delete"]
    assert all(e.actor == admin_user for e in events)
    assert events[0].before is None and events[0].after["pattern"] == "prod:catalog:price:v9:<id:int>"
    assert [c for c in events[1].changes] == [("cardinality", 20000, 7)]
    assert events[2].before["cardinality"] == 7 and events[2].after is None


def test_the_snapshot_before_is_what_was_stored_not_what_a_form_wrote_into_the_object(
    demo_registry, admin_user
):
    ns = Namespace.objects.get(name="product-miss")
    form = NamespaceForm(_form_data(NamespaceForm, ns, cardinality="99"), instance=ns)
    assert form.is_valid(), form.errors
    assert ns.cardinality == 99  # the bound form has written into the object already
    writes.namespace_save(namespace=ns, data=form.entry, team=ns.team, actor=admin_user)
    (event,) = AuditEvent.objects.filter(obj_name="product-miss", action="update")
    assert event.changes == [("cardinality", 20000, 99)]


def test_a_renamed_instance_keeps_its_waivers_and_its_schedule(demo_registry, admin_user):
    instance = Instance.objects.get(name="dev-shared-cache")
    schedule_set(instance, cron="5 4 * * 1", enabled=False)
    tasks = PeriodicTask.objects.count()
    writes.instance_save(
        instance=instance, data=_instance("dev-shared-cache", name="dev-sandbox"), actor=admin_user
    )
    renamed = Instance.objects.get(name="dev-sandbox")
    assert Waiver.objects.filter(target="instance:dev-sandbox", rule="INS004").exists()
    task = schedule_get(renamed)
    assert schedule_cron(task) == "5 4 * * 1" and not task.enabled
    assert json.loads(task.args) == [renamed.pk]
    assert PeriodicTask.objects.count() == tasks


def test_a_new_scannable_instance_gets_the_nightly_schedule(demo_registry, admin_user):
    entry = _instance("dev-shared-cache", name="dev-new-cache")
    created = writes.instance_save(instance=None, data=entry, actor=admin_user)
    assert schedule_get(created) is not None


# Findings follow once the change is committed ------------------------------------------------------


def test_the_findings_follow_a_committed_write(demo_registry, admin_user):
    findings_refresh()
    assert DesignFinding.objects.filter(target="namespace:recommendations").exists()
    writes.namespace_delete(namespace=Namespace.objects.get(name="recommendations"), actor=admin_user)
    assert not DesignFinding.objects.filter(target="namespace:recommendations").exists()


def test_inside_a_larger_transaction_the_findings_wait_for_its_commit(
    demo_registry, admin_user, django_capture_on_commit_callbacks
):
    findings_refresh()
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            writes.namespace_delete(namespace=Namespace.objects.get(name="recommendations"), actor=admin_user)
        # Not yet: the caller's transaction may still fail.
        assert DesignFinding.objects.filter(target="namespace:recommendations").exists()
    assert len(callbacks) == 1
    callbacks[0]()
    assert not DesignFinding.objects.filter(target="namespace:recommendations").exists()


def test_a_rolled_back_caller_leaves_no_refresh_behind(
    demo_registry, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            writes.namespace_delete(namespace=Namespace.objects.get(name="recommendations"), actor=admin_user)
            raise Boom("the caller fails after the write")
    assert callbacks == []
    assert Namespace.objects.filter(name="recommendations").exists()


# All or nothing: a failure in any step ------------------------------------------------------------

SERVICE_STEPS = [
    # (the step that fails, the write)
    (
        "advisor.registry.writes.audit_change",
        lambda u: writes.team_save(
            team=Team.objects.get(name="catalog"), data=core.Team(name="catalog-2"), actor=u
        ),
    ),
    (
        "advisor.registry.writes.waivers_follow_rename",
        lambda u: writes.namespace_save(
            namespace=Namespace.objects.get(name="search-results"),
            data=_namespace("search-results", name="search-hits"),
            team=Team.objects.get(name="catalog"),
            actor=u,
        ),
    ),
    (
        "advisor.registry.writes.audit_change",
        lambda u: writes.namespace_save(
            namespace=Namespace.objects.get(name="cart-items"),
            data=_namespace("cart-items", multi_key_with=[]),
            team=Team.objects.get(name="checkout"),
            actor=u,
        ),
    ),
    (
        "advisor.scans.schedules.schedule_set",
        lambda u: writes.instance_save(
            instance=Instance.objects.get(name="prod-catalog-cache"),
            data=_instance("prod-catalog-cache", name="prod-catalog-cache-2"),
            actor=u,
        ),
    ),
    (
        "advisor.registry.writes.waivers_follow_rename",
        lambda u: writes.instance_save(
            instance=Instance.objects.get(name="dev-shared-cache"),
            data=_instance("dev-shared-cache", name="dev-sandbox"),
            actor=u,
        ),
    ),
    (
        "advisor.scans.schedules.schedule_ensure",
        lambda u: writes.instance_save(
            instance=None, data=_instance("dev-shared-cache", name="dev-x"), actor=u
        ),
    ),
    (
        "advisor.registry.writes.audit_delete",
        lambda u: writes.namespace_delete(namespace=Namespace.objects.get(name="product-miss"), actor=u),
    ),
    (
        "advisor.registry.writes.audit_delete",
        lambda u: writes.instance_delete(
            instance=Instance.objects.get(name="staging-loyalty-cache"), actor=u
        ),
    ),
    (
        "advisor.registry.writes.audit_delete",
        lambda u: writes.team_delete(team=Team.objects.get(name="empty"), actor=u),
    ),
]


@pytest.mark.parametrize(
    "step, write", SERVICE_STEPS, ids=[f"{i}-{s.rsplit('.', 1)[1]}" for i, (s, _) in enumerate(SERVICE_STEPS)]
)
def test_a_service_that_fails_in_any_step_changes_nothing(
    demo_registry, admin_user, monkeypatch, step, write
):
    Team.objects.get_or_create(name="empty")
    schedule_set(Instance.objects.get(name="prod-catalog-cache"), cron="0 3 * * *")
    before = _state()
    monkeypatch.setattr(step, _boom)
    with pytest.raises(Boom):
        write(admin_user)
    assert _state() == before


@pytest.fixture
def pages(client, admin_user, demo_registry):
    client.force_login(admin_user)
    client.raise_request_exception = False  # an unexpected error answers 500, as under gunicorn
    return client


PAGE_STEPS = [
    # (the step that fails, method, URL, form data)
    (
        "advisor.registry.writes.waivers_follow_rename",
        "/namespaces/search-results/edit/",
        lambda: _form_data(NamespaceForm, Namespace.objects.get(name="search-results"), name="search-hits"),
    ),
    (
        "advisor.registry.writes.audit_change",
        "/namespaces/new/",
        lambda: _form_data(
            NamespaceForm,
            Namespace.objects.get(name="product-miss"),
            name="price-cache",
            pattern="prod:catalog:price:v9:<id:int>",
        ),
    ),
    (
        "advisor.scans.schedules.schedule_ensure",
        "/instances/new/",
        lambda: _form_data(InstanceForm, Instance.objects.get(name="dev-shared-cache"), name="dev-new-cache"),
    ),
    (
        "advisor.registry.writes.audit_change",
        "/instances/dev-shared-cache/edit/",
        lambda: _form_data(InstanceForm, Instance.objects.get(name="dev-shared-cache"), memory_gb="3"),
    ),
    ("advisor.registry.writes.audit_delete", "/namespaces/product-miss/delete/", dict),
    ("advisor.registry.writes.audit_delete", "/instances/staging-loyalty-cache/delete/", dict),
    ("advisor.registry.writes.audit_delete", "/teams/empty/delete/", dict),
]


@pytest.mark.parametrize("step, url, data", PAGE_STEPS, ids=[p[1] for p in PAGE_STEPS])
def test_a_page_save_that_fails_in_any_step_changes_nothing(pages, monkeypatch, step, url, data):
    Team.objects.create(name="empty")
    body = data()
    before = _state()
    monkeypatch.setattr(step, _boom)
    response = pages.post(url, body)
    assert response.status_code == 500
    assert _state() == before


API_STEPS = [
    ("advisor.registry.writes.waivers_follow_rename", "patch", "/api/namespaces/search-results", {"name": "search-hits"}),
    ("advisor.scans.schedules.schedule_set", "patch", "/api/instances/prod-catalog-cache", {"name": "prod-catalog-cache-2"}),
    ("advisor.registry.writes.audit_delete", "delete", "/api/instances/staging-loyalty-cache", None),
    ("advisor.registry.writes.audit_delete", "delete", "/api/teams/empty", None),
    ("advisor.registry.writes.audit_change", "post", "/api/teams", {"name": "search"}),
]  # fmt: skip


@pytest.mark.parametrize("step, method, url, body", API_STEPS, ids=[f"{m} {u}" for _, m, u, _ in API_STEPS])
def test_an_api_write_that_fails_in_any_step_changes_nothing(pages, monkeypatch, step, method, url, body):
    Team.objects.create(name="empty")
    schedule_set(Instance.objects.get(name="prod-catalog-cache"), cron="0 3 * * *")
    before = _state()
    monkeypatch.setattr(step, _boom)
    payload = json.dumps(body) if body is not None else ""
    response = getattr(pages, method)(url, payload, content_type="application/json")
    assert response.status_code == 500
    assert _state() == before


IMPORT_STEPS = [
    "advisor.registry.services.audit_import",
    "advisor.registry.services.import_snapshot",
    "advisor.registry.services._replace_policy",
    "advisor.scans.schedules.schedule_ensure",
    "advisor.core.design.check_references",
]


@pytest.mark.parametrize("step", IMPORT_STEPS)
def test_an_import_that_fails_in_any_step_changes_nothing(pages, monkeypatch, step):
    design = load_design(design_export().replace("cardinality: 500000", "cardinality: 600000", 1))
    text = core.dump_design(design.model_copy(update={"teams": [*design.teams, core.Team(name="search")]}))
    before = _state()
    monkeypatch.setattr(step, _boom)
    response = pages.post("/designs/", {"file": SimpleUploadedFile("d.yaml", text.encode())})
    assert response.status_code == 500
    assert _state() == before
    assert not Team.objects.filter(name="search").exists()
