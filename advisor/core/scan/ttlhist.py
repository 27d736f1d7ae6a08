"""The TTL histogram the scanner keeps per namespace and per unregistered family.

Over PTTL in ms, for bisect_right: bucket 0 is PTTL -2 (gone), 1 is -1 (no TTL), 2 is [0, 1 s), then
buckets a quarter-octave wide up to 2^29 s (17 years), then the rest.
"""

from __future__ import annotations

TTL_BOUNDS_MS: list[int] = [-1, 0, *sorted({round(1000 * 2 ** (k / 4)) for k in range(0, 4 * 29 + 1)})]
NO_TTL_BUCKET = 1
FIRST_TTL_BUCKET = 2


def ttl_quantile_ms(hist: dict[int, int], q: float, ttl_min_ms: float, ttl_max_ms: float) -> float | None:
    """The q-quantile of the remaining TTLs (keys with a TTL only), interpolated in its bucket."""
    total = sum(c for b, c in hist.items() if b >= FIRST_TTL_BUCKET)
    if not total:
        return None
    rank = q * total
    seen = 0
    for b in sorted(hist):
        c = hist[b]
        if b < FIRST_TTL_BUCKET or not c:
            continue
        if seen + c >= rank:
            lo = TTL_BOUNDS_MS[b - 1]
            hi = TTL_BOUNDS_MS[b] if b < len(TTL_BOUNDS_MS) else ttl_max_ms
            value = lo + (hi - lo) * max(0.0, rank - seen) / c
            return min(max(value, ttl_min_ms), ttl_max_ms)
        seen += c
    return ttl_max_ms
