"""Workflows over the registry: converting rows to the domain core's design and importing designs.

The registry and a design file are two views of the same thing; these functions are the only
place that translates between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models, transaction
from django.utils import timezone
from pydantic import ValidationError

from advisor.audit.services import audit_changes
from advisor.core import design as core
from advisor.core import platform

from . import hooks
from .models import Instance, Namespace, Policy, Team, Waiver


def team_data(team: Team) -> dict:
    """The team as a design-file mapping."""
    return {"name": team.name, "contact": team.contact or None}


def team_to_core(team: Team) -> core.Team:
    return core.Team.model_validate(team_data(team))


def instance_data(inst: Instance) -> dict:
    """The instance as a design-file mapping (what core.Instance validates)."""
    connection = None
    if inst.connection_url or inst.connection_credential:
        connection = {"url": inst.connection_url, "credential": inst.connection_credential or "none"}
    memory_gb = inst.memory_gb
    if memory_gb is not None and float(memory_gb).is_integer():
        memory_gb = int(memory_gb)  # 12, as the design file writes it, rather than 12.0
    return {
        "name": inst.name,
        "environment": inst.environment,
        "product": inst.product,
        "tier": inst.tier or None,
        "sku": inst.sku or None,
        # None (a form left it empty) lets the core fill it from the sku, or say it is required.
        "memory_gb": memory_gb,
        "shards": inst.shards,
        "clustering": inst.clustering,
        "high_availability": inst.high_availability,
        "persistence": inst.persistence,
        "geo_replication": inst.geo_replication,
        "eviction_policy": inst.eviction_policy,
        "auth": inst.auth,
        "tls": inst.tls,
        "public_network_access": inst.public_network_access,
        "region": inst.region or None,
        "connection": connection,
    }


def memory_follows_sku(inst: Instance) -> bool:
    """Whether the stored memory is what the stored sku gives, so that another sku brings its own."""
    # The row has the fields the catalog reads (product, tier, sku, clustering, shards).
    expected = platform.sku_memory_gb(inst) if inst.sku else None
    return expected is not None and inst.memory_gb is not None and abs(expected - inst.memory_gb) < 1e-6


def instance_to_core(inst: Instance) -> core.Instance:
    return core.Instance.model_validate(instance_data(inst))


def instance_values(data: core.Instance) -> dict:
    """The instance's columns from its design entry (the inverse of `instance_data`)."""
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


_NAMESPACE_COLUMNS = (
    "id", "name", "team__name", "instance__name", "pattern", "classification", "data_type", "ttl_mode",
    "ttl_seconds", "ttl_jitter_seconds", "value_bytes_typical", "value_bytes_max", "cardinality", "ops_reads",
    "ops_writes", "data_classification", "contains", "negative_cache", "source_of_truth", "description",
)  # fmt: skip


def namespace_data(ns: Namespace, *, multi_key_with: list[str] | None = None) -> dict:
    """The namespace as a design-file mapping (what core.Namespace validates)."""
    if multi_key_with is None:
        multi_key_with = [n.name for n in ns.multi_key_with.all()]
    row = {column: getattr(ns, column) for column in _NAMESPACE_COLUMNS if "__" not in column}
    row["team__name"], row["instance__name"] = ns.team.name, ns.instance.name
    return _namespace_entry(row, multi_key_with)


def namespace_to_core(ns: Namespace) -> core.Namespace:
    return core.Namespace.model_validate(namespace_data(ns))


def namespace_values(data: core.Namespace) -> dict:
    """The namespace's own columns from its design entry (the inverse of `namespace_data`);
    team, instance and multi_key_with are references, resolved by the caller."""
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


def _namespace_entry(r: dict, multi_key_with: list[str]) -> dict:
    return {
        "name": r["name"],
        "team": r["team__name"],
        "instance": r["instance__name"],
        "pattern": r["pattern"],
        "classification": r["classification"],
        "data_type": r["data_type"],
        "ttl": {
            "mode": r["ttl_mode"],
            "seconds": r["ttl_seconds"],
            "jitter_seconds": r["ttl_jitter_seconds"],
        },
        "value_bytes": {"typical": r["value_bytes_typical"], "max": r["value_bytes_max"]},
        "cardinality": r["cardinality"],
        "ops_per_sec": {"reads": r["ops_reads"], "writes": r["ops_writes"]},
        "data_classification": r["data_classification"],
        "contains": list(r["contains"] or []),
        "negative_cache": r["negative_cache"],
        "source_of_truth": r["source_of_truth"] or None,
        "multi_key_with": sorted(multi_key_with),
        "description": r["description"],
    }


