"""Per-namespace statistics of a scan in bounded memory.

Nothing is kept per key: counters, a fixed TTL histogram (quantiles), exact TTL min and max,
a small heap of the biggest keys and a few masked examples per namespace, a 16384-slot counter
on clusters, the bounded pattern table of `infer.py` for keys that match no namespace, and one
small heap, for the whole scan, of the sampled collections with the most elements (DRF016).

A batch (about SCAN COUNT keys) is folded in with C-level passes (map, zip, Counter, sorted)
rather than a Python loop per key: the batch is grouped by namespace with one sort, and each
namespace's slice is counted with Counter.update, map and min/max. Only the sampled MEMORY USAGE
replies get a loop of their own.
"""

from __future__ import annotations

import heapq
import math
import os
import re
from binascii import crc_hqx
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable
from functools import partial
from itertools import accumulate, compress, repeat
from operator import and_, eq, itemgetter, lt, sub

from advisor.core.patterns import Literal, Matcher, key_hash_slot
from advisor.core.scan.infer import PatternInferrer
from advisor.core.scan.masking import find_in_batch, mask_key
from advisor.core.scan.spec import NamespaceSpec
from advisor.core.scan.ttlhist import FIRST_TTL_BUCKET, NO_TTL_BUCKET, TTL_BOUNDS_MS, ttl_quantile_ms

N_BUCKETS = len(TTL_BOUNDS_MS) + 1
SLOTS = 16384
MIN_MEMORY_SAMPLES = 3

# TYPE replies as hiredis gives them -> names in the report ("json" for RedisJSON's type)
TYPE_NAMES = {
    b"string": "string",
    b"hash": "hash",
    b"list": "list",
    b"set": "set",
    b"zset": "zset",
    b"stream": "stream",
    b"ReJSON-RL": "json",
}


def type_name(reply: bytes) -> str:
    name = TYPE_NAMES.get(reply)
    if name is None:
        name = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else "unknown"
    return name


# With few patterns (one instance rarely has more), one alternation of all of them in the
# Matcher's precedence order, applied with map(), beats a Python call per key by ~3x; with
# many, the Matcher's trie wins.
FAST_MATCH_MAX_PATTERNS = 32


def batch_matcher(matcher: Matcher) -> Callable[[list[bytes]], list[int]]:
    """A function from a batch of keys to their pattern indexes, -1 for none, as Matcher.match_index.

    The single alternation tries the patterns most specific first (most literal bytes, fewest
    `any` placeholders, registration order: the Matcher's rule), each anchored at both ends, so
    the first alternative that matches is the Matcher's answer; `tests/test_scan_units.py` holds
    the two to the same results. An empty marker group closes each alternative: `lastindex`
    names the marker, so the placeholders' own groups do not matter.
    """
    pats = matcher.patterns
    if not pats:
        return _none_match
    fallback = partial(_map_list, matcher.match_index)
    if len(pats) > FAST_MATCH_MAX_PATTERNS:
        return fallback
    order = sorted(
        range(len(pats)),
        key=lambda i: (
            -len(pats[i].literal_text.encode()),
            sum(p.kind == "any" for p in pats[i].placeholders),
            i,
        ),
    )
    # Literal text all patterns start with ("prod:" on most instances) is matched once, not once
    # per alternative. re.escape works character by character, so the escaped common prefix
    # is a prefix of every escaped source.
    firsts = [p.tokens[0].text if p.tokens and isinstance(p.tokens[0], Literal) else "" for p in pats]
    common = re.escape(os.path.commonprefix(firsts).encode())
    alternatives = []
    group_to_index = [-1]
    for i in order:
        rx = pats[i].regex()
        source = rx.pattern
        if not (source.startswith(rb"\A" + common) and source.endswith(rb"\Z")):
            return fallback
        alternatives.append(source[2 + len(common) : -2] + rb"\Z()")
        group_to_index += [-1] * rx.groups + [i]
    combined = re.compile(rb"\A" + common + rb"(?:" + b"|".join(alternatives) + b")", re.DOTALL).match
    table = group_to_index

    def match_batch(keys: list[bytes]) -> list[int]:
        return [table[m.lastindex] if m is not None else -1 for m in map(combined, keys)]

    return match_batch


