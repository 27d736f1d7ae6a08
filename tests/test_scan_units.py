"""The scanner's pure parts: masking, pattern inference, the allowlist, URLs, credentials, sampling."""

from __future__ import annotations

import uuid

import pytest

from advisor.core.scan import (
    ScanError,
    ScanOptions,
    check_host_allowed,
    default_allowed_hosts,
    host_allowed,
    validate_allowed_hosts,
)
from advisor.core.scan import connect as connect_mod
from advisor.core.scan.aggregate import Aggregator
from advisor.core.scan.connect import AZURE_HOST_SUFFIXES, parse_url, resolve_credentials
from advisor.core.scan.infer import PatternInferrer, pattern_text
from advisor.core.scan.masking import find_in_batch, luhn_ok, mask_key, personal_data_kinds
from advisor.core.scan.reader import Budget, KeyLimit, Sampler
from advisor.core.scan.spec import NamespaceSpec, ScanTarget

# --------------------------------------------------------------------------------------------
# Masking and personal data


@pytest.mark.parametrize(
    "key, kinds, masked",
    [
        (b"prod:users:by-email:user@example.com", ["email"], "prod:users:by-email:u***@example.com"),
        (b"otp:+4915112345678", ["phone"], "otp:+49***78"),
        (b"pay:4111111111111111:hold", ["card"], "pay:************1111:hold"),
        (b"rl:ip:192.168.10.20", ["ipv4"], "rl:ip:192.x.x.x"),
        (b"a:b@c.io:+12025550123", ["email", "phone"], "a:b***@c.io:+12***23"),
    ],
)
def test_it_finds_and_masks_personal_data(key, kinds, masked):
    assert personal_data_kinds(key) == kinds
    assert mask_key(key) == masked


@pytest.mark.parametrize(
    "key,shown",
    [
        # Not personal data by the detectors, but long numbers are shown only by their ends.
        (b"ts:1732600000000", "ts:17***00"),  # a millisecond timestamp, not a card
        (b"pay:4111111111111112", "pay:41***12"),  # fails the Luhn check
        (b"app:v1.2.3.4:config", None),  # a version, not an address
        (b"counter:+1", None),  # too short for a phone number
        (b"prod:catalog:product:v3:12345", None),
        (b"\xff\xfe:binary", None),
    ],
)
def test_it_leaves_ordinary_keys_alone(key, shown):
    assert personal_data_kinds(key) == []
    assert mask_key(key) == (shown or key.decode("utf-8", "backslashreplace"))


@pytest.mark.parametrize(
    "key,shown",
    [
        (b"legacy:session:3f2b9c1e-1111-2222-3333-444455556666", "legacy:session:3f2b…"),
        (b"pwreset:token:Zx9kQ2abcdefGHIJ1234", "pwreset:token:Zx9k…"),
        (b"sms_+4915123456789", "sms_+49***89"),
        (b"user:0612345678:otp", "user:06***78:otp"),
        ("user:jürgen.müller@example.com", "user:j***@example.com"),
        (b"user:" + b"a" * 70 + b"@example.com", "user:a***@example.com"),
    ],
)
def test_it_masks_tokens_ids_and_what_the_detectors_miss(key, shown):
    assert mask_key(key) == shown


def test_luhn():
    assert luhn_ok(b"4111111111111111") and luhn_ok(b"5555555555554444") and not luhn_ok(b"1234567812345678")


def test_it_finds_personal_data_in_a_batch_by_position():
    keys = [b"a:1", b"u:bob@example.org", b"multi\nline:1.2.3.4", b"b:2", b"c:10.0.0.1"]
    assert find_in_batch(keys) == [(1, "email"), (2, "ipv4"), (4, "ipv4")]
    assert find_in_batch([b"a:1", b"b:2"]) == []


def test_masked_examples_are_short_and_never_raw():
    key = b"x:" + b"a" * 100_000 + b":bob@example.com"
    shown = mask_key(key, max_chars=80)
    assert len(shown) < 120 and "100018 bytes" in shown
    assert "bob@" not in mask_key(b"k:bob@example.com:" + b"z" * 500)


