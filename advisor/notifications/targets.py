"""Where a channel sends: webhook URLs held to the allowlist, e-mail addresses, secret references.

The allowlist (ADVISOR_WEBHOOK_ALLOWED_HOSTS) works as the scan allowlist does and uses its code
(advisor.core.scan): exact names and addresses, `.suffix` entries, CIDR ranges for IP literals;
names are compared as written, never resolved. A URL is checked when a channel is saved and again
before every request, so a channel saved under a wider list is refused once the list shrinks.

Messages about a URL never quote it: a Slack or Teams URL is a credential. They name its host.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from advisor.core.design import RESERVED_ENV_VARS
from advisor.core.scan import host_allowed

ALLOWLIST_ENV = "ADVISOR_WEBHOOK_ALLOWED_HOSTS"
MAX_ADDRESSES = 20
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TargetRefused(Exception):
    """The URL may not be sent to (scheme, host, allowlist); the message names the host only."""


def _normal(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _loopback(host: str) -> bool:
    h = _normal(host)
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _named_exactly(host: str, allowed: Sequence[str]) -> bool:
    """Whether the list names this very host (not through a suffix or a range)."""
    h = _normal(host)
    for entry in allowed:
        e = _normal(entry)
        if e == h:
            return True
        try:
            if ipaddress.ip_address(e) == ipaddress.ip_address(h):
                return True
        except ValueError:
            continue
    return False


def check_webhook_url(url: str, allowed: Sequence[str] | None = None) -> str:
    """The URL's host when it may be sent to; TargetRefused (naming the host, never the URL) when not."""
    allowed = list(settings.ADVISOR_WEBHOOK_ALLOWED_HOSTS if allowed is None else allowed)
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise TargetRefused("is not a valid URL") from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise TargetRefused("must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry a user name or password before the host")
    if not host_allowed(host, allowed):
        raise TargetRefused(
            f"{host} is not on the webhook allowlist ({ALLOWLIST_ENV}); an administrator adds hosts there"
        )
    if parts.scheme == "http" and not (_loopback(host) and _named_exactly(host, allowed)):
        raise TargetRefused(
            f"must use https:// (plain http only to a loopback address that {ALLOWLIST_ENV} names)"
        )
    return host


def mask_url(url: str) -> str:
    """scheme://host/…last four characters: enough to tell two URLs apart, not to use one."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        if host and parts.port:
            host = f"[{host}]:{parts.port}" if ":" in host else f"{host}:{parts.port}"
    except ValueError:
        scheme, host = "", ""
    tail = url[-4:] if len(url) > 24 else ""
    return f"{scheme}://{host}/…{tail}" if scheme and host else "…"


def parse_addresses(text: str) -> list[str]:
    """E-mail addresses separated by commas, semicolons, spaces or lines; ValidationError names the bad one."""
    found = [a for a in re.split(r"[\s,;]+", text.strip()) if a]
    if not found:
        raise ValidationError("Give at least one e-mail address.")
    out: list[str] = []
    for address in found:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"{address[:100]!r} is not an e-mail address.") from None
        if address.lower() not in {a.lower() for a in out}:
            out.append(address)
    if len(out) > MAX_ADDRESSES:
        raise ValidationError(f"At most {MAX_ADDRESSES} addresses per channel; use a mailing list.")
    return out


# Secrets ----------------------------------------------------------------------------------------


class SecretRef(NamedTuple):
    kind: str  # "env" or "file"
    where: str  # the variable's name or the file's path

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}"


class SecretUnavailable(Exception):
    """The reference names nothing readable here (a variable not set, a file missing)."""


def parse_secret_ref(raw: str, dirs: Sequence[str] | None = None) -> SecretRef:
    """`NAME` or `env:NAME` (an environment variable), `/path` or `file:/path` (a file inside one of
    ADVISOR_WEBHOOK_SECRET_DIRS). ValidationError, never quoting the value (it may be the secret
    pasted by mistake), for anything else."""
    raw = raw.strip()
    dirs = list(settings.ADVISOR_WEBHOOK_SECRET_DIRS if dirs is None else dirs)
    if raw.startswith("file:") or raw.startswith("/"):
        path = raw[5:] if raw.startswith("file:") else raw
        if not path.startswith("/") or "/../" in path + "/" or "\x00" in path:
            raise ValidationError("A secret file is an absolute path without '..'.")
        inside = [d for d in dirs if d and Path(path).is_relative_to(Path(d))]
        if not inside:
            raise ValidationError(
                f"A secret file must be inside {' or '.join(dirs) or '(no directory is configured)'} "
                "(ADVISOR_WEBHOOK_SECRET_DIRS)."
            )
        return SecretRef("file", path)
    var = raw[4:] if raw.startswith("env:") else raw
    if not _ENV_NAME_RE.fullmatch(var):
        raise ValidationError(
            "Give where the secret is, never the secret itself: an environment variable's name "
            "(OPS_WEBHOOK_SECRET or env:OPS_WEBHOOK_SECRET) or a file (file:/run/secrets/ops-webhook)."
        )
    if RESERVED_ENV_VARS.match(var):
        raise ValidationError(
            f"{var} is reserved for the advisor's own configuration; name another variable."
        )
    return SecretRef("env", var)


def read_secret(ref: SecretRef, environ: Mapping[str, str] | None = None) -> bytes:
    """The secret's bytes, read now (a rotated file or variable is seen at the next send)."""
    environ = os.environ if environ is None else environ
    if ref.kind == "file":
        try:
            value = Path(ref.where).read_text().strip()
        except OSError as e:
            raise SecretUnavailable(f"the secret file {ref.where} cannot be read ({e.strerror})") from None
    else:
        value = environ.get(ref.where, "")
    if not value:
        raise SecretUnavailable(
            f"the secret {ref} is empty or not set"
            + (" in this process (the web server and the workers both need it)" if ref.kind == "env" else "")
        )
    return value.encode()
