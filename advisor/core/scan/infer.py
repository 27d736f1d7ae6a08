"""Inferring key patterns from the keys that match no registered namespace (DRF001).

Each key is normalised segment by segment (segments split on `:`): numbers, UUIDs, hex strings,
digests and personal data become placeholders; patterns that then differ in one literal segment
only, in at least `merge_min` variants, merge into one with `*` there. The table is bounded: it is
merged when it outgrows `working_limit`, its smallest entries are folded into an "other" count
when merging is not enough, and only the `max_patterns` biggest are reported.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from itertools import compress, repeat
from operator import eq

from advisor.core.scan.masking import EMAIL, IPV4, PHONE, mask_key, personal_data_kinds
from advisor.core.scan.ttlhist import NO_TTL_BUCKET, TTL_BOUNDS_MS, ttl_quantile_ms

# Markers in normalised keys. NUL is as good as any byte: a key that contains one only looks odd.
INT, UUID, HEX, HASH, STR = b"\x00I", b"\x00U", b"\x00H", b"\x00D", b"\x00S"
# Whole segments of personal data: `*` in the reported pattern, a placeholder named after what it
# holds in the draft (`<email:str>`), so that the linter's KEY003 sees it.
P_EMAIL, P_PHONE, P_IP = b"\x00E", b"\x00P", b"\x00A"
_PERSONAL = {P_EMAIL: ("email", EMAIL), P_PHONE: ("phone", PHONE), P_IP: ("ip", IPV4)}
_WILD = frozenset({STR, *_PERSONAL})
_KIND = {INT: "int", UUID: "uuid", HEX: "hex", HASH: "hash"}
_NAME = {"int": "id", "uuid": "id", "hex": "id", "hash": "digest"}

_H = rb"[0-9a-fA-F]"
# One pass of one regex: at a segment start (after ':' or a newline, keys being joined by
# newlines), the first whole-segment class that fits wins; elsewhere, a run of 4+ digits inside
# a segment (order-123456, img_20240101) becomes a number and the rest of the segment stays.
_SEGMENT_CLASSES = [
    # Long segments first: whatever they hold, they are not a literal worth keeping.
    (rb"[^:\n]{65,}", STR),
    # Personal data never becomes pattern text.
    (rb"[^:\n]*@[^:\n]*", P_EMAIL),
    (rb"\+[0-9][0-9 .\-]{6,}", P_PHONE),
    (rb"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", P_IP),
    (_H + rb"{8}-" + _H + rb"{4}-" + _H + rb"{4}-" + _H + rb"{4}-" + _H + rb"{12}", UUID),
    (rb"[0-9]+", INT),
    (rb"(?=[a-fA-F]*[0-9])(?=[0-9]*[a-fA-F])" + _H + rb"{8,}", HEX),
    (rb"(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{16,}={0,2}", HASH),
]
_NORMALISE = re.compile(
    rb"(?:(?<=:)|^)(?:"
    + b"|".join(b"(" + rx + b")" for rx, _ in _SEGMENT_CLASSES)
    + rb")(?=:|$)|(?<![0-9A-Za-z\x00])([0-9]{4,})(?![0-9])",
    re.M,
)
_REPLACEMENT = [b"", *(marker for _, marker in _SEGMENT_CLASSES), INT]
_replace = _REPLACEMENT.__getitem__
# Normalising only looks at which bytes are digits, never at which digit: keys that differ in
# their digits alone normalise alike, so a batch is normalised once per digit "skeleton".
_SKELETON = bytes.maketrans(b"0123456789", b"0000000000")
_MARKER_SPLIT = re.compile(rb"(\x00[IUHDSEPA])")
_LITERAL_DIGIT = re.compile(rb"[0-9]")
_UNSAFE_LITERAL = re.compile(r"[<>*\s]")
MAX_SEGMENTS = 12


def normalise_blob(blob: bytes) -> bytes:
    return _NORMALISE.sub(lambda m: _replace(m.lastindex), blob)


def normalise(key: bytes) -> bytes:
    """One key's normalised form (markers for placeholders)."""
    norm = normalise_blob(key.replace(b"\n", b"\x00n"))
    return _cap(norm)


def _cap(norm: bytes) -> bytes:
    if norm.count(b":") >= MAX_SEGMENTS:
        norm = b":".join(norm.split(b":", MAX_SEGMENTS - 1)[: MAX_SEGMENTS - 1]) + b":" + STR
    return norm


