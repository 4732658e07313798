"""Graduation forecasts: when will each action class reach its next state?

For each action, :func:`forecast` reads where the class stands at the end of
the history (state, next state, the bars it does not yet clear) and simulates
its future, vectorized across ``n_sims`` simulations:

* each true pass rate (normal and adversarial) is uncertain: one draw per
  simulation from its Beta posterior, Jeffreys prior ``Beta(1/2, 1/2)``, given
  the windowed counts at the end (for cumulative grading, the counts of the
  trailing :data:`ACCRUAL_DAYS` days: classes keep learning, and the whole
  history would understate where a class is now);
* with ``trend=True`` (the default) the rates also move along the class's
  recent trend: the change in logit pass rate between the two latest
  :data:`TREND_DAYS`-day spans, per day, with each simulation drawing its slope
  from the estimate's standard error (so a trend seen on few cases barely moves
  anything). The trend is applied from the middle of the evidence and never
  extrapolated further than it was measured over (:data:`TREND_DAYS` days).
  Classes that are still learning graduate sooner than a stationary model
  says: on the synthetic histories (7 seeds, cuts at days 60 and 90, 30-day
  window) the actual date fell inside the 10-90% band for 75% of forecasts with
  the trend and 49% without; ``trend=False`` gives the stationary model;
* new cases arrive as Poisson counts per day at the class's recent accrual
  rate (cases per day over the trailing :data:`ACCRUAL_DAYS` days), separately
  for normal and adversarial cases;
* each simulated day is graded, at its end, with the same window as the replay
  and the vectorized engine rule (:func:`~warrantd.analytics.replay.graded_states`).
  The forecast works in whole days: history and future are binned by UTC day,
  and a case-count window covers whole days.

``Forecast.table`` gives P(reaching the next state within the horizon) and the
10th / 50th / 90th percentile dates; ``Forecast.cdf(action)`` the probability of
having graduated by each day. Same seed, same forecast.

:func:`backtest` cuts a history, forecasts from the cut and checks the forecast
against what the replay of the full history shows actually happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..autonomy import AutonomyState
from ..graduation import ceiling
from ..policy import TrustPolicy
from .metrics import Window, _check_window, metrics_frame_at, per_timestamp_counts
from .replay import graded_states, replay

__all__ = ["ACCRUAL_DAYS", "TREND_DAYS", "Forecast", "backtest", "forecast"]

ACCRUAL_DAYS = 28
#: The trend is measured over two spans of this many days, and extrapolated at most
#: this far past the middle of the evidence the rates rest on.
TREND_DAYS = 28
_DAY = pd.Timedelta("1D")


@dataclass(frozen=True)
class Forecast:
    """The result of :func:`forecast`.

    ``table``: one row per action: ``state``, ``next_state`` (empty when the class
    is at its ceiling), ``blocked_on`` (every bar of the next state not yet
    cleared, with its distance), ``cases_per_day``, ``pass_rate_trend`` and
    ``adversarial_pass_rate_trend`` (the rate over the last :data:`TREND_DAYS` days
    minus the rate over the span before; NaN when a span has no cases),
    ``p_within_horizon`` and the
    ``p10_date`` / ``p50_date`` / ``p90_date`` of reaching the next state (NaT when
    that percentile falls beyond the horizon). ``cdfs``: per action, P(graduated by
    day d) for d = 1 .. horizon days.
    """

    table: pd.DataFrame
    cdfs: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    horizon: pd.Timedelta
    window: Window
    n_sims: int
    seed: int
    trend: bool = True

    def cdf(self, action: str) -> pd.DataFrame:
        """Columns ``day``, ``date``, ``probability``: P(next state reached by that day)."""
        return self.cdfs[action]


def _blocked_on(row: Any, bars: dict[str, float], level: float) -> list[str]:
    notes = []
    if row.sample_size < bars["min_samples"]:
        notes.append(f"needs {int(bars['min_samples'] - row.sample_size):,} more cases")
    pct = f"{level:.0%}"

    def shown(value: float, bar: float) -> tuple[str, str]:
        for digits in (2, 3, 4, 6):  # enough digits that "0.90 < 0.90" never shows
            a, b = f"{value:.{digits}f}", f"{bar:.{digits}f}"
            if a != b:
                return a, b
        return repr(value), repr(bar)

    for label, column, bar in (
        ("pass rate", "pass_rate", bars["pass_rate"]),
        ("adversarial pass rate", "adversarial_pass_rate", bars["adversarial_pass_rate"]),
    ):
        value = getattr(row, column)
        if value < bar:
            lo, hi = getattr(row, f"{column}_lo"), getattr(row, f"{column}_hi")
            a, b = shown(value, bar)
            notes.append(f"{label} {a} < {b} ({pct} CI {lo:.2f}-{hi:.2f})")
    return notes


def _daily(history: pd.DataFrame, action: str, start: pd.Timestamp, days: int) -> np.ndarray:
    """Per-day (n_normal, passed_normal, n_adversarial, passed_adversarial) for ``days``
    UTC days ending on ``start``'s day, oldest first; shape (4, days)."""
    counts = per_timestamp_counts(history[history["action"] == action])
    day = ((counts["timestamp"] - start).dt.floor("D") // _DAY).to_numpy() + days - 1
    keep = day >= 0
    out = np.zeros((4, days), dtype=np.int64)
    for i, column in enumerate(
        ("n_normal", "passed_normal", "n_adversarial", "passed_adversarial")
    ):
        np.add.at(out[i], day[keep], counts[column].to_numpy()[keep])
    return out


def _windowed(cum: np.ndarray, cases_cum: np.ndarray, window: Any, past_days: int) -> np.ndarray:
    """Window sums at every future day end; ``cum`` is (sims, days) cumulative."""
    sims, total_days = cum.shape
    future = np.arange(past_days, total_days)
    end = cum[:, future]
    if window is None:
        return end
    if isinstance(window, pd.Timedelta):
        lag = max(int(np.ceil(window / _DAY)), 1)
        start = future - lag
        before = np.where(start >= 0, cum[:, np.maximum(start, 0)], 0)
        return end - before
    # Case-count window, whole days: latest day s with C[end] - C[s] >= K.
    offset = (np.arange(sims) * (int(cases_cum.max()) + window + 1))[:, None]
    flat = (cases_cum + offset).ravel()
    target = (cases_cum[:, future] - window + offset).ravel()
    start = np.searchsorted(flat, target, side="right") - 1
    row_start = (np.arange(sims) * total_days)[:, None]
    start = np.maximum(start.reshape(sims, len(future)), row_start - 1)
    prior = np.where(start >= row_start, cum.ravel()[np.maximum(start, 0)].reshape(start.shape), 0)
    return end - prior


def forecast(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    horizon: str | pd.Timedelta = "90D",
    window: Window = None,
    n_sims: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    trend: bool = True,
) -> Forecast:
    """Forecast each action's next graduation; see the module docstring."""
    span = _check_window(window)
    days = int(pd.Timedelta(horizon) / _DAY)
    if days < 1:
        raise ValueError(f"horizon must be at least one day, not {horizon!r}")
    if n_sims < 1:
        raise ValueError(f"n_sims must be positive, not {n_sims}")
    as_of = history["timestamp"].max()
    now = metrics_frame_at(history, as_of, window=window, level=level)
    state_now = replay(history, policy, window=window).state_at(as_of)
    rng = np.random.default_rng(seed)
    past_days = _past_days(history, span)
    first_day = as_of.floor("D")
    rows, cdfs = [], {}
    for metrics in now.itertuples(index=False):
        action = str(metrics.action)
        cls = policy.action(action)
        state = state_now[action]
        top = ceiling(cls)
        daily = _daily(history, action, first_day, max(past_days, 2 * TREND_DAYS))
        past = daily[:, -past_days:]
        recent = past[:, -min(ACCRUAL_DAYS, past_days) :]
        # Whole UTC days, from the class's first day (or the accrual window) to today.
        first_case = history.loc[history["action"] == action, "timestamp"].min().floor("D")
        span_days = min(ACCRUAL_DAYS, int((first_day - first_case) / _DAY) + 1)
        rate_normal = recent[0].sum() / span_days
        rate_adv = recent[2].sum() / span_days
        spans = daily[:, -2 * TREND_DAYS :]
        trends = (_trend(spans[0], spans[1]), _trend(spans[2], spans[3]))
        row: dict[str, Any] = {
            "action": action,
            "state": state.name,
            "cases_per_day": rate_normal + rate_adv,
            "pass_rate_trend": np.nan if trends[0] is None else trends[0].late - trends[0].early,
            "adversarial_pass_rate_trend": (
                np.nan if trends[1] is None else trends[1].late - trends[1].early
            ),
        }
        if state >= top:
            row.update(
                next_state="",
                blocked_on="at its ceiling",
                p_within_horizon=np.nan,
                p10_date=pd.NaT,
                p50_date=pd.NaT,
                p90_date=pd.NaT,
            )
            rows.append(row)
            continue
        target = AutonomyState(int(state) + 1)
        t = policy.thresholds
        bars = {
            "pass_rate": t.pass_rate[target],
            "min_samples": t.min_samples[target],
            "adversarial_pass_rate": t.adversarial_pass_rate[target],
        }
        row["next_state"] = target.name
        row["blocked_on"] = "; ".join(_blocked_on(metrics, bars, level)) or "clears every bar"
        # Future pass rates: the windowed counts when the policy grades a window;
        # for cumulative grading, the recent counts, since classes keep learning.
        if span is None:
            evidence = recent.sum(axis=1)
        else:
            evidence = np.array(
                [
                    metrics.n_normal,
                    metrics.passed_normal,
                    metrics.n_adversarial,
                    metrics.passed_adversarial,
                ]
            )
        p_norm = rng.beta(evidence[1] + 0.5, evidence[0] - evidence[1] + 0.5, n_sims)
        p_adv = rng.beta(evidence[3] + 0.5, evidence[2] - evidence[3] + 0.5, n_sims)
        new_norm = rng.poisson(rate_normal, (n_sims, days))
        new_adv = rng.poisson(rate_adv, (n_sims, days))
        if trend:
            age = _evidence_age(span, past_days, rate_normal + rate_adv)
            p_norm = _drifting(p_norm, trends[0], age, days, rng)
            p_adv = _drifting(p_adv, trends[1], age, days, rng)
        else:
            p_norm, p_adv = p_norm[:, None], p_adv[:, None]
        pass_norm = rng.binomial(new_norm, p_norm)
        pass_adv = rng.binomial(new_adv, p_adv)
        series = [
            np.concatenate([np.broadcast_to(past[i], (n_sims, past_days)), new], axis=1)
            for i, new in enumerate((new_norm, pass_norm, new_adv, pass_adv))
        ]
        cum = [np.cumsum(s, axis=1) for s in series]
        cases_cum = cum[0] + cum[2]
        counts = [_windowed(c, cases_cum, span, past_days) for c in cum]
        with np.errstate(invalid="ignore", divide="ignore"):
            pr = np.where(counts[0] > 0, counts[1] / np.maximum(counts[0], 1), 0.0)
            ar = np.where(counts[2] > 0, counts[3] / np.maximum(counts[2], 1), 0.0)
        graded = graded_states(
            pr.ravel(), ar.ravel(), (counts[0] + counts[2]).ravel(), t, np.full(pr.size, int(top))
        ).reshape(pr.shape)
        reached = graded >= int(target)
        first = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, np.inf)
        row["p_within_horizon"] = float(np.isfinite(first).mean())
        for q in (10, 50, 90):
            day = np.percentile(first, q, method="inverted_cdf")
            row[f"p{q}_date"] = first_day + day * _DAY if np.isfinite(day) else pd.NaT
        probability = (
            np.cumsum(
                np.bincount(first[np.isfinite(first)].astype(int), minlength=days + 1)[1 : days + 1]
            )
            / n_sims
        )
        cdfs[action] = pd.DataFrame(
            {
                "day": np.arange(1, days + 1),
                "date": first_day + np.arange(1, days + 1) * _DAY,
                "probability": probability,
            }
        )
        rows.append(row)
    columns = [
        "action",
        "state",
        "next_state",
        "blocked_on",
        "cases_per_day",
        "pass_rate_trend",
        "adversarial_pass_rate_trend",
        "p_within_horizon",
        "p10_date",
        "p50_date",
        "p90_date",
    ]
    table = pd.DataFrame(rows)[columns]
    for q in (10, 50, 90):
        table[f"p{q}_date"] = pd.to_datetime(table[f"p{q}_date"], utc=True)
    return Forecast(table, cdfs, as_of, pd.Timedelta(days=days), window, n_sims, seed, trend)


