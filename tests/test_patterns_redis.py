"""key_hash_slot agrees with a real redis-server's CLUSTER KEYSLOT, hash-tag edge cases included."""

from __future__ import annotations

import random
import shutil

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.core.patterns import key_hash_slot, parse_pattern
from advisor.lib.redisproc import RedisProcess, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _start_cluster_node() -> RedisProcess:
    # CLUSTER KEYSLOT needs cluster mode; the node needs no slots assigned to answer it.
    # The cluster bus defaults to port + 10000, which does not exist for the high ephemeral
    # ports free_port() hands out, so it gets its own free port. Other test runs share this
    # machine and may grab a port between free_port() and bind: hence a few attempts.
    for attempt in range(3):
        proc = RedisProcess(
            args=[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                str(free_port()),
            ]
        )
        assert proc.port != 6379  # never the shared Redis
        try:
            return proc.start()
        except RuntimeError:
            proc.stop()  # removes its temporary directory
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def server():
    proc = _start_cluster_node()
    client = redis.Redis(port=proc.port)
    try:
        yield client
    finally:
        client.close()
        proc.stop()


def redis_slot(client: redis.Redis, key: bytes) -> int:
    return int(client.execute_command("CLUSTER", "KEYSLOT", key))


EDGE_KEYS = [
    b"",
    b"foo",
    b"123456789",
    b"{user1000}.following",
    b"{user1000}.followers",
    b"{}",
    b"{}a",
    b"a{}",
    b"{{a}}",
    b"{{}}",
    b"a{b}c{d}",
    b"}{",
    b"}{a}",
    b"{",
    b"}",
    b"{a",
    b"a}",
    b"foo{}{bar}",
    b"foo{{bar}}zap",
    b"foo{bar}{zap}",
    b"{:}",
    b"cart:{42}:items",
    b"cart:{all}:items",
    b"\x00",
    b"{\x00}",
    b"\xff\xfe\xfd",
    b"{\xff}\x80",
    b"caf\xc3\xa9:{\xc3\xa9}",
    b"x" * 1000,
]


@pytest.mark.parametrize("key", EDGE_KEYS, ids=[repr(k)[:40] for k in EDGE_KEYS])
def test_edge_cases(server, key):
    assert key_hash_slot(key) == redis_slot(server, key)


def test_str_keys_are_hashed_as_utf8(server):
    for key in ["café:{é}", "日本:{語}:x", "plain"]:
        assert key_hash_slot(key) == redis_slot(server, key.encode())


brace_heavy = st.lists(
    st.sampled_from([b"{", b"}", b"a", b":", b"\xff", b"\x00", b"{}", b"ab"]), max_size=12
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=64), brace_heavy))
def test_binary_keys(server, key):
    assert key_hash_slot(key) == redis_slot(server, key)


@pytest.mark.parametrize(
    "text",
    [
        "cart:{<customer:int>}:items",
        "cart:{all}:items",
        "s:{t-<x:hex>}:<y:uuid>",
        "prod:catalog:product:v3:<id:int>",
    ],
)
def test_pattern_examples(server, text):
    p = parse_pattern(text)
    rng = random.Random(text)
    for _ in range(50):
        key = p.example(rng).encode()
        assert key_hash_slot(key) == redis_slot(server, key)


def test_constant_tag_puts_every_key_in_one_slot(server):
    p = parse_pattern("cart:{all}:<c:int>:items")
    rng = random.Random(1)
    assert p.has_constant_hash_tag
    assert {redis_slot(server, p.example(rng).encode()) for _ in range(30)} == {key_hash_slot("all")}
