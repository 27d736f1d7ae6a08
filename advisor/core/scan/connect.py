"""Reaching a Redis instance: URL, credential, TLS, timeouts, the host allowlist, cluster discovery.

The hot read loop talks RESP over the socket itself (see `reader.py`), so connections here are
plain sockets with a hiredis reader, not redis-py clients; redis-py and redis-entraid are used
only to obtain Entra ID tokens.

Timeouts are deadlines on the monotonic clock, never idle timers that a byte resets: a reply
(or one round trip's replies) must be in full within `read_timeout` of starting to wait for it,
and nothing outlasts the whole scan's `Deadline`. Each socket wait gets the time that remains,
so a server that drips one byte a second fails the scan as surely as a silent one. While
waiting, a connection asks its `interrupt` check (the scan's stop check) about twice a second.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import hiredis

from advisor.core import platform
from advisor.core.design import RESERVED_ENV_VARS
from advisor.core.scan.errors import ScanError, ScanInterrupted

# The public endpoints of Azure Cache for Redis and Azure Managed Redis, in all clouds we know of.
AZURE_HOST_SUFFIXES = (
    ".redis.cache.windows.net",
    ".redis.azure.net",
    ".redisenterprise.cache.azure.net",
    ".redis.cache.chinacloudapi.cn",
    ".redis.cache.usgovcloudapi.net",
)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ALLOWED_HOSTS_ENV = "ADVISOR_SCAN_ALLOWED_HOSTS"

ENTRA_SCOPE = "https://redis.azure.com/.default"
ENTRA_RESOURCE = "https://redis.azure.com/"
# Tokens live about an hour and are refreshed five minutes before they expire; re-sending AUTH
# this often keeps a long scan's connections authenticated with a live token.
ENTRA_REAUTH_INTERVAL_S = 240.0

CLIENT_NAME = "redis-key-advisor-scan"
RECV_BUFFER = 1 << 17
# What the hiredis reader returns while a reply is incomplete: not False, which equals a 0 reply.
INCOMPLETE = object()
# How often a connection waiting on a server asks whether the scan should stop.
INTERRUPT_CHECK_S = 0.5


class Deadline:
    """The whole scan's deadline on the monotonic clock; `seconds` None (or 0): none."""

    def __init__(self, seconds: float | None, *, start: float | None = None):
        self.seconds = seconds or None
        self.at = (
            None if self.seconds is None else (time.monotonic() if start is None else start) + self.seconds
        )

    def remaining(self) -> float:
        return float("inf") if self.at is None else self.at - time.monotonic()

    def error(self) -> ScanError:
        return ScanError("timeout", f"the scan did not finish within its time limit of {self.seconds:g}s")

    def check(self) -> None:
        """ScanError(timeout) once the deadline has passed."""
        if self.at is not None and time.monotonic() >= self.at:
            raise self.error()


NO_DEADLINE = Deadline(None)


# --------------------------------------------------------------------------------------------
# Allowlist