def _logit(p: Any) -> Any:
    return np.log(p) - np.log1p(-p)


def _evidence_age(span: Any, past_days: int, cases_per_day: float) -> float:
    """Days from the middle of the evidence the posterior rests on to its last day."""
    if isinstance(span, pd.Timedelta):
        days = span / _DAY
    elif isinstance(span, int):
        days = span / cases_per_day if cases_per_day > 0 else past_days
    else:  # cumulative grading: the posterior rests on the accrual window
        days = ACCRUAL_DAYS
    return min(days, past_days) / 2


@dataclass(frozen=True)
class _Trend:
    """A pass rate over the two latest :data:`TREND_DAYS`-day spans, and its slope."""

    early: float
    late: float
    slope: float  # logit per day
    slope_se: float


def _trend(n: np.ndarray, passed: np.ndarray) -> _Trend | None:
    """The trend of daily counts over the last ``2 * TREND_DAYS`` days; None when a
    span has no cases. The slope is the change in logit pass rate between the spans,
    per day, with its delta-method standard error."""
    n_early, n_late = int(n[:TREND_DAYS].sum()), int(n[TREND_DAYS:].sum())
    if n_early == 0 or n_late == 0:
        return None
    # Jeffreys-smoothed rates keep the logits finite at 0% and 100%.
    early = float((passed[:TREND_DAYS].sum() + 0.5) / (n_early + 1.0))
    late = float((passed[TREND_DAYS:].sum() + 0.5) / (n_late + 1.0))
    variance = 1 / (n_early * early * (1 - early)) + 1 / (n_late * late * (1 - late))
    return _Trend(
        early,
        late,
        (_logit(late) - _logit(early)) / TREND_DAYS,
        float(np.sqrt(variance)) / TREND_DAYS,
    )


