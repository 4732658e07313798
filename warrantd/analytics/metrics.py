"""From eval counts to metrics over time: the public face of the engine's definitions.

The definitions live once, in :mod:`warrantd.analytics._engine`, and this module
exposes them:

* :func:`rates_from_counts`: ``pass_rate`` = passed / count over the
  **non-adversarial** cases; ``adversarial_pass_rate`` = passed / count over the
  **adversarial** cases; ``sample_size`` = every case counted, normal plus
  adversarial; a rate with no cases is 0.0.
* Windows (``window=``), always per action: ``None``, cumulative, everything up to
  and including the moment; an int ``K``, the most recent cases, **whole
  timestamps at a time**, going back until at least ``K`` cases are covered (all
  of them when fewer exist: cases that share a timestamp are never split, so row
  order never matters); a time span such as ``"30D"``, the trailing window
  ``(t - 30D, t]``. :func:`window_label` spells a window the one way every table
  uses (``cumulative``, ``500 cases``, ``30D``) and :func:`parse_window` reads it.

On top of them: :func:`metrics_timeline` (metrics as of every timestamp of every
class), :func:`metrics_frame_at` / :func:`metrics_at` (as of one moment) and
:class:`HistoryMetrics` (a history as a live gate's metrics provider). Every
table also carries 95% Wilson intervals (:func:`wilson_interval`), which are for
reading only: no rule uses them. Nothing here loops over rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import NormalDist
from typing import Any, Self

import numpy as np
import pandas as pd

from ..decision import EvalMetrics
from ..graduation import wilson_bounds
from ..policy import TrustPolicy
from ._engine import (
    COUNT_COLUMNS,
    Evidence,
    Window,
    check_window,
    evidence_of,
    parse_window,
    rates_from_counts,
    window_label,
    window_sums,
)

__all__ = [
    "COUNT_COLUMNS",
    "HistoryMetrics",
    "Window",
    "check_window",
    "eval_metrics",
    "metrics_at",
    "metrics_frame_at",
    "metrics_timeline",
    "parse_window",
    "rates_from_counts",
    "timeline_frame",
    "wilson_interval",
    "window_label",
]


def eval_metrics(
    n_normal: int, passed_normal: int, n_adversarial: int, passed_adversarial: int
) -> EvalMetrics:
    """The :class:`EvalMetrics` for one set of counts."""
    p, a, n = rates_from_counts(n_normal, passed_normal, n_adversarial, passed_adversarial)
    return EvalMetrics(float(p), float(a), int(n))


def wilson_interval(passed: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial rate; ``(0, 1)`` where ``n`` is 0.

    The core's one definition (:func:`warrantd.graduation.wilson_bounds`), two-sided at
    ``level``, fed arrays; clipped to [0, 1].
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    n_arr = np.asarray(n, dtype=np.float64)
    passed_arr = np.asarray(passed, dtype=np.float64)
    p = np.zeros(np.broadcast(passed_arr, n_arr).shape)
    np.divide(passed_arr, n_arr, out=p, where=n_arr > 0)
    safe_n = np.where(n_arr > 0, n_arr, 1.0)
    lo, hi = wilson_bounds(p, safe_n, z, sqrt=np.sqrt)
    lo = np.where(n_arr > 0, np.clip(lo, 0.0, 1.0), 0.0)
    hi = np.where(n_arr > 0, np.clip(hi, 0.0, 1.0), 1.0)
    return lo, hi


def timeline_frame(
    actions: np.ndarray,
    times_ns: np.ndarray,
    n_cases: np.ndarray,
    windowed: np.ndarray,
    window: Window,
    level: float = 0.95,
) -> pd.DataFrame:
    """The :func:`metrics_timeline` table from per-row actions, times, arrivals and the
    (4, rows) window counts in :data:`COUNT_COLUMNS` order."""
    out = pd.DataFrame(
        {
            "action": actions,
            "timestamp": pd.to_datetime(times_ns, unit="ns", utc=True),
            "n_cases": n_cases,
        }
    )
    for i, column in enumerate(COUNT_COLUMNS):
        out[column] = windowed[i]
    _add_metrics(out, level)
    out.attrs["window"] = window_label(window)
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


def _names(evidence: Evidence) -> np.ndarray:
    names: np.ndarray = np.asarray(evidence.actions, dtype=object)
    return np.asarray(names[evidence.codes])


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
    evidence = evidence_of(history)
    windowed = window_sums(evidence, window, evidence.time_ns, evidence.bounds, inclusive=True)
    return timeline_frame(
        _names(evidence), evidence.time_ns, evidence.n_cases, windowed, window, level
    )


def _as_utc(at: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def metrics_frame_at(
    history: pd.DataFrame,
    at: Any = None,
    *,
    window: Window = None,
    level: float = 0.95,
    reset_on: str | None = None,
) -> pd.DataFrame:
    """One row per action: the metrics in force at ``at`` (default: the latest case).

    Same columns as :func:`metrics_timeline`, ``timestamp`` being ``at``; the
    window ends at and includes ``at``. Actions with no case in it get zero counts.
    With ``reset_on`` each class's evidence counts from the latest change of that column.
    """
    check_window(window)
    when = _as_utc(history["timestamp"].max() if at is None else at)
    evidence = evidence_of(history, reset_on=reset_on)
    n = len(evidence.actions)
    queries = np.full(n, when.value, dtype=np.int64)
    windowed = window_sums(evidence, window, queries, np.arange(n + 1), inclusive=True)
    frame = pd.DataFrame({"action": list(evidence.actions), "timestamp": when})
    for i, column in enumerate(COUNT_COLUMNS):
        frame[column] = windowed[i]
    _add_metrics(frame, level)
    return frame


def metrics_at(
    history: pd.DataFrame, at: Any = None, *, window: Window = None, reset_on: str | None = None
) -> dict[str, EvalMetrics]:
    """``{action: EvalMetrics}`` in force at ``at`` (default: the latest case), with the
    counts behind the rates (what the ``wilson`` and ``anytime`` rules read); with
    ``reset_on`` each class's evidence counts from the latest change of that column."""
    frame = metrics_frame_at(history, at, window=window, reset_on=reset_on)
    counts = np.array([frame[c].to_numpy() for c in COUNT_COLUMNS])
    actions = list(frame["action"])
    return {
        str(action): EvalMetrics.from_counts(*(int(c) for c in column))
        for action, column in zip(actions, counts.T, strict=True)
    }


