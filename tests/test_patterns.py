"""Key patterns: parser, matching, sizing, hash tags, Matcher precedence and exact intersection."""

from __future__ import annotations

import random
import string
import time

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from advisor.core.patterns import (
    PLACEHOLDER_KINDS,
    Literal,
    Matcher,
    Pattern,
    PatternError,
    Placeholder,
    intersection_witness,
    key_hash_slot,
    parse_pattern,
)

L, P = Literal, Placeholder

# --------------------------------------------------------------------------------------------
# Parser

VALID = [
    ("prod:catalog:product:v3:<id:int>", (L("prod:catalog:product:v3:"), P("id", "int"))),
    ("user:<id>", (L("user:"), P("id", "str"))),
    ("a:*:b", (L("a:"), P(None, "str"), L(":b"))),
    ("cart:{<customer:int>}:items", (L("cart:{"), P("customer", "int"), L("}:items"))),
    ("<a:int><b:hex>", (P("a", "int"), P("b", "hex"))),
    ("<_x-1:uuid>", (P("_x-1", "uuid"),)),
    ("plain", (L("plain"),)),
    ("café:<id:int>", (L("café:"), P("id", "int"))),
    # an unclosed '{' is plain text, exactly as Redis treats it in a key
    ("a{b:<c:int>", (L("a{b:"), P("c", "int"))),
    ("x}{y", (L("x}{y"),)),
    *[(f"k:<v:{kind}>", (L("k:"), P("v", kind))) for kind in PLACEHOLDER_KINDS],
]


@pytest.mark.parametrize(("text", "tokens"), VALID, ids=[t for t, _ in VALID])
def test_parse_valid(text, tokens):
    p = parse_pattern(text)
    assert p.text == text
    assert p.tokens == tokens
    assert p.placeholders == tuple(t for t in tokens if isinstance(t, Placeholder))


INVALID = [
    ("", "empty pattern", None),
    ("user:<id", "unclosed '<'", 5),
    ("user:<id:int", "unclosed '<'", 5),
    ("a:<b<c>>", "unclosed '<'", 2),
    ("user:id>", "stray '>'", 7),
    ("a:<b>>", "stray '>'", 5),
    ("user:<id:integer>", "unknown placeholder kind 'integer'", 9),
    ("user:<id:>", "empty placeholder kind", 9),
    ("user:<>", "empty placeholder name", 5),
    ("user:<:int>", "empty placeholder name", 5),
    ("user:<1id>", "invalid placeholder name '1id'", 6),
    ("user:<user id>", "invalid placeholder name 'user id'", 6),
    ("cart:{}:items", "empty hash tag '{}'", 5),
    ("{}", "empty hash tag '{}'", 0),
]


@pytest.mark.parametrize(
    ("text", "message", "position"), INVALID, ids=[t or "<empty>" for t, _, _ in INVALID]
)
def test_parse_invalid(text, message, position):
    with pytest.raises(PatternError) as exc:
        parse_pattern(text)
    assert exc.value.message == message
    assert exc.value.position == position
    assert isinstance(exc.value, ValueError)


def test_pattern_error_reads_well():
    with pytest.raises(PatternError) as exc:
        parse_pattern("prod:users:<id")
    assert str(exc.value) == "unclosed '<' at position 11"
    with pytest.raises(PatternError) as exc:
        parse_pattern("a:<id:num>")
    assert (
        str(exc.value)
        == "unknown placeholder kind 'num' at position 6 (expected one of int, uuid, hex, hash, str, any)"
    )
    with pytest.raises(PatternError) as exc:
        parse_pattern("")
    assert str(exc.value) == "empty pattern"


def test_only_the_effective_hash_tag_must_be_non_empty():
    # Redis only looks at the first '{' and the first '}' after it; a later "{}" is plain text.
    assert parse_pattern("a{b}c{}").hash_tag == (L("b"),)


