"""Benchmark: sweeping the evidence-rule knobs (``evidence``, ``alpha``, ``demotion_margin``).

Run: python benchmarks/bench_sweep_rules.py   (or `make bench`)

On the generated history of bench_replay_sweep.py (~1 M cases, 50 action classes) it
prints, side by side, each with its first-call time, its best of three and its peak
traced memory:

* a 1,000-candidate bars grid under the published rule (point, margin 0): one pass over
  the events (the grid);
* 100 bars under wilson and under anytime: these rules promote on a bound but demote on
  the point estimate, so a state depends on the state before it and each candidate is
  replayed over the events (vectorized, O(events) each), with each bound computed once
  per (rate, bar value) for the whole group, not once per candidate;
* a margin (hysteresis) on 20 candidates, under point and under anytime, replayed the
  same way;
* the same 100 bars under all three rules at two levels (600 candidates): one inner
  loop per rule setting.

What it costs: a bound-rule or margin candidate is one vectorized replay; the printout
ends with that cost per candidate and what 1,000 would take.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Run as a script from benchmarks/: the same history, policy and timing as the replay bench.
from bench_replay_sweep import fifty_classes, measure

from warrantd import AutonomyState
from warrantd.analytics.sweep import sweep

S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS


def main() -> None:
    history, policy = fifty_classes()
    bars_1k = {
        "supervised.pass_rate": list(np.round(np.linspace(0.75, 0.93, 10), 3)),
        "supervised.adversarial_pass_rate": list(np.round(np.linspace(0.6, 0.85, 10), 3)),
        "supervised.min_samples": [int(x) for x in np.linspace(50, 500, 10)],
    }
    bars_100 = {
        "supervised.pass_rate": list(np.round(np.linspace(0.75, 0.93, 10), 3)),
        "supervised.min_samples": [int(x) for x in np.linspace(50, 500, 10)],
    }
    bars_20 = {
        "supervised.pass_rate": list(np.round(np.linspace(0.75, 0.93, 10), 3)),
        "supervised.min_samples": [50, 500],
    }
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("1,000 bars, point", {**bars_1k, "evidence": ["point"]}, "one pass (the grid)"),
        ("100 bars, wilson", {**bars_100, "evidence": ["wilson"]}, "one by one"),
        ("100 bars, anytime", {**bars_100, "evidence": ["anytime"]}, "one by one"),
        (
            "20 bars, point, demotion_margin 0.02",
            {**bars_20, "demotion_margin": [0.02]},
            "one by one",
        ),
        (
            "20 bars, anytime, demotion_margin 0.02",
            {**bars_20, "evidence": ["anytime"], "demotion_margin": [0.02]},
            "one by one",
        ),
        (
            "100 bars x 3 rules x 2 alphas (600)",
            {**bars_100, "evidence": ["point", "wilson", "anytime"], "alpha": [0.05, 0.01]},
            "one loop per rule setting (6)",
        ),
    ]
    rows = []
    for label, grid, note in cases:
        first, best, peak = measure(lambda g=grid: sweep(history, policy, g, progress=False))
        rows.append((label, first, best, peak, note))

    print(f"\n{'sweep':<52} {'first s':>8} {'best s':>8} {'peak MiB':>9}  note")
    for name, first_s, best_s, mib, note in rows:
        print(f"{name:<52} {first_s:>8.2f} {best_s:>8.2f} {mib:>9.0f}  {note}")
    for name, _, best_s, _, _ in rows[1:3]:
        each = best_s / 100
        print(f"{name}: {each:.3f} s per candidate, so 1,000 candidates ~{each * 1000:,.0f} s")


if __name__ == "__main__":
    main()
