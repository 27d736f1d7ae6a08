"""Load benchmark: concurrent clients against gunicorn, run the way the Dockerfile runs it.

Run: .venv/bin/python bench/load.py [--duration 60] [--clients 20] [--database-url URL]

Sets up a fresh database (a temporary SQLite file, or --database-url, e.g. an empty PostgreSQL
database), migrates it, collects the static files, imports the demo design and creates a demo
administrator with a session and an API token. Then starts gunicorn with the Dockerfile's command
(`gunicorn advisor.wsgi:application --workers 3 --access-logfile -`, bound to 127.0.0.1 on a free
port instead of 0.0.0.0:8000) in production mode (no debug, the hashed static files), with a
private redis-server as its Redis, and runs N clients for the duration: each client requests the
main pages and the API lists in turn, one request at a time, starting at a different route.

Prints, per route and overall: requests, errors (any status but 200, or no answer within 30 s),
p50/p95/p99 and max latency in milliseconds, and requests per second. Exit 0 when there was no
error and the overall p99 is under --p99-ms (500); 1 otherwise. The clients run in this process
(threads, the standard library's http.client, one connection per request as gunicorn's sync
workers close each one); on a small machine they take CPU from the server they measure.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.lib.redisproc import RedisProcess, free_port  # noqa: E402

DEMO_DESIGN = ROOT / "advisor" / "demo" / "demo_design.yaml"
PAGES = [
    "/",
    "/findings/",
    "/instances/",
    "/namespaces/",
    "/compliance/",
    "/rules/",
    "/instances/prod-catalog-cache/",
    "/namespaces/product-cache/",
]
API = ["/api/instances", "/api/namespaces", "/api/findings"]
REQUEST_TIMEOUT_S = 30

SETUP = """
from django.contrib.auth import get_user_model
from advisor.accounts.models import ApiToken
user = get_user_model().objects.create_superuser("loadbench", "loadbench@example.invalid", {password!r})
print("TOKEN", ApiToken.issue(user=user, name="load benchmark")[1])
"""


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def request(port: int, path: str, headers: dict[str, str], *, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def login(port: int, password: str) -> str:
    """The session cookie of the demo administrator, signed in through the login page."""
    status, headers, body = request(port, "/login/", {"Host": "127.0.0.1"})
    cookies = _cookies(headers)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = urllib.parse.urlencode(
        {"username": "loadbench", "password": password, "csrfmiddlewaretoken": token}
    )
    status, headers, _ = request(
        port,
        "/login/",
        {
            "Host": "127.0.0.1",
            "Cookie": f"csrftoken={cookies['csrftoken']}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{port}/login/",
        },
        method="POST",
        body=form,
    )
    session = _cookies(headers).get("sessionid")
    if status != 302 or not session:
        raise SystemExit(f"login failed: {status}")
    return session


def _cookies(headers) -> dict[str, str]:
    found = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            found[key.strip()] = rest.split(";", 1)[0]
    return found


def server_cpu(master: int) -> float:
    """CPU seconds used so far by gunicorn's master and its workers (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == master or int(fields[1]) == master:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def run_clients(port: int, routes: list[tuple[str, dict]], clients: int, duration: float):
    latencies: dict[str, list[float]] = {path: [] for path, _ in routes}
    errors: dict[str, list[str]] = {path: [] for path, _ in routes}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(offset: int):
        start.wait()
        deadline = time.monotonic() + duration
        i = offset
        while time.monotonic() < deadline:
            path, headers = routes[i % len(routes)]
            i += 1
            began = time.perf_counter()
            try:
                status, _, body = request(port, path, headers)
                problem = None if status == 200 else f"{status} {body[:120]!r}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies[path].append(elapsed)
                if problem:
                    errors[path].append(problem)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    return latencies, errors, time.monotonic() - began


