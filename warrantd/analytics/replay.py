"""Replay: when would each action class have graduated, and what did it cost?

A replay walks each action's metrics timeline (:func:`metrics_timeline`, any
window) and grades it with exactly the :class:`~warrantd.GraduationEngine`
rules, ``max_state`` and the risk ceiling included.

Definitions (the README repeats them):

* **State graded at t**: the allowed state for the metrics of the window ending
  at and including timestamp ``t``.
* **State in force** for a case at ``t``: the allowed state for the metrics of
  everything strictly before ``t`` (for a time window, ``(t - w, t)``). A case
  never grades itself; this is what a live :class:`~warrantd.TrustLayer` would
  have used when the action happened. All exposure figures use it.
* The gate's history per action is the sequence of **events** ``in force at
  t0, graded at t0, in force at t1, graded at t1, ...``. With cumulative and
  case-count windows, "in force at t(i+1)" equals "graded at t(i)"; with a time
  window, evidence can also expire between timestamps, so a state can change on
  an in-force event (``cause = "expiry"``) as well as on a graded one
  (``cause = "evidence"``).
* ``first_supervised`` / ``first_autonomous``: the first event at or above that
  state (NaT if never); ``cases_to_*``: cases seen by then; ``days_to_*``: days
  from the action's first case.
* ``cases_while_manual``: the approval burden, every case handled while MANUAL
  was in force. ``*_while_supervised_or_above`` and ``*_while_autonomous``:
  cases and failures handled in those states, split normal / adversarial: the
  risk taken.
* ``demotions``: levels lost, summed over the events (AUTONOMOUS -> MANUAL in
  one step counts 2); ``demotions_to_manual`` counts drops from SUPERVISED or
  above to MANUAL, ``demotions_from_autonomous`` drops out of AUTONOMOUS.
* ``days_manual`` / ``days_supervised`` / ``days_autonomous``: each graded
  state is held until the action's next timestamp (the last one until the end
  of the whole history).
* ``premature_supervised`` / ``premature_autonomous`` (histories with
  ``true_pass_p``): the class first reached the state while its true pass
  probability was below that state's pass bar. NA when never reached.

:func:`graded_states` is the vectorized form of
:meth:`GraduationEngine.allowed_state`; a differential test proves it equal
to the engine, and the engine stays the one source of truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..autonomy import GRADUATION_STATES, AutonomyState
from ..errors import InputError
from ..graduation import GraduationThresholds, ceiling
from ..policy import TrustPolicy
from .history import timestamps_ns
from .metrics import (
    COUNT_COLUMNS,
    Window,
    counts_and_bounds,
    metrics_frame_at,
    rates_from_counts,
    timeline_from_counts,
    window_counts,
)

__all__ = [
    "STATE_NAMES",
    "Events",
    "Replay",
    "build_events",
    "compare",
    "graded_states",
    "replay",
]

STATE_NAMES = [s.name for s in AutonomyState]
NS_PER_DAY = 86_400 * 10**9
_CRITERIA = (
    ("pass_rate", "pass_rate"),
    ("adversarial_pass_rate", "adversarial_pass_rate"),
    ("sample_size", "min_samples"),
)


def graded_states(
    pass_rate: np.ndarray,
    adversarial_pass_rate: np.ndarray,
    sample_size: np.ndarray,
    thresholds: GraduationThresholds,
    ceilings: np.ndarray,
) -> np.ndarray:
    """Vectorized :meth:`GraduationEngine.allowed_state`: the highest state whose three
    bars are met (``>=``), never above each row's ceiling; MANUAL is the floor."""
    state = np.zeros(len(pass_rate), dtype=np.int8)
    for target in GRADUATION_STATES:  # two states, not rows
        meets = (
            (pass_rate >= thresholds.pass_rate[target])
            & (adversarial_pass_rate >= thresholds.adversarial_pass_rate[target])
            & (sample_size >= thresholds.min_samples[target])
            & (ceilings >= target)
        )
        state[meets] = int(target)
    return state