# --------------------------------------------------------------------------------------------
# Inferred patterns


def _infer(keys, **kwargs):
    inf = PatternInferrer(**kwargs)
    for start in range(0, len(keys), 100):
        inf.add(keys[start : start + 100])
    return inf.result()


def test_it_infers_placeholders_for_variable_segments():
    keys = (
        [b"legacy:session:%d" % i for i in range(250)]
        + [b"tmp:%s" % str(uuid.UUID(int=i, version=4)).encode() for i in range(1, 80)]
        + [b"blob:%016x" % (i * 7919 + 0xABCDEF000) for i in range(30)]
        + [b"tok:AbCdEf%010dXyZ" % i for i in range(20)]
        + [b"order-%06d:lines" % i for i in range(10)]
    )
    patterns, other = _infer(keys)
    assert other == 0
    assert [(p["pattern"], p["keys"]) for p in patterns] == [
        ("legacy:session:<id:int>", 250),
        ("tmp:<id:uuid>", 79),
        ("blob:<id:hex>", 30),
        ("tok:<digest:hash>", 20),
        ("order-<id:int>:lines", 10),
    ]
    assert patterns[0]["example"].startswith("legacy:session:")


def test_it_merges_families_that_differ_in_one_segment():
    names = [b"alice", b"bob", b"carol", b"dave", b"erin"]
    keys = [b"cache:user:%s:prefs" % n for n in names] + [b"cfg:db", b"cfg:cache"]
    patterns, _ = _infer(keys)
    assert ("cache:user:*:prefs", 5) in [(p["pattern"], p["keys"]) for p in patterns]
    # two variants are not yet a family: they stay literal
    assert {"cfg:db", "cfg:cache"} <= {p["pattern"] for p in patterns}


def test_personal_data_never_becomes_pattern_text():
    patterns, _ = _infer(
        [b"users:by-email:u%d@example.com" % i for i in range(3)] + [b"ip:10.0.0.%d" % i for i in range(3)]
    )
    texts = {p["pattern"] for p in patterns}
    assert texts == {"users:by-email:*", "ip:*"}
    assert all("@example.com" not in p["example"] or "***@" in p["example"] for p in patterns)


def test_odd_keys_still_give_valid_patterns():
    from advisor.core.patterns import parse_pattern

    keys = [
        b"\xff\xfe:1",
        b"a\nb:2",
        b"<weird>:3",
        b"x" * 5000,
        b"{}:4",
        b"a:" + b":".join(b"s%d" % i for i in range(40)),
    ]
    patterns, _ = _infer(keys)
    for p in patterns:
        parse_pattern(p["pattern"])  # raises on an invalid pattern


def test_the_pattern_table_stays_bounded():
    # 50,000 distinct literal families: far more than the table keeps
    keys = [b"fam%d:x%d:y" % (i, i % 7) for i in range(50_000)]
    inf = PatternInferrer(max_patterns=200, working_limit=1000)
    for start in range(0, len(keys), 1000):
        inf.add(keys[start : start + 1000])
        assert len(inf._table) <= 1000
    patterns, other = inf.result()
    assert len(patterns) <= 200
    assert sum(p["keys"] for p in patterns) + other == 50_000


def test_pattern_text_numbers_repeated_placeholders():
    assert pattern_text(b"a:\x00I:b:\x00I") == "a:<id:int>:b:<id2:int>"


# --------------------------------------------------------------------------------------------
# Allowlist and URLs


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("cache-1.redis.cache.windows.net", True),
        ("CACHE-1.Redis.Cache.Windows.Net.", True),
        ("prod.westeurope.redis.azure.net", True),
        ("redis.cache.windows.net", False),  # the suffix alone is no host of a customer
        ("evil.redis.cache.windows.net.attacker.example", False),
        ("redis.cache.windows.net.example", False),
        ("127.0.0.1", False),
        ("localhost", False),
        ("10.0.0.5", False),
        ("2130706433", False),  # 127.0.0.1 spelled as a number
        ("169.254.169.254", False),
    ],
)
def test_the_default_allowlist_takes_azure_hosts_only(host, allowed, monkeypatch):
    monkeypatch.delenv("ADVISOR_SCAN_ALLOWED_HOSTS", raising=False)
    assert host_allowed(host, default_allowed_hosts()) is allowed


