"""Benchmark: replay and sweeps against the plain per-row GraduationEngine loop.

Run: python benchmarks/bench_replay_sweep.py   (or `make bench`)

On a generated history of ~1 M cases over 50 action classes it prints, side by
side: the plain loop (a slice timed and extrapolated), replay, a sweep over
1,000 candidates, and a sweep over 100,000 candidates (five knobs x ten values,
on 5 of the actions), each with its first-call time, its best of three and its peak traced
memory.
Targets (issue 4, 2-core machine): replay >= 20x the loop; 1,000 candidates
< 1 s; 100,000 candidates < 5 s; memory O(rows + candidates).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

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
SUMMARY_LOOP_FIGURES = [
    "cases_while_manual",
    "normal_cases_while_supervised_or_above",
    "normal_failures_while_supervised_or_above",
    "adversarial_cases_while_supervised_or_above",
    "adversarial_failures_while_supervised_or_above",
    "normal_cases_while_autonomous",
    "normal_failures_while_autonomous",
    "adversarial_cases_while_autonomous",
    "adversarial_failures_while_autonomous",
    "demotions",
]


def measure(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, float, float]:
    """(first-call seconds, best-of-``repeats`` seconds, peak traced MiB).

    The first call in a process pays the OS page faults of fresh memory; the
    best of the repeats is the steady figure (the timeit convention). Memory is
    traced on a separate run so tracing does not slow the timed ones.
    """
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return times[0], min(times), peak


def fifty_classes() -> tuple[pd.DataFrame, TrustPolicy]:
    """The benchmarks' history (about 1 M cases over 50 classes) and its policy."""
    profiles = random_profiles(50, seed=1, cases_per_day=110)
    history = load_history(generate(0, profiles=profiles))
    thresholds = GraduationThresholds({S: 0.85, A: 0.95}, {S: 0.75, A: 0.9}, {S: 150, A: 600})
    policy = TrustPolicy(
        {p.name: ActionClass(p.name, RiskTier.REVERSIBLE_WRITE) for p in profiles}, thresholds
    )
    print(f"history: {len(history):,} cases, {history['action'].nunique()} actions")
    return history, policy