def test_parse_is_cached_and_regex_compiled_once():
    p = parse_pattern("cache:<id:int>")
    assert parse_pattern("cache:<id:int>") is p
    assert p.regex() is p.regex()
    assert p.regex().match(b"cache:42").groups() == (b"42",)


# --------------------------------------------------------------------------------------------
# Structure: literal text, prefix, segments, hash tag, sizing

STRUCTURE = [
    # pattern, literal_text, literal_prefix, hash_tag, constant tag, key_bytes_estimate
    (
        "prod:catalog:product:v3:<id:int>",
        "prod:catalog:product:v3:",
        ("prod", "catalog", "product", "v3"),
        None,
        False,
        24 + 8,
    ),
    ("product:<id>", "product:", ("product",), None, False, 8 + 16),
    ("cart:{<customer:int>}:items", "cart:{}:items", ("cart",), (P("customer", "int"),), False, 13 + 8),
    ("cart:{all}:items", "cart:{all}:items", ("cart", "{all}", "items"), (L("all"),), True, 16),
    ("s:{t-<x:hex>}", "s:{t-}", ("s",), (L("t-"), P("x", "hex")), False, 6 + 32),
    ("{{a}}", "{{a}}", ("{{a}}",), (L("{a"),), True, 5),
    ("a{b}c{d}", "a{b}c{d}", ("a{b}c{d}",), (L("b"),), True, 8),
    ("a{b:<c:int>", "a{b:", ("a{b",), None, False, 4 + 8),
    ("x:}{y}", "x:}{y}", ("x", "}{y}"), (L("y"),), True, 6),
    ("<t:int>:orders:<id:uuid>", ":orders:", (), None, False, 8 + 8 + 36),
    ("v<n:int>:x", "v:x", (), None, False, 3 + 8),
    ("h:<d:hash>:<r:any>:*", "h:::", ("h",), None, False, 4 + 44 + 32 + 16),
    ("café:<id:int>", "café:", ("café",), None, False, 6 + 8),
]


@pytest.mark.parametrize(
    ("text", "literal", "prefix", "tag", "constant", "size"), STRUCTURE, ids=[s[0] for s in STRUCTURE]
)
def test_structure(text, literal, prefix, tag, constant, size):
    p = parse_pattern(text)
    assert p.literal_text == literal
    assert p.literal_prefix == prefix
    assert p.hash_tag == tag
    assert p.has_constant_hash_tag is constant
    assert p.key_bytes_estimate() == size


def test_segments_keep_any_in_its_own_segment():
    p = parse_pattern("a:<rest:any>:b{<c:int>}:")
    assert p.segments == (
        (L("a"),),
        (P("rest", "any"),),
        (L("b{"), P("c", "int"), L("}")),
        (),
    )


def test_segments_of_empty_and_mixed_segments():
    assert parse_pattern("a::v<n:int>x").segments == ((L("a"),), (), (L("v"), P("n", "int"), L("x")))
    assert parse_pattern("a::b").literal_prefix == ("a", "", "b")


# --------------------------------------------------------------------------------------------
# Matching single patterns

