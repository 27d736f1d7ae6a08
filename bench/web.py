"""Web benchmark: every page and list a user opens, at 1,000 and 10,000 namespaces on 200 instances.

Run: .venv/bin/python bench/web.py [--sizes 1000,10000] [--repeat 7] [--heavy-repeat 3] [--only WORDS]

For each size a child process gets a throwaway database (SQLite in a temporary directory, or a
fresh database on the PostgreSQL server of DATABASE_URL when it is set, dropped afterwards),
migrates it and fills it as people would:

- the design of bench/lint.py (40 teams, 200 instances) uploaded on the design page (timed: the
  import into an empty registry), then the stored findings refreshed once at the end of setup;
- reviews: team-00 approved, team-01 in review, team-02 approved and changed since, each
  submitted by a member with waiver requests for its blocking findings and decided by a reviewer;
- three completed scans of each of 20 instances, each report built from the namespaces the
  instance hosts (keys, TTLs, types, memory, an unregistered family) in the scan JSON of
  advisor.core.scan.report, with the drift findings the drift rules find in it.

Then it requests each page, list and API list with the Django test client, signed in as an
administrator: one request to warm up, then --repeat timed requests (--heavy-repeat for the
design export and import), and the queries of one request. Prints median and p95 time and the
query count per size, the ratio of the largest size's median to the smallest's, and the targets
at the largest size: lists, the compliance page and a team's review page under 300 ms in as many
queries as at the smallest size; design export under 3 s, import under 15 s. Exit 1 when a target
is missed. Production settings (no debug), so the cached template loader is on as in a deployment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIZES = (1_000, 10_000)
SCANNED_INSTANCES = 20
SCANS_PER_INSTANCE = 3
PAGE_TARGET_MS = 300
EXPORT_TARGET_S = 3.0
IMPORT_TARGET_S = 15.0

# (label, kind); kind "list" rows must stay under PAGE_TARGET_MS in a fixed number of queries.
LIST, PAGE, EXPORT, IMPORT = "list", "page", "export", "import"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# The child: one size, one database -----------------------------------------------------------------


def _scan_report(instance, namespaces, *, run: int, rng):
    """A completed scan of `instance` as the scanner would report it, from the namespaces it hosts."""
    from advisor.core.scan.report import ScanReport

    finished = dt.datetime(2026, 11, 20 + run, 2, 0, tzinfo=dt.UTC)
    rows = []
    for ns in namespaces:
        keys = max(1, min(ns.cardinality, 20_000) // (1 + rng.randint(0, 3)))
        ttl = ns.ttl.seconds or 0
        # Most namespaces behave; some keep keys without TTL or live longer than designed (drift).
        without = keys if ns.ttl.mode == "none" else (keys // 20 if rng.random() < 0.1 else 0)
        longer = ttl * 3 if ttl and rng.random() < 0.05 else ttl
        rows.append(
            {
                "name": ns.name,
                "keys": keys,
                "without_ttl": without,
                "types": {ns.data_type: keys},
                "memory_bytes": keys * ns.value_bytes.typical,
                "memory_estimated": True,
                "memory_sampled_keys": max(1, keys // 10),
                "ttl_seconds": {"min": ttl // 10 or None, "p50": ttl // 2 or None, "max": longer or None},
                "examples": [],
            }
        )
    unmatched = rng.randint(100, 2_000)
    matched = sum(r["keys"] for r in rows)
    return ScanReport.model_validate(
        {
            "instance": instance.name,
            "status": "completed",
            "started_at": finished - dt.timedelta(seconds=40),
            "finished_at": finished,
            "duration_s": 40.0,
            "keys_scanned": matched + unmatched,
            "keys_total": matched + unmatched,
            "complete": True,
            "namespaces": rows,
            "unmatched": {
                "keys": unmatched,
                "patterns": [
                    {
                        "pattern": "legacy:cache:item:<id:int>",
                        "keys": unmatched,
                        "example": "legacy:cache:item:1",
                    }
                ],
                "without_ttl": unmatched,
                "types": {"string": unmatched},
                "memory_bytes": unmatched * 120,
                "memory_estimated": True,
            },
            "server": {
                "redis_version": "7.4.2",
                "maxmemory_policy": instance.eviction_policy,
                "used_memory": sum(r["memory_bytes"] for r in rows) + unmatched * 120,
                "evicted_keys": 0,
                "hit_ratio": 0.93,
            },
        }
    )


def _store_scans(design, today) -> int:
    """Completed scan runs with their reports and drift findings, stored as the scan service does."""
    import random

    from advisor.core.findings import Severity
    from advisor.core.scan import evaluate_drift
    from advisor.registry.models import Instance
    from advisor.scans.models import ScanRun

    rng = random.Random(11)
    stored = 0
    for core_instance in design.instances[:SCANNED_INSTANCES]:
        instance = Instance.objects.get(name=core_instance.name)
        mine = [ns for ns in design.namespaces if ns.instance == core_instance.name]
        for run in range(SCANS_PER_INSTANCE):
            report = _scan_report(core_instance, mine, run=run, rng=rng)
            findings = evaluate_drift(design, core_instance.name, report, today)
            data = report.model_dump(mode="json")
            data["run_number"] = run + 1
            data["findings"] = [f.model_dump(mode="json") for f in findings]
            unwaived = [f for f in findings if not f.waived]
            matched = sum(ns["keys"] for ns in data["namespaces"])
            ScanRun.objects.create(
                instance=instance,
                status=ScanRun.Status.COMPLETED,
                trigger=ScanRun.Trigger.SCHEDULE,
                started_at=report.started_at,
                finished_at=report.finished_at,
                keys_scanned=report.keys_scanned,
                keys_total=report.keys_total,
                complete=True,
                coverage=matched / report.keys_scanned,
                report=data,
                findings_total=len(unwaived),
                findings_high=sum(1 for f in unwaived if f.severity >= Severity.high),
                memory_bytes=report.server.used_memory,
            )
            stored += 1
    return stored


def _reviews(admin, today) -> dict[str, int]:
    """team-00 approved, team-01 in review, team-02 approved and changed since; their pks."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from advisor.core import design as core
    from advisor.registry import writes
    from advisor.registry.models import Namespace, Team
    from advisor.registry.services import namespace_data
    from advisor.reviews import services

    users = get_user_model().objects
    member = users.create_user("bench-member", "member@example.invalid", secrets.token_urlsafe(12))
    reviewer = users.create_user("bench-reviewer", "reviewer@example.invalid", secrets.token_urlsafe(12))
    reviewer.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    pks = {}
    for name in ("team-00", "team-01", "team-02"):
        team = Team.objects.get(name=name)
        team.members.add(member)
        asks = [
            services.WaiverAsk(
                f.rule, f.target, "Accepted until the fix ships", today + dt.timedelta(days=60)
            )
            for f in services.blocking_findings(services.team_findings(team, today=today))
        ]
        review = services.review_submit(team=team, user=member, waivers=asks, today=today)
        pks[name] = review.pk
        if name != "team-01":
            services.review_approve(review=review, user=reviewer, expected_hash=review.content_hash)
    ns = Namespace.objects.filter(team__name="team-02").select_related("team", "instance").first()
    entry = core.Namespace.model_validate({**namespace_data(ns), "description": "Changed after approval."})
    writes.namespace_save(namespace=ns, data=entry, team=ns.team, actor=admin)
    return pks