@dataclass(frozen=True)
class Events:
    """The gate's event sequence for every action, interleaved per timestamp as
    ``in force at t_i`` (even positions) and ``graded at t_i`` (odd positions).

    Arrays are aligned, one entry per event; ``counts`` is the per-timestamp
    frame the events come from (two events per row).
    """

    counts: pd.DataFrame
    graded_counts: dict[str, np.ndarray]
    action_codes: np.ndarray
    #: Event offsets where each action's block starts, plus the end.
    bounds: np.ndarray
    actions: list[str]
    ceilings: np.ndarray
    time_ns: np.ndarray
    pass_rate: np.ndarray
    adversarial_pass_rate: np.ndarray
    sample_size: np.ndarray
    is_graded: np.ndarray
    seen: np.ndarray
    handled: dict[str, np.ndarray]
    duration_days: np.ndarray
    first_case_ns: np.ndarray
    true_pass_p: np.ndarray | None
    window: Window

    def states(self, thresholds: GraduationThresholds) -> np.ndarray:
        return graded_states(
            self.pass_rate, self.adversarial_pass_rate, self.sample_size, thresholds, self.ceilings
        )


def _interleave(before: np.ndarray, at: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(before), dtype=np.result_type(before, at))
    out[0::2], out[1::2] = before, at
    return out


def check_coverage(actions: Iterable[str], policy: TrustPolicy, source: str = "history") -> None:
    """Raise :class:`~warrantd.errors.InputError` naming the actions the policy lacks."""
    missing = sorted(set(actions) - set(policy.actions))
    if missing:
        raise InputError(
            source,
            [f"has action(s) the policy does not define: {', '.join(map(repr, missing))}"],
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


def build_events(history: pd.DataFrame, policy: TrustPolicy, window: Window = None) -> Events:
    """The event sequence of :mod:`replay`'s definitions, ready to grade."""
    truth = ("true_pass_p",) if "true_pass_p" in history.columns else ()
    counts, bounds = counts_and_bounds(history, mean_columns=truth)  # one block per action
    actions = [str(a) for a in counts["action"].iloc[bounds[:-1]]]
    check_coverage(actions, policy, str(history.attrs.get("source", "history")))
    graded = window_counts(counts, window, bounds=bounds)
    before = window_counts(counts, window, before=True, bounds=bounds)
    metrics = [rates_from_counts(*(w[c] for c in COUNT_COLUMNS)) for w in (before, graded)]
    codes = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    ceilings = np.array([int(ceiling(policy.action(a))) for a in actions], dtype=np.int8)
    first_row = np.repeat(bounds[:-1], np.diff(bounds))
    ts = timestamps_ns(counts["timestamp"])
    end = int(ts.max())
    next_ts = np.r_[ts[1:], end]
    last_of_action = np.zeros(len(ts), dtype=bool)
    last_of_action[bounds[1:] - 1] = True
    duration = np.where(last_of_action, end - ts, next_ts - ts) / NS_PER_DAY
    cum = np.cumsum(counts["n_cases"].to_numpy())
    seen_through = cum - np.r_[0, cum][first_row]
    n_cases = counts["n_cases"].to_numpy()
    zeros = np.zeros(len(ts), dtype=np.int64)
    handled = {
        "normal_cases": counts["n_normal"].to_numpy(),
        "normal_failures": (counts["n_normal"] - counts["passed_normal"]).to_numpy(),
        "adversarial_cases": counts["n_adversarial"].to_numpy(),
        "adversarial_failures": (counts["n_adversarial"] - counts["passed_adversarial"]).to_numpy(),
    }
    true_p = counts["true_pass_p"].to_numpy() if truth else None
    return Events(
        counts=counts,
        graded_counts=graded,
        action_codes=np.repeat(codes, 2),
        bounds=2 * bounds,
        actions=actions,
        ceilings=np.repeat(ceilings[codes], 2),
        time_ns=np.repeat(ts, 2),
        pass_rate=_interleave(metrics[0][0], metrics[1][0]),
        adversarial_pass_rate=_interleave(metrics[0][1], metrics[1][1]),
        sample_size=_interleave(metrics[0][2], metrics[1][2]),
        is_graded=np.tile(np.array([False, True]), len(ts)),
        seen=_interleave(seen_through - n_cases, seen_through),
        handled={k: _interleave(v, zeros) for k, v in handled.items()},
        duration_days=_interleave(np.zeros(len(ts)), duration),
        first_case_ns=ts[bounds[:-1]],
        true_pass_p=None if true_p is None else np.repeat(true_p, 2),
        window=window,
    )


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
]


