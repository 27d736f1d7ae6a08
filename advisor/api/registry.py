"""/api/teams, /api/instances, /api/namespaces: the registry as design-file entries.

Reads need any authenticated user. Namespaces are written by members of the owning team and by
administrators; teams and instances by administrators only (advisor.registry.permissions).
PUT replaces the whole entry (omitted optional fields take their design-file defaults); PATCH is
a JSON Merge Patch (RFC 7396) over the current entry. Renaming is a PUT or PATCH with a new name.
An instance's `memory_gb` taken from its `sku` follows the sku: a PATCH of the sku alone brings the
new size's memory.
"""

import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from ninja import Body, Query, Router, Status
from ninja.pagination import paginate

from advisor.core import design as core
from advisor.core import platform
from advisor.registry import permissions, writes
from advisor.registry.models import Instance, Namespace, Team
from advisor.registry.services import instance_data, memory_follows_sku, namespace_data, team_data

from .schemas import (
    Entries,
    InstanceFilters,
    InstanceOut,
    NamespaceFilters,
    NamespaceOut,
    Pagination,
    TeamOut,
    errors,
    merge_patch,
    validate_entry,
)

router = Router()

_LIST_ERRORS = errors(401, 422)
_READ_ERRORS = errors(401, 404)
_CREATE_ERRORS = errors(400, 401, 403, 409, 413, 422)
_WRITE_ERRORS = errors(400, 401, 403, 404, 409, 413, 422)
_DELETE_ERRORS = errors(401, 403, 404, 409)
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_MERGE_PATCH = Body(
    ...,
    description="A JSON Merge Patch (RFC 7396) over the entry: only the keys to change; null removes a key.",
)


def _get(queryset_or_model, name: str):
    queryset = getattr(queryset_or_model, "objects", queryset_or_model)
    kind = queryset.model._meta.verbose_name
    # Not a name we could have stored: no query (PostgreSQL refuses NUL characters, for one).
    row = queryset.filter(name=name).first() if _NAME_RE.fullmatch(name) else None
    if row is None:
        raise Http404(f"no {kind} named '{name}'")
    return row


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _namespaces():
    return Namespace.objects.select_related("team", "instance").prefetch_related("multi_key_with")


# Teams ----------------------------------------------------------------------------------------

_ADMINS_TEAMS = "Only administrators create, change or delete teams."


@router.get("/teams", response={200: list[TeamOut], **_LIST_ERRORS}, tags=["teams"])
@paginate(Pagination)
def team_list(request):
    return Entries(Team.objects.order_by("name"), team_data)


@router.get("/teams/{name}", response={200: TeamOut, **_READ_ERRORS}, tags=["teams"])
def team_get(request, name: str):
    return team_data(_get(Team, name))


@router.post("/teams", response={201: TeamOut, **_CREATE_ERRORS}, tags=["teams"])
def team_create(request, payload: core.Team):
    _require(permissions.can_manage_teams(request.auth), _ADMINS_TEAMS)
    team = writes.team_save(team=None, data=payload, actor=request.auth)
    return Status(201, team_data(team))


@router.put("/teams/{name}", response={200: TeamOut, **_WRITE_ERRORS}, tags=["teams"])
def team_update(request, name: str, payload: core.Team):
    team = _get(Team, name)
    _require(permissions.can_manage_teams(request.auth), _ADMINS_TEAMS)
    team = writes.team_save(team=team, data=payload, actor=request.auth)
    return team_data(team)


@router.patch("/teams/{name}", response={200: TeamOut, **_WRITE_ERRORS}, tags=["teams"])
def team_patch(request, name: str, payload: dict[str, Any] = _MERGE_PATCH):
    team = _get(Team, name)
    _require(permissions.can_manage_teams(request.auth), _ADMINS_TEAMS)
    data = validate_entry(core.Team, merge_patch(team_data(team), payload))
    team = writes.team_save(team=team, data=data, actor=request.auth)
    return team_data(team)


@router.delete("/teams/{name}", response={204: None, **_DELETE_ERRORS}, tags=["teams"])
def team_delete(request, name: str):
    team = _get(Team, name)
    _require(permissions.can_manage_teams(request.auth), _ADMINS_TEAMS)
    writes.team_delete(team=team, actor=request.auth)
    return Status(204, None)


# Instances ------------------------------------------------------------------------------------

_ADMINS_INSTANCES = "Only administrators create, change or delete instances."


@router.get("/instances", response={200: list[InstanceOut], **_LIST_ERRORS}, tags=["instances"])
@paginate(Pagination)
def instance_list(request, filters: Query[InstanceFilters]):
    instances = Instance.objects.order_by("name")
    if filters.environment:
        instances = instances.filter(environment=filters.environment)
    if filters.product:
        instances = instances.filter(product=filters.product)
    return Entries(instances, instance_data)


@router.get("/instances/{name}", response={200: InstanceOut, **_READ_ERRORS}, tags=["instances"])
def instance_get(request, name: str):
    return instance_data(_get(Instance, name))


@router.post("/instances", response={201: InstanceOut, **_CREATE_ERRORS}, tags=["instances"])
def instance_create(request, payload: core.Instance):
    _require(permissions.can_edit_instances(request.auth), _ADMINS_INSTANCES)
    instance = writes.instance_save(instance=None, data=payload, actor=request.auth)
    return Status(201, instance_data(instance))


