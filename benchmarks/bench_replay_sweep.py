"""Benchmark: replay and sweeps against the plain per-row GraduationEngine loop.

Run: python benchmarks/bench_replay_sweep.py   (or `make bench`)

On a generated history of ~1 M cases over 50 action classes it prints, side by
side: the plain loop (a slice timed and extrapolated), replay, a sweep over
1,000 candidates, and a sweep over 100,000 candidates (five knobs x ten values,
on 5 of the actions), each with its peak traced memory.
Targets (issue 4, 2-core machine): replay >= 20x the loop; 1,000 candidates
< 1 s; 100,000 candidates < 5 s; memory O(rows + candidates).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from warrantd import (
    ActionClass,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    GraduationThresholds,
    RiskTier,
    TrustPolicy,
)
from warrantd.analytics import load_history
from warrantd.analytics.replay import replay
from warrantd.analytics.sweep import sweep
from warrantd.analytics.synth import generate, random_profiles

S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak traced MiB, result); time and memory from separate runs."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    del result
    gc.collect()
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, result


def main() -> None:
    profiles = random_profiles(50, seed=1, cases_per_day=110)
    history = load_history(generate(0, profiles=profiles))
    thresholds = GraduationThresholds({S: 0.85, A: 0.95}, {S: 0.75, A: 0.9}, {S: 150, A: 600})
    policy = TrustPolicy(
        {p.name: ActionClass(p.name, RiskTier.REVERSIBLE_WRITE) for p in profiles}, thresholds
    )
    print(f"history: {len(history):,} cases, {history['action'].nunique()} actions")

    # The plain per-row loop a user would write without the kit: walk the cases in
    # time order, keep running counts per action, and ask the engine for the state in
    # force before every case (cumulative window, the cheapest case for the loop).
    engine = GraduationEngine(thresholds)
    slice_size = 100_000
    part = history.iloc[:slice_size]

    def plain_loop() -> None:
        counts: dict[str, list[int]] = {}
        for action, adversarial, n, n_passed in zip(
            part["action"], part["adversarial"], part["n"], part["n_passed"], strict=True
        ):
            c = counts.setdefault(action, [0, 0, 0, 0])
            metrics = EvalMetrics(
                c[1] / c[0] if c[0] else 0.0, c[3] / c[2] if c[2] else 0.0, c[0] + c[2]
            )
            engine.allowed_state(policy.action(action), metrics)
            k = 2 if adversarial else 0
            c[k] += n
            c[k + 1] += n_passed

    start = time.perf_counter()
    plain_loop()
    loop_s = (time.perf_counter() - start) / slice_size * len(history)

    rows = [("plain GraduationEngine loop (extrapolated)", loop_s, float("nan"), "")]
    seconds, peak, r = measure(lambda: replay(history, policy))
    rows.append(("replay", seconds, peak, f"{loop_s / seconds:,.1f}x the loop"))

    rng = np.random.default_rng(0)
    grid_1k = {
        "supervised.pass_rate": list(np.round(np.linspace(0.75, 0.93, 10), 3)),
        "supervised.adversarial_pass_rate": list(np.round(np.linspace(0.6, 0.85, 10), 3)),
        "supervised.min_samples": [int(x) for x in np.linspace(50, 500, 10)],
    }
    seconds, peak, res = measure(lambda: sweep(history, policy, grid_1k, progress=False))
    rows.append(("sweep, 1,000 candidates x 50 actions", seconds, peak, ""))

    five = [p.name for p in profiles[:5]]
    small = history[history["action"].isin(five)]
    policy5 = TrustPolicy({a: policy.action(a) for a in five}, thresholds)
    grid_100k = {
        "supervised.pass_rate": list(np.round(np.linspace(0.70, 0.92, 10), 3)),
        "supervised.adversarial_pass_rate": list(np.round(np.linspace(0.55, 0.85, 10), 3)),
        "supervised.min_samples": [int(x) for x in np.linspace(20, 400, 10)],
        "autonomous.pass_rate": list(np.round(np.linspace(0.93, 0.995, 10), 3)),
        "autonomous.min_samples": [int(x) for x in np.linspace(450, 2000, 10)],
    }
    seconds, peak, res = measure(lambda: sweep(small, policy5, grid_100k, progress=False))
    label = f"sweep, 100,000 candidates x 5 actions ({len(small):,} cases)"
    rows.append((label, seconds, peak, ""))
    del rng, r, res

    print(f"\n{'stage':<58} {'seconds':>9} {'peak MiB':>9}  note")
    for name, sec, mib, note in rows:
        print(f"{name:<58} {sec:9.3f} {mib:9.1f}  {note}")


if __name__ == "__main__":
    main()