def test_debugging_adds_localhost(monkeypatch):
    monkeypatch.delenv("ADVISOR_SCAN_ALLOWED_HOSTS", raising=False)
    hosts = default_allowed_hosts(debug=True)
    assert (
        host_allowed("localhost", hosts) and host_allowed("127.0.0.1", hosts) and host_allowed("::1", hosts)
    )
    assert set(AZURE_HOST_SUFFIXES) <= set(hosts)


def test_the_environment_replaces_the_allowlist():
    hosts = default_allowed_hosts(
        environ={"ADVISOR_SCAN_ALLOWED_HOSTS": "redis.internal, .corp.example,10.1.0.0/24"}
    )
    assert hosts == ["redis.internal", ".corp.example", "10.1.0.0/24"]
    assert host_allowed("redis.internal", hosts)
    assert host_allowed("a.corp.example", hosts)
    assert host_allowed("10.1.0.7", hosts)
    assert not host_allowed("10.1.1.7", hosts)
    assert not host_allowed("redis.internal.evil", hosts)
    assert not host_allowed("cache.redis.cache.windows.net", hosts)


def test_check_host_allowed_refuses_with_a_clear_reason():
    assert (
        check_host_allowed("rediss://c.redis.azure.net:10000/0", [".redis.azure.net"]) == "c.redis.azure.net"
    )
    with pytest.raises(ScanError) as e:
        check_host_allowed("redis://10.0.0.5:6379/0", [".redis.azure.net"])
    assert e.value.kind == "refused_host"
    assert "10.0.0.5" in e.value.reason and "ADVISOR_SCAN_ALLOWED_HOSTS" in e.value.reason


def test_urls():
    p = parse_url("rediss://scanner@c.redis.azure.net:10000/0")
    assert (p.endpoint.host, p.endpoint.port, p.endpoint.tls, p.username, p.db) == (
        "c.redis.azure.net",
        10000,
        True,
        "scanner",
        0,
    )
    assert p.endpoint.server_hostname == "c.redis.azure.net"
    assert parse_url("redis://localhost").endpoint.port == 6379
    for bad in ("http://x", "redis://", "redis://h:99999", "redis://h/x"):
        with pytest.raises(ScanError) as e:
            parse_url(bad)
        assert e.value.kind == "protocol"


# --------------------------------------------------------------------------------------------
# Credentials


def test_env_credentials():
    creds = resolve_credentials("env:CACHE_PW", environ={"CACHE_PW": "s3cret"})
    assert creds.auth_args() == ("AUTH", "s3cret")
    assert "s3cret" not in repr(creds)
    creds = resolve_credentials("env:CACHE_PW", url_username="scanner", environ={"CACHE_PW": "s3cret"})
    assert creds.auth_args() == ("AUTH", "scanner", "s3cret")
    assert resolve_credentials("none").auth_args() is None
    with pytest.raises(ScanError) as e:
        resolve_credentials("env:MISSING_VAR", environ={})
    assert e.value.kind == "auth" and "MISSING_VAR" in e.value.reason
    with pytest.raises(ScanError):
        resolve_credentials("vault:x")


@pytest.fixture
def fresh_entra(monkeypatch):
    monkeypatch.setattr(connect_mod, "_ENTRA_PROVIDERS", {})


def test_entra_id_uses_default_azure_credential(fresh_entra, monkeypatch):
    from redis_entraid import cred_provider

    calls = []
    monkeypatch.setattr(
        cred_provider, "create_from_default_azure_credential", lambda **kw: calls.append(kw) or "provider"
    )
    creds = resolve_credentials("entra-id")
    assert calls == [{"scopes": ("https://redis.azure.com/.default",)}]
    assert creds._provider == "provider" and creds.reauth_interval_s
    resolve_credentials("entra-id")
    assert len(calls) == 1  # one provider per identity per process


