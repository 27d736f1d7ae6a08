"""The `make run` demo: the keyspace loader, `manage.py load_demo`, and the supervisor end to end."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import io
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.core.management import CommandError, call_command

from advisor.core.design import load_design_file
from advisor.core.patterns import Matcher, parse_pattern
from advisor.demo import keyspace as ks
from advisor.lib.redisproc import RedisProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
KEYS = 20_000
BIG = 2 * 1024 * 1024

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@pytest.fixture(scope="module")
def design():
    return load_design_file(ks.DEMO_DESIGN_PATH)


@pytest.fixture(scope="module")
def server():
    proc = RedisProcess()
    assert proc.port != ks.SHARED_REDIS_PORT
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def loaded(server, design):
    """The demo keyspace of prod-catalog-cache in db 0, and every key's type and TTL."""
    result = ks.load_demo_keyspace(server.url, design, ["prod-catalog-cache"], total_keys=KEYS, seed=7)
    client = redis.Redis(port=server.port)
    keys = list(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
        pipe.ttl(key)
    replies = pipe.execute()
    info = {key: (replies[2 * i].decode(), replies[2 * i + 1]) for i, key in enumerate(keys)}
    yield result, info, client
    client.close()


# ---------------------------------------------------------------------------------------------
# (a) the keyspace loader


@needs_redis
def test_counts_per_family_add_up_to_what_redis_holds(loaded):
    result, info, client = loaded
    assert result["total"] == KEYS == sum(result["families"].values())
    assert client.dbsize() == KEYS == len(info)
    assert result["families"]["product-price"] > result["families"]["feature-flags"] >= 50
    assert result["used_memory"] < 64 * 2**20


@needs_redis
def test_every_key_belongs_to_its_namespace_or_a_known_drift_family(loaded, design):
    result, info, _ = loaded
    namespaces = {ns.name: ns for ns in design.namespaces_on("prod-catalog-cache")}
    matcher = Matcher((name, ns.pattern) for name, ns in namespaces.items())
    unregistered = {p: parse_pattern(p) for p in result["drift"]["unregistered"]}
    seen: Counter[str] = Counter()
    for key in info:
        name = matcher.match(key)
        if name is None:
            name = next(p for p, pattern in unregistered.items() if pattern.matches(key))
        seen[name] += 1
    assert dict(seen) == result["families"]


@needs_redis
def test_drift_is_there_and_counted(loaded, design):
    result, info, client = loaded
    drift = result["drift"]
    by_ns: dict[str, list[tuple[bytes, str, int]]] = {}
    matcher = Matcher((ns.name, ns.pattern) for ns in design.namespaces_on("prod-catalog-cache"))
    for key, (kind, ttl) in info.items():
        by_ns.setdefault(matcher.match(key) or "-", []).append((key, kind, ttl))

    # ~5% of the product cache never expires; everything else there has a TTL within the design.
    product = by_ns["product-cache"]
    without_ttl = [k for k, _, ttl in product if ttl == -1]
    assert len(without_ttl) == drift["without_ttl"]["product-cache"]
    assert 0.04 < len(without_ttl) / len(product) < 0.06
    assert all(ttl <= 690 for _, _, ttl in product if ttl != -1)

    recs = design.namespace("recommendations")
    above = [k for k, _, ttl in by_ns["recommendations"] if ttl > recs.ttl_max_seconds]
    assert len(above) == drift["ttl_above_design"]["recommendations"] > 0

    wrong = [k for k, kind, _ in by_ns["category-listing"] if kind != "string"]
    assert len(wrong) == drift["wrong_type"]["category-listing"] > 0
    for name, rows in by_ns.items():
        if name not in ("-", "category-listing"):
            expected = design.namespace(name).data_type
            assert {kind for _, kind, _ in rows} == {expected}, name

    sizes = {k: client.strlen(k) for k, _, _ in by_ns["recommendations"]}
    oversized = [k for k, size in sizes.items() if size > recs.value_bytes.max]
    assert len(oversized) == drift["oversized"]["recommendations"] > 1
    assert sum(size >= BIG for size in sizes.values()) == 1

    # Unregistered families: a legacy prefix without TTL, forgotten exports, e-mails in key names.
    legacy = [k for k in info if k.startswith(b"legacy:cart:")]
    assert len(legacy) == drift["unregistered"][ks.LEGACY_CART] == round(KEYS / 15)
    assert all(info[k] == ("hash", -1) for k in legacy)
    assert sum(k.startswith(b"tmp:export:") for k in info) == drift["unregistered"][ks.TMP_EXPORT] > 0
    emails = [k for k in info if k.startswith(b"prod:identity:user:by-email:")]
    assert len(emails) == drift["unregistered"][ks.EMAIL_KEYS] > 0
    assert all(re.fullmatch(rb"[^:]+@[a-z.]+\.[a-z]+", k.rsplit(b":", 1)[1]) for k in emails)
    assert b"prod:identity:user:by-email:jane.doe@example.com" in info

    # The namespace designed without TTL keeps it that way, and nothing expires within seconds.
    assert all(ttl == -1 for _, _, ttl in by_ns["search-results"])
    assert min(ttl for ttl in (t for _, t in info.values()) if ttl != -1) >= 10


@needs_redis
def test_a_few_collections_are_too_big(loaded, design):
    result, info, client = loaded
    bestsellers = [k for k in info if k.startswith(b"prod:catalog:bestsellers:")]
    sizes = {k: client.zcard(k) for k in bestsellers}
    big = [k for k, n in sizes.items() if n > 10_000]
    assert len(big) == result["drift"]["big_collections"]["bestsellers"] >= 3
    assert {sizes[k] for k in big} == {ks.BIG_COLLECTION_ELEMENTS}
    assert all(info[k][0] == "zset" and info[k][1] > 0 for k in big)  # still the designed type and TTL
    assert max(n for k, n in sizes.items() if k not in big) <= 64


@needs_redis
def test_the_slow_log_holds_whole_keyspace_commands_and_its_threshold_is_restored(loaded, server):
    result, _, client = loaded
    logged = Counter(entry["command"].split()[0].decode().upper() for entry in client.slowlog_get(128))
    assert {"KEYS", "HGETALL", "ZRANGE"} <= set(logged)
    assert result["drift"]["slow_commands"] == {"KEYS": 1, "HGETALL": 1, "ZRANGE": 1}
    assert client.config_get("slowlog-log-slower-than") == {"slowlog-log-slower-than": "10000"}


class _RecordingClient:
    """Stands in for a client of the shared Redis: records what would have been sent."""

    def __init__(self, port):
        self.connection_pool = type("Pool", (), {"connection_kwargs": {"port": port}})()
        self.sent = []

    def __getattr__(self, name):
        return lambda *args: self.sent.append((name, args))


def test_the_slow_log_of_the_shared_redis_is_never_touched():
    shared = _RecordingClient(ks.SHARED_REDIS_PORT)
    assert ks.seed_slowlog([shared], [{"hash": "k"}]) == {}
    assert shared.sent == []


@needs_redis
def test_a_scan_of_the_demo_cache_finds_the_slow_commands_and_the_big_collections(loaded, server, design):
    from advisor.core.scan import ScanOptions, ScanTarget, evaluate_drift, namespace_specs, run_scan

    _, info, _ = loaded
    local = ks.with_cache_url(design, server.url, only=["prod-catalog-cache"])
    # The loader wrote one plain server; scanned as the non-clustered cache it is here.
    instance = local.instance("prod-catalog-cache").model_copy(update={"clustering": "none"})
    local = local.model_copy(
        update={"instances": [instance if i.name == instance.name else i for i in local.instances]}
    )
    report = run_scan(
        ScanTarget.from_instance(instance),
        namespace_specs(local, instance.name),
        ScanOptions(memory_sample=1.0, max_ops=None, allowed_hosts=["127.0.0.1"]),
    )
    assert report.complete and report.keys_scanned == len(info)
    findings = {f.rule: f for f in evaluate_drift(local, instance.name, report, dt.date(2026, 11, 28))}
    assert {"DRF015", "DRF016"} <= set(findings)
    assert "KEYS" in findings["DRF015"].message and "HGETALL" in findings["DRF015"].message
    assert findings["DRF016"].target == "namespace:bestsellers"
    assert "12,000" in findings["DRF016"].message or "12000" in findings["DRF016"].message


def test_the_demo_design_shows_the_new_rules(design):
    from advisor.core.engine import lint_design

    result = lint_design(design, today=dt.date(2026, 11, 28))
    by_rule: dict[str, set[str]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule, set()).add(f.target)
    assert by_rule["TTL008"] == {"namespace:loyalty-offers"}
    assert by_rule["EVI007"] == {"namespace:dev-session"}
    assert by_rule["INS009"] == {"instance:staging-loyalty-cache"}
    assert by_rule["HSH004"] == {"namespace:profile-cache"}
    assert by_rule["VAL005"] == {"namespace:rendered-pages"}
    # Sizes are named, and memory comes from them where Microsoft publishes it.
    assert design.instance("prod-catalog-flash").memory_gb == 235
    assert (
        design.instance("prod-legacy-cache").sku == "E10"
        and design.instance("prod-legacy-cache").memory_gb == 12
    )


@needs_redis
def test_same_seed_same_keyspace(loaded, server, design):
    _, info, _ = loaded
    url = ks.with_db(server.url, 1)
    again = ks.load_demo_keyspace(url, design, ["prod-catalog-cache"], total_keys=KEYS, seed=7)
    client = redis.Redis.from_url(url)
    try:
        keys = set(client.scan_iter(count=1000))
        assert keys == set(info)
        sample = sorted(keys)[:: len(keys) // 200]
        assert [client.type(k).decode() for k in sample] == [info[k][0] for k in sample]
        first = redis.Redis.from_url(server.url)
        assert [client.dump(k) for k in sample[:50]] == [first.dump(k) for k in sample[:50]]
        first.close()
        client.flushdb()
        other = ks.load_demo_keyspace(url, design, ["prod-catalog-cache"], total_keys=2000, seed=8)
        assert other["total"] == 2000
        assert len(set(client.scan_iter(count=1000)) & keys) < 100
    finally:
        client.flushdb()
        client.close()
    assert again["families"] == loaded[0]["families"]


@needs_redis
def test_refresher_recreates_expired_keys_as_designed(server, design):
    url = ks.with_db(server.url, 2)
    keyspace = ks.DemoKeyspace(design, ["prod-catalog-cache"], total_keys=3000, seed=7)
    client = redis.Redis.from_url(url)
    refresher = ks.Refresher(url, keyspace)
    try:
        keyspace.load(client)
        refresher.start()
        product = [
            k for k in client.scan_iter(match="prod:catalog:product:v3:*", count=1000) if client.ttl(k) > 0
        ][:20]
        big = next(k for k in keyspace.overrides if keyspace.overrides[k].size >= BIG)
        time.sleep(0.2)  # subscribed
        for key in [*product, big]:
            client.pexpire(key, 20)
        time.sleep(0.05)
        # Touching expired keys makes Redis delete them now, rather than whenever its sampling finds them.
        assert client.exists(*product, big) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(client.ttl(k) > 1 for k in [*product, big]):
            time.sleep(0.1)
        assert all(590 <= client.ttl(k) <= 690 for k in product)  # fresh: 600 s + jitter
        assert client.strlen(big) >= BIG
        assert refresher.rewritten >= len(product) + 1
    finally:
        refresher.stop()
        client.flushdb()
        client.close()


def test_cli_refuses_the_shared_redis(capsys):
    with pytest.raises(SystemExit) as exc:
        ks.main(["redis://127.0.0.1:6379/0"])
    assert exc.value.code == 2
    assert "refusing port 6379" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ks.main(["redis://localhost/3", "--keys", "10"])


@needs_redis
def test_cli_refuses_a_database_with_keys(loaded, server, capsys):
    assert ks.main([server.url, "--keys", "10"]) == 2
    assert "already holds" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# (b) manage.py load_demo


def _load_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_load_demo_imports_points_at_the_cache_and_creates_users(settings, tmp_path, django_user_model):
    from django.contrib.auth import authenticate

    from advisor.registry.models import Instance, Namespace, Team

    settings.VAR_DIR = tmp_path
    out = _load_demo("--cache-url", "redis://127.0.0.1:7001/0")

    urls = dict(Instance.objects.values_list("name", "connection_url"))
    assert urls["prod-catalog-cache"] == urls["dev-shared-cache"] == "redis://127.0.0.1:7001/0"
    assert urls["prod-legacy-cache"].startswith("rediss://contoso-legacy.")
    assert Namespace.objects.count() == 23 and Team.objects.count() == 4
    assert Instance.objects.count() == 7
    skus = dict(Instance.objects.values_list("name", "sku"))
    assert skus["prod-catalog-cache"] == "B20" and skus["dev-shared-cache"] == ""
    assert Instance.objects.get(name="prod-catalog-cache").memory_gb == 24  # from the sku

    login = tmp_path / "demo-login.txt"
    assert stat.S_IMODE(login.stat().st_mode) == 0o600
    password = login.read_text().splitlines()[-1]
    assert len(password) >= 20 and password in out
    assert "Created demo users: demo, mia, rita" in out

    demo = authenticate(username="demo", password=password)
    assert demo and demo.is_superuser and demo.is_staff
    mia = authenticate(username="mia", password=password)
    assert mia and not mia.is_staff and list(mia.teams.values_list("name", flat=True)) == ["catalog"]
    rita = authenticate(username="rita", password=password)
    assert rita and list(rita.groups.values_list("name", flat=True)) == ["reviewers"]


@pytest.mark.django_db
def test_load_demo_is_idempotent_and_keeps_the_password(settings, tmp_path, django_user_model):
    from advisor.registry.models import Instance, Team

    settings.VAR_DIR = tmp_path
    _load_demo("--cache-url", "redis://127.0.0.1:7001/0")
    login = tmp_path / "demo-login.txt"
    first = login.read_text()
    rita = django_user_model.objects.get(username="rita")
    rita.set_password("changed-on-purpose")
    rita.save()

    out = _load_demo(
        "--cache-url",
        "redis://127.0.0.1:7001/0",
        "--cache-url",
        "dev-shared-cache=redis://127.0.0.1:7002",
    )
    assert "Created" not in out
    assert login.read_text() == first
    assert django_user_model.objects.filter(username__in=["demo", "mia", "rita"]).count() == 3
    assert django_user_model.objects.get(username="rita").check_password("changed-on-purpose")
    assert Team.objects.get(name="catalog").members.count() == 1
    urls = dict(Instance.objects.values_list("name", "connection_url"))
    assert urls["prod-catalog-cache"] == "redis://127.0.0.1:7001/0"
    assert urls["dev-shared-cache"] == "redis://127.0.0.1:7002/0"


@pytest.mark.django_db
def test_load_demo_new_password_file_resets_demo_passwords(settings, tmp_path, django_user_model):
    settings.VAR_DIR = tmp_path
    _load_demo("--cache-url", "redis://127.0.0.1:7001/0")
    other = tmp_path / "elsewhere" / "login.txt"
    _load_demo("--cache-url", "redis://127.0.0.1:7001/0", "--password-file", str(other))
    password = other.read_text().splitlines()[-1]
    assert password != (tmp_path / "demo-login.txt").read_text().splitlines()[-1]
    assert django_user_model.objects.get(username="demo").check_password(password)


@pytest.mark.django_db
def test_load_demo_rejects_bad_cache_urls_without_echoing_them(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError) as exc:
        _load_demo("--cache-url", "redis://:hunter2@127.0.0.1:7001/0")
    assert "hunter2" not in str(exc.value)
    with pytest.raises(CommandError, match="not a local instance"):
        _load_demo("--cache-url", "prod-legacy-cache=redis://127.0.0.1:7001")
    assert not (tmp_path / "demo-login.txt").exists()


# ---------------------------------------------------------------------------------------------
# (c) python -m advisor.demo.run, end to end


def _http(opener, url: str, data: dict | None = None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Referer": url})
    with opener.open(request, timeout=5) as response:
        return response.status, response.geturl(), response.read().decode()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _supervisor(tmp_path, port: int = 8123, broker_port: int = 45678):
    """A supervisor as `_run` has it once the broker is up (a broker object, not a started server)."""
    from advisor.demo.run import Console, Supervisor

    out = io.StringIO()
    supervisor = Supervisor(port=port, keys=1000, var_dir=tmp_path / "var", console=Console(out))
    supervisor.broker = RedisProcess(port=broker_port)
    return supervisor, out


def test_the_children_link_to_the_served_port_unless_a_base_url_is_set(tmp_path):
    supervisor, _ = _supervisor(tmp_path, port=8123)
    env = supervisor._child_env({"PATH": "/usr/bin", "ADVISOR_BASE_URL": ""})
    assert env["ADVISOR_BASE_URL"] == "http://127.0.0.1:8123"
    assert env["REDIS_URL"] == "redis://127.0.0.1:45678/0" and env["ADVISOR_DEBUG"] == "true"
    assert env["ADVISOR_VAR_DIR"] == str(tmp_path / "var") and env["PATH"] == "/usr/bin"
    chosen = supervisor._child_env({"ADVISOR_BASE_URL": "https://advisor.example.com"})
    assert chosen["ADVISOR_BASE_URL"] == "https://advisor.example.com"


def test_the_command_environment_is_the_childrens_and_only_what_a_command_needs(tmp_path):
    supervisor, _ = _supervisor(tmp_path)
    assert supervisor.command_env({"PATH": "/usr/bin", "ADVISOR_PORT": "8123"}) == {
        "REDIS_URL": "redis://127.0.0.1:45678/0",
        "ADVISOR_DEBUG": "true",
        "ADVISOR_VAR_DIR": str(tmp_path / "var"),  # not the default var/: the SQLite file is there
        "ADVISOR_BASE_URL": "http://127.0.0.1:8123",
    }
    from advisor.demo.run import DEFAULT_VAR_DIR, Supervisor

    default = Supervisor(port=8000, keys=1000, var_dir=DEFAULT_VAR_DIR)
    default.broker = RedisProcess(port=45679)
    database = "postgres://advisor:s3cr%24t@db.example.com:5432/advisor"
    assert default.command_env({"DATABASE_URL": database}) == {
        "REDIS_URL": "redis://127.0.0.1:45679/0",
        "ADVISOR_DEBUG": "true",
        "DATABASE_URL": database,
        "ADVISOR_BASE_URL": "http://127.0.0.1:8000",
    }


def test_the_banner_prints_the_exact_environment_and_a_scan_command(tmp_path, monkeypatch, design):
    """The printed exports, run by a shell, give the settings of the running app: its broker, debug
    mode, database and link address; the example command scans the demo's local cache."""
    database = f"sqlite:///{tmp_path}/demo db$1.sqlite3"  # a space and a $: quoted for the shell
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.delenv("ADVISOR_BASE_URL", raising=False)
    port, broker_port = free_port(), free_port()
    supervisor, out = _supervisor(tmp_path, port=port, broker_port=broker_port)
    supervisor._banner(f"http://127.0.0.1:{port}/", design, 12.0)
    banner = out.getvalue()
    assert f"is running at http://127.0.0.1:{port}/" in banner
    lines = banner.splitlines()
    start = next(i for i, line in enumerate(lines) if "Management commands against this run" in line)
    exports = [line.strip() for line in lines[start + 1 :] if line.strip().startswith("export ")]
    assert exports == [
        f"export REDIS_URL=redis://127.0.0.1:{broker_port}/0",
        "export ADVISOR_DEBUG=true",
        f"export DATABASE_URL='{database}'",
        f"export ADVISOR_VAR_DIR={tmp_path / 'var'}",
        f"export ADVISOR_BASE_URL=http://127.0.0.1:{port}",
    ]
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    assert f"    {python} manage.py scan_instance prod-catalog-cache" in lines
    assert ks.local_instances(design)[0] == "prod-catalog-cache"

    # What manage.py reads with exactly that environment (and nothing else of ours).
    probe = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'advisor.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.REDIS_URL, s.CELERY_BROKER_URL, s.DEBUG, s.ADVISOR_BASE_URL, s.DATABASES['default']['NAME'], sep='|')"
    )
    script = "\n".join([*exports, f"exec {sys.executable} -c {shlex.quote(probe)}"])
    result = subprocess.run(
        ["sh", "-c", script],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    redis_url = f"redis://127.0.0.1:{broker_port}/0"
    assert result.stdout.strip().split("|") == [
        redis_url,
        redis_url,
        "True",
        f"http://127.0.0.1:{port}",
        f"{tmp_path}/demo db$1.sqlite3",
    ]


def test_run_says_so_when_the_port_is_taken(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, ADVISOR_PORT=str(port), ADVISOR_VAR_DIR=str(tmp_path))
        result = subprocess.run(
            [sys.executable, "-m", "advisor.demo.run"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stdout
    assert "redis-server" not in result.stdout and not (tmp_path / "demo").exists()


@needs_redis
@pytest.mark.slow
def test_run_serves_the_demo_and_stops_everything_on_sigint(tmp_path):
    port = free_port()
    env = dict(
        os.environ,
        ADVISOR_PORT=str(port),
        ADVISOR_DEMO_KEYS="5000",
        ADVISOR_DEBUG="true",
        ADVISOR_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="advisor.settings",
    )
    env.pop("REDIS_URL", None)  # the runner brings its own broker; never the shared one
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )

    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor.demo.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    base = f"http://127.0.0.1:{port}"
    pids: list[int] = []
    groups: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while not any("is running at" in line for line in list(lines)):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        pids = [int(p) for p in re.findall(r"redis-server on port \d+ \(pid (\d+)\)", output)]
        groups = [int(p) for p in re.findall(r"started (?:web|worker|beat) \(pid (\d+)\)", output)]
        assert len(pids) >= 3 and len(groups) == 3, output
        # The banner names the broker's random port and this run's address for `manage.py`.
        broker = re.search(r"broker redis-server on port (\d+)", output).group(1)
        assert f"export REDIS_URL=redis://127.0.0.1:{broker}/0\n" in output, output
        assert f"export ADVISOR_BASE_URL=http://127.0.0.1:{port}\n" in output, output

        status, _, page = _http(opener, f"{base}/login/")
        assert status == 200 and "Sign in" in page
        password = (tmp_path / "var" / "demo-login.txt").read_text().splitlines()[-1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, where, page = _http(
            opener,
            f"{base}/login/",
            {"username": "demo", "password": password, "csrfmiddlewaretoken": token, "next": "/namespaces/"},
        )
        assert status == 200 and where.endswith("/namespaces/")
        assert "product-cache" in page and "legacy-session" in page

        stopping = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, "".join(lines)
        assert time.monotonic() - stopping < 20
        reader.join(timeout=5)
        assert all(_gone(pid) for pid in pids), "".join(lines)
        assert all(_group_gone(pgid) for pgid in groups), "".join(lines)
        assert "stopped:" in "".join(lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Whatever a failed run left behind, by the ids it reported.
        for pgid in groups:
            if not _group_gone(pgid):
                os.killpg(pgid, signal.SIGKILL)
        for pid in pids:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_banner_never_prints_a_database_password(tmp_path, monkeypatch, design):
    monkeypatch.setenv("DATABASE_URL", "postgres://advisor:s3cr3t-pw@db.internal:5432/advisor")
    supervisor, out = _supervisor(tmp_path, port=free_port(), broker_port=free_port())
    supervisor._banner("http://127.0.0.1:8000/", design, 1.0)
    banner = out.getvalue()
    assert "s3cr3t-pw" not in banner
    assert "# export DATABASE_URL=... (the value `make run` got; it holds a password)" in banner