MATCHES = [
    ("a:<x:int>", b"a:0", True),
    ("a:<x:int>", b"a:0123456789", True),
    ("a:<x:int>", b"a:", False),
    ("a:<x:int>", b"a:-1", False),
    ("a:<x:int>", b"a:1 ", False),
    ("a:<x:int>", b"a:1\n", False),  # '$' would accept this; patterns match the whole key
    ("a:<x:uuid>", b"a:123e4567-e89b-12d3-a456-426614174000", True),
    ("a:<x:uuid>", b"a:123E4567-E89B-12D3-A456-426614174000", True),
    ("a:<x:uuid>", b"a:123e4567e89b12d3a456426614174000", False),
    ("a:<x:uuid>", b"a:123e4567-e89b-12d3-a456-42661417400", False),
    ("a:<x:uuid>", b"a:g23e4567-e89b-12d3-a456-426614174000", False),
    ("a:<x:hex>", b"a:deadBEEF09", True),
    ("a:<x:hex>", b"a:xyz", False),
    ("a:<x:hash>", b"a:0123456789abcdef", True),  # 16 hex chars
    ("a:<x:hash>", b"a:0123456789abcde", False),  # 15
    ("a:<x:hash>", b"a:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", True),  # base64url sha256
    ("a:<x:hash>", b"a:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", True),
    ("a:<x:hash>", b"a:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSu==", True),
    ("a:<x:hash>", b"a:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hS===", False),
    ("a:<x:hash>", b"a:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", False),  # not url-safe
    ("a:<x:str>", b"a:hello world", True),
    ("a:<x:str>", b"a:b:c", False),
    ("a:<x:str>", b"a:\n\x00\xff", True),
    ("a:*", b"a:b", True),
    ("a:*", b"a:", False),
    ("a:<x:any>", b"a:b:c:\n", True),
    ("a:<x:any>", b"a:", False),
    ("café:<id:int>", "café:7".encode(), True),
    ("café:<id:int>", "café:7", True),
    ("café:<id:int>", "cafe:7", False),
    ("a.b:<x:int>", b"aXb:1", False),  # literal '.' is not a regex wildcard
    ("a{b}:<x:int>", b"a{b}:1", True),
    ("<a:int><b:hex>", b"12ab", True),
    ("<a:int><b:hex>", b"1", False),
]


@pytest.mark.parametrize(("text", "key", "expected"), MATCHES, ids=[f"{t}-{k!r}" for t, k, _ in MATCHES])
def test_matches(text, key, expected):
    assert parse_pattern(text).matches(key) is expected


def test_non_utf8_keys():
    p = parse_pattern("bin:<x:str>:<y:any>")
    assert p.matches(b"bin:\xff\xfe:\x80:\x81")
    assert not p.matches(b"bin:\xff\xfe")
    # a key decoded with surrogateescape (as a scanner may do) still matches
    assert p.matches(b"bin:\xff:\xfe".decode("utf-8", "surrogateescape"))
    assert not parse_pattern("bin:<x:int>").matches(b"bin:\xb9")


@pytest.mark.parametrize("seed", range(20))
def test_example_matches(seed):
    rng = random.Random(seed)
    for text in [
        "prod:catalog:product:v3:<id:int>",
        "s:<u:uuid>:<h:hash>:<x:hex>:*:<r:any>",
        "cart:{<c:int>}:items",
        "<a:int><b:hex>",
    ]:
        p = parse_pattern(text)
        assert p.matches(p.example(rng))
    assert parse_pattern("x:<id:int>").example(random.Random(seed)) == parse_pattern("x:<id:int>").example(
        random.Random(seed)
    )


# --------------------------------------------------------------------------------------------
# Hypothesis strategies built from a pattern's tokens

HEX = string.hexdigits
B64URL = string.ascii_letters + string.digits + "-_"


def _uuid_text() -> st.SearchStrategy[bytes]:
    groups = [st.text(HEX, min_size=n, max_size=n) for n in (8, 4, 4, 4, 12)]
    return st.tuples(*groups).map(lambda g: "-".join(g).encode())


KIND_VALUES: dict[str, st.SearchStrategy[bytes]] = {
    "int": st.text(string.digits, min_size=1, max_size=20).map(str.encode),
    "uuid": st.one_of(st.uuids().map(lambda u: str(u).encode()), _uuid_text()),
    "hex": st.text(HEX, min_size=1, max_size=40).map(str.encode),
    "hash": st.tuples(st.text(B64URL, min_size=16, max_size=50), st.sampled_from(["", "=", "=="])).map(
        lambda t: "".join(t).encode()
    ),
    "str": st.binary(min_size=1, max_size=20).map(lambda b: b.replace(b":", b"_")),
    "any": st.one_of(
        st.binary(min_size=1, max_size=30),
        st.lists(st.text(string.ascii_lowercase, max_size=4), min_size=2, max_size=4).map(
            lambda s: ":".join(s).encode()
        ),
    ),
}


