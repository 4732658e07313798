"""What an evidence rule promises, measured: simulated classes checked after every case.

A gate that grades a class after every case looks many times, and under the ``point``
rule (or a fixed-sample bound such as ``wilson``) luck accumulates: a class whose true
pass rate sits just below its bar is eventually promoted in a large share of runs. The
``anytime`` rule promises that share is at most ``alpha``. This module measures it, with
the rule itself (:func:`warrantd.graduation.evidence_met`), never a copy:

* :func:`min_passes`: for every number of cases ``n`` up to a horizon, the fewest passes
  that meet the bar under a rule. Each rule is monotone in the passes (one more pass
  never turns a met bar into a missed one), so one binary search per ``n`` over the
  scalar rule gives the whole table.
* :func:`first_promotions`: streams of Bernoulli cases with a true pass rate, checked
  after every case against the table (and ``min_samples``); the case at which each run
  was first promoted.
* :func:`guarantee_table`: the table the README and ``benchmarks/bench_evidence.py``
  show: per rule and true rate, the share ever promoted and the median cases to
  promotion.

One stream, one rate bar: the adversarial bar works the same way on its own counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..graduation import ANYTIME_PRIOR_SD, anytime_met, evidence_met

__all__ = ["first_promotions", "guarantee_table", "min_passes"]


def _met(rule: str, passed: int, n: int, bar: float, alpha: float, sd: float) -> bool:
    if rule == "anytime":
        return anytime_met(passed, n, bar, alpha, sd)
    rate = passed / n if n else 0.0
    return bool(evidence_met(rule, passed, n, rate, bar, alpha))


def min_passes(
    rule: str,
    bar: float,
    alpha: float,
    horizon: int,
    *,
    sd: float = ANYTIME_PRIOR_SD,
) -> np.ndarray:
    """``out[n]``: the fewest passes of ``n`` cases meeting ``bar`` under ``rule`` at level
    ``alpha`` (``n + 1`` when even ``n`` passes do not), for ``n`` in ``0..horizon``.
    ``sd``: the anytime prior's standard deviation (the rule's by default)."""
    out = np.empty(horizon + 1, dtype=np.int64)
    for n in range(horizon + 1):  # one binary search per n over the scalar rule
        low, high = 0, n + 1  # the answer lies in [low, high]
        while low < high:
            mid = (low + high) // 2
            if _met(rule, mid, n, bar, alpha, sd):
                high = mid
            else:
                low = mid + 1
        out[n] = low
    return out


def first_promotions(
    true_rate: float,
    table: np.ndarray,
    *,
    min_samples: int = 0,
    runs: int = 1000,
    seed: int = 0,
    chunk: int = 250,
) -> np.ndarray:
    """For ``runs`` simulated classes whose cases pass with probability ``true_rate``,
    checked after every case up to ``len(table) - 1`` cases: the number of cases at
    which each was first promoted (passes at or above ``table[n]`` and ``n >=
    min_samples``), 0 when never. Seeded: the same arguments give the same answer."""
    rng = np.random.default_rng(seed)
    horizon = len(table) - 1
    needed = table[1:]
    n = np.arange(1, horizon + 1)
    allowed = n >= min_samples
    out = np.zeros(runs, dtype=np.int64)
    for start in range(0, runs, chunk):
        size = min(chunk, runs - start)
        passes = np.cumsum(rng.random((size, horizon)) < true_rate, axis=1, dtype=np.int32)
        promoted = (passes >= needed) & allowed
        ever = promoted.any(axis=1)
        out[start : start + size] = np.where(ever, promoted.argmax(axis=1) + 1, 0)
    return out


def guarantee_table(
    bar: float = 0.95,
    offsets: Sequence[float] = (-0.02, -0.01, 0.0, 0.02),
    rules: Sequence[str] = ("point", "wilson", "anytime"),
    *,
    alpha: float = 0.05,
    min_samples: int = 200,
    horizon: int = 10_000,
    runs: int = 1000,
    seed: int = 0,
    prior_sds: Sequence[float] = (),
) -> pd.DataFrame:
    """One row per (rule, true rate): ``promoted`` the share of runs ever promoted within
    ``horizon`` cases, ``median_cases`` the median cases to promotion (NaN when fewer
    than half were promoted). ``prior_sds`` adds ``anytime`` rows with other prior
    standard deviations (labelled ``anytime sd=...``) to compare against the rule's."""
    variants: list[tuple[str, str, float]] = [(r, r, ANYTIME_PRIOR_SD) for r in rules]
    variants += [("anytime", f"anytime sd={c:g}", float(c)) for c in prior_sds]
    rows: list[dict[str, Any]] = []
    for rule, label, sd in variants:
        table = min_passes(rule, bar, alpha, horizon, sd=sd)
        for offset in offsets:
            true_rate = round(bar + offset, 10)
            first = first_promotions(
                true_rate, table, min_samples=min_samples, runs=runs, seed=seed
            )
            promoted = first > 0
            times = np.where(promoted, first, np.iinfo(np.int64).max)
            median = float(np.median(times)) if promoted.mean() > 0.5 else float("nan")
            rows.append(
                {
                    "rule": label,
                    "true_rate": true_rate,
                    "promoted": float(promoted.mean()),
                    "median_cases": median,
                }
            )
    out = pd.DataFrame(rows)
    out.attrs.update(
        bar=bar, alpha=alpha, min_samples=min_samples, horizon=horizon, runs=runs, seed=seed
    )
    return out
