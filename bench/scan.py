"""Benchmark the scanner against `redis-cli --memkeys` on the same private redis-server.

Run: .venv/bin/python bench/scan.py [--keys 1000000] [--repeat 2] [--seed 7]

Loads a private redis-server with a realistic keyspace (strings with TTLs, hashes behind hash
tags, sessions, sets, sorted sets, lists, locks, and about 10% keys no namespace claims), then
times on it, in the same run:

- `redis-cli --memkeys` (SCAN + TYPE + MEMORY USAGE, what people use today);
- the scanner in full mode (MEMORY USAGE and, for collections, the element count for every
  key) and in default mode (both sampled at 0.1), each in a fresh child process that reports its
  peak RSS at 100k keys and at the end.

It prints keys/s for each, the ratios, the RSS growth, and the server's own command time per key
(INFO commandstats, reset before each run), which bounds every client. Unlimited ops budget:
this measures speed, not politeness. Targets: full >= 1.2x memkeys, default >= 2x, RSS growth
from 100k keys to the end < 20 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advisor.lib.redisproc import RedisProcess  # noqa: E402

NAMESPACES = [
    ("product-cache", "prod:catalog:product:v3:<id:int>"),
    ("cart-items", "prod:cart:{<customer:int>}:items"),
    ("sessions", "prod:sessions:session:v2:<sid:uuid>"),
    ("follows", "prod:feeds:follow:v1:<user:int>"),
    ("scores", "prod:recs:score:v1:<user:int>"),
    ("notify-queue", "prod:notify:queue:v1:<user:int>"),
    ("order-locks", "prod:orders:lock:order:<id:hex>"),
    ("price-cache", "prod:pricing:price:v2:<sku:int>:<region>"),
]
# (share, kind); "legacy" and "tmp" are the unregistered 10%.
MIX = [
    (0.35, "product"),
    (0.12, "cart"),
    (0.10, "session"),
    (0.08, "follow"),
    (0.05, "score"),
    (0.05, "queue"),
    (0.05, "lock"),
    (0.10, "price"),
    (0.06, "legacy"),
    (0.04, "tmp"),
]
REGIONS = ["eu", "us", "apac", "latam"]


def _cmd(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%b\r\n" % (len(a), a))
    return b"".join(out)


def generate(n: int, seed: int):
    """Yields RESP command buffers that create n keys, about 20k keys at a time."""
    rng = random.Random(seed)
    kinds = [k for _, k in MIX]
    weights = [w for w, _ in MIX]
    vals = {size: b"v" * size for size in (40, 120, 300, 800, 2000)}
    sizes = list(vals)
    chunk: list[bytes] = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        ttl = b"%d" % (600 + rng.randint(0, 90))
        if kind == "product":
            chunk.append(_cmd(b"SET", b"prod:catalog:product:v3:%d" % i, vals[rng.choice(sizes)], b"EX", ttl))
        elif kind == "cart":
            key = b"prod:cart:{%d}:items" % i
            fields = []
            for f in range(rng.randint(2, 8)):
                fields += [b"sku%d" % f, b"%d" % rng.randint(1, 5)]
            chunk.append(_cmd(b"HSET", key, *fields))
            chunk.append(_cmd(b"EXPIRE", key, b"86400"))
        elif kind == "session":
            key = b"prod:sessions:session:v2:" + str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode()
            chunk.append(_cmd(b"SET", key, vals[300], b"EX", b"1800"))
        elif kind == "follow":
            chunk.append(
                _cmd(
                    b"SADD",
                    b"prod:feeds:follow:v1:%d" % i,
                    *[b"%d" % rng.randint(1, 10**6) for _ in range(5)],
                )
            )
        elif kind == "score":
            members = []
            for m in range(6):
                members += [b"%d" % m, b"item%d" % rng.randint(1, 10**5)]
            chunk.append(_cmd(b"ZADD", b"prod:recs:score:v1:%d" % i, *members))
        elif kind == "queue":
            chunk.append(_cmd(b"RPUSH", b"prod:notify:queue:v1:%d" % i, *[b"msg%d" % m for m in range(4)]))
        elif kind == "lock":
            chunk.append(
                _cmd(
                    b"SET", b"prod:orders:lock:order:%016x" % rng.getrandbits(64), b"owner", b"PX", b"3600000"
                )
            )
        elif kind == "price":
            key = b"prod:pricing:price:v2:%d:%s" % (i, rng.choice(REGIONS).encode())
            chunk.append(_cmd(b"SET", key, vals[40], b"EX", ttl))
        elif kind == "legacy":
            chunk.append(_cmd(b"SET", b"legacy:cache:item:%d" % i, vals[120]))
        else:
            key = b"tmp:" + str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode()
            chunk.append(_cmd(b"SET", key, vals[40]))
        if len(chunk) >= 20000:
            yield b"".join(chunk), len(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk), len(chunk)


def load(port: int, n: int, seed: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(120)
        pending = 0
        received = b""
        for buf, commands in generate(n, seed):
            s.sendall(buf)
            pending += commands
            # Read the replies (all one line) as we go so neither side's buffers fill up.
            while pending > 40000:
                received += s.recv(1 << 20)
                lines = received.count(b"\r\n")
                received = received[received.rfind(b"\r\n") + 2 :]
                pending -= lines
        while pending > 0:
            received += s.recv(1 << 20)
            lines = received.count(b"\r\n")
            received = received[received.rfind(b"\r\n") + 2 :]
            pending -= lines


def _call(port: int, *args: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(_cmd(*[a.encode() for a in args]))
        data = b""
        s.settimeout(30)
        while True:
            data += s.recv(1 << 16)
            if data.startswith(b"$"):
                head, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(head[1:]) + 2:
                    return rest[: int(head[1:])]
            elif data.endswith(b"\r\n"):
                return data


def server_usec_per_key(port: int, keys: int) -> tuple[float, dict[str, float]]:
    text = _call(port, "INFO", "commandstats").decode()
    per: dict[str, float] = {}
    total = 0
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line[len("cmdstat_") :].partition(":")
            fields = dict(item.split("=") for item in rest.split(","))
            if name in ("scan", "type", "pttl", "memory|usage", "hlen", "scard", "zcard", "llen", "xlen"):
                per[name] = int(fields["usec"]) / keys
                total += int(fields["usec"])
    return total / keys, per


def dbsize(port: int) -> int:
    return int(_call(port, "DBSIZE")[1:].strip())


# Where the client of the current run may run: None = anywhere (the scheduler decides).
CLIENT_CPUS: set[int] | None = None


def _pin_client() -> None:
    if CLIENT_CPUS:
        os.sched_setaffinity(0, CLIENT_CPUS)


def run_memkeys(port: int) -> float:
    t = time.perf_counter()
    subprocess.run(
        ["redis-cli", "-p", str(port), "--memkeys"], check=True, capture_output=True, preexec_fn=_pin_client
    )
    return time.perf_counter() - t


def run_scanner(port: int, sample: float, count: int | None) -> dict:
    extra = ["--count", str(count)] if count else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(port), "--sample", str(sample), *extra],
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=_pin_client,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _hwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def child(port: int, sample: float, count: int | None) -> None:
    from advisor.core.scan import NamespaceSpec, ScanOptions, ScanTarget, run_scan

    specs = [
        NamespaceSpec(name=n, pattern=p, ttl_limit_ms=700_000, memory_limit_bytes=4000) for n, p in NAMESPACES
    ]
    marks: dict[str, int] = {}

    def progress(p) -> None:
        if p.keys_scanned >= 100_000 and "rss_100k_kb" not in marks:
            marks["rss_100k_kb"] = _hwm_kb()

    options = ScanOptions(
        allowed_hosts=["127.0.0.1"], memory_sample=sample, max_ops=None, progress_interval=0.05
    )
    if count:
        options.count = count
    t = time.perf_counter()
    report = run_scan(
        ScanTarget(instance="bench", url=f"redis://127.0.0.1:{port}/0"), specs, options, progress=progress
    )
    elapsed = time.perf_counter() - t
    assert report.complete, report.error
    print(
        json.dumps(
            {
                "keys": report.keys_scanned,
                "seconds": elapsed,
                "rss_100k_kb": marks["rss_100k_kb"],
                "rss_end_kb": _hwm_kb(),
                "unmatched": report.unmatched.keys,
                "patterns": len(report.unmatched.patterns),
                "ops": report.ops_sent,
                "counted": sum(n.collections_counted for n in report.namespaces)
                + report.unmatched.collections_counted,
            }
        )
    )


def server_cpu_s(port: int) -> float:
    info = _call(port, "INFO", "cpu").decode()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])


MEMKEYS = "redis-cli --memkeys"
FULL = "scanner, full (memory 1.0)"
DEFAULT = "scanner, default (memory 0.1)"


SHARED = "shared CPUs"
OWN = "server on own CPU"


def main() -> None:
    global CLIENT_CPUS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument(
        "--repeat", type=int, default=3, help="rounds of all runs; each contender's best run counts"
    )
    ap.add_argument(
        "--count", type=int, default=None, help="SCAN COUNT for the scanner (default: ScanOptions')"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sample", type=float, default=0.1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.sample, args.count)
        return

    cpus = sorted(os.sched_getaffinity(0))
    placements = [SHARED, OWN] if len(cpus) >= 2 else [SHARED]
    with RedisProcess() as server:
        port = server.port
        t = time.perf_counter()
        load(port, args.keys, args.seed)
        keys = dbsize(port)
        print(
            f"loaded {keys:,} keys in {time.perf_counter() - t:.1f} s (private redis-server on port {port})"
        )
        print(f"machine: {len(cpus)} CPUs; load average {os.getloadavg()[0]:.2f} before the runs")
        print(
            "every contender runs in two placements, in interleaved rounds: on CPUs shared with redis-server\n"
            "(the scheduler decides), and with redis-server pinned to one CPU and the client to the others\n"
            "(as when the cache is on its own machine). Each contender's fastest run counts.\n"
        )
        runs: list[dict] = []
        for _ in range(args.repeat):
            for placement in placements:
                if placement == OWN:
                    os.sched_setaffinity(server.proc.pid, {cpus[0]})
                    CLIENT_CPUS = set(cpus[1:])
                else:
                    os.sched_setaffinity(server.proc.pid, set(cpus))
                    CLIENT_CPUS = None
                for name in (MEMKEYS, FULL, DEFAULT):
                    _call(port, "CONFIG", "RESETSTAT")
                    cpu0 = server_cpu_s(port)
                    if name == MEMKEYS:
                        r = {"seconds": run_memkeys(port), "keys": keys}
                    else:
                        r = run_scanner(port, 1.0 if name == FULL else 0.1, args.count)
                    r["server_cpu_us"] = (server_cpu_s(port) - cpu0) / r["keys"] * 1e6
                    r["server_us"], r["per"] = server_usec_per_key(port, r["keys"])
                    r["name"], r["placement"] = name, placement
                    r["rate"] = r["keys"] / r["seconds"]
                    runs.append(r)
        load_after = os.getloadavg()[0]

    best = {}
    for r in runs:
        key = (r["name"], r["placement"])
        if key not in best or r["rate"] > best[key]["rate"]:
            best[key] = r
    results = {
        name: max((r for r in runs if r["name"] == name), key=lambda r: r["rate"])
        for name in (MEMKEYS, FULL, DEFAULT)
    }
    base = results[MEMKEYS]["rate"]
    header = (
        f"{'contender':31} {'placement':18} {'keys/s':>9} {'vs best memkeys':>15} "
        f"{'server cmd us/key':>17} {'server CPU us/key':>17}"
    )
    print(header)
    print("-" * len(header))
    for (name, placement), r in best.items():
        mark = " *" if results[name] is r else ""
        print(
            f"{name:31} {placement:18} {r['rate']:9,.0f} {r['rate'] / base:14.2f}x "
            f"{r['server_us']:17.2f} {r['server_cpu_us']:17.2f}{mark}"
        )
    print("(* the contender's best run, used below)\n")
    print("server command time per key (INFO commandstats) is the floor any client is held to:")
    for name, r in results.items():
        per = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["per"].items()))
        limit = 1e6 / r["server_us"] if r["server_us"] else float("inf")
        print(f"  {name:31} {per}  -> at most {limit:,.0f} keys/s")
    print()
    verdict = []
    for name, target in ((FULL, 1.2), (DEFAULT, 2.0)):
        r = results[name]
        ratio = r["rate"] / base
        growth = (r["rss_end_kb"] - r["rss_100k_kb"]) / 1024
        print(
            f"{name}: peak RSS {r['rss_100k_kb'] / 1024:.1f} MB at 100k keys, {r['rss_end_kb'] / 1024:.1f} MB "
            f"at {r['keys']:,} keys (growth {growth:.1f} MB); {r['unmatched']:,} unmatched keys in "
            f"{r['patterns']} inferred patterns; {r['ops']:,} commands, {r['counted']:,} element counts"
        )
        verdict.append((name, ratio >= target, f"{ratio:.2f}x best memkeys (target {target}x)"))
        verdict.append((name + ", RSS growth", growth < 20, f"{growth:.1f} MB (target < 20 MB)"))
    print(f"\nload average {load_after:.2f} after the runs (other work on the machine skews every number)\n")
    for name, ok, text in verdict:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {text}")


if __name__ == "__main__":
    main()
