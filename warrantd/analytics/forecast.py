"""Graduation forecasts: when will each action class reach its next state?

The forecast is built on the engine (:mod:`warrantd.analytics._engine`): the
state now, the window sums and the rule are the engine's, so a simulated future
with no new cases grades exactly as :meth:`Replay.state_at` does (a differential
test holds it to that for every kind of window). :func:`forecast` runs five steps
per class of the policy:

1. **Where the class stands** (:func:`_class_now`): its state as of the last
   evidence, its next state, the bars it does not clear yet (``blocked_on``).
   Classes with no evidence, or with evidence on fewer than
   :data:`~warrantd.analytics.quality.MIN_EVIDENCE_DAYS` distinct days, are not
   simulated: ``note`` says why.
2. **How fast cases arrive** (:func:`_arrival_rates`): cases per day over the
   trailing :data:`ACCRUAL_DAYS` days, normal and adversarial apart.
3. **Simulated days** (:func:`_simulated_arrivals`): each true pass rate drawn
   from its Beta posterior (Jeffreys prior ``Beta(1/2, 1/2)``) given the
   windowed counts (for cumulative grading, the trailing :data:`ACCRUAL_DAYS`
   days: classes keep learning); with ``trend=True`` moved along the class's
   recent trend (the change in logit pass rate between the two latest
   :data:`TREND_DAYS`-day spans, each simulation drawing its slope from the
   estimate's standard error, never extrapolated further than it was measured
   over); new cases as Poisson counts per day, passing as Binomial draws.
4. **Grading** (:func:`_graded_days`): simulated day ``k`` ends at
   ``as_of + k days``; its cases arrive then, and the state is graded there with
   the policy's own window over the real evidence (at its exact timestamps) and
   the simulated days together, by the engine's window definition and rule.
5. **Summary** (:func:`_summary`): P(reaching the next state within the
   horizon), the 10th / 50th / 90th percentile dates, and per class the
   probability of having graduated by each day (``Forecast.cdf(action)``).

Simulations run in batches of at most :data:`SIM_BATCH_CELLS` (simulation x day)
cells, so memory does not grow with the horizon (at most
:data:`MAX_HORIZON_DAYS`). Same seed, same forecast.

:func:`backtest` cuts a history, forecasts from the cut and checks the forecast
against what the replay of the full history shows actually happened;
:func:`backtests` does it at several cuts, each distinct forecast once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from ..autonomy import AutonomyState
from ..errors import OptionError
from ..graduation import CRITERIA, GraduationSettings, GraduationThresholds, ceiling
from ..policy import TrustPolicy
from ._engine import (
    COUNT_COLUMNS,
    NS_PER_DAY,
    POLICY_WINDOW,
    Evidence,
    Window,
    check_window,
    evidence_of,
    graded_states,
    rates_from_counts,
    resolve_window,
    states_at,
    window_sums,
)
from ._progress import bar as progress_bar_of
from .metrics import metrics_frame_at
from .quality import MIN_EVIDENCE_DAYS
from .replay import replay

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


def _shown(value: float, bar: float) -> tuple[str, str]:
    """A value and a bar with enough digits that "0.90 < 0.90" never shows."""
    for digits in (2, 3, 4, 6):
        a, b = f"{value:.{digits}f}", f"{bar:.{digits}f}"
        if a != b:
            return a, b
    return repr(value), repr(bar)


#: The count a rate is measured over, by metric.
_CASES_OF = {"pass_rate": "n_normal", "adversarial_pass_rate": "n_adversarial"}


def _blocked_on(
    metrics: pd.Series, thresholds: GraduationThresholds, target: AutonomyState, level: float
) -> list[str]:
    """Every bar of ``target`` not yet cleared (by :data:`~warrantd.graduation.CRITERIA`),
    with its distance: cases still needed, or the rate against its bar and interval."""
    counts, rates = [], []
    for criterion in CRITERIA:
        value, bar = metrics[criterion.metric], getattr(thresholds, criterion.bar)[target]
        if criterion.met(value, bar):
            continue
        if criterion.kind == "count":
            counts.append(f"needs {int(bar - value):,} more cases")
        elif metrics[_CASES_OF[criterion.metric]] == 0:
            rates.append(f"{criterion.label}: no such cases in the window (counts as 0)")
        else:
            lo, hi = metrics[f"{criterion.metric}_lo"], metrics[f"{criterion.metric}_hi"]
            a, b = _shown(float(value), float(bar))
            rates.append(f"{criterion.label} {a} < {b} ({level:.0%} CI {lo:.2f}-{hi:.2f})")
    return counts + rates


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


@dataclass(frozen=True)
class _Past:
    """One class's real evidence: its rows of the engine's :class:`Evidence`."""

    time_ns: np.ndarray
    counts: np.ndarray  # (4, rows) in COUNT_COLUMNS order

    def daily(self, last_day_ns: int, days: int) -> np.ndarray:
        """(4, days) counts per UTC day, the last column the day starting at ``last_day_ns``."""
        day = (self.time_ns - last_day_ns) // NS_PER_DAY + days - 1
        keep = day >= 0
        out = np.zeros((4, days), dtype=np.int64)
        for i in range(4):  # four count kinds, not rows
            np.add.at(out[i], day[keep], self.counts[i, keep])
        return out


def _class_now(evidence: Evidence, index: int) -> _Past:
    """Step 1's data: the class's real evidence rows."""
    lo, hi = int(evidence.bounds[index]), int(evidence.bounds[index + 1])
    return _Past(evidence.time_ns[lo:hi], evidence.counts[:, lo:hi])


def _arrival_rates(past: _Past, first_day_ns: int) -> tuple[float, float]:
    """Step 2: normal and adversarial cases per day over the trailing accrual days
    (whole UTC days, from the class's first day when it is younger)."""
    recent = past.daily(first_day_ns, ACCRUAL_DAYS)
    class_first_day = (int(past.time_ns.min()) // NS_PER_DAY) * NS_PER_DAY
    span_days = min(ACCRUAL_DAYS, (first_day_ns - class_first_day) // NS_PER_DAY + 1)
    return recent[0].sum() / span_days, recent[2].sum() / span_days


def _simulated_arrivals(
    rng: np.random.Generator,
    size: int,
    days: int,
    rates: tuple[float, float],
    evidence: np.ndarray,
    trends: tuple[_Trend | None, _Trend | None],
    age: float,
) -> np.ndarray:
    """Step 3: (4, size, days) simulated counts per day, in COUNT_COLUMNS order."""
    p_norm = rng.beta(evidence[1] + 0.5, evidence[0] - evidence[1] + 0.5, size)
    p_adv = rng.beta(evidence[3] + 0.5, evidence[2] - evidence[3] + 0.5, size)
    new_norm = rng.poisson(rates[0], (size, days))
    new_adv = rng.poisson(rates[1], (size, days))
    p_norm = _drifting(p_norm, trends[0], age, days, rng)
    p_adv = _drifting(p_adv, trends[1], age, days, rng)
    pass_norm = rng.binomial(new_norm, p_norm)
    pass_adv = rng.binomial(new_adv, p_adv)
    return np.stack([new_norm, pass_norm, new_adv, pass_adv])


def _graded_days(
    evidence: Evidence,
    index: int,
    arrivals: np.ndarray,
    as_of_ns: int,
    window: Window,
    thresholds: GraduationThresholds,
    top: int,
    settings: GraduationSettings | None = None,
) -> np.ndarray:
    """Step 4: (sims, days) states, day ``k`` graded at ``as_of + k days``, under the
    evidence rule of ``settings`` (the policy's). No state is handed on: the forecast
    asks when a class first reaches a state, which a demotion margin does not change.

    The window holds the real evidence (at its exact timestamps, by the engine's
    :func:`window_sums`) and the simulated days whose end lies in it; a case-count
    window takes whole moments, latest first, as the engine's window does.
    """
    span = check_window(window)
    _, sims, days = arrivals.shape
    real = _only(evidence, index)
    future = np.cumsum(arrivals, axis=2)  # (4, sims, days): simulated counts through day k
    if isinstance(span, int):
        total = _case_window(real, future, span)
    else:
        day_ends = as_of_ns + NS_PER_DAY * np.arange(1, days + 1, dtype=np.int64)
        held = window_sums(real, span, day_ends, np.array([0, days]), inclusive=True)
        total = held[:, None, :] + future
        if isinstance(span, pd.Timedelta):
            # day j (its cases at as_of + j days) is in day k's window when j > k - w
            left_out = np.floor(np.arange(1, days + 1) - span.value / NS_PER_DAY).astype(np.int64)
            gone = np.take(future, np.clip(left_out - 1, 0, days - 1), axis=2)
            total = total - np.where(left_out >= 1, gone, 0)
    counts = np.stack([total[i].ravel() for i in range(4)])
    rates = rates_from_counts(*counts)
    memoryless = None if settings is None else replace(settings, demotion_margin=0.0)
    graded = graded_states(
        *rates,
        thresholds,
        np.full(sims * days, top, dtype=np.int8),
        counts=counts,
        settings=memoryless,
    )
    return graded.reshape(sims, days)


def _only(evidence: Evidence, index: int) -> Evidence:
    """The evidence of one class, as an :class:`Evidence` of its own."""
    lo, hi = int(evidence.bounds[index]), int(evidence.bounds[index + 1])
    return Evidence(
        (evidence.actions[index],),
        np.array([0, hi - lo]),
        evidence.time_ns[lo:hi],
        evidence.counts[:, lo:hi],
        {},
    )


def _case_window(real: Evidence, future: np.ndarray, size: int) -> np.ndarray:
    """(4, sims, days) counts of a ``size``-case window at each simulated day end.

    The window is the shortest run of latest whole moments covering ``size`` cases:
    simulated days first (``future`` holds their counts through each day), then,
    when they fall short, the real moments, latest first.
    """
    _, sims, days = future.shape
    prefix = np.concatenate([np.zeros((4, sims, 1), dtype=np.int64), future], axis=2)
    cases = prefix[0] + prefix[2]  # (sims, days + 1), non-decreasing along days
    need = cases[:, 1:] - size
    # The last j with cases[j] <= need: days j+1..k cover the window (j = -1: they do
    # not). One sorted search for every simulation at once: rows lifted apart.
    lift = (np.arange(sims, dtype=np.int64) * (int(cases.max()) + size + 1))[:, None]
    found = np.searchsorted((cases + lift).ravel(), (need + lift).ravel(), side="right")
    j = found.reshape(sims, days) - 1 - (np.arange(sims) * (days + 1))[:, None]
    rows = np.arange(sims)[:, None]
    out = prefix[:, :, 1:] - np.where(j >= 0, prefix[:, rows, np.clip(j, 0, None)], 0)
    short = np.where(j < 0, size - cases[:, 1:], 0)  # cases still needed from the real ones
    if real.counts.shape[1]:
        latest_first = np.cumsum(real.counts[:, ::-1], axis=1)
        real_cases = latest_first[0] + latest_first[2]
        moments = np.searchsorted(real_cases, short, side="left").clip(max=len(real_cases) - 1)
        out = out + np.where(short > 0, latest_first[:, moments], 0)
    return out


def _summary(
    first: np.ndarray, days: int, as_of: pd.Timestamp, n_sims: int
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Step 5: P(within horizon), percentile dates and the cdf of the first day reached."""
    row: dict[str, Any] = {"p_within_horizon": float(np.isfinite(first).mean())}
    for q in (10, 50, 90):
        day = np.percentile(first, q, method="inverted_cdf")
        row[f"p{q}_date"] = as_of + day * _DAY if np.isfinite(day) else pd.NaT
    reached = first[np.isfinite(first)].astype(int)
    probability = np.cumsum(np.bincount(reached, minlength=days + 1)[1 : days + 1]) / n_sims
    cdf = pd.DataFrame(
        {
            "day": np.arange(1, days + 1),
            "date": as_of + np.arange(1, days + 1) * _DAY,
            "probability": probability,
        }
    )
    return row, cdf


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


def _check_counts(n_sims: Any, seed: Any) -> None:
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 1:
        raise OptionError("n_sims", f"must be a positive number of simulations, not {n_sims!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError("seed", f"must be a whole number >= 0, not {seed!r}")


def forecast(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    horizon: str | int | pd.Timedelta = "90D",
    window: Any = POLICY_WINDOW,
    n_sims: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    trend: bool = True,
    progress: bool = False,
) -> Forecast:
    """Forecast each action's next graduation; see the module docstring.

    Every class of the policy gets a row. A class with no evidence, or with
    evidence on fewer than :data:`MIN_EVIDENCE_DAYS` distinct days, is not
    simulated: its ``note`` says why and its probabilities are empty. ``window``
    defaults to the policy's ``[graduation] window``.
    """
    window = resolve_window(window, policy)
    span = check_window(window)
    days = check_horizon(horizon)
    _check_counts(n_sims, seed)
    as_of = history["timestamp"].max()
    now = metrics_frame_at(history, as_of, window=window, level=level).set_index("action")
    evidence = evidence_of(history)
    state_now = states_at(evidence, policy, window, as_of.value)
    rng = np.random.default_rng(seed)
    first_day_ns = (as_of.value // NS_PER_DAY) * NS_PER_DAY
    past_days = _past_days(history, span)
    rows, cdfs = [], {}
    progress_bar = progress_bar_of(len(policy.actions), "forecast", progress, unit="class")
    for action in sorted(policy.actions):
        progress_bar.update(1)
        top = ceiling(policy.action(action))
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
        metrics = cast(pd.Series, now.loc[action])
        t = policy.thresholds
        row["blocked_on"] = "; ".join(_blocked_on(metrics, t, target, level)) or "clears every bar"
        index = evidence.actions.index(action)
        past = _class_now(evidence, index)
        rate_normal, rate_adv = _arrival_rates(past, first_day_ns)
        spans = past.daily(first_day_ns, 2 * TREND_DAYS)
        trends = (_trend(spans[0], spans[1]), _trend(spans[2], spans[3]))
        row["cases_per_day"] = rate_normal + rate_adv
        for column, found in zip(
            ("pass_rate_trend", "adversarial_pass_rate_trend"), trends, strict=True
        ):
            row[column] = np.nan if found is None else found.late - found.early
        distinct = len(np.unique(past.time_ns // NS_PER_DAY))
        if distinct < MIN_EVIDENCE_DAYS:
            rows.append(
                _not_forecast(
                    {**row, "cases_per_day": np.nan},
                    f"not forecast: evidence on only {distinct} distinct day"
                    f"{'s' if distinct != 1 else ''} (needs {MIN_EVIDENCE_DAYS} to estimate "
                    "how fast cases arrive)",
                )
            )
            continue
        # The posterior rests on the windowed counts the policy grades; for cumulative
        # grading on the recent counts, since classes keep learning.
        if span is None:
            posterior = past.daily(first_day_ns, ACCRUAL_DAYS).sum(axis=1)
        else:
            posterior = np.array([metrics[c] for c in COUNT_COLUMNS], dtype=np.int64)
        age = _evidence_age(span, past_days, rate_normal + rate_adv)
        first = np.empty(n_sims)
        batch = max(1, SIM_BATCH_CELLS // days)
        for start in range(0, n_sims, batch):
            size = min(batch, n_sims - start)
            arrivals = _simulated_arrivals(
                rng,
                size,
                days,
                (rate_normal, rate_adv),
                posterior,
                trends if trend else (None, None),
                age,
            )
            graded = _graded_days(
                evidence, index, arrivals, as_of.value, window, t, int(top), policy.graduation
            )
            reached = graded >= int(target)
            first[start : start + size] = np.where(
                reached.any(axis=1), reached.argmax(axis=1) + 1, np.inf
            )
        found_row, cdfs[action] = _summary(first, days, as_of, n_sims)
        rows.append({**row, **found_row})
    progress_bar.close()
    table = pd.DataFrame(rows, columns=FORECAST_COLUMNS)
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
    drifted: np.ndarray = 1 / (1 + np.exp(-(start[:, None] + slopes[:, None] * ahead[None, :])))
    return drifted


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
    window: Any = POLICY_WINDOW,
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
    window = resolve_window(window, policy)
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
        level = AutonomyState[str(row.next_state)]
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
    return _typed_backtest(rows)


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
        return _typed_backtest([])
    return pd.concat(frames, ignore_index=True)


def _typed_backtest(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Backtest rows as a frame whose columns have their types even when it is empty."""
    frame = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    for column in ("cut", "as_of", "p10_date", "p50_date", "p90_date", "actual_date"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["p_within_horizon"] = frame["p_within_horizon"].astype(np.float64)
    frame["within_band"] = frame["within_band"].astype(bool)
    return frame
