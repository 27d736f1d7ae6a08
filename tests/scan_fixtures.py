"""Keyspaces with known drift, and the servers to load them into, for scanner tests (and anyone's).

Everything runs on private redis-server processes (`advisor.lib.redisproc.RedisProcess`) on
free ports; nothing here touches a shared Redis.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis

from advisor.core.design import Design, load_design
from advisor.core.scan import ScanOptions
from advisor.lib.redisproc import RedisProcess, free_port

LOCAL = ["127.0.0.1", "localhost"]
TODAY = dt.date(2026, 11, 26)

# The ACL of a scanner user: exactly the commands the scanner may send.
SCANNER_ACL = (
    "-@all +scan +type +pttl +memory|usage +hlen +scard +zcard +llen +xlen +info +config|get +slowlog|get "
    "+cluster|slots +cluster|nodes +cluster|shards +ping +hello +auth +client|setname +readonly ~*"
)


def options(**overrides) -> ScanOptions:
    """Scan options for tests: loopback allowed, no ops budget, short timeouts."""
    values = {
        "allowed_hosts": list(LOCAL),
        "max_ops": None,
        "connect_timeout": 2.0,
        "read_timeout": 3.0,
        "progress_interval": 0.0,
    }
    values.update(overrides)
    return ScanOptions(**values)


def client(server: RedisProcess, **kwargs) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, **kwargs)


# --------------------------------------------------------------------------------------------
# The drift lab: a design and a keyspace that drifts from it in known ways

DRIFT_INSTANCE = "lab-cache"

DRIFT_DESIGN = """\
version: 1
teams:
  - name: catalog
  - name: identity
instances:
  - name: lab-cache
    environment: prod
    product: redis-oss
    memory_gb: 1
    clustering: none
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: volatile-lru
    auth: none
    tls: true
    public_network_access: false
    connection: {{url: "{url}", credential: "{credential}"}}
namespaces:
  - name: product-cache
    team: catalog
    instance: lab-cache
    pattern: "prod:catalog:product:v3:<id:int>"
    classification: disposable
    data_type: string
    ttl: {{mode: absolute, seconds: 600, jitter_seconds: 60}}
    value_bytes: {{typical: 100, max: 1000}}
    cardinality: 2000
    ops_per_sec: {{reads: 100, writes: 10}}
    data_classification: internal
    source_of_truth: catalog-db
  - name: user-by-email
    team: identity
    instance: lab-cache
    pattern: "prod:users:by-email:*"
    classification: session
    data_type: string
    ttl: {{mode: absolute, seconds: 1800}}
    value_bytes: {{typical: 64, max: 256}}
    cardinality: 1000
    ops_per_sec: {{reads: 10, writes: 1}}
    data_classification: confidential
    source_of_truth: identity-db
  - name: rate-limits
    team: identity
    instance: lab-cache
    pattern: "prod:edge:ratelimit:v1:<client:int>"
    classification: coordination
    data_type: string
    ttl: {{mode: absolute, seconds: 600}}
    value_bytes: {{typical: 8, max: 16}}
    cardinality: 10
    ops_per_sec: {{reads: 10, writes: 10}}
    data_classification: internal
    source_of_truth: none-needed
  - name: retired
    team: catalog
    instance: lab-cache
    pattern: "prod:catalog:old:v1:<id:int>"
    classification: disposable
    data_type: string
    ttl: {{mode: absolute, seconds: 60}}
    value_bytes: {{typical: 10, max: 100}}
    cardinality: 100
    ops_per_sec: {{reads: 1, writes: 1}}
    data_classification: internal
    source_of_truth: catalog-db
{extra}"""

# What the drift lab's keyspace holds, and so what a complete scan must find.
DRIFT_KEYS = {
    "product-cache": 1000 + 50 + 30 + 20 + 5,  # ok, no TTL, TTL too long, hashes, oversized
    "user-by-email": 40,
    "rate-limits": 100,
    "retired": 0,
    "legacy": 300,
    "tmp": 120,
}
DRIFT_TOTAL = sum(DRIFT_KEYS.values())
DRIFT_MISSES = 12_000  # lookups of absent keys: a hit ratio of 0

# (rule, target, severity) of every finding a complete scan of the drift lab gives.
DRIFT_FINDINGS = sorted(
    [
        ("DRF001", "instance:lab-cache", "medium"),  # legacy:session:<id:int>
        ("DRF001", "instance:lab-cache", "medium"),  # tmp:<id:uuid>
        ("DRF002", "namespace:product-cache", "high"),
        ("DRF003", "namespace:product-cache", "medium"),
        ("DRF004", "namespace:product-cache", "medium"),
        ("DRF005", "namespace:product-cache", "medium"),
        ("DRF006", "namespace:user-by-email", "high"),
        ("DRF007", "instance:lab-cache", "high"),
        ("DRF008", "namespace:rate-limits", "medium"),
        ("DRF011", "namespace:retired", "low"),
        ("DRF012", "instance:lab-cache", "info"),
    ]
)


def drift_design(url: str, extra: str = "", *, credential: str = "none") -> Design:
    return load_design(DRIFT_DESIGN.format(url=url, extra=extra, credential=credential))


def drift_server() -> RedisProcess:
    """A server whose policy drifts from the design's volatile-lru."""
    return RedisProcess(args=["--maxmemory-policy", "allkeys-lru"])


