"""Tuner redraw latency on the bundled billing-agent data (target: under 0.5 s).

A redraw is what one move of a control costs in the kernel: replay under the new
settings, the figures table, the diff and the chart's moving mark. Timed through the
widget (setting a control's value, the text it shows, runs the handler a browser's message runs).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import warrantd.analytics as wa
from warrantd import load_policy

DATA = Path(__file__).resolve().parents[1] / "datasets"


def main() -> None:
    history = wa.load_history(DATA / "billing-agent.csv")
    traffic = wa.load_traffic(DATA / "billing-agent.traffic.csv")
    policy = load_policy(DATA / "billing-agent.policy.toml")
    grid = wa.load_grid(DATA / "billing-agent.grid.toml")
    start = time.perf_counter()
    tuner = wa.tune(history, policy, traffic=traffic, grid=grid, window="30D")
    print(f"tune(): build (sweep of {tuner.state.sweep.n_candidates} candidates, chart) "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    control = tuner.controls["supervised.pass_rate"]
    times = []
    for value in ["0.86", "0.87", "0.88", "0.9", "0.825", "0.8", "0.85"] * 3:
        start = time.perf_counter()
        control.value = value
        times.append(time.perf_counter() - start)
    window = tuner.controls["window"]
    for value in ["cumulative", "60D", "500 cases", "30D"]:
        start = time.perf_counter()
        window.value = value
        times.append(time.perf_counter() - start)
    print(
        f"redraw after a move: median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s over {len(times)} moves (target < 0.5 s)"
    )


if __name__ == "__main__":
    main()