def keys_of(p: Pattern) -> st.SearchStrategy[bytes]:
    parts = [st.just(t.text.encode()) if isinstance(t, Literal) else KIND_VALUES[t.kind] for t in p.tokens]
    return st.tuples(*parts).map(b"".join)


WORDS = ["a", "b", "ab", "v1", "0", "x-y", "é"]
KIND_SEGMENTS = ["<p:int>", "<p:uuid>", "<p:hex>", "<p:hash>", "<p:str>", "*"]
MIXED_SEGMENTS = ["<p:any>", "v<n:int>", "<p:hex>b", "{<c:int>}", "{a}", "a<p:int><q:hex>", "<p:int>-<q:str>"]

# Patterns whose segments are each a literal word or a single placeholder that cannot contain
# ':', so that a key's ':'-split lines up with the pattern's segments.
segment_patterns = st.lists(st.sampled_from(WORDS + KIND_SEGMENTS), min_size=1, max_size=5).map(":".join)
any_patterns = st.lists(st.sampled_from(WORDS + KIND_SEGMENTS + MIXED_SEGMENTS), min_size=1, max_size=5).map(
    ":".join
)


@given(st.data(), any_patterns)
def test_keys_generated_from_tokens_match(data, text):
    p = parse_pattern(text)
    key = data.draw(keys_of(p))
    assert p.matches(key)


@given(st.data(), segment_patterns)
def test_changing_a_literal_byte_breaks_the_match(data, text):
    p = parse_pattern(text)
    key_segments = data.draw(keys_of(p)).split(b":")
    literal = [i for i, seg in enumerate(p.segments) if all(isinstance(t, Literal) for t in seg) and seg]
    assume(literal)
    i = data.draw(st.sampled_from(literal))
    seg = bytearray(key_segments[i])
    j = data.draw(st.integers(0, len(seg) - 1))
    seg[j] = data.draw(st.integers(0, 255).filter(lambda b: b not in (seg[j], ord(":"))))
    key_segments[i] = bytes(seg)
    assert not p.matches(b":".join(key_segments))


@given(st.data(), segment_patterns.filter(lambda t: ":" in t))
def test_dropping_a_segment_breaks_the_match(data, text):
    p = parse_pattern(text)
    key_segments = data.draw(keys_of(p)).split(b":")
    del key_segments[data.draw(st.integers(0, len(key_segments) - 1))]
    assert not p.matches(b":".join(key_segments))


@given(st.data(), segment_patterns.filter(lambda t: "<p:int>" in t))
def test_a_letter_in_an_int_breaks_the_match(data, text):
    p = parse_pattern(text)
    key_segments = data.draw(keys_of(p)).split(b":")
    i = data.draw(st.sampled_from([i for i, seg in enumerate(p.segments) if seg == (P("p", "int"),)]))
    at = data.draw(st.integers(0, len(key_segments[i])))
    letter = data.draw(st.sampled_from(b"xZ_- ."))
    key_segments[i] = key_segments[i][:at] + bytes([letter]) + key_segments[i][at:]
    assert not p.matches(b":".join(key_segments))


# --------------------------------------------------------------------------------------------
# Hash slots (against known values; tests/test_patterns_redis.py checks against a real server)


@pytest.mark.parametrize(
    ("key", "slot"),
    [  # slots as given by CLUSTER KEYSLOT of redis-server 7.0
        (b"123456789", 0x31C3 & 0x3FFF),  # the CRC16-XMODEM check value 0x31C3
        (b"foo", 12182),
        (b"{user1000}.following", 3443),
        (b"foo{}{bar}", 8363),  # empty first tag: the whole key is hashed
        (b"a{b}c{d}", 3300),
        (b"{{a}}", 10276),
        (b"}{", 12793),
        ("{é}x", 10180),
    ],
)
def test_key_hash_slot(key, slot):
    assert key_hash_slot(key) == slot


