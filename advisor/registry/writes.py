"""Every change to a team, an instance, a namespace or a waiver: one service per write, for the
pages, the API and the admin alike (the design import is `services.design_import`).

Each service is one transaction holding the checks the domain needs (references by name, what
the columns can hold, unique names, rows that still depend on the one deleted), the row, its side
effects (waivers follow a rename; an instance's scan schedule, which the scans app keeps through
`hooks.instance_saved` and `hooks.instance_deleting`) and its audit record with the values before
and after. Once that has committed, `hooks.registry_changed` lets the stored findings follow the
change; a failure there is logged and never undoes or hides the committed change.

The registry imports neither findings nor scans (they import the registry): `hooks` is how they
take part, with functions they register at startup and these services call at named points.

Callers check permissions first (advisor.registry.permissions) and hand over design entries the
core models have already validated. Problems with an entry raise `Invalid`, located in the entry;
clashes with other rows raise `Conflict`.
"""

from __future__ import annotations

import difflib

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.utils import timezone

from advisor.audit.services import audit_change, audit_delete
from advisor.core import design as core

from . import hooks
from .declared import ImportPlan, InstanceChange, plan_import
from .models import Instance, Namespace, Team, Waiver
from .services import (
    instance_values,
    namespace_values,
    row_kind,
    row_label,
    row_record,
    waivers_follow_rename,
)


class Conflict(Exception):
    """The write clashes with other rows: a taken name, or rows that still depend on this one."""