def namespace_entries(namespaces: models.QuerySet[Namespace] | None = None) -> list[dict]:
    """These namespaces (every one by default) as design-file mappings in name order, in two
    queries however many there are (the registry may hold 10,000)."""
    selected = Namespace.objects.all() if namespaces is None else namespaces
    through = Namespace.multi_key_with.through.objects.values_list("from_namespace_id", "to_namespace__name")
    if namespaces is not None:
        through = through.filter(from_namespace__in=selected.values("pk"))
    partners: dict[int, list[str]] = {}
    for ns_id, other in through:
        partners.setdefault(ns_id, []).append(other)
    rows = selected.order_by("name").values(*_NAMESPACE_COLUMNS)
    return [_namespace_entry(r, partners.get(r["id"], [])) for r in rows]


def registry_design() -> core.Design:
    """The whole registry as a design, in the canonical (name) order."""
    teams = [team_to_core(t) for t in Team.objects.order_by("name")]
    instances = [instance_to_core(i) for i in Instance.objects.order_by("name")]
    namespaces = [core.Namespace.model_validate(entry) for entry in namespace_entries()]
    policy = Policy.objects.filter(pk=1).first()
    core_policy = (
        core.Policy(disable=policy.disable, severity=policy.severity, thresholds=policy.thresholds)
        if policy
        else core.Policy()
    )
    # A waiver whose target was deleted (say, in the admin) covers nothing: leave it out rather
    # than make the whole registry unreadable.
    existing = {f"namespace:{n.name}" for n in namespaces} | {f"instance:{i.name}" for i in instances}
    waivers = [
        core.Waiver(
            rule=w.rule,
            target=w.target,
            reason=w.reason,
            expires=w.expires,
            approved_by=w.approved_by or "unknown",
        )
        for w in Waiver.objects.order_by("rule", "target")
        if w.target in existing
    ]
    # Rows reference each other through foreign keys, so the design-wide reference check (which
    # dumps the whole design) would only repeat what the database guarantees.
    return core.Design.model_validate(
        {
            "version": 1,
            "teams": teams,
            "instances": instances,
            "namespaces": namespaces,
            "policy": core_policy,
            "waivers": waivers,
        },
        context={"_references_checked": True},
    )


def waivers_follow_rename(*, kind: str, old_name: str, new_name: str) -> None:
    """Waivers name their target: a renamed namespace or instance keeps its waivers, and a new
    row that later takes the old name does not inherit them."""
    if old_name and old_name != new_name:
        Waiver.objects.filter(target=f"{kind}:{old_name}").update(target=f"{kind}:{new_name}")


# Audit records ---------------------------------------------------------------------------------
# The audit trail knows no app: it stores the dicts these build. They are design-file entries, so
# before and after read like the design file a reviewer already knows.


def waiver_data(waiver: Waiver) -> dict:
    return {
        "rule": waiver.rule,
        "target": waiver.target,
        "reason": waiver.reason,
        "expires": waiver.expires.isoformat()
        if hasattr(waiver.expires, "isoformat")
        else str(waiver.expires),
        "approved_by": waiver.approved_by,
    }


def row_record(row: Team | Instance | Namespace | Waiver) -> dict:
    """What the audit trail records of a registry row, before or after a change."""
    if isinstance(row, Namespace):
        return namespace_data(row)
    if isinstance(row, Instance):
        return instance_data(row)
    if isinstance(row, Team):
        # Membership is audited too, though it is not part of a design file.
        return {**team_data(row), "members": sorted(u.get_username() for u in row.members.all())}
    if isinstance(row, Waiver):
        return waiver_data(row)
    raise TypeError(f"no audit record for {type(row).__name__}")


