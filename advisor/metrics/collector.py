"""What /metrics exposes, read from the database when Prometheus scrapes.

The collector runs a fixed number of queries however many instances, namespaces, runs and
findings there are; counting is done by the database and nothing is queried per instance or
namespace:

1. the unwaived design findings, counted by rule, severity and team (the stored results of the
   lint, `advisor.findings`; the lint itself never runs here);
2. the instances, each with its number of failed scan runs and the id of its latest completed
   run (two correlated subqueries);
3. those runs, with only the parts of their report JSON the metrics need (the namespaces, the
   findings, the unmatched keys, the duration), not whole reports;
4. which team owns each namespace;
5. the waivers in force today, so that drift waived after a scan stops counting (as the review
   pages judge a scan's drift, advisor.reviews.drift);
6. when the stored findings were computed (they follow every change and a nightly job; an old
   time says a refresh failed or the job did not run).

Retirement dates come from the platform catalog through `platform.retirement_date`, the lookup
rule INS001 uses, with the days counted from the advisor's "today" as the findings count them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from django.db.models import Count, F, IntegerField, OuterRef, Subquery
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from advisor.core import platform
from advisor.findings import clock
from advisor.findings.models import DesignFinding, FindingsRun
from advisor.registry.models import Instance, Namespace, Waiver
from advisor.scans.models import ScanRun

# name: (help, labels). Every metric the endpoint exposes; the Grafana dashboard uses these names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "advisor_design_findings": (
        "Unwaived findings of the registered design (the stored lint results), by rule, severity and "
        "the team owning the namespace; team is empty for findings on an instance.",
        ("rule", "severity", "team"),
    ),
    "advisor_findings_computed_timestamp_seconds": (
        "When the stored design findings were last computed, as a Unix time; absent before the first "
        "time. They follow every change to the registry and a nightly job (for the date).",
        (),
    ),
    "advisor_instance_info": (
        "A registered instance (always 1), with its environment, product and tier.",
        ("instance", "environment", "product", "tier"),
    ),
    "advisor_instance_retirement_days_left": (
        "Days until the instance's Azure Cache for Redis tier retires, negative once it has (the "
        "platform catalog's date, as rule INS001 counts it); only instances on a retiring tier.",
        ("instance",),
    ),
    "advisor_scan_failed_runs": (
        "Failed scan runs of the instance still kept in the scan history (ADVISOR_SCAN_RETENTION_DAYS); "
        "pruning old runs lowers it, so it is a gauge: alert on increase via delta() or changes().",
        ("instance",),
    ),
    "advisor_scan_age_seconds": (
        "Seconds since the latest completed scan of the instance finished.",
        ("instance",),
    ),
    "advisor_scan_duration_seconds": (
        "How long the latest completed scan of the instance took.",
        ("instance",),
    ),
    "advisor_scan_complete": (
        "1 if the latest completed scan of the instance read the whole keyspace, 0 if it stopped "
        "short (key limit, deadline, a shard that failed).",
        ("instance",),
    ),
    "advisor_scan_unmatched_keys": (
        "Keys in the latest completed scan of the instance that match no registered namespace.",
        ("instance",),
    ),
    "advisor_namespace_keys": (
        "Keys of the namespace in the latest completed scan of its instance.",
        ("instance", "namespace", "team"),
    ),
    "advisor_namespace_memory_bytes": (
        "Memory of the namespace's keys in the latest completed scan of its instance (MEMORY USAGE, "
        "extrapolated from a sample when the scan sampled).",
        ("instance", "namespace", "team"),
    ),
    "advisor_namespace_keys_without_ttl": (
        "Keys of the namespace without a TTL in the latest completed scan of its instance.",
        ("instance", "namespace", "team"),
    ),
    "advisor_drift_findings": (
        "Drift findings of the latest completed scan of the instance not covered by a waiver in force, "
        "by severity; namespace and team are empty for findings on the instance itself.",
        ("instance", "namespace", "team", "severity"),
    ),
}


def _family(name: str) -> GaugeMetricFamily:
    documentation, labels = METRICS[name]
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _latest_completed_run_id() -> Subquery:
    # A completed run always has finished_at; nulls last all the same (PostgreSQL sorts them first).
    return Subquery(
        ScanRun.objects.filter(instance=OuterRef("pk"), status=ScanRun.Status.COMPLETED)
        .order_by(F("finished_at").desc(nulls_last=True), "-pk")
        .values("pk")[:1]
    )


def _failed_run_count() -> Coalesce:
    return Coalesce(
        Subquery(
            ScanRun.objects.filter(instance=OuterRef("pk"), status=ScanRun.Status.FAILED)
            .order_by()
            .values("instance")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def _namespace_of(target: str) -> str:
    kind, _, name = (target or "").partition(":")
    return name if kind == "namespace" else ""


class AdvisorCollector(Collector):
    """Reads the database at each scrape; see the module's docstring for the queries."""

    def describe(self) -> Iterable[Metric]:
        # Registering the collector must not touch the database.
        return []

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        today = clock.today()

        design = _family("advisor_design_findings")
        rows = (
            DesignFinding.objects.filter(waived=False)
            .order_by()
            .values("rule", "severity", "team__name")
            .annotate(n=Count("pk"))
        )
        for row in sorted(rows, key=lambda r: (r["rule"], r["severity"], r["team__name"] or "")):
            design.add_metric([row["rule"], row["severity"], row["team__name"] or ""], row["n"])

        instances = list(
            Instance.objects.order_by("name")
            .annotate(latest_run=_latest_completed_run_id(), failed_runs=_failed_run_count())
            .values("pk", "name", "environment", "product", "tier", "latest_run", "failed_runs")
        )
        run_ids = [i["latest_run"] for i in instances if i["latest_run"] is not None]
        runs = {
            r["instance_id"]: r
            for r in ScanRun.objects.filter(pk__in=run_ids)
            .order_by()
            .values(
                "instance_id",
                "finished_at",
                "complete",
                namespaces=KeyTransform("namespaces", "report"),
                findings=KeyTransform("findings", "report"),
                duration_s=KeyTransform("duration_s", "report"),
                unmatched=KeyTransform("keys", KeyTransform("unmatched", "report")),
            )
        }
        teams = dict(Namespace.objects.order_by().values_list("name", "team__name"))
        waivers = set(Waiver.objects.filter(expires__gte=today).order_by().values_list("rule", "target"))
        computed = _family("advisor_findings_computed_timestamp_seconds")
        computed_at = FindingsRun.objects.filter(pk=1).values_list("computed_at", flat=True).first()
        if computed_at is not None:
            computed.add_metric([], computed_at.timestamp())

        info = _family("advisor_instance_info")
        retirement = _family("advisor_instance_retirement_days_left")
        failed = _family("advisor_scan_failed_runs")
        age = _family("advisor_scan_age_seconds")
        duration = _family("advisor_scan_duration_seconds")
        complete = _family("advisor_scan_complete")
        unmatched = _family("advisor_scan_unmatched_keys")
        keys = _family("advisor_namespace_keys")
        memory = _family("advisor_namespace_memory_bytes")
        without_ttl = _family("advisor_namespace_keys_without_ttl")
        drift = _family("advisor_drift_findings")

        for inst in instances:
            name = inst["name"]
            info.add_metric([name, inst["environment"], inst["product"], inst["tier"] or ""], 1)
            retires = platform.retirement_date(inst["product"], inst["tier"])
            if retires is not None:
                retirement.add_metric([name], (retires - today).days)
            failed.add_metric([name], inst["failed_runs"])
            run = runs.get(inst["pk"])
            if run is None:
                continue
            if run["finished_at"] is not None:
                age.add_metric([name], max(0.0, (now - run["finished_at"]).total_seconds()))
            if isinstance(run["duration_s"], int | float):
                duration.add_metric([name], run["duration_s"])
            complete.add_metric([name], 1 if run["complete"] else 0)
            if isinstance(run["unmatched"], int):
                unmatched.add_metric([name], run["unmatched"])
            for ns in sorted(run["namespaces"] or [], key=lambda n: n.get("name", "")):
                labels = [name, ns.get("name", ""), teams.get(ns.get("name", ""), "")]
                keys.add_metric(labels, ns.get("keys", 0))
                memory.add_metric(labels, ns.get("memory_bytes", 0))
                without_ttl.add_metric(labels, ns.get("without_ttl", 0))
            counts: Counter[tuple[str, str]] = Counter(
                (_namespace_of(f.get("target", "")), f.get("severity", ""))
                for f in run["findings"] or []
                if (f.get("rule"), f.get("target")) not in waivers
            )
            for (namespace, severity), n in sorted(counts.items()):
                drift.add_metric([name, namespace, teams.get(namespace, ""), severity], n)

        yield from (
            design,
            computed,
            info,
            retirement,
            failed,
            age,
            duration,
            complete,
            unmatched,
            keys,
            memory,
            without_ttl,
            drift,
        )
