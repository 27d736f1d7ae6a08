"""Lint-time benchmark: designs of 1,000, 5,000 and 10,000 namespaces over 200 instances.

Run with `.venv/bin/python bench/lint.py`. The target is under 3 s for 10,000 namespaces and
near-linear growth. With the instance count fixed, ten times the namespaces means ten times the
namespaces per instance, so the pairs KEY005 must consider (and the overlaps it finds) grow
quadratically; it prunes by literal prefix and segment shape so that only real candidates reach
the exact intersection test.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advisor.core.design import Design  # noqa: E402
from advisor.core.engine import lint_design  # noqa: E402

INSTANCES = 200
SIZES = (1_000, 5_000, 10_000)
TARGET_SECONDS = 3.0

ENVIRONMENTS = ["prod"] * 6 + ["staging", "dev", "test"]
ENTITIES = (
    "product price stock user order cart session token lock quote invoice search page feed rank".split()
)
KINDS = ["int", "int", "int", "uuid", "hex", "hash", "str"]
CLASSIFICATIONS = ["disposable"] * 6 + ["session", "coordination", "durable"]


def _instance(i: int, rng: random.Random) -> dict:
    return {
        "name": f"inst-{i:03d}",
        "environment": rng.choice(ENVIRONMENTS),
        "product": "azure-managed-redis",
        "tier": rng.choice(["balanced", "memory-optimized", "compute-optimized", "flash-optimized"]),
        "memory_gb": rng.choice([3, 6, 12, 24, 50]),
        "shards": rng.choice([1, 2, 4]),
        "clustering": rng.choice(["oss", "oss", "enterprise", "none"]),
        "high_availability": rng.random() < 0.9,
        "persistence": rng.choice(["none", "none", "rdb", "aof"]),
        "geo_replication": rng.random() < 0.1,
        "eviction_policy": rng.choice(["allkeys-lru", "allkeys-lfu", "volatile-lru", "noeviction"]),
        "auth": rng.choice(["entra-id"] * 8 + ["access-key", "none"]),
        "tls": rng.random() < 0.95,
        "public_network_access": rng.random() < 0.05,
    }


def _pattern(i: int, env: str, team: str, rng: random.Random) -> str:
    entity = rng.choice(ENTITIES)
    roll = rng.random()
    if roll < 0.03:
        # A sloppy pattern with a variable entity segment: overlaps its neighbours.
        return f"{env}:{team}:<entity>:v{rng.randint(1, 3)}:<id:int>"
    if roll < 0.05:
        return f"{entity}:<id{i}:{rng.choice(KINDS)}>"  # not namespaced
    if roll < 0.15:
        return f"{env}:{team}:{entity}:v{rng.randint(1, 5)}:{{<owner:int>}}:{rng.choice(['items', 'totals', 'meta'])}"
    tail = ":".join(f"<p{j}:{rng.choice(KINDS)}>" for j in range(rng.randint(1, 3)))
    return f"{env}:{team}:{entity}{i % 13}:v{rng.randint(1, 5)}:{tail}"


def _namespace(i: int, instance: dict, team: str, rng: random.Random) -> dict:
    classification = rng.choice(CLASSIFICATIONS)
    no_ttl = classification == "durable" or rng.random() < 0.05
    seconds = rng.choice([30, 300, 600, 3600, 86400])
    typical = rng.choice([64, 512, 2048, 8192, 65536])
    return {
        "name": f"ns-{i:05d}",
        "team": team,
        "instance": instance["name"],
        "pattern": _pattern(i, instance["environment"], team, rng),
        "classification": classification,
        "data_type": rng.choice(["string", "hash", "set", "zset"]),
        "ttl": {"mode": "none"}
        if no_ttl
        else {
            "mode": rng.choice(["absolute", "sliding"]),
            "seconds": seconds,
            "jitter_seconds": rng.choice([0, seconds // 10]),
        },
        "value_bytes": {"typical": typical, "max": typical * rng.choice([1, 4, 64])},
        "cardinality": rng.choice([100, 10_000, 100_000, 1_000_000]),
        "ops_per_sec": {"reads": rng.randint(0, 5000), "writes": rng.randint(0, 1000)},
        "data_classification": rng.choice(["public", "internal", "confidential", "restricted"]),
        "contains": rng.choice([[], [], [], ["pii"], ["tokens"]]),
        "negative_cache": rng.random() < 0.05,
        "source_of_truth": None if rng.random() < 0.2 else "sql.table",
        "multi_key_with": [],
    }


def make_design(namespaces: int, *, seed: int = 7) -> Design:
    rng = random.Random(seed)
    teams = [f"team-{t:02d}" for t in range(40)]
    instances = [_instance(i, rng) for i in range(INSTANCES)]
    items = []
    for i in range(namespaces):
        instance = instances[i % INSTANCES]
        items.append(_namespace(i, instance, teams[(i // 3) % len(teams)], rng))
    return Design.model_validate(
        {
            "version": 1,
            "teams": [{"name": t} for t in teams],
            "instances": instances,
            "namespaces": items,
        }
    )


def main() -> int:
    today = date(2026, 11, 26)
    timings: dict[int, float] = {}
    for size in SIZES:
        design = make_design(size)
        start = time.perf_counter()
        result = lint_design(design, today=today)
        timings[size] = elapsed = time.perf_counter() - start
        key005 = sum(f.rule == "KEY005" for f in result.findings)
        print(
            f"{size:>6} namespaces / {INSTANCES} instances: {elapsed:6.2f} s  "
            f"({len(result.findings):,} findings, {key005} overlaps)"
        )
    for small, big in zip(SIZES, SIZES[1:], strict=False):
        print(
            f"growth {small:,} -> {big:,}: time x{timings[big] / timings[small]:.1f} for x{big / small:.0f} namespaces"
        )
    last = SIZES[-1]
    ok = timings[last] < TARGET_SECONDS
    print(
        f"{'OK' if ok else 'TOO SLOW'}: {timings[last]:.2f} s for {last:,} namespaces (target < {TARGET_SECONDS} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