def row_kind(row: models.Model) -> str:
    """The audit trail's object type of a registry row: team, instance, namespace, waiver, policy."""
    return type(row).__name__.lower()


def row_label(row: models.Model) -> str:
    """The audit trail's object name of a registry row."""
    return f"{row.rule} on {row.target}" if isinstance(row, Waiver) else row.name


# An import names its rows by the hundred or the thousand: up to this many, they are read with
# IN lists; beyond it, the whole table is read and filtered here (no database's limit on the
# parameters of one statement is reached either way).
_IN_LIST_MAX = 900


def _named(queryset: models.QuerySet, names, *, field: str = "name") -> list:
    """The rows of `queryset` whose `field` is one of `names`, in the queryset's order."""
    names = set(names)
    if len(names) <= _IN_LIST_MAX:
        return list(queryset.filter(**{f"{field}__in": names}))
    return [row for row in queryset if getattr(row, field) in names]


def _named_records(design: core.Design) -> list[tuple[str, str, dict]]:
    """(kind, label, audit record) of each registry row the design names, as it is now: teams,
    instances and namespaces by name, then waivers in the design's order. Read in bulk, a
    fixed number of queries however large the design."""
    records = [
        ("team", t.name, row_record(t))
        for t in _named(Team.objects.prefetch_related("members"), (t.name for t in design.teams))
    ]
    records += [
        ("instance", i.name, row_record(i))
        for i in _named(Instance.objects.all(), (i.name for i in design.instances))
    ]
    names = {n.name for n in design.namespaces}
    selected = Namespace.objects.filter(name__in=names) if len(names) <= _IN_LIST_MAX else None
    # A namespace's record is its design entry (row_record, namespace_data), here for all at once.
    records += [("namespace", e["name"], e) for e in namespace_entries(selected) if e["name"] in names]
    waivers = {
        (w.rule, w.target): w
        for w in _named(Waiver.objects.all(), (w.target for w in design.waivers), field="target")
    }
    for w in design.waivers:
        row = waivers.get((w.rule, w.target))
        if row is not None:
            records.append(("waiver", row_label(row), row_record(row)))
    return records


def import_snapshot(design: core.Design) -> dict[tuple[str, str], dict]:
    """The registry rows a design file is about to touch, as they are now."""
    return {(kind, label): record for kind, label, record in _named_records(design)}


def audit_import(*, actor, design: core.Design, before: dict[tuple[str, str], dict]) -> int:
    """One event per row a design import created or changed; returns how many."""
    return audit_changes(
        actor=actor,
        action="import",
        changes=(
            (kind, label, before.get((kind, label)), after) for kind, label, after in _named_records(design)
        ),
    )


def design_export(fmt: str = "yaml") -> str:
    return core.dump_design(registry_design(), fmt)


_KINDS = ("teams", "instances", "namespaces", "waivers")


