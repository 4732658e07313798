"""Benchmark: the PostgreSQL audit log beside the SQLite one, same stages, same rows.

Run: python benchmarks/bench_audit_postgres.py [--rows 300000] [--appends 1000]
(or `make bench`). A throwaway server is started for it (tests/pg_server.py: the
machine's own initdb / pg_ctl, a temporary folder, a free loopback port, fsync on).

* durable appends per second, one writer (one transaction and one commit flush each);
* the same with eight writer processes on one log (one linear chain): SQLite queues
  them on its file lock, PostgreSQL on an advisory lock inside each transaction;
* batched appends (``append_many``, 10,000 rows a transaction), building the
  ``--rows`` log for the next stages;
* ``verify_audit`` over that log (rows per second) and ``load_audit`` (the kit).

Every stage runs in a fresh process; peak RSS is that process's (the server's own
memory is not counted). Appends depend on fsync latency far more than on the CPU, and
the PostgreSQL figures include a loopback round trip per statement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_audit import ROOT, finish, start

sys.path.insert(0, str(ROOT))


def open_sink(target: str) -> str:
    if target.startswith("postgresql://"):
        return f"from warrantd.auditlog import PostgresAuditSink as S; sink = S({target!r})"
    return f"from warrantd.auditlog import SQLiteAuditSink as S; sink = S({target!r})"


def appends(target: str, count: int, tag: int) -> object:
    return start(
        f"""
        import json, time
        {open_sink(target)}
        t = time.perf_counter()
        for i in range({count}):
            sink.append(entry({tag} * 10_000_000 + i))
        print(json.dumps({{"seconds": time.perf_counter() - t}}))
        """
    )


def stages(target: str, rows: int, count: int) -> list[tuple[str, str, float]]:
    """(stage, figure, peak RSS MB) for one log: ``target`` is a file path or a DSN."""
    out: list[tuple[str, str, float]] = []
    one = target + ("_one" if "://" in target else ".one.db")
    result, rss = finish(appends(one, count, 0))  # type: ignore[arg-type]
    out.append((f"append, 1 writer ({count:,} rows)", f"{count / result['seconds']:,.0f}/s", rss))

    eight = target + ("_eight" if "://" in target else ".eight.db")
    per = count // 4
    begin = time.perf_counter()
    writers = [appends(eight, per, k) for k in range(8)]
    done = [finish(w) for w in writers]  # type: ignore[arg-type]
    rate = 8 * per / (time.perf_counter() - begin)
    peak = max(r for _, r in done)
    out.append((f"append, 8 writers x {per:,} rows (wall clock)", f"{rate:,.0f}/s", peak))

    big = target + ("_big" if "://" in target else ".big.db")
    result, rss = finish(
        start(
            f"""
            import json, time
            {open_sink(big)}
            t = time.perf_counter()
            for first in range(0, {rows}, 10_000):
                sink.append_many([entry(i) for i in range(first, min(first + 10_000, {rows}))])
            print(json.dumps({{"seconds": time.perf_counter() - t}}))
            """
        )
    )
    out.append(
        (
            f"append_many, 10,000 a transaction ({rows:,} rows)",
            f"{rows / result['seconds']:,.0f}/s",
            rss,
        )
    )
    result, rss = finish(
        start(
            f"""
            import json, time
            from warrantd.auditlog import verify_audit
            t = time.perf_counter()
            r = verify_audit({big!r})
            assert r.ok and r.rows == {rows}, r.describe()
            print(json.dumps({{"seconds": time.perf_counter() - t}}))
            """
        )
    )
    figure = f"{rows / result['seconds']:,.0f}/s ({result['seconds']:.1f} s)"
    out.append((f"verify_audit ({rows:,} rows)", figure, rss))
    result, rss = finish(
        start(
            f"""
            import json, time
            from warrantd.analytics import load_audit
            t = time.perf_counter()
            frames = load_audit({big!r})
            assert len(frames.decisions) == {rows}
            print(json.dumps({{"seconds": time.perf_counter() - t}}))
            """
        )
    )
    out.append((f"load_audit, verified ({rows:,} rows)", f"{result['seconds']:.1f} s", rss))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the verified log")
    parser.add_argument("--appends", type=int, default=1000, help="durable appends, 1 writer")
    args = parser.parse_args()
    from tests.pg_server import Server, unavailable

    why = unavailable()
    if why is not None:
        print(f"audit log benchmark, PostgreSQL: skipped ({why})")
        return
    folder = Path(tempfile.mkdtemp(prefix="warrantd-bench-audit-pg-"))
    server = Server()
    try:
        import psycopg

        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            for name in ("bench_one", "bench_eight", "bench_big"):
                conn.execute(f"CREATE DATABASE {name}")
        lite = stages(str(folder / "bench"), args.rows, args.appends)
        pg = stages(server.dsn("bench"), args.rows, args.appends)
    finally:
        server.close()
        shutil.rmtree(folder)
    load = os.getloadavg()[0]
    print(
        f"audit log benchmark, SQLite beside PostgreSQL (load average {load:.2f}, "
        f"{os.cpu_count()} CPUs; peak RSS of the client process)"
    )
    width = max(len(name) for name, _, _ in lite)
    print(f"  {'':<{width}}  {'SQLite':>24}  {'PostgreSQL':>24}")
    for (name, a, ra), (_, b, rb) in zip(lite, pg, strict=True):
        print(f"  {name:<{width}}  {a + f' {ra:4.0f} MB':>24}  {b + f' {rb:4.0f} MB':>24}")


if __name__ == "__main__":
    main()