def main() -> None:
    history, policy = fifty_classes()

    # The plain per-row loop a user would write without the kit: walk the cases in
    # time order, keep the window's counts per action, and ask the engine for the
    # state in force before every case. Cumulative is the loop's cheapest case; a
    # trailing time window also has to expire old cases.
    engine = GraduationEngine(policy.thresholds)
    part = history.iloc[:100_000]

    def plain_loop(window: pd.Timedelta | None) -> float:
        # Plain Python values (ints, strs, bools) keep the loop as fast as it goes.
        columns = [part[c].tolist() for c in ("action", "adversarial", "n", "n_passed")]
        when_ns = part["timestamp"].astype("int64").tolist()
        span = None if window is None else window.value
        counts: dict[str, list[int]] = {}
        recent: dict[str, deque[tuple[int, int, int, int]]] = {}
        start = time.perf_counter()
        for when, action, adversarial, n, n_passed in zip(when_ns, *columns, strict=True):
            c = counts.setdefault(action, [0, 0, 0, 0])
            k = 2 if adversarial else 0
            if span is not None:
                queue = recent.setdefault(action, deque())
                while queue and queue[0][0] <= when - span:
                    _, old_k, old_n, old_passed = queue.popleft()
                    c[old_k] -= old_n
                    c[old_k + 1] -= old_passed
                queue.append((when, k, n, n_passed))
            metrics = EvalMetrics(
                c[1] / c[0] if c[0] else 0.0, c[3] / c[2] if c[2] else 0.0, c[0] + c[2]
            )
            engine.allowed_state(policy.action(action), metrics)
            c[k] += n
            c[k + 1] += n_passed
        return (time.perf_counter() - start) / len(part) * len(history)

    # The same loop made to produce what replay produces: the state in force for
    # every case (cases sharing a timestamp are graded together, before any of
    # them counts) and the exposure figures of Replay.summary. It is checked
    # against replay on the slice, so the two do the same job.
    def summary_loop() -> float:
        columns = [part[c].tolist() for c in ("action", "adversarial", "n", "n_passed")]
        when_ns = part["timestamp"].astype("int64").tolist()
        per_action: dict[str, dict[str, Any]] = {}
        start = time.perf_counter()
        for when, action, adversarial, n, n_passed in zip(when_ns, *columns, strict=True):
            a = per_action.get(action)
            if a is None:
                a = per_action[action] = dict.fromkeys(SUMMARY_LOOP_FIGURES, 0)
                a.update(counts=[0, 0, 0, 0], last=None, state=AutonomyState.MANUAL)
                a["cls"] = policy.action(action)
            if when != a["last"]:
                c = a["counts"]
                metrics = EvalMetrics(
                    c[1] / c[0] if c[0] else 0.0, c[3] / c[2] if c[2] else 0.0, c[0] + c[2]
                )
                state = engine.allowed_state(a["cls"], metrics)
                a["demotions"] += max(a["state"] - state, 0)
                a["state"], a["last"] = state, when
            kind = "adversarial" if adversarial else "normal"
            if a["state"] == AutonomyState.MANUAL:
                a["cases_while_manual"] += n
            else:
                a[f"{kind}_cases_while_supervised_or_above"] += n
                a[f"{kind}_failures_while_supervised_or_above"] += n - n_passed
                if a["state"] == AutonomyState.AUTONOMOUS:
                    a[f"{kind}_cases_while_autonomous"] += n
                    a[f"{kind}_failures_while_autonomous"] += n - n_passed
            k = 2 if adversarial else 0
            a["counts"][k] += n
            a["counts"][k + 1] += n_passed
        elapsed = time.perf_counter() - start
        expected = replay(part, policy).summary.set_index("action")
        for action, a in per_action.items():
            for figure in SUMMARY_LOOP_FIGURES:
                # replay also counts the demotion graded at the very last timestamp
                if figure != "demotions":
                    assert a[figure] == expected.at[action, figure], (action, figure)
        return elapsed / len(part) * len(history)

    nan = float("nan")
    rows = []
    for label, window in (("cumulative", None), ("window 30D", pd.Timedelta("30D"))):
        loop_s = plain_loop(window)
        loop_label = f"plain GraduationEngine loop, {label} (extrapolated)"
        rows.append((loop_label, loop_s, loop_s, nan, "state per case only"))
        first, best, peak = measure(lambda w=window: replay(history, policy, window=w))
        note = f"{loop_s / best:,.1f}x the loop (target 20x)"
        if window is None:
            summary_s = summary_loop()
            label_s = "loop computing replay's exposure figures (extrapolated)"
            rows.append((label_s, summary_s, summary_s, nan, "checked against replay"))
            note += f"; {summary_s / best:,.1f}x the figures loop"
        rows.append((f"replay, {label}", first, best, peak, note))

    grid_1k = {
        "supervised.pass_rate": list(np.round(np.linspace(0.75, 0.93, 10), 3)),
        "supervised.adversarial_pass_rate": list(np.round(np.linspace(0.6, 0.85, 10), 3)),
        "supervised.min_samples": [int(x) for x in np.linspace(50, 500, 10)],
    }
    first, best, peak = measure(lambda: sweep(history, policy, grid_1k, progress=False))
    rows.append(("sweep, 1,000 candidates x 50 actions", first, best, peak, "target < 1 s"))

    five = list(policy.actions)[:5]
    small = history[history["action"].isin(five)]
    policy5 = TrustPolicy({a: policy.action(a) for a in five}, policy.thresholds)
    grid_100k = {
        "supervised.pass_rate": list(np.round(np.linspace(0.70, 0.92, 10), 3)),
        "supervised.adversarial_pass_rate": list(np.round(np.linspace(0.55, 0.85, 10), 3)),
        "supervised.min_samples": [int(x) for x in np.linspace(20, 400, 10)],
        "autonomous.pass_rate": list(np.round(np.linspace(0.93, 0.995, 10), 3)),
        "autonomous.min_samples": [int(x) for x in np.linspace(450, 2000, 10)],
    }
    first, best, peak = measure(lambda: sweep(small, policy5, grid_100k, progress=False))
    label = f"sweep, 100,000 candidates x 5 actions ({len(small):,} cases)"
    rows.append((label, first, best, peak, "target < 5 s"))

    print(f"\n{'stage':<60} {'first s':>8} {'best s':>8} {'peak MiB':>9}  note")
    for name, first_s, best_s, mib, note in rows:
        print(f"{name:<60} {first_s:8.3f} {best_s:8.3f} {mib:9.1f}  {note}")


if __name__ == "__main__":
    main()