@router.put("/instances/{name}", response={200: InstanceOut, **_WRITE_ERRORS}, tags=["instances"])
def instance_update(request, name: str, payload: core.Instance):
    instance = _get(Instance, name)
    _require(permissions.can_edit_instances(request.auth), _ADMINS_INSTANCES)
    instance = writes.instance_save(instance=instance, data=payload, actor=request.auth)
    return instance_data(instance)


@router.patch("/instances/{name}", response={200: InstanceOut, **_WRITE_ERRORS}, tags=["instances"])
def instance_patch(request, name: str, payload: dict[str, Any] = _MERGE_PATCH):
    instance = _get(Instance, name)
    _require(permissions.can_edit_instances(request.auth), _ADMINS_INSTANCES)
    current = instance_data(instance)
    if "memory_gb" not in payload and memory_follows_sku(instance) and _sized(merge_patch(current, payload)):
        # The memory came from the sku: a patch of the sku (or shards) brings the new size's memory.
        current.pop("memory_gb")
    data = validate_entry(core.Instance, merge_patch(current, payload))
    instance = writes.instance_save(instance=instance, data=data, actor=request.auth)
    return instance_data(instance)


def _sized(entry: dict) -> bool:
    """The entry names a size whose memory Microsoft publishes."""
    names = [entry.get(key) for key in ("product", "tier", "sku")]
    if not all(isinstance(name, str) for name in names):
        return False
    size = platform.find_sku(*names)
    return size is not None and size.memory_gb is not None


@router.delete("/instances/{name}", response={204: None, **_DELETE_ERRORS}, tags=["instances"])
def instance_delete(request, name: str):
    instance = _get(Instance, name)
    _require(permissions.can_edit_instances(request.auth), _ADMINS_INSTANCES)
    writes.instance_delete(instance=instance, actor=request.auth)
    return Status(204, None)


# Namespaces -----------------------------------------------------------------------------------


def _namespace_denied(namespace: Namespace | None, team: Team) -> str:
    if namespace is None:
        return f"Only members of team '{team.name}' and administrators add namespaces to it."
    if namespace.team_id != team.pk:
        return (
            f"Moving namespace '{namespace.name}' from team '{namespace.team.name}' to '{team.name}' "
            "needs membership of both teams."
        )
    return f"Only members of team '{team.name}' and administrators change namespace '{namespace.name}'."


@router.get("/namespaces", response={200: list[NamespaceOut], **_LIST_ERRORS}, tags=["namespaces"])
@paginate(Pagination)
def namespace_list(request, filters: Query[NamespaceFilters]):
    namespaces = _namespaces().order_by("name")
    if filters.team:
        namespaces = namespaces.filter(team__name=filters.team)
    if filters.instance:
        namespaces = namespaces.filter(instance__name=filters.instance)
    if filters.classification:
        namespaces = namespaces.filter(classification=filters.classification)
    if filters.q:
        q = filters.q
        namespaces = namespaces.filter(
            Q(name__icontains=q) | Q(pattern__icontains=q) | Q(description__icontains=q)
        )
    return Entries(namespaces, namespace_data)


@router.get("/namespaces/{name}", response={200: NamespaceOut, **_READ_ERRORS}, tags=["namespaces"])
def namespace_get(request, name: str):
    return namespace_data(_get(_namespaces(), name))


@router.post("/namespaces", response={201: NamespaceOut, **_CREATE_ERRORS}, tags=["namespaces"])
def namespace_create(request, payload: core.Namespace):
    team = writes.named(Team, payload.team, loc="team")
    _require(permissions.can_save_namespace(request.auth, None, team), _namespace_denied(None, team))
    namespace = writes.namespace_save(namespace=None, data=payload, team=team, actor=request.auth)
    return Status(201, namespace_data(namespace))


@router.put("/namespaces/{name}", response={200: NamespaceOut, **_WRITE_ERRORS}, tags=["namespaces"])
def namespace_update(request, name: str, payload: core.Namespace):
    namespace = _get(_namespaces(), name)
    team = writes.named(Team, payload.team, loc="team")
    _require(
        permissions.can_save_namespace(request.auth, namespace, team), _namespace_denied(namespace, team)
    )
    namespace = writes.namespace_save(namespace=namespace, data=payload, team=team, actor=request.auth)
    return namespace_data(namespace)


@router.patch("/namespaces/{name}", response={200: NamespaceOut, **_WRITE_ERRORS}, tags=["namespaces"])
def namespace_patch(request, name: str, payload: dict[str, Any] = _MERGE_PATCH):
    namespace = _get(_namespaces(), name)
    data = validate_entry(core.Namespace, merge_patch(namespace_data(namespace), payload))
    team = writes.named(Team, data.team, loc="team")
    _require(
        permissions.can_save_namespace(request.auth, namespace, team), _namespace_denied(namespace, team)
    )
    namespace = writes.namespace_save(namespace=namespace, data=data, team=team, actor=request.auth)
    return namespace_data(namespace)


@router.delete("/namespaces/{name}", response={204: None, **_DELETE_ERRORS}, tags=["namespaces"])
def namespace_delete(request, name: str):
    namespace = _get(_namespaces(), name)
    _require(
        permissions.can_edit_namespace(request.auth, namespace),
        f"Only members of team '{namespace.team.name}' and administrators delete its namespaces.",
    )
    writes.namespace_delete(namespace=namespace, actor=request.auth)
    return Status(204, None)
