"""Benchmark: the engine at scale, side by side, each stage with its peak memory.

Run: python benchmarks/bench_engine.py [--cases 1000000] [--big 10000000]   (or `make bench`)

Generates (and times) a history of ``--cases`` cases over 50 action classes,
stored as Parquet, then measures in fresh processes, so each peak resident set
size (RSS, the whole process: interpreter, libraries and data) belongs to one
run:

* ``load + replay + sweep``: load_history, replay, a 1,000-candidate sweep, with
  the process's peak RSS (target: 500 MB at 1 M cases, 3 GB at 10 M);
* replay against the plain per-case loop over ``GraduationEngine`` that computes
  the same figures (timed on a slice and scaled; target: replay 20x faster), with a
  cumulative window and with a 30-day one (against the same cumulative loop);
* a sweep of 1,000 candidates over 50 classes (target 0.3 s) and of 100,000
  candidates over 5 classes (target 1 s);
* the CLI's peak RSS for ``warrantd replay`` and ``warrantd sweep``;
* replay and the 1,000-candidate sweep with 1 M requests of traffic (values
  around the caps) beside the same runs with the eval cases standing in, and the
  peak RSS of load + replay + sweep with the traffic.

Times are the best of three runs in one process after a first call (the first
call pays for fresh memory); the machine's load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
CLASSES = 50
THRESHOLDS = "GraduationThresholds({S: 0.85, A: 0.95}, {S: 0.75, A: 0.9}, {S: 150, A: 600})"


def generate(path: Path, cases: int, seed: int = 0) -> float:
    """A history of ``cases`` cases over 50 classes learning along curves, in chunks of
    at most two million rows (memory stays flat whatever the size); seconds taken."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    names = [f"action_{i:03d}" for i in range(CLASSES)]
    share = rng.dirichlet(np.full(CLASSES, 2.0))
    start_p, final_p = rng.uniform(0.55, 0.8, CLASSES), rng.uniform(0.85, 0.995, CLASSES)
    tau = rng.uniform(20, 120, CLASSES)
    origin = pd.Timestamp("2026-01-05", tz="UTC").value
    span = 180 * 86_400 * 10**9
    # Cases sorted by time across chunks: each chunk covers its own slice of the span.
    chunk = 2_000_000
    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("ns", tz="UTC")),
            ("action", pa.dictionary(pa.int16(), pa.string())),
            ("adversarial", pa.bool_()),
            ("passed", pa.bool_()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, cases, chunk):
            size = min(chunk, cases - first)
            lo, hi = span * first // cases, span * (first + size) // cases
            # Whole seconds: many cases share a timestamp, as eval runs do.
            when = np.sort(rng.integers(lo, max(hi, lo + 1), size) // 10**9 * 10**9)
            code = rng.choice(CLASSES, size=size, p=share).astype(np.int16)
            day = when / 86_400e9
            p = final_p[code] - (final_p[code] - start_p[code]) * np.exp(-day / tau[code])
            adversarial = rng.random(size) < 0.2
            passed = rng.random(size) < np.where(adversarial, p - 0.05, p)
            table = pa.table(
                {
                    "timestamp": pa.array(origin + when, pa.timestamp("ns", tz="UTC")),
                    "action": pa.DictionaryArray.from_arrays(
                        pa.array(code, pa.int16()), pa.array(names)
                    ),
                    "adversarial": adversarial,
                    "passed": passed,
                },
                schema=schema,
            )
            writer.write_table(table)
    return time.perf_counter() - start


def child(code: str) -> tuple[dict[str, float], float]:
    """Run ``code`` in a fresh interpreter; its printed JSON and its peak RSS in MB."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    out = process.stdout.read() if process.stdout else ""
    if status:
        raise SystemExit(f"benchmark child failed ({status}):\n{code}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


PRELUDE = f"""
import json, time
import numpy as np
from warrantd import ActionClass, AutonomyState, GraduationThresholds, RiskTier, TrustPolicy
from warrantd.analytics import load_history, replay, sweep
S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
THRESHOLDS = {THRESHOLDS}
def policy_of(names):
    return TrustPolicy({{n: ActionClass(n, RiskTier.REVERSIBLE_WRITE) for n in names}}, THRESHOLDS)
def best(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times)
# 1,000 candidates over one window (the sweep pays one pass over the events per window).
GRID_1000 = {{
    "supervised.pass_rate": [0.7, 0.75, 0.8, 0.825, 0.85, 0.875, 0.9, 0.925, 0.95, 0.975],
    "supervised.min_samples": [25, 50, 75, 100, 150, 200, 250, 300, 400, 500],
    "autonomous.pass_rate": [0.95, 0.955, 0.96, 0.965, 0.97, 0.975, 0.98, 0.985, 0.99, 1.0],
}}
# The same with five windows: five passes.
GRID_5000 = {{**GRID_1000, "window": [None, "30D", 500, "60D", 2000]}}
"""


def pipeline(path: Path) -> tuple[dict[str, float], float]:
    """load + replay + sweep(1,000) once, in a fresh process: times and peak RSS."""
    return child(
        PRELUDE
        + f"""
start = time.perf_counter()
history = load_history({str(path)!r})
loaded = time.perf_counter() - start
policy = policy_of(sorted(history["action"].unique()))
start = time.perf_counter()
r = replay(history, policy)
replayed = time.perf_counter() - start
start = time.perf_counter()
s = sweep(history, policy, GRID_1000, progress=False)
swept = time.perf_counter() - start
print(json.dumps({{"cases": int(history["n"].sum()), "load": loaded, "replay": replayed,
                  "sweep": swept, "candidates": s.n_candidates}}))
"""
    )


def speeds(path: Path) -> dict[str, float]:
    """Best-of-three replay and sweeps, and the plain loop on a slice, scaled."""
    result, _ = child(
        PRELUDE
        + f"""
from collections import deque
from warrantd import EvalMetrics, GraduationEngine
history = load_history({str(path)!r})
policy = policy_of(sorted(history["action"].unique()))
out = {{"cases": int(history["n"].sum())}}
out["replay"] = best(lambda: replay(history, policy))
out["replay_30D"] = best(lambda: replay(history, policy, window="30D"))
out["sweep_1000"] = best(lambda: sweep(history, policy, GRID_1000, progress=False))
out["sweep_5000"] = best(lambda: sweep(history, policy, GRID_5000, progress=False), repeats=1)
five = sorted(history["action"].unique())[:5]
small = history[history["action"].isin(five)].reset_index(drop=True)
grid = {{
    "supervised.pass_rate": list(np.round(np.linspace(0.7, 0.95, 10), 3)),
    "supervised.adversarial_pass_rate": list(np.round(np.linspace(0.6, 0.85, 10), 3)),
    "supervised.min_samples": list(range(50, 550, 50)),
    "autonomous.pass_rate": list(np.round(np.linspace(0.95, 1.0, 10), 3)),
    "autonomous.min_samples": list(range(600, 1600, 100)),
}}
policy5 = policy_of(five)
out["sweep_100000"] = best(lambda: sweep(small, policy5, grid, progress=False), repeats=2)
out["sweep_100000_cases"] = int(small["n"].sum())
# The plain loop a user would write without the kit, producing what replay produces:
# the state in force before every case (cases sharing a timestamp graded together),
# the burden and failures by state, first graduations and demotions.
engine = GraduationEngine(THRESHOLDS)
part = history.iloc[:100_000]
columns = [part[c].astype(object).tolist() for c in ("action", "adversarial", "n", "n_passed")]
when_ns = part["timestamp"].astype("int64").tolist()
def loop():
    counts, figures, state, pending = {{}}, {{}}, {{}}, {{}}
    last_time = {{}}
    for when, action, adversarial, n, n_passed in zip(when_ns, *columns):
        c = counts.setdefault(action, [0, 0, 0, 0])
        if last_time.get(action) != when:  # a new moment: what was pending counts now
            for k, v in pending.pop(action, {{}}).items():
                c[k] += v
            last_time[action] = when
            metrics = EvalMetrics(
                c[1] / c[0] if c[0] else 0.0, c[3] / c[2] if c[2] else 0.0, c[0] + c[2]
            )
            new = engine.allowed_state(policy.action(action), metrics)
            old = state.get(action, AutonomyState.MANUAL)
            f = figures.setdefault(action, {{"burden": 0, "failures": 0, "first": None,
                                            "demotions": 0}})
            if new < old:
                f["demotions"] += int(old) - int(new)
            if new > AutonomyState.MANUAL and f["first"] is None:
                f["first"] = when
            state[action] = new
        f = figures[action]
        k = 2 if adversarial else 0
        if state[action] is AutonomyState.MANUAL:
            f["burden"] += n
        else:
            f["failures"] += n - n_passed
        p = pending.setdefault(action, {{}})
        p[k] = p.get(k, 0) + n
        p[k + 1] = p.get(k + 1, 0) + n_passed
loop_time = best(loop, repeats=2)
out["loop"] = loop_time / len(part) * len(history)
print(json.dumps(out))
"""
    )
    return result


TRAFFIC = """
from warrantd.analytics import load_traffic
from decimal import Decimal
import pandas as pd
def capped_policy(names):
    return TrustPolicy(
        {n: ActionClass(n, RiskTier.REVERSIBLE_WRITE, Decimal(100), Decimal(1000)) for n in names},
        THRESHOLDS,
    )
def make_traffic(history, n, seed=0):
    rng = np.random.default_rng(seed)
    names = sorted(history["action"].unique())
    lo, hi = history["timestamp"].min().value, history["timestamp"].max().value
    when = np.sort(rng.integers(lo, hi, n))
    values = np.round(rng.lognormal(np.log(60.0), 1.1, n), 2)
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(when, utc=True),
        "action": pd.Categorical.from_codes(rng.integers(0, len(names), n), categories=names),
        "value": np.where(rng.random(n) < 0.1, np.nan, values),
    })
    return load_traffic(frame)