def report(latencies, errors, wall: float, p99_limit: float) -> bool:
    print(f"\n{'route':<34} {'requests':>8} {'errors':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  ms")
    every = []
    for path, values in latencies.items():
        every += values
        print(
            f"{path:<34} {len(values):>8} {len(errors[path]):>6} {percentile(values, 50):>7.0f} "
            f"{percentile(values, 95):>7.0f} {percentile(values, 99):>7.0f} {max(values, default=0):>7.0f}"
        )
    failed = sum(len(e) for e in errors.values())
    p99 = percentile(every, 99)
    print(
        f"{'overall':<34} {len(every):>8} {failed:>6} {percentile(every, 50):>7.0f} "
        f"{percentile(every, 95):>7.0f} {p99:>7.0f} {max(every, default=0):>7.0f}"
    )
    print(f"\n{len(every) / wall:.1f} requests/s over {wall:.1f} s; mean {statistics.fmean(every):.0f} ms")
    for path, problems in errors.items():
        for problem in problems[:3]:
            print(f"  error {path}: {problem}")
    ok = failed == 0 and p99 < p99_limit
    print(f"{'OK' if ok else 'FAILED'}: {failed} errors, overall p99 {p99:.0f} ms (limit {p99_limit:.0f} ms)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn workers (default 3, as the Dockerfile)"
    )
    parser.add_argument("--database-url", help="an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--p99-ms", type=float, default=500.0, help="overall p99 limit (default 500)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server, e.g. ADVISOR_DB_CONN_MAX_AGE=60 (repeatable)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="advisor-load-") as tmp, RedisProcess() as redis:
        work = Path(tmp)
        password = secrets.token_urlsafe(18)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")},
            "DJANGO_SETTINGS_MODULE": "advisor.settings",
            "ADVISOR_SECRET_KEY": secrets.token_urlsafe(48),
            "ADVISOR_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ADVISOR_SECURE_COOKIES": "false",  # plain HTTP on loopback
            "ADVISOR_VAR_DIR": str(work),
            "ADVISOR_STATIC_ROOT": str(work / "static"),
            "ADVISOR_LOG_LEVEL": "WARNING",
            "DATABASE_URL": args.database_url or f"sqlite:///{work / 'load.sqlite3'}",
            "REDIS_URL": redis.url,
            "PYTHONUNBUFFERED": "1",
        }
        for item in args.env:
            name, sep, value = item.partition("=")
            if not sep:
                parser.error(f"--env {item!r}: use NAME=VALUE")
            env[name] = value
        started = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        manage(env, "import_designs", str(DEMO_DESIGN))
        token = re.search(r"TOKEN (\S+)", manage(env, "shell", stdin=SETUP.format(password=password))).group(
            1
        )
        print(
            f"set up in {time.monotonic() - started:.1f} s ({env['DATABASE_URL'].split(':')[0]} database"
            + "".join(f", {item}" for item in args.env)
            + ")"
        )

        port = free_port()
        gunicorn = [
            str(Path(sys.executable).parent / "gunicorn"),
            "advisor.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--access-logfile",
            "-",
        ]
        with open(work / "gunicorn.log", "wb") as log:
            server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if request(port, "/api/health", {"Host": "127.0.0.1"})[0] == 200:
                            break
                    except OSError:
                        pass
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("gunicorn did not start:\n" + (work / "gunicorn.log").read_text())
                    time.sleep(0.2)
                session = login(port, password)
                page_headers = {"Host": "127.0.0.1", "Cookie": f"sessionid={session}"}
                api_headers = {"Host": "127.0.0.1", "Authorization": f"Bearer {token}"}
                routes = [(p, page_headers) for p in PAGES] + [(p, api_headers) for p in API]
                for path, headers in routes:  # every route answers before the clock starts
                    status, _, body = request(port, path, headers)
                    if status != 200:
                        raise SystemExit(f"{path}: {status} {body[:300]!r}")
                print(
                    f"gunicorn ({args.workers} sync workers) on 127.0.0.1:{port}; {args.clients} clients for "
                    f"{args.duration:.0f} s over {len(PAGES)} pages and {len(API)} API lists"
                )
                cpu_before, server_before = time.process_time(), server_cpu(server.pid)
                latencies, errors, wall = run_clients(port, routes, args.clients, args.duration)
                served = sum(len(v) for v in latencies.values())
                server_used = server_cpu(server.pid) - server_before
                print(
                    f"gunicorn used {server_used / wall:.2f} CPU cores, {server_used / served * 1000:.1f} ms of CPU "
                    f"per request; the clients {(time.process_time() - cpu_before) / wall:.2f} cores; "
                    f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
        lines = (work / "gunicorn.log").read_text(errors="replace").splitlines()
        worker_trouble = [line for line in lines if "WORKER TIMEOUT" in line or "Traceback" in line]
    ok = report(latencies, errors, wall, args.p99_ms)
    for line in worker_trouble[:5]:
        print(f"  gunicorn: {line}")
    return 0 if ok and not worker_trouble else 1


if __name__ == "__main__":
    raise SystemExit(main())
