"""Graduation forecasts: when will each action class reach its next state?

The forecast is built on the engine (:mod:`warrantd.analytics._engine`): the
state now, the window sums and the rule are the engine's, so a simulated future
with no new cases grades exactly as :meth:`Replay.state_at` does (a differential
test holds it to that for every kind of window). Real eval histories arrive as
*runs* (a suite run whole at one moment, then nothing for weeks), not as a steady
stream, and their agents change; :func:`forecast` models both, in five steps per
class of the policy:

1. **Where the class stands**: its state when the forecast is made, its next state,
   the bars it does not clear yet (``blocked_on``), its eval runs (the cases
   sharing a ``run_id``, or Inspect's / promptfoo's ``eval_id``; else the cases at
   one timestamp: :data:`~warrantd.analytics.quality.RUN_COLUMNS`) and its
   *regime*: the runs since the ``agent_version`` (or the policy's ``reset_on``
   column, or ``regime=``) last changed. Classes with no evidence, with evidence
   on fewer than :data:`~warrantd.analytics.quality.MIN_EVIDENCE_DAYS` distinct
   days or from fewer than :data:`~warrantd.analytics.quality.MIN_RUNS` runs are
   not simulated: ``note`` says why.
2. **How runs arrive** (:func:`_arrivals`): the runs started over the last
   :data:`LOOKBACK_DAYS` whole days up to when the forecast is made (the class's
   age when younger). What arrives is an *eval day* (a UTC day with runs, bringing
   all of them: bursts stay bursts), and eval days come in bursts of their own:
   whether a day is one follows a two-state Markov chain whose two chances (an eval
   day after a quiet day, after an eval day) each simulation draws from their Beta
   posteriors (:meth:`_Arrivals.started`); each eval day brings the runs of an
   observed one drawn at random. A history whose runs cannot be told apart (one
   case per timestamp, no run id) is a stream of one-case runs, a day of them at a
   time. A forecast made after its last evidence (``now``) knows nothing came in
   between: the quiet days count in the chain and no run starts before ``now``.
3. **How pass rates move** (:func:`_pass_paths`): each rate drawn from its Beta
   posterior (Jeffreys prior) given the current regime's runs in the policy's
   window (cumulative grading: the last :data:`ACCRUAL_DAYS` days), at least its
   latest run; with ``trend=True`` moved along the trend across the regime's runs
   (:func:`_trend`: the change in logit pass rate between the earlier and the later
   half of its recent runs, whatever the gaps between them; off, with the reason
   in ``trend_note``, when it cannot be estimated), never extrapolated further
   than it was measured over; and, where regimes change, each simulated eval day
   starts a new regime with the chance eval days did (its posterior), each at the
   class's line (:func:`_line`, the regimes' mean, each regime counted once),
   moved along its drift across regimes (:func:`_drift`, a slope drawn per
   simulation), plus a normal offset whose spread is learnt from the
   history's past changes (:func:`_jump_sd`) and drawn per simulation from what
   they say of it (:func:`_jump_sds`).
4. **Grading** (:func:`_graded_days`): simulated day ``k`` ends at
   ``as_of + k days``; its cases arrive then, and the state is graded there with
   the policy's own window over the real evidence (at its exact timestamps) and
   the simulated days together, by the engine's window definition and rule.
5. **Summary** (:func:`_summary`): P(reaching the next state within the
   horizon), the 10th / 50th / 90th percentile dates, and per class the
   probability of having graduated by each day (``Forecast.cdf(action)``).

Simulations run in batches of at most :data:`SIM_BATCH_CELLS` (simulation x day)
cells (fewer when many runs a day are drawn into them), so memory does not grow
with the horizon (at most :data:`MAX_HORIZON_DAYS`). Same seed, same forecast.

:func:`backtest` cuts a history, forecasts at the cut and checks the forecast
against what the replay of the full history shows actually happened, in simulated
days since the last evidence (:func:`within_band`); :func:`backtests` does it at
several cuts;
:func:`backtest_scores` says how honest they were (graduated-class coverage,
committed-date accuracy, Brier skill against the base rate, reliability);
:func:`backtest_plan` picks cuts and a backtest horizon that fit a history.
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from ..autonomy import AutonomyState
from ..errors import OptionError
from ..graduation import (
    CRITERIA,
    GraduationSettings,
    GraduationThresholds,
    ceiling,
    evidence_met,
    wilson_bounds,
)
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
    timestamps_ns,
    window_sums,
)
from ._progress import bar as progress_bar_of
from .metrics import metrics_frame_at
from .quality import MIN_EVIDENCE_DAYS, MIN_RUNS, RUN_COLUMNS
from .replay import replay

__all__ = [
    "ACCRUAL_DAYS",
    "COMMITTED_P",
    "LOOKBACK_DAYS",
    "MAX_HORIZON_DAYS",
    "MIN_EVIDENCE_DAYS",
    "MIN_REGIME_CHANGES",
    "MIN_RUNS",
    "MIN_TREND_DAYS",
    "MIN_TREND_RUNS",
    "REGIME_FROM_POLICY",
    "BacktestPlan",
    "BacktestScores",
    "Forecast",
    "backtest",
    "backtest_plan",
    "backtest_scores",
    "backtests",
    "chance_text",
    "check_horizon",
    "forecast",
    "regime_column",
    "within_band",
]

#: Cumulative grading: the pass-rate posterior rests on the last this many days of
#: the current regime (classes keep learning), and at least its latest run.
ACCRUAL_DAYS = 28
#: Runs arrive at the rate seen over this many whole days (about a quarter): long
#: enough that one burst of runs, or one quiet month, is not taken for the pace.
LOOKBACK_DAYS = 91
#: The longest horizon a forecast simulates (ten years).
MAX_HORIZON_DAYS = 3650
#: Simulated (simulation x day) cells per batch: memory stays bounded whatever the
#: horizon and the number of simulations (four int64 arrays of this size at a time).
SIM_BATCH_CELLS = 1_000_000
#: A trend needs at least this many runs of the current regime (half a side) ...
MIN_TREND_RUNS = 4
#: ... whose halves' middles lie at least this many days apart.
MIN_TREND_DAYS = 7
#: Jumps at regime changes are simulated once the history shows this many changes.
MIN_REGIME_CHANGES = 3
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
    cleared, with its distance), ``note`` (why it was not forecast), ``runs`` (all
    its eval runs), ``runs_per_day`` / ``cases_per_run`` / ``cases_per_day`` over
    the lookback, ``regime`` (the column, its current value and since when),
    ``pass_rate_trend`` and ``adversarial_pass_rate_trend`` (the later half's rate
    minus the earlier half's, NaN when there is none), ``trend_note`` (why the
    forecast has no trend: empty when it has one), ``p_within_horizon`` and the
    ``p10_date`` / ``p50_date`` / ``p90_date`` of reaching the next state (NaT when
    that percentile falls beyond the horizon), and ``given_p10_date`` /
    ``given_p50_date`` / ``given_p90_date``: the same percentiles among the
    simulations that reach it within the horizon (NaT when none does). The
    ``given_`` band is the one to show beside ``p_within_horizon``: "P = 40%; if it
    does, between these dates". It is finite whenever P > 0. ``given_band_share``:
    the share of those simulations inside it, at least 0.8 whatever P was (whole
    days, both ends in: more where they crowd onto few days), the share of its
    graduations within the horizon a calibrated forecast puts inside it;
    ``band_share`` the same for the plain band, about (P - 0.1) / P when P < 0.9
    (:class:`BacktestScores`). ``cdfs``: per action, P(graduated by day d) for d =
    1 .. horizon days.
    """

    table: pd.DataFrame
    cdfs: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    horizon: pd.Timedelta
    window: Window
    n_sims: int
    seed: int
    trend: bool = True
    regime: str | None = None
    #: When the forecast was made (``forecast(now=...)``; ``as_of`` by default).
    now: pd.Timestamp | None = None

    def cdf(self, action: str) -> pd.DataFrame:
        """Columns ``day``, ``date``, ``probability``: P(next state reached by that day)."""
        return self.cdfs[action]


def chance_text(p: Any) -> str:
    """A chance as a reader should see it: whole percent, but never "0%" or "100%"
    for what some simulations did and some did not ("<1%", ">99%"); "—" for none."""
    if p is None or pd.isna(p):
        return "—"
    shown = f"{p:.0%}"
    if shown == "0%" and p > 0:
        return "<1%"
    if shown == "100%" and p < 1:
        return ">99%"
    return shown


def _shown(value: float, bar: float) -> tuple[str, str]:
    """A value and a bar with enough digits that "0.90 < 0.90" never shows."""
    for digits in (2, 3, 4, 6):
        a, b = f"{value:.{digits}f}", f"{bar:.{digits}f}"
        if a != b:
            return a, b
    return repr(value), repr(bar)


#: The count a rate is measured over, by metric.
_CASES_OF = {"pass_rate": "n_normal", "adversarial_pass_rate": "n_adversarial"}


#: The passed count of a rate, by metric (the evidence rules read counts, not rates).
_PASSED_OF = {"pass_rate": "passed_normal", "adversarial_pass_rate": "passed_adversarial"}