def test_entra_id_with_a_client_id_uses_that_managed_identity(fresh_entra, monkeypatch):
    from redis_entraid import cred_provider
    from redis_entraid.identity_provider import ManagedIdentityIdType, ManagedIdentityType

    calls = []
    monkeypatch.setattr(cred_provider, "create_from_managed_identity", lambda **kw: calls.append(kw) or "mi")
    client_id = "5f2c1a8e-1111-2222-3333-444455556666"
    resolve_credentials(f"entra-id:{client_id}")
    assert calls == [
        {
            "identity_type": ManagedIdentityType.USER_ASSIGNED,
            "resource": "https://redis.azure.com/",
            "id_type": ManagedIdentityIdType.CLIENT_ID,
            "id_value": client_id,
        }
    ]


def test_the_real_managed_identity_provider_is_built_without_network(fresh_entra):
    client_id = "5f2c1a8e-1111-2222-3333-444455556666"
    creds = resolve_credentials(f"entra-id:{client_id}")
    app = creds._provider._idp._app  # msal's ManagedIdentityClient, nothing requested yet
    assert type(app).__name__ == "ManagedIdentityClient"


def test_a_token_failure_is_a_clear_auth_error(fresh_entra, monkeypatch):
    from redis.auth.err import RequestTokenErr
    from redis_entraid import cred_provider

    class NoToken:
        def request_token(self, force_refresh=False):
            raise RequestTokenErr("DefaultAzureCredential failed to retrieve a token\nmore detail")

    monkeypatch.setattr(
        cred_provider, "_create_provider_from_default_azure_credential", lambda config: NoToken()
    )
    creds = resolve_credentials("entra-id")
    with pytest.raises(ScanError) as e:
        creds.auth_args()
    assert e.value.kind == "auth"
    assert (
        e.value.reason == "could not get an Entra ID token: DefaultAzureCredential failed to retrieve a token"
    )


# --------------------------------------------------------------------------------------------
# Sampling, budget, limits, options, specs


def test_the_sampler_takes_the_rate_evenly_and_exactly():
    s = Sampler(0.1)
    taken = [s.positions(n) for n in (1000, 7, 993, 3)]
    assert sum(len(t) for t in taken) == 200
    assert taken[0] == list(range(9, 1000, 10))
    assert all(0 <= p < n for t, n in zip(taken, (1000, 7, 993, 3), strict=True) for p in t)
    assert Sampler(0.0).positions(10) == [] and Sampler(1.0).positions(3) == [0, 1, 2]
    third = Sampler(1 / 3)
    assert sum(len(third.positions(100)) for _ in range(30)) == 1000


def test_small_namespaces_get_measured_too():
    agg = Aggregator(
        [NamespaceSpec(name="a", pattern="a:<id:int>"), NamespaceSpec(name="b", pattern="b:<id:int>")]
    )
    keys = [b"a:%d" % i for i in range(100)] + [b"b:1"]
    positions = agg.memory_positions(agg.match(keys), [9, 19])
    assert 100 in positions and 0 in positions  # the first key of a, the only key of b


def test_the_budget_paces_batches():
    import time

    b = Budget(1000)
    start = time.monotonic()
    for _ in range(4):
        assert b.wait(100, lambda: False)
    assert time.monotonic() - start >= 0.29  # the 4th batch may start after 300 ops at 1000/s
    stopped = Budget(1)
    stopped.wait(5, lambda: False)
    assert stopped.wait(5, lambda: True) is False


def test_key_limit():
    k = KeyLimit(250)
    assert [k.take(100), k.take(100), k.take(100), k.take(100)] == [100, 100, 50, 0]
    assert k.exhausted
    assert KeyLimit(None).take(10**9) == 10**9


def test_options_are_checked():
    with pytest.raises(ValueError):
        ScanOptions(memory_sample=1.5)
    with pytest.raises(ValueError):
        ScanOptions(count=0)
    with pytest.raises(ValueError):
        ScanOptions(max_ops=0)  # the core says None for no budget; `--max-ops 0` is translated to it
    with pytest.raises(ValueError):
        ScanOptions(max_elements=-1)