def test_hash_tag_keys_of_one_customer_share_a_slot():
    p = parse_pattern("cart:{<customer:int>}:<kind:str>")
    keys = [f"cart:{{42}}:{kind}" for kind in ("items", "totals", "coupons")]
    assert all(p.matches(k) for k in keys)
    assert {key_hash_slot(k) for k in keys} == {key_hash_slot("42")}


# --------------------------------------------------------------------------------------------
# Matcher


def test_matcher_basic():
    m = Matcher(
        [
            ("products", "prod:catalog:product:v3:<id:int>"),
            ("carts", parse_pattern("prod:cart:{<c:int>}:items")),
        ]
    )
    assert m.names == ["products", "carts"]
    assert m.match(b"prod:catalog:product:v3:17") == "products"
    assert m.match_index(b"prod:cart:{9}:items") == 1
    assert m.match(b"prod:catalog:product:v3:x") is None
    assert m.match_index(b"prod:catalog:product:v4:1") == -1
    assert m.match(b"") is None
    assert m.match("prod:catalog:product:v3:17") == "products"


def test_matcher_accepts_any_bytes_like_key():
    m = Matcher([("k", "k:<id:int>")])
    assert m.match(bytearray(b"k:1")) == "k"
    assert m.match(memoryview(b"k:1")) == "k"


def test_empty_matcher():
    m = Matcher([])
    assert m.names == []
    assert m.match(b"anything") is None


@pytest.mark.parametrize(
    ("items", "key", "expected"),
    [
        # most literal bytes wins, wherever it sits in the trie
        ([("generic", "a:*"), ("specific", "a:special")], b"a:special", "specific"),
        ([("specific", "a:special"), ("generic", "a:*")], b"a:other", "generic"),
        ([("rest", "a:<r:any>"), ("v", "a:v1:<id:int>")], b"a:v1:5", "v"),
        (
            [("leading", "<t:int>:orders:<id:int>"), ("tenant1", "1:<what:str>:<id:int>")],
            b"1:orders:5",
            "leading",
        ),
        (
            [("tenant1", "1:<what:str>:<id:int>"), ("leading", "<t:int>:orders:<id:int>")],
            b"1:orders:5",
            "leading",
        ),
        ([("deep", "x:y:z:<a:any>"), ("shallow", "x:<a:str>:z:<b:str>")], b"x:y:z:w", "deep"),
        # equal literal bytes: fewer 'any' wins
        ([("any", "k:<r:any>"), ("str", "k:<r:str>")], b"k:a", "str"),
        ([("any", "k:<r:any>"), ("str", "k:<r:str>")], b"k:a:b", "any"),
        # full tie: registration order
        ([("first", "k:<a:int>"), ("second", "k:<b:hex>")], b"k:12", "first"),
        ([("second", "k:<b:hex>"), ("first", "k:<a:int>")], b"k:12", "second"),
        ([("same1", "k:<a:int>"), ("same2", "k:<a:int>")], b"k:1", "same1"),
        # fully literal patterns live deep in the trie; a shorter key must not reach them
        ([("lit", "a:b:c"), ("star", "a:b:*")], b"a:b:c", "lit"),
        ([("lit", "a:b:c"), ("star", "a:b:*")], b"a:b", None),
        ([("lit", "a:b:c"), ("star", "a:b:*")], b"a:b:c:d", None),
    ],
)
def test_matcher_precedence(items, key, expected):
    assert Matcher(items).match(key) == expected


def test_matcher_non_utf8_keys():
    m = Matcher([("bin", "bin:<x:str>"), ("café", "café:<x:any>")])
    assert m.match(b"bin:\xff\xfe\x00") == "bin"
    assert m.match("café:\n:x".encode()) == "café"
    assert m.match(b"caf\xe9:1") is None  # latin-1 'é' is not the UTF-8 literal
    assert m.match(b"\xff:bin") is None


