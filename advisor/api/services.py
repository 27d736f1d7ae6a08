"""Saving and deleting single registry rows from validated design entries.

The core models have already judged each entry on its own. What is left needs the database:
references to other rows by name, what the columns can hold, unique names, and rows that other
rows still depend on. Problems with the entry are 422s located in the request body; clashes with
other rows are `Conflict`s (409).
"""

import difflib

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from ninja.errors import ValidationError

from advisor.core import design as core
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import waivers_follow_rename
from advisor.scans.schedules import schedule_ensure

from .schemas import body_error


class Conflict(Exception):
    """The request clashes with other rows: a taken name, or rows that still depend on this one."""


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
    """The row a body field refers to by name; a located 422 when there is none."""
    row = model.objects.filter(name=name).first()
    if row is None:
        raise ValidationError([_reference_error(model, name, (loc,))])
    return row


def _reference_error(model: type[models.Model], name: str, loc: tuple) -> dict:
    message = f"no {model._meta.verbose_name} named '{name}'"
    close = difflib.get_close_matches(name, model.objects.values_list("name", flat=True), n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    return body_error(loc, message, "reference")


# Teams ----------------------------------------------------------------------------------------


@transaction.atomic
def team_save(*, team: Team | None, data: core.Team) -> Team:
    team = team or Team()
    team.name, team.contact = data.name, data.contact or ""
    _raise_if_any(_storage_errors(team, paths={}))
    _ensure_name_free(team)
    team.save()
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    _ensure_unused(team, team.namespaces.all(), f"team '{team.name}' still owns", "move or delete them first")
    team.delete()


# Instances ------------------------------------------------------------------------------------


@transaction.atomic
def instance_save(*, instance: Instance | None, data: core.Instance) -> Instance:
    instance = instance or Instance()
    old_name = instance.name
    for field, value in _instance_values(data).items():
        setattr(instance, field, value)
    _raise_if_any(_storage_errors(instance, paths=_INSTANCE_PATHS))
    _ensure_name_free(instance)
    instance.save()
    waivers_follow_rename(kind="instance", old_name=old_name, new_name=instance.name)
    schedule_ensure(instance)
    return instance


@transaction.atomic
def instance_delete(*, instance: Instance) -> None:
    _ensure_unused(
        instance,
        instance.namespaces.all(),
        f"instance '{instance.name}' still hosts",
        "move or delete them first",
    )
    _ensure_unwaived(instance, "instance")
    instance.delete()


def _instance_values(data: core.Instance) -> dict:
    return {
        "name": data.name,
        "environment": data.environment,
        "product": data.product,
        "tier": data.tier or "",
        "sku": data.sku or "",
        "memory_gb": data.memory_gb,
        "shards": data.shards,
        "clustering": data.clustering,
        "high_availability": data.high_availability,
        "persistence": data.persistence,
        "geo_replication": data.geo_replication,
        "eviction_policy": data.eviction_policy,
        "auth": data.auth,
        "tls": data.tls,
        "public_network_access": data.public_network_access,
        "region": data.region or "",
        "connection_url": data.connection.url if data.connection else "",
        "connection_credential": data.connection.credential if data.connection else "",
    }


# Namespaces -----------------------------------------------------------------------------------


@transaction.atomic
def namespace_save(*, namespace: Namespace | None, data: core.Namespace, team: Team) -> Namespace:
    """Create or replace a namespace. `team` is `data.team`, resolved (and permitted) by the caller."""
    namespace = namespace or Namespace()
    old_name = namespace.name
    errors = []
    instance = Instance.objects.filter(name=data.instance).first()
    if instance is None:
        errors.append(_reference_error(Instance, data.instance, ("instance",)))
    partners, partner_errors = _partners(namespace, data, instance)
    errors += partner_errors
    if instance is not None and namespace.pk:
        errors += _listed_by_elsewhere(namespace, instance)

    for field, value in _namespace_values(data).items():
        setattr(namespace, field, value)
    namespace.team = team
    if instance is not None:
        namespace.instance = instance
    exclude = [] if instance is not None else ["instance"]
    errors += _storage_errors(namespace, paths=_NAMESPACE_PATHS, exclude=exclude)
    _raise_if_any(errors)

    _ensure_name_free(namespace)
    namespace.save()
    namespace.multi_key_with.set(partners)
    waivers_follow_rename(kind="namespace", old_name=old_name, new_name=namespace.name)
    return namespace


@transaction.atomic
def namespace_delete(*, namespace: Namespace) -> None:
    _ensure_unused(
        namespace,
        Namespace.objects.filter(multi_key_with=namespace).exclude(pk=namespace.pk),
        f"namespace '{namespace.name}' is in multi_key_with of",
        "remove it there first",
    )
    _ensure_unwaived(namespace, "namespace")
    namespace.delete()


def _namespace_values(data: core.Namespace) -> dict:
    return {
        "name": data.name,
        "pattern": data.pattern,
        "classification": data.classification,
        "data_type": data.data_type,
        "ttl_mode": data.ttl.mode,
        "ttl_seconds": data.ttl.seconds,
        "ttl_jitter_seconds": data.ttl.jitter_seconds,
        "value_bytes_typical": data.value_bytes.typical,
        "value_bytes_max": data.value_bytes.max,
        "cardinality": data.cardinality,
        "ops_reads": data.ops_per_sec.reads,
        "ops_writes": data.ops_per_sec.writes,
        "data_classification": data.data_classification,
        "contains": list(data.contains),
        "negative_cache": data.negative_cache,
        "source_of_truth": data.source_of_truth or "",
        "description": data.description,
    }


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
            errors.append(body_error(loc, "names the namespace itself", "reference"))
        elif other is None:
            errors.append(_reference_error(Namespace, name, loc))
        elif name in seen:
            errors.append(body_error(loc, f"lists '{name}' twice", "reference"))
        elif instance is not None and other.instance_id != instance.pk:
            errors.append(
                body_error(
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
        body_error(
            ("instance",),
            f"'{other.name}' lists this namespace in multi_key_with and is on instance "
            f"'{other.instance.name}': multi-key commands need both namespaces on one instance",
            "reference",
        )
        for other in others
    ]


# Shared ---------------------------------------------------------------------------------------


def _storage_errors(row: models.Model, *, paths: dict, exclude: list | None = None) -> list[dict]:
    """What the columns cannot hold (lengths, integer ranges of this database, NUL characters).

    The core models accept any size; the database does not, and an overflow must be a 422,
    not a 500.
    """
    errors = []
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname, None)
        if isinstance(value, str) and "\x00" in value:
            loc = paths.get(field.name, (field.name,))
            errors.append(body_error(loc, "must not contain NUL characters", "null_characters"))
    try:
        row.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        for name, field_errors in exc.error_dict.items():
            loc = paths.get(name, (name,))
            for err in field_errors:
                errors.extend(body_error(loc, msg, err.code or "invalid") for msg in err.messages)
    return errors


def _raise_if_any(errors: list[dict]) -> None:
    if errors:
        raise ValidationError(errors)


def _ensure_name_free(row: models.Model) -> None:
    model = type(row)
    if model.objects.filter(name=row.name).exclude(pk=row.pk).exists():
        raise Conflict(f"a {model._meta.verbose_name} named '{row.name}' already exists")


def _ensure_unused(row: models.Model, dependants, what: str, remedy: str) -> None:
    names = list(dependants.order_by("name").values_list("name", flat=True)[: _LISTED + 1])
    if not names:
        return
    count = dependants.count()
    shown = ", ".join(names[:_LISTED]) + (", …" if count > _LISTED else "")
    noun = "namespace" if count == 1 else "namespaces"
    raise Conflict(f"{what} {count} {noun} ({shown}); {remedy}")


def _ensure_unwaived(row: models.Model, kind: str) -> None:
    # Waivers name their target; deleting it would leave waivers that no design file accepts.
    rules = list(Waiver.objects.filter(target=f"{kind}:{row.name}").values_list("rule", flat=True))
    if rules:
        raise Conflict(f"{kind} '{row.name}' has waivers ({', '.join(rules)}); delete the waivers first")