def _map_list(fn, keys):
    return list(map(fn, keys))


def _none_match(keys: list[bytes]) -> list[int]:
    return [-1] * len(keys)


class NamespaceStats:
    """The running totals of one namespace (or of the unmatched keys)."""

    __slots__ = (
        "keys",
        "types",
        "hist",
        "ttl_min_ms",
        "ttl_max_ms",
        "above_ttl",
        "mem_sum",
        "mem_n",
        "oversized",
        "top",
        "top_floor",
        "examples",
        "pii",
        "pii_example",
        "mem_limit",
        "no_ttl_types",
        "elements_n",
        "elements_over",
        "_seq",
    )

    def __init__(self, mem_limit: int | None):
        self.keys = 0
        self.types: Counter[bytes] = Counter()
        self.hist: Counter[int] = Counter()  # TTL bucket -> keys
        self.ttl_min_ms: int | None = None
        self.ttl_max_ms: int | None = None
        self.above_ttl = 0
        self.mem_sum = 0
        self.mem_n = 0
        self.oversized = 0
        self.top: list[tuple[int, int, bytes, bytes]] = []  # min-heap of (memory, seq, key, type)
        self.top_floor = -1
        self.examples: list[str] = []
        self.pii: Counter[str] = Counter()
        self.pii_example: str | None = None
        self.mem_limit = math.inf if mem_limit is None else mem_limit
        self.no_ttl_types: Counter[bytes] = Counter()  # TYPE reply -> keys without TTL
        self.elements_n = 0  # collections whose element count was read
        self.elements_over = 0  # ... and had more than the scan's max_elements
        self._seq = 0

    def offer(self, memory: int, key: bytes, type_reply: bytes, top_n: int) -> None:
        self._seq += 1
        item = (memory, self._seq, key, type_reply)
        if len(self.top) < top_n:
            heapq.heappush(self.top, item)
        else:
            heapq.heappushpop(self.top, item)
        if len(self.top) >= top_n:
            self.top_floor = self.top[0][0]

    @property
    def without_ttl(self) -> int:
        return self.hist[NO_TTL_BUCKET]

    @property
    def with_ttl(self) -> int:
        return sum(c for b, c in self.hist.items() if b >= FIRST_TTL_BUCKET)

    def ttl_quantile_ms(self, q: float) -> float | None:
        """The q-quantile of the remaining TTLs (keys with a TTL only), interpolated in its bucket."""
        return ttl_quantile_ms(self.hist, q, self.ttl_min_ms, self.ttl_max_ms)

    def biggest(self) -> list[tuple[int, bytes, bytes]]:
        # SCAN may return a key twice (while the table rehashes): list it once.
        out: dict[bytes, tuple[int, bytes, bytes]] = {}
        for m, _, k, t in sorted(self.top, reverse=True):
            out.setdefault(k, (m, k, t))
        return list(out.values())