class Invalid(Exception):
    """The entry has problems only the database can see; `errors` are located in the entry:
    [{"loc": ("ttl", "seconds"), "msg": "...", "type": "..."}]."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


# Where a model column sits in the design-file entry.
_NAMESPACE_PATHS = {
    "ttl_mode": ("ttl", "mode"),
    "ttl_seconds": ("ttl", "seconds"),
    "ttl_jitter_seconds": ("ttl", "jitter_seconds"),
    "value_bytes_typical": ("value_bytes", "typical"),
    "value_bytes_max": ("value_bytes", "max"),
    "ops_reads": ("ops_per_sec", "reads"),
    "ops_writes": ("ops_per_sec", "writes"),
}
_INSTANCE_PATHS = {
    "connection_url": ("connection", "url"),
    "connection_credential": ("connection", "credential"),
}
_LISTED = 5


def named(model: type[models.Model], name: str, *, loc: str):
    """The row an entry refers to by name; `Invalid` located at `loc` when there is none."""
    row = model.objects.filter(name=name).first()
    if row is None:
        raise Invalid([_reference_error(model, name, (loc,))])
    return row


# Teams ----------------------------------------------------------------------------------------


def team_save(*, team: Team | None, data: core.Team, actor) -> Team:
    """Create (`team` None) or replace a team."""
    with transaction.atomic():
        row, before = _current(Team, team)
        row.name, row.contact = data.name, data.contact or ""
        _raise_if_any(_storage_errors(row, paths={}))
        _ensure_name_free(row)
        row.save()
        audit_change(actor=actor, obj_type="team", obj_name=row.name, before=before, after=row_record(row))
    hooks.registry_changed()
    return row


def team_delete(*, team: Team, actor) -> None:
    _delete(team, actor)


# Instances ------------------------------------------------------------------------------------


def instance_save(*, instance: Instance | None, data: core.Instance, actor) -> Instance:
    """Create (`instance` None) or replace an instance; a renamed one keeps its waivers and scan
    schedule, and a scannable one gets the default schedule."""
    with transaction.atomic():
        row, before = _current(Instance, instance)
        old_name = row.name
        for column, value in instance_values(data).items():
            setattr(row, column, value)
        _raise_if_any(_storage_errors(row, paths=_INSTANCE_PATHS))
        _ensure_name_free(row)
        row.save()
        waivers_follow_rename(kind="instance", old_name=old_name, new_name=row.name)
        hooks.instance_saved(row, old_name=old_name)
        audit_change(
            actor=actor, obj_type="instance", obj_name=row.name, before=before, after=row_record(row)
        )
    hooks.registry_changed()
    return row


def declared_import(
    *, reading, actor, environment: str | None = None, expected: str | None = None
) -> ImportPlan:
    """Upsert the instances a Terraform plan or state, or Azure Resource Manager, declares
    (`reading`, advisor.core.declared), by name, in one transaction; see `declared.plan_import`
    for what changes. Each written instance is marked as managed by its source, with the values
    the source declared, and audited once ("import"). `expected` is the digest of a preview:
    `Conflict` when the registry has changed since, so that what is confirmed is what was shown.
    """
    with transaction.atomic():
        plan = plan_import(reading, environment=environment)
        if expected is not None and plan.digest() != expected:
            raise Conflict("the registry has changed since the preview; review the changes again")
        at = timezone.now()
        for change in plan.changes:
            if change.writes:
                _instance_import(change, actor=actor, at=at)
    plan.followed = hooks.registry_changed()
    return plan


def _instance_import(change: InstanceChange, *, actor, at) -> Instance:
    row, before = _current(Instance, Instance.objects.filter(name=change.name).first())
    if before is not None:
        before = {**before, **_managed_record(row)}
    old_name = row.name
    for column, value in instance_values(change.entry).items():
        setattr(row, column, value)
    row.managed_by, row.managed_source = change.declared.source, change.declared.address
    row.managed_values, row.managed_at = change.managed_values, at
    _raise_if_any(_storage_errors(row, paths=_INSTANCE_PATHS))
    _ensure_name_free(row)
    row.save()
    hooks.instance_saved(row, old_name=old_name)
    after = {**row_record(row), **_managed_record(row)}
    audit_change(
        actor=actor, obj_type="instance", obj_name=row.name, before=before, after=after, action="import"
    )
    return row


def _managed_record(row: Instance) -> dict:
    return {"managed_by": row.managed_by, "managed_source": row.managed_source}


def instance_delete(*, instance: Instance, actor) -> None:
    """Delete an instance with its scan history and schedule, unless namespaces or waivers need it."""
    _delete(instance, actor)


# Namespaces -----------------------------------------------------------------------------------


def namespace_save(*, namespace: Namespace | None, data: core.Namespace, team: Team, actor) -> Namespace:
    """Create (`namespace` None) or replace a namespace. `team` is `data.team`, resolved (and
    permitted) by the caller."""
    with transaction.atomic():
        row, before = _current(Namespace, namespace)
        old_name = row.name
        errors = []
        instance = Instance.objects.filter(name=data.instance).first()
        if instance is None:
            errors.append(_reference_error(Instance, data.instance, ("instance",)))
        partners, partner_errors = _partners(row, data, instance)
        errors += partner_errors
        if instance is not None and row.pk:
            errors += _listed_by_elsewhere(row, instance)

        for column, value in namespace_values(data).items():
            setattr(row, column, value)
        row.team = team
        if instance is not None:
            row.instance = instance
        exclude = [] if instance is not None else ["instance"]
        errors += _storage_errors(row, paths=_NAMESPACE_PATHS, exclude=exclude)
        _raise_if_any(errors)

        _ensure_name_free(row)
        row.save()
        row.multi_key_with.set(partners)
        waivers_follow_rename(kind="namespace", old_name=old_name, new_name=row.name)
        audit_change(
            actor=actor, obj_type="namespace", obj_name=row.name, before=before, after=row_record(row)
        )
    hooks.registry_changed()
    return row


def namespace_delete(*, namespace: Namespace, actor) -> None:
    _delete(namespace, actor)


def _partners(namespace: Namespace, data: core.Namespace, instance: Instance | None):
    """The namespaces in `multi_key_with`, and the located problems with them.

    The same rules as for a design file: each exists, is listed once, is not the namespace
    itself, and lives on the same instance (multi-key commands cannot span instances).
    """
    rows = {
        ns.name: ns
        for ns in Namespace.objects.filter(name__in=data.multi_key_with).select_related("instance")
    }
    partners, errors, seen = [], [], set()
    for i, name in enumerate(data.multi_key_with):
        loc = ("multi_key_with", i)
        other = rows.get(name)
        if name == data.name or (other is not None and other.pk == namespace.pk):
            errors.append(_error(loc, "names the namespace itself", "reference"))
        elif other is None:
            errors.append(_reference_error(Namespace, name, loc))
        elif name in seen:
            errors.append(_error(loc, f"lists '{name}' twice", "reference"))
        elif instance is not None and other.instance_id != instance.pk:
            errors.append(
                _error(
                    loc,
                    f"'{name}' is on instance '{other.instance.name}', not '{instance.name}': "
                    "multi-key commands need both namespaces on one instance",
                    "reference",
                )
            )
        else:
            partners.append(other)
        seen.add(name)
    return partners, errors


def _listed_by_elsewhere(namespace: Namespace, instance: Instance) -> list[dict]:
    """Moving a namespace must not strand the namespaces that use it atomically."""
    others = (
        Namespace.objects.filter(multi_key_with=namespace)
        .exclude(pk=namespace.pk)
        .exclude(instance=instance)
        .select_related("instance")
    )
    return [
        _error(
            ("instance",),
            f"'{other.name}' lists this namespace in multi_key_with and is on instance "
            f"'{other.instance.name}': multi-key commands need both namespaces on one instance",
            "reference",
        )
        for other in others
    ]


# Waivers --------------------------------------------------------------------------------------


def waiver_save(
    *,
    waiver: Waiver | None,
    rule: str,
    target: str,
    reason: str,
    expires,
    approved_by: str,
    created_by,
    actor,
) -> Waiver:
    """Grant or renew a waiver; its audit record is written in the same transaction, and the
    stored findings follow once it has committed.

    With `waiver` None, the waiver of the same rule and target is renewed when there is one (one
    per pair, as in design files), else one is created; given, that row is replaced (the admin may
    change its rule or target). Callers check permissions and validate the values (WaiverForm,
    a waiver request); a rule and target another waiver already has raise `Conflict`.
    """
    with transaction.atomic():
        if waiver is None:
            waiver = Waiver.objects.filter(rule=rule, target=target).first()
        row, before = _current(Waiver, waiver)
        row.rule, row.target, row.reason, row.expires = rule, target, reason, expires
        row.approved_by, row.created_by = approved_by, created_by
        if Waiver.objects.filter(rule=rule, target=target).exclude(pk=row.pk).exists():
            raise Conflict(f"a waiver of {rule} on {target} already exists")
        row.save()
        audit_change(
            actor=actor, obj_type="waiver", obj_name=row_label(row), before=before, after=row_record(row)
        )
    hooks.registry_changed()
    return row


def waiver_delete(*, waiver: Waiver, actor) -> None:
    """Revoke a waiver: the finding it covered counts again once the findings follow."""
    with transaction.atomic():
        current, before = _current(Waiver, waiver)
        current.delete()
        audit_delete(actor=actor, obj_type="waiver", obj_name=row_label(current), before=before)
    hooks.registry_changed()


# Deleting -------------------------------------------------------------------------------------


def delete_blockers(row: Team | Instance | Namespace) -> list[str]:
    """Why `row` cannot be deleted now, one sentence per reason; empty when it can. Other apps
    add theirs through `hooks.delete_blockers` (scans: an instance with a scan queued or running)."""
    if isinstance(row, Team):
        return [*_team_blockers(row), *hooks.delete_blockers(row)]
    if isinstance(row, Instance):
        return [*_instance_blockers(row), *hooks.delete_blockers(row)]
    if isinstance(row, Namespace):
        return [*_namespace_blockers(row), *hooks.delete_blockers(row)]
    raise TypeError(f"{type(row).__name__} is not a registry row")


def _team_blockers(team: Team) -> list[str]:
    blockers = _dependants(
        team.namespaces.all(), f"team '{team.name}' still owns", "move or delete them first"
    )
    # Reviews and waiver requests are the team's review history, which is kept.
    reviews, requests = team.reviews.count(), team.waiver_requests.count()
    if reviews or requests:
        history = " and ".join(
            [
                *([f"{reviews} design review{'s' if reviews != 1 else ''}"] if reviews else []),
                *([f"{requests} waiver request{'s' if requests != 1 else ''}"] if requests else []),
            ]
        )
        blockers.append(f"team '{team.name}' has {history}, kept as its review history")
    return blockers


def _instance_blockers(instance: Instance) -> list[str]:
    return [
        *_dependants(
            instance.namespaces.all(), f"instance '{instance.name}' still hosts", "move or delete them first"
        ),
        *_waivers_of(instance, "instance"),
    ]


def _namespace_blockers(namespace: Namespace) -> list[str]:
    return [
        *_dependants(
            Namespace.objects.filter(multi_key_with=namespace).exclude(pk=namespace.pk),
            f"namespace '{namespace.name}' is in multi_key_with of",
            "remove it there first",
        ),
        *_waivers_of(namespace, "namespace"),
    ]


def _dependants(queryset, what: str, remedy: str) -> list[str]:
    names = list(queryset.order_by("name").values_list("name", flat=True)[: _LISTED + 1])
    if not names:
        return []
    count = queryset.count() if len(names) > _LISTED else len(names)
    shown = ", ".join(names[:_LISTED]) + (", …" if count > _LISTED else "")
    noun = "namespace" if count == 1 else "namespaces"
    return [f"{what} {count} {noun} ({shown}); {remedy}"]


def _waivers_of(row: models.Model, kind: str) -> list[str]:
    # Waivers name their target; deleting it would leave waivers that no design file accepts.
    rules = list(Waiver.objects.filter(target=f"{kind}:{row.name}").values_list("rule", flat=True))
    if not rules:
        return []
    return [f"{kind} '{row.name}' has waivers ({', '.join(rules)}); delete the waivers first"]


def _delete(row: Team | Instance | Namespace, actor) -> None:
    with transaction.atomic():
        current, before = _current(type(row), row)
        blockers = delete_blockers(current)
        if blockers:
            raise Conflict(". ".join(blockers))
        if isinstance(current, Instance):
            hooks.instance_deleting(current)
        current.delete()
        audit_delete(actor=actor, obj_type=row_kind(current), obj_name=row_label(current), before=before)
    hooks.registry_changed()


# Shared ---------------------------------------------------------------------------------------


def _current(model: type[models.Model], row: models.Model | None):
    """The row as stored (locked until the transaction ends) and its audit snapshot; a new,
    empty row and None when creating.

    Read again rather than trusted: a bound model form has already written its values into the
    object it was given, and the snapshot must be what was stored before this write.
    """
    if row is None or row.pk is None:
        return model(), None
    queryset = model.objects.select_for_update(of=("self",))
    if model is Namespace:
        queryset = queryset.select_related("team", "instance")
    current = queryset.get(pk=row.pk)
    return current, row_record(current)


def _error(loc: tuple, msg: str, type_: str) -> dict:
    return {"loc": tuple(loc), "msg": msg, "type": type_}


def _reference_error(model: type[models.Model], name: str, loc: tuple) -> dict:
    message = f"no {model._meta.verbose_name} named '{name}'"
    close = difflib.get_close_matches(name, model.objects.values_list("name", flat=True), n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    return _error(loc, message, "reference")


def _storage_errors(row: models.Model, *, paths: dict, exclude: list | None = None) -> list[dict]:
    """What the columns cannot hold (lengths, integer ranges of this database, NUL characters).

    The core models accept any size; the database does not, and an overflow must be refused
    with its place in the entry, not fail as an error of the server.
    """
    errors = []
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname, None)
        if isinstance(value, str) and "\x00" in value:
            loc = paths.get(field.name, (field.name,))
            errors.append(_error(loc, "must not contain NUL characters", "null_characters"))
    try:
        row.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        for name, field_errors in exc.error_dict.items():
            loc = paths.get(name, (name,))
            for err in field_errors:
                errors.extend(_error(loc, msg, err.code or "invalid") for msg in err.messages)
    return errors


def _raise_if_any(errors: list[dict]) -> None:
    if errors:
        raise Invalid(errors)


def _ensure_name_free(row: models.Model) -> None:
    model = type(row)
    if model.objects.filter(name=row.name).exclude(pk=row.pk).exists():
        raise Conflict(f"a {model._meta.verbose_name} named '{row.name}' already exists")
