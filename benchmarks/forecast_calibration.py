"""How honest the forecast is: the backtest scores over several histories.

Not a timed benchmark: it prints, per history and pooled, the Brier skill of
P(within horizon) against the base-rate baseline, the graduated-class coverage of
the 10-90% band and the committed-date accuracy (``backtest_scores``), so a change
of the forecast model can be judged before and after on the same cuts and seeds.

    PYTHONPATH=. python benchmarks/forecast_calibration.py [--sims N] [--only runs|billing|aider]
        [--aider PATH_TO_CONVERTED_CSV] [--reliability-png PATH]

Histories:
* run-based synthetic (``generate(seed, mode="runs")``, seeds 0-5 unless
  ``--seeds``): cuts every 15
  days from day 45 to day 120, 60-day horizon, cumulative window and the 90-day
  window;
* billing-agent synthetic (``generate(seed)``, seeds 1-3): cuts at days 60 and 90,
  30-day window;
* the aider leaderboards (a real public history, converted by
  ``examples/convert_aider_leaderboard.py``; not shipped), cuts by ``backtest_plan``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pandas as pd

from warrantd import load_policy
from warrantd.analytics import load_history
from warrantd.analytics.forecast import backtest_scores, backtests
from warrantd.analytics.synth import generate


def _line(name: str, bt: pd.DataFrame) -> str:
    s = backtest_scores(bt)
    lo, hi = s.coverage_interval
    return (
        f"{name:<34} forecasts {s.forecasts:>3}  base {s.base_rate:5.2f}  "
        f"Brier {s.brier:.3f} vs {s.brier_baseline:.3f}  skill {s.brier_skill:+.2f}  "
        f"graduated {s.graduated:>2} (expected {s.expected_graduated:5.1f})  inside "
        f"{s.graduated_inside:>2} ({s.graduated_coverage:4.0%}, 95% {lo:.0%}-{hi:.0%}; "
        f"calibrated {s.expected_coverage:4.0%}; misses {s.graduated_early} early "
        f"{s.graduated_late} late)  plain band {s.unconditional_coverage:4.0%} (calibrated "
        f"{s.calibrated_coverage:4.0%})  committed right {s.committed_right}/{s.committed}"
    )


def _cuts(h: pd.DataFrame, days: range) -> list[pd.Timestamp]:
    start = h["timestamp"].min().floor("D")
    return [start + pd.Timedelta(days=d) for d in days]


def run_based(sims: int, window: Any, seeds: range) -> pd.DataFrame:
    policy = load_policy("datasets/coding-agent.policy.toml")
    frames = []
    for seed in seeds:
        h = load_history(generate(seed, mode="runs"))
        bt = backtests(
            h, policy, _cuts(h, range(45, 121, 15)), horizon="60D", n_sims=sims, window=window
        )
        print(_line(f"  runs seed {seed} window {window}", bt), flush=True)
        frames.append(bt.assign(history=f"runs seed {seed} window {window or 'cumulative'}"))
    return pd.concat(frames, ignore_index=True)


def billing(sims: int, seeds: range) -> pd.DataFrame:
    policy = load_policy("datasets/billing-agent.policy.toml")
    frames = []
    for seed in seeds:
        h = load_history(generate(seed))
        bt = backtests(
            h, policy, _cuts(h, range(60, 91, 30)), horizon="90D", n_sims=sims, window="30D"
        )
        print(_line(f"  billing seed {seed} window 30D", bt), flush=True)
        frames.append(bt.assign(history=f"billing seed {seed}"))
    return pd.concat(frames, ignore_index=True)


def aider(sims: int, path: str, policy_path: str) -> pd.DataFrame:
    policy = load_policy(policy_path)
    h = load_history(path)
    frames = []
    # Every 15 days from day 45 to the last that leaves a whole horizon (the
    # report's backtest_plan keeps at most 8 cuts; here the more the better).
    span = int((h["timestamp"].max() - h["timestamp"].min()) / pd.Timedelta("1D"))
    for window in ("cumulative", "90D"):
        bt = backtests(
            h,
            policy,
            _cuts(h, range(45, span - 60 + 1, 15)),
            horizon="60D",
            n_sims=sims,
            window=None if window == "cumulative" else window,
        )
        print(_line(f"  aider window {window}", bt), flush=True)
        frames.append(bt.assign(history=f"aider window {window}"))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--seeds", default="0-5", help="run-based seeds, FIRST-LAST")
    parser.add_argument("--billing-seeds", default="1-3", help="billing seeds, FIRST-LAST")
    parser.add_argument("--only", choices=["runs", "billing", "aider"], default=None)
    parser.add_argument("--aider", default=None)
    parser.add_argument("--aider-policy", default="examples/aider-leaderboard.policy.toml")
    parser.add_argument("--reliability-png", default=None)
    parser.add_argument(
        "--rows", default=None, help="write every backtest row (with its history) to this CSV"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    pooled = []
    if args.only in (None, "runs"):
        first, last = (int(x) for x in args.seeds.split("-"))
        for window in (None, "90D"):
            bt = run_based(args.sims, window, range(first, last + 1))
            print(_line(f"runs seeds {args.seeds} window {window or 'cumulative'}", bt), flush=True)
            pooled.append(bt)
    if args.only in (None, "billing"):
        first, last = (int(x) for x in args.billing_seeds.split("-"))
        bt = billing(args.sims, range(first, last + 1))
        print(_line(f"billing seeds {args.billing_seeds}", bt), flush=True)
        pooled.append(bt)
    if args.aider and args.only in (None, "aider"):
        bt = aider(args.sims, args.aider, args.aider_policy)
        print(_line("aider (real)", bt), flush=True)
        pooled.append(bt)
    everything = pd.concat(pooled, ignore_index=True)
    print(_line("all pooled", everything))
    if args.rows:
        everything.to_csv(args.rows, index=False)
    if args.reliability_png:
        from warrantd.analytics.charts import reliability_chart

        reliability_chart(backtest_scores(everything)).savefig(args.reliability_png)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