"""


def traffic_speeds(path: Path, requests: int) -> tuple[dict[str, float], float]:
    """Replay and sweep with traffic beside the stand-in runs; load + replay + sweep RSS."""
    return child(
        PRELUDE
        + TRAFFIC
        + f"""
history = load_history({str(path)!r})
policy = capped_policy(sorted(history["action"].unique()))
start = time.perf_counter()
traffic = make_traffic(history, {requests})
made = time.perf_counter() - start
out = {{"made": made}}
out["replay_stand_in"] = best(lambda: replay(history, policy), repeats=2)
out["replay_traffic"] = best(lambda: replay(history, policy, traffic=traffic), repeats=2)
out["sweep_stand_in"] = best(lambda: sweep(history, policy, GRID_1000, progress=False), repeats=2)
out["sweep_traffic"] = best(
    lambda: sweep(history, policy, GRID_1000, traffic=traffic, progress=False), repeats=2
)
r = replay(history, policy, traffic=traffic)
out["approval_burden"] = float(r.totals()["approval_burden"])
print(json.dumps(out))
"""
    )


def cli_peak(args: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one ``warrantd`` run."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "warrantd"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(f"warrantd {' '.join(args)} failed ({status})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000, help="0 to skip")
    parser.add_argument("--requests", type=int, default=1_000_000)
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.parquet"
        took = generate(path, options.cases)
        print(f"generated {options.cases:,} cases over {CLASSES} classes in {took:.1f} s")
        fast = speeds(path)
        print()
        print(f"{'stage':<58} {'seconds':>9} {'target':>10}")
        print(
            f"{'plain loop over GraduationEngine, same figures (scaled)':<58} {fast['loop']:>9.2f}"
        )
        print(f"{'replay, cumulative':<58} {fast['replay']:>9.2f} {fast['loop'] / 20:>9.2f}s")
        print(f"{'  = loop / replay':<58} {fast['loop'] / fast['replay']:>8.1f}x {'>= 20x':>10}")
        print(
            f"{'replay, 30-day window (evidence expiring on the clock)':<58} "
            f"{fast['replay_30D']:>9.2f} {fast['loop'] / 20:>9.2f}s"
        )
        # The loop is the cumulative one: a loop expiring evidence on the clock does more
        # per case, so this ratio understates the 30-day replay's lead over its own loop.
        print(
            f"{'  = loop / replay, 30-day window':<58} "
            f"{fast['loop'] / fast['replay_30D']:>8.1f}x {'>= 20x':>10}"
        )
        print(
            f"{'sweep, 1,000 candidates x 50 classes':<58} {fast['sweep_1000']:>9.2f} {'0.30s':>10}"
        )
        print(
            f"{'sweep, 5,000 candidates (1,000 x 5 windows) x 50 classes':<58} "
            f"{fast['sweep_5000']:>9.2f}"
        )
        label = f"sweep, 100,000 candidates x 5 classes ({fast['sweep_100000_cases']:,} cases)"
        print(f"{label:<58} {fast['sweep_100000']:>9.2f} {'1.00s':>10}")
        times, peak = pipeline(path)
        print()
        print(
            f"{'load + replay + sweep(1,000) in one process':<58} "
            f"{times['load'] + times['replay'] + times['sweep']:>9.2f}   "
            f"peak RSS {peak:,.0f} MB (target 500)"
        )
        for command in (
            ["replay", "-p", "{policy}", "-H", str(path), "-q"],
            ["sweep", "-p", "{policy}", "-H", str(path), "-g", "{grid}", "-q"],
        ):
            policy = Path(tmp) / "policy.toml"
            grid = Path(tmp) / "grid.toml"
            _write_inputs(policy, grid)
            args = [a.format(policy=policy, grid=grid) for a in command]
            seconds, mb = cli_peak(args)
            print(f"{'CLI warrantd ' + command[0]:<58} {seconds:>9.2f}   peak RSS {mb:,.0f} MB")
        flows, peak = traffic_speeds(path, options.requests)
        print()
        print(f"with {options.requests:,} requests of traffic (made in {flows['made']:.1f} s)")
        for stage, stand_in, traffic in (
            ("replay", flows["replay_stand_in"], flows["replay_traffic"]),
            ("sweep, 1,000 candidates", flows["sweep_stand_in"], flows["sweep_traffic"]),
        ):
            print(
                f"{'  ' + stage + ': eval cases standing in / traffic':<58} "
                f"{stand_in:>9.2f} / {traffic:.2f}"
            )
        print(f"{'  peak RSS of the traffic process (all of the above)':<58} {peak:>9,.0f} MB")
        if options.big:
            big = Path(tmp) / "big.parquet"
            took = generate(big, options.big, seed=1)
            print()
            print(f"generated {options.big:,} cases in {took:.1f} s")
            times, peak = pipeline(big)
            print(
                f"{'load + replay + sweep(1,000), ' + f'{options.big:,} cases':<58} "
                f"{times['load'] + times['replay'] + times['sweep']:>9.2f}   "
                f"peak RSS {peak:,.0f} MB (target 3,000)"
            )
            print(
                f"{'  of which load / replay / sweep':<58} {times['load']:.1f} / "
                f"{times['replay']:.1f} / {times['sweep']:.1f}"
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def _write_inputs(policy: Path, grid: Path) -> None:
    lines = [
        "[thresholds.supervised]",
        "pass_rate = 0.85",
        "adversarial_pass_rate = 0.75",
        "min_samples = 150",
        "[thresholds.autonomous]",
        "pass_rate = 0.95",
        "adversarial_pass_rate = 0.9",
        "min_samples = 600",
    ]
    for i in range(CLASSES):
        lines += [f"[actions.action_{i:03d}]", 'risk = "reversible_write"']
    policy.write_text("\n".join(lines) + "\n")
    grid.write_text(
        '"supervised.pass_rate" = [0.7, 0.75, 0.8, 0.825, 0.85, 0.875, 0.9, 0.925, 0.95, 0.975]\n'
        '"supervised.min_samples" = [25, 50, 75, 100, 150, 200, 250, 300, 400, 500]\n'
        '"autonomous.pass_rate" = [0.95, 0.955, 0.96, 0.965, 0.97, 0.975, 0.98, 0.985, 0.99, 1.0]\n'
    )


if __name__ == "__main__":
    main()
