"""Sign-in with Microsoft Entra ID (or another OpenID Connect provider): its settings, read from the
environment by advisor/settings.py. Nothing here imports models: settings load it before the apps.

    ADVISOR_OIDC_TENANT            Entra ID tenant: its id (a GUID) or its domain (contoso.onmicrosoft.com)
    ADVISOR_OIDC_ISSUER            or the issuer URL of any other OpenID Connect provider (one of the two)
    ADVISOR_OIDC_CLIENT_ID         the application (client) id of the app registration
    ADVISOR_OIDC_CLIENT_SECRET_ENV where the client secret is: the NAME of an environment variable
                                   (ADVISOR_OIDC_CLIENT_SECRET, env:NAME) or a file (/run/secrets/x,
                                   file:PATH). Never the secret itself.
    ADVISOR_OIDC_GROUP_MAP         JSON: {"<group id>": {"role": "reviewer"} | [{"role": "admin"}, {"team": "catalog"}]}
    ADVISOR_OIDC_LABEL             the button reads "Sign in with <label>" (Microsoft for a tenant)
    ADVISOR_OIDC_SESSION_HOURS     how long a session from a sign-in lasts (8): the groups are read
                                   again at the next sign-in
    ADVISOR_LOCAL_LOGIN            true/false: password sign-in (advisor/settings.py reads it)

With neither TENANT nor ISSUER set, OIDC is off and `from_environ` returns None; any other
ADVISOR_OIDC_* variable is then an error, so a half configuration does not go unnoticed.

For Entra ID the issuer (authority) follows from the tenant, https://login.microsoftonline.com/<tenant>/v2.0,
and the endpoints come from its discovery document at <authority>/.well-known/openid-configuration;
the tenant "can be the domain name of the Microsoft Entra tenant or the tenant ID in GUID format",
while common, organizations and consumers are for applications of many tenants:
https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

ENTRA_AUTHORITY_HOST = "login.microsoftonline.com"
# An Entra tenant's issuer carries its tenant id (a GUID) even when the authority names its domain.
ENTRA_ISSUER_RE = re.compile(
    r"https://login\.microsoftonline\.com/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/v2\.0"
)
MULTI_TENANT = ("common", "organizations", "consumers")
GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOMAIN_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEAM_RE = re.compile(r"[a-z0-9][a-z0-9-]*")  # the registry's team names

# What a group may give. admin: the advisor's administrator (is_staff, advisor.registry.permissions.is_admin);
# superuser: that and the whole Django admin; reviewer: the "reviewers" group.
ROLES = ("admin", "superuser", "reviewer")

VARIABLES = (
    "ADVISOR_OIDC_TENANT",
    "ADVISOR_OIDC_ISSUER",
    "ADVISOR_OIDC_CLIENT_ID",
    "ADVISOR_OIDC_CLIENT_SECRET_ENV",
    "ADVISOR_OIDC_GROUP_MAP",
    "ADVISOR_OIDC_LABEL",
    "ADVISOR_OIDC_SESSION_HOURS",
)


class Grant(NamedTuple):
    """One right a group gives: ("role", "reviewer") or ("team", "catalog")."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


class SecretRef(NamedTuple):
    kind: str  # "env" or "file"
    where: str  # the variable's name or the file's path

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}"


@dataclass(frozen=True)
class OidcConfig:
    issuer: str  # the configured issuer, or the Entra authority of the tenant
    client_id: str
    secret: SecretRef
    group_map: Mapping[str, tuple[Grant, ...]] = field(default_factory=dict)
    label: str = "Microsoft"
    session_seconds: int = 8 * 3600
    tenant: str | None = None  # set for Entra ID

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def issuer_accepted(self, issuer: str) -> bool:
        """Whether the discovery document's (and so the tokens') issuer is this provider's.

        OpenID Connect Discovery 1.0, section 4.3: the issuer in the document is identical to the
        one it was fetched for. An Entra tenant named by its domain answers with its GUID instead.
        """
        if issuer == self.issuer:
            return True
        return bool(self.tenant and not GUID_RE.fullmatch(self.tenant) and ENTRA_ISSUER_RE.fullmatch(issuer))


def normalize_group_id(value: str) -> str:
    """Entra group ids are GUIDs, compared without regard to case; other providers' names as given."""
    value = value.strip()
    return value.lower() if GUID_RE.fullmatch(value) else value