def _blocked_on(
    metrics: pd.Series,
    thresholds: GraduationThresholds,
    target: AutonomyState,
    level: float,
    settings: GraduationSettings,
) -> list[str]:
    """Every bar of ``target`` not yet cleared (by :data:`~warrantd.graduation.CRITERIA`,
    a rate under the policy's evidence rule, :func:`~warrantd.graduation.evidence_met`),
    with its distance: cases still needed, or the rate against its bar and interval."""
    counts, rates = [], []
    for criterion in CRITERIA:
        value, bar = metrics[criterion.metric], getattr(thresholds, criterion.bar)[target]
        if criterion.met(value, bar) and not _bound_short(criterion.metric, metrics, bar, settings):
            continue
        if criterion.kind == "count":
            counts.append(f"needs {int(bar - value):,} more cases")
        elif metrics[_CASES_OF[criterion.metric]] == 0:
            rates.append(f"{criterion.label}: no such cases in the window (counts as 0)")
        elif criterion.met(value, bar):  # the estimate is there, its bound is not
            a, b = _shown(float(value), float(bar))
            rates.append(
                f"{criterion.label} {a} >= {b}, but its {settings.evidence} lower bound "
                f"(alpha {settings.alpha:g}) is below the bar"
            )
        else:
            lo, hi = metrics[f"{criterion.metric}_lo"], metrics[f"{criterion.metric}_hi"]
            a, b = _shown(float(value), float(bar))
            rates.append(f"{criterion.label} {a} < {b} ({level:.0%} CI {lo:.2f}-{hi:.2f})")
    return counts + rates


def _bound_short(metric: str, metrics: pd.Series, bar: float, settings: GraduationSettings) -> bool:
    """Whether a rate whose estimate meets ``bar`` still fails the policy's evidence rule."""
    if settings.evidence == "point" or metric not in _PASSED_OF:
        return False
    n = int(metrics[_CASES_OF[metric]])
    if n == 0:  # no such cases: the rate counts as 0, judged as the estimate is
        return False
    passed = int(metrics[_PASSED_OF[metric]])
    met = evidence_met(settings.evidence, passed, n, passed / n, bar, settings.alpha)
    return not bool(met)


FORECAST_COLUMNS = [
    "action",
    "state",
    "next_state",
    "blocked_on",
    "note",
    "runs",
    "runs_per_day",
    "cases_per_run",
    "cases_per_day",
    "regime",
    "pass_rate_trend",
    "adversarial_pass_rate_trend",
    "trend_note",
    "p_within_horizon",
    "p10_date",
    "p50_date",
    "p90_date",
    "given_p10_date",
    "given_p50_date",
    "given_p90_date",
    "given_band_share",
    "band_share",
]

#: The forecast's date columns: the percentiles of all simulations, then of those
#: that reach the next state within the horizon.
_DATE_COLUMNS = [f"{given}p{q}_date" for given in ("", "given_") for q in (10, 50, 90)]


class _FromPolicy:
    """The default of ``regime``: the policy's ``reset_on``, else ``agent_version``."""

    def __repr__(self) -> str:
        return "REGIME_FROM_POLICY"


#: ``forecast(regime=REGIME_FROM_POLICY)``: a change of the column named by the
#: policy's ``[graduation] reset_on`` starts a new regime; with no ``reset_on``, a
#: change of ``agent_version`` when the history has that column.
REGIME_FROM_POLICY = _FromPolicy()


def regime_column(
    history: pd.DataFrame, policy: TrustPolicy, regime: str | _FromPolicy | None
) -> str | None:
    """The history column whose change starts a new regime, or None (no regimes).

    ``regime`` names it; :data:`REGIME_FROM_POLICY` reads the policy's
    ``reset_on`` (which the history must then have), else takes ``agent_version``
    when present. A named column the history lacks is an
    :class:`~warrantd.errors.OptionError` (``regime``).
    """
    if isinstance(regime, _FromPolicy):
        reset_on = policy.graduation.reset_on
        if reset_on is None:
            return "agent_version" if "agent_version" in history.columns else None
        regime = reset_on
    if regime is None:
        return None
    if not isinstance(regime, str) or regime not in history.columns:
        # The columns that could mark a regime: not the time, the class or the outcome.
        others = [str(c) for c in history.columns if c not in _NOT_REGIMES]
        close = difflib.get_close_matches(str(regime), others, n=1, cutoff=0.75)
        hint = f"did you mean {close[0]!r}? " if close else ""
        have = ", ".join(others) or "none but time, action and outcome"
        raise OptionError(
            "regime",
            f"{regime!r} is not a column of the history ({hint}its other columns: {have})",
        )
    return regime


#: History columns that hold the time, the class or the outcome of a case: never a regime.
_NOT_REGIMES = frozenset({"timestamp", "action", "n", "n_passed", "adversarial"})


@dataclass(frozen=True)
class _Runs:
    """One class's eval runs (see :data:`~warrantd.analytics.quality.RUN_COLUMNS`), in
    time order: each run's first timestamp, its counts ((4, runs) in COUNT_COLUMNS
    order) and its regime (an index into ``names``; all 0 without regimes)."""

    time_ns: np.ndarray
    counts: np.ndarray
    regime: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.time_ns)

    @property
    def cases(self) -> np.ndarray:
        return np.asarray(self.counts[0] + self.counts[2])

    def take(self, keep: np.ndarray) -> _Runs:
        return _Runs(self.time_ns[keep], self.counts[:, keep], self.regime[keep], self.names)

    def current_regime(self) -> np.ndarray:
        """Which runs belong to the current regime: the latest runs sharing the last
        run's regime, back to the last change (a change restarts it)."""
        changed = np.flatnonzero(self.regime[1:] != self.regime[:-1])
        start = int(changed[-1]) + 1 if len(changed) else 0
        return np.arange(len(self)) >= start

    def changes(self) -> np.ndarray:
        """Whether each run starts a new regime (the first run does not)."""
        out = np.zeros(len(self), dtype=bool)
        out[1:] = self.regime[1:] != self.regime[:-1]
        return out


def _runs_of(history: pd.DataFrame, regime: str | None) -> dict[str, _Runs]:
    """Every class's runs, from one grouping of the history's rows (no loop over rows)."""
    key = next((c for c in RUN_COLUMNS if c in history.columns), None)
    ts = timestamps_ns(history["timestamp"])
    if key is not None:
        ids, _ = pd.factorize(history[key])
        ids = np.asarray(ids, dtype=np.int64)
    else:
        ids = np.full(len(history), -1, dtype=np.int64)
    # A row with no run id forms a run with the class's other rows at its timestamp.
    run = np.where(ids >= 0, ids, ts)
    adversarial = history["adversarial"].to_numpy(dtype=bool)
    n = history["n"].to_numpy(dtype=np.int64)
    passed = history["n_passed"].to_numpy(dtype=np.int64)
    names: tuple[str, ...] = ("",)
    regime_codes = np.zeros(len(history), dtype=np.int64)
    if regime is not None:
        codes, uniques = pd.factorize(history[regime].astype("string").fillna("(none)"))
        regime_codes, names = np.asarray(codes, dtype=np.int64), tuple(map(str, uniques))
    frame = pd.DataFrame(
        {
            "action": history["action"].astype(str).to_numpy(),
            "has_id": ids >= 0,
            "run": run,
            "time": ts,
            "n_normal": np.where(adversarial, 0, n),
            "passed_normal": np.where(adversarial, 0, passed),
            "n_adversarial": np.where(adversarial, n, 0),
            "passed_adversarial": np.where(adversarial, passed, 0),
            "regime": regime_codes,
        }
    )
    runs = (
        frame.sort_values("time", kind="stable")
        .groupby(["action", "has_id", "run"], sort=False)
        .agg(
            time=("time", "min"),
            regime=("regime", "first"),
            **{c: (c, "sum") for c in COUNT_COLUMNS},
        )
        .reset_index()
        .sort_values(["action", "time", "run"], kind="stable")
    )
    out = {}
    for action, mine in runs.groupby("action", sort=True):  # classes, not rows
        out[str(action)] = _Runs(
            mine["time"].to_numpy(dtype=np.int64),
            mine[list(COUNT_COLUMNS)].to_numpy(dtype=np.int64).T.copy(),
            mine["regime"].to_numpy(dtype=np.int64),
            names,
        )
    return out