class HistoryMetrics:
    """A :class:`~warrantd.MetricsProvider` backed by a loaded eval history, and a
    warrantd-core 0.3.0 trust signal (:class:`~warrantd.TrustSignal`): ``adversarial``
    is True when the history holds adversarial cases.

    Lets a history drive a live :class:`~warrantd.TrustLayer`, as its ``metrics`` or one
    of its ``signals``; an action with no history gets zero metrics (and so stays
    MANUAL). The metrics carry their counts, so every evidence rule can judge them;
    ``reset_on`` restarts each class's evidence where that column changes (pass the
    policy's ``graduation.reset_on``).
    """

    def __init__(
        self,
        history: pd.DataFrame,
        *,
        window: Window = None,
        at: Any = None,
        reset_on: str | None = None,
    ) -> None:
        self.window = window
        self.at = at
        self.reset_on = reset_on
        self._metrics: Mapping[str, EvalMetrics] = metrics_at(
            history, at, window=window, reset_on=reset_on
        )
        self._adversarial = bool(history["adversarial"].any()) if len(history) else False

    @property
    def adversarial(self) -> bool:
        """Whether the history's metrics cover adversarial cases (it has at least one)."""
        return self._adversarial

    def metrics_for(self, action: str) -> EvalMetrics:
        return self._metrics.get(action, EvalMetrics.from_counts(0, 0, 0, 0))

    @classmethod
    def for_policy(cls, history: pd.DataFrame, policy: TrustPolicy, *, at: Any = None) -> Self:
        """Metrics over the window the policy states (``[graduation] window``), with its
        evidence restarting on its ``reset_on`` column."""
        return cls(
            history, window=policy.graduation.window, at=at, reset_on=policy.graduation.reset_on
        )
