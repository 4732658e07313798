"""Replay: when would each action class have graduated, and what did it cost?

The public face of the engine (:mod:`warrantd.analytics._engine`) for one
policy: it grades every event of a history with exactly the rule of
:class:`~warrantd.GraduationEngine` (``max_state`` included) and reports per class.
The rule, the windows, the event model and the figures are defined in the
engine; this module assembles them into :class:`Replay` and adds
:func:`compare`. Definitions (the README repeats them):

* **State graded at t**: the allowed state for the metrics of the window ending
  at and including ``t``.
* **State in force** at ``t``: the allowed state for the metrics of everything
  strictly before ``t`` (for a time window, ``(t - w, t)``). A case never grades
  itself; this is what a live :class:`~warrantd.TrustLayer` would have used when
  the action happened. All exposure figures use it.
* **Moments**: per class, every time its window's evidence changes: a case
  arrives, or (with a time window ``w``) a case at ``t`` leaves the window at
  exactly ``t + w``. The state is a step function of time that changes only at
  moments; a transition is stamped at its moment, with ``cause`` ``evidence``
  (cases arrived) or ``expiry`` (evidence left the window).
* ``first_supervised`` / ``first_autonomous``: the first moment at or above that
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
  state is held until the class's next moment (the last one until the end of
  the whole history).
* ``premature_supervised`` / ``premature_autonomous`` (histories with
  ``true_pass_p``): the class first reached the state while its true pass
  probability (at its latest case) was below that state's pass bar. NA when
  never reached.
* Classes of the policy with no case at all have a row too: MANUAL
  throughout, ``no_evidence`` True.

:func:`graded_states` is the vectorized form of
:meth:`GraduationEngine.allowed_state`; a differential test proves it equal
to the engine, and the engine stays the one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..autonomy import AutonomyState
from ..graduation import CRITERIA, GraduationThresholds
from ..policy import TrustPolicy
from ._engine import (
    SUMMARY_FIGURES,
    Events,
    Window,
    build_events,
    graded_states,
    history_span_days,
    per_action_figures,
    policy_classes_only,
    state_column,
    states_at,
    with_no_evidence,
)
from .metrics import timeline_frame

__all__ = [
    "SUMMARY_FIGURES",
    "Replay",
    "compare",
    "graded_states",
    "policy_classes_only",
    "replay",
]


@dataclass(frozen=True)
class Replay:
    """The result of :func:`replay`.

    ``summary``: one row per class of the policy with the figures of the module
    docstring. ``transitions``: one row per state change: ``action``, ``time``,
    ``from``, ``to``, ``cause`` (``evidence`` or ``expiry``), the metrics then, and
    ``binding``: the bars of the higher of the two states that were not met on the
    lower side (what held it back, or what failed). ``timeline`` (built on first
    use): one row per class and moment, with the window's counts and metrics, their
    Wilson intervals, ``state_in_force`` (just before the moment) and ``state``
    (graded at it); ``n_cases`` is 0 at a moment where evidence only expired.
    """

    history: pd.DataFrame
    policy: TrustPolicy
    window: Window
    transitions: pd.DataFrame
    summary: pd.DataFrame
    events: Events = field(repr=False)
    states: np.ndarray = field(repr=False)

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """Per class and moment: counts, metrics, ``state_in_force`` and ``state``."""
        e = self.events
        names = np.asarray(e.actions, dtype=object)[e.moment_codes]
        arrived = e.arrived[0] + e.arrived[2]
        frame = timeline_frame(names, e.moments, arrived, e.graded_counts, self.window)
        frame["state_in_force"] = state_column(self.states[0::2])
        frame["state"] = state_column(self.states[1::2])
        return frame

    def state_at(self, when: Any) -> dict[str, AutonomyState]:
        """The state each class had earned at ``when`` (its window measured back from it,
        ``when`` included); MANUAL for a class with no evidence."""
        stamp = pd.Timestamp(when)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if self.policy.graduation.demotion_margin <= 0:
            return states_at(self.events.evidence, self.policy, self.window, stamp.value)
        # Under hysteresis the state depends on the path: the graded state of the class's
        # latest moment at or before ``when`` (the state only changes at moments).
        e = self.events
        found = {}
        for i, action in enumerate(e.actions):  # per class, not per row
            lo, hi = int(e.moment_bounds[i]), int(e.moment_bounds[i + 1])
            at = lo + int(np.searchsorted(e.moments[lo:hi], stamp.value, side="right")) - 1
            found[action] = AutonomyState(int(self.states[2 * at + 1])) if at >= lo else None
        return {a: found.get(a) or AutonomyState.MANUAL for a in sorted(self.policy.actions)}

    def totals(self) -> dict[str, float]:
        """The policy-wide figures a candidate is weighed by, summed over the classes:
        ``approval_burden``, ``failures_while_supervised_or_above``,
        ``failures_while_autonomous``, ``cases_while_autonomous`` and
        ``cases_while_supervised_or_above``
        (the names :attr:`SweepResult.by_candidate` uses)."""
        s = self.summary
        return {
            "approval_burden": float(s["cases_while_manual"].sum()),
            "failures_while_supervised_or_above": float(
                s["failures_while_supervised_or_above"].sum()
            ),
            "failures_while_autonomous": float(s["failures_while_autonomous"].sum()),
            "cases_while_autonomous": float(s["cases_while_autonomous"].sum()),
            "cases_while_supervised_or_above": float(s["cases_while_supervised_or_above"].sum()),
        }


def _transitions(
    events: Events, states: np.ndarray, thresholds: GraduationThresholds
) -> pd.DataFrame:
    first_of_class = np.repeat(events.bounds[:-1], np.diff(events.bounds))
    index = np.arange(len(states))
    prev = np.r_[0, states[:-1]] if len(states) else states
    moved = np.flatnonzero((index > first_of_class) & (states != prev))
    frm, to = prev[moved], states[moved]
    higher = np.maximum(frm, to)
    lower_side = np.where(to < frm, moved, moved - 1)  # the event on the lower state
    metrics = {
        "pass_rate": events.pass_rate,
        "adversarial_pass_rate": events.adversarial_pass_rate,
        "sample_size": events.sample_size,
    }
    binding = []
    for criterion in CRITERIA:
        bars = np.array([getattr(thresholds, criterion.bar)[AutonomyState(int(h))] for h in higher])
        met = criterion.met(metrics[criterion.metric][lower_side], bars)
        missed = ~met if len(moved) else np.zeros(0, bool)
        binding.append(np.where(missed, criterion.bar, ""))
    labels = [", ".join(p for p in parts if p) for parts in zip(*binding, strict=True)]
    return pd.DataFrame(
        {
            "action": np.asarray(events.actions, dtype=object)[events.event_code(moved)],
            "time": pd.to_datetime(events.event_time(moved), utc=True),
            "from": state_column(frm),
            "to": state_column(to),
            "cause": np.where(events.is_expiry(moved), "expiry", "evidence"),
            "pass_rate": events.pass_rate[moved],
            "adversarial_pass_rate": events.adversarial_pass_rate[moved],
            "sample_size": events.sample_size[moved],
            "binding": labels,
        }
    )


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
    events = build_events(history, policy, window, policy.graduation.reset_on)
    states = events.states(policy.thresholds, policy.graduation)
    figures = per_action_figures(events, states, policy.thresholds)
    evidence = events.evidence
    starts = evidence.bounds[:-1]
    summary = pd.DataFrame({"action": list(events.actions), **figures})
    cases = np.add.reduceat(evidence.n_cases, starts) if len(starts) else np.zeros(0, np.int64)
    summary.insert(1, "cases", cases)
    summary.insert(2, "final_state", pd.Series(state_column(states[events.bounds[1:] - 1])))
    summary = with_no_evidence(
        summary[["action", "cases", "final_state", *SUMMARY_FIGURES]],
        policy,
        history_span_days(events),
    )
    return Replay(
        history=history,
        policy=policy,
        window=window,
        transitions=_transitions(events, states, policy.thresholds),
        summary=summary[["action", "cases", "final_state", "no_evidence", *SUMMARY_FIGURES]],
        events=events,
        states=states,
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