class Aggregator:
    """Folds scanned batches into per-namespace statistics. Index -1 (the last) is 'unmatched'."""

    def __init__(
        self,
        specs: list[NamespaceSpec],
        *,
        top_n: int = 5,
        examples: int = 3,
        max_patterns: int = 200,
        cluster: bool = False,
        max_elements: int = 10_000,
        big_collections: int = 20,
    ):
        self.specs = list(specs)
        self.matcher = Matcher([(s.name, s.pattern) for s in self.specs])
        self._match_batch = batch_matcher(self.matcher)
        self.stats = [NamespaceStats(s.memory_limit_bytes) for s in self.specs] + [NamespaceStats(None)]
        self.unmatched = self.stats[-1]
        self._ttl_limits: list[int | None] = [s.ttl_limit_ms for s in self.specs] + [None]
        self.top_n = top_n
        self.n_examples = examples
        self.inferrer = PatternInferrer(max_patterns=max_patterns)
        self.slot_counts = [0] * SLOTS if cluster else None
        self._forced = [0] * len(self.stats)
        # namespaces (by index; -1 is unmatched) still short of MIN_MEMORY_SAMPLES measured keys
        self._needy = {*range(len(self.specs)), -1}
        self.keys = 0
        self.vanished = 0
        self.mem_sampled = 0
        self.max_elements = max_elements
        self.big_n = big_collections
        # min-heap of (elements, seq, namespace index, key, TYPE reply): the biggest collections
        self.big: list[tuple[int, int, int, bytes, bytes]] = []
        self._big_seq = 0

    def match(self, keys: list[bytes]) -> list[int]:
        """The namespace index of each key; -1 (the last stats entry) for unmatched."""
        return self._match_batch(keys)

    def memory_positions(self, ix: list[int], stride_positions: list[int]) -> list[int]:
        """The sampled positions plus the keys of any namespace measured fewer than
        MIN_MEMORY_SAMPLES times (up to that many), so that small namespaces get a memory figure
        too, whichever order SCAN returns their keys in."""
        needy = self._needy
        if not needy:
            return stride_positions
        present = needy.intersection(ix)
        if not present:
            return stride_positions
        stats = self.stats
        forced = self._forced
        chosen = set(stride_positions)
        for i in list(present):
            if stats[i].mem_n >= MIN_MEMORY_SAMPLES or forced[i] >= MIN_MEMORY_SAMPLES:
                needy.discard(i)
                present.discard(i)
        for position, i in enumerate(ix):
            if i in present and position not in chosen and forced[i] < MIN_MEMORY_SAMPLES:
                forced[i] += 1
                chosen.add(position)
        return sorted(chosen)

    def add_batch(
        self,
        keys: list[bytes],
        ix: list[int],
        types: list[bytes],
        pttls: list[int],
        mem_pos: list[int] = (),
        mems: list[int | None] = (),
    ) -> int:
        """Fold one batch in; returns how many of its keys still existed.

        Lists are parallel by key (`ix` from `match`); `mem_pos` are positions of the keys whose
        MEMORY USAGE replies are `mems`.
        """
        total = len(keys)
        if -2 in pttls or b"none" in types:
            keys, ix, types, pttls, mem_pos, mems = _drop_vanished(keys, ix, types, pttls, mem_pos, mems)
        n = len(keys)
        self.vanished += total - n
        if not n:
            return 0
        self.keys += n
        stats = self.stats
        n_examples = self.n_examples
        limits = self._ttl_limits

        # Group the batch by namespace with one stable sort of positions; within a namespace,
        # its PTTLs sorted: keys without TTL (-1) lead, min and max TTL are the ends, histogram
        # buckets and "above the design" are bisections. Per key, only C code runs.
        present = sorted(set(ix))
        order = sorted(range(n), key=ix.__getitem__) if len(present) > 1 else range(n)
        run_ends = list(accumulate(map(ix.count, present)))
        full_memory = len(mems) == n
        unmatched_keys: list[bytes] = []
        lo = 0
        for i, hi in zip(present, run_ends, strict=True):
            c = hi - lo
            run = order[lo:hi]
            lo = hi
            get = itemgetter(*run) if c > 1 else _single(run[0])
            s = stats[i]
            s.keys += c
            t_run = get(types)
            first = t_run[0]
            uniform = t_run.count(first) == c
            if uniform:
                s.types[first] += c
            else:
                s.types.update(t_run)
            p_run = get(pttls)
            no_ttl = p_run.count(-1)
            if no_ttl:
                s.hist[NO_TTL_BUCKET] += no_ttl
                if uniform:
                    s.no_ttl_types[first] += no_ttl
                else:
                    s.no_ttl_types.update(compress(t_run, map(eq, p_run, repeat(-1))))
            if no_ttl < c:
                p_sorted = sorted(p_run) if c > 1 else p_run
                mn, mx = p_sorted[no_ttl], p_sorted[-1]
                if s.ttl_min_ms is None or mn < s.ttl_min_ms:
                    s.ttl_min_ms = mn
                if s.ttl_max_ms is None or mx > s.ttl_max_ms:
                    s.ttl_max_ms = mx
                _histogram(s.hist, p_sorted, no_ttl, c, mn, mx)
                limit = limits[i]
                if limit is not None and mx > limit:
                    s.above_ttl += c - bisect_right(p_sorted, limit, no_ttl, c)
            if full_memory:
                self._memory_run(s, get, keys, types, mems, c)
            if len(s.examples) < n_examples:
                example = mask_key(keys[run[0]], max_chars=120)
                if example not in s.examples:
                    s.examples.append(example)
            if i == -1:
                unmatched_keys = list(get(keys))
                unmatched = (list(t_run), list(p_run), run, get(mems) if full_memory else None)

        if mems and not full_memory:
            self._memory(keys, types, ix, mem_pos, mems)

        for pos, kind in find_in_batch(keys):
            s = stats[ix[pos]]
            s.pii[kind] += 1
            if s.pii_example is None:
                s.pii_example = mask_key(keys[pos], max_chars=120)

        if unmatched_keys:
            self.inferrer.add(unmatched_keys, *_unmatched_facts(unmatched_keys, *unmatched, mem_pos, mems))

        if self.slot_counts is not None:
            if b"{" in b"".join(keys):
                slots = map(key_hash_slot, keys)
            else:
                slots = map(and_, map(crc_hqx, keys, repeat(0)), repeat(SLOTS - 1))
            counts = self.slot_counts
            for slot, c in Counter(slots).items():
                counts[slot] += c
        return n

    def _memory_run(self, s: NamespaceStats, get, keys, types, mems, c: int) -> None:
        """Every key measured (memory_sample 1): one namespace's slice at C speed."""
        m_run = get(mems)
        k_run = get(keys)
        if None in m_run:  # gone between TYPE and MEMORY USAGE
            kept = [(m, k, t) for m, k, t in zip(m_run, k_run, get(types), strict=True) if m is not None]
            for m, k, t in kept:
                self._measured(s, m, k, t)
            return
        s.mem_sum += sum(m_run)
        s.mem_n += c
        self.mem_sampled += c
        if max(m_run) > s.top_floor:
            t_run = get(types)
            for m, pos in heapq.nlargest(self.top_n, zip(m_run, range(c), strict=True)):
                if m > s.top_floor:
                    s.offer(m, k_run[pos], t_run[pos], self.top_n)
        limit = s.mem_limit
        if max(m_run) > limit:
            s.oversized += sum(map(lt, repeat(limit), map(sub, m_run, map(len, k_run))))

    def _measured(self, s: NamespaceStats, m: int, key: bytes, type_reply: bytes) -> None:
        s.mem_sum += m
        s.mem_n += 1
        self.mem_sampled += 1
        if m > s.top_floor:
            s.offer(m, key, type_reply, self.top_n)
        if m - len(key) > s.mem_limit:
            s.oversized += 1

    def _memory(self, keys, types, ix, mem_pos, mems) -> None:
        stats = self.stats
        top_n = self.top_n
        sampled = 0
        for pos, m in zip(mem_pos, mems, strict=True):
            if m is None:
                continue  # gone between TYPE and MEMORY USAGE
            sampled += 1
            s = stats[ix[pos]]
            s.mem_sum += m
            s.mem_n += 1
            if m > s.top_floor:
                s.offer(m, keys[pos], types[pos], top_n)
            if m - len(keys[pos]) > s.mem_limit:
                s.oversized += 1
        self.mem_sampled += sampled

    def add_counts(self, counted: list[tuple[bytes, bytes, int]], values: list[int]) -> None:
        """Fold in element counts of sampled collections: `counted` (key, TYPE reply, namespace
        index) and, parallel to it, their counts (0: the key is gone, not counted)."""
        if not counted:
            return
        if 0 in values:
            kept = [(c, v) for c, v in zip(counted, values, strict=True) if v]
            counted, values = [c for c, _ in kept], [v for _, v in kept]
            if not counted:
                return
        stats = self.stats
        for i, c in Counter(map(itemgetter(2), counted)).items():
            stats[i].elements_n += c
        limit = self.max_elements
        if max(values) <= limit:
            return
        big = self.big
        for (key, type_reply, i), n in zip(counted, values, strict=True):
            if n <= limit:
                continue
            stats[i].elements_over += 1
            if self.big_n <= 0:
                continue
            self._big_seq += 1
            item = (n, self._big_seq, i, key, type_reply)
            if len(big) < self.big_n:
                heapq.heappush(big, item)
            elif n > big[0][0]:
                heapq.heapreplace(big, item)

    def biggest_collections(self) -> list[tuple[int, int, bytes, bytes]]:
        """(elements, namespace index, key, TYPE reply), most elements first, each key once."""
        out: dict[bytes, tuple[int, int, bytes, bytes]] = {}
        for n, _, i, k, t in sorted(self.big, reverse=True):
            out.setdefault(k, (n, i, k, t))
        return list(out.values())

    def fullest_slots(self, n: int) -> list[tuple[int, int]]:
        if self.slot_counts is None:
            return []
        counts = self.slot_counts
        best = heapq.nlargest(n, range(SLOTS), key=counts.__getitem__)
        return [(slot, counts[slot]) for slot in best if counts[slot]]