def figures_from_parts(
    events: Events,
    first_idx: Mapping[int, np.ndarray],
    handled_at_or_above: Mapping[int, Mapping[str, np.ndarray]],
    drops_across: Mapping[int, np.ndarray],
    days_at_or_above: Mapping[int, np.ndarray],
    totals: Mapping[str, np.ndarray],
    pass_bars: Mapping[int, np.ndarray],
) -> dict[str, Any]:
    """Summary figures from their parts, shared by replay and sweep.

    Every argument is keyed by level (1 = SUPERVISED or above, 2 = AUTONOMOUS)
    and holds one value per (action[, candidate]): ``first_idx`` the first event
    index at or above the level (-1 if never), ``handled_at_or_above`` handled
    sums in force at or above it, ``drops_across`` the number of drops from at
    or above the level to below it, ``days_at_or_above`` the days held,
    ``totals`` the handled sums and days overall, ``pass_bars`` the pass bar.
    """
    out: dict[str, Any] = {}
    for level, name in ((1, "supervised"), (2, "autonomous")):
        idx = first_idx[level]
        reached = idx >= 0
        safe = np.where(reached, idx, 0)
        time_ns = np.where(reached, events.time_ns[safe], np.iinfo(np.int64).min)
        out[f"first_{name}"] = pd.to_datetime(
            np.where(reached, time_ns, np.datetime64("NaT").astype("int64")), utc=True
        )
        out[f"cases_to_{name}"] = pd.array(np.where(reached, events.seen[safe], 0), dtype="Int64")
        out[f"cases_to_{name}"][~reached] = pd.NA
        first_case = events.first_case_ns[events.action_codes[safe]]
        out[f"days_to_{name}"] = np.where(reached, (time_ns - first_case) / NS_PER_DAY, np.nan)
        if events.true_pass_p is None:
            out[f"premature_{name}"] = pd.array([pd.NA] * len(idx), dtype="boolean")
        else:
            truth = events.true_pass_p[safe]
            premature = pd.array(truth < pass_bars[level], dtype="boolean")
            premature[~reached | np.isnan(truth)] = pd.NA
            out[f"premature_{name}"] = premature
    for level, suffix in ((1, "supervised_or_above"), (2, "autonomous")):
        part = handled_at_or_above[level]
        for kind in ("normal", "adversarial"):
            out[f"{kind}_cases_while_{suffix}"] = part[f"{kind}_cases"]
            out[f"{kind}_failures_while_{suffix}"] = part[f"{kind}_failures"]
        out[f"cases_while_{suffix}"] = part["normal_cases"] + part["adversarial_cases"]
        out[f"failures_while_{suffix}"] = part["normal_failures"] + part["adversarial_failures"]
    all_cases = totals["normal_cases"] + totals["adversarial_cases"]
    out["cases_while_manual"] = all_cases - out["cases_while_supervised_or_above"]
    out["demotions_to_manual"] = drops_across[1]
    out["demotions_from_autonomous"] = drops_across[2]
    out["demotions"] = drops_across[1] + drops_across[2]
    out["days_autonomous"] = days_at_or_above[2]
    out["days_supervised"] = days_at_or_above[1] - days_at_or_above[2]
    out["days_manual"] = totals["days"] - days_at_or_above[1]
    return out


