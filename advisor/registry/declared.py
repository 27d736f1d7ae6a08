"""Instances from where they are declared: what an import from Terraform or Azure would do to the
registry, field by field. Reads only; `writes.declared_import` writes.

The domain core reads the document (advisor.core.declared: a `Reading` of partial design entries
and unknown fields). Here each declared instance meets its registry row, by name: the declared
fields replace the row's, the unknown ones keep the row's values (a new instance needs them
declared), and the design model validates the result like any other instance entry. The scan
credential is never declared: a new instance gets `entra-id` when Entra ID is how it is reached,
else none, and an existing one keeps its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from advisor.core import design as core
from advisor.core.declared import DECLARED_FIELDS, DeclaredInstance, Reading

from .models import Instance
from .services import instance_data, instance_values, memory_follows_sku

SOURCE_LABELS = {"terraform": "Terraform", "azure": "Azure Resource Manager"}

# The design field a column holds, where the names differ.
_FIELD_OF_COLUMN = {"connection_url": "connection.url", "connection_credential": "connection.credential"}
_COLUMN_OF_FIELD = {f: c for c, f in _FIELD_OF_COLUMN.items()}
# Shown for a new instance and compared for an existing one, in the design file's order: the
# fields a declaration may carry (the core's list), then the scan credential, which none declares.
_COLUMNS = (*(_COLUMN_OF_FIELD.get(f, f) for f in DECLARED_FIELDS), "connection_credential")


def field_name(column: str) -> str:
    """The design-file name of an instance column: `connection_url` is `connection.url`."""
    return _FIELD_OF_COLUMN.get(column, column)


def column_name(field_: str) -> str:
    return _COLUMN_OF_FIELD.get(field_, field_)


@dataclass(frozen=True)
class FieldChange:
    field: str  # the design-file name
    before: Any
    after: Any


@dataclass
class InstanceChange:
    """What an import does to one declared instance.

    status: `create`, `update`, `unchanged`; `incomplete` (not written: `errors` say what the
    source leaves out that a new instance needs); `deleted` or `forgotten` (the source deletes it
    or stops managing it: reported, the registry row is left alone).
    """

    declared: DeclaredInstance
    status: str
    fields: list[FieldChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    entry: core.Instance | None = None
    # The columns the source declares, with their values: the row's managed_values once written.
    managed_values: dict[str, Any] = field(default_factory=dict)
    # (managed_by, managed_source) before and after, when the import changes them.
    marker: tuple[tuple[str, str], tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        return self.declared.name

    @property
    def unknown(self) -> dict[str, str]:
        return self.declared.unknown

    @property
    def writes(self) -> bool:
        return self.status in ("create", "update")


@dataclass
class ImportPlan:
    reading: Reading
    changes: list[InstanceChange]
    # After a real import: whether the stored findings followed (see hooks.registry_changed).
    followed: bool | None = None

    @property
    def source(self) -> str:
        return self.reading.source

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.reading.source]

    def counts(self) -> dict[str, int]:
        """created / updated / unchanged / incomplete / deleted (by the source) / ignored
        resources / unknown fields."""
        statuses = [c.status for c in self.changes]
        return {
            "created": statuses.count("create"),
            "updated": statuses.count("update"),
            "unchanged": statuses.count("unchanged"),
            "incomplete": statuses.count("incomplete"),
            "deleted": statuses.count("deleted") + statuses.count("forgotten"),
            "ignored": sum(self.reading.ignored.values()),
            "unknown_fields": sum(len(c.unknown) for c in self.changes if c.declared.imported),
        }

    def summary(self) -> str:
        c = self.counts()
        parts = [
            f"{c['created']} created",
            f"{c['updated']} updated",
            f"{c['unchanged']} unchanged",
            f"{c['incomplete']} incomplete (not imported)",
            f"{c['deleted']} deleted in the source (not imported)",
            f"{c['ignored']} other resource{'s' if c['ignored'] != 1 else ''} ignored",
            f"{c['unknown_fields']} unknown field{'s' if c['unknown_fields'] != 1 else ''}",
        ]
        return ", ".join(parts)

    def digest(self) -> str:
        """A fingerprint of what the import would write, to confirm that a preview still holds."""
        payload = [
            [c.name, c.status, [[f.field, _plain(f.before), _plain(f.after)] for f in c.fields], c.marker]
            for c in self.changes
        ]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def lines(self) -> list[str]:
        """The plan as text, instance by instance and field by field (the command's output)."""
        out = []
        for c in self.changes:
            where = f"{c.declared.address}"
            if c.status == "create":
                out.append(f"create {c.name} ({where})")
            elif c.status == "update":
                out.append(f"update {c.name} ({where})")
            elif c.status == "unchanged":
                out.append(f"unchanged {c.name} ({where})")
            elif c.status == "incomplete":
                out.append(f"incomplete {c.name} ({where}): not imported")
            elif c.status == "deleted":
                out.append(
                    f"deleted {c.name} ({where}): the source deletes it; the registry keeps it until you delete it there"
                )
            else:
                out.append(
                    f"forgotten {c.name} ({where}): no longer managed by the source; the registry keeps it"
                )
            for f in c.fields:
                if c.status == "create":
                    out.append(f"    {f.field}: {_show(f.after)}")
                else:
                    out.append(f"    {f.field}: {_show(f.before)} -> {_show(f.after)}")
            if c.marker is not None and c.status != "create":
                (by, src), (new_by, new_src) = c.marker
                was = f"{SOURCE_LABELS.get(by, by)} {src}" if by else "by hand"
                out.append(f"    managed: {was} -> {SOURCE_LABELS[new_by]} {new_src}")
            for message in c.errors:
                out.append(f"    ! {message}")
            if c.declared.imported:
                said = {message.split(":", 1)[0] for message in c.errors}
                for name, why in c.unknown.items():
                    if name not in said:
                        out.append(f"    ? {name}: unknown ({why})")
            for note in c.declared.notes:
                out.append(f"    note: {note}")
        for problem in self.reading.problems:
            out.append(f"problem: {problem}")
        if self.reading.ignored:
            ignored = ", ".join(f"{kind} ({n})" for kind, n in self.reading.ignored.items())
            out.append(f"ignored: {ignored}")
        return out


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_plain(value))


