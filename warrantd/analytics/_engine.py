"""The engine under replay, sweep and forecast: one place for every rule they share.

Nothing here is public API; :mod:`~warrantd.analytics.replay`,
:mod:`~warrantd.analytics.sweep`, :mod:`~warrantd.analytics.forecast` and
:mod:`~warrantd.analytics.metrics` are its public faces and import only the
names below (none with a leading underscore). Where each rule lives:

* **Windows** (:func:`check_window`, :func:`parse_window`, :func:`window_label`,
  :func:`window_sums`): the one definition of which evidence a window holds at a
  moment. ``None``: everything so far. An int ``K``: the most recent *whole
  timestamps* covering at least ``K`` cases. A span ``w``: the cases in
  ``(T - w, T]`` (graded at ``T``), or ``(T - w, T)`` (in force at ``T``: what a live
  gate has when a request arrives at ``T``).
* **Metrics from counts** (:func:`rates_from_counts`): pass rate over normal cases,
  adversarial pass rate over adversarial cases, samples over both; a rate with no
  cases is 0.0.
* **Evidence** (:class:`Evidence`, :func:`evidence_of`): case counts per (action,
  timestamp), sorted by action then time, the one form every computation reads.
* **The vectorized rule** (:func:`graded_states`, :func:`class_ceilings`): the same
  decision as :meth:`warrantd.GraduationEngine.allowed_state`, for arrays of metrics;
  the engine stays the one source of truth, and a differential test proves them
  equal.
* **Events** (:class:`Events`, :func:`build_events`): per class, every *moment* the
  evidence in its window changes: a case arrives (cause ``evidence``), or, with a
  time window, a case leaves it (cause ``expiry``, at exactly ``t + w``). Each moment
  gives two events, "in force at m" then "graded at m"; the state is a step function
  of time that changes only at these events, so requests between moments get the
  graded state of the moment before them. The window's counts at every moment come
  from cumulative sums of the evidence counts, differenced at the window's first and
  last rows: for cumulative and case-count windows the moments are the rows
  (:func:`_row_windows`); for a time window the rows are read off one merge of the
  arrivals and the expiries per class (:func:`time_window_moments`), not searched for
  moment by moment. Both are proven equal to the engine through replay's differential
  tests (tests/analytics/test_replay*.py), the merge to :func:`window_sums` and to the
  window recomputed from scratch too (tests/analytics/test_engine_windows.py).
  Most in-force windows are windows already graded (the one graded at the class's
  moment before, or, where evidence only leaves, at the moment itself), so their
  states are read, not graded again (:attr:`Events.fresh_in_force`,
  :func:`read_in_force`): the same rule on the same counts, once.
* **Figures** (:data:`SUMMARY_FIGURES`, :func:`figures_from_parts`,
  :func:`per_action_figures`, :func:`no_evidence_rows`): what a replay reports per
  class, defined once for replay and sweep. The state is a step function, so the
  figures are sums over its *runs* (:func:`runs_of`, :func:`run_sums`): one pass over
  the events per series, then work on the few runs.

Memory: counts are kept in 32 bits, once per moment; the event metrics are computed
from the window's counts when asked, a slice of :data:`PART_MOMENTS` moments at a
time (:meth:`Events.half_points`), never stored per event; nothing per request or per
moment is kept as a Python object. Under a time window the cases arriving at each
moment, the cases seen so far and the stand-in requests are read off the evidence rows
when asked (:attr:`Events.arrived`, :meth:`Events.arrived_sums`,
:meth:`Events.event_seen`, :attr:`RequestWeights.class_kinds`), not laid out per moment
or per event: on a small machine fresh memory is a good part of the cost.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from ..autonomy import GRADUATION_STATES, AutonomyState
from ..decision import EvalMetrics
from ..errors import InputError, OptionError
from ..graduation import (
    CRITERIA,
    GraduationEngine,
    GraduationSettings,
    GraduationThresholds,
    ceiling,
    evidence_met,
)
from ..policy import TrustPolicy
from ..risk import RiskTier
from ..window import parse_window as core_parse_window
from ..window import window_text

__all__ = [
    "COUNT_COLUMNS",
    "LEVELS",
    "NS_PER_DAY",
    "POLICY_WINDOW",
    "REASON_CODES",
    "REQUEST_KINDS",
    "STATE_NAMES",
    "SUMMARY_FIGURES",
    "TRAFFIC_FIGURES",
    "VERDICT_NAMES",
    "VERDICT_TABLE",
    "Events",
    "Evidence",
    "RequestWeights",
    "Requests",
    "SequenceInputs",
    "TimeWindowMoments",
    "Window",
    "build_events",
    "check_coverage",
    "check_window",
    "class_ceilings",
    "evidence_of",
    "figures_from_parts",
    "graded_states",
    "handled_parts",
    "history_span_days",
    "no_evidence_rows",
    "no_evidence_states",
    "no_evidence_traffic",
    "parse_window",
    "per_action_figures",
    "policy_classes_only",
    "rate_met",
    "rates_from_counts",
    "read_in_force",
    "request_events",
    "request_kinds",
    "request_weights",
    "requests_by_kind",
    "resolve_window",
    "run_sums",
    "runs_of",
    "stand_in_requests",
    "state_column",
    "states_at",
    "time_window_moments",
    "timestamps_ns",
    "traffic_figures",
    "traffic_requests",
    "unvalued_kinds",
    "verdicts",
    "window_label",
    "window_sums",
    "with_no_evidence",
    "yardstick_thresholds",
]

Window = int | str | pd.Timedelta | None


class _FromPolicy(enum.Enum):
    WINDOW = "the policy's [graduation] window"


#: The default window of every function that takes a policy: the policy's own
#: ``[graduation] window`` (cumulative when the policy sets none).
POLICY_WINDOW = _FromPolicy.WINDOW


def resolve_window(window: Window | _FromPolicy, policy: TrustPolicy) -> Window:
    """``window``, or the policy's ``[graduation] window`` for :data:`POLICY_WINDOW`."""
    if window is POLICY_WINDOW:
        return policy.graduation.window
    return window


#: The four counts every metric is computed from, in this order.
COUNT_COLUMNS = ("n_normal", "passed_normal", "n_adversarial", "passed_adversarial")
STATE_NAMES = [s.name for s in AutonomyState]
#: Levels of the figures: "at or above SUPERVISED" and "AUTONOMOUS".
LEVELS = GRADUATION_STATES
NS_PER_DAY = 86_400 * 10**9
#: Moments graded (or binned) per slice: float temporaries of a few tens of MB at most.
PART_MOMENTS = 1 << 20


# --------------------------------------------------------------------------- windows


def check_window(window: Window) -> int | pd.Timedelta | None:
    """``window`` in its one checked form: None, a positive case count or a positive span.

    The grammar is the core's (:func:`warrantd.window.parse_window`), so a window
    typed on the command line, in a sweep grid or in a policy file reads the same.
    Raises :class:`~warrantd.errors.OptionError` (``window``) for anything else.
    """
    if isinstance(window, np.integer):
        window = int(window)
    if _is_missing(window):
        raise OptionError(
            "window", f"{window!r} is not a window (expected 'cumulative', a case count or '30D')"
        )
    try:
        checked = core_parse_window(window)
    except ValueError as exc:
        raise OptionError("window", str(exc)) from None
    if isinstance(checked, timedelta):
        return pd.Timedelta(checked)
    return checked


def _is_missing(value: object) -> bool:
    """NaN or NaT (a missing window in a table), which is no window at all."""
    return value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def parse_window(text: str | None) -> int | str | None:
    """Window text as a user writes it: ``cumulative`` (or ``none``, or nothing) is None,
    digits (optionally followed by ``cases``) a case count, anything else the text itself
    (a time span, checked by :func:`check_window`)."""
    if text is None:
        return None
    try:
        parsed = core_parse_window(text)
    except ValueError:
        return text.strip()
    return text.strip() if isinstance(parsed, timedelta) else parsed


def window_label(window: Window) -> str:
    """The one spelling of a window in every table, chart and report.

    ``cumulative``, ``500 cases`` or a time span such as ``30D``, ``36h``
    (:func:`warrantd.window.window_text`); :func:`parse_window` reads every label back.
    """
    checked = check_window(window)
    return window_text(checked.to_pytimedelta() if isinstance(checked, pd.Timedelta) else checked)


# --------------------------------------------------------------------------- metrics


