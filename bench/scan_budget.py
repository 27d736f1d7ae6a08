"""How well the scanner keeps its ops budget, counted by the server, with a pause in the middle.

Run: .venv/bin/python bench/scan_budget.py [--budget 300] [--keys 3000] [--pause 5]

Loads a private redis-server, watches it with MONITOR (the execution time of every command),
scans it with the given ops budget and stops the server (SIGSTOP) for `--pause` seconds once a
third of the keys are scanned. Prints the busiest one-second window the server saw against the
budget, the busiest window in the two seconds after the pause (where a catch-up burst would be),
and the rate the scan achieved outside the pause.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advisor.core.design import load_design  # noqa: E402
from advisor.core.scan import ScanOptions, ScanTarget, namespace_specs, run_scan  # noqa: E402
from advisor.lib.redisproc import RedisProcess  # noqa: E402

DESIGN = """\
version: 1
teams: [{{name: catalog}}]
instances:
  - name: bench-cache
    environment: prod
    product: redis-oss
    memory_gb: 1
    clustering: none
    high_availability: false
    persistence: none
    geo_replication: false
    eviction_policy: volatile-lru
    auth: none
    tls: false
    public_network_access: false
    connection: {{url: "{url}", credential: none}}
namespaces:
  - name: product-cache
    team: catalog
    instance: bench-cache
    pattern: "prod:catalog:product:v3:<id:int>"
    classification: disposable
    data_type: string
    ttl: {{mode: absolute, seconds: 600}}
    value_bytes: {{typical: 50, max: 100}}
    cardinality: 3000
    ops_per_sec: {{reads: 1, writes: 1}}
    data_classification: internal
    source_of_truth: catalog-db
"""


def monitor(port: int, times: list[float], stop: threading.Event) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    sock.sendall(b"MONITOR\r\n")
    buffer = b""
    while not stop.is_set():
        try:
            data = sock.recv(1 << 16)
        except TimeoutError:
            continue
        if not data:
            break
        buffer += data
        *lines, buffer = buffer.split(b"\r\n")
        times.extend(float(x[1:].split(b" ", 1)[0]) for x in lines if x.startswith(b"+") and b" [" in x)
    sock.close()


def busiest(times: list[float], start: float = float("-inf"), end: float = float("inf")) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + 1.0:
            j += 1
        if start <= t < end:
            best = max(best, j - i)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--keys", type=int, default=3000)
    parser.add_argument("--pause", type=float, default=5.0)
    args = parser.parse_args()
    with RedisProcess() as server:
        import redis

        r = redis.Redis(port=server.port)
        pipe = r.pipeline(transaction=False)
        for i in range(args.keys):
            pipe.set(f"prod:catalog:product:v3:{i}", "x" * 50, ex=600)
        pipe.execute()
        r.close()
        times: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=monitor, args=(server.port, times, stop), daemon=True)
        watcher.start()
        time.sleep(0.2)
        pid = server.proc.pid
        resumed: list[float] = []

        def pause(progress) -> None:
            if progress.keys_scanned >= args.keys // 3 and not resumed:
                os.kill(pid, signal.SIGSTOP)
                resumed.append(time.time() + args.pause)
                threading.Timer(args.pause, os.kill, (pid, signal.SIGCONT)).start()

        design = load_design(DESIGN.format(url=server.url))
        target = ScanTarget.from_instance(design.instance("bench-cache"))
        options = ScanOptions(
            allowed_hosts=["127.0.0.1"],
            max_ops=args.budget,
            read_timeout=args.pause + 10,
            progress_interval=0.0,
        )
        report = run_scan(target, namespace_specs(design, "bench-cache"), options, progress=pause)
        time.sleep(0.5)
        stop.set()
        watcher.join(5)
    times.sort()
    after = resumed[0] if resumed else 0.0
    running_s = report.duration_s - (args.pause if resumed else 0.0)
    print(
        f"budget {args.budget}/s, {report.keys_scanned:,} keys, complete={report.complete}, error={report.error}"
    )
    print(f"server saw {len(times):,} commands (read loop {report.ops_sent:,}) in {report.duration_s:.1f} s")
    print(f"busiest 1-s window: {busiest(times)} commands (budget {args.budget})")
    print(
        f"busiest 1-s window starting within 2 s after the {args.pause:g} s pause: {busiest(times, after - 1, after + 2)}"
    )
    print(
        f"rate outside the pause: {report.ops_sent / running_s:.0f} commands/s ({report.ops_sent / running_s / args.budget:.0%} of the budget)"
    )


if __name__ == "__main__":
    main()