@dataclass(frozen=True)
class _Arrivals:
    """Step 2: how runs arrive. ``runs`` runs started in the last ``days`` whole UTC
    days (the lookback: :data:`LOOKBACK_DAYS`, or the class's age when younger);
    ``sizes`` holds their (normal, adversarial) case counts (the class's earlier
    runs' when none fell in the lookback), ``switches`` how many of them started a
    new regime (on ``switch_days`` of its ``eval_days``).

    Runs come in bursts: a suite is run several times on one day, then not for
    weeks. What arrives is therefore an *eval day* (a UTC day with runs), bringing
    the runs of an observed eval day: ``day_sizes`` holds each such day's (normal,
    adversarial) case counts (None: each run is a unit of its own). Days of several
    runs make the count of cases over a horizon vary as much as it did, where runs
    started one by one would smooth the bursts away and give a band too narrow.

    Eval days come in bursts too (a suite run on three days in a row, then not for
    weeks): whether a day is an eval day is a two-state Markov chain over the
    lookback's days, read from ``chain`` = (quiet days followed by another day of the
    lookback, how many of those next days were eval days; eval days followed by
    another day, how many of those next days were eval days). See :meth:`started`.
    """

    runs: int
    days: int
    sizes: np.ndarray  # (2, runs)
    switches: int
    day_sizes: np.ndarray | None = None  # (2, eval days)
    eval_days: int = 0  # eval days in the lookback
    chain: tuple[int, int, int, int] = (0, 0, 0, 0)
    switch_days: int = 0  # eval days of the lookback on which a run started a regime

    @property
    def runs_per_day(self) -> float:
        return self.runs / self.days

    @property
    def cases_per_run(self) -> float:
        return float(self.sizes.sum() / self.runs) if self.runs else 0.0

    @property
    def units(self) -> np.ndarray:
        """(2, units): the sizes of what arrives, eval days (or runs)."""
        return self.sizes if self.day_sizes is None else self.day_sizes

    def chances(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Each simulation's chance that a day is an eval day after a quiet day
        (``start``) and after an eval day (``stay``), drawn from their posteriors:
        Beta(next days that were eval days + 1/2, next days that were quiet + 1/2),
        the Jeffreys prior."""
        quiet, quiet_then_eval, busy, busy_then_eval = self.chain
        start = rng.beta(quiet_then_eval + 0.5, quiet - quiet_then_eval + 0.5, size)
        stay = rng.beta(busy_then_eval + 0.5, busy - busy_then_eval + 0.5, size)
        return start, stay

    def started(
        self, rng: np.random.Generator, size: int, days: int, open_days: np.ndarray | None = None
    ) -> np.ndarray:
        """(size, days) 0 / 1: whether each simulated day is an eval day.

        Simulated day ``k`` follows day ``k - 1`` by the chain (:meth:`chances`,
        drawn per simulation). Day 0 is the last evidence's, an eval day. Days wholly
        before the forecast is made (``open_days`` 0) are known to be quiet: the
        chain restarts from a quiet day after them, and the first day open for part
        of its length is an eval day only for that part (``open_days``).

        Drawn a stretch at a time, not a day at a time: a chain's stretches of eval
        days last Geometric(1 - stay) days and its quiet stretches Geometric(start)
        (both memoryless, so the stretch under way continues for one of them less a
        day), so each simulation's days are a few geometric draws placed end to end.
        """
        share = np.ones(days) if open_days is None else open_days
        known = int(np.count_nonzero(share == 0))  # whole days known to be quiet
        left = days - known
        start, stay = self.chances(rng, size)
        # A chance of 0 or 1 to within floating point would make an endless stretch:
        # no stretch is drawn longer than the days left.
        start = np.clip(start, 1e-12, 1.0)[:, None]
        leave = np.clip(1.0 - stay, 1e-12, 1.0)[:, None]
        stretches = 2 * left + 2  # every stretch but the first lasts a day or more
        busy_first = known == 0
        odd = np.arange(stretches) % 2 == 1
        # Stretch 0 continues the state of the day before the first open day (an
        # eval day when none is known quiet); then the states alternate.
        busy = ~odd if busy_first else odd
        chance = np.where(busy[None, :], leave, start)
        lengths = np.minimum(rng.geometric(chance, (size, stretches)), left + 1)
        lengths[:, 0] -= 1
        reach = np.cumsum(lengths, axis=1)
        ends, begins = np.minimum(reach, left), np.minimum(reach - lengths, left)
        # Eval stretches mark [begin, end) of the open days: +1 / -1, summed along
        # (one bincount over every simulation's row at once).
        row = (np.arange(size, dtype=np.int64) * (left + 1))[:, None]
        cells = size * (left + 1)
        mark = np.bincount((row + begins)[:, busy].ravel(), minlength=cells) - np.bincount(
            (row + ends)[:, busy].ravel(), minlength=cells
        )
        out = np.zeros((size, days), dtype=np.int64)
        out[:, known:] = np.cumsum(mark.reshape(size, left + 1), axis=1)[:, :left] > 0
        if left:
            part = share[known]  # the first open day may be open for part of it only
            out[:, known] &= rng.random(size) < part
        return out


def _arrivals(runs: _Runs, now_ns: int) -> _Arrivals:
    """Step 2: the runs of the lookback (whole UTC days up to the day the forecast is
    made, that day included). A class younger than the lookback is looked at from its
    first eval day, which is where the chain starts, not evidence of its pace.

    The day the forecast is made counts as quiet when it has no run so far, however
    little of it has passed (at a backtest's midnight cut, none). Leaving it out is
    the cleaner reading, but measured it made the forecast worse (graduated coverage
    on the run-based backtest test 59% -> 52%, against 65% calibrated): the chain
    counts UTC days while the simulated days start at ``as_of``, and the extra quiet
    day offsets that. Putting the chain on the simulated days' grid (day k ending at
    ``as_of + k days``, the half-passed day left out) was tried on 2026-11-26: over
    the calibration benchmark's 1,319 forecasts it changed little (Brier 0.089 ->
    0.088, 239 -> 243 graduations expected of 270, the band shown 81% either way),
    and on the run-based backtest test's seeds it scored worse (plain band 59% ->
    48% of 29, skill +0.35 -> +0.33), so UTC days stay."""
    today = now_ns // NS_PER_DAY
    first = int(runs.time_ns.min()) // NS_PER_DAY
    days = int(min(LOOKBACK_DAYS, today - first + 1))
    recent = runs.time_ns // NS_PER_DAY > today - days
    # A quiet lookback still has a chain that can start runs: they take the sizes of
    # the class's earlier runs.
    sized = recent if recent.any() else np.ones(len(runs), dtype=bool)
    sizes = np.stack([runs.counts[0, sized], runs.counts[2, sized]])
    _, day = np.unique(runs.time_ns[sized] // NS_PER_DAY, return_inverse=True)
    day_sizes = np.stack([np.bincount(day, weights=k).astype(np.int64) for k in sizes])
    changes = runs.changes()
    busy_days = np.unique(runs.time_ns[recent] // NS_PER_DAY)
    busy = np.zeros(days, dtype=bool)
    busy[busy_days - (today - days + 1)] = True
    before, after = busy[:-1], busy[1:]
    chain = (
        int(np.count_nonzero(~before)),
        int(np.count_nonzero(~before & after)),
        int(np.count_nonzero(before)),
        int(np.count_nonzero(before & after)),
    )
    return _Arrivals(
        int(recent.sum()),
        days,
        sizes,
        int(changes[recent].sum()),
        day_sizes,
        len(busy_days),
        chain,
        len(np.unique(runs.time_ns[recent & changes] // NS_PER_DAY)),
    )


def _simulated_arrivals(
    rng: np.random.Generator,
    started: np.ndarray,
    arrivals: _Arrivals,
    paths: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Step 3: (4, sims, days) simulated counts per day, in COUNT_COLUMNS order.

    ``started`` (sims, days) holds how many units (eval days, or runs:
    :attr:`_Arrivals.units`) start on each simulated day (:meth:`_Arrivals.started`);
    each is the size of an observed one drawn at random (the whole unit: its normal
    and adversarial cases together); each case passes with its day's probability
    from ``paths``.
    """
    sims, days = started.shape
    sizes = arrivals.units
    if len(np.unique(sizes, axis=1).T) == 1:  # every run the same size: no draws needed
        new_norm, new_adv = started * sizes[0, 0], started * sizes[1, 0]
    else:
        drawn = rng.integers(0, sizes.shape[1], int(started.sum()))
        cell = np.repeat(np.arange(sims * days), started.ravel())
        new_norm, new_adv = (
            np.bincount(cell, weights=sizes[k, drawn], minlength=sims * days)
            .astype(np.int64)
            .reshape(sims, days)
            for k in (0, 1)
        )
    pass_norm = rng.binomial(new_norm, paths[0])
    pass_adv = rng.binomial(new_adv, paths[1])
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
    evidence rule of ``settings`` (the policy's). No state is handed on (each day is
    graded alone): the forecast asks when a class first reaches a state above the one
    it holds, and a state is only ever reached on the rule's own measure, never by
    holding one. One limit: under a time window evidence also leaves between the days,
    and a state reached at such a moment and held is seen here a day late, or not at
    all if no day's end grades it; the days graded are never early.

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
    graded = graded_states(  # no ``starts``: each simulated day graded alone
        *rates,
        thresholds,
        np.full(sims * days, top, dtype=np.int8),
        counts=counts,
        settings=settings,
    )
    return graded.reshape(sims, days)