def default_allowed_hosts(*, debug: bool = False, environ: Mapping[str, str] | None = None) -> list[str]:
    """`ADVISOR_SCAN_ALLOWED_HOSTS` (comma-separated) if set, else the Azure suffixes (+ localhost when debugging).

    ValueError names the first entry that is not a host name, an address, a suffix or a CIDR range.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(ALLOWED_HOSTS_ENV, "")
    if raw.strip():
        return validate_allowed_hosts([h.strip() for h in raw.split(",") if h.strip()])
    return [*AZURE_HOST_SUFFIXES, *(LOCAL_HOSTS if debug else ())]


def validate_allowed_hosts(entries: Sequence[str], *, source: str = ALLOWED_HOSTS_ENV) -> list[str]:
    """The entries, checked: each one a host name, an IP address, a `.suffix` / `*.suffix`, or a CIDR
    range (`10.0.0.0/8`, `fd00::/8`). ValueError, naming the entry and `source`, for anything else,
    so that a typo stops the advisor at startup instead of failing (or widening) a scan later."""
    out = []
    for raw in entries:
        if not str(raw).strip():
            continue
        entry = _normal_host(str(raw))
        problem = _entry_problem(entry) if entry else "is not a host name"
        if problem:
            raise ValueError(f"{source}: {str(raw).strip()!r} {problem}")
        out.append(str(raw).strip())
    return out


def _entry_problem(entry: str) -> str | None:
    if "://" in entry:
        return "is a URL: write only its host name"
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            return f"is not a valid CIDR range ({exc})"
        return None
    if entry.startswith("*.") or entry.startswith("."):
        suffix = entry[2:] if entry.startswith("*.") else entry[1:]
        if not suffix or not _DNS_NAME.fullmatch(suffix):
            return "is not a valid host suffix (write .example.com or *.example.com)"
        return None
    if _ip(entry) is not None or _DNS_NAME.fullmatch(entry):
        return None
    return "is neither a host name, an IP address, a .suffix nor a CIDR range such as 10.0.0.0/8"


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_DNS_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*")


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether `host` is on the allowlist.

    Entries: `.suffix` or `*.suffix` (any name below it), a CIDR block (`10.1.0.0/24`, `fd00::/8`;
    IP literals only), or an exact host name or address. Names are compared as written: nothing is
    resolved, so an allowed suffix cannot be reached through a numeric or aliased spelling of
    another host. (Cluster discovery adds one exception: see `discover_primaries`.)
    """
    h = _normal_host(host)
    if not h:
        return False
    h_ip = _ip(h)
    # Only plain DNS names and IP literals: the C resolver stops at a NUL, so a name such as
    # "10.0.0.5\x00.redis.azure.net" would pass a suffix test and connect to 10.0.0.5.
    if (h_ip is None and not _DNS_NAME.fullmatch(h)) or "%" in h:
        return False
    for entry in allowed:
        e = _normal_host(entry)
        if not e:
            continue
        if "/" in e:
            try:
                net = ipaddress.ip_network(e, strict=False)
            except ValueError:
                continue
            if h_ip is not None and h_ip.version == net.version and h_ip in net:
                return True
        elif e.startswith("*.") or e.startswith("."):
            suffix = e[1:] if e.startswith("*") else e
            if h.endswith(suffix) and len(h) > len(suffix):
                return True
        elif h == e:
            return True
        elif h_ip is not None and _ip(e) == h_ip:
            return True
    return False


