"""Benchmark Matcher (key -> namespace) and intersection_witness on realistic patterns.

Run: .venv/bin/python bench/match.py [--patterns 1000] [--keys 1000000] [--seed 7]

Builds registered patterns of the shapes real designs use, generates keys from them plus ~10%
keys that match nothing, and times Matcher.match over all of them (generation excluded). A naive
baseline (each pattern's regex in precedence order) runs on a subset for comparison and as the
reference for correctness.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

# Run as a plain script from the repo root or anywhere else: make `advisor` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advisor.core.patterns import Matcher, intersection_witness  # noqa: E402

ENVS = ["prod", "staging", "dev", "test"]
SERVICES = [
    "catalog", "cart", "checkout", "pricing", "inventory", "search", "users", "sessions", "orders",
    "payments", "shipping", "reviews", "recs", "ads", "auth", "notify", "loyalty", "media", "feeds",
    "geo", "tax", "fraud", "billing", "support", "analytics",
]  # fmt: skip
ENTITIES = [
    "product", "sku", "category", "price", "stock", "profile", "session", "order", "invoice", "token",
    "rate-limit", "idempotency", "feed", "view", "quote", "coupon", "address", "shipment", "review",
    "score",
]  # fmt: skip
# (weight, template); {env} {svc} {ent} {n} are filled in here, everything else is pattern syntax.
SHAPES = [
    (35, "{env}:{svc}:{ent}:v{n}:<id:int>"),
    (15, "{env}:{svc}:{ent}:v{n}:<id:uuid>"),
    (10, "{env}:{svc}:{{<customer:int>}}:{ent}"),
    (7, "{env}:{svc}:{ent}:v{n}:<digest:hash>"),
    (5, "{env}:{svc}:{ent}:<rest:any>"),
    (10, "{env}:{svc}:{ent}:*"),
    (5, "{env}:{svc}:{ent}:by-email:<h:hash>"),
    (5, "{env}:{svc}:lock:{ent}:<id:hex>"),
    (3, "<tenant:int>:{svc}:{ent}:<id:int>"),
    (5, "{svc}:{ent}:v{n}:<id:int>"),
]


def build_patterns(count: int, rng: random.Random) -> list[tuple[str, str]]:
    weights = [w for w, _ in SHAPES]
    seen: dict[str, None] = {}
    while len(seen) < count:
        _, shape = rng.choices(SHAPES, weights)[0]
        text = shape.format(
            env=rng.choice(ENVS), svc=rng.choice(SERVICES), ent=rng.choice(ENTITIES), n=rng.randint(1, 5)
        )
        seen.setdefault(text)
    return [(f"ns-{i:04d}", text) for i, text in enumerate(seen)]


def noise_key(rng: random.Random) -> bytes:
    """A key no registered pattern matches: unknown first segment, or an unknown service."""
    if rng.random() < 0.5:
        first = rng.choice(["legacy", "tmp", "celery-task-meta", "_kombu", "old-cache", "x"])
        return f"{first}:{rng.randrange(10**6)}:{rng.choice(ENTITIES)}".encode()
    return f"{rng.choice(ENVS)}:unknown-{rng.randrange(100)}:{rng.choice(ENTITIES)}:v1:{rng.randrange(10**6)}".encode()


def naive_match(ranked: list[tuple[int, object]], key: bytes) -> int:
    for idx, rx_match in ranked:
        if rx_match(key):
            return idx
    return -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patterns", type=int, default=1000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--baseline-keys", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    items = build_patterns(args.patterns, rng)
    t0 = time.perf_counter()
    matcher = Matcher(items)
    build_s = time.perf_counter() - t0
    patterns = matcher.patterns

    t0 = time.perf_counter()
    n_noise = args.keys // 10
    keys: list[bytes] = []
    origin: list[int] = []  # pattern a key was generated from, -1 for noise
    for _ in range(args.keys - n_noise):
        i = rng.randrange(len(patterns))
        keys.append(patterns[i].example(rng).encode())
        origin.append(i)
    for _ in range(n_noise):
        keys.append(noise_key(rng))
        origin.append(-1)
    order = list(range(len(keys)))
    rng.shuffle(order)
    keys = [keys[i] for i in order]
    origin = [origin[i] for i in order]
    gen_s = time.perf_counter() - t0

    match = matcher.match
    c0, t0 = time.process_time(), time.perf_counter()
    results = [match(k) for k in keys]
    match_s, match_cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = len(keys) / match_s

    # Correctness: a generated key must land on a pattern that matches it and ranks at least as
    # high as the one it came from; a noise key must land nowhere.
    index_of = {name: i for i, name in enumerate(matcher.names)}
    rank = matcher._rank
    correct = 0
    for key, src, name in zip(keys, origin, results, strict=True):
        if src < 0:
            correct += name is None
        elif name is not None:
            j = index_of[name]
            correct += patterns[j].matches(key) and rank[j] <= rank[src]
    exact_origin = sum(
        1 for src, name in zip(origin, results, strict=True) if src >= 0 and name == matcher.names[src]
    )

    ranked = sorted(((i, p.regex().match) for i, p in enumerate(patterns)), key=lambda t: rank[t[0]])
    subset = keys[: args.baseline_keys]
    c0, t0 = time.process_time(), time.perf_counter()
    naive = [naive_match(ranked, k) for k in subset]
    naive_s, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    naive_rate = len(subset) / naive_s
    disagreements = sum(1 for k, n in zip(subset, naive, strict=True) if matcher.match_index(k) != n)

    # intersection_witness on pairs of registered patterns: random pairs (mostly disjoint prefixes)
    # and pairs sharing env and service (the ones that need the automaton).
    by_group: dict[tuple[str, ...], list] = {}
    for p in patterns:
        by_group.setdefault(p.literal_prefix[:2], []).append(p)
    groups = [g for g in by_group.values() if len(g) > 1]
    random_pairs = [(rng.choice(patterns), rng.choice(patterns)) for _ in range(1000)]
    close_pairs = [tuple(rng.sample(rng.choice(groups), 2)) for _ in range(1000)]
    timings = {}
    for label, pairs in (("random", random_pairs), ("same env+service", close_pairs)):
        t0 = time.perf_counter()
        found = sum(intersection_witness(a, b) is not None for a, b in pairs)
        timings[label] = (time.perf_counter() - t0, found)

    print(f"patterns: {len(patterns)} (matcher built in {build_s * 1000:.0f} ms)")
    print(f"keys: {len(keys):,} ({n_noise:,} match nothing), generated in {gen_s:.1f} s (not timed)")
    # Wall-clock figures are the measure; CPU-time ones show how much of a gap comes from other
    # processes sharing the machine.
    cpu_rate, naive_cpu_rate = len(keys) / match_cpu, len(subset) / naive_cpu
    print(f"Matcher.match: {rate:,.0f} keys/s ({match_s:.2f} s; by CPU time {cpu_rate:,.0f} keys/s)")
    print(
        f"naive baseline: {naive_rate:,.0f} keys/s on {len(subset):,} keys "
        f"({naive_s:.2f} s; by CPU time {naive_cpu_rate:,.0f} keys/s)"
    )
    print(f"speed-up over baseline: {rate / naive_rate:.0f}x (by CPU time {cpu_rate / naive_cpu_rate:.0f}x)")
    print(f"correct: {correct:,} / {len(keys):,}  (same namespace as generated: {exact_origin:,})")
    print(f"disagreements with baseline: {disagreements}")
    for label, (secs, found) in timings.items():
        print(f"intersection_witness, 1,000 {label} pairs: {secs * 1000:.0f} ms ({found} intersect)")
    if correct != len(keys) or disagreements:
        sys.exit(1)


if __name__ == "__main__":
    main()
