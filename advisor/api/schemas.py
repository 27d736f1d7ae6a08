"""The API's JSON shapes.

A team, instance or namespace is exactly its design-file entry (design-file.md, section 1): what
GET returns can be PUT back unchanged, and an entry copied from a design file can be POSTed.
Input is validated by the domain core's models (`advisor.core.design`), the one place validation
lives; the output schemas below only describe the shape, and are loose on purpose so that a row
the admin site let through still renders instead of failing with a 500.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import pydantic
from ninja import Field, Schema
from ninja.errors import ValidationError
from ninja.pagination import LimitOffsetPagination
from ninja.parser import Parser

from advisor.core import design as core

# Where ninja puts errors about the request body; our own body errors use the same prefix.
BODY_LOC = ("body", "payload")


# Output ---------------------------------------------------------------------------------------


class TeamOut(Schema):
    name: str
    contact: str | None


class ConnectionOut(Schema):
    url: str
    credential: str = Field(description="A reference (env:VAR, entra-id, ...), never the secret.")


class InstanceOut(Schema):
    name: str
    environment: str
    product: str
    tier: str | None
    sku: str | None = Field(None, description="The Azure size (B10, P2, E10...), when given.")
    memory_gb: int | float
    shards: int
    clustering: str
    high_availability: bool
    persistence: str
    geo_replication: bool
    eviction_policy: str
    auth: str
    tls: bool
    public_network_access: bool
    region: str | None
    connection: ConnectionOut | None


class TTLOut(Schema):
    mode: str
    seconds: int | None
    jitter_seconds: int


class ValueBytesOut(Schema):
    typical: int
    max: int


class OpsOut(Schema):
    reads: int | float
    writes: int | float


class NamespaceOut(Schema):
    name: str
    team: str
    instance: str
    pattern: str
    classification: str
    data_type: str
    ttl: TTLOut
    value_bytes: ValueBytesOut
    cardinality: int
    ops_per_sec: OpsOut
    data_classification: str
    contains: list[str]
    negative_cache: bool
    source_of_truth: str | None
    multi_key_with: list[str]
    description: str


class Health(Schema):
    status: str


# Errors ---------------------------------------------------------------------------------------


class Error(Schema):
    """Every error but invalid input: what went wrong, in one sentence."""

    detail: str


class ErrorItem(Schema):
    loc: list[str | int] = Field(
        description='Where: ["body", "payload", "ttl", "seconds"], ["query", "limit"], ["path", "pk"].'
    )
    msg: str
    type: str = Field(description="What kind of error: missing, int_parsing, reference, ...")


class ValidationErrors(Schema):
    """Invalid input (422): every error, each with its location in the request."""

    detail: list[ErrorItem]


# What an endpoint may answer besides success, for its `response={...}` (main.py turns every
# failure into one of these two shapes):
# 400 a body that is not JSON, 401 no valid token or session, 403 not allowed (or a session
# request without its CSRF token), 404 no such resource, 409 a conflict with the current state,
# 413 a body over the size limit, 415 a body of the wrong type, 422 invalid input,
# 503 a service the operation needs is down.
def errors(*codes: int) -> dict[int, type[Schema]]:
    return {code: ValidationErrors if code == 422 else Error for code in codes}


def body_error(loc: tuple | list, msg: str, type: str) -> dict:
    return {"type": type, "loc": [*BODY_LOC, *loc], "msg": msg}


def pydantic_errors(exc: pydantic.ValidationError, prefix: tuple = ()) -> list[dict]:
    # Never the input: a refused connection URL may carry the very password we refuse to store.
    return [
        {"type": e["type"], "loc": [*prefix, *e["loc"]], "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def validate_entry(model: type[pydantic.BaseModel], data: Any):
    """`data` validated by a core model; its errors as a 422 located in the request body."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(pydantic_errors(exc, BODY_LOC)) from None


def _int_or_text(text: str) -> int | str:
    # Past sys.get_int_max_str_digits() int() raises; as text, the schema refuses it where it is.
    try:
        return int(text)
    except ValueError:
        return text


class BodyParser(Parser):
    """JSON request bodies; an integer too long to convert (4,300 digits) is a located 422, not a
    body that cannot be parsed at all."""

    def parse_body(self, request):
        return json.loads(request.body, parse_int=_int_or_text)


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396): objects merge key by key, null removes a key."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Rows as design-file entries ------------------------------------------------------------------


class Entries(Sequence):
    """A queryset whose slices come out as design-file entries, so pagination stays in SQL."""

    def __init__(self, queryset, to_entry: Callable[[Any], dict]):
        self._queryset = queryset
        self._to_entry = to_entry

    def __len__(self) -> int:
        return self._queryset.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._to_entry(row) for row in self._queryset[index]]
        return self._to_entry(self._queryset[index])


# Query parameters -----------------------------------------------------------------------------


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=`, answering `{"items": [...], "count": total}`."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=500)
        # Bounded so that no offset overflows the database's integer.
        offset: int = Field(0, ge=0, le=2**31 - 1)


# No NUL characters: PostgreSQL cannot compare text with them.
_TEXT = r"^[^\x00]*$"


class NamespaceFilters(Schema):
    team: str | None = Field(None, max_length=63, pattern=_TEXT, description="Team name.")
    instance: str | None = Field(None, max_length=63, pattern=_TEXT, description="Instance name.")
    classification: core.Classification | None = None
    q: str | None = Field(
        None, max_length=200, pattern=_TEXT, description="Text in the name, pattern or description."
    )


class InstanceFilters(Schema):
    environment: core.Environment | None = None
    product: core.Product | None = None