# --------------------------------------------------------------------------------------------
# URL and endpoints


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: bool = False
    # Name the TLS certificate must carry; differs from `host` when a cluster announces its nodes
    # by address but their certificates name the instance.
    server_hostname: str | None = None

    @property
    def label(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ParsedUrl:
    endpoint: Endpoint
    username: str | None
    password: str | None
    db: int


def parse_url(url: str, *, product: str | None = None, tier: str | None = None) -> ParsedUrl:
    """A `redis://` or `rediss://` URL; raises ScanError(protocol) on anything else.

    A URL without a port goes to the product's default port (`platform.default_port`): 10000 on
    Azure Managed Redis, 6380 (TLS) or 6379 on Azure Cache for Redis, 6379 for self-hosted Redis.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ScanError("protocol", f"invalid connection URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss"):
        raise ScanError(
            "protocol", f"unsupported URL scheme {scheme or '(none)'!r}: use redis:// or rediss://"
        )
    host = parts.hostname
    if not host:
        raise ScanError("protocol", "the connection URL has no host")
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ScanError("protocol", f"invalid database number {db_text!r} in the connection URL")
    tls = scheme == "rediss"
    if port is None:
        port = platform.default_port(product, tier, tls=tls)
    return ParsedUrl(
        endpoint=Endpoint(host=host, port=port, tls=tls, server_hostname=host if tls else None),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        db=int(db_text),
    )


def check_host_allowed(url: str, allowed: Sequence[str]) -> str:
    """The URL's host, or ScanError(refused_host) when the allowlist does not name it."""
    host = parse_url(url).endpoint.host
    _require_allowed(host, allowed)
    return host


def _require_allowed(host: str, allowed: Sequence[str], *, what: str | None = None, hint: str = "") -> None:
    if not host_allowed(host, allowed):
        raise ScanError(
            "refused_host",
            f"{what or 'host ' + host} is not on the scan allowlist ({ALLOWED_HOSTS_ENV}); "
            "the scanner only connects to allowed Redis hosts" + hint,
        )


# --------------------------------------------------------------------------------------------
# Credentials


class Credentials:
    """What to send in AUTH, resolved from a credential reference; never printed or stored."""

    def __init__(self, username: str | None = None, password: str | None = None, *, provider=None):
        self._username = username
        self._password = password
        self._provider = provider
        self.reauth_interval_s = ENTRA_REAUTH_INTERVAL_S if provider is not None else None

    @property
    def present(self) -> bool:
        return self._password is not None or self._provider is not None

    def auth_args(self) -> tuple[str, ...] | None:
        if self._provider is not None:
            user, token = _entra_token(self._provider)
            return ("AUTH", user, token)
        if self._password is None:
            return None
        if self._username:
            return ("AUTH", self._username, self._password)
        return ("AUTH", self._password)

    def __repr__(self) -> str:
        kind = "entra-id" if self._provider is not None else ("password" if self._password else "none")
        return f"<Credentials {kind}>"


_ENTRA_PROVIDERS: dict[str | None, object] = {}
_ENTRA_LOCK = threading.Lock()


def entra_credential_provider(client_id: str | None):
    """The redis-entraid provider for DefaultAzureCredential (None) or a user-assigned managed identity.

    One per identity per process: a provider keeps a background refresh thread once it has
    handed out a token, so building a new one for every scan would leak threads in a worker.
    """
    with _ENTRA_LOCK:
        provider = _ENTRA_PROVIDERS.get(client_id)
        if provider is None:
            from redis_entraid import cred_provider

            if client_id is None:
                provider = cred_provider.create_from_default_azure_credential(scopes=(ENTRA_SCOPE,))
            else:
                from redis_entraid.identity_provider import ManagedIdentityIdType, ManagedIdentityType

                provider = cred_provider.create_from_managed_identity(
                    identity_type=ManagedIdentityType.USER_ASSIGNED,
                    resource=ENTRA_RESOURCE,
                    id_type=ManagedIdentityIdType.CLIENT_ID,
                    id_value=client_id,
                )
            _ENTRA_PROVIDERS[client_id] = provider
        return provider


def _entra_token(provider) -> tuple[str, str]:
    try:
        user, token = provider.get_credentials()
    except Exception as exc:  # azure-identity raises many kinds; all mean "no token"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScanError("auth", f"could not get an Entra ID token: {detail[:300]}") from None
    if not user or not token:
        raise ScanError("auth", "the Entra ID token has no object id (oid) to authenticate as")
    return str(user), str(token)


def resolve_credentials(
    reference: str | None,
    *,
    url_username: str | None = None,
    url_password: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Credentials for a reference: `env:VAR`, `entra-id`, `entra-id:<client-id>`, `none` or empty."""
    environ = os.environ if environ is None else environ
    ref = (reference or "").strip()
    if ref in ("", "none"):
        return Credentials(url_username, url_password)
    if ref.startswith("env:"):
        var = ref[4:]
        if not var:
            raise ScanError("auth", "credential reference 'env:' names no environment variable")
        if RESERVED_ENV_VARS.match(var):
            raise ScanError("auth", f"env:{var} is reserved for the advisor's own configuration")
        value = environ.get(var)
        if value is None:
            raise ScanError("auth", f"environment variable {var} (the instance's credential) is not set")
        return Credentials(url_username, value)
    if ref == "entra-id" or ref.startswith("entra-id:"):
        client_id = ref.partition(":")[2].strip() or None
        try:
            provider = entra_credential_provider(client_id)
        except Exception as exc:
            raise ScanError("auth", f"could not set up the Entra ID credential: {exc}") from None
        return Credentials(provider=provider)
    raise ScanError(
        "auth", f"unknown credential reference {ref.split(':', 1)[0]!r}: use env:VAR, entra-id or none"
    )


# --------------------------------------------------------------------------------------------
# Connections


class ServerReply(Exception):
    """An error reply from the server to a set-up command (not a failure of the scan by itself)."""


def encode_command(*args: str | bytes | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%b\r\n" % (len(a), a))
    return b"".join(out)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


class NodeConnection:
    """One socket to one Redis server, with deadlines; errors come out as ScanError.

    `read_timeout` bounds each reply (or each round trip's replies, see `start_reply`) from the
    moment the wait for it begins to the moment it is in full; `deadline` bounds everything.
    `interrupt`, when given, is asked about every INTERRUPT_CHECK_S while waiting for a reply;
    when it answers true the wait ends with ScanInterrupted.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout: float,
        read_timeout: float,
        ssl_context=None,
        deadline: Deadline | None = None,
        interrupt: Callable[[], bool] | None = None,
    ):
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._ssl_context = ssl_context
        self.deadline = deadline or NO_DEADLINE
        self.interrupt = interrupt
        # when the reply being waited for must be in full, and whether the scan's deadline set it
        self._until = 0.0
        self._until_is_scan = False
        self._next_interrupt_check = 0.0
        self.sock: socket.socket | None = None
        self.reader = hiredis.Reader(notEnoughData=INCOMPLETE)
        # One receive buffer for the connection's life: a fresh 64+ KiB bytes object per recv()
        # would cost an allocation (or an mmap) every time.
        self._chunk = bytearray(RECV_BUFFER)
        self._view = memoryview(self._chunk)
        self.last_auth = 0.0

    # -- opening

    def _connect_timeout(self) -> float:
        """The connect timeout, cut short by the scan's deadline."""
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise self.deadline.error()
        return min(self.connect_timeout, remaining)

    def open(self) -> NodeConnection:
        ep = self.endpoint
        try:
            sock = socket.create_connection((ep.host, ep.port), timeout=self._connect_timeout())
        except socket.gaierror as exc:
            raise ScanError("unreachable", f"cannot resolve {ep.host}: {exc.strerror or exc}") from None
        except TimeoutError:
            raise ScanError(
                "timeout", f"no answer from {ep.label} within {self.connect_timeout:g}s"
            ) from None
        except ConnectionRefusedError:
            raise ScanError(
                "unreachable", f"connection to {ep.label} refused: nothing listens there"
            ) from None
        except OSError as exc:
            raise ScanError("unreachable", f"cannot connect to {ep.label}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ep.tls:
            sock = self._tls_handshake(sock)
        sock.settimeout(min(self.read_timeout, max(self.deadline.remaining(), 0.001)))
        self.sock = sock
        return self

    def _tls_handshake(self, sock: socket.socket) -> socket.socket:
        ep = self.endpoint
        ctx = self._ssl_context or ssl.create_default_context()
        try:
            # The handshake gets the connect timeout: a plain-text port never answers a ClientHello.
            # (An SSL socket's timeout bounds the whole handshake, not each read within it.)
            sock.settimeout(self._connect_timeout())
            return ctx.wrap_socket(sock, server_hostname=ep.server_hostname or ep.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise ScanError(
                "tls", f"TLS certificate of {ep.label} not accepted: {exc.verify_message}"
            ) from None
        except TimeoutError:
            sock.close()
            raise ScanError(
                "tls",
                f"TLS handshake with {ep.label} got no answer within {self.connect_timeout:g}s: "
                "is it a plain-text port? use redis:// for it",
            ) from None
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise ScanError(
                "tls", f"TLS handshake with {ep.label} failed ({_first_line(str(exc))}): is it a TLS port?"
            ) from None

    def setup(self, credentials: Credentials, *, db: int = 0, client_name: str = CLIENT_NAME) -> None:
        """AUTH, CLIENT SETNAME and (only when db != 0) SELECT; then PING to prove the session works."""
        self.authenticate(credentials)
        try:
            self.call("CLIENT", "SETNAME", client_name)
        except ServerReply:
            pass  # only a label in CLIENT LIST; an ACL that refuses it must not stop the scan
        if db:
            try:
                self.call("SELECT", db)
            except ServerReply as exc:
                raise ScanError(
                    "protocol", f"cannot select database {db} on {self.endpoint.label}: {exc}"
                ) from None
        try:
            self.call("PING")
        except ServerReply as exc:
            text = str(exc)
            if text.startswith("NOAUTH"):
                raise ScanError(
                    "auth", f"{self.endpoint.label} requires a password and none was given"
                ) from None
            raise ScanError("protocol", f"{self.endpoint.label} refused PING: {text}") from None

    def authenticate(self, credentials: Credentials) -> None:
        args = credentials.auth_args()
        if args is None:
            return
        try:
            self.call(*args)
        except ServerReply as exc:
            text = str(exc)
            if "without any password configured" in text:
                # A server without a password accepts anyone: not a reason to fail the scan.
                self.last_auth = time.monotonic()
                return
            # The reply names no secret; it is safe to pass on (WRONGPASS ..., NOPERM ...).
            raise ScanError("auth", f"authentication to {self.endpoint.label} failed: {text}") from None
        self.last_auth = time.monotonic()

    # -- talking

    def start_reply(self) -> None:
        """Start the clock of the next reply (or the next round trip's replies): they must be in
        full within read_timeout, and within the scan's deadline."""
        now = time.monotonic()
        self._until = now + self.read_timeout
        self._until_is_scan = self.deadline.at is not None and self.deadline.at < self._until
        if self._until_is_scan:
            self._until = self.deadline.at

    def _timed_out(self) -> ScanError:
        if self._until_is_scan:
            return self.deadline.error()
        return ScanError(
            "timeout",
            f"{self.endpoint.label} stopped answering (no complete reply within {self.read_timeout:g}s)",
        )

    def sendall(self, data: bytes) -> None:
        # A socket timeout bounds the whole sendall, not each chunk of it.
        remaining = min(self.read_timeout, self.deadline.remaining())
        if remaining <= 0:
            raise self.deadline.error()
        try:
            self.sock.settimeout(remaining)
            self.sock.sendall(data)
        except TimeoutError:
            if self.deadline.remaining() <= 0:
                raise self.deadline.error() from None
            raise ScanError("timeout", f"{self.endpoint.label} stopped accepting data") from None
        except OSError as exc:
            raise ScanError(
                "unreachable", f"connection to {self.endpoint.label} lost: {exc.strerror or exc}"
            ) from None

    def recv(self) -> memoryview:
        """The next bytes from the server, in a buffer reused by the next call: copy or consume them.

        Waits at most until the current reply's deadline (`start_reply`): however the bytes
        trickle in, the wait for a reply never outlasts it."""
        while True:
            now = time.monotonic()
            remaining = self._until - now
            if remaining <= 0:
                raise self._timed_out()
            if self.interrupt is not None:
                if now >= self._next_interrupt_check:
                    self._next_interrupt_check = now + INTERRUPT_CHECK_S
                    if self.interrupt():
                        raise ScanInterrupted(f"stopped while waiting for {self.endpoint.label}")
                remaining = min(remaining, INTERRUPT_CHECK_S)
            try:
                self.sock.settimeout(remaining)
                n = self.sock.recv_into(self._chunk)
                break
            except TimeoutError:
                continue  # the loop decides: the reply's deadline, or a look at `interrupt`
            except ssl.SSLError as exc:
                raise ScanError(
                    "tls", f"TLS error from {self.endpoint.label}: {_first_line(str(exc))}"
                ) from None
            except OSError as exc:
                raise ScanError(
                    "unreachable", f"connection to {self.endpoint.label} lost: {exc.strerror or exc}"
                ) from None
        if not n:
            raise ScanError("unreachable", f"{self.endpoint.label} closed the connection")
        return self._view[:n]

    def read_reply(self):
        reader = self.reader
        try:
            reply = reader.gets()
            if reply is INCOMPLETE:
                self.start_reply()
            while reply is INCOMPLETE:
                reader.feed(self.recv())
                reply = reader.gets()
        except hiredis.ProtocolError as exc:
            raise ScanError("protocol", f"{self.endpoint.label} does not speak RESP: {exc}") from None
        return reply

    def call(self, *args: str | bytes | int):
        """Send one command and return its reply; an error reply raises ServerReply."""
        self.sendall(encode_command(*args))
        reply = self.read_reply()
        if isinstance(reply, hiredis.ReplyError):
            raise ServerReply(_first_line(str(reply)))
        return reply

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self) -> NodeConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verification on, always; `ca_file` adds a private CA (tests, self-hosted Redis)."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def open_node(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    connect_timeout: float,
    read_timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    db: int = 0,
    deadline: Deadline | None = None,
    interrupt: Callable[[], bool] | None = None,
) -> NodeConnection:
    conn = NodeConnection(
        endpoint,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        ssl_context=ssl_context,
        deadline=deadline,
        interrupt=interrupt,
    )
    conn.open()
    try:
        conn.setup(credentials, db=db)
    except BaseException:
        conn.close()
        raise
    return conn


# --------------------------------------------------------------------------------------------
# Cluster discovery


@dataclass(frozen=True)
class Primary:
    endpoint: Endpoint
    node_id: str
    slots: int  # how many of the 16384 slots it serves


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def seed_addresses(conn: NodeConnection) -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses the seed's host name stands for: what it resolves to (looked up once, here)
    and the address the open connection actually reached. Empty for a seed given as an address."""
    host = _normal_host(conn.endpoint.host)
    if _ip(host) is not None:
        return frozenset()
    found: set = set()
    try:
        for *_, sockaddr in socket.getaddrinfo(host, conn.endpoint.port, type=socket.SOCK_STREAM):
            ip = _ip(str(sockaddr[0]).split("%", 1)[0])
            if ip is not None:
                found.add(ip)
    except (OSError, UnicodeError):
        pass  # the connection's own peer address below still counts
    if conn.sock is not None:
        try:
            peer = _ip(str(conn.sock.getpeername()[0]).split("%", 1)[0])
        except OSError:
            peer = None
        if peer is not None:
            found.add(peer)
    # An IPv4 address may come back IPv4-mapped from a dual-stack socket: count both spellings.
    found |= {ip.ipv4_mapped for ip in found if getattr(ip, "ipv4_mapped", None) is not None}
    return frozenset(found)


def discover_primaries(
    conn: NodeConnection,
    allowed: Sequence[str],
    *,
    seed_ips: frozenset = frozenset(),
) -> list[Primary]:
    """The primaries of an OSS cluster from CLUSTER SLOTS, each checked against the allowlist.

    A node announced with an unknown address (`?` or empty) is the seed host itself. A node
    announced at an IP address is accepted when the allowlist names it (an address or a CIDR
    range) or when it is one of `seed_ips`, the addresses the seed's allowlisted host name
    resolves to (`seed_addresses`): Azure's OSS-clustered caches announce every shard at the
    cache's own address with a port per shard, so a cache allowed by name stays allowed. Any
    other address is refused; caches behind private endpoints whose shards answer on other
    private addresses are allowed with a CIDR entry for that network.

    Nodes named by address keep the seed's TLS name, as managed clusters announce addresses but
    certify names.
    """
    seed = conn.endpoint
    try:
        ranges = conn.call("CLUSTER", "SLOTS")
    except ServerReply as exc:
        raise ScanError(
            "protocol", f"{seed.label} did not describe its cluster (CLUSTER SLOTS: {exc}); is it clustered?"
        ) from None
    primaries: dict[tuple[str, int], list] = {}
    for entry in ranges or ():
        start, end, node = int(entry[0]), int(entry[1]), entry[2]
        host = _text(node[0]) if node[0] else ""
        if host in ("", "?"):
            host = seed.host
        port = int(node[1])
        node_id = _text(node[2]) if len(node) > 2 else ""
        key = (host, port)
        if key not in primaries:
            primaries[key] = [node_id, 0]
        primaries[key][1] += end - start + 1
    out = []
    for (host, port), (node_id, slots) in primaries.items():
        node_ip = _ip(_normal_host(host))
        if node_ip is None or node_ip not in seed_ips:
            _require_allowed(
                host,
                allowed,
                what=f"cluster node {host}:{port} announced by {seed.label}",
                hint=(
                    f" (it is not an address {seed.host} resolves to; allow it, or a CIDR range of the "
                    "cache's network such as 10.0.0.0/8)"
                    if node_ip is not None and _ip(_normal_host(seed.host)) is None
                    else ""
                ),
            )
        server_hostname = None
        if seed.tls:
            server_hostname = seed.server_hostname if node_ip is not None else host
        out.append(Primary(Endpoint(host, port, seed.tls, server_hostname), node_id, slots))
    if not out:
        raise ScanError("protocol", f"{seed.label} reports a cluster without any slot assigned")
    out.sort(key=lambda p: (p.endpoint.host, p.endpoint.port))
    return out
