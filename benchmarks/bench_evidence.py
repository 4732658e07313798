"""Simulation: how often does each evidence rule promote a class that has not earned it?

Streams cases for classes whose true pass rate sits just below the bar (bar - 0.02,
bar - 0.01), exactly on it, and above it (bar + 0.02); the gate checks after every case
for 10,000 cases, with ``min_samples`` 200. For each rule: the share of runs ever
promoted (below the bar that is the error the rule lets through; ``anytime`` promises
at most alpha) and the median cases to promotion (above the bar: the price).
A second table measures the anytime prior's spread (the choice of
``warrantd.graduation.ANYTIME_PRIOR_SD``) at three bars.

Run: python benchmarks/bench_evidence.py   (or `make bench`); about a minute on 2 cores.
"""

from __future__ import annotations

import time

import pandas as pd

from warrantd.analytics.guarantee import guarantee_table
from warrantd.graduation import ANYTIME_PRIOR_SD

RUNS = 2000


def markdown(frame: pd.DataFrame) -> str:
    wide = frame.pivot(index="rule", columns="true_rate", values=["promoted", "median_cases"])
    rules = list(dict.fromkeys(frame["rule"]))
    rates = sorted(frame["true_rate"].unique())
    bar = frame.attrs["bar"]
    head = ["rule"] + [
        (f"promoted, true {r:g}" if r <= bar else f"median cases, true {r:g}") for r in rates
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in rules:
        cells = [rule]
        for r in rates:
            if r <= bar:
                cells.append(f"{wide.loc[rule, ('promoted', r)]:.1%}")
            else:
                median = wide.loc[rule, ("median_cases", r)]
                cells.append("never" if pd.isna(median) else f"{median:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    start = time.perf_counter()
    table = guarantee_table(bar=0.95, runs=RUNS, seed=1)
    print(
        f"bar 0.95, alpha 0.05, min_samples 200, checked after every case for 10,000 cases, "
        f"{RUNS:,} runs per row:\n"
    )
    print(markdown(table))
    print(f"\n({time.perf_counter() - start:.1f} s)\n")
    start = time.perf_counter()
    print(f"anytime prior spread (the rule uses sd {ANYTIME_PRIOR_SD}): median cases to promotion")
    rows = []
    for bar, gap in ((0.8, 0.02), (0.95, 0.02), (0.99, 0.01)):
        t = guarantee_table(
            bar=bar,
            offsets=(gap,),
            rules=(),
            runs=RUNS // 4,
            seed=2,
            prior_sds=(0.01, 0.02, 0.03, 0.05, 0.1),
        )
        rows.append(t.assign(bar=bar))
    prior = pd.concat(rows).pivot(index="rule", columns="bar", values="median_cases")
    print(prior.rename(columns=lambda b: f"bar {b:g} (+{0.01 if b == 0.99 else 0.02:g})"))
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
