"""Benchmark: load 1 M cases from Parquet and build a cumulative metrics timeline.

Run: python benchmarks/bench_history.py   (or `make bench`)
Target (issue 3): a few seconds on a 2-core machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from warrantd.analytics import load_history, metrics_timeline, save_history
from warrantd.analytics.synth import generate, random_profiles


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label:<48} {time.perf_counter() - start:8.2f} s")
    return result


def main() -> None:
    profiles = random_profiles(50, seed=1, cases_per_day=110)
    cases = timed("generate 1 M synthetic cases (setup)", generate, 0, profiles=profiles)
    print(f"{'':<48} {len(cases):,} rows, {cases['action'].nunique()} actions")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.parquet"
        timed("save_history -> parquet (setup)", save_history, cases, path)
        history = timed("load_history(parquet)", load_history, path)
        timeline = timed("metrics_timeline(window=None)", metrics_timeline, history)
        print(f"{'':<48} {len(timeline):,} (action, timestamp) rows")
        timed("metrics_timeline(window=500)", metrics_timeline, history, window=500)
        timed("metrics_timeline(window='30D')", metrics_timeline, history, window="30D")


if __name__ == "__main__":
    main()