def test_specs_and_targets_come_from_the_design():
    from scan_fixtures import drift_design

    from advisor.core.scan import namespace_specs

    design = drift_design("redis://127.0.0.1:6390/0")
    specs = {s.name: s for s in namespace_specs(design, "lab-cache")}
    assert specs["product-cache"].ttl_limit_ms == 661_000
    assert specs["product-cache"].memory_limit_bytes == 1250 + 160
    assert specs["product-cache"].data_type == "string"
    assert specs["user-by-email"].classification == "session"
    target = ScanTarget.from_instance(design.instance("lab-cache"))
    assert (target.instance, target.url, target.credential, target.clustering) == (
        "lab-cache",
        "redis://127.0.0.1:6390/0",
        "none",
        "none",
    )


# --------------------------------------------------------------------------------------------
# Batch matching agrees with the Matcher

OVERLAPPING = [
    ("any-under-a", "a:<rest:any>"),
    ("str-under-a", "a:*"),
    ("int-under-a", "a:<id:int>"),
    ("a-b-int", "a:b:<id:int>"),
    ("a-b-str", "a:b:*"),
    ("a-hex", "a:<h:hex>"),
    ("tenant", "<tenant:int>:x:<id:int>"),
    ("tag", "cart:{<c:int>}:items"),
    ("uuid", "s:<sid:uuid>"),
    ("digest", "d:<h:hash>"),
    ("twice-a-str", "a:*"),  # same pattern again: registration order decides
    ("literal", "a:b:c"),
]


def _random_key(rng) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 4)):
        parts.append(
            rng.choice(
                [
                    b"a",
                    b"b",
                    b"c",
                    b"x",
                    b"s",
                    b"d",
                    b"cart",
                    b"items",
                    b"{12}",
                    b"%d" % rng.randint(0, 99999),
                ]
                + [uuid.UUID(int=rng.getrandbits(128), version=4).hex.encode(), b"%x" % rng.getrandbits(40)]
                + [str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode(), b"Ab-_" * 5, b"\xff\n", b""]
            )
        )
    return b":".join(parts)


@pytest.mark.parametrize("n_patterns", [1, 5, len(OVERLAPPING)])
def test_batch_matching_agrees_with_the_matcher(n_patterns):
    import random

    from advisor.core.patterns import Matcher
    from advisor.core.scan.aggregate import batch_matcher

    rng = random.Random(n_patterns)
    matcher = Matcher(OVERLAPPING[:n_patterns])
    keys = [_random_key(rng) for _ in range(20_000)] + [b"", b"a:b:c", b"a:b:12", b"cart:{12}:items"]
    fast = batch_matcher(matcher)
    assert fast(keys) == [matcher.match_index(k) for k in keys]
    assert len(set(fast(keys))) > min(n_patterns, 3)


def test_many_patterns_use_the_matcher_itself():
    from advisor.core.patterns import Matcher
    from advisor.core.scan.aggregate import FAST_MATCH_MAX_PATTERNS, batch_matcher

    matcher = Matcher([(f"ns{i}", f"svc{i}:<id:int>") for i in range(FAST_MATCH_MAX_PATTERNS + 1)])
    keys = [b"svc3:1", b"svc40:2", b"nope"]
    assert batch_matcher(matcher)(keys) == [3, -1, -1]


@pytest.mark.parametrize(
    "host",
    ["10.0.0.5\x00.redis.azure.net", "fe80::1%eth0", "a b.redis.azure.net", "x.redis.azure.net/../10.0.0.1"],
)
def test_hosts_that_are_not_plain_names_or_addresses_are_never_allowed(host):
    from advisor.core.scan.connect import host_allowed

    assert not host_allowed(host, [".redis.azure.net", "fe80::/10", "*"])


def test_the_advisors_own_secrets_are_never_a_scan_credential():
    from advisor.core.scan import ScanError
    from advisor.core.scan.connect import resolve_credentials

    for var in (
        "ADVISOR_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "AZURE_CLIENT_SECRET",
        "POSTGRES_PASSWORD",
    ):
        with pytest.raises(ScanError) as exc:
            resolve_credentials(f"env:{var}", environ={var: "s3cret"})
        assert "reserved" in exc.value.reason and "s3cret" not in exc.value.reason
    assert (
        resolve_credentials("env:CATALOG_REDIS_PASSWORD", environ={"CATALOG_REDIS_PASSWORD": "pw"})._password
        == "pw"
    )