def _only(evidence: Evidence, index: int) -> Evidence:
    """The evidence of one class, as an :class:`Evidence` of its own (its resets kept)."""
    lo, hi = int(evidence.bounds[index]), int(evidence.bounds[index + 1])
    segments = evidence.segment_start
    return Evidence(
        (evidence.actions[index],),
        np.array([0, hi - lo]),
        evidence.time_ns[lo:hi],
        evidence.counts[:, lo:hi],
        {},
        None if segments is None else segments[lo:hi] - lo,
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
    """Step 5: P(within horizon), percentile dates (of all simulations, and of those
    that reach the next state within the horizon) and the cdf of the first day reached."""
    row: dict[str, Any] = {"p_within_horizon": float(np.isfinite(first).mean())}
    reached = first[np.isfinite(first)].astype(int)
    plain, given = {}, {}
    for q in (10, 50, 90):
        plain[q] = np.percentile(first, q, method="inverted_cdf")
        row[f"p{q}_date"] = as_of + plain[q] * _DAY if np.isfinite(plain[q]) else pd.NaT
        given[q] = int(np.percentile(reached, q, method="inverted_cdf")) if len(reached) else 0
        row[f"given_p{q}_date"] = as_of + given[q] * _DAY if len(reached) else pd.NaT
    # What a calibrated forecast puts inside each band, of the simulations that reach the
    # next state: at least 0.8 for the given band (whole days, both ends in), more where
    # they crowd onto few days; for the plain band, which ends at the horizon when its
    # p90 lies beyond, (P - 0.1) / P or more.
    row["given_band_share"] = (
        float(np.mean((reached >= given[10]) & (reached <= given[90]))) if len(reached) else np.nan
    )
    row["band_share"] = (
        float(np.mean((reached >= plain[10]) & (reached <= min(plain[90], days))))
        if len(reached)
        else np.nan
    )
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
        **{column: pd.NaT for column in _DATE_COLUMNS},
        "given_band_share": np.nan,
        "band_share": np.nan,
    }


