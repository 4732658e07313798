"""Benchmark: sweeping the evidence-rule knobs (``evidence``, ``alpha``, ``demotion_margin``).

Run: python benchmarks/bench_sweep_rules.py   (or `make bench`)

On the generated history of bench_replay_sweep.py (~1 M cases, 50 action classes) it
prints, side by side, each with its first-call time, its best of three and its peak
traced memory:

* a 1,000-candidate bars grid under each rule (point, wilson, anytime): one pass over
  the events each (the grid; the bounds' bins cost one vectorized rule call per
  distinct bar value on each rate axis);
* the same 1,000 bars under all three rules at two levels (6,000 candidates): one pass
  per rule setting, so about the sum of the single-rule rows;
* a margin (hysteresis) on 20 candidates, which are replayed one by one, and what that
  is per candidate;
* for comparison, what the sweep did before this layer for a non-point rule: 20 wilson
  candidates replayed one by one.

What it costs: a sweep over k rule settings is k inner passes (no pass is shared
between settings: a bound's bins depend on the rule and its level); under hysteresis a
candidate costs one vectorized replay.
"""

from __future__ import annotations

import importlib
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
    bars_20 = {
        "supervised.pass_rate": list(np.round(np.linspace(0.75, 0.93, 10), 3)),
        "supervised.min_samples": [50, 500],
    }
    cases: list[tuple[str, dict[str, Any], str]] = [
        (f"1,000 bars, {rule}", {**bars_1k, "evidence": [rule]}, "one pass")
        for rule in ("point", "wilson", "anytime")
    ]
    cases.append(
        (
            "1,000 bars x 3 rules x 2 alphas (6,000)",
            {**bars_1k, "evidence": ["point", "wilson", "anytime"], "alpha": [0.05, 0.01]},
            "one pass per rule setting (6)",
        )
    )
    cases.append(
        (
            "20 bars, point, demotion_margin 0.02",
            {**bars_20, "demotion_margin": [0.02]},
            "one by one (hysteresis)",
        )
    )
    cases.append(
        (
            "20 bars, anytime, demotion_margin 0.02",
            {**bars_20, "evidence": ["anytime"], "demotion_margin": [0.02]},
            "one by one (hysteresis)",
        )
    )
    rows = []
    for label, grid, note in cases:
        first, best, peak = measure(lambda g=grid: sweep(history, policy, g, progress=False))
        rows.append((label, first, best, peak, note))

    # Before this layer a non-point rule replayed every candidate: time that path alone.
    module = importlib.import_module("warrantd.analytics.sweep")
    one_by_one = module._evaluate_one_by_one
    original = module._grid_is_compact
    module._grid_is_compact = lambda candidates: False  # force the per-candidate path
    try:
        grid = {**bars_20, "evidence": ["wilson"]}
        first, best, peak = measure(lambda: sweep(history, policy, grid, progress=False))
    finally:
        module._grid_is_compact = original
    assert module._evaluate_one_by_one is one_by_one
    rows.append(("20 bars, wilson, forced one by one (the old path)", first, best, peak, ""))

    print(f"\n{'sweep':<52} {'first s':>8} {'best s':>8} {'peak MiB':>9}  note")
    for name, first_s, best_s, mib, note in rows:
        print(f"{name:<52} {first_s:>8.2f} {best_s:>8.2f} {mib:>9.0f}  {note}")
    per_candidate = rows[-1][2] / 20
    print(
        f"\nwilson one by one: {per_candidate:.3f} s per candidate, so 1,000 candidates "
        f"~{per_candidate * 1000:,.0f} s against {rows[1][2]:.2f} s on the grid"
    )


if __name__ == "__main__":
    main()
