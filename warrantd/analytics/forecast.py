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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..autonomy import AutonomyState
from ..errors import OptionError
from ..graduation import ceiling
from ..policy import TrustPolicy
from ._progress import bar as progress_bar_of
from .metrics import (
    Window,
    check_window,
    metrics_frame_at,
    per_timestamp_counts,
    rates_from_counts,
)
from .quality import MIN_EVIDENCE_DAYS
from .replay import graded_states, replay

__all__ = [
    "ACCRUAL_DAYS",
    "MAX_HORIZON_DAYS",
    "MIN_EVIDENCE_DAYS",
    "TREND_DAYS",
    "Forecast",
    "backtest",
    "backtests",
    "check_horizon",
    "forecast",
    "within_band",
]

ACCRUAL_DAYS = 28
#: The longest horizon a forecast simulates (ten years).
MAX_HORIZON_DAYS = 3650
#: Simulated (simulation x day) cells per batch: memory stays bounded whatever the
#: horizon and the number of simulations (four int64 arrays of this size at a time).
SIM_BATCH_CELLS = 1_000_000
#: The trend is measured over two spans of this many days, and extrapolated at most
#: this far past the middle of the evidence the rates rest on.
TREND_DAYS = 28
_DAY = pd.Timedelta("1D")


def check_horizon(horizon: Any) -> int:
    """The horizon in whole days, 1 to :data:`MAX_HORIZON_DAYS`.

    Takes a number of days (``90``, ``"90"``) or a span in whole days (``"90D"``,
    ``"12W"``, a ``Timedelta``); anything else raises
    :class:`~warrantd.errors.OptionError` (``horizon``).
    """
    if isinstance(horizon, (bool, np.bool_)):
        raise OptionError("horizon", f"{horizon!r} is not a number of days")
    if isinstance(horizon, (int, np.integer)):
        days = int(horizon)
    elif isinstance(horizon, str) and horizon.strip().isdigit():
        days = int(horizon.strip())
    else:
        try:
            span = pd.Timedelta(horizon)
        except (ValueError, TypeError):
            raise OptionError(
                "horizon", f"{horizon!r} is not a number of days such as 90 or '90D'"
            ) from None
        if span % _DAY != pd.Timedelta(0):
            raise OptionError("horizon", f"{horizon!r} is not a whole number of days")
        days = int(span / _DAY)
    if days < 1:
        raise OptionError("horizon", f"must be at least one day, not {horizon!r}")
    if days > MAX_HORIZON_DAYS:
        raise OptionError(
            "horizon", f"{horizon!r} is longer than {MAX_HORIZON_DAYS} days (ten years)"
        )
    return days


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


FORECAST_COLUMNS = [
    "action",
    "state",
    "next_state",
    "blocked_on",
    "note",
    "cases_per_day",
    "pass_rate_trend",
    "adversarial_pass_rate_trend",
    "p_within_horizon",
    "p10_date",
    "p50_date",
    "p90_date",
]


def _not_forecast(row: dict[str, Any], note: str) -> dict[str, Any]:
    """``row`` with no probabilities and the reason said in ``note``."""
    return {
        **row,
        "note": note,
        "p_within_horizon": np.nan,
        "p10_date": pd.NaT,
        "p50_date": pd.NaT,
        "p90_date": pd.NaT,
    }