def test_inferred_patterns_keep_literal_digits_and_match_their_examples():
    from advisor.core.patterns import parse_pattern
    from advisor.core.scan.infer import PatternInferrer

    inferrer = PatternInferrer()
    keys = [f"legacy:catalog:v2:{i}".encode() for i in range(50)] + [
        f"legacy:catalog:v3:{i}".encode() for i in range(7)
    ]
    keys += [b"prod:scan:product:v3:n140", b"prod:scan:product:v3:n141"]
    inferrer.add(keys)
    patterns, _ = inferrer.result()
    by_pattern = {p["pattern"]: p for p in patterns}
    assert by_pattern["legacy:catalog:v2:<id:int>"]["keys"] == 50
    assert by_pattern["legacy:catalog:v3:<id:int>"]["keys"] == 7
    for p in patterns:
        assert parse_pattern(p["pattern"]).matches(p["example"]), p


# --------------------------------------------------------------------------------------------
# The allowlist: CIDR ranges, validated entries, nodes at the seed's addresses


@pytest.mark.parametrize(
    "host, allowed, ok",
    [
        ("127.0.0.1", ["127.0.0.0/8"], True),
        ("127.255.0.9", ["127.0.0.0/8"], True),
        ("128.0.0.1", ["127.0.0.0/8"], False),
        ("10.2.3.4", ["10.0.0.0/8"], True),
        ("11.0.0.1", ["10.0.0.0/8"], False),
        ("fd00::1:5", ["fd00::/8"], True),
        ("[fd00::1:5]", ["fd00::/8"], True),
        ("fe80::1", ["fd00::/8"], False),
        ("10.0.0.5", ["fd00::/8"], False),  # families never cross
        ("cache.internal", ["10.0.0.0/8"], False),  # a range allows addresses, never names
    ],
)
def test_cidr_entries_allow_the_addresses_in_their_range(host, allowed, ok):
    assert host_allowed(host, validate_allowed_hosts(allowed)) is ok


@pytest.mark.parametrize(
    "entry",
    [
        "10.0.0.0/8",
        "10.1.2.3/32",
        "fd00::/8",
        "::1",
        "127.0.0.1",
        "cache.internal",
        ".redis.azure.net",
        "*.corp.example",
        "LOCALHOST",
    ],
)
def test_valid_allowlist_entries_pass(entry):
    assert validate_allowed_hosts([entry]) == [entry]


@pytest.mark.parametrize(
    "entry, says",
    [
        ("10.0.0.0/33", "is not a valid CIDR range"),
        ("10.0.0/8", "is not a valid CIDR range"),
        ("cache.internal/24", "is not a valid CIDR range"),
        ("fd00::/129", "is not a valid CIDR range"),
        ("redis://cache.internal", "is a URL: write only its host name"),
        ("cache.internal:6380", "is neither a host name"),
        ("a b", "is neither a host name"),
        (".", "is not a host name"),
        ("*", "is neither a host name"),
        ("*.-x.example", "is not a valid host suffix"),
    ],
)
def test_bad_allowlist_entries_are_a_clear_configuration_error(entry, says):
    with pytest.raises(ValueError) as e:
        validate_allowed_hosts(["cache.internal", entry])
    assert str(e.value).startswith(f"ADVISOR_SCAN_ALLOWED_HOSTS: {entry!r} {says}")
    with pytest.raises(ValueError) as e:
        default_allowed_hosts(environ={"ADVISOR_SCAN_ALLOWED_HOSTS": f"cache.internal,{entry}"})
    assert entry in str(e.value)
    with pytest.raises(ValueError) as e:
        ScanOptions(allowed_hosts=[entry])
    assert str(e.value).startswith("allowed_hosts: ")


