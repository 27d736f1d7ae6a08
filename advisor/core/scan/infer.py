"""Inferring key patterns from the keys that match no registered namespace (DRF001).

Each key is normalised segment by segment (segments split on `:`): numbers, UUIDs, hex strings,
digests and personal data become placeholders; patterns that then differ in one literal segment
only, in at least `merge_min` variants, merge into one with `*` there. The table is bounded: it is
merged when it outgrows `working_limit`, its smallest entries are folded into an "other" count
when merging is not enough, and only the `max_patterns` biggest are reported.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from itertools import repeat

from advisor.core.scan.masking import mask_key

# Markers in normalised keys. NUL is as good as any byte: a key that contains one only looks odd.
INT, UUID, HEX, HASH, STR = b"\x00I", b"\x00U", b"\x00H", b"\x00D", b"\x00S"
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
    (rb"[^:\n]*@[^:\n]*", STR),
    (rb"\+[0-9][0-9 .\-]{6,}", STR),
    (rb"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", STR),
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
_MARKER_SPLIT = re.compile(rb"(\x00[IUHDS])")
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


def pattern_text(norm: bytes) -> str:
    """The pattern-language text of a normalised key: `legacy:session:<id:int>`, `cache:*:prefs`."""
    used: Counter[str] = Counter()
    segments = []
    for seg in norm.split(b":"):
        pieces = []
        for part in _MARKER_SPLIT.split(seg):
            if not part:
                continue
            if part == STR:
                pieces.append("*")
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


class PatternInferrer:
    """Bounded table of normalised unmatched keys: counts and one masked example each."""

    def __init__(self, *, max_patterns: int = 200, working_limit: int = 2000, merge_min: int = 4):
        self.max_patterns = max_patterns
        self.working_limit = max(working_limit, max_patterns)
        self.merge_min = merge_min
        self.keys = 0
        self.other_keys = 0  # keys of patterns folded away to keep the table bounded
        self._table: dict[bytes, list] = {}  # normalised -> [count, masked example]

    def add(self, keys: list[bytes]) -> None:
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
        by_skeleton = None
        for skeleton, norm in zip(distinct, norms, strict=True):
            if _LITERAL_DIGIT.search(norm) and counts[skeleton] > 1:
                if by_skeleton is None:
                    by_skeleton = defaultdict(list)
                    for key, skel in zip(keys, skeletons, strict=True):
                        by_skeleton[skel].append(key)
                for key in by_skeleton[skeleton]:
                    self._count(normalise(key), key, 1)
            else:
                self._count(norm, representative[skeleton], counts[skeleton])
        if len(self._table) > self.working_limit:
            self._shrink()

    def _count(self, norm: bytes, example: bytes, n: int) -> None:
        entry = self._table.get(norm)
        if entry is None:
            capped = _cap(norm)
            entry = self._table.get(capped)
            if entry is None:
                entry = self._table[capped] = [0, mask_key(example)]
        entry[0] += n

    def _merge(self) -> None:
        changed = True
        while changed:
            changed = False
            split = {norm: norm.split(b":") for norm in self._table}
            groups: dict[tuple, list[bytes]] = defaultdict(list)
            for norm, segs in split.items():
                for j, seg in enumerate(segs):
                    if seg != STR:
                        groups[(len(segs), j, *segs[:j], *segs[j + 1 :])].append(norm)
            for (_n, j, *_rest), members in groups.items():
                if len(members) < self.merge_min or any(m not in self._table for m in members):
                    continue
                segs = list(split[members[0]])
                segs[j] = STR
                target = b":".join(segs)
                merged = self._table.get(target) or [0, None]
                biggest = max(members, key=lambda m: self._table[m][0])
                if merged[1] is None:
                    merged[1] = self._table[biggest][1]
                for m in members:
                    merged[0] += self._table.pop(m)[0]
                self._table[target] = merged
                changed = True

    def _shrink(self) -> None:
        self._merge()
        if len(self._table) > self.working_limit * 3 // 4:
            keep = sorted(self._table.items(), key=lambda kv: -kv[1][0])[: self.working_limit // 2]
            self.other_keys += sum(v[0] for v in self._table.values()) - sum(v[0] for _, v in keep)
            self._table = dict(keep)

    def result(self) -> tuple[list[dict], int]:
        """([{pattern, keys, example}, ...] biggest first, keys in patterns not listed)."""
        self._merge()
        by_text: dict[str, list] = {}
        for norm, (count, example) in self._table.items():
            text = pattern_text(norm)
            entry = by_text.get(text)
            if entry is None:
                by_text[text] = [count, example]
            else:
                entry[0] += count
        ranked = sorted(by_text.items(), key=lambda kv: (-kv[1][0], kv[0]))
        kept = ranked[: self.max_patterns]
        other = self.other_keys + sum(v[0] for _, v in ranked[self.max_patterns :])
        return [
            {"pattern": text, "keys": count, "example": example} for text, (count, example) in kept
        ], other
