"""From eval counts to metrics: the one definition, over time and windows.

How counts become :class:`~warrantd.EvalMetrics` is defined once, in
:func:`rates_from_counts`, and used by every path (scalar or vectorized):

* ``pass_rate`` = passed / count over the **non-adversarial** cases;
* ``adversarial_pass_rate`` = passed / count over the **adversarial** cases;
* ``sample_size`` = every case counted, normal plus adversarial;
* a rate with no cases is 0.0.

Windows (``window=``), always per action:

* ``None``: cumulative, everything up to and including the moment;
* an int ``K``: the most recent cases, **whole timestamps at a time**, going
  back until at least ``K`` cases are covered (all of them when fewer exist).
  Cases that share a timestamp are never split, so row order never matters and
  a run of more than ``K`` cases at one timestamp is still seen whole;
* a pandas offset such as ``"30D"``: the trailing time window ``(t - 30D, t]``.

Cases that share a timestamp are counted together. Nothing here loops over
rows: per-(action, timestamp) sums, cumulative sums and ``searchsorted``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ..decision import EvalMetrics
from ..errors import OptionError
from .history import timestamps_ns

__all__ = [
    "COUNT_COLUMNS",
    "HistoryMetrics",
    "Window",
    "check_window",
    "eval_metrics",
    "metrics_at",
    "metrics_timeline",
    "parse_window",
    "rates_from_counts",
    "wilson_interval",
    "window_label",
]

Window = int | str | pd.Timedelta | None
#: The four window counts every metric is computed from.
COUNT_COLUMNS = ["n_normal", "passed_normal", "n_adversarial", "passed_adversarial"]


def rates_from_counts(
    n_normal: Any, passed_normal: Any, n_adversarial: Any, passed_adversarial: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pass_rate, adversarial_pass_rate, sample_size) from counts; arrays or scalars.

    The single definition of the metrics: see the module docstring.
    """
    n_norm = np.asarray(n_normal, dtype=np.int64)
    n_adv = np.asarray(n_adversarial, dtype=np.int64)
    pass_rate = _ratio(np.asarray(passed_normal, dtype=np.int64), n_norm)
    adv_rate = _ratio(np.asarray(passed_adversarial, dtype=np.int64), n_adv)
    return pass_rate, adv_rate, n_norm + n_adv


def _ratio(passed: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(passed, n).shape, dtype=np.float64)
    np.divide(passed, n, out=out, where=n > 0)
    return out


def eval_metrics(
    n_normal: int, passed_normal: int, n_adversarial: int, passed_adversarial: int
) -> EvalMetrics:
    """The :class:`EvalMetrics` for one set of counts."""
    p, a, n = rates_from_counts(n_normal, passed_normal, n_adversarial, passed_adversarial)
    return EvalMetrics(float(p), float(a), int(n))