def _per_action_parts(
    events: Events, states: np.ndarray, thresholds: GraduationThresholds
) -> dict[str, Any]:
    # Each action's events are one contiguous block, so per-action figures are
    # block reductions (reduceat), and handled cases sit on the in-force events
    # (even positions) only.
    starts = events.bounds[:-1]
    index = np.arange(len(states))
    prev = np.r_[0, states[:-1]]
    has_prev = np.ones(len(states), dtype=bool)
    has_prev[starts] = False
    in_force = states[0::2]
    handled_in_force = {k: v[0::2] for k, v in events.handled.items()}

    def per_action(values: np.ndarray, event_starts: np.ndarray = starts) -> np.ndarray:
        return np.add.reduceat(values, event_starts)

    first_idx, handled, drops, days = {}, {}, {}, {}
    for level in (1, 2):
        at = states >= level
        first = np.minimum.reduceat(np.where(at, index, len(states)), starts)
        first_idx[level] = np.where(first < len(states), first, -1)
        held = in_force >= level
        handled[level] = {
            k: per_action(np.where(held, v, 0), starts // 2) for k, v in handled_in_force.items()
        }
        drops[level] = per_action((has_prev & (prev >= level) & ~at).astype(np.int64))
        days[level] = per_action(np.where(at, events.duration_days, 0.0))
    totals = {k: per_action(v, starts // 2) for k, v in handled_in_force.items()}
    totals["days"] = per_action(events.duration_days)
    n_actions = len(starts)
    bars = {
        1: np.full(n_actions, thresholds.pass_rate[AutonomyState.SUPERVISED]),
        2: np.full(n_actions, thresholds.pass_rate[AutonomyState.AUTONOMOUS]),
    }
    return figures_from_parts(events, first_idx, handled, drops, days, totals, bars)


# --------------------------------------------------------------------------- the Replay


def _state_column(levels: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(levels.astype(np.int64), categories=STATE_NAMES, ordered=True)


@dataclass(frozen=True)
class Replay:
    """The result of :func:`replay`.

    ``timeline``: per action and timestamp, the counts and metrics of
    :func:`metrics_timeline` plus ``state_in_force`` and ``state`` (graded).
    ``transitions``: one row per state change: ``action``, ``time``, ``from``,
    ``to``, ``cause`` (``evidence`` or ``expiry``), the metrics then, and
    ``binding``: the bars of the higher of the two states that were not met on
    the lower side (what held it back, or what failed).
    ``summary``: one row per action with the figures of the module docstring.
    """

    history: pd.DataFrame
    policy: TrustPolicy
    window: Window
    timeline: pd.DataFrame
    transitions: pd.DataFrame
    summary: pd.DataFrame

    def totals(self) -> dict[str, float]:
        """The policy-wide figures a candidate is weighed by, summed over the classes:
        ``approval_burden``, ``failures_while_supervised_or_above``,
        ``failures_while_autonomous`` and ``cases_while_supervised_or_above``
        (the names :attr:`SweepResult.by_candidate` uses)."""
        s = self.summary
        return {
            "approval_burden": float(s["cases_while_manual"].sum()),
            "failures_while_supervised_or_above": float(
                s["failures_while_supervised_or_above"].sum()
            ),
            "failures_while_autonomous": float(s["failures_while_autonomous"].sum()),
            "cases_while_supervised_or_above": float(s["cases_while_supervised_or_above"].sum()),
        }

    def state_at(self, when: Any) -> dict[str, AutonomyState]:
        """The state each action had earned at ``when`` (its window measured back from it)."""
        frame = metrics_frame_at(self.history, when, window=self.window)
        ceilings = np.array([int(ceiling(self.policy.action(a))) for a in frame["action"]])
        states = graded_states(
            frame["pass_rate"].to_numpy(),
            frame["adversarial_pass_rate"].to_numpy(),
            frame["sample_size"].to_numpy(),
            self.policy.thresholds,
            ceilings,
        )
        return {str(a): AutonomyState(int(s)) for a, s in zip(frame["action"], states, strict=True)}


def _transitions(
    events: Events, states: np.ndarray, thresholds: GraduationThresholds
) -> pd.DataFrame:
    first_of_event = np.repeat(events.bounds[:-1], np.diff(events.bounds))
    index = np.arange(len(states))
    prev = np.r_[0, states[:-1]]
    moved = np.flatnonzero((index > first_of_event) & (states != prev))
    frm, to = prev[moved], states[moved]
    higher = np.maximum(frm, to)
    lower_side = np.where(to < frm, moved, moved - 1)  # the event on the lower state
    metrics = {
        "pass_rate": events.pass_rate,
        "adversarial_pass_rate": events.adversarial_pass_rate,
        "sample_size": events.sample_size,
    }
    binding = []
    for criterion, bar_name in _CRITERIA:
        bars = np.array([getattr(thresholds, bar_name)[AutonomyState(int(h))] for h in higher])
        missed = metrics[criterion][lower_side] < bars if len(moved) else np.zeros(0, bool)
        binding.append(np.where(missed, bar_name, ""))
    labels = [", ".join(p for p in parts if p) for parts in zip(*binding, strict=True)]
    return pd.DataFrame(
        {
            "action": [events.actions[c] for c in events.action_codes[moved]],
            "time": pd.to_datetime(events.time_ns[moved], utc=True),
            "from": _state_column(frm),
            "to": _state_column(to),
            "cause": np.where(events.is_graded[moved], "evidence", "expiry"),
            "pass_rate": events.pass_rate[moved],
            "adversarial_pass_rate": events.adversarial_pass_rate[moved],
            "sample_size": events.sample_size[moved],
            "binding": labels,
        }
    )


def history_span_days(events: Events) -> float:
    """Days from the first to the last case of the whole history."""
    return float((events.time_ns.max() - events.time_ns.min()) / NS_PER_DAY)


def no_evidence_rows(actions: Sequence[str], span_days: float) -> pd.DataFrame:
    """Summary rows for policy classes with no eval case at all: MANUAL throughout.

    Nothing was reached, handled or lost; ``days_manual`` is the whole history's
    span. ``no_evidence`` is True.
    """
    n = len(actions)
    zeros = np.zeros(n, dtype=np.int64)
    rows: dict[str, Any] = {"action": list(actions), "cases": zeros}
    rows["final_state"] = _state_column(np.zeros(n, dtype=np.int64))
    rows["no_evidence"] = np.ones(n, dtype=bool)
    for figure in SUMMARY_FIGURES:
        if figure.startswith("first_"):
            rows[figure] = pd.to_datetime(
                np.full(n, np.datetime64("NaT"), "datetime64[ns]"), utc=True
            )
        elif figure.startswith("cases_to_"):
            rows[figure] = pd.array([pd.NA] * n, dtype="Int64")
        elif figure.startswith("days_to_"):
            rows[figure] = np.full(n, np.nan)
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
    missing = sorted(set(policy.actions) - set(summary["action"]))
    if not missing:
        return summary
    extra = no_evidence_rows(missing, span_days)
    if by:
        keys = summary[list(by)].drop_duplicates().reset_index(drop=True)
        extra = (
            keys.loc[keys.index.repeat(len(missing))]
            .reset_index(drop=True)
            .join(pd.concat([extra] * len(keys), ignore_index=True))
        )
    out = pd.concat([summary, extra[summary.columns]], ignore_index=True)
    return out.sort_values([*by, "action"], kind="stable").reset_index(drop=True)


def replay(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    window: Window = None,
) -> Replay:
    """Replay ``history`` under ``policy``: see the module docstring for every figure.

    Every class of the policy has a summary row; classes without a single eval
    case are MANUAL throughout, with ``no_evidence`` True. Every action of the
    history must be in the policy (:func:`policy_classes_only` drops the others).
    """
    events = build_events(history, policy, window)
    states = events.states(policy.thresholds)
    timeline = timeline_from_counts(events.counts, events.graded_counts, window)
    timeline["state_in_force"] = _state_column(states[0::2])
    timeline["state"] = _state_column(states[1::2])
    figures = _per_action_parts(events, states, policy.thresholds)
    starts = events.bounds[:-1] // 2  # the bounds count events: two per timestamp
    summary = pd.DataFrame({"action": events.actions, **figures})
    summary.insert(1, "cases", np.add.reduceat(events.counts["n_cases"].to_numpy(), starts))
    summary.insert(2, "final_state", _state_column(states[events.bounds[1:] - 1]))
    summary = with_no_evidence(
        summary[["action", "cases", "final_state", *SUMMARY_FIGURES]],
        policy,
        history_span_days(events),
    )
    return Replay(
        history,
        policy,
        window,
        timeline,
        _transitions(events, states, policy.thresholds),
        summary[["action", "cases", "final_state", "no_evidence", *SUMMARY_FIGURES]],
    )


COMPARED_FIGURES = [
    "days_to_supervised",
    "days_to_autonomous",
    "cases_while_manual",
    "failures_while_supervised_or_above",
    "failures_while_autonomous",
    "demotions",
]


def compare(before: Replay, after: Replay) -> pd.DataFrame:
    """Per action, the key figures of two replays side by side, with their change.

    Columns: ``action``, then for each figure ``<figure>_before``,
    ``<figure>_after`` and ``<figure>_change`` (after minus before).
    """
    a = before.summary.set_index("action")[COMPARED_FIGURES]
    b = after.summary.set_index("action")[COMPARED_FIGURES].reindex(a.index)
    out = pd.DataFrame(index=a.index)
    for figure in COMPARED_FIGURES:
        out[f"{figure}_before"] = a[figure]
        out[f"{figure}_after"] = b[figure]
        out[f"{figure}_change"] = b[figure].astype("float64") - a[figure].astype("float64")
    return out.reset_index()
