import json
import sys
import time

from django.core.management.base import BaseCommand

from advisor.registry.models import Instance
from advisor.scans import services
from advisor.scans.models import ScanRun
from advisor.scans.report_text import render_scan_text


class _ProgressBar:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, stream):
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, p) -> None:
        if not self.enabled or time.monotonic() - self.last < 0.2:
            return
        self.last = time.monotonic()
        scanned = getattr(p, "keys_scanned", 0)
        total = getattr(p, "keys_total", None) or 0
        if total:
            share = min(1.0, scanned / total)
            bar = "#" * int(30 * share)
            self.stream.write(f"\r[{bar:<30}] {share:5.1%}  {scanned:,} of ~{total:,} keys ")
        else:
            self.stream.write(f"\r{scanned:,} keys ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


class Command(BaseCommand):
    help = "Scan a registered instance now, in this process, and store the result like a scheduled scan."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the registered instance's name")
        parser.add_argument("--json", action="store_true", help="print the scan report as JSON")
        parser.add_argument(
            "--max-keys", type=int, help="stop after this many keys (the scan is then incomplete)"
        )
        parser.add_argument(
            "--memory-sample", type=float, help="share of keys measured with MEMORY USAGE (default 0.1)"
        )
        parser.add_argument(
            "--max-ops",
            type=int,
            help="commands per second the scan may send (default ADVISOR_SCAN_MAX_OPS); 0 lifts the budget: "
            "no throttling, as fast as the cache answers",
        )
        parser.add_argument("--count", type=int, help="SCAN COUNT per batch (default 1000)")

    def handle(self, *args, name, json: bool = False, **options):
        instance = Instance.objects.filter(name=name).first()
        if instance is None:
            _usage_error(f"no registered instance named {name!r}")
        max_ops = options.get("max_ops")
        if max_ops is not None and max_ops < 0:
            _usage_error(
                f"--max-ops must be 0 (no limit) or a positive number of commands per second, not {max_ops}"
            )
        try:
            opts = services.scan_options(
                max_keys=options.get("max_keys"),
                memory_sample=options.get("memory_sample"),
                max_ops=options.get("max_ops"),
                count=options.get("count"),
            )
        except ValueError as e:
            _usage_error(str(e))
        run = services.scan_run_create(instance=instance, trigger=ScanRun.Trigger.COMMAND, enqueue=False)
        bar = _ProgressBar(sys.stderr)
        try:
            run = services.scan_run_execute(run=run, options=opts, on_progress=bar)
        except services.ScanBusy as e:
            services.scan_run_cancel(run=run)
            sys.stderr.write(f"scan #{run.number} of {name} not started: {e}\n")
            raise SystemExit(3) from None
        finally:
            bar.done()
        if run.status == ScanRun.Status.FAILED:
            sys.stderr.write(f"scan #{run.number} of {name} failed: {run.reason}\n")
            raise SystemExit(3)
        if json:
            self.stdout.write(_json_dumps(run.report))
        else:
            self.stdout.write(render_scan_text(run.report, color=sys.stdout.isatty()))
        if run.findings_high:
            raise SystemExit(1)


def _usage_error(message: str):
    # Exit 1 means "completed with high findings" in the contract: usage errors exit 2, as argparse's do.
    sys.stderr.write(f"scan_instance: {message}\n")
    raise SystemExit(2)


def _json_dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
