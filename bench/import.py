"""Import benchmark: the largest design file the advisor accepts, in time and peak memory.

Run: .venv/bin/python bench/import.py [--bytes N] [--format yaml|json] [--keep DIR]

Writes a realistic design file of exactly N bytes (default: ADVISOR_MAX_DESIGN_BYTES, or 1 MiB;
namespaces of bench/lint.py over 200 instances and 40 teams, padded to N with a trailing comment
under one namespace's size), then runs, each in a fresh child process against a fresh SQLite
database under a temporary directory, and prints wall time and peak RSS of each:

- `redis-key-lint FILE` (parse, validate and lint; no database);
- `manage.py import_designs FILE` into the empty registry (every row created, audited, findings
  stored);
- the same import again (every row found and compared, nothing changes);
- `manage.py import_designs` of a file one byte over the limit (refused before it is parsed).

A design file costs far more than its size (issue #11: a 16.8 MB file took 70 s and 822 MB in the
CLI), which is why ADVISOR_MAX_DESIGN_BYTES bounds it. The figures show what the limit allows:
the web upload does the same work as the command in a gunicorn worker, so the import of a file at
the limit must stay well inside gunicorn's 30 s worker timeout (Dockerfile) to be usable from the
page; the command line has no such bound.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import yaml  # noqa: E402

from advisor import limits  # noqa: E402

WORKER_TIMEOUT_S = 30  # gunicorn's default worker timeout; the Dockerfile keeps it


def file_at(size: int, fmt: str) -> tuple[bytes, int]:
    """A design file of exactly `size` bytes and its namespace count: as many namespaces as fit."""
    from lint import make_design  # bench/lint.py: realistic namespaces over 200 instances

    per_namespace = 400  # fewer bytes than any generated namespace takes, so enough are generated
    doc = make_design(max(1, size // per_namespace)).model_dump(mode="json", exclude_none=True)
    namespaces = doc.pop("namespaces")
    if fmt == "json":
        head = json.dumps(doc, indent=2)[:-2].encode() + b',\n  "namespaces": [\n'
        items = [json.dumps(ns).encode() for ns in namespaces]
        sep, tail = b",\n", b"\n  ]\n}\n"
    else:
        head = yaml.safe_dump(doc, sort_keys=False).encode() + b"namespaces:\n"
        items = [yaml.safe_dump([ns], sort_keys=False).encode() for ns in namespaces]
        sep, tail = b"", b""
    used, count = len(head) + len(tail), 0
    for item in items:
        if used + len(item) + (len(sep) if count else 0) > size:
            break
        used += len(item) + (len(sep) if count else 0)
        count += 1
    assert count < len(items), "generate more namespaces"
    text = head + sep.join(items[:count]) + tail
    pad = size - len(text)
    if fmt == "json":
        text += b" " * pad  # JSON has no comments; trailing white space is allowed
    elif pad:
        text += b"#" * (pad - 1) + b"\n"
    assert len(text) == size, (len(text), size)
    return text, count


def run(label: str, argv: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Exit code, wall seconds and peak RSS (MiB) of one child process, and its last line of output."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this one child's resource usage
        elapsed = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        output.seek(0)
        lines = output.read().decode(errors="replace").strip().splitlines()
    rss_mib = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"{label:<44} exit {code}  {elapsed:7.2f} s  peak RSS {rss_mib:7.1f} MiB")
    return code, elapsed, rss_mib, lines[-1] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=None, help="file size (default: the configured limit)")
    parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
    parser.add_argument(
        "--keep", help="write the files and the database here instead of a temporary directory"
    )
    args = parser.parse_args()
    limit = limits.max_design_bytes()
    size = args.bytes or limit

    with tempfile.TemporaryDirectory(prefix="advisor-import-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        text, namespaces = file_at(size, args.format)
        path = work / f"designs.{args.format}"
        path.write_bytes(text)
        over = work / f"designs-over.{args.format}"
        over.write_bytes(text + b"\n")
        print(
            f"design file: {len(text):,} bytes ({limits.human_bytes(len(text))}), {namespaces:,} namespaces, "
            f"200 instances, 40 teams, {args.format}; limit {limit:,} bytes "
            f"(written in {time.perf_counter() - started:.1f} s)"
        )
        env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "ADVISOR_DEBUG": "true",
            "ADVISOR_VAR_DIR": str(work),
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "ADVISOR_MAX_DESIGN_BYTES": str(max(limit, size)),
            "ADVISOR_LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)

        results = {}
        results["lint"] = run(
            "redis-key-lint (no database)", [sys.executable, "-m", "advisor.lint_cli", str(path)], env
        )
        results["import"] = run("import_designs, empty registry", [*manage, "import_designs", str(path)], env)
        results["reimport"] = run(
            "import_designs again, nothing changes", [*manage, "import_designs", str(path)], env
        )
        env_over = {**env, "ADVISOR_MAX_DESIGN_BYTES": str(len(text))}
        results["over"] = run(
            "import_designs, one byte over the limit", [*manage, "import_designs", str(over)], env_over
        )

    ok = True
    for key in ("import", "reimport"):
        code, _, _, line = results[key]
        if code != 0:
            ok = False
            print(f"  {key} failed: {line}")
    if results["lint"][0] not in (0, 1):
        ok = False
        print(f"  lint failed: {results['lint'][3]}")
    if results["over"][0] != 2:
        ok = False
        print(f"  the file over the limit was not refused: {results['over'][3]}")
    slowest = max(results["import"][1], results["reimport"][1])
    print(
        f"{'OK' if slowest < WORKER_TIMEOUT_S else 'TOO SLOW FOR THE WEB'}: the slowest import of a file at the "
        f"limit took {slowest:.1f} s (a gunicorn worker is killed after {WORKER_TIMEOUT_S} s); "
        f"peak RSS {max(results['import'][2], results['reimport'][2]):.0f} MiB"
    )
    return 0 if ok and slowest < WORKER_TIMEOUT_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
