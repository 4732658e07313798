"""Benchmark: the SQLite audit log, each stage in a fresh process, with its peak memory.

Run: python benchmarks/bench_audit.py [--rows 1000000] [--appends 2000]   (or `make bench`)

* durable appends per second, one writer: ``SQLiteAuditSink.append``, one
  ``BEGIN IMMEDIATE`` transaction and one fsync (``synchronous=FULL``) per row;
* the same with four writer processes on one file (one linear chain);
* batched appends (``append_many``, 10,000 rows a transaction), which also
  builds the ``--rows`` log for the next stages;
* ``verify_audit`` over that log: rows per second;
* ``load_audit`` (the kit: verification, then both frames) over that log.

Peak RSS is the whole process (interpreter, libraries and data), from ``wait4``.
Appends depend on the disk's fsync latency far more than on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ENTRY = """
from datetime import datetime, timezone
from decimal import Decimal
from warrantd import ActionRequest, AuditEntry, AutonomyState, Decision, Verdict

def entry(i):
    return AuditEntry(
        ActionRequest("issue_refund", f"tenant-{i % 7}", Decimal(f"{i % 900}.50"), {"invoice": i}),
        Decision(Verdict.REQUIRE_APPROVAL, AutonomyState.SUPERVISED, "above auto_cap 100"),
        True, True, f"{i:064x}", datetime(2026, 3, 1, tzinfo=timezone.utc))
"""


def start(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ENTRY + textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def finish(process: subprocess.Popen[str]) -> tuple[dict[str, float], float]:
    """The child's printed JSON and its peak RSS in MB."""
    _, status, usage = os.wait4(process.pid, 0)
    out = process.stdout.read() if process.stdout else ""
    if status:
        raise SystemExit(f"benchmark child failed ({status})")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def appends(path: Path, count: int, tag: int) -> subprocess.Popen[str]:
    return start(
        f"""
        import json, time
        from warrantd.auditlog import SQLiteAuditSink
        sink = SQLiteAuditSink({str(path)!r})
        t = time.perf_counter()
        for i in range({count}):
            sink.append(entry({tag} * 10_000_000 + i))
        print(json.dumps({{"seconds": time.perf_counter() - t}}))
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the verified log")
    parser.add_argument("--appends", type=int, default=2000, help="durable appends per writer")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="warrantd-bench-audit-"))
    lines: list[tuple[str, str, str]] = []
    try:
        one = folder / "one.db"
        (result, rss) = finish(appends(one, args.appends, 0))
        rate = args.appends / result["seconds"]
        lines.append((f"append, 1 writer ({args.appends:,} rows)", f"{rate:,.0f} rows/s", rss))

        four = folder / "four.db"
        per = args.appends // 2
        begin = time.perf_counter()
        writers = [appends(four, per, k) for k in range(4)]
        done = [finish(w) for w in writers]
        wall = time.perf_counter() - begin
        rate = 4 * per / wall
        peak = max(r for _, r in done)
        lines.append(
            (f"append, 4 writers x {per:,} rows (wall clock)", f"{rate:,.0f} rows/s", peak)
        )

        big = folder / "big.db"
        (result, rss) = finish(
            start(
                f"""
                import json, time
                from warrantd.auditlog import SQLiteAuditSink
                sink = SQLiteAuditSink({str(big)!r})
                t = time.perf_counter()
                for first in range(0, {args.rows}, 10_000):
                    last = min(first + 10_000, {args.rows})
                    sink.append_many([entry(i) for i in range(first, last)])
                print(json.dumps({{"seconds": time.perf_counter() - t}}))
                """
            )
        )
        rate = args.rows / result["seconds"]
        lines.append(
            (f"append_many, 10,000 a transaction ({args.rows:,} rows)", f"{rate:,.0f} rows/s", rss)
        )
        size = big.stat().st_size / 2**20

        (result, rss) = finish(
            start(
                f"""
                import json, time
                from warrantd.auditlog import verify_audit
                t = time.perf_counter()
                r = verify_audit({str(big)!r})
                assert r.ok and r.rows == {args.rows}, r.describe()
                print(json.dumps({{"seconds": time.perf_counter() - t}}))
                """
            )
        )
        rate = args.rows / result["seconds"]
        lines.append(
            (
                f"verify_audit ({args.rows:,} rows, {size:,.0f} MB)",
                f"{rate:,.0f} rows/s ({result['seconds']:.1f} s)",
                rss,
            )
        )

        (result, rss) = finish(
            start(
                f"""
                import json, time
                from warrantd.analytics import load_audit
                t = time.perf_counter()
                frames = load_audit({str(big)!r})
                assert len(frames.decisions) == {args.rows}
                print(json.dumps({{"seconds": time.perf_counter() - t}}))
                """
            )
        )
        lines.append(
            (f"load_audit, verified ({args.rows:,} rows)", f"{result['seconds']:.1f} s", rss)
        )
    finally:
        shutil.rmtree(folder)
    load = os.getloadavg()[0]
    print(f"audit log benchmark (load average {load:.2f}, {os.cpu_count()} CPUs)")
    width = max(len(name) for name, _, _ in lines)
    for name, figure, rss in lines:
        print(f"  {name:<{width}}  {figure:>26}  peak RSS {float(rss):6.0f} MB")


if __name__ == "__main__":
    main()