class _FakeSeed:
    """A connection whose CLUSTER SLOTS names the nodes given."""

    def __init__(self, host: str, nodes: list[tuple[str, int]], *, tls: bool = False):
        from advisor.core.scan.connect import Endpoint

        self.endpoint = Endpoint(host, 10000, tls, host if tls else None)
        self.sock = None
        per = 16384 // len(nodes)
        self._slots = [
            [i * per, (i + 1) * per - 1, [h.encode(), port, b"id%d" % i]] for i, (h, port) in enumerate(nodes)
        ]

    def call(self, *args):
        assert args == ("CLUSTER", "SLOTS")
        return self._slots


def test_nodes_at_the_seeds_addresses_are_accepted_others_refused():
    import ipaddress

    from advisor.core.scan.connect import discover_primaries

    seed = _FakeSeed("cache.redis.azure.net", [("10.0.0.4", 8500), ("10.0.0.4", 8501)], tls=True)
    allowed = [".redis.azure.net"]
    mine = frozenset({ipaddress.ip_address("10.0.0.4")})
    primaries = discover_primaries(seed, allowed, seed_ips=mine)
    assert [(p.endpoint.host, p.endpoint.port) for p in primaries] == [("10.0.0.4", 8500), ("10.0.0.4", 8501)]
    # announced by address, certified by name: TLS checks the seed's name
    assert {p.endpoint.server_hostname for p in primaries} == {"cache.redis.azure.net"}

    other = _FakeSeed("cache.redis.azure.net", [("10.0.0.4", 8500), ("10.0.0.9", 8501)], tls=True)
    with pytest.raises(ScanError) as e:
        discover_primaries(other, allowed, seed_ips=mine)
    assert e.value.kind == "refused_host"
    assert e.value.reason.startswith("cluster node 10.0.0.9:8501 announced by cache.redis.azure.net:10000")
    assert "not an address cache.redis.azure.net resolves to" in e.value.reason and "CIDR" in e.value.reason
    # the operator allows the cache's private network with a range
    assert len(discover_primaries(other, [*allowed, "10.0.0.0/24"], seed_ips=mine)) == 2
    # without the seed's addresses, only the list counts
    with pytest.raises(ScanError):
        discover_primaries(seed, allowed)


def test_seed_addresses_resolve_the_name_once_and_skip_addresses():
    import ipaddress

    from advisor.core.scan.connect import Endpoint, seed_addresses

    class Conn:
        def __init__(self, host):
            self.endpoint = Endpoint(host, 6379)
            self.sock = None

    assert ipaddress.ip_address("127.0.0.1") in seed_addresses(Conn("localhost"))
    assert seed_addresses(Conn("127.0.0.1")) == frozenset()
    assert seed_addresses(Conn("scanner-test.invalid")) == frozenset()  # unresolvable: nothing extra


# --------------------------------------------------------------------------------------------
# Default ports per product


@pytest.mark.parametrize(
    "url, product, tier, port",
    [
        ("rediss://c.redis.azure.net", "azure-managed-redis", "balanced", 10000),
        ("redis://c.redis.azure.net", "azure-managed-redis", "memory-optimized", 10000),
        ("rediss://c.redis.cache.windows.net/0", "azure-cache-for-redis", "premium", 6380),
        ("redis://c.redis.cache.windows.net/0", "azure-cache-for-redis", "standard", 6379),
        ("rediss://c.redis.cache.windows.net", "azure-cache-for-redis", None, 6380),
        ("rediss://redis.internal", "redis-oss", None, 6379),
        ("rediss://redis.internal", None, None, 6379),
        ("rediss://c.redis.azure.net:6380", "azure-managed-redis", "balanced", 6380),  # a port given wins
    ],
)
def test_a_url_without_a_port_goes_to_the_products_default_port(url, product, tier, port):
    assert parse_url(url, product=product, tier=tier).endpoint.port == port