def _drifting(p0: np.ndarray, trend: _Trend | None, age: float, days: int, rng: Any) -> np.ndarray:
    """(sims, days) pass probabilities: ``p0`` moved along ``trend``.

    Each simulation draws its slope from a normal around the trend's slope with its
    standard error, so a trend seen on few cases barely moves anything. It is applied
    from the middle of the evidence (``age`` days back) and never further than
    ``TREND_DAYS`` past it: a trend is not extrapolated further than it was measured
    over.
    """
    if trend is None:
        return p0[:, None]
    slopes = rng.normal(trend.slope, trend.slope_se, len(p0))
    ahead = np.minimum(age + np.arange(1, days + 1), TREND_DAYS)
    start = _logit(np.clip(p0, 1e-9, 1 - 1e-9))
    return 1 / (1 + np.exp(-(start[:, None] + slopes[:, None] * ahead[None, :])))


def _past_days(history: pd.DataFrame, span: Any) -> int:
    """How many days of history the simulation needs before the cut."""
    total = (
        int((history["timestamp"].max().floor("D") - history["timestamp"].min().floor("D")) / _DAY)
        + 1
    )
    if isinstance(span, pd.Timedelta):
        return min(total, max(int(np.ceil(span / _DAY)), ACCRUAL_DAYS))
    return total