def wilson_interval(passed: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial rate; ``(0, 1)`` where ``n`` is 0."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    n_arr = np.asarray(n, dtype=np.float64)
    p = _ratio(np.asarray(passed, dtype=np.float64), n_arr)
    safe_n = np.where(n_arr > 0, n_arr, 1.0)
    z2 = z * z
    denom = 1.0 + z2 / safe_n
    centre = (p + z2 / (2.0 * safe_n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / safe_n + z2 / (4.0 * safe_n * safe_n)) / denom
    lo = np.where(n_arr > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    hi = np.where(n_arr > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return lo, hi


def check_window(window: Window) -> int | pd.Timedelta | None:
    """``window`` in its one checked form: None, a positive case count or a positive span.

    Raises :class:`~warrantd.errors.OptionError` (``window``) for anything else.
    """
    if window is None:
        return None
    if (
        isinstance(window, (bool, np.bool_))
        or window is pd.NaT
        or (isinstance(window, float) and np.isnan(window))
    ):
        raise OptionError(
            "window", f"{window!r} is not a window (expected 'cumulative', a case count or '30D')"
        )
    if isinstance(window, (int, np.integer)):
        if window <= 0:
            raise OptionError("window", f"a case-count window must be positive, not {window}")
        return int(window)
    if isinstance(window, str):
        parsed = parse_window(window)
        if not isinstance(parsed, str):
            return check_window(parsed)
    try:
        span = pd.Timedelta(window)
    except (ValueError, TypeError):
        raise OptionError(
            "window", f"{window!r} is neither a case count nor a time offset such as '30D'"
        ) from None
    if span <= pd.Timedelta(0):
        raise OptionError("window", f"a time window must be positive, not {window!r}")
    return span


def parse_window(text: str | None) -> int | str | None:
    """Window text as a user writes it: ``cumulative`` (or ``none``, or nothing) is None,
    digits (optionally followed by ``cases``) a case count, anything else a time offset."""
    if text is None:
        return None
    stripped = text.strip().lower()
    if stripped in ("", "cumulative", "none"):
        return None
    number = stripped.removesuffix("cases").strip()
    return int(number) if number.isdigit() else text.strip()


def window_label(window: Window) -> str:
    """The one spelling of a window in every table, chart and report.

    ``cumulative``, ``500 cases`` or a time span such as ``30D``, ``36h``;
    :func:`parse_window` reads every label back.
    """
    checked = check_window(window)
    if checked is None:
        return "cumulative"
    if isinstance(checked, int):
        return f"{checked} cases"
    for unit, label in ((86_400, "D"), (3_600, "h"), (60, "min"), (1, "s")):
        seconds = checked.total_seconds()
        if seconds >= unit and seconds % unit == 0:
            return f"{int(seconds // unit)}{label}"
    return str(checked)


def per_timestamp_counts(history: pd.DataFrame, mean_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Case counts per (action, timestamp), sorted by action name then time.

    Columns: ``action``, ``timestamp``, ``n_cases`` and :data:`COUNT_COLUMNS`
    for the cases at exactly that timestamp, plus the mean (NaN-skipping) of
    each of ``mean_columns`` over those rows.
    """
    return counts_and_bounds(history, mean_columns)[0]


def counts_and_bounds(
    history: pd.DataFrame, mean_columns: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`per_timestamp_counts` and its :func:`action_bounds`, found in one pass."""
    codes, names = pd.factorize(history["action"], sort=True)
    ts = timestamps_ns(history["timestamp"])
    # Histories are kept sorted by time, so a stable sort on the action code
    # alone yields (action, time) order; otherwise sort on both.
    if len(ts) > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
        order = np.lexsort((ts, codes))
    else:
        order = np.argsort(codes, kind="stable")
    codes, ts = codes[order], ts[order]
    changes = np.r_[True, (codes[1:] != codes[:-1]) | (ts[1:] != ts[:-1])]
    starts = np.flatnonzero(changes) if len(ts) else np.zeros(0, dtype=np.int64)
    block_codes = codes[starts]
    bounds = np.flatnonzero(np.r_[True, block_codes[1:] != block_codes[:-1], True])
    adv = history["adversarial"].to_numpy(dtype=bool)[order]
    n = history["n"].to_numpy(dtype=np.int64)[order]
    passed = history["n_passed"].to_numpy(dtype=np.int64)[order]
    columns: dict[str, Any] = {
        "action": names.take(block_codes),  # a take keeps the string dtype: no re-boxing
        "timestamp": pd.to_datetime(ts[starts], unit="ns", utc=True),
    }
    if len(starts) == 0:
        columns["n_cases"] = np.zeros(0, dtype=np.int64)
        for column in COUNT_COLUMNS:
            columns[column] = np.zeros(0, dtype=np.int64)
    else:
        sums = {
            "n_normal": np.where(adv, 0, n),
            "passed_normal": np.where(adv, 0, passed),
            "n_adversarial": np.where(adv, n, 0),
            "passed_adversarial": np.where(adv, passed, 0),
        }
        reduced = {k: np.add.reduceat(v, starts) for k, v in sums.items()}
        columns["n_cases"] = reduced["n_normal"] + reduced["n_adversarial"]
        columns.update(reduced)
        for column in mean_columns:
            values = pd.to_numeric(history[column], errors="coerce").to_numpy(np.float64)[order]
            present = ~np.isnan(values)
            total = np.add.reduceat(np.where(present, values, 0.0), starts)
            count = np.add.reduceat(present.astype(np.int64), starts)
            columns[column] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return pd.DataFrame(columns), bounds


def action_bounds(actions: pd.Series) -> np.ndarray:
    """Row offsets where each action's block starts, plus the end (rows sorted by action)."""
    codes = pd.factorize(actions, sort=False)[0]
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])


def window_counts(
    counts: pd.DataFrame,
    window: Window,
    *,
    before: bool = False,
    bounds: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The :data:`COUNT_COLUMNS` over each row's window, from :func:`per_timestamp_counts`.

    With ``before=False`` row *i*'s window ends at and includes its timestamp
    ``t``: the metrics graded at ``t``. With ``before=True`` it holds only cases
    strictly before ``t`` (a time window is then ``(t - w, t)``): the evidence a
    live gate had when the cases at ``t`` arrived. ``bounds`` (from
    :func:`action_bounds`) saves recomputing them when the caller has them.
    """
    span = check_window(window)
    size = len(counts)
    if bounds is None:
        bounds = action_bounds(counts["action"])
    first = np.repeat(bounds[:-1], np.diff(bounds))
    rows = np.arange(size)
    end = rows - 1 if before else rows
    if span is None:
        start = first - 1
    elif isinstance(span, int):
        # Rows (s, e] hold C[e] - C[s] cases; take the latest s with C[e] - C[s] >= K.
        total = np.cumsum(counts["n_cases"].to_numpy())
        end_total = np.where(end >= 0, total[np.maximum(end, 0)], 0)
        start = np.searchsorted(total, end_total - span, side="right") - 1
    else:
        start = np.empty(size, dtype=np.int64)
        ts = timestamps_ns(counts["timestamp"])
        for lo, hi in itertools.pairwise(bounds):  # one pass per action, not per row
            own = ts[lo:hi]
            start[lo:hi] = lo + np.searchsorted(own, own - span.value, side="right") - 1
    start = np.minimum(np.maximum(start, first - 1), end)
    out = {}
    for column in COUNT_COLUMNS:
        cum = np.r_[0, np.cumsum(counts[column].to_numpy())]
        out[column] = cum[end + 1] - cum[start + 1]
    return out


def metrics_timeline(
    history: pd.DataFrame, *, window: Window = None, level: float = 0.95
) -> pd.DataFrame:
    """Metrics per action as of every distinct timestamp of that action.

    One row per (action, timestamp), sorted by action then time, with:
    ``n_cases`` (cases at that timestamp), the window counts
    ``n_normal``, ``passed_normal``, ``n_adversarial``, ``passed_adversarial``,
    the metrics ``pass_rate``, ``adversarial_pass_rate``, ``sample_size``, and
    Wilson intervals ``pass_rate_lo``/``_hi`` and ``adversarial_pass_rate_lo``/``_hi``
    at ``level``. See the module docstring for ``window``.
    """
    counts, bounds = counts_and_bounds(history)
    return timeline_from_counts(counts, window_counts(counts, window, bounds=bounds), window, level)


def timeline_from_counts(
    counts: pd.DataFrame, windowed: dict[str, np.ndarray], window: Window, level: float = 0.95
) -> pd.DataFrame:
    """The :func:`metrics_timeline` frame from per-timestamp counts and their window sums."""
    out = counts[["action", "timestamp", "n_cases"]].copy()
    for column, values in windowed.items():
        out[column] = values
    _add_metrics(out, level)
    out.attrs["window"] = window
    return out


def _add_metrics(frame: pd.DataFrame, level: float) -> None:
    counts = [frame[c].to_numpy() for c in COUNT_COLUMNS]
    pass_rate, adv_rate, samples = rates_from_counts(*counts)
    frame["pass_rate"] = pass_rate
    frame["adversarial_pass_rate"] = adv_rate
    frame["sample_size"] = samples
    lo, hi = wilson_interval(counts[1], counts[0], level)
    frame["pass_rate_lo"], frame["pass_rate_hi"] = lo, hi
    lo, hi = wilson_interval(counts[3], counts[2], level)
    frame["adversarial_pass_rate_lo"], frame["adversarial_pass_rate_hi"] = lo, hi


def _as_utc(at: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def metrics_frame_at(
    history: pd.DataFrame, at: Any = None, *, window: Window = None, level: float = 0.95
) -> pd.DataFrame:
    """One row per action: the metrics in force at ``at`` (default: the latest case).

    Same columns as :func:`metrics_timeline`, ``timestamp`` being ``at``. For a
    time window the window is ``(at - window, at]``; actions with no case in it
    get zero counts.
    """
    span = check_window(window)
    when = _as_utc(history["timestamp"].max() if at is None else at)
    upto = history[history["timestamp"] <= when]
    actions = pd.Index(sorted(history["action"].unique()), name="action")
    if isinstance(span, pd.Timedelta):
        upto = upto[upto["timestamp"] > when - span]
    if isinstance(span, int) and len(upto):
        last = metrics_timeline(upto, window=span).groupby("action", sort=True).tail(1)
        sums = last.set_index("action")[COUNT_COLUMNS]
    else:
        sums = per_timestamp_counts(upto).groupby("action", sort=True)[COUNT_COLUMNS].sum()
    frame = sums.reindex(actions, fill_value=0).astype(np.int64).reset_index()
    frame.insert(1, "timestamp", when)
    _add_metrics(frame, level)
    return frame


def metrics_at(
    history: pd.DataFrame, at: Any = None, *, window: Window = None
) -> dict[str, EvalMetrics]:
    """``{action: EvalMetrics}`` in force at ``at`` (default: the latest case)."""
    frame = metrics_frame_at(history, at, window=window)
    return {
        str(row.action): EvalMetrics(
            float(row.pass_rate), float(row.adversarial_pass_rate), int(row.sample_size)
        )
        for row in frame.itertuples(index=False)
    }


class HistoryMetrics:
    """A :class:`~warrantd.MetricsProvider` backed by a loaded eval history.

    Lets a history drive a live :class:`~warrantd.TrustLayer`; an action with no
    history gets zero metrics (and so stays MANUAL).
    """

    def __init__(self, history: pd.DataFrame, *, window: Window = None, at: Any = None) -> None:
        self.window = window
        self.at = at
        self._metrics: Mapping[str, EvalMetrics] = metrics_at(history, at, window=window)

    def metrics_for(self, action: str) -> EvalMetrics:
        return self._metrics.get(action, EvalMetrics(0.0, 0.0, 0))