def test_targets_carry_the_product_and_tier():
    from scan_fixtures import DRIFT_DESIGN

    from advisor.core.design import load_design

    text = DRIFT_DESIGN.format(url="rediss://lab.redis.azure.net", extra="", credential="none").replace(
        "    product: redis-oss\n", "    product: azure-managed-redis\n    tier: balanced\n"
    )
    target = ScanTarget.from_instance(load_design(text).instance("lab-cache"))
    assert (target.product, target.tier) == ("azure-managed-redis", "balanced")
    assert parse_url(target.url, product=target.product, tier=target.tier).endpoint.port == 10000


# --------------------------------------------------------------------------------------------
# Aggregation: per-field TTL limits, no-TTL keys by type, oversized values, element counts


def _spec(ttl: dict, data_type: str = "hash", vmax: int = 1000) -> NamespaceSpec:
    from types import SimpleNamespace as NS

    return NamespaceSpec.from_namespace(
        NS(
            name="carts",
            pattern="cart:<id:int>",
            ttl=NS(**ttl),
            value_bytes=NS(max=vmax),
            data_type=data_type,
            classification="session",
        )
    )


def test_a_per_field_namespace_counts_only_key_ttls_above_the_design():
    spec = _spec({"mode": "per-field", "seconds": 600, "jitter_seconds": 60})
    assert spec.ttl_limit_ms == 661_000  # seconds + jitter + 1 s tolerance, as for key TTLs
    agg = Aggregator([spec])
    keys = [b"cart:%d" % i for i in range(5)]
    # no key TTL (the design's normal case), exactly at the limit, 1 ms above, far above
    pttls = [-1, -1, 661_000, 661_001, 7_200_000]
    agg.add_batch(keys, agg.match(keys), [b"hash"] * 4 + [b"string"], pttls)
    s = agg.stats[0]
    assert s.above_ttl == 2 and s.without_ttl == 2
    assert dict(s.no_ttl_types) == {b"hash": 2}
    agg.add_batch([b"cart:9"], [0], [b"string"], [-1])
    assert dict(s.no_ttl_types) == {b"hash": 2, b"string": 1}


def test_oversized_is_judged_at_the_limit_from_both_sides():
    spec = _spec({"mode": "absolute", "seconds": 60}, data_type="string", vmax=1000)
    limit = spec.memory_limit_bytes
    assert limit == 1250 + 160
    agg = Aggregator([spec])
    keys = [b"cart:1", b"cart:22"]
    # MEMORY USAGE minus the key's name: exactly the limit is fine, one byte more is not
    agg.add_batch(keys, [0, 0], [b"string"] * 2, [5000, 5000], [0, 1], [limit + 6, limit + 7 + 1])
    assert agg.stats[0].oversized == 1
    assert [k for _, k, _ in agg.stats[0].biggest()] == [b"cart:22", b"cart:1"]


def test_element_counts_keep_the_biggest_collections_above_the_limit_only():
    agg = Aggregator([_spec({"mode": "none"})], max_elements=10_000, big_collections=3)
    values = [10_000, 10_001, 50, 0, 20_000, 30_000, 40_000, 99_999]  # 0: gone since its TYPE
    counted = [(b"cart:%d" % n, b"hash", 0) for n in values[:-1]] + [(b"other:1", b"set", -1)]
    agg.add_counts(counted, values)
    assert agg.stats[0].elements_n == 6 and agg.stats[0].elements_over == 4
    assert agg.unmatched.elements_n == 1 and agg.unmatched.elements_over == 1
    assert [(n, i, k) for n, i, k, _ in agg.biggest_collections()] == [
        (99_999, -1, b"other:1"),
        (40_000, 0, b"cart:40000"),
        (30_000, 0, b"cart:30000"),
    ]


def test_refusals_never_quote_arguments():
    from advisor.core.scan.facts import refusal
    from advisor.core.scan.reader import _refuses_command

    text = "ERR unknown command 'MEMORY', with args beginning with: 'USAGE' 'users:bob@example.com' "
    assert refusal(text) == "ERR unknown command 'MEMORY'"
    assert _refuses_command(text)
    assert _refuses_command("NOPERM this user has no permissions to run the 'hlen' command")
    assert not _refuses_command(
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    )
    assert not _refuses_command("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert not _refuses_command("MOVED 3999 127.0.0.1:6381")