def forecast(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    horizon: str | int | pd.Timedelta = "90D",
    window: Window = None,
    n_sims: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    trend: bool = True,
    progress: bool = False,
) -> Forecast:
    """Forecast each action's next graduation; see the module docstring.

    Every class of the policy gets a row. A class with no evidence, or with
    evidence on fewer than :data:`MIN_EVIDENCE_DAYS` distinct days, is not
    simulated: its ``note`` says why and its probabilities are empty.
    """
    span = check_window(window)
    days = check_horizon(horizon)
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 1:
        raise OptionError("n_sims", f"must be a positive number of simulations, not {n_sims!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError("seed", f"must be a whole number >= 0, not {seed!r}")
    as_of = history["timestamp"].max()
    now = metrics_frame_at(history, as_of, window=window, level=level).set_index("action")
    state_now = replay(history, policy, window=window).state_at(as_of)
    rng = np.random.default_rng(seed)
    past_days = _past_days(history, span)
    first_day = as_of.floor("D")
    evidence_days = history.groupby("action", sort=False)["timestamp"].agg(
        lambda t: t.dt.floor("D").nunique()
    )
    rows, cdfs = [], {}
    progress_bar = progress_bar_of(len(policy.actions), "forecast", progress, unit="class")
    for action in sorted(policy.actions):
        progress_bar.update(1)
        cls = policy.action(action)
        top = ceiling(cls)
        state = state_now.get(action, AutonomyState.MANUAL)
        row: dict[str, Any] = {
            "action": action,
            "state": state.name,
            "note": "",
            "cases_per_day": np.nan,
            "pass_rate_trend": np.nan,
            "adversarial_pass_rate_trend": np.nan,
        }
        if state >= top:
            at_ceiling = {**row, "next_state": "", "blocked_on": "at its ceiling"}
            rows.append(_not_forecast(at_ceiling, ""))
            continue
        target = AutonomyState(int(state) + 1)
        row["next_state"] = target.name
        if action not in now.index:
            rows.append(
                _not_forecast({**row, "blocked_on": "no evidence"}, "not forecast: no eval cases")
            )
            continue
        metrics = now.loc[action]
        t = policy.thresholds
        bars = {
            "pass_rate": t.pass_rate[target],
            "min_samples": t.min_samples[target],
            "adversarial_pass_rate": t.adversarial_pass_rate[target],
        }
        row["blocked_on"] = "; ".join(_blocked_on(metrics, bars, level)) or "clears every bar"
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
        row["cases_per_day"] = rate_normal + rate_adv
        for column, found in zip(
            ("pass_rate_trend", "adversarial_pass_rate_trend"), trends, strict=True
        ):
            row[column] = np.nan if found is None else found.late - found.early
        distinct = int(evidence_days.get(action, 0))
        if distinct < MIN_EVIDENCE_DAYS:
            rows.append(
                _not_forecast(
                    row,
                    f"not forecast: evidence on only {distinct} distinct day"
                    f"{'s' if distinct != 1 else ''} (needs {MIN_EVIDENCE_DAYS} to estimate "
                    "how fast cases arrive)",
                )
            )
            continue
        # Future pass rates: the windowed counts when the policy grades a window;
        # for cumulative grading, the recent counts, since classes keep learning.
        if span is None:
            evidence = recent.sum(axis=1)
        else:
            evidence = np.array(
                [
                    metrics["n_normal"],
                    metrics["passed_normal"],
                    metrics["n_adversarial"],
                    metrics["passed_adversarial"],
                ]
            )
        age = _evidence_age(span, past_days, rate_normal + rate_adv)
        first = _simulate(
            rng,
            n_sims,
            days,
            past,
            (rate_normal, rate_adv),
            evidence,
            trends if trend else (None, None),
            age,
            span,
            t,
            int(top),
            int(target),
        )
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
    progress_bar.close()
    table = pd.DataFrame(rows, columns=FORECAST_COLUMNS)
    for q in (10, 50, 90):
        table[f"p{q}_date"] = pd.to_datetime(table[f"p{q}_date"], utc=True)
    return Forecast(table, cdfs, as_of, pd.Timedelta(days=days), window, n_sims, seed, trend)


def _simulate(
    rng: np.random.Generator,
    n_sims: int,
    days: int,
    past: np.ndarray,
    rates: tuple[float, float],
    evidence: np.ndarray,
    trends: tuple[_Trend | None, _Trend | None],
    age: float,
    span: Any,
    thresholds: Any,
    top: int,
    target: int,
) -> np.ndarray:
    """The simulated day (1-based) each simulation first reaches ``target``; inf if never.

    Simulations run in batches of at most :data:`SIM_BATCH_CELLS` (simulation x day)
    cells, so memory does not grow with the horizon or the number of simulations.
    """
    past_days = past.shape[1]
    batch = max(1, SIM_BATCH_CELLS // (past_days + days))
    firsts = []
    for start in range(0, n_sims, batch):
        size = min(batch, n_sims - start)
        p_norm = rng.beta(evidence[1] + 0.5, evidence[0] - evidence[1] + 0.5, size)
        p_adv = rng.beta(evidence[3] + 0.5, evidence[2] - evidence[3] + 0.5, size)
        new_norm = rng.poisson(rates[0], (size, days))
        new_adv = rng.poisson(rates[1], (size, days))
        p_norm = _drifting(p_norm, trends[0], age, days, rng)
        p_adv = _drifting(p_adv, trends[1], age, days, rng)
        pass_norm = rng.binomial(new_norm, p_norm)
        pass_adv = rng.binomial(new_adv, p_adv)
        series = [
            np.concatenate([np.broadcast_to(past[i], (size, past_days)), new], axis=1)
            for i, new in enumerate((new_norm, pass_norm, new_adv, pass_adv))
        ]
        cum = [np.cumsum(s, axis=1) for s in series]
        del series
        cases_cum = cum[0] + cum[2]
        counts = [_windowed(c, cases_cum, span, past_days) for c in cum]
        del cum, cases_cum
        pr, ar, samples = rates_from_counts(*counts)
        graded = graded_states(
            pr.ravel(), ar.ravel(), samples.ravel(), thresholds, np.full(pr.size, top)
        ).reshape(pr.shape)
        reached = graded >= target
        firsts.append(np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, np.inf))
    return np.concatenate(firsts)


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


BACKTEST_COLUMNS = [
    "cut",
    "as_of",
    "action",
    "next_state",
    "p_within_horizon",
    "p10_date",
    "p50_date",
    "p90_date",
    "actual_date",
    "within_band",
]


def _as_utc(moment: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def backtest(
    history: pd.DataFrame,
    policy: TrustPolicy,
    cut: Any,
    *,
    horizon: str | int | pd.Timedelta = "90D",
    window: Window = None,
    n_sims: int = 2000,
    seed: int = 0,
    trend: bool = True,
) -> pd.DataFrame:
    """Forecast from ``history`` cut at ``cut`` and compare with what happened.

    The forecast is made as of the last evidence at or before the cut
    (``as_of``). One row per action that was forecast (it had a next state and
    enough evidence): the forecast (``p_within_horizon``, ``p10_date``,
    ``p50_date``, ``p90_date``), the ``actual_date`` it first reached that state
    after ``as_of`` in the replay of the full history (NaT if not within the
    horizon), and ``within_band``. Both ends of the band are compared by UTC
    date, the resolution the forecast works in: an actual graduation on the p10
    date or on the p90 date is inside. A class that did not graduate within the
    horizon counts as inside when its 90th percentile lies beyond the horizon.
    """
    moment = _as_utc(cut)
    before = history[history["timestamp"] <= moment]
    if before.empty:
        raise OptionError("cut", f"{cut!r} is before the first case of the history")
    fc = forecast(
        before, policy, horizon=horizon, window=window, n_sims=n_sims, seed=seed, trend=trend
    )
    timeline = replay(history, policy, window=window).timeline
    end_date = (fc.as_of.floor("D") + fc.horizon).date()
    made = fc.table[(fc.table["next_state"] != "") & (fc.table["note"] == "")]
    rows = []
    for row in made.itertuples(index=False):
        level = AutonomyState[row.next_state]
        mine = timeline[(timeline["action"] == row.action) & (timeline["timestamp"] > fc.as_of)]
        hit = mine[mine["state"].cat.codes >= int(level)]
        actual = hit["timestamp"].min() if len(hit) else pd.NaT
        if pd.notna(actual) and actual.date() > end_date:
            actual = pd.NaT
        inside = within_band(actual, row.p10_date, row.p90_date)
        rows.append(
            {
                "cut": moment,
                "as_of": fc.as_of,
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
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def within_band(actual: Any, p10: Any, p90: Any) -> bool:
    """Whether an outcome lies inside the forecast's 10-90% band, by UTC date at both ends.

    ``actual`` is the moment the state was reached (NaT: not within the horizon);
    ``p10`` / ``p90`` are the band's dates (NaT: beyond the horizon). A graduation at
    any time on the p10 date or on the p90 date is inside; no graduation is inside
    when the p90 date lies beyond the horizon.
    """
    if pd.isna(actual):
        return bool(pd.isna(p90))
    day = pd.Timestamp(actual).date()
    after_start = pd.notna(p10) and pd.Timestamp(p10).date() <= day
    return bool(after_start and (pd.isna(p90) or day <= pd.Timestamp(p90).date()))


def backtests(
    history: pd.DataFrame,
    policy: TrustPolicy,
    cuts: Sequence[Any],
    **options: Any,
) -> pd.DataFrame:
    """:func:`backtest` at each of ``cuts``, each distinct forecast made once.

    Cuts that fall in the same gap of the history have the same last evidence
    before them, so they would repeat one forecast: they are merged, and the
    row keeps the first such cut in ``cut`` (its ``as_of`` is the truth).
    """
    moments = sorted({_as_utc(c) for c in cuts})
    stamps = history["timestamp"]
    by_as_of: dict[pd.Timestamp, pd.Timestamp] = {}
    for moment in moments:
        earlier = stamps[stamps <= moment]
        if earlier.empty:
            continue
        by_as_of.setdefault(earlier.max(), moment)
    frames = [backtest(history, policy, cut, **options) for cut in by_as_of.values()]
    if not frames:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    return pd.concat(frames, ignore_index=True)
