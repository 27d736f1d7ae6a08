"""Prometheus metrics at /metrics: the bearer token, the exposition read back with the
Prometheus parser, a real scan's figures, a bounded number of queries, and the Grafana dashboard
that uses the metrics.

The scan figures come from the drift lab (tests/scan_fixtures.py) loaded into a private
redis-server and scanned for real through the scan service.
"""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from advisor.core import platform
from advisor.core.findings import Finding, Severity
from advisor.core.scan import ScanReport
from advisor.core.scan.report import NamespaceReport, TtlSeconds, UnmatchedReport
from advisor.findings import clock
from advisor.findings.models import DesignFinding
from advisor.findings.services import findings_refresh
from advisor.lib.redisproc import free_port
from advisor.metrics.collector import METRICS
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import design_import
from advisor.scans import services as scans
from advisor.scans.models import ScanRun
from tests.scan_fixtures import DRIFT_INSTANCE, DRIFT_KEYS, drift_design, drift_server, load_drift_keyspace

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana" / "advisor-dashboard.json"
TOKEN = "metrics-token-for-tests-" + "0123456789abcdef" * 2  # 56 characters
# The queries one scrape runs, whatever the size of the registry (advisor/metrics/collector.py).
SCRAPE_QUERIES = 6


@pytest.fixture
def token(settings):
    settings.ADVISOR_METRICS_TOKEN = TOKEN
    return TOKEN