def backtest(
    history: pd.DataFrame,
    policy: TrustPolicy,
    cut: Any,
    *,
    horizon: str | pd.Timedelta = "90D",
    window: Window = None,
    n_sims: int = 2000,
    seed: int = 0,
    trend: bool = True,
) -> pd.DataFrame:
    """Forecast from ``history`` cut at ``cut`` and compare with what happened.

    One row per action that had a next state at the cut: the forecast
    (``p_within_horizon``, ``p10_date``, ``p50_date``, ``p90_date``), the
    ``actual_date`` it first reached that state after the cut in the replay of
    the full history (NaT if not within the horizon), and ``within_band``:
    whether the actual outcome lies inside the 10-90 band (an action that
    never graduated counts as inside when the 90th percentile is beyond the horizon).
    """
    moment = pd.Timestamp(cut)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    before = history[history["timestamp"] <= moment]
    fc = forecast(
        before, policy, horizon=horizon, window=window, n_sims=n_sims, seed=seed, trend=trend
    )
    full = replay(history, policy, window=window)
    tl = full.timeline
    end = fc.as_of.floor("D") + fc.horizon
    rows = []
    for row in fc.table[fc.table["next_state"] != ""].itertuples(index=False):
        level = AutonomyState[row.next_state]
        mine = tl[(tl["action"] == row.action) & (tl["timestamp"] > fc.as_of)]
        hit = mine[mine["state"].cat.codes >= int(level)]
        actual = hit["timestamp"].min() if len(hit) else pd.NaT
        if pd.notna(actual) and actual > end:
            actual = pd.NaT
        if pd.isna(actual):
            inside = pd.isna(row.p90_date)
        else:
            lower = row.p10_date
            inside = (
                pd.notna(lower)
                and lower <= actual.floor("D") + _DAY
                and (pd.isna(row.p90_date) or actual <= row.p90_date)
            )
        rows.append(
            {
                "action": row.action,
                "next_state": row.next_state,
                "p_within_horizon": row.p_within_horizon,
                "p10_date": row.p10_date,
                "p50_date": row.p50_date,
                "p90_date": row.p90_date,
                "actual_date": actual,
                "within_band": bool(inside),
            }
        )
    return pd.DataFrame(rows)