def plan_import(reading: Reading, *, environment: str | None = None) -> ImportPlan:
    """What importing `reading` would do to the registry. `environment` is given to new instances
    whose resource has no `environment` tag."""
    names = [d.name for d in reading.instances]
    rows = {row.name: row for row in Instance.objects.filter(name__in=names)}
    return ImportPlan(reading, [_change(d, rows.get(d.name), environment) for d in reading.instances])


def _change(declared: DeclaredInstance, row: Instance | None, environment: str | None) -> InstanceChange:
    if not declared.imported:
        return InstanceChange(declared, "deleted" if declared.action == "delete" else "forgotten")
    base = instance_data(row) if row is not None else {"name": declared.name}
    merged, managed_fields = _merge(base, declared, row, environment)
    errors = []
    if not merged.get("environment"):
        errors.append(
            "environment: the resource has no `environment` tag (prod, staging, dev or test); "
            "give one with --environment or on the upload page"
        )
    try:
        entry = core.Instance.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in err["loc"])
            if loc == "environment" and errors:
                continue
            if loc in declared.unknown:
                errors.append(f"{loc}: required, and unknown in the source ({declared.unknown[loc]})")
            else:
                errors.append(f"{loc}: {err['msg']}" if loc else err["msg"])
        entry = None
    if errors:
        return InstanceChange(declared, "incomplete", errors=errors)
    values = instance_values(entry)
    managed_values = {column_name(f): values[column_name(f)] for f in managed_fields}
    marker_after = (declared.source, declared.address)
    if row is None:
        fields = [
            FieldChange(field_name(c), None, values[c]) for c in _COLUMNS if values.get(c) not in (None, "")
        ]
        return InstanceChange(declared, "create", fields, entry=entry, managed_values=managed_values)
    fields = [
        FieldChange(field_name(c), getattr(row, c), values[c])
        for c in _COLUMNS
        if getattr(row, c) != values[c]
    ]
    marker_before = (row.managed_by, row.managed_source)
    marker = (marker_before, marker_after) if marker_before != marker_after else None
    changed = bool(fields) or marker is not None or (row.managed_values or {}) != managed_values
    return InstanceChange(
        declared,
        "update" if changed else "unchanged",
        fields,
        entry=entry,
        managed_values=managed_values,
        marker=marker,
    )


def _merge(base: dict, declared: DeclaredInstance, row: Instance | None, environment: str | None):
    """The row's design entry with the declared fields over it; and the fields declared."""
    merged = dict(base)
    declared_fields = []
    for key, value in declared.entry.items():
        if key in ("name", "connection"):
            continue
        merged[key] = value
        declared_fields.append(key)
    if not merged.get("environment") and environment:
        merged["environment"] = environment
    if "memory_gb" not in declared.entry and "sku" in declared.entry and row is not None:
        # A new size without a published memory keeps the row's memory only when it is not the
        # old size's: the old size's memory would be a wrong figure for the new one.
        if declared.entry["sku"] != (row.sku or None) and memory_follows_sku(row):
            merged["memory_gb"] = None
    url = declared.declared("connection.url")
    if url:
        current = base.get("connection")
        if current:
            credential = current["credential"]  # the registry's own: never declared
        else:
            # Entra ID: the worker's own identity; access keys: none until someone names the
            # variable that holds one (env:VAR), which later imports keep.
            credential = "entra-id" if merged.get("auth") == "entra-id" else "none"
        merged["connection"] = {"url": url, "credential": credential}
        declared_fields.append("connection.url")
    return merged, declared_fields


# Instances kept by an import --------------------------------------------------------------------


def managed_notice(instance: Instance) -> dict | None:
    """What the pages say of an instance an import keeps: its source and the fields the next
    import sets, with the values it declared; None for an instance kept by hand."""
    if not instance.managed_by:
        return None
    declared = instance.managed_values or {}
    return {
        "by": instance.managed_by,
        "label": SOURCE_LABELS.get(instance.managed_by, instance.managed_by),
        "command": "import_terraform" if instance.managed_by == "terraform" else "discover_azure",
        "source": instance.managed_source,
        "at": instance.managed_at,
        "fields": [(field_name(c), _show(declared[c])) for c in _COLUMNS if c in declared],
    }


def overwrite_warning(instance: Instance) -> str | None:
    """After an edit: the values on the row that the next import sets back, in a sentence; None
    when there are none (or the instance is kept by hand)."""
    notice = managed_notice(instance)
    if notice is None:
        return None
    current = {column: getattr(instance, column) for column in instance.managed_values or {}}
    overwrites = instance.managed_overwrites(current)
    if not overwrites:
        return None
    back = ", ".join(f"{field_name(c)} to {_show(overwrites[c][0])}" for c in _COLUMNS if c in overwrites)
    return (
        f"{instance.name} is declared in {notice['label']} ({notice['source']}): the next "
        f"{notice['command']} sets {back} again. Change it there to keep it."
    )