def _check_counts(n_sims: Any, seed: Any) -> None:
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 1:
        raise OptionError("n_sims", f"must be a positive number of simulations, not {n_sims!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError("seed", f"must be a whole number >= 0, not {seed!r}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


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
    regime: str | _FromPolicy | None = REGIME_FROM_POLICY,
    progress: bool = False,
    now: Any = None,
) -> Forecast:
    """Forecast each action's next graduation; see the module docstring.

    ``now`` is the moment the forecast is made (default: the last evidence,
    ``as_of``). No case arrived between ``as_of`` and ``now``, and the forecast
    knows it: the state and the bars are those at ``now``, the rate of runs is
    measured over the lookback up to ``now`` (the quiet days count), and no
    simulated run starts before ``now``. Days are still counted from ``as_of``
    (simulated day ``k`` ends at ``as_of + k days``, the horizon included), so a
    forecast made later, with nothing new, covers less of its horizon.

    Every class of the policy gets a row. A class with no evidence, with evidence
    on fewer than :data:`MIN_EVIDENCE_DAYS` distinct days, or from fewer than
    :data:`MIN_RUNS` runs, is not simulated: its ``note`` says why and its
    probabilities are empty. ``regime`` names the column whose change starts a new
    regime (see :func:`regime_column`; None: no regimes). ``window`` defaults to the
    policy's ``[graduation] window``.
    """
    window = resolve_window(window, policy)
    span = check_window(window)
    days = check_horizon(horizon)
    _check_counts(n_sims, seed)
    column = regime_column(history, policy, regime)
    as_of = history["timestamp"].max()
    made = _made_at(now, as_of)
    open_days = _open_days(as_of.value, made.value, days)
    reset_on = policy.graduation.reset_on
    now = metrics_frame_at(history, made, window=window, level=level, reset_on=reset_on)
    now = now.set_index("action")
    # The evidence the policy grades: restarted at each change of its reset_on column.
    evidence = evidence_of(history, reset_on=reset_on)
    if policy.graduation.holds_state:
        # Under hysteresis the state held depends on the path: read off the replay.
        state_now = replay(history, policy, window=window).state_at(made)
    else:
        state_now = states_at(evidence, policy, window, made.value)
    all_runs = _runs_of(history, column)
    jump_sd = _jump_sd(all_runs)
    # The spread of regime jumps is learnt from every class's changes (one draw per
    # simulation, shared); each class then draws from a stream of its own, so changing
    # one class's policy, or adding a class, leaves every other class's forecast as it was.
    jump_sds = _jump_sds(all_runs, np.random.default_rng(seed), n_sims)
    rows, cdfs = [], {}
    progress_bar = progress_bar_of(len(policy.actions), "forecast", progress, unit="class")
    for action in sorted(policy.actions):
        progress_bar.update(1)
        rng = _class_stream(seed, action)
        top = ceiling(policy.action(action))
        state = state_now.get(action, AutonomyState.MANUAL)
        row: dict[str, Any] = {
            "action": action,
            "state": state.name,
            "note": "",
            # Every class's runs, forecast or not (a class at its ceiling has them too).
            "runs": len(all_runs[action]) if action in all_runs else 0,
            "runs_per_day": np.nan,
            "cases_per_run": np.nan,
            "cases_per_day": np.nan,
            "regime": "",
            "pass_rate_trend": np.nan,
            "adversarial_pass_rate_trend": np.nan,
            "trend_note": "",
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
        blocked = _blocked_on(metrics, t, target, level, policy.graduation)
        row["blocked_on"] = "; ".join(blocked) or "clears every bar"
        index = evidence.actions.index(action)
        runs = all_runs[action]
        distinct = len(
            np.unique(
                evidence.time_ns[evidence.bounds[index] : evidence.bounds[index + 1]] // NS_PER_DAY
            )
        )
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
        if len(runs) < MIN_RUNS:
            rows.append(
                _not_forecast(
                    row,
                    f"not forecast: evidence from only {_plural(len(runs), 'eval run')} "
                    f"(needs {MIN_RUNS} to estimate how often runs arrive and how large they are)",
                )
            )
            continue
        arrivals = _arrivals(runs, made.value)
        row["runs_per_day"] = arrivals.runs_per_day
        row["cases_per_run"] = arrivals.cases_per_run
        row["cases_per_day"] = arrivals.runs_per_day * arrivals.cases_per_run
        current = runs.current_regime()
        if column is not None:
            since = pd.Timestamp(int(runs.time_ns[current][0]), tz="UTC")
            name = runs.names[int(runs.regime[-1])]
            row["regime"] = f"{column} = {name} since {since:%Y-%m-%d}"
        found = [_trend(runs, kind, as_of.value) for kind in (0, 2)]
        trends = (found[0][0], found[1][0])
        for column_name, one in zip(
            ("pass_rate_trend", "adversarial_pass_rate_trend"), trends, strict=True
        ):
            row[column_name] = np.nan if one is None else one.late - one.early
        if not trend:
            row["trend_note"] = "trend off: not asked for"
            trends = (None, None)
        else:
            has_adversarial = bool(runs.counts[2].sum())
            why = [f"pass rate: {found[0][1]}"] if found[0][0] is None else []
            if has_adversarial and found[1][0] is None:
                why.append(f"adversarial pass rate: {found[1][1]}")
            row["trend_note"] = ("trend off for " + "; ".join(why)) if why else ""
        keep = _posterior_runs(runs, span, as_of.value)
        posterior = runs.counts[:, keep].sum(axis=1)
        weights = runs.cases[keep]
        ages = (as_of.value - runs.time_ns[keep]) / NS_PER_DAY
        age = float(np.average(ages, weights=weights)) if weights.sum() else float(ages.mean())
        first = np.empty(n_sims)
        regimes = None
        if jump_sds.any():
            line, line_age = _line(runs, as_of.value, jump_sd)
            # A new regime comes with an eval day: the chance that one does, drawn
            # per simulation from its posterior (Jeffreys).
            switched, busy = arrivals.switch_days, arrivals.eval_days
            chances = rng.beta(switched + 0.5, busy - switched + 0.5, n_sims)
            drift = _drift(runs, as_of.value, jump_sd)
            regimes = _Regimes(chances, jump_sds, line, line_age, drift)
        # Bounded memory: (simulation x day) cells (at most one eval day each), and
        # the chain's stretches (two a day).
        batch = max(1, SIM_BATCH_CELLS // (2 * days))
        for start in range(0, n_sims, batch):
            size = min(batch, n_sims - start)
            chunk = slice(start, start + size)
            started = arrivals.started(rng, size, days, open_days)
            paths = _pass_paths(
                rng,
                size,
                days,
                posterior,
                trends,
                age,
                None
                if regimes is None
                else replace(regimes, chances=regimes.chances[chunk], sd=regimes.sd[chunk]),
                started,
            )
            simulated = _simulated_arrivals(rng, started, arrivals, paths)
            graded = _graded_days(
                evidence, index, simulated, as_of.value, window, t, int(top), policy.graduation
            )
            # A day over before the forecast was made cannot be when the state is
            # reached: it was graded on evidence that has since expired (the state in
            # force at `made` already counts what happened on it).
            reached = (graded >= int(target)) & (open_days > 0)[None, :]
            first[chunk] = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, np.inf)
        found_row, cdfs[action] = _summary(first, days, as_of, n_sims)
        rows.append({**row, **found_row})
    progress_bar.close()
    table = pd.DataFrame(rows, columns=FORECAST_COLUMNS)
    for date_column in _DATE_COLUMNS:
        table[date_column] = pd.to_datetime(table[date_column], utc=True)
    return Forecast(
        table, cdfs, as_of, pd.Timedelta(days=days), window, n_sims, seed, trend, column, made
    )


def _class_stream(seed: int, action: str) -> np.random.Generator:
    """The random stream of one class's simulations: from the seed and the class's name
    (a CRC-32 of its UTF-8 bytes, the same on every machine), never from its place
    among the other classes."""
    return np.random.default_rng([seed, zlib.crc32(action.encode("utf-8"))])


def _made_at(now: Any, as_of: pd.Timestamp) -> pd.Timestamp:
    """``now`` as a UTC timestamp, ``as_of`` when None; never before ``as_of``."""
    if now is None:
        return as_of
    try:
        made = _as_utc(now)
    except (ValueError, TypeError):
        raise OptionError("now", f"{now!r} is not a moment in time") from None
    if pd.isna(made):
        raise OptionError("now", f"{str(now)!r} is not a moment in time")
    if made < as_of:
        raise OptionError(
            "now", f"{str(now)!r} is before the last evidence of the history ({as_of})"
        )
    return made


def _open_days(as_of_ns: int, now_ns: int, days: int) -> np.ndarray:
    """(days,) the share of each simulated day after ``now``: day ``k`` spans
    ``(as_of + (k - 1) days, as_of + k days]``. A day with share 0 was over before the
    forecast was made (no eval day, and not a day the state can be reached on); the
    first open day is an eval day only for its share (:meth:`_Arrivals.started`)."""
    ends = np.arange(1, days + 1, dtype=np.float64) - (now_ns - as_of_ns) / NS_PER_DAY
    shares: np.ndarray = np.clip(ends, 0.0, 1.0)
    return shares


def _logit(p: Any) -> Any:
    return np.log(p) - np.log1p(-p)


def _posterior_runs(runs: _Runs, span: int | pd.Timedelta | None, as_of_ns: int) -> np.ndarray:
    """Which runs the pass-rate posterior rests on: the current regime's runs in the
    policy's window (for cumulative grading, the last :data:`ACCRUAL_DAYS` days:
    classes keep learning); at least the latest run."""
    if isinstance(span, pd.Timedelta):
        recent = runs.time_ns > as_of_ns - span.value
    elif isinstance(span, int):  # the latest runs covering the window's cases
        after = np.cumsum(runs.cases[::-1])[::-1] - runs.cases  # cases of later runs
        recent = after < span
    else:
        recent = runs.time_ns > as_of_ns - ACCRUAL_DAYS * NS_PER_DAY
    keep = runs.current_regime() & recent
    keep[-1] = True
    return keep


@dataclass(frozen=True)
class _Trend:
    """A pass rate over the earlier and the later half of recent runs, and its slope."""

    early: float
    late: float
    slope: float  # logit per day
    slope_se: float
    span_days: float  # from the first run to the last: how long it was measured over


def _halves(n: np.ndarray, passed: np.ndarray, t: np.ndarray) -> tuple[_Trend | None, str]:
    """The trend across one regime's runs (time order): see :func:`_trend`."""
    if len(n) < MIN_TREND_RUNS:
        return None, f"{_plural(len(n), 'run')} (needs {MIN_TREND_RUNS})"
    cum = np.cumsum(n)
    side = MIN_TREND_RUNS // 2
    candidates = np.arange(side - 1, len(n) - side)  # last index of the early half
    split = int(candidates[np.argmin(np.abs(cum[candidates] - cum[-1] / 2))]) + 1
    halves = [slice(0, split), slice(split, len(n))]
    middles = [float(np.average(t[h], weights=n[h])) for h in halves]
    apart = (middles[1] - middles[0]) / NS_PER_DAY
    if apart < MIN_TREND_DAYS:
        return None, (
            f"{_plural(len(n), 'run')} whose halves' middles are only {apart:.1f} days apart "
            f"(needs {MIN_TREND_DAYS})"
        )
    n_early, n_late = float(n[halves[0]].sum()), float(n[halves[1]].sum())
    # Jeffreys-smoothed rates keep the logits finite at 0% and 100%.
    early = float((passed[halves[0]].sum() + 0.5) / (n_early + 1.0))
    late = float((passed[halves[1]].sum() + 0.5) / (n_late + 1.0))
    variance = 1 / (n_early * early * (1 - early)) + 1 / (n_late * late * (1 - late))
    slope = (_logit(late) - _logit(early)) / apart
    measured = float(t[-1] - t[0]) / NS_PER_DAY  # the trend is not extrapolated beyond it
    return _Trend(early, late, slope, float(np.sqrt(variance)) / apart, measured), ""


def _trend(runs: _Runs, kind: int, as_of_ns: int) -> tuple[_Trend | None, str]:
    """The trend of one kind of case (0 normal, 2 adversarial) across runs, and why
    there is none when it cannot be estimated.

    The runs are those of the lookback (:data:`LOOKBACK_DAYS`) with cases of that
    kind, taken regime by regime: a change of regime is a jump (:func:`_pass_paths`),
    and a jump read as a trend forecasts early. Each regime's runs are split, in
    time order, into two halves of about equal cases (at least
    :data:`MIN_TREND_RUNS` runs in all, half of them a side); its slope is the change
    in logit pass rate between the halves over the days between their case-weighted
    middles (at least :data:`MIN_TREND_DAYS`), with its delta-method standard error.
    Gaps between runs do not matter: only runs count. The slopes of the regimes that
    have one are pooled by inverse variance; ``early`` / ``late`` are the latest such
    regime's, and the trend is extrapolated no further than the longest span a
    regime's slope was measured over.
    """
    today = as_of_ns // NS_PER_DAY
    keep = (runs.time_ns // NS_PER_DAY > today - LOOKBACK_DAYS) & (runs.counts[kind] > 0)
    n, passed, t = runs.counts[kind, keep], runs.counts[kind + 1, keep], runs.time_ns[keep]
    regimes = runs.regime[keep]
    block = np.zeros(len(regimes), dtype=np.int64)
    block[1:] = np.cumsum(regimes[1:] != regimes[:-1])
    found, reasons = [], []
    for b in np.unique(block):  # regimes, not rows
        mine = block == b
        trend, why = _halves(n[mine], passed[mine], t[mine])
        if trend is not None:
            found.append(trend)
        else:
            reasons.append(why)
    if not found:
        if len(reasons) > 1:
            return None, (
                f"none of the {len(reasons)} regimes of the last {LOOKBACK_DAYS} days has "
                f"enough runs (the latest: {reasons[-1]})"
            )
        return None, f"{reasons[-1] if reasons else 'no runs'} over the last {LOOKBACK_DAYS} days"
    weights = np.array([1 / f.slope_se**2 for f in found])
    latest = found[-1]
    pooled = _Trend(
        latest.early,
        latest.late,
        float(np.average([f.slope for f in found], weights=weights)),
        float(1 / np.sqrt(weights.sum())),
        max(f.span_days for f in found),
    )
    return pooled, ""


def _regime_levels(runs: _Runs, as_of_ns: int) -> tuple[np.ndarray, ...] | None:
    """Each regime (by its value: an agent run again is the same regime) with normal
    cases over the lookback (:data:`LOOKBACK_DAYS`): its normal cases ``n``, its
    (Jeffreys-smoothed) pass rate and its case-weighted middle in days since 1970;
    None when there is none."""
    today = as_of_ns // NS_PER_DAY
    keep = (runs.time_ns // NS_PER_DAY > today - LOOKBACK_DAYS) & (runs.counts[0] > 0)
    if not keep.any():
        return None
    _, block = np.unique(runs.regime[keep], return_inverse=True)
    n = np.bincount(block, weights=runs.counts[0, keep])
    rate = (np.bincount(block, weights=runs.counts[1, keep]) + 0.5) / (n + 1.0)
    # Days first: counts x nanoseconds since 1970 would overflow 64 bits.
    t = np.bincount(block, weights=runs.counts[0, keep] * (runs.time_ns[keep] / NS_PER_DAY)) / n
    return n, rate, t


def _line(runs: _Runs, as_of_ns: int, tau: float = 0.0) -> tuple[float, float]:
    """Where a new regime of the class is expected: the mean logit pass rate of the
    regimes of the lookback (:func:`_regime_levels`), each weighted by ``1 / (v +
    tau^2)`` (its sampling variance plus the spread of regimes about the line,
    :func:`_jump_sd`), and how many days before ``as_of`` their weighted middle lies.

    Each regime (an agent) is one draw of where agents put the class, whatever its
    number of runs: a regime run fifty times is known better, not more typical, so
    pooling the cases (as this did) let a long run of one bad agent set the level
    of every agent after it. With ``tau = 0`` it is the precision-weighted mean. A
    new regime starts around it (moved along the drift or the trend), not around
    the regime it replaces.
    """
    levels = _regime_levels(runs, as_of_ns)
    if levels is None:
        return 0.0, 0.0
    n, rate, t = levels
    w = 1 / (1 / (n * rate * (1 - rate)) + tau**2)
    middle = float(np.sum(w * t) / w.sum())
    return float(np.sum(w * _logit(rate)) / w.sum()), as_of_ns / NS_PER_DAY - middle


def _regime_changes(all_runs: Mapping[str, _Runs]) -> tuple[np.ndarray, np.ndarray]:
    """Every change of regime, in any class: the change ``d`` in (Jeffreys-smoothed)
    normal logit pass rate from one regime to the next, and its sampling variance."""
    deltas, noise = [np.zeros(0)], [np.zeros(0)]
    for runs in all_runs.values():  # classes, not rows
        changes = runs.changes()
        if not changes.any():
            continue
        block = np.cumsum(changes)
        n = np.bincount(block, weights=runs.counts[0])
        rate = (np.bincount(block, weights=runs.counts[1]) + 0.5) / (n + 1.0)
        both = (n[1:] > 0) & (n[:-1] > 0)
        variance = 1 / (np.maximum(n, 1) * rate * (1 - rate))
        deltas.append(np.diff(_logit(rate))[both])
        noise.append((variance[1:] + variance[:-1])[both])
    return np.concatenate(deltas), np.concatenate(noise)


def _jump_sd(all_runs: Mapping[str, _Runs]) -> float:
    """How far a regime's pass rate sits from the class's line, in logits: the point
    estimate.

    The spread of the changes of regime (:func:`_regime_changes`) beyond sampling,
    ``tau^2``, is estimated by DerSimonian and Laird's method of moments (each change
    weighted by ``1 / v``, so a regime of one case does not drown the regimes of
    hundreds: an unweighted mean of ``d^2 - v`` is driven below 0 by them, and jumps
    were taken for none). A change is the difference of two regimes' offsets from the
    line, hence ``tau / sqrt(2)``. 0 with fewer than :data:`MIN_REGIME_CHANGES`
    changes to learn it from. The simulation draws it (:func:`_jump_sds`)."""
    d, v = _regime_changes(all_runs)
    if len(d) < MIN_REGIME_CHANGES:
        return 0.0
    w = 1 / v
    mean = float(np.sum(w * d) / w.sum())
    q = float(np.sum(w * (d - mean) ** 2))
    tau2 = max(0.0, (q - (len(d) - 1)) / float(w.sum() - np.sum(w**2) / w.sum()))
    return float(np.sqrt(tau2 / 2))


#: The largest jump spread the simulation draws (logits): a regime 10 logits from
#: its line is a pass rate of 0 or 1 already.
MAX_JUMP_SD = 10.0


#: Points of the grid on which :func:`_jump_sds` solves for the spread.
JUMP_SD_GRID = 257


def _jump_sds(all_runs: Mapping[str, _Runs], rng: np.random.Generator, size: int) -> np.ndarray:
    """Each simulation's jump spread (see :func:`_jump_sd`), drawn from what the
    changes say of it rather than fixed at the point estimate, which a handful of
    changes leaves uncertain (and the method of moments, low).

    By the Q-profile method (Viechtbauer, 2007): for each simulation a draw ``c`` of
    chi-squared with ``k - 1`` degrees of freedom (``k`` changes), and ``tau^2`` the
    solution of ``Q(tau^2) = c``, where ``Q`` is the generalised Q statistic,
    ``sum(w (d - mean_w)^2)`` with ``w = 1 / (v + tau^2)``, decreasing in ``tau^2``;
    0 where even ``Q(0) <= c``. The draws are ``tau / sqrt(2)``, at most
    :data:`MAX_JUMP_SD`; all 0 with fewer than :data:`MIN_REGIME_CHANGES` changes.
    """
    d, v = _regime_changes(all_runs)
    if len(d) < MIN_REGIME_CHANGES:
        return np.zeros(size)
    target = rng.chisquare(len(d) - 1, size)

    def q(tau2: np.ndarray) -> np.ndarray:
        w = 1 / (v[None, :] + tau2[:, None])
        mean = (w * d).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
        found: np.ndarray = (w * (d - mean) ** 2).sum(axis=1)
        return found

    # Q(tau^2) = c is solved by bisection at quantiles of the draws, then read off
    # by interpolation in 1 / c (Q is about S / (v + tau^2), so tau^2 is about
    # S / c - v: near linear in 1 / c): the cost does not grow with the simulations,
    # and memory stays bounded in (grid x changes) batches.
    # Q(0) and Q at the cap join the grid: past them tau^2 is 0, or the cap, and the
    # kinks are not interpolated across.
    ends = q(np.array([0.0, 2 * MAX_JUMP_SD**2]))
    grid = np.unique(np.append(np.quantile(target, np.linspace(0.0, 1.0, JUMP_SD_GRID)), ends))
    solved = np.zeros(len(grid))
    batch = max(1, SIM_BATCH_CELLS // len(d))
    for start in range(0, len(grid), batch):
        aim = grid[start : start + batch]
        lo, hi = np.zeros(len(aim)), np.full(len(aim), 2 * MAX_JUMP_SD**2)
        for _ in range(40):
            middle = (lo + hi) / 2
            above = q(middle) > aim
            lo, hi = np.where(above, middle, lo), np.where(above, hi, middle)
        solved[start : start + len(aim)] = np.where(
            q(np.zeros(len(aim))) <= aim, 0.0, (lo + hi) / 2
        )
    # Every change alike makes Q(0) = 0, a grid point at 1 / 0 = inf: np.interp reads
    # it as the far end, which is right (tau^2 = 0 there); no warning for it.
    with np.errstate(divide="ignore"):
        tau2 = np.interp(1 / target[:, None].ravel(), (1 / grid)[::-1], solved[::-1])
    found: np.ndarray = np.sqrt(tau2 / 2)
    return found


@dataclass(frozen=True)
class _Drift:
    """How the class's line moves from one regime to the next: ``slope`` logits a day
    with its standard error ``se``, measured over ``span_days``."""

    slope: float
    se: float
    span_days: float


def _drift(runs: _Runs, as_of_ns: int, tau: float) -> _Drift | None:
    """The drift of the class's line across its regimes (agent versions), or None.

    Each regime of the lookback (by value: :func:`_regime_levels`) with normal cases gives its
    (Jeffreys-smoothed) logit pass rate at its case-weighted middle; the slope is
    their weighted least-squares line through time, each regime weighted by
    ``1 / (v + tau^2)``: its sampling variance plus the spread of regimes about the
    line (:func:`_jump_sd`), so that a few regimes, each a different agent, give a
    slope with a wide standard error rather than a confident trend. Needs
    :data:`MIN_REGIME_CHANGES` regimes whose middles span at least
    :data:`MIN_TREND_DAYS` days. Unlike the within-regime trend (:func:`_trend`), it
    sees what a string of agent swaps did to the class: a scaffold that keeps
    getting better does so across its agents.
    """
    levels = _regime_levels(runs, as_of_ns)
    if levels is None:
        return None
    n, rate, t = levels
    if len(n) < MIN_REGIME_CHANGES or float(t.max() - t.min()) < MIN_TREND_DAYS:
        return None
    w = 1 / (1 / (n * rate * (1 - rate)) + tau**2)
    y = _logit(rate)
    t_bar = float(np.sum(w * t) / w.sum())
    sxx = float(np.sum(w * (t - t_bar) ** 2))
    slope = float(np.sum(w * (t - t_bar) * y) / sxx)
    return _Drift(slope, float(np.sqrt(1 / sxx)), float(t.max() - t.min()))


@dataclass(frozen=True)
class _Regimes:
    """How regimes change in the simulation: each simulation's chance that an eval
    day starts a new regime (``chances``), how far a new regime sits from the class's
    line (``sd``, logits, also drawn per simulation: :func:`_jump_sds`), the line (its
    logit and the age of its evidence, from :func:`_line`) and its drift across
    regimes (:func:`_drift`)."""

    chances: np.ndarray
    sd: np.ndarray
    line: float
    line_age: float
    drift: _Drift | None = None


def _pass_paths(
    rng: np.random.Generator,
    size: int,
    days: int,
    evidence: np.ndarray,
    trends: tuple[_Trend | None, _Trend | None],
    age: float,
    regimes: _Regimes | None,
    started: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(sims, days) pass probabilities of normal and adversarial cases.

    Each simulation draws its rates from their Beta posteriors (Jeffreys prior) given
    ``evidence`` (the four counts of the current regime) and moves them along the
    trends (:func:`_drifting`). Where regimes change (``regimes``), each simulated
    eval day (``started``, (sims, days); None: every day) starts a new regime with
    the simulation's chance; from the latest one on, the normal rate is the
    class's line (moved along the trend, or its drift across regimes) plus a normal
    offset of the simulation's ``regimes.sd``, and
    the adversarial rate moves by as much as the normal one did.
    """
    p_norm = rng.beta(evidence[1] + 0.5, evidence[0] - evidence[1] + 0.5, size)
    p_adv = rng.beta(evidence[3] + 0.5, evidence[2] - evidence[3] + 0.5, size)
    shift = np.zeros((size, days))
    if regimes is not None and regimes.sd.any():
        # A new regime comes with an eval day: none on quiet days (nor before the
        # forecast is made).
        busy = np.ones((size, days), dtype=bool) if started is None else started > 0
        switched = busy & (rng.random((size, days)) < regimes.chances[:, None])
        day = np.arange(days)
        latest = np.maximum.accumulate(np.where(switched, day, -1), axis=1)
        offsets = rng.normal(0.0, 1.0, (size, days)) * regimes.sd[:, None]
        rows = np.arange(size)[:, None]
        # The line, brought to the current evidence's age, and the regime's offset
        # around it, against where the current regime stands.
        current = _logit(np.clip(p_norm, 1e-9, 1 - 1e-9))
        start = latest.clip(min=0)
        if regimes.drift is not None:
            # The line moves across regimes (what a string of agents did, learning
            # included) at a slope drawn per simulation from its estimate and error,
            # from the line's evidence to the day the regime starts, never further
            # than the drift was measured over. The trend within regimes moves each
            # regime's rate on top of it (_drifting). Measured: using the drift only
            # where no trend within regimes could be estimated scored worse on every
            # history of benchmarks/forecast_calibration.py.
            slopes = rng.normal(regimes.drift.slope, regimes.drift.se, size)
            ahead = np.minimum(regimes.line_age + start + 1, regimes.drift.span_days)
            line = regimes.line + slopes[:, None] * ahead
        else:
            line = np.full(
                (size, days), regimes.line + _trend_between(trends[0], regimes.line_age, age)
            )
        new_level = line + offsets[rows, start]
        shift = np.where(latest >= 0, new_level - current[:, None], 0.0)
    return (
        _drifting(p_norm, trends[0], age, days, rng, shift),
        _drifting(p_adv, trends[1], age, days, rng, shift),
    )


def _trend_between(trend: _Trend | None, older: float, newer: float) -> float:
    """The trend's move (logits) from evidence ``older`` days old to ``newer``."""
    if trend is None:
        return 0.0
    return float(trend.slope * min(older - newer, trend.span_days))


def _drifting(
    p0: np.ndarray,
    trend: _Trend | None,
    age: float,
    days: int,
    rng: Any,
    shift: np.ndarray,
) -> np.ndarray:
    """(sims, days) pass probabilities: ``p0`` moved along ``trend``, plus ``shift``
    (in logits).

    Each simulation draws its slope from a normal around the trend's slope with its
    standard error, so a trend seen on few cases barely moves anything. It is applied
    from the middle of the evidence (``age`` days back) and never further than the
    span it was measured over past it: a trend is not extrapolated further than it
    was measured over.
    """
    start = _logit(np.clip(p0, 1e-9, 1 - 1e-9))[:, None] + shift
    if trend is not None:
        slopes = rng.normal(trend.slope, trend.slope_se, len(p0))
        ahead = np.minimum(age + np.arange(1, days + 1), trend.span_days)
        start = start + slopes[:, None] * ahead[None, :]
    moved: np.ndarray = 1 / (1 + np.exp(-start))
    return moved


BACKTEST_COLUMNS = [
    "cut",
    "as_of",
    "action",
    "next_state",
    "p_within_horizon",
    "p10_date",
    "p50_date",
    "p90_date",
    "given_p10_date",
    "given_p50_date",
    "given_p90_date",
    "given_band_share",
    "band_share",
    "actual_date",
    "graduated",
    "within_band",
    "within_given_band",
    "outside_given_band",
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
    regime: str | _FromPolicy | None = REGIME_FROM_POLICY,
) -> pd.DataFrame:
    """Forecast from ``history`` cut at ``cut`` and compare with what happened.

    The forecast is made at the cut (``forecast(now=cut)``: it knows that nothing
    arrived between the last evidence and the cut) over the history up to the cut,
    whose last evidence is ``as_of``; its days count from ``as_of``. One row per
    action that was forecast (it had a next state and enough evidence): the forecast
    (``p_within_horizon``, ``p10_date``, ``p50_date``, ``p90_date`` and the band given
    graduation within the horizon, ``given_p10_date`` / ``given_p90_date``), the
    ``actual_date`` it first reached that state after ``as_of`` in the replay of the
    full history (NaT if not within the horizon), ``within_band`` (inside the plain
    band) and ``within_given_band`` (graduated within the horizon, inside the given
    band). Both are
    compared in the forecast's own unit, whole simulated days since ``as_of``
    (:func:`within_band` with ``as_of``): a graduation a few hours after ``as_of``
    is on day 1, as the simulation would have it, whatever the UTC date. A class
    that did not graduate within the horizon counts as inside when its 90th
    percentile lies beyond the horizon; it is never inside the given band.
    """
    window = resolve_window(window, policy)
    moment = _as_utc(cut)
    before = history[history["timestamp"] <= moment]
    if before.empty:
        raise OptionError("cut", f"{cut!r} is before the first case of the history")
    fc = forecast(
        before,
        policy,
        horizon=horizon,
        window=window,
        n_sims=n_sims,
        seed=seed,
        trend=trend,
        regime=regime,
        now=moment,
    )
    timeline = replay(history, policy, window=window).timeline
    end = fc.as_of + fc.horizon  # the end of simulated day `horizon`
    made = fc.table[(fc.table["next_state"] != "") & (fc.table["note"] == "")]
    rows = []
    for row in made.itertuples(index=False):
        level = AutonomyState[str(row.next_state)]
        # Reached after the forecast was made: a change between the last evidence and
        # the cut (evidence expiring) is already in the state it was made from.
        mine = timeline[(timeline["action"] == row.action) & (timeline["timestamp"] > moment)]
        hit = mine[mine["state"].cat.codes >= int(level)]
        actual = hit["timestamp"].min() if len(hit) else pd.NaT
        if pd.notna(actual) and actual > end:
            actual = pd.NaT
        inside = within_band(actual, row.p10_date, row.p90_date, as_of=fc.as_of)
        inside_given = pd.notna(actual) and within_band(
            actual, row.given_p10_date, row.given_p90_date, as_of=fc.as_of
        )
        # A miss, early or late: which way the band should move.
        miss = ""
        if pd.notna(actual) and not inside_given:
            too_soon = _sim_day(actual, fc.as_of) < _sim_day(row.given_p10_date, fc.as_of)
            miss = "early" if too_soon else "late"
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
                "given_p10_date": row.given_p10_date,
                "given_p50_date": row.given_p50_date,
                "given_p90_date": row.given_p90_date,
                "given_band_share": row.given_band_share,
                "band_share": row.band_share,
                "actual_date": actual,
                "graduated": bool(pd.notna(actual)),
                "within_band": bool(inside),
                "within_given_band": bool(inside_given),
                "outside_given_band": miss,
            }
        )
    return _typed_backtest(rows)


def _sim_day(moment: Any, as_of: Any) -> float:
    """The simulated day that holds ``moment``: day ``k`` spans ``(as_of + (k - 1)
    days, as_of + k days]``, so a band end ``as_of + k days`` is day ``k``."""
    return float(np.ceil((_as_utc(moment) - _as_utc(as_of)) / _DAY))


def within_band(actual: Any, p10: Any, p90: Any, *, as_of: Any = None) -> bool:
    """Whether an outcome lies inside the forecast's 10-90% band.

    ``actual`` is the moment the state was reached (NaT: not within the horizon);
    ``p10`` / ``p90`` are the band's ends (NaT: beyond the horizon). No graduation is
    inside when the p90 lies beyond the horizon.

    With ``as_of`` (the forecast's, from which its days count: ``p10 = as_of + k10
    days``), both are compared in that unit, as the simulation counts: a graduation
    at ``as_of + t`` falls on simulated day ``ceil(t / 1 day)`` (day ``k`` ends at
    ``as_of + k days``, when it is graded), inside when ``k10 <= that day <= k90``.
    Without ``as_of``, by UTC date at both ends: a graduation at any time on the p10
    date or on the p90 date is inside (for bands known only as dates; off by a day
    when ``as_of`` is late in its day).
    """
    if pd.isna(actual):
        return bool(pd.isna(p90))
    if pd.isna(p10):
        return False
    if as_of is not None:
        day = _sim_day(actual, as_of)
        after_start = _sim_day(p10, as_of) <= day
        return bool(after_start and (pd.isna(p90) or day <= _sim_day(p90, as_of)))
    date = pd.Timestamp(actual).date()
    after_start = pd.Timestamp(p10).date() <= date
    return bool(after_start and (pd.isna(p90) or date <= pd.Timestamp(p90).date()))


def backtests(
    history: pd.DataFrame,
    policy: TrustPolicy,
    cuts: Sequence[Any],
    **options: Any,
) -> pd.DataFrame:
    """:func:`backtest` at each of ``cuts`` (each distinct cut once, in time order;
    cuts before the first case are skipped).

    Cuts that fall in the same gap of the history share their last evidence
    (``as_of``), but not their forecast: each is made at its cut and knows how
    long the history has been quiet by then.
    """
    moments = sorted({_as_utc(c) for c in cuts})
    first = history["timestamp"].min()
    frames = [backtest(history, policy, cut, **options) for cut in moments if cut >= first]
    if not frames:
        return _typed_backtest([])
    return pd.concat(frames, ignore_index=True)


#: Backtest cuts fall every this many days, from :data:`FIRST_CUT_DAY` days after the
#: first case (earlier, few classes have the runs a forecast needs) ...
CUT_EVERY_DAYS = 15
FIRST_CUT_DAY = 45
#: ... at most this many (evenly spread), each followed by a whole backtest horizon.
MAX_CUTS = 8
#: A backtest horizon shorter than this checks too little to be worth showing.
MIN_BACKTEST_DAYS = 14


@dataclass(frozen=True)
class BacktestPlan:
    """Where to cut a history to backtest forecasts (:func:`backtest_plan`).

    ``cuts`` (empty when the history is too short), ``horizon_days`` (the
    forecast's own, or shorter when the history leaves no room for it:
    ``shortened``), and the history's ``span_days`` (whole UTC days).
    """

    cuts: list[pd.Timestamp]
    horizon_days: int
    shortened: bool
    span_days: int


def backtest_plan(history: pd.DataFrame, horizon: Any) -> BacktestPlan:
    """Cuts every :data:`CUT_EVERY_DAYS` days from day :data:`FIRST_CUT_DAY`, each
    followed by a whole horizon of history (the last day counted whole), at most
    :data:`MAX_CUTS`. When not even three cuts leave room for ``horizon``, the
    backtest horizon shrinks to what three cuts leave (a forecast's 90 days on a
    142-day history are checked over 67); below :data:`MIN_BACKTEST_DAYS`, no cut.
    """
    days = check_horizon(horizon)
    start, end = history["timestamp"].min().floor("D"), history["timestamp"].max().ceil("D")
    span = int((end - start) / _DAY)
    room = span - FIRST_CUT_DAY - 2 * CUT_EVERY_DAYS  # what three cuts leave after them
    used = days if room >= days else max(room, 0)
    if used < MIN_BACKTEST_DAYS:
        return BacktestPlan([], min(days, max(room, 0)), room < days, span)
    offsets = np.arange(FIRST_CUT_DAY, span - used + 1, CUT_EVERY_DAYS)
    if len(offsets) > MAX_CUTS:
        offsets = offsets[np.unique(np.linspace(0, len(offsets) - 1, MAX_CUTS).round().astype(int))]
    cuts = [start + pd.Timedelta(days=int(d)) for d in offsets]
    return BacktestPlan(cuts, used, used < days, span)


def _typed_backtest(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Backtest rows as a frame whose columns have their types even when it is empty."""
    frame = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    for column in BACKTEST_COLUMNS:
        if column == "cut" or column.endswith("_date") or column == "as_of":
            frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("p_within_horizon", "given_band_share", "band_share"):
        frame[column] = frame[column].astype(np.float64)
    frame["outside_given_band"] = frame["outside_given_band"].fillna("").astype(str)
    for column in ("graduated", "within_band", "within_given_band"):
        frame[column] = frame[column].astype(bool)
    return frame


#: A forecast *commits* to a date when it gives at least this probability of reaching
#: the next state within the horizon.
COMMITTED_P = 0.9
#: Bins of the reliability table: P(within horizon) in tenths.
RELIABILITY_BINS = np.linspace(0.0, 1.0, 11)


@dataclass(frozen=True)
class BacktestScores:
    """How honest a set of backtest forecasts was (:func:`backtest_scores`).

    * ``graduated_coverage``: among forecasts whose class did reach its next state
      within the horizon (``graduated`` of them), the share whose date fell inside
      the band shown for it, the 10-90% band given graduation within the horizon
      (``within_given_band``; ``graduated_inside`` of them), with its 95% Wilson
      interval ``coverage_interval``. Before 2026-11-26 this name held the share
      inside the plain band (now ``unconditional_coverage``).
    * ``expected_coverage``: what a calibrated forecast would score on these rows:
      the mean ``given_band_share`` of the rows that graduated (each falls inside its
      band with that chance, given that it graduated). At least 80%: the band is
      whole simulated days, both ends in, so it holds more where graduations crowd
      onto few days. Judge ``graduated_coverage`` against it, not against 80%.
    * ``graduated_early`` / ``graduated_late``: the graduations outside their band,
      before its start and after its end (``outside_given_band``). A calibrated
      forecast misses about as often each way; misses one way say the band should
      move.
    * ``committed_accuracy``: among forecasts that committed to a date
      (P(within horizon) >= :data:`COMMITTED_P`; ``committed`` of them), the share
      whose class did graduate inside the band given graduation (``committed_right``;
      before 2026-11-26, inside the plain band, nearly the same at such P).
    * ``brier``: the mean squared error of P(within horizon) against what happened
      (1 graduated within the horizon, 0 not); ``brier_baseline`` the same for the
      no-skill forecast that gives every row the ``base_rate`` (the share of rows that
      graduated); ``brier_skill`` = 1 - brier / brier_baseline (above 0: better than
      the base rate; NaN when every row had the same outcome, where the base rate is
      perfect).
    * ``expected_graduated``: how many graduations the forecasts expected (the sum of
      P(within horizon)), against ``graduated``: a forecast that expects fewer is
      too slow on the whole.
    * ``unconditional_coverage``: the same share for the plain 10-90% band of all
      simulations (``within_band``), and ``calibrated_coverage``, what a calibrated
      forecast would score on it: the mean ``band_share`` of the rows that
      graduated. Well under 80% wherever P(within horizon) is below 0.9: the plain
      band then ends at the horizon (its 90th percentile lies beyond), and holds
      about (P - 0.1) / P of the graduations within the horizon (0 when P <= 0.1).
      This is why the band shown is the given one.
    * ``inside``: the pooled share inside the plain band (graduated or not), the old
      headline, kept for comparison: forecasts of "not within the horizon" that came
      true dominate it.
    * ``reliability``: per tenth of P(within horizon) (``bin_lo``, ``bin_hi``), the
      ``forecasts`` in it, their ``mean_p`` and the ``observed`` share that
      graduated.

    Shares over no rows are NaN.
    """

    forecasts: int
    graduated: int
    graduated_inside: int
    graduated_coverage: float
    committed: int
    committed_right: int
    committed_accuracy: float
    brier: float
    base_rate: float
    brier_baseline: float
    brier_skill: float
    inside: float
    reliability: pd.DataFrame
    expected_graduated: float = float("nan")
    calibrated_coverage: float = float("nan")
    unconditional_coverage: float = float("nan")
    expected_coverage: float = float("nan")
    coverage_interval: tuple[float, float] = (float("nan"), float("nan"))
    graduated_early: int = 0
    graduated_late: int = 0


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def backtest_scores(bt: pd.DataFrame) -> BacktestScores:
    """Score backtest rows (:func:`backtest` / :func:`backtests`); see :class:`BacktestScores`."""
    p = bt["p_within_horizon"].to_numpy(dtype=np.float64)
    y = bt["graduated"].to_numpy(dtype=bool)
    inside = bt["within_given_band"].to_numpy(dtype=bool)
    plain = bt["within_band"].to_numpy(dtype=bool)
    n = len(bt)
    committed = p >= COMMITTED_P
    base = float(y.mean()) if n else float("nan")
    brier = float(np.mean((p - y) ** 2)) if n else float("nan")
    baseline = base * (1 - base) if n else float("nan")  # mean of (base - y)^2
    skill = 1 - brier / baseline if n and baseline > 0 else float("nan")
    which = np.clip(np.searchsorted(RELIABILITY_BINS, p, side="right") - 1, 0, 9)
    count = np.bincount(which, minlength=10)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(which, weights=p, minlength=10) / count
        observed = np.bincount(which, weights=y.astype(np.float64), minlength=10) / count
    reliability = pd.DataFrame(
        {
            "bin_lo": RELIABILITY_BINS[:-1],
            "bin_hi": RELIABILITY_BINS[1:],
            "forecasts": count,
            "mean_p": mean_p,
            "observed": observed,
        }
    )
    return BacktestScores(
        forecasts=n,
        graduated=int(y.sum()),
        graduated_inside=int((y & inside).sum()),
        graduated_coverage=_share(int((y & inside).sum()), int(y.sum())),
        committed=int(committed.sum()),
        committed_right=int((committed & y & inside).sum()),
        committed_accuracy=_share(int((committed & y & inside).sum()), int(committed.sum())),
        brier=brier,
        base_rate=base,
        brier_baseline=baseline,
        brier_skill=skill,
        inside=_share(int(plain.sum()), n),
        reliability=reliability,
        expected_graduated=float(p.sum()) if n else float("nan"),
        calibrated_coverage=_mean_where(y, bt["band_share"]),
        unconditional_coverage=_share(int((y & plain).sum()), int(y.sum())),
        expected_coverage=_mean_where(y, bt["given_band_share"]),
        coverage_interval=_wilson95(int((y & inside).sum()), int(y.sum())),
        graduated_early=int((bt["outside_given_band"] == "early").sum()),
        graduated_late=int((bt["outside_given_band"] == "late").sum()),
    )


def _mean_where(graduated: np.ndarray, share: pd.Series) -> float:
    """The mean band share over the rows that graduated: under calibration each of
    them falls inside its band with the chance its share says, so this is the
    coverage a calibrated forecast would score on them (NaN when none graduated). A
    row no simulation graduated (P = 0) has no band: 0, as it is scored."""
    if not graduated.any():
        return float("nan")
    return float(np.nan_to_num(share.to_numpy(dtype=np.float64)[graduated], nan=0.0).mean())


def _wilson95(part: int, whole: int) -> tuple[float, float]:
    """The two-sided 95% Wilson interval of ``part`` of ``whole`` (NaN for none)."""
    if not whole:
        return (float("nan"), float("nan"))
    lower, upper = wilson_bounds(part / whole, whole, 1.959963984540054)
    return (float(lower), float(upper))