@dataclass
class ImportSummary:
    """How many entries of each kind an import created, changed, and found as they already were."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    # Whether what follows a committed change (the stored findings) followed this import: None
    # while the caller's transaction is still open (see hooks.registry_changed).
    followed: bool | None = None

    def __str__(self) -> str:
        parts = [
            f"{kind}: {self.created[kind]} created, {self.updated[kind]} updated, {self.unchanged[kind]} unchanged"
            for kind in _KINDS
        ]
        return "; ".join(parts)

    def tally(self, kind: str, statuses: dict) -> None:
        """Count each entry of `kind` as its status says: created, updated or unchanged."""
        for status in statuses.values():
            getattr(self, status)[kind] += 1


def _differs(row, column: str, value) -> bool:
    if isinstance(value, models.Model):  # a reference: compare keys, without loading the row
        return getattr(row, f"{column}_id") != value.pk
    return getattr(row, column) != value


def _upsert_all(model, entries: list[tuple[dict, dict]], *, on_change: dict | None = None):
    """Each row named by an entry's lookup, holding the entry's values, written in bulk: a dict
    of the rows by lookup and a dict of "created", "updated" or "unchanged" by lookup.

    `entries` are (lookup, values). A row that already holds every value is not written at all;
    `on_change` are values set only when something else changes (who last imported a waiver).
    """
    on_change = on_change or {}
    keys = [tuple(lookup.values()) for lookup, _ in entries]
    if not entries:
        return {}, {}
    fields = list(entries[0][0])
    if len(fields) == 1:
        existing = {(getattr(r, fields[0]),): r for r in _named(model.objects.all(), (k[0] for k in keys))}
    else:  # waivers: (rule, target), found by target
        found = _named(model.objects.all(), (k[1] for k in keys), field=fields[1])
        existing = {tuple(getattr(r, f) for f in fields): r for r in found}
    stamped = any(f.name == "updated_at" for f in model._meta.concrete_fields)
    now = timezone.now()
    rows, statuses, created, updated, columns = {}, {}, [], [], set()
    for key, (lookup, values) in zip(keys, entries, strict=True):
        row = existing.get(key)
        if row is None:
            row = model(**lookup, **values, **on_change)
            created.append(row)
            statuses[key] = "created"
        elif any(_differs(row, column, value) for column, value in values.items()):
            for column, value in {**values, **on_change}.items():
                setattr(row, column, value)
            if stamped:
                row.updated_at = now  # what save() would do (auto_now)
            updated.append(row)
            columns.update(values, on_change)
            statuses[key] = "updated"
        else:
            statuses[key] = "unchanged"
        rows[key] = row
    model.objects.bulk_create(created, batch_size=500)
    if any(row.pk is None for row in created):  # a database that does not return the new keys
        fresh = {
            tuple(getattr(r, f) for f in fields): r.pk
            for r in _named(model.objects.all(), (k[-1] for k in keys), field=fields[-1])
        }
        for row in created:
            row.pk = fresh[tuple(getattr(row, f) for f in fields)]
    if updated:
        _update_rows(model, updated, [*sorted(columns), *(["updated_at"] if stamped else [])])
    return rows, statuses


def _update_rows(model, rows: list, columns: list[str]) -> None:
    """Write `columns` of each row, as one statement run for all rows (executemany). Django's
    bulk_update writes a CASE per column over each batch instead, which took 28 s for 10,000
    namespaces, and an UPDATE through the ORM per row 3 s."""
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(column) for column in columns]
    # Table and column names from the model; every value is a bound parameter.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(model._meta.pk.column),
    )
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def design_import(design: core.Design, *, user=None) -> ImportSummary:
    """Upsert everything in a validated design by name, in one transaction.

    Things the file does not mention are left alone: a file can describe one team's part. An
    entry that matches its row exactly leaves the row untouched and is counted unchanged.
    Raises DesignError (and changes nothing) when the merged registry would be inconsistent.
    Once committed, the stored findings follow the import, as after any other write.
    """
    with transaction.atomic():
        summary = _design_import(design, user=user)
    summary.followed = hooks.registry_changed()
    return summary


def _design_import(design: core.Design, *, user) -> ImportSummary:
    summary = ImportSummary()
    audit_before = import_snapshot(design)
    teams, statuses = _upsert_all(
        Team, [({"name": t.name}, {"contact": t.contact or ""}) for t in design.teams]
    )
    summary.tally("teams", statuses)
    entries = []
    for i in design.instances:
        values = instance_values(i)
        entries.append(({"name": values.pop("name")}, values))
    instances, statuses = _upsert_all(Instance, entries)
    summary.tally("instances", statuses)
    # A namespace may name a team or instance that already exists in the registry but not in the file.
    team_of = lambda name: teams.get((name,)) or Team.objects.get(name=name)  # noqa: E731
    instance_of = lambda name: instances.get((name,)) or Instance.objects.get(name=name)  # noqa: E731
    entries = []
    for ns in design.namespaces:
        values = {**namespace_values(ns), "team": team_of(ns.team), "instance": instance_of(ns.instance)}
        entries.append(({"name": values.pop("name")}, values))
    namespaces, statuses = _upsert_all(Namespace, entries)
    for name in _partners_set(design, {key[0]: row.pk for key, row in namespaces.items()}):
        if statuses[(name,)] == "unchanged":
            statuses[(name,)] = "updated"  # its multi_key_with alone changed
    summary.tally("namespaces", statuses)
    # Every scannable instance gets the default nightly scan unless it has a schedule already.
    for inst in instances.values():
        hooks.instance_saved(inst, old_name=inst.name)
    # A file without a policy section keeps the registry's policy.
    if "policy" in design.model_fields_set:
        _replace_policy(design.policy)
    _, statuses = _upsert_all(
        Waiver,
        [
            (
                {"rule": w.rule, "target": w.target},
                {"reason": w.reason, "expires": w.expires, "approved_by": w.approved_by},
            )
            for w in design.waivers
        ],
        on_change={"created_by": user},
    )
    summary.tally("waivers", statuses)
    audit_import(actor=user, design=design, before=audit_before)
    # Each file is valid alone; the registry it merges into must stay valid as a whole (say, a
    # namespace moved to another instance while another one lists it in multi_key_with).
    where = "the registry after this import"
    try:
        merged = registry_design()
    except ValidationError:
        # A row the file does not mention is invalid (changed around the forms, or stored before
        # a bound existed): the import must not be what makes the findings unreadable.
        raise core.DesignError(_invalid_rows(), filename=where) from None
    core.check_references(merged, filename=where)
    return summary


def _partners_set(design: core.Design, ids: dict[str, int]) -> list[str]:
    """Give each namespace of the design its multi_key_with, in bulk; the names of those whose
    partners changed."""
    through = Namespace.multi_key_with.through
    wanted_names = {name for ns in design.namespaces for name in ns.multi_key_with}
    missing = wanted_names - ids.keys()
    if missing:  # a design built in code may name partners that only the registry holds
        ids = {**ids, **{row.name: row.pk for row in _named(Namespace.objects.all(), missing)}}
        if missing - ids.keys():
            raise Namespace.DoesNotExist(f"no namespace named {sorted(missing - ids.keys())[0]!r}")
    pairs = through.objects.values_list("from_namespace_id", "to_namespace_id")
    from_ids = set(ids[ns.name] for ns in design.namespaces)
    now: dict[int, set[int]] = {}
    listed = pairs.filter(from_namespace_id__in=from_ids) if len(from_ids) <= _IN_LIST_MAX else pairs
    for from_id, to_id in listed:
        if from_id in from_ids:
            now.setdefault(from_id, set()).add(to_id)
    changed, rows = [], []
    for ns in design.namespaces:
        own, wanted = ids[ns.name], {ids[name] for name in ns.multi_key_with}
        if wanted != now.get(own, set()):
            changed.append(ns.name)
            rows += [through(from_namespace_id=own, to_namespace_id=other) for other in sorted(wanted)]
    changed_ids = [ids[name] for name in changed]
    for start in range(0, len(changed_ids), _IN_LIST_MAX):
        through.objects.filter(from_namespace_id__in=changed_ids[start : start + _IN_LIST_MAX]).delete()
    through.objects.bulk_create(rows, batch_size=500)
    return changed


def _invalid_rows() -> list[core.DesignIssue]:
    """Each registry row the design model refuses, located by its kind and name."""
    issues = []
    rows = [
        *(("team", t.name, lambda t=t: team_to_core(t)) for t in Team.objects.order_by("name")),
        *(("instance", i.name, lambda i=i: instance_to_core(i)) for i in Instance.objects.order_by("name")),
        *(
            ("namespace", entry["name"], lambda entry=entry: core.Namespace.model_validate(entry))
            for entry in namespace_entries()
        ),
    ]
    for kind, name, convert in rows:
        try:
            convert()
        except ValidationError as e:
            for err in e.errors(include_url=False, include_input=False):
                loc = ".".join(str(step) for step in err["loc"])
                issues.append(
                    core.DesignIssue(loc=f"{kind} '{name}'" + (f": {loc}" if loc else ""), message=err["msg"])
                )
    return issues or [core.DesignIssue(loc="", message="the policy or a waiver in the registry is invalid")]


def _replace_policy(core_policy: core.Policy) -> None:
    policy = Policy.current()
    policy.disable = list(core_policy.disable)
    policy.severity = {k: str(getattr(v, "value", v)) for k, v in core_policy.severity.items()}
    policy.thresholds = dict(core_policy.thresholds)
    policy.save()