def load_drift_keyspace(r: redis.Redis, *, misses: int = DRIFT_MISSES) -> None:
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"prod:catalog:product:v3:{i}", "x" * 100, ex=600)
    for i in range(1000, 1050):
        p.set(f"prod:catalog:product:v3:{i}", "x" * 100)  # DRF002: no TTL
    for i in range(1050, 1080):
        p.set(f"prod:catalog:product:v3:{i}", "x" * 100, ex=86400)  # DRF003: a day, not 600 s
    for i in range(1080, 1100):
        p.hset(f"prod:catalog:product:v3:{i}", mapping={"name": "x"})  # DRF004: hash, not string
        p.expire(f"prod:catalog:product:v3:{i}", 600)
    for i in range(1100, 1105):
        p.set(f"prod:catalog:product:v3:{i}", "y" * 5000, ex=600)  # DRF005: 5 KB, max 1000
    for i in range(40):
        p.set(f"prod:users:by-email:user{i}@example.com", "session", ex=1800)  # DRF006
    for i in range(100):
        p.set(f"prod:edge:ratelimit:v1:{i}", "1", ex=600)  # DRF008: 100 keys, cardinality 10
    for i in range(300):
        p.set(f"legacy:session:{i}", "z")  # DRF001
    for i in range(120):
        p.set(f"tmp:{uuid.UUID(int=i + 1, version=4)}", "t", ex=3600)  # DRF001
    p.execute()
    for start in range(0, misses, 1000):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + 1000, misses)):
            p.get(f"absent:{i}")  # DRF012: only misses
        p.execute()


def findings_summary(findings) -> list[tuple[str, str, str]]:
    return sorted((f.rule, f.target, f.severity.value) for f in findings)


# --------------------------------------------------------------------------------------------
# Users, TLS, clusters


def add_acl_user(r: redis.Redis, name: str, password: str, rules: str = SCANNER_ACL) -> None:
    r.execute_command("ACL", "SETUSER", name, "reset", "on", f">{password}", *rules.split())


def make_tls_files(directory: Path) -> dict[str, str]:
    """A private CA and a server certificate for localhost and 127.0.0.1 (via `cryptography`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("advisor test CA"))
        .issuer_name(name("advisor test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {
        "ca": directory / "ca.crt",
        "cert": directory / "server.crt",
        "key": directory / "server.key",
    }
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return {k: str(v) for k, v in files.items()}


@contextlib.contextmanager
def cluster(primaries: int = 3, *, timeout: float = 30.0) -> Iterator[list[RedisProcess]]:
    """A cluster of `primaries` primaries (no replicas) on 127.0.0.1, built with redis-cli --cluster create."""
    # The bus port defaults to port + 10000, which may be taken or past 65535: name a free one.
    nodes = [
        RedisProcess(
            args=[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                str(free_port()),
            ]
        )
        for _ in range(primaries)
    ]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{n.port}" for n in nodes],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        deadline = time.monotonic() + timeout
        for node in nodes:
            r = client(node)
            while b"cluster_state:ok" not in r.execute_command("CLUSTER", "INFO"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster did not reach cluster_state:ok")
                time.sleep(0.1)
            r.close()
        yield nodes
    finally:
        for node in nodes:
            node.stop()