def _reference_match(items: list[tuple[str, str]], key: bytes) -> int:
    """The precedence rule written out literally."""
    pats = [parse_pattern(t) for _, t in items]
    matching = [i for i, p in enumerate(pats) if p.matches(key)]
    if not matching:
        return -1
    return min(
        matching,
        key=lambda i: (
            -len(pats[i].literal_text.encode()),
            sum(ph.kind == "any" for ph in pats[i].placeholders),
            i,
        ),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(any_patterns, min_size=1, max_size=8))
def test_matcher_agrees_with_reference(data, texts):
    items = [(f"ns{i}", t) for i, t in enumerate(texts)]
    m = Matcher(items)
    for _ in range(5):
        source = parse_pattern(data.draw(st.sampled_from(texts)))
        key = data.draw(st.one_of(keys_of(source), st.binary(max_size=12)))
        assert m.match_index(key) == _reference_match(items, key)


# --------------------------------------------------------------------------------------------
# intersection_witness

INTERSECTING = [
    ("a:<x:int>", "a:*"),
    ("a:<x:hex>", "a:<y:int>"),
    ("a:<x:any>", "a:b:<c:int>"),
    ("a:<h:hash>", "a:<x:int>"),
    ("a:<h:hash>", "a:<u:uuid>"),  # '-' is base64url, and a uuid is 36 chars
    ("a:<x:any>", "<y:any>:b"),
    ("<a:str>:<b:str>", "x:<c:any>"),
    ("p:{<c:int>}:x", "p:{<d:hex>}:x"),
    ("v<n:int>:x", "<s:str>:x"),
    ("k:<a:int><b:hex>", "k:<c:hex>"),
    ("same:<id:int>", "same:<id:int>"),
    ("café:<x:str>", "<y:str>:1"),
    ("x:<h:hash>", "x:<n:int>-"),  # 15 digits and a '-' make a 16-char base64url digest
    ("x:<h:hash>", "x:<n:hex>=="),  # up to two '=' of padding
]

DISJOINT = [
    ("a:<x:int>", "a:<y:uuid>"),  # a uuid contains '-'
    ("p:{<c:int>}:x", "p:{all}:x"),
    ("a:<x:int>", "b:<x:int>"),
    ("a:<x:str>", "a:<y:str>:<z:str>"),  # str never holds ':'
    ("a:<x:any>", "a"),
    ("a:<x:hex>", "a:<y:hex>:"),
    ("x:<a:int>", "x:v<n:int>"),
    ("x:<u:uuid>", "x:<h:hex>"),  # hex has no '-'
    ("x:<h:hash>", "x:<s:str>:y"),
    ("abc", "ab<x>bc"),  # too short for the second
    ("pre:<x:int>:suf", "pre:<y:int>:other"),
    ("é:<x:int>", "e:<x:int>"),
    ("x:<h:hash>", "x:<n:hex>==="),
    ("x:<h:hash>", "x:=<n:hex>"),  # padding only at the end
]


@pytest.mark.parametrize(("a", "b"), INTERSECTING)
def test_intersecting_pairs(a, b):
    for x, y in ((a, b), (b, a)):
        w = intersection_witness(x, y)
        assert w is not None
        assert parse_pattern(x).matches(w) and parse_pattern(y).matches(w)


@pytest.mark.parametrize(("a", "b"), DISJOINT)
def test_disjoint_pairs(a, b):
    assert intersection_witness(a, b) is None
    assert intersection_witness(parse_pattern(b), parse_pattern(a)) is None


def test_witnesses_are_shortest_and_readable():
    assert intersection_witness("a:<x:hex>", "a:<y:int>") == "a:0"
    assert intersection_witness("a:<x:int>", "a:*") == "a:0"
    assert intersection_witness("a:<h:hash>", "a:<x:int>") == "a:" + "0" * 16
    assert intersection_witness("a:<x:any>", "a:b:<c:int>") == "a:b:0"
    assert intersection_witness("café:*", "<x:str>:<y:int>") == "café:0"


