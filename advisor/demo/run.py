"""`make run`: the whole advisor on one console, with a demo cache worth scanning.

Starts a broker redis-server and a demo cache redis-server on free ports, fills the cache with
the demo keyspace, imports the demo design pointed at it, creates the demo users, then runs the
web server, a Celery worker and Celery beat, prefixing their output with their names. Ctrl-C
(or SIGTERM) stops everything it started; if one of them dies, it stops the rest and fails.

Environment: ADVISOR_PORT (default 8000), ADVISOR_DEMO_KEYS (default 300000), ADVISOR_VAR_DIR,
DATABASE_URL; REDIS_URL is set for the children to the private broker, and ADVISOR_BASE_URL (the
links in e-mails) to the address the web server serves on unless it is set. When the app is up, the
banner prints the environment a management command in another terminal needs to act on this run.
"""

from __future__ import annotations

import errno
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import redis

from advisor.core.design import Design, load_design_file
from advisor.demo.keyspace import (
    DEMO_DESIGN_PATH,
    DemoKeyspace,
    Refresher,
    connect,
    local_instances,
    primaries,
    url_db,
    with_cache_url,
    with_db,
)
from advisor.lib.redisproc import RedisProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VAR_DIR = ROOT / "var"  # the settings' default for ADVISOR_VAR_DIR
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
READY_TIMEOUT = 120.0
SEED = 7
MAX_SHARDS = 3  # enough to show per-shard results without a process per designed shard

_COLOURS = {"run": "1;37", "setup": "36", "web": "32", "worker": "35", "beat": "33"}


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