def _unmatched_facts(keys, types, pttls, run, run_mems, mem_pos, mems):
    """TYPE replies, PTTLs and measured value sizes (MEMORY USAGE less the key's length,
    position in `keys` -> bytes) of the unmatched keys of a batch, for the inferred families."""
    sizes: dict[int, int] = {}
    if run_mems is not None:
        sizes = {p: max(0, m - len(keys[p])) for p, m in enumerate(run_mems) if m is not None}
    elif mems:
        # `run` (the unmatched keys' positions in the batch) is ascending: only the few sampled
        # positions are looked up, by bisection.
        for pos, m in zip(mem_pos, mems, strict=True):
            p = bisect_left(run, pos)
            if m is not None and p < len(run) and run[p] == pos:
                sizes[p] = max(0, m - len(keys[p]))
    return types, pttls, sizes


def _single(position: int):
    """itemgetter of one position, returning a 1-tuple like itemgetter of several does."""

    def get(seq):
        return (seq[position],)

    return get


def _histogram(hist: Counter, ttls, lo: int, hi: int, mn: int, mx: int) -> None:
    """Add sorted PTTLs ttls[lo:hi] to the TTL histogram, bucket by bucket."""
    bounds = TTL_BOUNDS_MS
    b = bisect_right(bounds, mn)
    last = bisect_right(bounds, mx)
    pos = lo
    while b < last:
        edge = bisect_left(ttls, bounds[b], pos, hi)
        if edge > pos:
            hist[b] += edge - pos
            pos = edge
        b += 1
    hist[last] += hi - pos


def _drop_vanished(keys, ix, types, pttls, mem_pos, mems):
    """Keys deleted between SCAN and TYPE/PTTL (TYPE none, PTTL -2): counted apart, not as keys."""
    keep = [i for i, (t, p) in enumerate(zip(types, pttls, strict=True)) if p != -2 and t != b"none"]
    new_index = {old: new for new, old in enumerate(keep)}
    kept_mem = [(new_index[p], m) for p, m in zip(mem_pos, mems, strict=True) if p in new_index]
    return (
        [keys[i] for i in keep],
        [ix[i] for i in keep],
        [types[i] for i in keep],
        [pttls[i] for i in keep],
        [p for p, _ in kept_mem],
        [m for _, m in kept_mem],
    )