def test_hash_int_overlap_needs_sixteen_digits():
    w = intersection_witness("a:<h:hash>:z", "a:<x:int>:z")
    assert w == "a:" + "0" * 16 + ":z"
    assert intersection_witness("a:<h:hash>:z", "a:<x:int>=:z") == "a:" + "0" * 16 + "=:z"


# A small grammar whose patterns share literals and shapes; the second pattern of a pair is often
# the first with one segment changed, so that a good share of pairs meet and the rest only just miss.
PAIR_WORDS = ["a", "b", "1", "ab", "v1"]
PAIR_SEGMENTS = (
    PAIR_WORDS
    + KIND_SEGMENTS
    + ["<p:any>", "v<n:int>", "<p:hex>b", "{<c:int>}", "{a}", "a<p:int>", "<p:int><q:hex>"]
)
pair_segments = st.lists(st.sampled_from(PAIR_SEGMENTS), min_size=1, max_size=3)
pair_patterns = pair_segments.map(":".join)


@st.composite
def pattern_pairs(draw) -> tuple[str, str]:
    a = draw(pair_segments)
    if draw(st.booleans()):
        return ":".join(a), draw(pair_patterns)
    b = list(a)
    widening = st.sampled_from(["*", "<p:any>", "<p:str>", "<p:hex>", "<p:int>"])
    b[draw(st.integers(0, len(b) - 1))] = draw(st.one_of(st.sampled_from(PAIR_SEGMENTS), widening))
    return ":".join(a), ":".join(b)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), pattern_pairs())
def test_intersection_witness_is_exact(data, pair):
    a, b = parse_pattern(pair[0]), parse_pattern(pair[1])
    w = intersection_witness(a, b)
    assert (w is None) == (intersection_witness(b, a) is None)
    event("intersect" if w is not None else "disjoint")
    if w is not None:
        assert a.matches(w) and b.matches(w)
        return
    for _ in range(8):
        assert not b.matches(data.draw(keys_of(a)))
        assert not a.matches(data.draw(keys_of(b)))


@settings(max_examples=200)
@given(pattern_pairs())
def test_examples_of_one_matching_the_other_imply_a_witness(pair):
    a, b = parse_pattern(pair[0]), parse_pattern(pair[1])
    rng = random.Random(0)
    if any(b.matches(a.example(rng)) for _ in range(20)):
        assert intersection_witness(a, b) is not None


def test_every_pair_of_kinds():
    # '-' is what keeps a uuid apart from the digit-only kinds
    disjoint = {("uuid", "int"), ("int", "uuid"), ("uuid", "hex"), ("hex", "uuid")}
    for ka in PLACEHOLDER_KINDS:
        for kb in PLACEHOLDER_KINDS:
            a, b = parse_pattern(f"k:<a:{ka}>"), parse_pattern(f"k:<b:{kb}>")
            w = intersection_witness(a, b)
            if (ka, kb) in disjoint:
                assert w is None, (ka, kb)
            else:
                assert w is not None and a.matches(w) and b.matches(w), (ka, kb)


def test_intersection_is_fast_on_realistic_pairs():
    # Loose bound: this guards against a blow-up, the bench measures the real figure.
    kinds = ["int", "uuid", "hash", "str", "any"]
    texts = [
        f"{env}:{svc}:{ent}:v{n}:<id:{kind}>"
        for env in ("prod", "dev")
        for svc in ("cart", "catalog", "users")
        for ent in ("item", "product")
        for n in (1, 2)
        for kind in kinds
    ]
    rng = random.Random(3)
    pairs = [(parse_pattern(rng.choice(texts)), parse_pattern(rng.choice(texts))) for _ in range(1000)]
    started = time.perf_counter()
    results = [intersection_witness(a, b) for a, b in pairs]
    assert time.perf_counter() - started < 2.0
    assert any(r is not None for r in results) and any(r is None for r in results)