def pattern_text(norm: bytes, *, typed: bool = False) -> str:
    """The pattern-language text of a normalised key: `legacy:session:<id:int>`, `cache:*:prefs`.

    `typed` names segments of personal data after what they hold (`<email:str>`) instead of `*`.
    """
    used: Counter[str] = Counter()
    segments = []
    for seg in norm.split(b":"):
        pieces = []
        for part in _MARKER_SPLIT.split(seg):
            if not part:
                continue
            if part == STR or (part in _PERSONAL and not typed):
                pieces.append("*")
            elif part in _PERSONAL:
                base = _PERSONAL[part][0]
                used[base] += 1
                name = base if used[base] == 1 else f"{base}{used[base]}"
                pieces.append(f"<{name}:str>")
            elif part in _KIND:
                kind = _KIND[part]
                base = _NAME[kind]
                used[base] += 1
                name = base if used[base] == 1 else f"{base}{used[base]}"
                pieces.append(f"<{name}:{kind}>")
            else:
                try:
                    text = part.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                if text is None or _UNSAFE_LITERAL.search(text) or "\x00" in text:
                    pieces = ["*"]  # a literal the pattern language cannot spell: any value
                    break
                pieces.append(text)
        segment = "".join(pieces)
        segments.append("*" if segment.count("*") > 1 else segment)
    text = ":".join(segments)
    return text.replace("{}", "*")


_NO_TTL = NO_TTL_BUCKET
MAX_SIZE_SAMPLES = 64  # measured value sizes kept per family, for the median

_TYPE_NAMES = {b"ReJSON-RL": "json"}
_DATA_TYPES = frozenset({"string", "hash", "list", "set", "zset", "stream", "json"})


class _Family:
    """One inferred family: key count, masked example, and what the scan measured of its keys.

    Bounded: a Counter of TYPE replies (a handful), a TTL histogram (at most ~120 buckets),
    exact TTL min and max, and at most MAX_SIZE_SAMPLES measured sizes.
    """

    __slots__ = (
        "count",
        "example",
        "types",
        "hist",
        "ttl_min",
        "ttl_max",
        "sizes",
        "size_n",
        "size_max",
        "pii",
    )

    def __init__(self, count: int = 0, example: str | None = None):
        self.count = count
        self.example = example
        self.types: Counter[bytes] = Counter()
        self.hist: Counter[int] = Counter()
        self.ttl_min: int | None = None
        self.ttl_max: int | None = None
        self.sizes: list[int] = []
        self.size_n = 0
        self.size_max = 0
        self.pii: set[str] = set()

    def absorb(self, other: _Family) -> None:
        self.count += other.count
        if self.example is None:
            self.example = other.example
        self.types.update(other.types)
        self.hist.update(other.hist)
        if other.ttl_min is not None and (self.ttl_min is None or other.ttl_min < self.ttl_min):
            self.ttl_min = other.ttl_min
        if other.ttl_max is not None and (self.ttl_max is None or other.ttl_max > self.ttl_max):
            self.ttl_max = other.ttl_max
        self.add_sizes(other.sizes, other.size_n, other.size_max)
        self.pii |= other.pii

    def add_sizes(self, sizes: list[int], n: int, biggest: int) -> None:
        if not n:
            return
        self.size_n += n
        self.size_max = max(self.size_max, biggest)
        room = MAX_SIZE_SAMPLES - len(self.sizes)
        if room > 0:
            self.sizes.extend(sizes[:room])

    @property
    def without_ttl(self) -> int:
        return self.hist[_NO_TTL]

    def ttl_median_ms(self) -> float | None:
        if self.ttl_min is None or self.ttl_max is None:
            return None
        return ttl_quantile_ms(self.hist, 0.5, self.ttl_min, self.ttl_max)