def parse_group_map(raw: str, *, name: str = "ADVISOR_OIDC_GROUP_MAP") -> dict[str, tuple[Grant, ...]]:
    """{"<group id>": {"role": "reviewer"} | {"team": "catalog"} | [several of those]}."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object: {{"<group id>": {{"role": "reviewer"}}}}')
    out: dict[str, tuple[Grant, ...]] = {}
    for group, value in data.items():
        group_id = normalize_group_id(group)
        if not group_id:
            raise ImproperlyConfigured(f"{name}: a group id is empty")
        entries = value if isinstance(value, list) else [value]
        if not entries:
            raise ImproperlyConfigured(f"{name}: group {group_id} gives nothing (an empty list)")
        grants: list[Grant] = []
        for entry in entries:
            grants.append(_parse_grant(entry, group_id, name))
        out[group_id] = tuple(dict.fromkeys([*out.get(group_id, ()), *grants]))
    return out


def _parse_grant(entry, group_id: str, name: str) -> Grant:
    if not isinstance(entry, dict) or len(entry) != 1 or not set(entry) <= {"role", "team"}:
        raise ImproperlyConfigured(
            f'{name}: group {group_id} must map to {{"role": ...}} or {{"team": ...}} '
            f"(or a list of them), not {json.dumps(entry)}"
        )
    ((kind, value),) = entry.items()
    if not isinstance(value, str):
        raise ImproperlyConfigured(
            f"{name}: group {group_id}: the {kind} must be a string, not {json.dumps(value)}"
        )
    if kind == "role" and value not in ROLES:
        raise ImproperlyConfigured(
            f"{name}: group {group_id}: unknown role {value!r} (roles: {', '.join(ROLES)})"
        )
    if kind == "team" and not (_TEAM_RE.fullmatch(value) and len(value) <= 63):
        raise ImproperlyConfigured(
            f"{name}: group {group_id}: {value!r} is not a team name (lowercase letters, digits and dashes)"
        )
    return Grant(kind, value)


def parse_secret_ref(
    raw: str, environ: Mapping[str, str], *, name: str = "ADVISOR_OIDC_CLIENT_SECRET_ENV"
) -> SecretRef:
    """Where the client secret is; checked to exist now, read at each sign-in (so a rotated file is seen)."""
    raw = raw.strip()
    if raw.startswith("file:") or raw.startswith("/"):
        path = raw[5:] if raw.startswith("file:") else raw
        if not path.startswith("/"):
            raise ImproperlyConfigured(f"{name}: the secret file must be an absolute path, not {path!r}")
        if not Path(path).is_file() or not os.access(path, os.R_OK):
            raise ImproperlyConfigured(f"{name}: the secret file {path} does not exist or cannot be read")
        return SecretRef("file", path)
    var = raw[4:] if raw.startswith("env:") else raw
    if not _ENV_NAME_RE.fullmatch(var):
        raise ImproperlyConfigured(
            f"{name} names where the client secret is (an environment variable's name or a file path), "
            "never the secret itself: the value given is neither"
        )
    if not environ.get(var):
        raise ImproperlyConfigured(f"{name}={var}, but the environment variable {var} is not set")
    return SecretRef("env", var)


def read_secret(ref: SecretRef, environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    if ref.kind == "file":
        return Path(ref.where).read_text().strip()
    return environ.get(ref.where, "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _issuer(raw: str) -> str:
    parts = urlsplit(raw)
    if not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"ADVISOR_OIDC_ISSUER={raw!r} is not an issuer URL (https://host/path)")
    # Tokens and the client secret travel over this: plain HTTP only to the machine itself (tests).
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise ImproperlyConfigured(f"ADVISOR_OIDC_ISSUER={raw!r} must be an https:// URL")
    return raw


def _tenant_authority(tenant: str) -> str:
    if tenant.lower() in MULTI_TENANT:
        raise ImproperlyConfigured(
            f"ADVISOR_OIDC_TENANT={tenant} would accept accounts of any tenant: give your tenant's id "
            "(Directory (tenant) ID on the app registration's overview) or its domain"
        )
    if not (GUID_RE.fullmatch(tenant) or _DOMAIN_RE.fullmatch(tenant)):
        raise ImproperlyConfigured(
            f"ADVISOR_OIDC_TENANT={tenant!r} is neither a tenant id (GUID) nor a domain"
        )
    return f"https://{ENTRA_AUTHORITY_HOST}/{tenant.lower() if GUID_RE.fullmatch(tenant) else tenant}/v2.0"


def from_environ(environ: Mapping[str, str]) -> OidcConfig | None:
    """The sign-in settings, or None when OIDC is not configured. Raises ImproperlyConfigured."""
    get = {name: (environ.get(name) or "").strip() for name in VARIABLES}
    tenant, issuer = get["ADVISOR_OIDC_TENANT"], get["ADVISOR_OIDC_ISSUER"]
    if not tenant and not issuer:
        stray = [name for name, value in get.items() if value]
        if stray:
            raise ImproperlyConfigured(
                f"{', '.join(stray)} set but neither ADVISOR_OIDC_TENANT nor ADVISOR_OIDC_ISSUER: "
                "sign-in with OpenID Connect needs one of them"
            )
        return None
    if tenant and issuer:
        raise ImproperlyConfigured("set ADVISOR_OIDC_TENANT (Entra ID) or ADVISOR_OIDC_ISSUER, not both")
    missing = [n for n in ("ADVISOR_OIDC_CLIENT_ID", "ADVISOR_OIDC_CLIENT_SECRET_ENV") if not get[n]]
    if missing:
        raise ImproperlyConfigured(f"sign-in with OpenID Connect needs {' and '.join(missing)}")
    hours_raw = get["ADVISOR_OIDC_SESSION_HOURS"] or "8"
    try:
        hours = int(hours_raw)
    except ValueError:
        raise ImproperlyConfigured(f"ADVISOR_OIDC_SESSION_HOURS={hours_raw!r} is not an integer") from None
    if not 1 <= hours <= 24 * 14:
        raise ImproperlyConfigured(f"ADVISOR_OIDC_SESSION_HOURS={hours} must be between 1 and {24 * 14}")
    return OidcConfig(
        issuer=_tenant_authority(tenant) if tenant else _issuer(issuer),
        client_id=get["ADVISOR_OIDC_CLIENT_ID"],
        secret=parse_secret_ref(get["ADVISOR_OIDC_CLIENT_SECRET_ENV"], environ),
        group_map=parse_group_map(get["ADVISOR_OIDC_GROUP_MAP"]) if get["ADVISOR_OIDC_GROUP_MAP"] else {},
        label=get["ADVISOR_OIDC_LABEL"]
        or ("Microsoft" if tenant or urlsplit(issuer).hostname == ENTRA_AUTHORITY_HOST else "single sign-on"),
        session_seconds=hours * 3600,
        tenant=tenant or None,
    )
