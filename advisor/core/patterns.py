"""Key patterns: parsing, matching, hash slots, sizing and exact overlap detection.

A pattern such as ``prod:catalog:product:v3:<id:int>`` describes every key of a namespace
(design-file.md section 2). Keys are bytes, because Redis keys need not be UTF-8; the literal
text of a pattern is matched as its UTF-8 encoding, and ``str``/``any`` placeholders match any
bytes. ``str`` arguments given where a key is expected are encoded as UTF-8 with
``surrogateescape``, so a key decoded that way round-trips.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import string
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

PLACEHOLDER_KINDS = ("int", "uuid", "hex", "hash", "str", "any")

# The sizing model of rules.md: bytes a placeholder is assumed to take in a key.
KIND_BYTES = {"int": 8, "uuid": 36, "hex": 32, "hash": 44, "str": 16, "any": 32}

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

_HEX = rb"[0-9a-fA-F]"
_KIND_REGEX = {
    "int": rb"[0-9]+",
    "uuid": _HEX + rb"{8}-" + _HEX + rb"{4}-" + _HEX + rb"{4}-" + _HEX + rb"{4}-" + _HEX + rb"{12}",
    "hex": _HEX + rb"+",
    "hash": rb"[A-Za-z0-9_\-]{16,}={0,2}",
    "str": rb"[^:]+",
    "any": rb".+",
}


class PatternError(ValueError):
    """A syntax error in a key pattern."""

    def __init__(self, message: str, position: int | None = None, *, hint: str | None = None):
        self.message = message
        self.position = position
        self.hint = hint
        text = message if position is None else f"{message} at position {position}"
        super().__init__(f"{text} ({hint})" if hint else text)


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Placeholder:
    name: str | None  # None for '*'
    kind: str


Token = Literal | Placeholder


@dataclass(frozen=True)
class Pattern:
    """A parsed key pattern. Build it with :func:`parse_pattern`, not directly.

    ``hash_tag`` reads the pattern the way Redis reads a key (the first '{', the first '}' after
    it). It is the tag of every key as long as no ``str``/``any`` value before or inside it holds
    a brace: ``cart:{a}b}:items`` matches ``cart:{<c:str>}:items`` but Redis hashes it on ``a``.
    """

    text: str
    tokens: tuple[Token, ...]
    placeholders: tuple[Placeholder, ...]
    literal_text: str
    literal_prefix: tuple[str, ...]
    segments: tuple[tuple[Token, ...], ...]
    hash_tag: tuple[Token, ...] | None
    has_constant_hash_tag: bool
    # Compiled regex and automaton, built on first use; not part of the value.
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def matches(self, key: bytes | str) -> bool:
        return self.regex().match(_key_bytes(key)) is not None

    def regex(self) -> re.Pattern[bytes]:
        """The anchored regex over key bytes, with one capturing group per placeholder, in order."""
        rx = self._cache.get("regex")
        if rx is None:
            rx = self._cache["regex"] = re.compile(
                rb"\A" + _regex_source(self, capture=True) + rb"\Z", re.DOTALL
            )
        return rx

    def key_bytes_estimate(self) -> int:
        """Key size according to the sizing model: literal bytes plus a fixed size per placeholder kind."""
        return len(self.literal_text.encode()) + sum(KIND_BYTES[p.kind] for p in self.placeholders)

    def example(self, rng: random.Random | None = None) -> str:
        """A random concrete key that this pattern matches."""
        rng = _RNG if rng is None else rng
        return "".join(t.text if isinstance(t, Literal) else _example_value(t.kind, rng) for t in self.tokens)

    def __str__(self) -> str:
        return self.text


_RNG = random.Random()
_STR_CHARS = string.ascii_lowercase + string.digits


def _example_value(kind: str, rng: random.Random) -> str:
    if kind == "int":
        return str(rng.randrange(10 ** rng.randint(1, 9)))
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "hex":
        return f"{rng.getrandbits(64):016x}"
    if kind == "hash":
        return base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()
    if kind == "str":
        return "".join(rng.choices(_STR_CHARS, k=rng.randint(3, 10)))
    # any: usually spans several segments, which is what makes it worth distinguishing from str
    return ":".join("".join(rng.choices(_STR_CHARS, k=rng.randint(2, 8))) for _ in range(rng.randint(1, 3)))


def _key_bytes(key: bytes | str) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8", "surrogateescape")
    return bytes(key)  # bytearray, memoryview


def _regex_source(p: Pattern, *, capture: bool) -> bytes:
    parts = []
    for t in p.tokens:
        if isinstance(t, Literal):
            parts.append(re.escape(t.text.encode()))
        else:
            parts.append(b"(" + _KIND_REGEX[t.kind] + b")" if capture else _KIND_REGEX[t.kind])
    return b"".join(parts)


# --------------------------------------------------------------------------------------------
# Parsing


@lru_cache(maxsize=16384)
def parse_pattern(text: str) -> Pattern:
    """Parse a key pattern; raises :class:`PatternError` with the offending position."""
    if not isinstance(text, str):
        raise TypeError(f"pattern must be a str, not {type(text).__name__}")
    if not text:
        raise PatternError("empty pattern")
    spans: list[tuple[int, int, Token]] = []  # (start, end, token) in pattern text
    lit_start = 0
    i, n = 0, len(text)

    def flush(end: int) -> None:
        if end > lit_start:
            spans.append((lit_start, end, Literal(text[lit_start:end])))

    while i < n:
        ch = text[i]
        if ch == "<":
            flush(i)
            end, placeholder = _parse_placeholder(text, i)
            spans.append((i, end, placeholder))
            i = lit_start = end
            continue
        if ch == ">":
            raise PatternError("stray '>'", i)
        if ch == "*":
            flush(i)
            spans.append((i, i + 1, Placeholder(None, "str")))
            lit_start = i + 1
        i += 1
    flush(n)

    tokens = tuple(t for _, _, t in spans)
    placeholders = tuple(t for t in tokens if isinstance(t, Placeholder))
    literal_text = "".join(t.text for t in tokens if isinstance(t, Literal))
    segments = _split_segments(tokens)
    literal_prefix: list[str] = []
    for seg in segments:
        if any(isinstance(t, Placeholder) for t in seg):
            break
        literal_prefix.append("".join(t.text for t in seg))
    hash_tag = _hash_tag(text, spans)
    return Pattern(
        text=text,
        tokens=tokens,
        placeholders=placeholders,
        literal_text=literal_text,
        literal_prefix=tuple(literal_prefix),
        segments=segments,
        hash_tag=hash_tag,
        has_constant_hash_tag=hash_tag is not None and not any(isinstance(t, Placeholder) for t in hash_tag),
    )


def _parse_placeholder(text: str, start: int) -> tuple[int, Placeholder]:
    """Parse ``<name>`` or ``<name:kind>`` at ``start``; returns the index after it and the placeholder."""
    close = text.find(">", start + 1)
    if close == -1 or text.find("<", start + 1, close) != -1:
        raise PatternError("unclosed '<'", start)
    body = text[start + 1 : close]
    name, sep, kind = body.partition(":")
    if not name:
        raise PatternError("empty placeholder name", start)
    if not _NAME_RE.fullmatch(name):
        raise PatternError(f"invalid placeholder name {name!r}", start + 1)
    if sep:
        if kind not in PLACEHOLDER_KINDS:
            what = "empty placeholder kind" if not kind else f"unknown placeholder kind {kind!r}"
            hint = f"expected one of {', '.join(PLACEHOLDER_KINDS)}"
            raise PatternError(what, start + 2 + len(name), hint=hint)
    else:
        kind = "str"
    return close + 1, Placeholder(name, kind)


def _split_segments(tokens: tuple[Token, ...]) -> tuple[tuple[Token, ...], ...]:
    segments: list[tuple[Token, ...]] = []
    current: list[Token] = []
    for t in tokens:
        if isinstance(t, Placeholder):
            current.append(t)
            continue
        first, *rest = t.text.split(":")
        if first:
            current.append(Literal(first))
        for part in rest:
            segments.append(tuple(current))
            current = [Literal(part)] if part else []
    segments.append(tuple(current))
    return tuple(segments)


def _hash_tag(text: str, spans: list[tuple[int, int, Token]]) -> tuple[Token, ...] | None:
    # Braces never occur inside a valid placeholder, so positions in the text are positions
    # in the literal stream, as Redis would see them in a key.
    open_ = text.find("{")
    if open_ == -1:
        return None
    close = text.find("}", open_ + 1)
    if close == -1:
        return None  # Redis hashes the whole key; the brace is plain text
    if close == open_ + 1:
        # Redis would hash the whole key, which is never what '{}' in a design means.
        raise PatternError("empty hash tag '{}'", open_)
    tag: list[Token] = []
    for start, end, t in spans:
        lo, hi = max(start, open_ + 1), min(end, close)
        if lo >= hi:
            continue
        tag.append(t if isinstance(t, Placeholder) else Literal(text[lo:hi]))
    return tuple(tag)


# --------------------------------------------------------------------------------------------
# Hash slots


def key_hash_slot(key: bytes | str) -> int:
    """The Redis Cluster slot of a key: CRC16-XMODEM of its hash tag (or of the whole key) mod 16384."""
    key = _key_bytes(key)
    open_ = key.find(b"{")
    if open_ != -1:
        close = key.find(b"}", open_ + 1)
        if close > open_ + 1:
            key = key[open_ + 1 : close]
    # crc_hqx with initial value 0 is CRC16-XMODEM, the variant Redis Cluster uses.
    return binascii.crc_hqx(key, 0) & 0x3FFF


# --------------------------------------------------------------------------------------------
# Exact intersection of two pattern languages
#
# A pattern is a concatenation of byte classes with repetition counts, so it compiles to a
# small NFA whose states are (item, count so far). Byte classes are 256-bit int masks, which
# makes the product construction a matter of ANDing masks: no alphabet partition needed. A BFS
# over the product automaton finds the shortest common key or proves there is none.


def _mask(chars: bytes) -> int:
    m = 0
    for b in chars:
        m |= 1 << b
    return m


_ALL = (1 << 256) - 1
_DIGITS = _mask(string.digits.encode())
_HEXDIGITS = _mask(string.hexdigits.encode())
_B64URL = _mask((string.ascii_letters + string.digits + "-_").encode())
_DASH = _mask(b"-")
_PAD = _mask(b"=")
_NOT_COLON = _ALL & ~_mask(b":")

# An item is (mask, min, max); max None means unbounded.
_KIND_ITEMS: dict[str, tuple[tuple[int, int, int | None], ...]] = {
    "int": ((_DIGITS, 1, None),),
    "uuid": (
        (_HEXDIGITS, 8, 8),
        (_DASH, 1, 1),
        (_HEXDIGITS, 4, 4),
        (_DASH, 1, 1),
        (_HEXDIGITS, 4, 4),
        (_DASH, 1, 1),
        (_HEXDIGITS, 4, 4),
        (_DASH, 1, 1),
        (_HEXDIGITS, 12, 12),
    ),
    "hex": ((_HEXDIGITS, 1, None),),
    "hash": ((_B64URL, 16, None), (_PAD, 0, 2)),
    "str": ((_NOT_COLON, 1, None),),
    "any": ((_ALL, 1, None),),
}

# Witness bytes are chosen from a class in this order, so that witnesses read well.
_PREFERRED = (
    string.ascii_lowercase + string.digits + string.ascii_uppercase + "-_.=" + string.punctuation + " "
).encode()
_PREFERRED_ORDER = list(dict.fromkeys(_PREFERRED)) + [b for b in range(256) if b not in _PREFERRED]


def _pick_byte(mask: int) -> int:
    if mask & (mask - 1) == 0:
        return mask.bit_length() - 1
    for b in _PREFERRED_ORDER:
        if mask >> b & 1:
            return b
    raise AssertionError("empty mask")


def _automaton_parts(p: Pattern) -> tuple[bytes, bytes, tuple]:
    """Leading literal bytes, trailing literal bytes and the item list of the whole pattern."""
    parts = p._cache.get("items")
    if parts is None:
        items: list[tuple[int, int, int | None]] = []
        for t in p.tokens:
            if isinstance(t, Literal):
                items.extend((1 << b, 1, 1) for b in t.text.encode())
            else:
                items.extend(_KIND_ITEMS[t.kind])
        toks = p.tokens
        lead = toks[0].text.encode() if isinstance(toks[0], Literal) else b""
        trail = toks[-1].text.encode() if isinstance(toks[-1], Literal) else b""
        parts = p._cache["items"] = (lead, trail, tuple(items))
    return parts


def _first_byte_mask(p: Pattern) -> int:
    """The bytes a key of this pattern can start with."""
    mask = 0
    for item_mask, lo, _ in _automaton_parts(p)[2]:
        mask |= item_mask
        if lo:
            return mask
    return mask


def _is_literal_item(item: tuple[int, int, int | None]) -> bool:
    mask, lo, hi = item
    return lo == 1 and hi == 1 and mask & (mask - 1) == 0


@lru_cache(maxsize=4096)
def _nfa(items: tuple) -> tuple[list[list[tuple[int, int]]], list[bool]]:
    """Per state: consuming transitions (mask, target) after epsilon closure, and acceptance."""
    n = len(items)
    offset = [0] * (n + 1)
    for i, (_, lo, hi) in enumerate(items):
        offset[i + 1] = offset[i] + (hi if hi is not None else lo) + 1
    final = offset[n]
    trans: list[list[tuple[int, int]]] = []
    accept: list[bool] = []
    for i, (_, lo, hi) in enumerate(items):
        for c in range((hi if hi is not None else lo) + 1):
            out: dict[int, int] = {}
            acc = False
            j, d = i, c
            while True:
                if j == n:
                    acc = True
                    break
                mask, jlo, jhi = items[j]
                if jhi is None:
                    target = offset[j] + min(d + 1, jlo)
                    out[target] = out.get(target, 0) | mask
                elif d < jhi:
                    target = offset[j] + d + 1
                    out[target] = out.get(target, 0) | mask
                if d < jlo:
                    break
                j, d = j + 1, 0
            trans.append([(m, t) for t, m in out.items()])
            accept.append(acc)
    trans.append([])
    accept.append(True)
    assert len(trans) == final + 1
    return trans, accept


def intersection_witness(a: Pattern | str, b: Pattern | str) -> str | None:
    """A shortest key matched by both patterns, or None when no key can match both (exact)."""
    pa = parse_pattern(a) if isinstance(a, str) else a
    pb = parse_pattern(b) if isinstance(b, str) else b
    lead_a, trail_a, items_a = _automaton_parts(pa)
    lead_b, trail_b, items_b = _automaton_parts(pb)
    # Cheap, exact rejections: every key starts with its pattern's leading literal and ends
    # with its trailing one, so these must agree where they overlap.
    k = min(len(lead_a), len(lead_b))
    if lead_a[:k] != lead_b[:k]:
        return None
    k = min(len(trail_a), len(trail_b))
    if k and trail_a[-k:] != trail_b[-k:]:
        return None

    # Peel the common literal prefix and suffix off both automata: L(a) & L(b) = P (a' & b') S.
    lo, hi_a, hi_b = 0, len(items_a), len(items_b)
    while lo < hi_a and lo < hi_b and _is_literal_item(items_a[lo]) and _is_literal_item(items_b[lo]):
        if items_a[lo] != items_b[lo]:
            return None
        lo += 1
    prefix = bytes(items_a[i][0].bit_length() - 1 for i in range(lo))
    suffix_len = 0
    while (
        hi_a > lo
        and hi_b > lo
        and _is_literal_item(items_a[hi_a - 1])
        and _is_literal_item(items_b[hi_b - 1])
    ):
        if items_a[hi_a - 1] != items_b[hi_b - 1]:
            return None
        hi_a -= 1
        hi_b -= 1
        suffix_len += 1
    suffix = bytes(items_a[i][0].bit_length() - 1 for i in range(hi_a, hi_a + suffix_len))

    middle = _product_bfs(items_a[lo:hi_a], items_b[lo:hi_b])
    if middle is None:
        return None
    return (prefix + middle + suffix).decode("utf-8", "surrogateescape")


def _product_bfs(items_a: tuple, items_b: tuple) -> bytes | None:
    trans_a, acc_a = _nfa(items_a)
    trans_b, acc_b = _nfa(items_b)
    if acc_a[0] and acc_b[0]:
        return b""
    width = len(trans_b)
    parent: dict[int, tuple[int, int]] = {0: (-1, 0)}
    queue = deque([0])
    while queue:
        pair = queue.popleft()
        sa, sb = divmod(pair, width)
        out_b = trans_b[sb]
        for ma, ta in trans_a[sa]:
            for mb, tb in out_b:
                m = ma & mb
                if not m:
                    continue
                nxt = ta * width + tb
                if nxt in parent:
                    continue
                parent[nxt] = (pair, m)
                if acc_a[ta] and acc_b[tb]:
                    return _walk_back(parent, nxt)
                queue.append(nxt)
    return None


def _walk_back(parent: dict[int, tuple[int, int]], state: int) -> bytes:
    out = []
    while True:
        prev, mask = parent[state]
        if prev == -1:
            break
        out.append(_pick_byte(mask))
        state = prev
    return bytes(reversed(out))


class ComparisonTooLarge(ValueError):
    """Comparing the two patterns would visit more states than the limit allows."""


def difference_witness(a: Pattern | str, b: Pattern | str, *, limit: int = 20_000) -> str | None:
    """A shortest key matched by `a` but not by `b`, or None when every key of `a` is a key of
    `b` (exact). Raises ComparisonTooLarge past `limit` states.

    The product of `a`'s automaton with the subset construction of `b`'s, built as it is walked:
    a state is one of `a`'s and the set of `b`'s that the same bytes reach, and a key of `a`
    that leaves `b` with no accepting state is the witness.
    """
    pa = parse_pattern(a) if isinstance(a, str) else a
    pb = parse_pattern(b) if isinstance(b, str) else b
    trans_a, acc_a = _nfa(_automaton_parts(pa)[2])
    trans_b, acc_b = _nfa(_automaton_parts(pb)[2])
    start = (0, frozenset({0}))
    if acc_a[0] and not acc_b[0]:
        return ""
    parent: dict = {start: (-1, 0)}
    queue = deque([start])
    while queue:
        pair = queue.popleft()
        sa, sb = pair
        moves_b = [move for s in sb for move in trans_b[s]]
        for ma, ta in trans_a[sa]:
            for mask, targets in _split_by(ma, moves_b):
                nxt = (ta, targets)
                if nxt in parent:
                    continue
                parent[nxt] = (pair, mask)
                if acc_a[ta] and not any(acc_b[t] for t in targets):
                    return _walk_back(parent, nxt).decode("utf-8", "surrogateescape")
                if len(parent) > limit:
                    raise ComparisonTooLarge(f"more than {limit} states")
                queue.append(nxt)
    return None


def _split_by(mask: int, moves: list[tuple[int, int]]) -> list[tuple[int, frozenset[int]]]:
    """`mask` cut into the byte classes that lead to the same set of targets under `moves`."""
    regions: dict[frozenset[int], int] = {frozenset(): mask}
    for move_mask, target in moves:
        cut: dict[frozenset[int], int] = {}
        for targets, region in regions.items():
            inside, outside = region & move_mask, region & ~move_mask
            if inside:
                key = targets | {target}
                cut[key] = cut.get(key, 0) | inside
            if outside:
                cut[targets] = cut.get(targets, 0) | outside
        regions = cut
    return [(region, targets) for targets, region in regions.items()]


# --------------------------------------------------------------------------------------------
# Matching many patterns


class Matcher:
    """Finds the namespace a key belongs to among many registered patterns.

    When several patterns match one key, the most specific wins: the one with the most literal
    bytes, then the one with the fewest ``any`` placeholders, then the one registered first.

    Patterns are indexed in a trie on their literal prefix segments (every key of a pattern
    starts with exactly those ':'-separated segments), so a key only meets the patterns stored
    at the trie nodes along its own first segments; patterns whose first segment is not fully
    literal sit at the root and meet every key. Each node with patterns holds one compiled
    alternation of them in precedence order, so the first alternative that matches is the
    node's best, and ``lastindex`` says which one it was.
    """

    def __init__(self, items: Iterable[tuple[str, Pattern | str]]):
        self.names: list[str] = []
        self.patterns: list[Pattern] = []
        for name, pat in items:
            self.names.append(name)
            self.patterns.append(parse_pattern(pat) if isinstance(pat, str) else pat)
        pats = self.patterns
        order = sorted(
            range(len(pats)),
            key=lambda i: (
                -len(pats[i].literal_text.encode()),
                sum(p.kind == "any" for p in pats[i].placeholders),
                i,
            ),
        )
        self._rank = [0] * len(order)
        for r, i in enumerate(order):
            self._rank[i] = r

        # Trie nodes are [children, members]; members in precedence order.
        root: list = [{}, []]
        self._depth = 0
        for i in order:
            node = root
            for seg in pats[i].literal_prefix:
                node = node[0].setdefault(seg.encode(), [{}, []])
            node[1].append(i)
            self._depth = max(self._depth, len(pats[i].literal_prefix))

        # Replace each node's members by the chain of buckets a key reaching that node must try:
        # its own and its ancestors', best possible rank first, so the search can stop early.
        stack = [(root, ())]
        while stack:
            node, chain = stack.pop()
            if node[1]:
                chain = tuple(sorted((*chain, self._bucket(node[1])), key=lambda b: b[3]))
            node[1] = chain
            stack.extend((child, chain) for child in node[0].values())
        self._root = root

    def _bucket(self, members: list[int]) -> tuple:
        source = b"|".join(b"(" + _regex_source(self.patterns[i], capture=False) + rb"\Z)" for i in members)
        match = re.compile(rb"\A(?:" + source + b")", re.DOTALL).match
        # group k (1-based) is members[k - 1]
        group_index = (-1, *members)
        group_rank = (-1, *(self._rank[i] for i in members))
        # Root patterns start with a placeholder, and most keys cannot even begin the way they
        # do (a letter where an int is due): a table of possible first bytes skips the regex.
        first_mask = 0
        for i in members:
            first_mask |= _first_byte_mask(self.patterns[i])
        first = None if first_mask == _ALL else bytes(first_mask >> b & 1 for b in range(256))
        return match, group_index, group_rank, group_rank[1], first

    def match_index(self, key: bytes) -> int:
        """Index (in registration order) of the most specific matching pattern, -1 if none."""
        if key.__class__ is not bytes:
            key = _key_bytes(key)
        if not key:
            return -1  # every pattern needs at least one byte
        children, chain = self._root
        for part in key.split(b":", self._depth):
            node = children.get(part)
            if node is None:
                break
            children, chain = node
        best = -1
        best_rank = len(self._rank)
        for match, group_index, group_rank, min_rank, first in chain:
            if min_rank >= best_rank:
                break
            if first is not None and not first[key[0]]:
                continue
            m = match(key)
            if m is not None:
                g = m.lastindex
                if group_rank[g] < best_rank:
                    best, best_rank = group_index[g], group_rank[g]
        return best

    def match(self, key: bytes) -> str | None:
        """Name of the namespace the key belongs to, or None."""
        idx = self.match_index(key)
        return None if idx < 0 else self.names[idx]

    def __len__(self) -> int:
        return len(self.names)