class PatternInferrer:
    """Bounded table of normalised unmatched keys: counts, one masked example, measured facts."""

    def __init__(self, *, max_patterns: int = 200, working_limit: int = 2000, merge_min: int = 4):
        self.max_patterns = max_patterns
        self.working_limit = max(working_limit, max_patterns)
        self.merge_min = merge_min
        self.keys = 0
        self.other_keys = 0  # keys of patterns folded away to keep the table bounded
        self._table: dict[bytes, _Family] = {}  # normalised -> family

    def add(
        self,
        keys: list[bytes],
        types: list[bytes] | None = None,
        pttls: list[int] | None = None,
        sizes: dict[int, int] | None = None,
    ) -> None:
        """Fold in unmatched keys; `types` and `pttls` (parallel to `keys`) and `sizes` (position
        in `keys` -> value bytes, for the keys measured) feed each family's draft."""
        if not keys:
            return
        self.keys += len(keys)
        skeletons = list(map(bytes.translate, keys, repeat(_SKELETON)))
        counts = Counter(skeletons)
        distinct = list(counts)
        # Normalise one real key per skeleton. Where digits survive normalising (a literal such
        # as "v2"), keys of one skeleton may differ in them: those keys are normalised one by one.
        representative = dict(zip(skeletons, keys, strict=True))
        reps = [representative[s] for s in distinct]
        blob = b"\n".join(reps)
        if blob.count(b"\n") == len(reps) - 1:
            norms = normalise_blob(blob).split(b"\n")
        else:  # a key with a newline in it: no shared blob for this batch
            norms = [normalise(k) for k in reps]
        norm_of = dict(zip(distinct, norms, strict=True))
        one_by_one = {s for s, norm in norm_of.items() if counts[s] > 1 and _LITERAL_DIGIT.search(norm)}
        if one_by_one:
            key_norms = [
                normalise(k) if s in one_by_one else norm_of[s] for k, s in zip(keys, skeletons, strict=True)
            ]
        else:
            key_norms = list(map(norm_of.__getitem__, skeletons))
        # Per family (few per batch): keys, the first as example, and the measured facts.
        norm_counts = Counter(key_norms)
        first = dict(zip(reversed(key_norms), reversed(keys), strict=True))
        facts = self._facts(key_norms, norm_counts, types, pttls, sizes) if types is not None else {}
        for norm, n in norm_counts.items():
            self._count(norm, first[norm], n, facts.get(norm))
        if len(self._table) > self.working_limit:
            self._shrink()

    @staticmethod
    def _facts(key_norms, families, types, pttls, sizes) -> dict[bytes, _Family]:
        """Per family of the batch: type counts, TTL histogram and extremes, measured sizes.
        Counted with C-level passes over the batch (Counter, sorted, bisect), not a Python step
        per key."""
        out = {norm: _Family() for norm in families}
        for (norm, t), c in Counter(zip(key_norms, types, strict=True)).items():
            out[norm].types[t] += c
        buckets = map(bisect_right, repeat(TTL_BOUNDS_MS), pttls)
        for (norm, b), c in Counter(zip(key_norms, buckets, strict=True)).items():
            out[norm].hist[b] += c
        for norm, f in out.items():
            # One C-level pass per family (a batch holds few): its PTTLs, without the -1s.
            ttls = pttls if len(out) == 1 else list(compress(pttls, map(eq, key_norms, repeat(norm))))
            if ttls and (mx := max(ttls)) >= 0:
                f.ttl_max = mx
                f.ttl_min = min(filter((0).__le__, ttls)) if f.hist[_NO_TTL] else min(ttls)
        if sizes:
            for pos, m in sizes.items():
                out[key_norms[pos]].add_sizes([m], 1, m)
        return out

    def _count(self, norm: bytes, example: bytes, n: int, delta: _Family | None = None) -> None:
        entry = self._table.get(norm)
        if entry is None:
            capped = _cap(norm)
            entry = self._table.get(capped)
            if entry is None:
                entry = self._table[capped] = _Family(0, mask_key(example))
                entry.pii.update(personal_data_kinds(example))
                entry.pii.update(_PERSONAL[m][1] for m in _PERSONAL if m in capped)
        entry.count += n
        if delta is not None:
            delta.count = 0
            entry.absorb(delta)

    def _merge(self) -> None:
        changed = True
        while changed:
            changed = False
            split = {norm: norm.split(b":") for norm in self._table}
            groups: dict[tuple, list[bytes]] = defaultdict(list)
            for norm, segs in split.items():
                for j, seg in enumerate(segs):
                    if seg not in _WILD:
                        groups[(len(segs), j, *segs[:j], *segs[j + 1 :])].append(norm)
            for (_n, j, *_rest), members in groups.items():
                if len(members) < self.merge_min or any(m not in self._table for m in members):
                    continue
                segs = list(split[members[0]])
                segs[j] = STR
                target = b":".join(segs)
                merged = self._table.get(target) or _Family()
                biggest = max(members, key=lambda m: self._table[m].count)
                if merged.example is None:
                    merged.example = self._table[biggest].example
                for m in members:
                    merged.absorb(self._table.pop(m))
                self._table[target] = merged
                changed = True

    def _shrink(self) -> None:
        self._merge()
        if len(self._table) > self.working_limit * 3 // 4:
            keep = sorted(self._table.items(), key=lambda kv: -kv[1].count)[: self.working_limit // 2]
            self.other_keys += sum(v.count for v in self._table.values()) - sum(v.count for _, v in keep)
            self._table = dict(keep)

    def result(self, *, instance: str | None = None, coverage: float = 1.0) -> tuple[list[dict], int]:
        """([{pattern, keys, example, draft}, ...] biggest first, keys in patterns not listed).

        `draft` is a namespace entry of the design file drawn from what was measured (see
        `draft_entry`); `coverage` (scanned share of the keyspace, 0 < coverage <= 1) scales its
        cardinality.
        """
        self._merge()
        by_text: dict[str, tuple[_Family, str, int]] = {}  # text -> (family, typed text, its keys)
        for norm, fam in self._table.items():
            text = pattern_text(norm)
            typed = pattern_text(norm, typed=True)
            entry = by_text.get(text)
            if entry is None:
                by_text[text] = (fam, typed, fam.count)
            else:
                total, best_typed, best_n = entry
                if total is not fam:
                    merged = _Family()
                    merged.absorb(total)
                    merged.absorb(fam)
                    total = merged
                if fam.count > best_n:
                    best_typed, best_n = typed, fam.count
                by_text[text] = (total, best_typed, best_n)
        ranked = sorted(by_text.items(), key=lambda kv: (-kv[1][0].count, kv[0]))
        kept = ranked[: self.max_patterns]
        other = self.other_keys + sum(v[0].count for _, v in ranked[self.max_patterns :])
        return [
            {
                "pattern": text,
                "keys": fam.count,
                "example": fam.example,
                "draft": draft_entry(typed, fam, instance=instance, coverage=coverage) if fam.types else None,
            }
            for text, (fam, typed, _n) in kept
        ], other


# --------------------------------------------------------------------------------------------
# Drafts: a namespace entry of the design file from what a scan measured of one family

# Round TTLs a draft proposes: the observed maximum rounded up to the next of these (seconds).
_ROUND_TTLS = [
    *(1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600),
    *(86400 * d for d in (1, 2, 3, 7, 14, 30, 60, 90, 180, 365)),
]
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def round_ttl(seconds: float) -> int:
    """The observed TTL rounded up to a round number of seconds (a whole day beyond a year)."""
    seconds = max(1, math.ceil(seconds))
    i = bisect_left(_ROUND_TTLS, seconds)
    return _ROUND_TTLS[i] if i < len(_ROUND_TTLS) else math.ceil(seconds / 86400) * 86400


def slug_of(pattern: str) -> str:
    """A namespace name from a pattern's literal text: `prod:identity:user:by-email:<email:str>`
    -> `prod-identity-user-by-email`."""
    literal = re.sub(r"<[^>]*>|\*", " ", pattern).lower()
    slug = _SLUG_JUNK.sub("-", literal).strip("-")[:60].strip("-")
    return slug or "unregistered-family"


def draft_entry(pattern: str, fam: _Family, *, instance: str | None, coverage: float = 1.0) -> dict:
    """A namespace entry (design-file section 1) for one inferred family.

    Left out for the author: `team` (and `instance` when unknown); `classification` is
    `disposable` when every key had a TTL and is left out otherwise (the scan cannot tell a
    cache that forgot its TTL from durable data); ops_per_sec is not measured by a scan and is 0.
    """
    counted = sum(fam.types.values()) or fam.count
    without = fam.without_ttl
    reply, _ = fam.types.most_common(1)[0]
    data_type = _TYPE_NAMES.get(reply) or reply.decode("utf-8", "replace")
    if data_type not in _DATA_TYPES:
        data_type = "other"
    if without * 2 > counted or fam.ttl_max is None:
        ttl: dict = {"mode": "none"}
    else:
        ttl = {"mode": "absolute", "seconds": round_ttl(fam.ttl_max / 1000)}
    draft: dict = {"name": slug_of(pattern)}
    if instance:
        draft["instance"] = instance
    draft["pattern"] = pattern
    if without == 0 and fam.ttl_max is not None:
        draft["classification"] = "disposable"
    draft["data_type"] = data_type
    draft["ttl"] = ttl
    if fam.sizes:
        ordered = sorted(fam.sizes)
        typical = ordered[(len(ordered) - 1) // 2]
        draft["value_bytes"] = {"typical": typical, "max": max(fam.size_max, typical)}
    else:
        draft["value_bytes"] = {"typical": 0, "max": 0}
    scale = 1.0 / coverage if 0 < coverage < 1 else 1.0
    draft["cardinality"] = math.ceil(fam.count * scale)
    draft["ops_per_sec"] = {"reads": 0, "writes": 0}
    pii = bool(fam.pii)
    draft["data_classification"] = "confidential" if pii else "internal"
    draft["contains"] = ["pii"] if pii else []
    return draft