class Console:
    """One console for all processes: whole lines, each prefixed with who wrote it."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.lock = threading.Lock()
        self.colour = stream.isatty() and not os.environ.get("NO_COLOR")

    def line(self, name: str, text: str) -> None:
        prefix = f"[{name}]"
        if self.colour:
            prefix = f"\033[{_COLOURS.get(name, '0')}m{prefix}\033[0m"
        with self.lock:
            self.stream.write(f"{prefix} {text}\n")
            self.stream.flush()

    def block(self, text: str) -> None:
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()


class Child:
    """A child process in its own process group, so that stopping it also stops its own children."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], console: Console):
        self.name = name
        self.argv = argv
        self.env = env
        self.console = console
        self.proc: subprocess.Popen | None = None
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only the supervisor, which stops
        # the children in order (the broker must outlive the worker).
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"pump-{self.name}", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self.proc and self.proc.stdout
        for raw in self.proc.stdout:
            self.console.line(self.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal_group(self, sig: int) -> bool:
        """Send a signal to the whole process group; False when nothing is left in it."""
        if self.proc is None:
            return False
        try:
            os.killpg(self.proc.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def finish_output(self) -> None:
        if self._pump:
            self._pump.join(timeout=2)


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As runserver binds: a port in TIME_WAIT is free, one with a listener is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def http_ok(url: str) -> bool:
    # No proxy: an http_proxy in the environment must not swallow requests to loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _cache_args(policy: str) -> list[str]:
    # The eviction policy as designed, so that a scan finds no policy drift the demo did not mean.
    return ["--maxmemory", "1gb", "--maxmemory-policy", policy]


def _cluster_ok(client: redis.Redis, nodes: int) -> bool:
    reply = client.execute_command("CLUSTER", "INFO")
    if isinstance(reply, dict):
        info = {str(k): str(v) for k, v in reply.items()}
    else:
        text = reply.decode() if isinstance(reply, bytes) else str(reply)
        info = dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)
    return info.get("cluster_state") == "ok" and info.get("cluster_known_nodes") == str(nodes)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None


class Supervisor:
    def __init__(self, *, port: int, keys: int, var_dir: Path, console: Console | None = None):
        self.port = port
        self.keys = keys
        self.var_dir = var_dir
        self.console = console or Console()
        self.broker: RedisProcess | None = None
        self.redis_servers: list[RedisProcess] = []  # in start order, the broker first
        self.refreshers: list[Refresher] = []
        self.setup: subprocess.Popen | None = None  # manage.py load_demo
        self.children: list[Child] = []
        self.stopping = False
        self.hurry = threading.Event()

    def say(self, text: str) -> None:
        self.console.line("run", text)

    # -- signals

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:
            # A second Ctrl-C while stopping: no more waiting for graceful exits.
            self.hurry.set()
            return
        raise Stop(signal.Signals(signum).name)

    # -- the run

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        code = 0
        try:
            code = self._run()
        except Stop as stop:
            self.say(f"{stop}: stopping everything")
        except Exception:
            # Whatever broke, the processes started so far must not outlive us.
            self.say("failed, stopping everything:\n" + traceback.format_exc().rstrip())
            code = 1
        finally:
            self._shutdown()
        return code

    def _run(self) -> int:
        if port_in_use(self.port):
            self.say(
                f"port {self.port} on 127.0.0.1 is already in use (another `make run`?). "
                f"Stop that, or choose another port: ADVISOR_PORT=8001 make run"
            )
            return 1
        started = time.monotonic()
        self.broker = self._start_redis("broker")
        design = load_design_file(DEMO_DESIGN_PATH)
        urls = self._start_caches(design)
        for name, url in urls.items():
            design = with_cache_url(design, url, only=[name])
        # load_demo spends most of its time starting Django: let it do that while the keys load.
        self.setup = self._start_load_demo(urls)
        self._load_keyspace(design)
        if not self._finish_load_demo():
            return 1

        env = self._child_env()
        py = sys.executable
        celery = [py, "-m", "celery", "-A", "advisor"]
        for name, argv in [
            ("web", [py, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]),
            (
                "worker",
                [
                    *celery,
                    "worker",
                    "-l",
                    "info",
                    "--concurrency",
                    "2",
                    "--without-mingle",
                    "--without-gossip",
                ],
            ),
            ("beat", [*celery, "beat", "-l", "info"]),
        ]:
            child = Child(name, argv, env, self.console)
            self.children.append(child)
            child.start()
            self.say(f"started {name} (pid {child.pid}): {' '.join(argv[1:])}")

        url = self.base_url + "/"
        deadline = time.monotonic() + READY_TIMEOUT
        while not http_ok(url + "login/"):
            dead = self._dead_child()
            if dead:
                return self._died(dead, before_ready=True)
            if time.monotonic() > deadline:
                self.say(f"the web server did not answer at {url}login/ within {READY_TIMEOUT:.0f} s")
                return 1
            time.sleep(0.3)
        self._banner(url, design, time.monotonic() - started)

        while True:
            dead = self._dead_child()
            if dead:
                return self._died(dead, before_ready=False)
            time.sleep(0.5)

    def _start_redis(self, role: str, args: list[str] | None = None) -> RedisProcess:
        workdir = self.var_dir / "demo" / f"redis-{role}"
        workdir.mkdir(parents=True, exist_ok=True)
        # A cluster node would otherwise rejoin the previous run's cluster, on ports long gone.
        for stale in ("redis.log", "nodes.conf"):
            (workdir / stale).unlink(missing_ok=True)
        proc = RedisProcess(args=args, workdir=str(workdir))
        self.redis_servers.append(proc)  # before start: a signal during start must still stop it
        # The terminal's Ctrl-C goes to the whole foreground process group; blocked here, it
        # stays blocked in redis-server, which then stops when we say so, after the worker.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.say(f"{role} redis-server on port {proc.port} (pid {proc.proc.pid}), log in {workdir}")
        return proc

    def _start_caches(self, design: Design) -> dict[str, str]:
        """Demo caches shaped like the local instances; returns the URL of each instance's cache.

        The scanner talks to an OSS-clustered instance through CLUSTER SLOTS, so those get a real
        cluster; the others share one plain server.
        """
        local = [design.instance(name) for name in local_instances(design)]
        clustered = [i for i in local if i.clustering == "oss"]
        plain = [i for i in local if i.clustering != "oss"]
        urls: dict[str, str] = {}
        if clustered:
            shards = max(1, min(MAX_SHARDS, max(i.shards for i in clustered)))
            seed = self._start_cluster(shards, clustered[0].eviction_policy)
            urls.update({i.name: seed for i in clustered})
        if plain:
            proc = self._start_redis("cache", _cache_args(plain[0].eviction_policy))
            urls.update({i.name: proc.url for i in plain})
        return urls

    def _start_cluster(self, shards: int, policy: str) -> str:
        nodes = [
            self._start_redis(
                f"cluster-{n + 1}",
                [
                    *_cache_args(policy),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    # The default bus port (port + 10000) may be taken or beyond 65535.
                    "--cluster-port",
                    str(free_port()),
                    "--cluster-announce-ip",
                    "127.0.0.1",
                ],
            )
            for n in range(shards)
        ]
        clients = [redis.Redis(host="127.0.0.1", port=p.port) for p in nodes]
        try:
            bounds = [16384 * n // shards for n in range(shards + 1)]
            for n, client in enumerate(clients):
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[n], bounds[n + 1] - 1)
            bus = clients[0].config_get("cluster-port")["cluster-port"]
            for client in clients[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", nodes[0].port, bus)
            deadline = time.monotonic() + 20
            while not all(_cluster_ok(client, shards) for client in clients):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the demo cluster of {shards} nodes did not form within 20 s")
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
        self.say(f"demo cluster of {shards} primaries is up; seed {nodes[0].url}")
        return nodes[0].url

    def _load_keyspace(self, design: Design) -> None:
        # One keyspace per cache (and database): drift goes with the first, the cache of the
        # first local instance (in the demo design: prod-catalog-cache).
        groups: dict[str, list[str]] = {}
        for name in local_instances(design):
            groups.setdefault(design.instance(name).connection.url, []).append(name)
        weight = {
            url: sum(ns.cardinality for n in names for ns in design.namespaces_on(n))
            for url, names in groups.items()
        }
        total_weight = sum(weight.values()) or 1
        for i, (url, names) in enumerate(groups.items()):
            # A small cache still gets enough keys to look like something in a scan.
            floor = min(weight[url], 100 * sum(len(design.namespaces_on(n)) for n in names))
            keys = max(floor, round(self.keys * weight[url] / total_weight))
            self.say(f"loading {keys:,} demo keys for {', '.join(names)} into {url}")
            keyspace = DemoKeyspace(design, names, total_keys=keys, seed=SEED, drift=i == 0)
            clients, slot_owner = connect(url)
            try:
                result = keyspace.load(
                    clients,
                    slot_owner=slot_owner,
                    progress=lambda done, total: self.say(f"  {done:,} / {total:,} keys"),
                )
            finally:
                for client in clients:
                    client.close()
            self.say(
                f"loaded {result['total']:,} keys in {result['seconds']:.1f} s, "
                f"{result['used_memory'] / 2**20:.0f} MiB"
            )
            for kind, per in result["drift"].items():
                for family, count in per.items():
                    self.say(f"  drift {kind.replace('_', ' ')}: {family}: {count:,}")
            # Expiry events are per node: one refresher for each primary.
            for node in primaries(url):
                refresher = Refresher(with_db(node, url_db(url)), keyspace, log=self.say)
                refresher.start()
                self.refreshers.append(refresher)

    def _start_load_demo(self, urls: dict[str, str]) -> subprocess.Popen:
        argv = [sys.executable, "manage.py", "load_demo", "--password-file", str(self.password_file)]
        for name, url in urls.items():
            argv += ["--cache-url", f"{name}={url}"]
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self._child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def _finish_load_demo(self) -> bool:
        assert self.setup
        output, _ = self.setup.communicate()
        for line in output.splitlines():
            self.console.line("setup", line)
        if self.setup.returncode != 0:
            self.say(
                f"manage.py load_demo failed with exit code {self.setup.returncode} "
                "(has `manage.py migrate` run? `make run` does that first)"
            )
            return False
        return True

    @property
    def password_file(self) -> Path:
        return self.var_dir / "demo-login.txt"

    @property
    def base_url(self) -> str:
        """Where the web server serves (runserver on 127.0.0.1 and the chosen port)."""
        return f"http://127.0.0.1:{self.port}"

    def _child_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of load_demo, the web server, the worker and beat."""
        assert self.broker
        env = dict(os.environ if environ is None else environ)
        env.update(REDIS_URL=self.broker.url, ADVISOR_DEBUG="true", PYTHONUNBUFFERED="1")
        env["ADVISOR_VAR_DIR"] = str(self.var_dir)
        # Links in e-mails (sent by the web process and the worker) lead to this run's port.
        if not env.get("ADVISOR_BASE_URL"):
            env["ADVISOR_BASE_URL"] = self.base_url
        return env

    def command_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """What `manage.py` in another terminal needs to act on this run, as the children do.

        The broker (scan locks, queued tasks) and debug mode always; the database when it is not the
        default one (DATABASE_URL, or a var directory other than `var/`); the base URL of links.
        """
        env = self._child_env(environ)
        names = ["REDIS_URL", "ADVISOR_DEBUG"]
        if env.get("DATABASE_URL"):
            names.append("DATABASE_URL")
        if Path(self.var_dir).resolve() != DEFAULT_VAR_DIR.resolve():
            names.append("ADVISOR_VAR_DIR")
        names.append("ADVISOR_BASE_URL")
        return {name: env[name] for name in names}

    def command_lines(self, instance: str, environ: Mapping[str, str] | None = None) -> list[str]:
        """The banner's block: that environment as shell exports, then example command lines."""
        try:
            python = str(Path(sys.executable).relative_to(ROOT))
        except ValueError:
            python = sys.executable
        python = shlex.quote(python)
        exports = []
        for name, value in self.command_env(environ).items():
            if name == "DATABASE_URL" and urlsplit(value).password:
                # A console is no place for a secret: the same value as for `make run`, not shown.
                exports.append(
                    "    # export DATABASE_URL=... (the value `make run` got; it holds a password)"
                )
            else:
                exports.append(f"    export {name}={shlex.quote(value)}")
        return [
            f"  Management commands against this run, in another terminal in {shlex.quote(str(ROOT))}:",
            *exports,
            f"    {python} manage.py scan_instance {shlex.quote(instance)}",
            f"    {python} manage.py lint_designs advisor/demo/demo_design.yaml",
        ]

    def _dead_child(self) -> Child | None:
        return next((c for c in self.children if c.exited() is not None), None)

    def _died(self, child: Child, *, before_ready: bool) -> int:
        child.finish_output()
        when = "before the app was ready" if before_ready else "unexpectedly"
        self.say(f"{child.name} exited {when} with code {child.exited()}; stopping everything")
        return 1

    def _banner(self, url: str, design, seconds: float) -> None:
        password = "(see " + str(self.password_file) + ")"
        try:
            lines = [s.strip() for s in self.password_file.read_text().splitlines()]
            password = next(s for s in lines if s and not s.startswith("#"))
        except (OSError, StopIteration):
            pass
        local = local_instances(design)
        scanned = local[0] if local else "prod-catalog-cache"
        cache = design.instance(scanned).connection.url if local else "a demo cache"
        rule = "=" * 78
        self.console.block(
            "\n".join(
                [
                    "",
                    rule,
                    f"  The Redis key advisor is running at {url}   (ready in {seconds:.0f} s)",
                    "",
                    f"  Log in as   demo / {password}   (administrator)",
                    f"  or          mia  / {password}   (team catalog),  rita / {password}   (reviewer)",
                    "",
                    "  Things to try:",
                    f"    - Namespaces: {url}namespaces/  ({len(design.namespaces)} namespaces of "
                    f"{len(design.teams)} teams on {len(design.instances)} instances)",
                    f"    - Scan {scanned}: {url}instances/{scanned}/scans/",
                    f"      The demo cache behind it ({cache}) holds drift:",
                    "      keys without TTL, TTLs above design, wrong types, a 2 MiB value, an unregistered",
                    "      legacy:cart:* family, e-mail addresses in key names",
                    f"    - The API and its OpenAPI docs: {url}api/docs",
                    "",
                    *self.command_lines(scanned),
                    "",
                    f"  Ctrl-C stops the web server, the worker, beat and the {len(self.redis_servers)} redis-servers.",
                    rule,
                    "",
                ]
            )
        )

    # -- stopping

    def _shutdown(self) -> None:
        self.stopping = True
        for refresher in self.refreshers:
            refresher.stop()
        if self.setup and self.setup.poll() is None:
            self.setup.kill()
            self.setup.wait()
        running = [c for c in self.children if c.exited() is None]
        for child in running:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            while child.exited() is None and time.monotonic() < deadline and not self.hurry.is_set():
                time.sleep(0.1)
        for child in self.children:
            # Also whatever the child left behind in its group (the worker's pool processes).
            if child.exited() is None or child.signal_group(0):
                if child.signal_group(signal.SIGKILL):
                    self.say(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s: killed")
            if child.proc:
                child.proc.wait()
            child.finish_output()
        # The broker last: the worker may still talk to it while it stops.
        for proc in reversed(self.redis_servers):
            proc.stop()
        if self.children or self.redis_servers:
            self.say(f"stopped: web, worker, beat and {len(self.redis_servers)} redis-servers are gone")


def main() -> int:
    os.chdir(ROOT)
    port = _env_int("ADVISOR_PORT", 8000)
    keys = _env_int("ADVISOR_DEMO_KEYS", 300_000)
    var_dir = Path(os.environ.get("ADVISOR_VAR_DIR") or ROOT / "var")
    return Supervisor(port=port, keys=keys, var_dir=var_dir).run()


if __name__ == "__main__":
    sys.exit(main())