def _ratio(passed: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.empty(np.broadcast(passed, n).shape, dtype=np.float64)
    # Divided everywhere, then 0.0 where there is no case: a masked divide is slower.
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(passed, n, out=out)
    out[np.broadcast_to(n <= 0, out.shape)] = 0.0
    return out


def rates_from_counts(
    n_normal: Any, passed_normal: Any, n_adversarial: Any, passed_adversarial: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pass_rate, adversarial_pass_rate, sample_size) from counts; arrays or scalars.

    The single definition of the metrics: see the module docstring.
    """
    # Counts divide as they are (32 or 64 bits: the quotient is the same float); only the
    # samples are summed in 64 bits.
    n_norm, passed_norm, n_adv, passed_adv = map(
        _whole, (n_normal, passed_normal, n_adversarial, passed_adversarial)
    )
    pass_rate = _ratio(passed_norm, n_norm)
    adv_rate = _ratio(passed_adv, n_adv)
    return pass_rate, adv_rate, n_norm.astype(np.int64) + n_adv


def _whole(values: Any) -> np.ndarray:
    """Counts as an integer array: kept in their own width when already whole numbers."""
    array = np.asarray(values)
    return array if np.issubdtype(array.dtype, np.integer) else array.astype(np.int64)


# --------------------------------------------------------------------------- evidence


def timestamps_ns(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds since the epoch (fast to sort and search);
    a read-only view of the column when it is already in nanoseconds (no copy)."""
    values = pd.DatetimeIndex(timestamps).as_unit("ns").asi8
    view = np.asarray(values, dtype=np.int64).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class Evidence:
    """Case counts per (action, timestamp): one row per distinct pair, sorted by action,
    then time. ``bounds[i]:bounds[i + 1]`` are the rows of ``actions[i]``; ``counts`` is
    (4, rows) in :data:`COUNT_COLUMNS` order; ``means`` holds per-row means of extra
    columns (e.g. the ground truth ``true_pass_p``), NaN where a row has none."""

    actions: tuple[str, ...]
    bounds: np.ndarray
    time_ns: np.ndarray
    counts: np.ndarray
    means: Mapping[str, np.ndarray]
    #: With ``reset_on``: each row's first row of its segment (the rows since the latest
    #: change of the reset column in its class); None when evidence never restarts.
    segment_start: np.ndarray | None = None

    def clip_start(self, start: np.ndarray, end: np.ndarray, class_start: Any) -> np.ndarray:
        """Window starts (rows ``[start, end)``) moved up to the segment of the window's
        last row: evidence counts from the latest reset (:func:`evidence_of`)."""
        if self.segment_start is None:
            return start
        last = np.maximum(end - 1, 0)
        seg = np.where(end > class_start, self.segment_start[last], class_start)
        return np.asarray(np.minimum(np.maximum(start, seg), end))

    @cached_property
    def n_cases(self) -> np.ndarray:
        """Cases of each row, normal and adversarial."""
        return np.asarray(self.counts[0] + self.counts[2])

    @cached_property
    def cases_before(self) -> np.ndarray:
        """The cases of rows ``[0, i)`` at ``i`` (rows + 1 values, 64 bits)."""
        out = np.zeros(len(self.time_ns) + 1, dtype=np.int64)
        np.cumsum(self.n_cases, out=out[1:])
        return out

    @property
    def codes(self) -> np.ndarray:
        """The action index of every row."""
        return np.repeat(np.arange(len(self.actions), dtype=np.int32), np.diff(self.bounds))

    def frame(self) -> pd.DataFrame:
        """The evidence as a table: ``action``, ``timestamp``, ``n_cases`` and the counts."""
        out = pd.DataFrame(
            {
                "action": np.asarray(self.actions, dtype=object)[self.codes],
                "timestamp": pd.to_datetime(self.time_ns, unit="ns", utc=True),
                "n_cases": self.n_cases,
            }
        )
        for i, column in enumerate(COUNT_COLUMNS):
            out[column] = self.counts[i]
        return out


def _action_codes(actions: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Sorted names and each row's index into them (a categorical column costs nothing)."""
    codes, names, _ = _counted_action_codes(actions)
    return codes, names


def _counted_action_codes(actions: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray]:
    """:func:`_action_codes` and the rows of each name. A categorical column whose
    categories are sorted and all present keeps its own (8 or 16-bit) codes."""
    if isinstance(actions.dtype, pd.CategoricalDtype):
        raw = actions.cat.codes.to_numpy()
        categories = [str(c) for c in actions.cat.categories]
        whole = len(raw) == 0 or int(raw.min()) >= 0
        rows = np.bincount(raw if whole else raw[raw >= 0], minlength=len(categories))
        present = np.flatnonzero(rows)
        order = sorted(present, key=lambda i: categories[i])
        names = [categories[i] for i in order]
        if whole and len(order) == len(categories) and order == sorted(order):
            return raw, names, rows  # the codes are already the sorted names' indices
        # 32-bit codes: four bytes a row, not eight.
        remap = np.full(len(categories), -1, dtype=np.int32)
        remap[order] = np.arange(len(order))
        return remap[raw], names, rows[order]
    factorized, distinct = pd.factorize(actions, sort=True)
    codes = np.asarray(factorized, dtype=np.int32)
    counted = codes if len(codes) == 0 or int(codes.min()) >= 0 else codes[codes >= 0]
    return codes, [str(n) for n in distinct], np.bincount(counted, minlength=len(distinct))


def evidence_of(
    history: pd.DataFrame, mean_columns: Sequence[str] = (), reset_on: str | None = None
) -> Evidence:
    """The :class:`Evidence` of a canonical history (no loop over rows).

    ``reset_on`` (a column, e.g. ``agent_version``): a class's evidence restarts at every
    change of that column's value (in time order; a missing value is a value too); the
    rows of one (action, timestamp) must share one value.
    """
    codes, names, per_class = _counted_action_codes(history["action"])
    ts = timestamps_ns(history["timestamp"])
    # Histories are kept sorted by time, so a stable sort on the action code alone
    # (a radix sort for 8 or 16-bit codes) gives (action, time) order.
    if len(ts) > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
        order = np.lexsort((ts, codes))
    elif codes.dtype.itemsize <= 2:
        order = np.argsort(codes, kind="stable")
    else:
        order = np.argsort(codes.astype(np.int16) if len(names) < 2**15 else codes, kind="stable")
    ts = ts[order]
    # The sorted rows of class i are class_rows[i]:class_rows[i + 1] (counted, not read
    # off the sorted codes); a new (action, timestamp) starts at a class's first row or
    # where the time changes.
    class_rows = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum(per_class, out=class_rows[1:])
    changes = np.empty(len(ts), dtype=bool)
    if len(ts):
        changes[0] = True
        np.not_equal(ts[1:], ts[:-1], out=changes[1:])
        changes[class_rows[:-1][per_class > 0]] = True
    # Every row its own (action, timestamp), as in most histories: the rows are the pairs.
    one_each = bool(changes.all())
    starts = np.arange(0) if one_each else np.flatnonzero(changes)
    pairs = len(ts) if one_each else len(starts)
    bounds = class_rows if one_each else np.searchsorted(starts, class_rows, side="left")
    adversarial = history["adversarial"].to_numpy(dtype=bool)
    n = history["n"].to_numpy(dtype=np.int32)
    passed = history["n_passed"].to_numpy(dtype=np.int32)
    # 32-bit counts: a history holds at most two billion cases (a window never more).
    # Each (action, timestamp) takes its first row's counts (one gather per column),
    # then the few rows that share a pair are added to it (a reduceat would pay a call
    # per pair).
    first = order if one_each else order[starts]
    counts = np.empty((4, pairs), dtype=np.int32)
    adv_first = adversarial[first]
    for normal, adv, values in ((0, 2, n), (1, 3, passed)):
        # mode="clip" (the indices are in range): "raise" would buffer the output.
        np.take(values, first, out=counts[normal], mode="clip")
        np.multiply(counts[normal], adv_first, out=counts[adv])
        counts[normal] -= counts[adv]
    del adv_first
    if not one_each:
        extra = order[~changes]
        pair_of_extra = np.searchsorted(starts, np.flatnonzero(~changes), side="right") - 1
        adv_extra = adversarial[extra]
        for normal, adv, values in ((0, 2, n), (1, 3, passed)):
            mine = values[extra]
            np.add.at(counts[normal], pair_of_extra, mine * ~adv_extra)
            np.add.at(counts[adv], pair_of_extra, mine * adv_extra)
        del extra, pair_of_extra
    del first
    if one_each and (mean_columns or reset_on is not None):
        starts = np.arange(len(ts))
    means = {}
    for column in mean_columns:
        values = pd.to_numeric(history[column], errors="coerce").to_numpy(np.float64)[order]
        present = ~np.isnan(values)
        if len(starts):
            total = np.add.reduceat(np.where(present, values, 0.0), starts)
            count = np.add.reduceat(present.astype(np.int64), starts)
            means[column] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        else:
            means[column] = np.zeros(0)
    segment_start = None
    if reset_on is not None:
        segment_start = _segments(history, reset_on, order, starts, changes, bounds)
    distinct = ts if one_each else ts[starts]
    return Evidence(tuple(names), bounds, distinct, counts, means, segment_start)


def _segments(
    history: pd.DataFrame,
    column: str,
    order: np.ndarray,
    starts: np.ndarray,
    changes: np.ndarray,
    bounds: np.ndarray,
) -> np.ndarray:
    """Each evidence row's first row of its segment under ``reset_on = column``."""
    source = str(history.attrs.get("source", "history"))
    if column not in history.columns:
        raise InputError(source, [f"reset_on names the column {column!r}, which it lacks"])
    codes, _ = pd.factorize(history[column], use_na_sentinel=False)
    codes = np.asarray(codes, dtype=np.int64)[order]
    group = np.cumsum(changes) - 1  # each sorted row's evidence row
    mixed = np.flatnonzero(codes != codes[starts][group])
    if len(mixed):
        row = int(order[mixed[0]])
        raise InputError(
            source,
            [
                f"row {row + 1}: column {column!r}: {history[column].iloc[row]!r} differs from "
                f"another row of the same action and timestamp (reset_on needs one value there)"
            ],
        )
    value = codes[starts]
    first = np.zeros(len(starts), dtype=bool)
    first[bounds[:-1][np.diff(bounds) > 0]] = True
    new = first.copy()
    new[1:] |= value[1:] != value[:-1]
    return np.asarray(np.maximum.accumulate(np.where(new, np.arange(len(starts)), 0)))


def _cumulative_counts(counts: np.ndarray) -> np.ndarray:
    """(4, rows + 1) int64: the counts of rows ``[0, i)`` in column ``i``."""
    cum = np.zeros((counts.shape[0], counts.shape[1] + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=cum[:, 1:])
    return cum


def _differences(cum: np.ndarray, end: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The counts of rows ``[start, end)`` ((4, len(end)), 32 bits: a window holds at most
    two billion cases) from :func:`_cumulative_counts`. One ``take`` per count column:
    numpy's two-dimensional fancy indexing (``cum[:, end]``) is several times slower."""
    out = np.empty((cum.shape[0], len(end)), dtype=np.int32)
    for k in range(cum.shape[0]):  # four count columns, not rows
        row = cum[k]
        np.subtract(row.take(end), row.take(start), out=out[k], casting="unsafe")
    return out


def window_sums(
    evidence: Evidence,
    window: Window,
    query_ns: np.ndarray,
    query_bounds: np.ndarray,
    *,
    inclusive: bool,
) -> np.ndarray:
    """The :data:`COUNT_COLUMNS` in each query's window: the one window definition.

    Queries are grouped by action like the evidence (``query_bounds[i]:query_bounds[i+1]``
    are the queries of ``evidence.actions[i]``), each a moment in ns. With
    ``inclusive`` the window ends at and includes the moment (the state graded there);
    without, it holds only evidence strictly before it (the state in force there).
    Returns (4, queries) in 32 bits (a window holds at most two billion cases).
    """
    span = check_window(window)
    # Every query's rows [start, end), found class by class, then one difference.
    ends = np.zeros(len(query_ns), dtype=np.int64)
    starts = np.zeros(len(query_ns), dtype=np.int64)
    side: Literal["left", "right"] = "right" if inclusive else "left"
    cum = _cumulative_counts(evidence.counts)
    cases = cum[0] + cum[2]
    for i in range(len(evidence.actions)):  # one pass per class, never per row
        lo_row, hi_row = int(evidence.bounds[i]), int(evidence.bounds[i + 1])
        q = query_ns[query_bounds[i] : query_bounds[i + 1]]
        if not len(q):
            continue
        own = evidence.time_ns[lo_row:hi_row]
        end = lo_row + np.searchsorted(own, q, side=side)  # rows [start, end) are in
        if span is None:
            start = np.full(len(q), lo_row)
        elif isinstance(span, int):
            # the latest row s with cases in rows [s, end) >= K, whole timestamps only
            need = cases[end] - span
            start = np.searchsorted(cases[lo_row : hi_row + 1], need, side="right") - 1 + lo_row
            start = np.clip(start, lo_row, end)
        else:
            start = lo_row + np.searchsorted(own, q - span.value, side="right")
            start = np.minimum(start, end)
        start = evidence.clip_start(start, end, lo_row)
        ends[query_bounds[i] : query_bounds[i + 1]] = end
        starts[query_bounds[i] : query_bounds[i + 1]] = start
    return _differences(cum, ends, starts)


# --------------------------------------------------------------------------- the rule


def class_ceilings(policy: TrustPolicy, actions: Iterable[str]) -> np.ndarray:
    """Each class's ceiling (:func:`warrantd.graduation.ceiling`), once per class."""
    return np.array([int(ceiling(policy.action(a))) for a in actions], dtype=np.int8)


def _lgamma(values: Any) -> np.ndarray:
    """:func:`math.lgamma` elementwise, called once per distinct value (counts repeat a
    lot), so the vectorized anytime rule is the core's to the bit."""
    x = np.asarray(values, dtype=np.float64)
    distinct, inverse = np.unique(x, return_inverse=True)
    out = np.fromiter(map(math.lgamma, distinct.tolist()), np.float64, len(distinct))
    return np.asarray(out[inverse].reshape(x.shape))


def rate_met(rule: str, passed: np.ndarray, n: np.ndarray, bar: float, alpha: float) -> np.ndarray:
    """Vectorized :func:`warrantd.graduation.evidence_met` for one bar: the core's own
    function, fed arrays (numpy's square root, :func:`math.lgamma` per distinct value)."""
    rate = _ratio(np.asarray(passed, dtype=np.int64), np.asarray(n, dtype=np.int64))
    met = evidence_met(
        rule,
        np.asarray(passed, dtype=np.int64),
        np.asarray(n, dtype=np.int64),
        rate,
        bar,
        alpha,
        sqrt=np.sqrt,
        lgamma=_lgamma,
    )
    return np.asarray(np.broadcast_to(met, rate.shape), dtype=bool)


def _chain(enter: np.ndarray, keep: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``held[e] = enter[e] or (held[e - 1] and keep[e])``, restarting (nothing held) at
    each ``starts`` position, without a loop: held when the latest entry is no earlier
    than the latest event that could not keep the state."""
    index = np.arange(len(enter))
    last_enter = np.maximum.accumulate(np.where(enter, index, -1))
    last_break = np.maximum.accumulate(np.where(~keep | starts, index, -1))
    return np.asarray((last_enter >= 0) & (last_enter >= last_break))


def graded_states(
    pass_rate: np.ndarray,
    adversarial_pass_rate: np.ndarray,
    sample_size: np.ndarray,
    thresholds: GraduationThresholds,
    ceilings: np.ndarray,
    *,
    counts: np.ndarray | None = None,
    settings: GraduationSettings | None = None,
    starts: np.ndarray | None = None,
    met_cache: dict[tuple[str, float], np.ndarray] | None = None,
) -> np.ndarray:
    """Vectorized :meth:`GraduationEngine.allowed_state`: the highest state whose three
    bars are met, never above each row's ceiling; MANUAL is the floor.

    ``settings`` chooses the evidence rule (rate bars then read ``counts``, (4, rows) in
    :data:`COUNT_COLUMNS` order) and the demotion margin. Under hysteresis
    (:attr:`~warrantd.graduation.GraduationSettings.holds_state`) the rows are a sequence
    in time and each row is handed the state of the row before it as ``current``,
    restarting at the ``starts`` positions (True where a class begins); without
    ``starts`` each row is graded alone, with no state handed on.
    ``met_cache`` (a dict kept by the caller) keeps what a bound rule says of each
    (rule, level, rate, bar) across calls over the same rows: a sweep grades many
    candidates that share bar values.
    """
    settings = GraduationSettings() if settings is None else settings
    rule, alpha, margin = settings.evidence, settings.alpha, settings.demotion_margin
    if rule != "point" and counts is None:
        raise ValueError(f"evidence rule {rule!r} needs the counts of every row")
    metrics = {
        "pass_rate": pass_rate,
        "adversarial_pass_rate": adversarial_pass_rate,
        "sample_size": sample_size,
    }
    column = {name: i for i, name in enumerate(COUNT_COLUMNS)}

    def qualifies(target: AutonomyState) -> np.ndarray:
        meets = ceilings >= target
        for criterion in CRITERIA:
            bar = getattr(thresholds, criterion.bar)[target]
            if criterion.kind == "rate" and rule != "point":
                assert counts is not None and criterion.counts
                key = (f"{rule} {alpha!r} {criterion.metric}", float(bar))
                met = None if met_cache is None else met_cache.get(key)
                if met is None:
                    passed, total = (counts[column[c]] for c in criterion.counts)
                    met = rate_met(rule, passed, total, bar, alpha)
                    if met_cache is not None:
                        met_cache[key] = met
                meets &= met
            else:
                meets &= criterion.met(metrics[criterion.metric], bar)
        return np.asarray(meets)

    if not settings.holds_state or starts is None:  # memoryless: each row alone
        # The highest state qualified for (two states and three criteria, not rows).
        state = np.zeros(len(pass_rate), dtype=np.int8)
        for target in GRADUATION_STATES:
            state = np.where(qualifies(target), np.int8(int(target)), state)
        return state
    state = np.zeros(len(pass_rate), dtype=np.int8)
    held_above = np.zeros(len(pass_rate), dtype=bool)
    for target in reversed(GRADUATION_STATES):  # AUTONOMOUS first, as the engine tries
        keep = ceilings >= target
        for criterion in CRITERIA:
            bar = getattr(thresholds, criterion.bar)[target]
            keep &= criterion.kept(metrics[criterion.metric], bar, margin)
        held = _chain(qualifies(target) | held_above, np.asarray(keep), starts)
        state[held & (state == 0)] = int(target)
        held_above = held
    return state


def states_at(
    evidence: Evidence,
    policy: TrustPolicy,
    window: Window,
    when_ns: int,
    held: Mapping[str, AutonomyState] | None = None,
) -> dict[str, AutonomyState]:
    """The state each class of the policy had earned at ``when_ns`` (its window measured
    back from it, the moment included); MANUAL for a class with no evidence.

    ``held`` (under hysteresis): the state each class held at its latest moment before
    (a class absent from it had none: MANUAL), handed to the engine with the window at
    ``when_ns``, so evidence that has left the window since still counts against it."""
    n = len(evidence.actions)
    counts = window_sums(
        evidence, window, np.full(n, when_ns, dtype=np.int64), np.arange(n + 1), inclusive=True
    )
    if held is not None:
        engine = GraduationEngine(policy.thresholds, policy.graduation)
        graded = {
            action: engine.allowed_state(
                policy.action(action),
                EvalMetrics.from_counts(*(int(c[i]) for c in counts)),
                held[action],
            )
            for i, action in enumerate(evidence.actions)  # per class, not per row
            if action in held
        }
        return {a: graded.get(a, AutonomyState.MANUAL) for a in sorted(policy.actions)}
    # One moment alone: the evidence rule, no state handed on (no ``starts``).
    states = graded_states(
        *rates_from_counts(*counts),
        policy.thresholds,
        class_ceilings(policy, evidence.actions),
        counts=counts,
        settings=policy.graduation,
    )
    found = {a: AutonomyState(int(s)) for a, s in zip(evidence.actions, states, strict=True)}
    return {a: found.get(a, AutonomyState.MANUAL) for a in sorted(policy.actions)}


def state_column(levels: np.ndarray) -> pd.Categorical:
    """States as an ordered categorical of their names."""
    codes = np.asarray(levels, dtype=np.int64)
    # pandas-stubs' overloads of from_codes take no plain list of category names.
    categorical = pd.Categorical.from_codes(  # type: ignore[call-overload]
        codes, categories=STATE_NAMES, ordered=True
    )
    return cast(pd.Categorical, categorical)


# --------------------------------------------------------------------------- coverage


def check_coverage(
    actions: Iterable[str],
    policy: TrustPolicy,
    source: str = "history",
    *,
    frame: pd.DataFrame | None = None,
    column: str | None = "action",
    policy_name: str = "the policy",
) -> None:
    """Raise :class:`~warrantd.errors.InputError` naming the actions the policy lacks.

    One problem per action, under ``source`` (the history or traffic file) and its
    ``column`` (the user's name for it; None for a tool's logs, which have no such
    column), with "did you mean ...?" when a policy class is close to it (as for a
    policy key). With the canonical ``frame`` the actions came from, each says in how
    many rows and from when, and the file row of that first row when the loader kept it
    (``frame.attrs["first_row"]``: a loaded frame is in time order, not the file's).
    """
    import difflib  # here, not at the top: this function is the whole change

    from ..errors import quote
    from ..policyfile import _CLOSE

    missing = sorted(set(actions) - set(policy.actions))
    if not missing:
        return
    where: dict[str, str] = {}
    rows: dict[str, int] = {}
    if frame is not None:
        found = frame.loc[frame["action"].isin(missing).to_numpy(), ["action", "timestamp"]]
        for name, (first, count) in (
            found.groupby("action", observed=True)["timestamp"].agg(["min", "size"]).iterrows()
        ):
            when = pd.Timestamp(first).isoformat().replace("+00:00", "Z")
            where[str(name)] = f" ({count:,} row{'s' if count != 1 else ''}, the first at {when})"
        if column is not None:  # a tool's logs have no file rows to point at
            rows = dict(frame.attrs.get("first_row", {}))
    known = sorted(policy.actions)
    folded = {name.strip().casefold(): name for name in known}

    def hint(name: str) -> str:
        close = folded.get(name.strip().casefold())
        if close is None:
            matches = difflib.get_close_matches(name, known, n=1, cutoff=_CLOSE)
            close = matches[0] if matches else None
        return f"; did you mean {close!r}?" if close is not None else ""

    prefix = f"column {column!r}: " if column is not None else "action "
    raise InputError(
        source,
        [
            (f"row {rows[name]}, " if name in rows else "")
            + f"{prefix}{quote(name)}: an action class {policy_name} does not define"
            + where.get(name, "")
            + hint(name)
            for name in sorted(missing, key=lambda n: (rows.get(n, 0), n))  # in file order
        ],
    )


def policy_classes_only(history: pd.DataFrame, policy: TrustPolicy) -> pd.DataFrame:
    """The rows of ``history`` whose action the policy defines (for callers that list
    the others themselves, as the report does); an error when none is left."""
    known = history["action"].isin(list(policy.actions)).to_numpy()
    if known.all():
        return history
    if not known.any():
        raise InputError(
            str(history.attrs.get("source", "history")),
            ["none of its action classes is defined in the policy"],
        )
    kept = history[known].reset_index(drop=True)
    kept.attrs = dict(history.attrs)
    return kept


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Events:
    """The gate's event sequence for every class, ready to grade.

    Per class, its *moments* in time order (see the module docstring), two events
    each: "in force at m" (even positions) then "graded at m" (odd positions). The
    event metrics (pass rate, adversarial pass rate, samples) are computed from the
    window's counts when asked (:meth:`metrics`, :meth:`half_metrics`), never stored;
    everything is kept once per moment and read per event through the methods, so
    memory stays near the size of the evidence.
    ``moment_bounds[i]:moment_bounds[i + 1]`` are the moments of ``actions[i]``;
    :attr:`arrived` holds the cases that arrived at each moment ((4, moments), zero at
    a pure expiry moment; kept as ``arrivals``, or read off the evidence rows when
    asked), ``graded_counts`` the window's counts graded there, ``duration_days`` how
    long each graded state is held (to the next moment, the last one to the end of the
    history), :attr:`seen_through` the class's cases so far.
    """

    evidence: Evidence
    actions: tuple[str, ...]
    moments: np.ndarray
    moment_bounds: np.ndarray
    class_ceilings: np.ndarray
    #: The cases that arrived at each moment ((4, moments)) when kept; None: read off
    #: the evidence rows and their moments (:attr:`row_moments`) when asked.
    arrivals: np.ndarray | None
    graded_counts: np.ndarray
    #: The window's counts in force at each moment; None when they are ``graded_counts``
    #: less ``arrived`` (cumulative windows), computed when asked instead of kept.
    before_counts: np.ndarray | None
    duration_days: np.ndarray
    first_case_ns: np.ndarray
    end_ns: int
    true_pass_p: np.ndarray | None
    window: Window
    #: Per event, the approval signal's pass rate and sample size (None without one).
    approval_pass_rate: np.ndarray | None = None
    approval_sample_size: np.ndarray | None = None
    #: The moment of each evidence row when the moments were found with the rows
    #: (:func:`time_window_moments`); None when :attr:`row_moments` searches for them.
    arrival_moments: np.ndarray | None = None
    #: The moments whose window in force must be graded on its own (sorted): each
    #: class's first (nothing before it) and those where a case arrives as evidence
    #: leaves the window. Elsewhere the window in force is one already graded, so its
    #: state is read rather than graded again: at a moment where evidence only leaves
    #: (:attr:`in_force_as_graded`) it is the window graded there (no case arrived
    #: then), at any other the window graded at the class's moment before (no case
    #: arrived or left in between). None: grade every moment's (an approval signal
    #: changes at moments of its own).
    fresh_in_force: np.ndarray | None = None
    #: Whether evidence only leaves the window at each moment (see
    #: :attr:`fresh_in_force`); None: at none.
    in_force_as_graded: np.ndarray | None = None
    #: The window's counts in force at :attr:`fresh_in_force` ((4, fresh)) when found
    #: with them (:func:`time_window_moments`); None: computed when asked.
    fresh_counts: np.ndarray | None = None

    @cached_property
    def moment_codes(self) -> np.ndarray:
        """Each moment's class index."""
        codes = np.arange(len(self.actions), dtype=np.int32)
        return np.repeat(codes, np.diff(self.moment_bounds))

    @cached_property
    def row_moments(self) -> np.ndarray:
        """The moment of each evidence row (its cases arrive there)."""
        if self.arrival_moments is not None:
            return self.arrival_moments
        if len(self.moments) == len(self.evidence.time_ns):  # the moments are the rows
            return np.arange(len(self.moments), dtype=np.int64)
        return _arrival_moments(self.evidence, self.moments, self.moment_bounds)

    def half_counts(self, half: int, part: slice = slice(None)) -> np.ndarray:
        """The window's counts ((4, moments)) at the in-force events (``half`` 0) or the
        graded events (``half`` 1), of the moments in ``part``."""
        if half:
            return self.graded_counts[:, part]
        if self.before_counts is None:
            return np.asarray(self.graded_counts[:, part] - self.arrived[:, part])
        return self.before_counts[:, part]

    def in_force_counts(self, moments: np.ndarray) -> np.ndarray:
        """The window's counts in force at each of ``moments`` ((4, len(moments)))."""
        out = np.empty((4, len(moments)), dtype=np.int32)
        for k in range(4):  # one count column at a time (2-D fancy indexing is slower)
            if self.before_counts is not None:
                # mode="clip" (in range): "raise" buffers the output.
                np.take(self.before_counts[k], moments, out=out[k], mode="clip")
            else:
                np.subtract(
                    self.graded_counts[k].take(moments), self.arrived[k].take(moments), out=out[k]
                )
        return out

    def fresh_parts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """:attr:`fresh_in_force` in slices of at most :data:`PART_MOMENTS` moments, each
        with the window's counts in force there."""
        fresh = self.fresh_in_force
        assert fresh is not None
        out = []
        for lo in range(0, len(fresh), PART_MOMENTS):
            part = slice(lo, lo + PART_MOMENTS)
            found = self.fresh_counts
            counts = found[:, part] if found is not None else self.in_force_counts(fresh[part])
            out.append((fresh[part], counts))
        return out

    @cached_property
    def arrived(self) -> np.ndarray:
        """The cases that arrived at each moment ((4, moments), zero at pure expiries)."""
        if self.arrivals is not None:
            return self.arrivals
        return _scattered(self.evidence.counts, self.row_moments, len(self.moments))

    def arrived_at(self, moments: np.ndarray) -> np.ndarray:
        """:attr:`arrived` at a few ``moments`` ((4, len(moments))), without it."""
        if self.arrivals is not None or "arrived" in self.__dict__:
            return np.asarray(self.arrived[:, moments])
        rows = self.row_moments
        at = np.searchsorted(rows, moments, side="left")
        safe = np.minimum(at, max(len(rows) - 1, 0))
        here = (at < len(rows)) & (rows[safe] == moments) if len(rows) else at < 0
        return np.where(here, self.evidence.counts[:, safe], 0)

    def arrived_sums(self, runs: np.ndarray) -> np.ndarray:
        """:attr:`arrived` summed over runs of moments ((4, runs), 64 bits): from each
        start in ``runs`` (ascending, the first 0) to the next, the last to the end.
        Without kept arrivals, the sums of the evidence rows arriving in each run."""
        if self.arrivals is not None or "arrived" in self.__dict__:
            return run_sums(self.arrived, runs, np.int64)
        rows = np.searchsorted(self.row_moments, runs, side="left")  # each run's first row
        out = np.zeros((4, len(runs)), dtype=np.int64)
        # A run where no case arrived holds no row (reduceat would read one).
        holds = rows < np.r_[rows[1:], len(self.row_moments)]
        if holds.any():
            out[:, holds] = np.add.reduceat(
                self.evidence.counts, rows[holds], axis=1, dtype=np.int64
            )
        return out

    @cached_property
    def seen_through(self) -> np.ndarray:
        """The class's cases at each moment, its own included."""
        return self.event_seen(2 * np.arange(len(self.moments)) + 1)

    @property
    def in_force_read(self) -> bool:
        """Whether the in-force events take the graded state of the moment before, but
        at :attr:`fresh_in_force` (see there; never with an approval signal)."""
        return self.fresh_in_force is not None and self.approval_pass_rate is None

    def half_metrics(
        self, half: int, part: slice = slice(None)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pass rate, adversarial pass rate, samples) of the in-force events (``half``
        0: positions 0, 2, ...) or of the graded events (``half`` 1), one per moment of
        ``part``."""
        return rates_from_counts(*self.half_counts(half, part))

    def parts(self) -> list[slice]:
        """The moments in slices of at most :data:`PART_MOMENTS`: per-event work done a
        slice at a time keeps its float temporaries small whatever the history's size."""
        n = len(self.moments)
        return [slice(lo, min(lo + PART_MOMENTS, n)) for lo in range(0, n, PART_MOMENTS)]

    def metrics(self, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pass rate, adversarial pass rate, samples) of the events in ``index`` (all
        when None), from the window's counts there."""
        if index is None:
            halves = [self.half_metrics(h) for h in (0, 1)]
            a, b, c = (_interleave(x, y) for x, y in zip(*halves, strict=True))
            return a, b, c
        moment, half = index // 2, index % 2
        graded = self.graded_counts[:, moment]
        if self.before_counts is None:
            before = graded - self.arrived_at(moment)
        else:
            before = self.before_counts[:, moment]
        return rates_from_counts(*np.where(half == 1, graded, before))

    def half_points(
        self, half: int, part: slice = slice(None)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`rule_points` of the in-force (``half`` 0) or graded (1) events of the
        moments in ``part``."""
        rate, adversarial, samples = self.half_metrics(half, part)
        if self.approval_pass_rate is None or self.approval_sample_size is None:
            return rate, adversarial, samples
        approval_rate = self.approval_pass_rate[half::2][part]
        approval_samples = self.approval_sample_size[half::2][part]
        return np.minimum(rate, approval_rate), adversarial, np.minimum(samples, approval_samples)

    def rule_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (pass rate, adversarial pass rate, samples) each event is graded on.

        With an approval signal, a state is earned only when both signals earn it
        (:meth:`warrantd.GraduationEngine.combined_allowed_state`: the approval signal
        has no adversarial coverage, so it is held to the pass-rate and sample bars
        only). Every bar applies to both signals alike, so "both meet the bar" is
        "the smaller of the two meets it": the point is the componentwise minimum,
        and the rule (and the sweep's grid) need nothing else.
        """
        halves = [self.half_points(h) for h in (0, 1)]
        a, b, c = (_interleave(x, y) for x, y in zip(*halves, strict=True))
        return a, b, c

    @property
    def bounds(self) -> np.ndarray:
        """Event offsets where each class's block starts, plus the end."""
        return np.asarray(2 * self.moment_bounds)

    @property
    def action_codes(self) -> np.ndarray:
        """Each event's class index."""
        return np.repeat(self.moment_codes, 2)

    @property
    def moment_ceilings(self) -> np.ndarray:
        """Each moment's class ceiling (repeated per class, not gathered per moment)."""
        return np.repeat(self.class_ceilings, np.diff(self.moment_bounds))

    @property
    def ceilings(self) -> np.ndarray:
        """Each event's class ceiling."""
        return np.asarray(self.class_ceilings[self.action_codes])

    @cached_property
    def handled(self) -> dict[str, np.ndarray]:
        """Per moment, the cases that arrived at it (handled under the state in force
        then) and their failures, normal and adversarial."""
        a = self.arrived
        return {
            "normal_cases": a[0],
            "normal_failures": a[0] - a[1],
            "adversarial_cases": a[2],
            "adversarial_failures": a[2] - a[3],
        }

    def event_time(self, index: np.ndarray) -> np.ndarray:
        """The time (ns) of each event in ``index``."""
        return np.asarray(self.moments[index // 2])

    def event_code(self, index: np.ndarray) -> np.ndarray:
        """The class index of each event in ``index``."""
        return np.asarray(self.moment_codes[index // 2])

    def event_seen(self, index: np.ndarray) -> np.ndarray:
        """Cases the class had seen by each event: before its moment's cases when in
        force, with them when graded (64 bits)."""
        moment, graded = index // 2, index % 2
        rows = self.row_moments  # ascending: the rows arrived by a moment are a prefix
        if self.arrival_moments is None and len(rows) == len(self.moments):
            through = moment + graded  # the moments are the rows
        else:
            # Rows before the moment, and its own row when graded (if one arrived then).
            through = np.searchsorted(rows, moment, side="left")
            here = rows.take(np.minimum(through, len(rows) - 1)) == moment
            through += graded & here
        before = self.evidence.cases_before
        return np.asarray(before[through] - before[self.evidence.bounds[self.moment_codes[moment]]])

    def event_truth(self, index: np.ndarray) -> np.ndarray:
        """The ground truth (``true_pass_p`` at the latest case) at each event."""
        assert self.true_pass_p is not None
        return np.asarray(self.true_pass_p[index // 2])

    def is_expiry(self, index: np.ndarray) -> np.ndarray:
        """Whether a state change at each event came from evidence leaving the window:
        on an in-force event, or at a moment where no case arrived."""
        arrived = self.arrived_at(index // 2)
        empty = (arrived[0] + arrived[2]) == 0
        return np.asarray((index % 2 == 0) | empty)

    @property
    def counts(self) -> np.ndarray:
        """The window's counts at every event ((4, events): in force, then graded)."""
        out = np.empty((4, 2 * len(self.moments)), dtype=np.int32)
        out[:, 0::2] = self.half_counts(0)
        out[:, 1::2] = self.graded_counts
        return out

    @property
    def starts(self) -> np.ndarray:
        """True at each class's first event (where the state handed on restarts)."""
        out = np.zeros(2 * len(self.moments), dtype=bool)
        out[self.bounds[:-1][np.diff(self.bounds) > 0]] = True
        return out

    def sequence_inputs(self, settings: GraduationSettings) -> SequenceInputs:
        """What grading the events as one sequence (under hysteresis) reads besides the
        thresholds: the points, ceilings, counts (bound rules only) and class starts;
        the same for every candidate, so a sweep computes them once per rule setting."""
        return (
            self.rule_points(),
            self.ceilings,
            self.counts if settings.evidence != "point" else None,
            self.starts,
        )

    def states(
        self,
        thresholds: GraduationThresholds,
        settings: GraduationSettings | None = None,
        inputs: SequenceInputs | None = None,
        met_cache: dict[tuple[str, float], np.ndarray] | None = None,
    ) -> np.ndarray:
        """The state of every event under ``thresholds`` and the evidence rule and margin
        of ``settings`` (the published rule when None); under hysteresis each event is
        handed the state of the event before it in its class. With an approval signal,
        both signals must earn a state (:meth:`rule_points`; the point rule only).
        ``inputs``: :meth:`sequence_inputs` of ``settings``, when already at hand;
        ``met_cache`` as in :func:`graded_states` (under hysteresis)."""
        settings = GraduationSettings() if settings is None else settings
        needs_counts = settings.evidence != "point"
        hysteresis = settings.holds_state
        self.check_settings(settings)
        if hysteresis:  # each event hands its state on: the events in one sequence
            points, ceilings, counts, starts = (
                self.sequence_inputs(settings) if inputs is None else inputs
            )
            return graded_states(
                *points,
                thresholds,
                ceilings,
                counts=counts,
                settings=settings,
                starts=starts,
                met_cache=met_cache,
            )
        # Memoryless: the in-force and the graded events are graded apart (half the
        # temporary metrics at a time), then interleaved.
        out = np.empty(2 * len(self.moments), dtype=np.int8)
        ceilings = self.moment_ceilings
        read = self.in_force_read
        for part in self.parts():
            for half in (1,) if read else (0, 1):
                out[2 * part.start + half : 2 * part.stop : 2] = graded_states(
                    *self.half_points(half, part),
                    thresholds,
                    ceilings[part],
                    counts=self.half_counts(half, part) if needs_counts else None,
                    settings=settings,
                )
        if read:
            # In force at a moment: the state graded at the moment before, but where
            # the window in force is a window of its own (fresh_in_force).
            read_in_force(out, self.in_force_as_graded)
            for fresh, counts in self.fresh_parts():
                out[2 * fresh] = graded_states(
                    *rates_from_counts(*counts),
                    thresholds,
                    ceilings[fresh],
                    counts=counts if needs_counts else None,
                    settings=settings,
                )
        return out

    def check_settings(self, settings: GraduationSettings) -> None:
        """Raise :class:`~warrantd.errors.OptionError` when these events cannot be graded
        under ``settings``: approvals as a second signal take the point rule only."""
        if self.approval_pass_rate is not None and settings.holds_state:
            raise OptionError(
                "approvals",
                "approvals as a second signal are replayed under the point rule without "
                f"hysteresis only, not evidence={settings.evidence!r}, "
                f"demotion_margin={settings.demotion_margin}",
            )

    def signal_states(self, thresholds: GraduationThresholds) -> tuple[np.ndarray, np.ndarray]:
        """(evals, approvals): the state each signal alone earns at every event (the
        point rule); the approvals' is the class ceiling when there is no approval signal."""
        evals = graded_states(*self.metrics(), thresholds, self.ceilings)
        if self.approval_pass_rate is None or self.approval_sample_size is None:
            return evals, self.ceilings.astype(np.int8)
        ones = np.ones(len(self.approval_pass_rate))
        approvals = graded_states(
            self.approval_pass_rate, ones, self.approval_sample_size, thresholds, self.ceilings
        )
        return evals, approvals


def read_in_force(events: np.ndarray, as_graded: np.ndarray | None) -> None:
    """Fill the in-force half of ``events`` (even positions, per moment) from the graded
    half (odd positions), in place: each moment's in-force value is the graded value of
    the moment before, or of the moment itself where ``as_graded`` (evidence only left the
    window then). A class's first moment is left to the caller (Events.fresh_in_force)."""
    graded = events[1::2]
    if as_graded is None:
        events[2::2] = graded[:-1]
    else:
        events[2::2] = np.where(as_graded[1:], graded[1:], graded[:-1])


#: :meth:`Events.sequence_inputs`: (points, ceilings, counts or None, starts).
SequenceInputs = tuple[
    tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray | None, np.ndarray
]


def _interleave(before: np.ndarray, at: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(before), dtype=np.result_type(before, at))
    out[0::2] = before
    out[1::2] = at
    return out


@dataclass(frozen=True)
class ApprovalStream:
    """Human approval records for the second signal, grouped by the evidence's classes
    (``codes`` index ``evidence.actions``), in time order within each class; records of
    classes without evidence are left out (no evidence earns no state to hold back)."""

    codes: np.ndarray
    time_ns: np.ndarray
    bounds: np.ndarray
    clean_cum: np.ndarray  # clean records before each position, from the class's start
    window: int | None


def approval_stream(
    approvals: pd.DataFrame, evidence: Evidence, window: int | None
) -> ApprovalStream:
    """The :class:`ApprovalStream` of an approvals table (a record is clean when it was
    approved, not overridden and raised no error, as :func:`warrantd.approval_metrics`
    counts it)."""
    if window is not None and (isinstance(window, bool) or int(window) < 0):
        raise OptionError("approval_window", f"must be a whole number >= 0, not {window!r}")
    position = {name: i for i, name in enumerate(evidence.actions)}
    names = approvals["action"].astype(str).to_numpy()
    codes = np.array([position.get(n, -1) for n in np.unique(names)], dtype=np.int64)
    code_of = codes[np.unique(names, return_inverse=True)[1]] if len(names) else codes
    kept = code_of >= 0
    times = timestamps_ns(approvals["timestamp"])[kept]
    code_of = code_of[kept]
    clean = (
        approvals["approved"].to_numpy(dtype=bool)
        & ~approvals["overridden"].to_numpy(dtype=bool)
        & ~approvals["error"].to_numpy(dtype=bool)
    )[kept]
    order = np.lexsort((np.arange(len(times)), times, code_of))  # stable within a time
    code_of, times, clean = code_of[order], times[order], clean[order]
    bounds = np.searchsorted(code_of, np.arange(len(evidence.actions) + 1))
    cum = np.zeros(len(clean) + 1, dtype=np.int64)
    np.cumsum(clean, out=cum[1:])
    return ApprovalStream(code_of.astype(np.int32), times, bounds, cum, window)


def _approval_metrics(
    stream: ApprovalStream | None, moments: np.ndarray, bounds: np.ndarray
) -> dict[str, np.ndarray | None]:
    """Per event, the approval signal's pass rate and samples: the last ``window``
    records strictly before the moment (in force) and at or before it (graded)."""
    if stream is None:
        return {"approval_pass_rate": None, "approval_sample_size": None}
    out = []
    for side in ("left", "right"):
        rate = np.zeros(len(moments))
        size = np.zeros(len(moments), dtype=np.int64)
        for i in range(len(bounds) - 1):  # one pass per class, never per row
            lo, hi = int(stream.bounds[i]), int(stream.bounds[i + 1])
            mine = moments[bounds[i] : bounds[i + 1]]
            end = lo + np.searchsorted(stream.time_ns[lo:hi], mine, side=side)
            start = (
                np.full(len(mine), lo)
                if stream.window is None
                else np.maximum(end - stream.window, lo)
            )
            n = end - start
            clean = stream.clean_cum[end] - stream.clean_cum[start]
            rate[bounds[i] : bounds[i + 1]] = np.where(n > 0, clean / np.maximum(n, 1), 0.0)
            size[bounds[i] : bounds[i + 1]] = n
        out.append((rate, size))
    return {
        "approval_pass_rate": _interleave(out[0][0], out[1][0]),
        "approval_sample_size": _interleave(out[0][1], out[1][1]),
    }


def _moments(
    evidence: Evidence, span: Any, end_ns: int, approvals: ApprovalStream | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the sorted distinct moments its state may change, and their class bounds.

    Case timestamps always; with a time window also each ``t + w`` up to the end of the
    history (a case leaves the window exactly then); with an approval signal, each
    approval record's time.
    """
    codes = evidence.codes
    all_codes, all_times = [codes], [evidence.time_ns]
    if isinstance(span, pd.Timedelta):
        expiry = evidence.time_ns + span.value
        keep = expiry <= end_ns
        all_codes.append(codes[keep])
        all_times.append(expiry[keep])
    if approvals is not None:
        all_codes.append(approvals.codes)
        all_times.append(approvals.time_ns)
    return _distinct_moments(np.concatenate(all_codes), np.concatenate(all_times), evidence)


def _distinct_moments(
    all_codes: np.ndarray, all_times: np.ndarray, evidence: Evidence
) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((all_times, all_codes))
    all_codes, all_times = all_codes[order], all_times[order]
    distinct = np.ones(len(all_times), dtype=bool)
    distinct[1:] = (all_codes[1:] != all_codes[:-1]) | (all_times[1:] != all_times[:-1])
    all_codes, all_times = all_codes[distinct], all_times[distinct]
    bounds = np.searchsorted(all_codes, np.arange(len(evidence.actions) + 1), side="left")
    return all_times, bounds


def _row_windows(evidence: Evidence, span: int | None) -> tuple[np.ndarray | None, np.ndarray]:
    """(in force, graded) window counts at every evidence row, for windows that change
    only when cases arrive (cumulative and case-count): the same definition as
    :func:`window_sums`, read off one cumulative sum with no search per class."""
    counts = evidence.counts
    rows = counts.shape[1]
    if span is None and evidence.segment_start is None:  # everything of the class so far
        # Running sums per class (a loop over classes, not rows), in 32 bits: a class
        # holds at most two billion cases.
        graded = np.empty_like(counts)
        bounds = evidence.bounds
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            np.cumsum(counts[:, lo:hi], axis=1, out=graded[:, lo:hi])
        return None, graded  # in force: graded less the row's own cases (Events.half_counts)
    cum = _cumulative_counts(counts)
    class_start = np.repeat(evidence.bounds[:-1], np.diff(evidence.bounds))
    index = np.arange(rows)
    windows = []
    cases = cum[0] + cum[2]
    for end in (index, index + 1):  # rows [start, end): before the row, then with it
        if span is None:
            start = class_start
        else:
            start = np.searchsorted(cases, cases[end] - span, side="right") - 1
            start = np.clip(start, class_start, end)
        start = evidence.clip_start(start, end, class_start)
        windows.append(_differences(cum, end, start))
    return windows[0], windows[1]


@dataclass(frozen=True)
class TimeWindowMoments:
    """What :func:`time_window_moments` finds: the moments of a time window and the
    window's counts at each, computed together.

    ``moments``/``bounds`` as :func:`_moments` gives them (per class, sorted and
    distinct); ``graded`` and ``before`` the window's :data:`COUNT_COLUMNS` graded at and
    in force at each moment ((4, moments), 32 bits, equal to :func:`window_sums` with
    ``inclusive`` True and False). ``before`` is None when it is ``graded`` less the
    cases arriving at the moment (always, unless evidence restarts with ``reset_on``):
    both windows then start at the same row. ``row_moment`` is each evidence row's
    moment, :attr:`last_row` the latest evidence row at or before each moment.
    """

    moments: np.ndarray
    bounds: np.ndarray
    before: np.ndarray | None
    graded: np.ndarray
    row_moment: np.ndarray
    #: Found on the way, for :func:`build_events`: the days each graded state is held
    #: (to the next moment of the class, the last to ``end_ns``), the moments whose
    #: window in force is no window graded already (:attr:`Events.fresh_in_force`) and
    #: the window's counts in force there (None with resets: ``before`` has them), and
    #: whether evidence only leaves at each moment (:attr:`Events.in_force_as_graded`).
    duration_days: np.ndarray
    fresh_in_force: np.ndarray
    in_force_as_graded: np.ndarray
    fresh_counts: np.ndarray | None

    @cached_property
    def last_row(self) -> np.ndarray:
        """The latest evidence row at or before each moment."""
        arrivals = np.zeros(len(self.moments), dtype=np.int64)
        arrivals[self.row_moment] = 1
        return np.cumsum(arrivals) - 1


def time_window_moments(evidence: Evidence, span_ns: int, end_ns: int) -> TimeWindowMoments:
    """The moments of a trailing time window of ``span_ns`` and the window's counts at
    each, without a search per moment: the vectorized form of :func:`_moments` plus
    :func:`window_sums` (``inclusive`` False and True) for a time window.

    Per class, the arrivals (each evidence row at its time ``t``) and the expiries
    (each row again at ``t + w``, when it leaves the window) are two sorted runs; they
    are merged (a stable sort that finds the two runs: linear, one call per class),
    arrival before expiry at a tie. Walking the merged sequence, the number of
    arrivals and of expiries so far are *row indices*: the window at a moment ``m``
    holds rows ``[expired through m, arrived through m)`` (graded: ``(m - w, m]``) or
    ``[expired through m, arrived before m)`` (in force: ``(m - w, m)``), so its counts
    are a difference of two cumulative sums of the evidence counts, found by position
    in the merge rather than by a search. A case exactly at ``m - w`` expires at ``m``
    and is out of both; cases sharing a timestamp are one evidence row; an expiry
    between cases is a moment of its own (up to ``end_ns``); a window everything has
    left holds zero counts; with ``reset_on`` a window starts no earlier than its last
    row's segment (:meth:`Evidence.clip_start`).
    """
    if span_ns <= 0:
        raise ValueError(f"a time window must be positive, not {span_ns} ns")
    rows = len(evidence.time_ns)
    bounds = evidence.bounds
    n_classes = len(bounds) - 1
    # Pass 1, one class at a time on arrays a class long (they stay in the cache; a loop
    # over the classes, never over rows): merge, and find the moments.
    merged = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        n = hi - lo
        if n == 0:
            continue
        own = evidence.time_ns[lo:hi]
        both = np.concatenate((own, own + span_ns))
        order = np.argsort(both, kind="stable")  # two sorted runs: a merge
        when = both.take(order)
        del both
        # Elements at or before the end (expiries after it are no moments; arrivals
        # never are); a moment starts where the time changes.
        stop = int(np.searchsorted(when, end_ns, side="right"))
        new = np.empty(stop + 1, dtype=bool)
        new[0] = new[stop] = True
        np.not_equal(when[1:stop], when[: stop - 1], out=new[1:stop])
        first = np.flatnonzero(new[:stop])
        # An arrival sorts first at its time, so it starts its moment; a moment has a
        # second element (an expiry) when a row expires as another arrives, and a moment
        # without an arrival is an expiry.
        with_arrival = order.take(first) < n
        with_expiry = ~new.take(first + 1)
        with_expiry |= ~with_arrival
        merged.append((lo, hi, when.take(first), with_arrival, with_expiry))
        del when, order, new, first
    sizes = np.zeros(n_classes, dtype=np.int64)
    present = (np.diff(bounds) > 0).nonzero()[0]
    sizes[present] = [len(part[2]) for part in merged]
    moment_bounds = np.zeros(n_classes + 1, dtype=np.int64)
    np.cumsum(sizes, out=moment_bounds[1:])
    total = int(moment_bounds[-1])
    # Pass 2: every output at its exact size, filled class by class.
    moments = np.concatenate([part[2] for part in merged]) if merged else np.zeros(0, np.int64)
    graded = np.empty((4, total), dtype=np.int32)
    before = None if evidence.segment_start is None else np.empty((4, total), dtype=np.int32)
    duration = np.empty(total, dtype=np.float64)
    row_moment = np.empty(rows, dtype=np.int64)
    leaving = np.empty(total, dtype=bool)
    fresh_parts, fresh_counts = [], []
    cum = np.zeros((4, int(np.diff(bounds).max(initial=0)) + 1), dtype=np.int32)
    for (lo, hi, own_moments, with_arrival, with_expiry), offset in zip(
        merged, moment_bounds[present].tolist(), strict=True
    ):
        n, m = hi - lo, len(own_moments)
        out = slice(offset, offset + m)
        # Arrivals and expiries so far are row counts: the window graded at a moment
        # holds rows [expired, arrived) (the i-th expiry of the merge is row i's).
        end_graded = np.cumsum(with_arrival, dtype=np.int64)
        start = np.cumsum(with_expiry, dtype=np.int64)
        np.cumsum(evidence.counts[:, lo:hi], axis=1, out=cum[:, 1 : n + 1])
        if before is None:
            begin = start
        else:
            begin = evidence.clip_start(start + lo, end_graded + lo, lo) - lo
            # With resets the window in force may start in an earlier segment than the
            # graded one (the row arriving at the moment can start a segment).
            end_before = end_graded - with_arrival
            begin_before = evidence.clip_start(start + lo, end_before + lo, lo) - lo
        for k in range(4):  # four count columns (32 bits: differences of a wrapped sum)
            row = cum[k, : n + 1]
            np.subtract(row.take(end_graded), row.take(begin), out=graded[k, out])
            if before is not None:
                np.subtract(row.take(end_before), row.take(begin_before), out=before[k, out])
        at = np.flatnonzero(with_arrival)
        at += offset
        row_moment[lo:hi] = at
        # Each graded state is held to the class's next moment, the last to the end.
        gaps = np.empty(m, dtype=np.int64)
        np.subtract(own_moments[1:], own_moments[:-1], out=gaps[:-1])
        gaps[-1] = end_ns - own_moments[-1]
        np.true_divide(gaps, NS_PER_DAY, out=duration[out])
        # The window in force at a moment where nothing expires (the rows expired so far
        # do not grow) is the one graded at the moment before, and where no case arrives
        # the one graded at the moment itself; a class's first moment has nothing before
        # it; at a moment where a case arrives as evidence leaves it is its own.
        fresh = with_expiry & with_arrival
        fresh[0] = True
        np.logical_not(with_arrival, out=leaving[out])
        fresh_at = np.flatnonzero(fresh)
        if before is None:  # in force there: rows [expired, arrived before the moment)
            end_in_force = end_graded.take(fresh_at) - with_arrival.take(fresh_at)
            begin_in_force = start.take(fresh_at)
            counts = np.empty((4, len(fresh_at)), dtype=np.int32)
            for k in range(4):
                row = cum[k, : n + 1]
                np.subtract(row.take(end_in_force), row.take(begin_in_force), out=counts[k])
            fresh_counts.append(counts)
        fresh_at += offset
        fresh_parts.append(fresh_at)
    return TimeWindowMoments(
        moments=moments,
        bounds=moment_bounds,
        before=before,
        graded=graded,
        row_moment=row_moment,
        duration_days=duration,
        fresh_in_force=np.concatenate(fresh_parts) if fresh_parts else np.zeros(0, np.int64),
        in_force_as_graded=leaving,
        fresh_counts=(
            None
            if before is not None
            else np.concatenate(fresh_counts, axis=1)
            if fresh_counts
            else np.zeros((4, 0), np.int32)
        ),
    )


def build_events(
    history: pd.DataFrame,
    policy: TrustPolicy,
    window: Window = None,
    until_ns: int | None = None,
    approvals: pd.DataFrame | None = None,
    approval_window: int | None = None,
    reset_on: str | None = None,
) -> Events:
    """The event sequence of a history under a policy and window, ready to grade.

    The timeline runs to the last case, or to ``until_ns`` when that is later (the
    last request of the traffic): evidence keeps expiring on the clock until then.
    ``approvals`` (timestamp, action, approved, overridden, error: the kit's approvals
    schema) add the second signal, the last ``approval_window`` records (all when
    None) before each moment, as :class:`warrantd.signals.ApprovalHistorySignal` reads
    them. With ``reset_on`` each class's evidence restarts where that column changes.
    """
    span = check_window(window)
    truth = ("true_pass_p",) if "true_pass_p" in history.columns else ()
    evidence = evidence_of(history, mean_columns=truth, reset_on=reset_on)
    check_coverage(evidence.actions, policy, str(history.attrs.get("source", "history")))
    end_ns = int(evidence.time_ns.max()) if len(evidence.time_ns) else 0
    if until_ns is not None:
        end_ns = max(end_ns, int(until_ns))
    stream = None if approvals is None else approval_stream(approvals, evidence, approval_window)
    before: np.ndarray | None
    arrival_moments: np.ndarray | None = None
    last_row: np.ndarray | None = None
    fresh: np.ndarray | None = None
    fresh_counts: np.ndarray | None = None
    leaving: np.ndarray | None = None
    arrived: np.ndarray | None
    if isinstance(span, pd.Timedelta) and stream is None:
        # Evidence expiring on the clock: the moments, both windows and the per-moment
        # figures in one merge per class; the arrivals are read off the rows when asked.
        found = time_window_moments(evidence, span.value, end_ns)
        moments, bounds, before, graded = found.moments, found.bounds, found.before, found.graded
        arrival_moments, arrived, duration = found.row_moment, None, found.duration_days
        fresh, fresh_counts = found.fresh_in_force, found.fresh_counts
        leaving = found.in_force_as_graded
        if truth:
            last_row = found.last_row
        del found
    else:
        if isinstance(span, pd.Timedelta) or stream is not None:
            moments, bounds = _moments(evidence, span, end_ns, stream)
            before = window_sums(evidence, window, moments, bounds, inclusive=False)
            graded = window_sums(evidence, window, moments, bounds, inclusive=True)
            arrived = _arrivals(evidence, moments, bounds)
        else:  # the window changes only when cases arrive: the moments are the rows
            moments, bounds = evidence.time_ns, evidence.bounds
            before, graded = _row_windows(evidence, span)
            arrived = evidence.counts
            # A row's window in force is the window graded at the row before it (the
            # same rows: everything, or the latest K cases, before it).
            fresh = bounds[:-1][np.diff(bounds) > 0]
        duration = _held(moments, bounds, end_ns)
    true_p = None
    if truth and last_row is not None:
        true_p = evidence.means["true_pass_p"][last_row]
    elif truth:
        true_p = _forward_filled(evidence, moments, bounds, evidence.means["true_pass_p"])
    return Events(
        evidence=evidence,
        actions=evidence.actions,
        moments=moments,
        moment_bounds=bounds,
        class_ceilings=class_ceilings(policy, evidence.actions),
        arrivals=arrived,
        graded_counts=graded,
        before_counts=before,
        duration_days=duration,
        first_case_ns=evidence.time_ns[evidence.bounds[:-1]],
        end_ns=end_ns,
        true_pass_p=true_p,
        window=window,
        arrival_moments=arrival_moments,
        fresh_in_force=fresh,
        fresh_counts=fresh_counts,
        in_force_as_graded=leaving,
        **_approval_metrics(stream, moments, bounds),
    )


def _held(moments: np.ndarray, bounds: np.ndarray, end_ns: int) -> np.ndarray:
    """Per moment, the days its graded state is held (to the class's next moment, the
    last one to ``end_ns``)."""
    last = np.zeros(len(moments), dtype=bool)
    last[bounds[1:][np.diff(bounds) > 0] - 1] = True
    following = np.empty_like(moments)
    following[:-1] = moments[1:]
    if len(moments):
        following[-1] = end_ns
    return np.asarray(np.where(last, end_ns - moments, following - moments) / NS_PER_DAY)


def _arrival_moments(evidence: Evidence, moments: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The index of each evidence row's moment (every row's time is a moment of its class)."""
    out = np.empty(len(evidence.time_ns), dtype=np.int64)
    for i in range(len(evidence.actions)):  # one pass per class, never per row
        lo, hi = int(evidence.bounds[i]), int(evidence.bounds[i + 1])
        mine = moments[bounds[i] : bounds[i + 1]]
        out[lo:hi] = np.searchsorted(mine, evidence.time_ns[lo:hi]) + bounds[i]
    return out


def _arrivals(evidence: Evidence, moments: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The cases that arrived at each moment ((4, moments); zero at pure expiry moments)."""
    return _scattered(evidence.counts, _arrival_moments(evidence, moments, bounds), len(moments))


def _scattered(counts: np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
    """(4, size) zeros with ``counts[:, i]`` placed in column ``at[i]``; one count column
    at a time (two-dimensional fancy assignment is several times slower)."""
    out = np.zeros((counts.shape[0], size), dtype=np.int32)
    for k in range(counts.shape[0]):  # four count columns, not rows
        out[k, at] = counts[k]
    return out


def _forward_filled(
    evidence: Evidence, moments: np.ndarray, bounds: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """``values`` (one per evidence row) at each moment: the latest row at or before it."""
    out = np.full(len(moments), np.nan)
    for i in range(len(evidence.actions)):
        lo, hi = int(evidence.bounds[i]), int(evidence.bounds[i + 1])
        mine = moments[bounds[i] : bounds[i + 1]]
        row = np.searchsorted(evidence.time_ns[lo:hi], mine, side="right") - 1
        out[bounds[i] : bounds[i + 1]] = np.where(row >= 0, values[lo:hi][row.clip(0)], np.nan)
    return out


def history_span_days(events: Events) -> float:
    """Days from the first to the last case of the whole history."""
    if not len(events.evidence.time_ns):
        return 0.0
    return float((events.end_ns - int(events.evidence.time_ns.min())) / NS_PER_DAY)


# --------------------------------------------------------------------------- traffic

#: How the decision flow treats a request whatever the state: a READ class
#: (always allowed), a value above ``hard_cap`` (always blocked), a value that
#: ``auto_cap`` lets through in SUPERVISED (or no value, or no cap), and a value
#: above ``auto_cap``.
KIND_READ, KIND_BLOCKED, KIND_WITHIN_AUTO_CAP, KIND_OVER_AUTO_CAP = range(4)
REQUEST_KINDS = ("read", "over_hard_cap", "within_auto_cap", "over_auto_cap")
VERDICT_NAMES = ("ALLOW", "REQUIRE_APPROVAL", "BLOCK")  # the published values, by code
_ALLOW, _APPROVE, _BLOCK = range(3)
#: The published decision flow (:meth:`warrantd.TrustLayer.evaluate` after the kill
#: switch) as a table: the verdict of a request of each kind in each state, and the
#: step of the flow that decided it. Every verdict and verdict figure is read off it.
VERDICT_TABLE = np.array(
    [
        # MANUAL     SUPERVISED  AUTONOMOUS
        [_ALLOW, _ALLOW, _ALLOW],  # READ: always allowed
        [_BLOCK, _BLOCK, _BLOCK],  # above hard_cap: blocked
        [_APPROVE, _ALLOW, _ALLOW],  # within auto_cap (or no value / no cap)
        [_APPROVE, _APPROVE, _ALLOW],  # above auto_cap
    ],
    dtype=np.int8,
)
REASON_CODES = (
    "read",
    "hard_cap",
    "manual",
    "supervised_within_auto_cap",
    "supervised_over_auto_cap",
    "autonomous",
)
_REASON_TABLE = np.array([[0, 0, 0], [1, 1, 1], [2, 3, 5], [2, 4, 5]], dtype=np.int8)


@dataclass(frozen=True)
class Requests:
    """Traffic ready for the decision flow: one entry per request (or per history row
    standing in for ``weight`` requests), in time order.

    ``codes`` index ``actions`` (the policy's classes, sorted); ``kinds`` are the
    :data:`REQUEST_KINDS`; ``stand_in`` is True when eval cases stand in for traffic.
    """

    actions: tuple[str, ...]
    time_ns: np.ndarray
    codes: np.ndarray
    kinds: np.ndarray
    weight: np.ndarray
    stand_in: bool

    def __len__(self) -> int:
        return len(self.time_ns)

    @property
    def end_ns(self) -> int:
        """The time of the last request (0 with none)."""
        return int(self.time_ns.max()) if len(self.time_ns) else 0


def request_kinds(
    policy: TrustPolicy,
    actions: Sequence[str],
    codes: np.ndarray,
    values: np.ndarray,
    value_text: np.ndarray | None,
) -> np.ndarray:
    """Each request's kind (:data:`REQUEST_KINDS`) from its class and value against the
    class's caps, exactly as the gate compares them: ``value > cap`` in decimals. Values
    are compared as floats, and the few that equal a cap as floats are decided again on
    their exact decimal text (so ``100.000000000000001`` is above a cap of ``100``)."""
    kinds = np.full(len(codes), KIND_WITHIN_AUTO_CAP, dtype=np.int8)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(actions) + 1))
    for code, name in enumerate(actions):  # one pass per class, never per row
        rows = order[bounds[code] : bounds[code + 1]]
        if not len(rows):
            continue
        action = policy.action(name)
        if action.risk is RiskTier.READ:
            kinds[rows] = KIND_READ
            continue
        for cap, kind in ((action.auto_cap, KIND_OVER_AUTO_CAP), (action.hard_cap, KIND_BLOCKED)):
            if cap is not None:
                above = _above(values[rows], None if value_text is None else value_text[rows], cap)
                kinds[rows[above]] = kind  # hard_cap last: above it wins
    return kinds


def _above(values: np.ndarray, text: np.ndarray | None, cap: Decimal) -> np.ndarray:
    """``value > cap`` per request (NaN: no value, never above), exact on float ties."""
    limit = float(cap)
    with np.errstate(invalid="ignore"):
        above = values > limit
        tied = np.flatnonzero(values == limit)
    if text is not None and len(tied):
        for written in np.unique(text[tied].astype(str)):  # distinct tie texts only
            exact = Decimal(written) > cap
            above[tied[text[tied].astype(str) == written]] = exact
    return above


def traffic_requests(traffic: pd.DataFrame, policy: TrustPolicy) -> Requests:
    """The :class:`Requests` of a canonical traffic table (see :mod:`.traffic`); every
    action must be in the policy (the live gate raises ``KeyError`` otherwise)."""
    source = str(traffic.attrs.get("source", "traffic"))
    codes, names = _action_codes(traffic["action"])
    check_coverage(names, policy, source)
    actions = tuple(sorted(policy.actions))
    remap = np.array([actions.index(n) for n in names], dtype=np.int32)
    codes = remap[codes] if len(names) else codes.astype(np.int32)
    values = traffic["value"].to_numpy(dtype=np.float64) if "value" in traffic else None
    if values is None:
        values = np.full(len(codes), np.nan)
    text = None
    if "value_text" in traffic:
        text = (
            traffic["value_text"].astype(object).where(traffic["value_text"].notna(), "").to_numpy()
        )
    return Requests(
        actions=actions,
        time_ns=timestamps_ns(traffic["timestamp"]),
        codes=codes,
        kinds=request_kinds(policy, actions, codes, values, text),
        weight=np.ones(len(codes), dtype=np.int64),
        stand_in=False,
    )


def stand_in_requests(evidence: Evidence, policy: TrustPolicy) -> Requests:
    """Eval cases standing in for traffic: each (class, timestamp) of the evidence is
    that many requests without a value, at the time of the cases."""
    actions = tuple(sorted(policy.actions))
    remap = np.array([actions.index(n) for n in evidence.actions], dtype=np.int32)
    # Every row of a class is of its class's kind of a request without a value.
    per_class = np.diff(evidence.bounds)
    return Requests(
        actions=actions,
        time_ns=evidence.time_ns,
        codes=np.repeat(remap, per_class),
        kinds=np.repeat(unvalued_kinds(policy, evidence.actions), per_class),
        weight=evidence.n_cases.astype(np.int32, copy=False),
        stand_in=True,
    )


def request_events(events: Events, requests: Requests) -> np.ndarray:
    """The event whose state is in force for each request; -1 for a class without evidence.

    A request at ``t`` is decided on the evidence strictly before ``t``: at a moment
    of its class that is the "in force" event of that moment; between moments, the
    "graded" event of the moment before (nothing changes between moments); before
    the class's first moment, the in-force event of the first one (no evidence yet).
    """
    if requests.stand_in and len(requests) == len(events.evidence.time_ns):
        # The evidence rows themselves: each is decided at its own moment, in force.
        return 2 * events.row_moments
    out = np.full(len(requests), -1, dtype=np.int64)
    position = {name: i for i, name in enumerate(events.actions)}
    order = np.argsort(requests.codes, kind="stable")
    bounds = np.searchsorted(requests.codes[order], np.arange(len(requests.actions) + 1))
    for code, name in enumerate(requests.actions):  # one pass per class, never per row
        i = position.get(name)
        rows = order[bounds[code] : bounds[code + 1]]
        if i is None or not len(rows):
            continue
        lo, hi = int(events.moment_bounds[i]), int(events.moment_bounds[i + 1])
        mine = events.moments[lo:hi]
        t = requests.time_ns[rows]
        j = np.searchsorted(mine, t, side="left")
        at_moment = (j < len(mine)) & (mine[np.minimum(j, len(mine) - 1)] == t)
        graded_before = 2 * (lo + j - 1) + 1
        out[rows] = np.where(at_moment | (j == 0), 2 * (lo + j), graded_before)
    return out


def no_evidence_states(
    policy: TrustPolicy, thresholds: GraduationThresholds, actions: Sequence[str]
) -> np.ndarray:
    """The state each class has earned with no evidence at all (zero metrics): MANUAL
    unless every bar is zero."""
    zeros = np.zeros(len(actions))
    return graded_states(zeros, zeros, zeros, thresholds, class_ceilings(policy, actions))


def verdicts(kinds: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(verdict code, reason code) of each request from its kind and state in force."""
    return VERDICT_TABLE[kinds, states], _REASON_TABLE[kinds, states]


@dataclass(frozen=True)
class RequestWeights:
    """The requests decided at each event, by kind: ``values[i]`` holds those of kind
    ``kinds[i]``. Only the kinds the traffic has are kept (the eval cases standing in
    have one kind per class), in 32 bits: memory is what a million events cost."""

    kinds: np.ndarray
    values: np.ndarray
    #: With the eval cases standing in (each case one request without a value, decided
    #: in force at its moment): each class's kind, and ``values`` is left empty: the
    #: requests of a run of moments are the cases arriving in it (:meth:`at_arrivals`),
    #: so no per-event weights are built or summed.
    class_kinds: np.ndarray | None = None

    def at_arrivals(self, cases: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
        """With :attr:`class_kinds`: one array per kept kind, the requests of runs of
        moments where ``cases`` arrived (one value per run), of the classes ``codes``."""
        assert self.class_kinds is not None
        kind = self.class_kinds[codes]
        return [np.where(kind == k, cases, 0).astype(np.float64) for k in self.kinds]

    def full(self, reduced: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        """One reduced array per kept kind, as (4 kinds, *shape), zero for the others."""
        out = np.zeros((len(REQUEST_KINDS), *shape))
        for kind, part in zip(self.kinds, reduced, strict=True):
            out[kind] = part
        return out


def request_weights(events: Events, requests: Requests, event_of: np.ndarray) -> RequestWeights:
    """The requests of each kind decided at each event (those of classes without
    evidence, ``event_of`` -1, are left out)."""
    n_events = 2 * len(events.moments)
    if requests.stand_in and len(requests) == len(events.evidence.time_ns):
        # The evidence rows themselves: a class's rows share its kind.
        class_kinds = requests.kinds[events.evidence.bounds[:-1]]
        kinds = np.unique(class_kinds).astype(np.int64)
        return RequestWeights(kinds, np.zeros((len(kinds), 0), np.float32), class_kinds)
    every = bool((event_of >= 0).all())
    kept: Any = slice(None) if every else event_of >= 0
    found = np.bincount(requests.kinds[kept].astype(np.intp), minlength=len(REQUEST_KINDS))
    kinds = np.flatnonzero(found).astype(np.int64)
    values = np.zeros((len(kinds), n_events), dtype=np.float32)
    for i, kind in enumerate(kinds):
        if len(kinds) == 1:
            mine = kept
        else:
            mine = requests.kinds == kind
            if not every:
                mine &= event_of >= 0
        values[i] = np.bincount(event_of[mine], weights=requests.weight[mine], minlength=n_events)
    return RequestWeights(kinds, values)


def unvalued_kinds(policy: TrustPolicy, actions: Sequence[str]) -> np.ndarray:
    """Each class's kind of a request without a value: READ for a READ class, else
    within ``auto_cap`` (no value is never above a cap)."""
    return np.array(
        [
            KIND_READ if policy.action(a).risk is RiskTier.READ else KIND_WITHIN_AUTO_CAP
            for a in actions
        ],
        dtype=np.int8,
    )


def requests_by_kind(requests: Requests, actions: Sequence[str]) -> np.ndarray:
    """(4 kinds, classes): every request of each of ``actions`` by kind."""
    index = np.array([requests.actions.index(a) for a in actions], dtype=np.int64)
    flat = requests.kinds.astype(np.int64) * len(requests.actions) + requests.codes
    size = len(REQUEST_KINDS) * len(requests.actions)
    counts = np.bincount(flat, weights=requests.weight, minlength=size)
    return counts.reshape(len(REQUEST_KINDS), len(requests.actions))[:, index]


def no_evidence_traffic(
    requests: Requests,
    actions: Sequence[str],
    states: np.ndarray,
    unvalued: np.ndarray,
) -> dict[str, np.ndarray]:
    """:data:`TRAFFIC_FIGURES` for classes without evidence: every request decided in
    the state ``states`` (one per class, or (candidates, classes)) that no evidence earns."""
    counts = requests_by_kind(requests, actions)  # (4, classes)
    states = np.atleast_2d(states)  # (candidates, classes)
    one_hot = states[None, None, :, :] == np.arange(3)[None, :, None, None]
    by = np.where(one_hot, counts[:, None, None, :], 0.0).reshape(4, 3, -1)
    none = np.zeros((3, by.shape[-1]))
    return traffic_figures(
        by, np.tile(unvalued, states.shape[0]), {"normal": none, "adversarial": none}
    )


TRAFFIC_FIGURES = [
    "requests",
    "allowed",
    "approval_burden",
    "blocked",
    "requests_while_manual",
    "requests_while_supervised",
    "requests_while_autonomous",
    "failures_let_through",
    "adversarial_failures_let_through",
]


def traffic_figures(
    by_kind_and_state: np.ndarray,
    unvalued_kind: np.ndarray,
    failures_by_state: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The verdict figures of :data:`TRAFFIC_FIGURES` from their parts, for replay and sweep.

    ``by_kind_and_state`` is (4 kinds, 3 states, rows): requests of each kind decided
    in each state, one row per (action[, candidate]). ``unvalued_kind`` is each row's
    kind of a request without a value (READ for READ classes): the eval cases, whose
    failures are *let through* in a state where such a request is allowed.
    ``failures_by_state`` holds ``normal`` and ``adversarial`` failures (3 states, rows)
    handled in each state.
    """
    counts = by_kind_and_state
    # One add per (kind, state) cell of the verdict table: no (4, 3, rows) temporaries.
    by_verdict = np.zeros((len(VERDICT_NAMES), counts.shape[-1]))
    by_state = np.zeros((len(AutonomyState), counts.shape[-1]))
    for kind in range(counts.shape[0]):
        for state in range(counts.shape[1]):
            by_verdict[VERDICT_TABLE[kind, state]] += counts[kind, state]
            by_state[state] += counts[kind, state]
    out = {
        "requests": by_state.sum(axis=0),
        "allowed": by_verdict[_ALLOW],
        "approval_burden": by_verdict[_APPROVE],
        "blocked": by_verdict[_BLOCK],
    }
    for state in AutonomyState:
        out[f"requests_while_{state.name.lower()}"] = by_state[int(state)]
    let_through = VERDICT_TABLE[unvalued_kind].T == _ALLOW  # (3 states, rows)
    normal = np.where(let_through, failures_by_state["normal"], 0).sum(axis=0)
    adversarial = np.where(let_through, failures_by_state["adversarial"], 0).sum(axis=0)
    out["failures_let_through"] = normal + adversarial
    out["adversarial_failures_let_through"] = adversarial
    # Counts summed as float weights: whole numbers, given back as such.
    return {k: np.rint(v).astype(np.int64) for k, v in out.items()}


# --------------------------------------------------------------------------- figures

SUMMARY_FIGURES = [
    "first_supervised",
    "first_autonomous",
    "cases_to_supervised",
    "cases_to_autonomous",
    "days_to_supervised",
    "days_to_autonomous",
    "cases_while_manual",
    "cases_while_supervised_or_above",
    "failures_while_supervised_or_above",
    "normal_cases_while_supervised_or_above",
    "normal_failures_while_supervised_or_above",
    "adversarial_cases_while_supervised_or_above",
    "adversarial_failures_while_supervised_or_above",
    "cases_while_autonomous",
    "failures_while_autonomous",
    "normal_cases_while_autonomous",
    "normal_failures_while_autonomous",
    "adversarial_cases_while_autonomous",
    "adversarial_failures_while_autonomous",
    "demotions",
    "demotions_to_manual",
    "demotions_from_autonomous",
    "days_manual",
    "days_supervised",
    "days_autonomous",
    "premature_supervised",
    "premature_autonomous",
    "graduations_supervised",
    "graduations_autonomous",
    "premature_graduations_supervised",
    "premature_graduations_autonomous",
    *TRAFFIC_FIGURES,
]


def figures_from_parts(
    events: Events,
    first_idx: Mapping[AutonomyState, np.ndarray],
    handled_at_or_above: Mapping[AutonomyState, Mapping[str, np.ndarray]],
    drops_across: Mapping[AutonomyState, np.ndarray],
    days_at_or_above: Mapping[AutonomyState, np.ndarray],
    totals: Mapping[str, np.ndarray],
    pass_bars: Mapping[AutonomyState, np.ndarray],
    requests_total: np.ndarray,
    requests_at_or_above: Mapping[AutonomyState, np.ndarray],
    unvalued: np.ndarray,
    entries: Mapping[AutonomyState, np.ndarray],
    entries_below: Mapping[AutonomyState, np.ndarray],
) -> dict[str, Any]:
    """Summary figures from their parts, shared by replay and sweep.

    Every argument is keyed by level (:data:`LEVELS`: SUPERVISED meaning "SUPERVISED
    or above", AUTONOMOUS)
    and holds one value per (action[, candidate]): ``first_idx`` the first event
    index at or above the level (-1 if never), ``handled_at_or_above`` handled
    sums in force at or above it, ``drops_across`` the number of drops from at
    or above the level to below it, ``days_at_or_above`` the days held,
    ``totals`` the handled sums and days overall, ``pass_bars`` the pass bar,
    ``requests_total`` the requests of each kind ((4, rows), :data:`REQUEST_KINDS`)
    and ``requests_at_or_above`` those decided at or above the level, ``unvalued``
    the kind of a request without a value (:func:`traffic_figures`), ``entries`` how many
    times the class entered the level and ``entries_below`` how many of those while its
    true pass probability was below ``pass_bars`` (NaN where an entry's truth is
    unknown; read only where the events carry ground truth).
    """
    out: dict[str, Any] = {}
    for level in LEVELS:
        name = level.name.lower()
        idx = first_idx[level]
        reached = idx >= 0
        safe = np.where(reached, idx, 0)
        time_ns = np.where(reached, events.event_time(safe), np.iinfo(np.int64).min)
        out[f"first_{name}"] = pd.to_datetime(
            np.where(reached, time_ns, np.datetime64("NaT").astype("int64")), utc=True
        )
        seen = np.where(reached, events.event_seen(safe), 0).astype(np.int64)
        out[f"cases_to_{name}"] = pd.arrays.IntegerArray(seen, ~reached)
        first_case = events.first_case_ns[events.event_code(safe)]
        out[f"days_to_{name}"] = np.where(reached, (time_ns - first_case) / NS_PER_DAY, np.nan)
        if events.true_pass_p is None:
            unknown = np.ones(len(idx), dtype=bool)
            out[f"premature_{name}"] = pd.arrays.BooleanArray(~unknown, unknown)
        else:
            truth = events.event_truth(safe)
            below = np.asarray(truth < pass_bars[level], dtype=bool)
            out[f"premature_{name}"] = pd.arrays.BooleanArray(below, ~reached | np.isnan(truth))
        out[f"graduations_{name}"] = np.asarray(entries[level], dtype=np.int64)
        if events.true_pass_p is None:
            out[f"premature_graduations_{name}"] = pd.arrays.IntegerArray(  # all NA
                np.zeros(len(idx), dtype=np.int64), np.ones(len(idx), dtype=bool)
            )
        else:
            counted = np.asarray(entries_below[level], dtype=np.float64)
            unknown = np.isnan(counted)
            out[f"premature_graduations_{name}"] = pd.arrays.IntegerArray(
                np.where(unknown, 0, counted).astype(np.int64), unknown
            )
    for level, suffix in zip(LEVELS, ("supervised_or_above", "autonomous"), strict=True):
        part = handled_at_or_above[level]
        for kind in ("normal", "adversarial"):
            out[f"{kind}_cases_while_{suffix}"] = part[f"{kind}_cases"]
            out[f"{kind}_failures_while_{suffix}"] = part[f"{kind}_failures"]
        out[f"cases_while_{suffix}"] = part["normal_cases"] + part["adversarial_cases"]
        out[f"failures_while_{suffix}"] = part["normal_failures"] + part["adversarial_failures"]
    all_cases = totals["normal_cases"] + totals["adversarial_cases"]
    out["cases_while_manual"] = all_cases - out["cases_while_supervised_or_above"]
    supervised, autonomous = LEVELS
    out["demotions_to_manual"] = drops_across[supervised]
    out["demotions_from_autonomous"] = drops_across[autonomous]
    out["demotions"] = drops_across[supervised] + drops_across[autonomous]
    out["days_autonomous"] = days_at_or_above[autonomous]
    out["days_supervised"] = days_at_or_above[supervised] - days_at_or_above[autonomous]
    out["days_manual"] = totals["days"] - days_at_or_above[supervised]
    out.update(
        traffic_figures(
            _by_state(requests_total, requests_at_or_above),
            unvalued,
            {
                kind: _by_state(
                    totals[f"{kind}_failures"],
                    {lvl: handled_at_or_above[lvl][f"{kind}_failures"] for lvl in LEVELS},
                )
                for kind in ("normal", "adversarial")
            },
        )
    )
    return out


def _by_state(total: np.ndarray, at_or_above: Mapping[AutonomyState, np.ndarray]) -> np.ndarray:
    """Counts "at or above each level" as counts "in each state" (state axis before rows)."""
    supervised, autonomous = (at_or_above[level] for level in LEVELS)
    return np.stack([total - supervised, supervised - autonomous, autonomous], axis=-2)


def runs_of(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The first position of every run of equal ``values``; each of ``starts`` (a class's
    first position) starts a run too. Figures summed over runs instead of positions pay
    one pass over the positions (a ``reduceat``) and no temporary as long as them."""
    new = np.empty(len(values), dtype=bool)
    if len(values):
        new[0] = True
        np.not_equal(values[1:], values[:-1], out=new[1:])
        new[starts[starts < len(values)]] = True
    return np.flatnonzero(new)


def run_sums(values: np.ndarray, runs: np.ndarray, dtype: Any) -> np.ndarray:
    """``values`` summed over each run (along the last axis); empty with no runs."""
    if not len(runs):
        return np.zeros((*values.shape[:-1], 0), dtype=dtype)
    return np.asarray(np.add.reduceat(values, runs, axis=-1, dtype=dtype))


def handled_parts(arrived_sums: np.ndarray) -> dict[str, np.ndarray]:
    """Cases and failures, normal and adversarial, from summed arrival counts
    ((4, ...) in :data:`COUNT_COLUMNS` order)."""
    a = arrived_sums
    return {
        "normal_cases": a[0],
        "normal_failures": a[0] - a[1],
        "adversarial_cases": a[2],
        "adversarial_failures": a[2] - a[3],
    }


def per_action_figures(
    events: Events,
    states: np.ndarray,
    thresholds: GraduationThresholds,
    weights: RequestWeights,
    unvalued: np.ndarray,
    yardstick: GraduationThresholds | None = None,
) -> dict[str, Any]:
    """:func:`figures_from_parts` for one set of thresholds, one value per class;
    ``weights`` are the requests of each kind decided at each event
    (:func:`request_weights`), ``unvalued`` each class's kind of a valueless request.
    Premature graduations are judged against ``yardstick``'s pass bars (default
    ``thresholds``'; see :func:`warrantd.analytics.replay.replay`)."""
    # The state is a step function: every figure is a sum (or a first, or a count of
    # drops) over the runs of equal state within a class, which are few. Requests are
    # decided at any event; cases are handled on in-force events (even positions); time
    # is held on graded events (odd positions).
    n_actions = len(events.actions)
    n_events = len(states)

    def by_class(codes: np.ndarray, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if mask is not None:
            codes, values = codes[mask], values[mask]
        return np.bincount(codes, weights=values, minlength=n_actions)

    runs = runs_of(states, events.bounds[:-1])
    run_state, run_code = states[runs], events.event_code(runs)
    in_force = states[0::2]
    held_runs = runs_of(in_force, events.moment_bounds[:-1])
    held_state, held_code = in_force[held_runs], events.moment_codes[held_runs]
    handled_runs = handled_parts(events.arrived_sums(held_runs))
    if weights.class_kinds is None:
        requests = [run_sums(w, runs, np.float64) for w in weights.values]
        request_code, request_state = run_code, run_state
    else:  # stand-in requests: the cases arriving at each moment, decided in force
        cases = handled_runs["normal_cases"] + handled_runs["adversarial_cases"]
        requests = weights.at_arrivals(cases, held_code)
        request_code, request_state = held_code, held_state
    graded = states[1::2]
    day_runs = runs_of(graded, events.moment_bounds[:-1])
    day_state, day_code = graded[day_runs], events.moment_codes[day_runs]
    day_sums = run_sums(events.duration_days, day_runs, np.float64)
    same = run_code[1:] == run_code[:-1]

    def whole(values: np.ndarray) -> np.ndarray:
        return np.asarray(np.rint(values).astype(np.int64))

    judge = thresholds if yardstick is None else yardstick
    truth_at_run = (
        events.event_truth(runs) if events.true_pass_p is not None else np.zeros(len(runs))
    )
    first_idx, handled, drops, days, requests_at = {}, {}, {}, {}, {}
    entries, entries_below = {}, {}
    for level in LEVELS:
        at = run_state >= level
        requests_at[level] = weights.full(
            [by_class(request_code, r, request_state >= level) for r in requests], (n_actions,)
        )
        first = np.full(n_actions, n_events, dtype=np.int64)
        np.minimum.at(first, run_code[at], runs[at])
        first_idx[level] = np.where(first < n_events, first, -1)
        held = held_state >= level
        handled[level] = {k: whole(by_class(held_code, v, held)) for k, v in handled_runs.items()}
        dropped = same & at[:-1] & ~at[1:]
        drops[level] = np.bincount(run_code[1:][dropped], minlength=n_actions).astype(np.int64)
        # Entries: a run at or above the level that is its class's first, or follows one
        # below it; premature where the truth then is below the yardstick's bar.
        entered = at.copy()
        entered[1:] &= ~(same & at[:-1])
        entries[level] = np.bincount(run_code[entered], minlength=n_actions)
        below = np.bincount(
            run_code[entered & (truth_at_run < judge.pass_rate[level])], minlength=n_actions
        )
        # An entry whose truth is unknown (NaN) leaves its class's count unknown.
        unknown = np.bincount(run_code[entered & np.isnan(truth_at_run)], minlength=n_actions)
        entries_below[level] = np.where(unknown > 0, np.nan, below)
        days[level] = by_class(day_code, day_sums, day_state >= level)
    totals = {k: whole(by_class(held_code, v, None)) for k, v in handled_runs.items()}
    totals["days"] = by_class(day_code, day_sums, None)
    bars = {level: np.full(n_actions, judge.pass_rate[level]) for level in LEVELS}
    requests_total = weights.full([by_class(request_code, r, None) for r in requests], (n_actions,))
    return figures_from_parts(
        events,
        first_idx,
        handled,
        drops,
        days,
        totals,
        bars,
        requests_total,
        requests_at,
        unvalued,
        entries,
        entries_below,
    )


def yardstick_thresholds(
    yardstick: TrustPolicy | GraduationThresholds | None, own: GraduationThresholds
) -> GraduationThresholds:
    """The thresholds whose pass bars the ground truth is held to (``own`` by default)."""
    if yardstick is None:
        return own
    if isinstance(yardstick, TrustPolicy):
        return yardstick.thresholds
    if isinstance(yardstick, GraduationThresholds):
        return yardstick
    raise TypeError(
        f"yardstick must be a TrustPolicy or GraduationThresholds, not {type(yardstick).__name__}"
    )


def no_evidence_rows(actions: Sequence[str], span_days: float) -> pd.DataFrame:
    """Summary rows for policy classes with no eval case at all: MANUAL throughout.

    Nothing was reached, handled or lost; ``days_manual`` is the whole history's
    span. ``no_evidence`` is True.
    """
    n = len(actions)
    zeros = np.zeros(n, dtype=np.int64)
    rows: dict[str, Any] = {"action": list(actions), "cases": zeros}
    rows["final_state"] = state_column(np.zeros(n, dtype=np.int64))
    rows["no_evidence"] = np.ones(n, dtype=bool)
    for figure in SUMMARY_FIGURES:
        if figure.startswith("first_"):
            never = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
            rows[figure] = pd.to_datetime(never, utc=True)
        elif figure.startswith("cases_to_"):
            rows[figure] = pd.array([pd.NA] * n, dtype="Int64")
        elif figure.startswith("days_to_"):
            rows[figure] = np.full(n, np.nan)
        elif figure.startswith("graduations_"):
            rows[figure] = zeros
        elif figure.startswith("premature_graduations_"):
            rows[figure] = pd.array([pd.NA] * n, dtype="Int64")
        elif figure.startswith("premature_"):
            rows[figure] = pd.array([pd.NA] * n, dtype="boolean")
        elif figure.startswith("days_"):
            rows[figure] = np.full(n, span_days if figure == "days_manual" else 0.0)
        else:
            rows[figure] = zeros
    return pd.DataFrame(rows)


def with_no_evidence(
    summary: pd.DataFrame, policy: TrustPolicy, span_days: float, by: Sequence[str] = ()
) -> pd.DataFrame:
    """``summary`` plus a row for each policy class it lacks (see :func:`no_evidence_rows`),
    per group of the ``by`` columns (e.g. per sweep candidate); sorted by ``by`` and action."""
    summary = summary.assign(no_evidence=False)
    missing = sorted(set(policy.actions) - {str(a) for a in summary["action"].unique()})
    if not missing:
        return summary
    extra = no_evidence_rows(missing, span_days)
    for state in ("supervised", "autonomous"):
        # Where the history has ground truth, a class never graduated made no premature
        # graduation: 0, not unknown.
        column = f"premature_graduations_{state}"
        if column in summary.columns and summary[column].notna().any():
            extra[column] = pd.array(np.zeros(len(extra), dtype=np.int64), dtype="Int64")
    if by:
        keys = summary[list(by)].drop_duplicates().reset_index(drop=True)
        extra = (
            keys.loc[keys.index.repeat(len(missing))]
            .reset_index(drop=True)
            .join(pd.concat([extra] * len(keys), ignore_index=True))
        )
    out = pd.concat([summary, extra[summary.columns]], ignore_index=True)
    return out.sort_values([*by, "action"], kind="stable").reset_index(drop=True)