class QueryCounter:
    """Counts the statements sent to the database (each executemany once), without the 9,000-entry
    cap of Django's query log, which an import of 10,000 namespaces exceeds."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapped = connection.execute_wrapper(self)
        self._wrapped.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapped.__exit__(*exc)


def _measure(client, method: str, path: str, *, repeat: int, data=None, expect=200) -> dict:
    def once():
        if method == "post":
            data["file"].seek(0)
            response = client.post(path, data)
        else:
            response = client.get(path)
        if response.status_code != expect:
            raise SystemExit(f"{method.upper()} {path}: {response.status_code}\n{response.content[:2000]!r}")
        return response

    once()  # warm-up: caches, the first compile of each template
    with QueryCounter() as queries:
        started = time.perf_counter()
        once()
        times = [time.perf_counter() - started]
    for _ in range(repeat - 1):
        started = time.perf_counter()
        once()
        times.append(time.perf_counter() - started)
    return {
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": percentile(times, 95) * 1000,
        "queries": queries.count,
        "n": repeat,
    }


def child(size: int, out: str, repeat: int, heavy_repeat: int, only: list[str]) -> None:
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from lint import make_design  # bench/lint.py

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model

    from advisor.findings.services import findings_refresh
    from advisor.registry.models import Instance, Namespace
    from advisor.registry.services import registry_design
    from advisor.reviews.models import Review

    admin = get_user_model().objects.create_superuser(
        "bench-admin", "admin@example.invalid", secrets.token_urlsafe(12)
    )
    client = Client()
    client.force_login(admin)
    today = timezone.localdate()
    design = make_design(size)
    text = yaml_dump(design)
    rows = []

    # The import into an empty registry, through the upload page: one sample, it happens once.
    upload = {"file": SimpleUploadedFile("designs.yaml", text, content_type="application/yaml")}
    with QueryCounter() as queries:
        began = time.perf_counter()
        response = client.post("/designs/", upload)
        elapsed = time.perf_counter() - began
    if response.status_code != 302 or Namespace.objects.count() != size:
        raise SystemExit(f"the import failed: {response.status_code}\n{response.content[:3000]!r}")
    rows.append(
        {"label": "design import, empty registry", "path": "POST /designs/", "kind": IMPORT,
         "median_ms": elapsed * 1000, "p95_ms": elapsed * 1000, "queries": queries.count, "n": 1}
    )  # fmt: skip
    imported = time.perf_counter() - started

    pks = _reviews(admin, today)
    scans = _store_scans(registry_design(), today)
    findings_refresh(today=today)
    # What setup built stays out of the measured requests' way, as in a server's worker: Python's
    # full garbage collections would otherwise walk 10,000 namespaces' objects now and then.
    del design, text, upload, response
    gc.collect()
    print(
        f"  {size:,} namespaces: migrated and imported in {imported:.1f} s; 3 reviews, {scans} scan runs, "
        f"findings refreshed; set up in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    in_review = Review.objects.get(pk=pks["team-01"])
    namespace = Namespace.objects.order_by("name").first().name
    instance = Instance.objects.order_by("name").first().name
    pages = [
        ("overview", "/", PAGE),
        ("namespace list", "/namespaces/", LIST),
        ("instance list", "/instances/", LIST),
        ("team list", "/teams/", LIST),
        ("findings list", "/findings/", LIST),
        ("compliance", "/compliance/", LIST),
        ("team review (team-00)", "/teams/team-00/review/", LIST),
        ("review list", "/reviews/", LIST),
        ("review page (in review)", f"/reviews/{in_review.pk}/", PAGE),
        ("namespace page", f"/namespaces/{namespace}/", PAGE),
        ("instance page", f"/instances/{instance}/", PAGE),
        ("scan dashboard", f"/instances/{instance}/scans/", PAGE),
        ("waivers", "/waivers/", LIST),
        ("rules", "/rules/", LIST),
        ("audit", "/audit/", LIST),
        ("API teams", "/api/teams", LIST),
        ("API instances", "/api/instances", LIST),
        ("API namespaces", "/api/namespaces", LIST),
        ("API findings", "/api/findings", LIST),
        ("API reviews", "/api/reviews", LIST),
        ("API waivers", "/api/waivers", LIST),
        ("API waiver requests", "/api/waiver-requests", LIST),
        ("API scans", "/api/scans", LIST),
    ]
    if only:
        pages = [p for p in pages if any(word in p[0] for word in only)]
    for label, path, kind in pages:
        rows.append(
            {"label": label, "path": path, "kind": kind, **_measure(client, "get", path, repeat=repeat)}
        )
        print(f"  {size:,}: {label:<28} {rows[-1]['median_ms']:9.1f} ms", flush=True)
    for fmt in ("yaml", "json") if not only or "export" in only else ():
        path = f"/designs/download/?format={fmt}"
        rows.append(
            {"label": f"design export {fmt.upper()}", "path": path, "kind": EXPORT,
             **_measure(client, "get", path, repeat=heavy_repeat)}
        )  # fmt: skip
        print(f"  {size:,}: {rows[-1]['label']:<28} {rows[-1]['median_ms']:9.1f} ms", flush=True)
    if only and "import" not in only:
        Path(out).write_text(json.dumps({"size": size, "vendor": connection.vendor, "rows": rows}))
        return
    exported = client.get("/designs/download/?format=yaml").content
    upload = {"file": SimpleUploadedFile("redis-designs.yaml", exported, content_type="application/yaml")}
    rows.append(
        {"label": "design import of the export", "path": "POST /designs/", "kind": IMPORT,
         **_measure(client, "post", "/designs/", data=upload, repeat=heavy_repeat, expect=302)}
    )  # fmt: skip
    print(f"  {size:,}: {rows[-1]['label']:<28} {rows[-1]['median_ms']:9.1f} ms", flush=True)
    Path(out).write_text(json.dumps({"size": size, "vendor": connection.vendor, "rows": rows}))


def yaml_dump(design) -> bytes:
    from advisor.core.design import dump_design

    return dump_design(design, "yaml").encode()


# The parent: one child per size, then the table ------------------------------------------------


def _postgres_database(url: str, name: str, *, drop: bool = False) -> str:
    """Create (or drop) database `name` on the server of `url`; the URL of that database."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"' if drop else f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def run_size(size: int, args, work: Path, redis_url: str) -> dict:
    out = work / f"result-{size}.json"
    base_url = os.environ.get("DATABASE_URL")
    pg_name = f"advisor_web_bench_{os.getpid()}_{size}" if base_url else None
    database_url = (
        _postgres_database(base_url, pg_name) if base_url else f"sqlite:///{work / f'web-{size}.sqlite3'}"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")},
        "DJANGO_SETTINGS_MODULE": "advisor.settings",
        "ADVISOR_SECRET_KEY": secrets.token_urlsafe(48),
        "ADVISOR_ALLOWED_HOSTS": "testserver",
        "ADVISOR_SECURE_COOKIES": "false",
        "ADVISOR_STATIC_MANIFEST": "false",
        "ADVISOR_VAR_DIR": str(work),
        "ADVISOR_STATIC_ROOT": str(work),  # exists, so whitenoise has nothing to warn about
        "ADVISOR_LOG_LEVEL": "WARNING",
        "ADVISOR_MAX_DESIGN_BYTES": str(256 * 1024 * 1024),  # the upload page takes the whole design
        "ADVISOR_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }
    argv = [sys.executable, __file__, "--child", str(size), "--out", str(out)]
    argv += ["--repeat", str(args.repeat), "--heavy-repeat", str(args.heavy_repeat)]
    argv += ["--only", args.only] if args.only else []
    try:
        subprocess.run(argv, cwd=ROOT, env=env, check=True)
    finally:
        if pg_name:
            _postgres_database(base_url, pg_name, drop=True)
    return json.loads(out.read_text())


def report(results: list[dict]) -> bool:
    sizes = [r["size"] for r in results]
    by_size = {r["size"]: {row["label"]: row for row in r["rows"]} for r in results}
    labels = [row["label"] for row in results[0]["rows"]]
    head = f"{'':<30}" + "".join(f"{f'{s:,} namespaces':>29}" for s in sizes)
    sub = f"{'page':<30}" + f"{'median':>10}{'p95':>10}{'queries':>9}" * len(sizes)
    if len(sizes) > 1:
        head += f"{'':>9}"
        sub += f"{'time x':>9}"
    print(f"\n{head}\n{sub}\n{'-' * len(sub)}")
    for label in labels:
        line = f"{label:<30}"
        for s in sizes:
            row = by_size[s][label]
            line += f"{_ms(row['median_ms']):>10}{_ms(row['p95_ms']):>10}{row['queries']:>9,}"
        if len(sizes) > 1:
            first, last = by_size[sizes[0]][label], by_size[sizes[-1]][label]
            line += f"{last['median_ms'] / max(first['median_ms'], 0.001):>8.1f}x"
        print(line)
    print("(milliseconds; queries of one request; p95 of", results[0]["rows"][1]["n"], "requests per page)")

    small, big = by_size[sizes[0]], by_size[sizes[-1]]
    problems = []
    for label in labels:
        row = big[label]
        if row["kind"] == LIST:
            if row["median_ms"] > PAGE_TARGET_MS:
                problems.append(f"{label}: {row['median_ms']:.0f} ms (target {PAGE_TARGET_MS} ms)")
            if len(sizes) > 1 and row["queries"] != small[label]["queries"]:
                problems.append(
                    f"{label}: {small[label]['queries']} queries at {sizes[0]:,}, {row['queries']} at {sizes[-1]:,}"
                )
        elif row["kind"] == EXPORT and row["median_ms"] > EXPORT_TARGET_S * 1000:
            problems.append(f"{label}: {row['median_ms'] / 1000:.1f} s (target {EXPORT_TARGET_S:g} s)")
        elif row["kind"] == IMPORT and row["median_ms"] > IMPORT_TARGET_S * 1000:
            problems.append(f"{label}: {row['median_ms'] / 1000:.1f} s (target {IMPORT_TARGET_S:g} s)")
    print(
        f"\ntargets at {sizes[-1]:,} namespaces: lists, compliance and team review under {PAGE_TARGET_MS} ms "
        f"in a fixed number of queries; export under {EXPORT_TARGET_S:g} s; import under {IMPORT_TARGET_S:g} s"
    )
    for problem in problems:
        print(f"  MISSED {problem}")
    print("OK: every target met" if not problems else f"TOO SLOW: {len(problems)} target(s) missed")
    return not problems


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="namespace counts")
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (default 7)")
    parser.add_argument(
        "--heavy-repeat", type=int, default=3, help="timed design exports and imports (default 3)"
    )
    parser.add_argument(
        "--only", help="measure only the rows whose label contains one of these words (comma-separated)"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out, args.repeat, args.heavy_repeat, args.only.split(",") if args.only else [])
        return 0

    from advisor.lib.redisproc import RedisProcess

    sizes = [int(s) for s in args.sizes.split(",")]
    database = "PostgreSQL (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "SQLite"
    print(
        f"web benchmark: {', '.join(f'{s:,}' for s in sizes)} namespaces on 200 instances, 40 teams; "
        f"{database}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="advisor-web-bench-") as tmp, RedisProcess() as redis:
        results = [run_size(size, args, Path(tmp), redis.url) for size in sizes]
    return 0 if report(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