def _scrape(client, token: str = TOKEN, **headers) -> dict[str, dict[tuple, float]]:
    """GET /metrics with the token; {metric name: {sorted label items: value}}."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **headers)
    assert response.status_code == 200, response.content
    return _parse(response.content.decode())


def _parse(text: str) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        samples = out.setdefault(family.name, {})
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            assert key not in samples, f"duplicate sample {sample.name}{sample.labels}"
            samples[key] = sample.value
    return out


def _labels(**labels) -> tuple:
    return tuple(sorted(labels.items()))


def _instance(name: str, **fields) -> Instance:
    values = {
        "name": name,
        "environment": "prod",
        "product": "redis-oss",
        "memory_gb": 1,
        "clustering": "none",
        "eviction_policy": "allkeys-lru",
        "auth": "none",
        "tls": True,
    }
    values.update(fields)
    return Instance.objects.create(**values)


def _namespace(name: str, team: Team, instance: Instance, **fields) -> Namespace:
    values = {
        "name": name,
        "team": team,
        "instance": instance,
        "pattern": f"prod:{name}:<id:int>",
        "classification": "disposable",
        "data_type": "string",
        "ttl_mode": "absolute",
        "ttl_seconds": 600,
        "value_bytes_typical": 100,
        "value_bytes_max": 1000,
        "cardinality": 1000,
        "data_classification": "internal",
        "source_of_truth": "db",
    }
    values.update(fields)
    return Namespace.objects.create(**values)


# The token --------------------------------------------------------------------------------------


def test_without_a_configured_token_there_is_no_endpoint(client, settings):
    settings.ADVISOR_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize(
    "authorization, error",
    [
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        (f"Basic {TOKEN}", None),
        ("Bearer wrong-token", "invalid_token"),
        (f"Bearer {TOKEN[:-1]}", "invalid_token"),
        (f"Bearer {TOKEN}x", "invalid_token"),
        (f"Bearer {TOKEN.upper()}", "invalid_token"),
    ],
)
def test_a_request_without_the_token_is_a_401_with_a_bearer_challenge(client, token, authorization, error):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    assert TOKEN not in response.content.decode()


def test_with_the_token_it_answers_the_prometheus_text_format_and_openmetrics_on_request(client, token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")  # the scheme is case-insensitive
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"]
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    assert set(families) == set(METRICS)
    assert all(f.type == "gauge" and f.documentation for f in families.values())

    openmetrics = client.get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="application/openmetrics-text"
    )
    assert openmetrics.status_code == 200
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.content.decode().rstrip().endswith("# EOF")


def test_only_reads_are_allowed(client, token):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def test_the_settings_refuse_a_short_token():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="advisor.settings",
        ADVISOR_DEBUG="true",
        ADVISOR_VAR_DIR="/tmp/advisor-settings-test",
    )
    code = "import django; django.setup(); from django.conf import settings; print(settings.ADVISOR_METRICS_TOKEN)"

    def load(value: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "ADVISOR_METRICS_TOKEN": value},
            capture_output=True,
            text=True,
            timeout=60,
        )

    short = load("x" * 31)
    assert short.returncode != 0 and "ADVISOR_METRICS_TOKEN is too short (31 characters" in short.stderr
    ok = load(f"  {TOKEN}  ")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == TOKEN
    unset = load("")
    assert unset.returncode == 0 and unset.stdout.strip() == ""


# Design findings and retirement ------------------------------------------------------------------


def test_design_findings_are_the_stored_unwaived_findings_by_rule_severity_and_team(
    client, token, demo_registry
):
    findings_refresh()
    expected = Counter(
        (f.rule, f.severity, f.team.name if f.team_id else "")
        for f in DesignFinding.objects.select_related("team")
        if not f.waived
    )
    assert expected, "the demo design has findings"
    got = _scrape(client)["advisor_design_findings"]
    assert got == {_labels(rule=r, severity=s, team=t): n for (r, s, t), n in expected.items()}

    # A waiver takes its finding out once the findings are refreshed (never recomputed by a scrape).
    finding = DesignFinding.objects.filter(waived=False, team__isnull=False).first()
    key = _labels(rule=finding.rule, severity=finding.severity, team=finding.team.name)
    Waiver.objects.create(
        rule=finding.rule,
        target=finding.target,
        reason="accepted for now",
        expires=timezone.localdate() + dt.timedelta(days=30),
    )
    assert _scrape(client)["advisor_design_findings"][key] == got[key]
    findings_refresh()
    assert _scrape(client)["advisor_design_findings"].get(key, 0) == got[key] - 1


def test_retirement_days_left_come_from_the_catalog_as_ins001_counts_them(client, token, monkeypatch):
    day = dt.date(2027, 1, 15)
    monkeypatch.setattr(clock, "today", lambda: day)
    _instance("old-premium", product=platform.ACR, tier="premium", sku="P1", clustering="oss")
    _instance("old-enterprise", product=platform.ACR, tier="enterprise", clustering="enterprise")
    _instance("new-balanced", product=platform.AMR, tier="balanced", clustering="enterprise")
    _instance("self-hosted")
    got = _scrape(client)
    premium = platform.retirement_date(platform.ACR, "premium")
    enterprise = platform.retirement_date(platform.ACR, "enterprise")
    assert premium and enterprise  # both tiers retire, per the catalog
    assert got["advisor_instance_retirement_days_left"] == {
        _labels(instance="old-premium"): (premium - day).days,
        _labels(instance="old-enterprise"): (enterprise - day).days,
    }
    # After the date the days are negative (INS001 then says critical).
    monkeypatch.setattr(clock, "today", lambda: enterprise + dt.timedelta(days=3))
    assert _scrape(client)["advisor_instance_retirement_days_left"][_labels(instance="old-enterprise")] == -3
    info = got["advisor_instance_info"]
    assert (
        info[_labels(instance="new-balanced", environment="prod", product=platform.AMR, tier="balanced")] == 1
    )
    assert info[_labels(instance="self-hosted", environment="prod", product="redis-oss", tier="")] == 1
    # Never scanned: no scan figures, and no failures.
    assert got["advisor_scan_failed_runs"][_labels(instance="self-hosted")] == 0
    assert got["advisor_scan_age_seconds"] == {} and got["advisor_namespace_keys"] == {}


# A real scan -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_server():
    with drift_server() as server:
        load_drift_keyspace(redis.Redis(port=server.port), misses=0)
        yield server


def _scan(**options) -> ScanRun:
    run = scans.scan_run_create(instance=Instance.objects.get(name=DRIFT_INSTANCE), enqueue=False)
    return scans.scan_run_execute(run=run, options=scans.scan_options(**options))


def _drift_expected(run: ScanRun, waivers: set[tuple[str, str]] = frozenset()) -> dict[tuple, float]:
    teams = dict(Namespace.objects.values_list("name", "team__name"))
    counts = Counter()
    for f in run.findings:
        if (f["rule"], f["target"]) in waivers:
            continue
        kind, _, name = f["target"].partition(":")
        namespace = name if kind == "namespace" else ""
        counts[(namespace, teams.get(namespace, ""), f["severity"])] += 1
    return {
        _labels(instance=DRIFT_INSTANCE, namespace=ns, team=team, severity=sev): n
        for (ns, team, sev), n in counts.items()
    }


def test_a_real_scan_gives_the_namespace_drift_and_scan_figures(client, token, lab_server):
    design_import(drift_design(lab_server.url))
    first = _scan()
    assert first.status == ScanRun.Status.COMPLETED and first.complete, first.reason
    got = _scrape(client)
    lab = _labels(instance=DRIFT_INSTANCE)

    def ns(name: str, team: str) -> tuple:
        return _labels(instance=DRIFT_INSTANCE, namespace=name, team=team)

    owners = {
        "product-cache": "catalog",
        "user-by-email": "identity",
        "rate-limits": "identity",
        "retired": "catalog",
    }
    assert got["advisor_namespace_keys"] == {ns(n, t): DRIFT_KEYS[n] for n, t in owners.items()}
    # The keyspace's only keys without a TTL in a namespace: 50 product-cache strings (DRF002).
    assert got["advisor_namespace_keys_without_ttl"] == {
        ns(n, t): 50 if n == "product-cache" else 0 for n, t in owners.items()
    }
    report = {n["name"]: n for n in first.report["namespaces"]}
    assert got["advisor_namespace_memory_bytes"] == {
        ns(n, t): report[n]["memory_bytes"] for n, t in owners.items()
    }
    assert got["advisor_namespace_memory_bytes"][ns("product-cache", "catalog")] > 0
    assert got["advisor_scan_unmatched_keys"] == {lab: DRIFT_KEYS["legacy"] + DRIFT_KEYS["tmp"]}
    assert got["advisor_scan_complete"] == {lab: 1}
    assert got["advisor_scan_duration_seconds"] == {lab: pytest.approx(first.report["duration_s"])}
    assert 0 <= got["advisor_scan_age_seconds"][lab] <= (timezone.now() - first.finished_at).total_seconds()
    assert got["advisor_scan_failed_runs"] == {lab: 0}

    # Drift, unwaived, by namespace (empty: the instance itself) and severity.
    drift = got["advisor_drift_findings"]
    assert drift == _drift_expected(first)
    assert (
        drift[_labels(instance=DRIFT_INSTANCE, namespace="product-cache", team="catalog", severity="high")]
        == 1
    )  # DRF002
    assert (
        drift[_labels(instance=DRIFT_INSTANCE, namespace="user-by-email", team="identity", severity="high")]
        == 1
    )  # DRF006
    assert drift[_labels(instance=DRIFT_INSTANCE, namespace="", team="", severity="high")] == 1  # DRF007

    # A waiver in force takes drift out at the next scrape, without a new scan; an expired one does not.
    today = timezone.localdate()
    Waiver.objects.create(rule="DRF007", target=f"instance:{DRIFT_INSTANCE}", reason="known", expires=today)
    Waiver.objects.create(
        rule="DRF006", target="namespace:user-by-email", reason="old", expires=today - dt.timedelta(days=1)
    )
    drift = _scrape(client)["advisor_drift_findings"]
    assert drift == _drift_expected(first, {("DRF007", f"instance:{DRIFT_INSTANCE}")})
    assert _labels(instance=DRIFT_INSTANCE, namespace="", team="", severity="high") not in drift
    assert (
        drift[_labels(instance=DRIFT_INSTANCE, namespace="user-by-email", team="identity", severity="high")]
        == 1
    )

    # The latest completed scan counts: ten more product keys without a TTL, scanned again.
    r = redis.Redis(port=lab_server.port)
    try:
        r.mset({f"prod:catalog:product:v3:{i}": "x" * 100 for i in range(9000, 9010)})
        second = _scan()
        assert second.status == ScanRun.Status.COMPLETED and second.complete, second.reason
    finally:
        r.delete(*[f"prod:catalog:product:v3:{i}" for i in range(9000, 9010)])
    got = _scrape(client)
    assert got["advisor_namespace_keys"][ns("product-cache", "catalog")] == DRIFT_KEYS["product-cache"] + 10
    assert got["advisor_namespace_keys_without_ttl"][ns("product-cache", "catalog")] == 60
    assert got["advisor_scan_duration_seconds"] == {lab: pytest.approx(second.report["duration_s"])}

    # A scan that stops short is the latest completed one, and says it is not complete.
    partial = _scan(max_keys=100, count=50)
    assert partial.status == ScanRun.Status.COMPLETED and not partial.complete
    got = _scrape(client)
    assert got["advisor_scan_complete"] == {lab: 0}
    assert (
        sum(got["advisor_namespace_keys"].values()) + got["advisor_scan_unmatched_keys"][lab]
        <= partial.keys_scanned
    )

    # A failed scan counts as a failure and leaves the figures of the latest completed one.
    Instance.objects.filter(name=DRIFT_INSTANCE).update(connection_url=f"redis://127.0.0.1:{free_port()}/0")
    failed = _scan(connect_timeout=1.0)
    assert failed.status == ScanRun.Status.FAILED and failed.error_kind == "unreachable"
    got = _scrape(client)
    assert got["advisor_scan_failed_runs"] == {lab: 1}
    assert got["advisor_scan_complete"] == {lab: 0}

    # Scan age is counted from when the latest completed scan finished.
    ScanRun.objects.update(finished_at=F("finished_at") - dt.timedelta(hours=5))
    age = _scrape(client)["advisor_scan_age_seconds"][lab]
    assert 5 * 3600 <= age < 5 * 3600 + 120


# Query count -------------------------------------------------------------------------------------


def _populate(instances: int, namespaces_per_instance: int) -> None:
    """Instances with namespaces, two completed runs each (hand-made reports with drift) and a
    failed run, plus their design findings."""
    team = Team.objects.get_or_create(name="payments")[0]
    now = timezone.now()
    for i in range(Instance.objects.count(), instances):
        inst = _instance(f"cache-{i:03d}", product=platform.ACR, tier="standard", sku="C1", clustering="none")
        names = [f"ns-{i:03d}-{j}" for j in range(namespaces_per_instance)]
        for name in names:
            _namespace(name, team, inst)
        for k, age_h in enumerate((48, 2)):
            report = ScanReport(
                instance=inst.name,
                status="completed",
                started_at=now - dt.timedelta(hours=age_h, seconds=30),
                finished_at=now - dt.timedelta(hours=age_h),
                duration_s=30.0,
                keys_scanned=100 * len(names) + 7,
                complete=True,
                namespaces=[
                    NamespaceReport(
                        name=name,
                        keys=100 + k,
                        without_ttl=j,
                        types={"string": 100 + k},
                        memory_bytes=1000 * (j + 1),
                        memory_estimated=True,
                        ttl_seconds=TtlSeconds(),
                    )
                    for j, name in enumerate(names)
                ],
                unmatched=UnmatchedReport(keys=7),
                findings=[
                    Finding(
                        rule="DRF002",
                        severity=Severity.high,
                        title="Keys without TTL",
                        target=f"namespace:{name}",
                        message="m",
                        remediation="r",
                    )
                    for name in names
                ],
            )
            ScanRun.objects.create(
                instance=inst,
                status=ScanRun.Status.COMPLETED,
                started_at=report.started_at,
                finished_at=report.finished_at,
                complete=True,
                report=report.model_dump(mode="json"),
            )
        ScanRun.objects.create(instance=inst, status=ScanRun.Status.FAILED, finished_at=now, reason="refused")
    findings_refresh()


def test_a_scrape_runs_a_fixed_number_of_queries_however_big_the_registry(
    client, token, django_assert_max_num_queries
):
    counts = []
    for instances, per_instance in ((1, 1), (4, 3), (12, 6)):
        _populate(instances, per_instance)
        with django_assert_max_num_queries(SCRAPE_QUERIES), CaptureQueriesContext(connection) as queries:
            got = _scrape(client)
        counts.append(len(queries))
        total_namespaces = Namespace.objects.count()
        assert len(got["advisor_namespace_keys"]) == total_namespaces
        # Every instance's figures are those of its latest completed run (101 keys, not 100).
        assert set(got["advisor_namespace_keys"].values()) == {101}
        assert len(got["advisor_scan_age_seconds"]) == instances
        assert all(2 * 3600 <= v < 2 * 3600 + 600 for v in got["advisor_scan_age_seconds"].values())
        assert set(got["advisor_scan_failed_runs"].values()) == {1}
        assert set(got["advisor_scan_unmatched_keys"].values()) == {7}
        drift = got["advisor_drift_findings"]
        assert len(drift) == total_namespaces and set(drift.values()) == {1}
        assert (
            sum(got["advisor_design_findings"].values()) == DesignFinding.objects.filter(waived=False).count()
        )
        assert len(got["advisor_instance_retirement_days_left"]) == instances
    assert counts == [SCRAPE_QUERIES] * 3


# The Grafana dashboard ---------------------------------------------------------------------------


def _exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    out = []

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            out.append((variable["name"], query["query"] if isinstance(query, dict) else query))
    return out


def test_the_grafana_dashboard_uses_exactly_the_exposed_metrics(client, token, lab_server):
    # Every family with samples: a scanned instance, one on a retiring tier, design findings.
    design_import(drift_design(lab_server.url))
    _instance("old-premium", product=platform.ACR, tier="premium", sku="P1", clustering="oss")
    findings_refresh()
    assert _scan().status == ScanRun.Status.COMPLETED
    ScanRun.objects.create(instance=Instance.objects.get(name=DRIFT_INSTANCE), status=ScanRun.Status.FAILED)
    exposed = {name for name, samples in _scrape(client).items() if samples}
    assert exposed == set(METRICS)

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = _exprs(dashboard)
    used = set()
    for where, expr in exprs:
        names = set(re.findall(r"\badvisor_[a-z0-9_]+\b", expr))
        assert names, f"{where}: {expr} uses no advisor metric"
        assert names <= exposed, f"{where}: {sorted(names - exposed)} are not exposed by /metrics"
        used |= names
    assert used == exposed, f"not on the dashboard: {sorted(exposed - used)}"

    titles = {p["title"] for p in dashboard["panels"] if p["type"] != "row"}
    for wanted in (
        "Unwaived design findings by severity",
        "Unwaived design findings by team",
        "Drift findings by instance",
        "Memory per namespace",
        "Keys per namespace",
        "Keys without TTL",
        "Scan age",
        "Scan failures",
        "Retirement days left",
    ):
        assert wanted in titles
    # Every panel reads the Prometheus data source picked on import; ids are unique.
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"] if p["type"] != "row")
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
