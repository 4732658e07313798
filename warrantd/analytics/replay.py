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
  probability (at its latest case) was below that state's pass bar (the
  ``yardstick``'s bar: see :func:`replay`). NA when never reached.
* ``graduations_supervised`` / ``graduations_autonomous``: how many times the class
  entered the state (SUPERVISED meaning "or above") from below, a class's second and
  later graduations too; ``premature_graduations_*`` (histories with ``true_pass_p``)
  how many of those were made while the true pass probability was below the
  yardstick's bar: NA without ground truth, or where a graduation's truth is unknown.
* Classes of the policy with no case at all have a row too: MANUAL
  throughout, ``no_evidence`` True.

**Traffic and verdicts.** Evidence decides the state; *traffic* is what the gate is
asked (:func:`~warrantd.analytics.traffic.load_traffic`). Every request gets the
verdict :meth:`warrantd.TrustLayer.evaluate` would have returned at its time, from
the state in force then (evidence strictly before the request) and its value
against the class's caps: READ is always allowed; above ``hard_cap`` is blocked;
MANUAL needs approval; SUPERVISED allows values within ``auto_cap`` (or no value,
or no cap); AUTONOMOUS allows. Without traffic, each eval case stands in for one
request without a value, and :attr:`Replay.stand_in` says so. Per class:

* ``requests``, ``allowed``, ``approval_burden`` (requests that needed a human:
  REQUIRE_APPROVAL) and ``blocked``; ``requests_while_manual`` / ``_supervised`` /
  ``_autonomous`` by the state in force.
* ``failures_let_through``: eval failures that arrived while the gate would have
  allowed the class's requests without a human (a request without a value: READ
  classes always, others in SUPERVISED or above); ``adversarial_failures_let_through``
  the adversarial ones among them.
* ``unsafe_allowed`` (histories with ``true_pass_p``): requests allowed while the
  class's true pass probability was below the pass bar of the state in force (the
  SUPERVISED bar for a READ class in MANUAL; the ``yardstick``'s bars); NA without
  ground truth.

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

from ..autonomy import GRADUATION_STATES as GRADUATION_LEVELS
from ..autonomy import AutonomyState
from ..graduation import CRITERIA, GraduationThresholds
from ..policy import TrustPolicy
from ._engine import (
    POLICY_WINDOW,
    REASON_CODES,
    SUMMARY_FIGURES,
    TRAFFIC_FIGURES,
    VERDICT_NAMES,
    Events,
    Requests,
    Window,
    build_events,
    graded_states,
    history_span_days,
    no_evidence_states,
    no_evidence_traffic,
    per_action_figures,
    policy_classes_only,
    request_events,
    request_weights,
    resolve_window,
    stand_in_requests,
    state_column,
    states_at,
    traffic_requests,
    unvalued_kinds,
    verdicts,
    with_no_evidence,
    yardstick_thresholds,
)
from .metrics import timeline_frame

__all__ = [
    "POLICY_WINDOW",
    "REASON_CODES",
    "SUMMARY_FIGURES",
    "TRAFFIC_FIGURES",
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
    docstring. ``requests``: the traffic as the engine reads it (``stand_in`` when
    eval cases stood in for it); :attr:`decisions` gives each request's verdict.
    ``transitions``: one row per state change: ``action``, ``time``,
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
    requests: Requests = field(repr=False)
    request_states: np.ndarray = field(repr=False)
    traffic: pd.DataFrame | None = field(default=None, repr=False)
    #: The thresholds whose pass bars ``premature_*`` and ``unsafe_allowed`` hold the
    #: ground truth to (the policy's own unless :func:`replay` was given a yardstick).
    yardstick: GraduationThresholds | None = field(default=None, repr=False)

    @property
    def stand_in(self) -> bool:
        """True when no traffic was given and the eval cases stood in for it."""
        return self.requests.stand_in

    @cached_property
    def decisions(self) -> pd.DataFrame:
        """One row per request (per history row of ``requests`` cases when eval cases
        stand in): ``timestamp``, ``action``, ``value``, ``state_in_force``, ``verdict``
        (the published value), ``reason_code`` (:data:`REASON_CODES`: the step of the
        decision flow that decided) and ``requests``."""
        r = self.requests
        verdict, reason = verdicts(r.kinds, self.request_states)
        if self.traffic is not None:
            frame = self.traffic[["timestamp", "action"]].copy()
            frame["value"] = self.traffic["value"].to_numpy()
        else:
            frame = pd.DataFrame(
                {
                    "timestamp": pd.to_datetime(r.time_ns, unit="ns", utc=True),
                    "action": pd.Categorical(np.asarray(r.actions, dtype=object)[r.codes]),
                    "value": np.full(len(r), np.nan),
                }
            )
        frame["state_in_force"] = state_column(self.request_states)
        frame["verdict"] = pd.Categorical(
            np.asarray(VERDICT_NAMES, dtype=object)[verdict], categories=list(VERDICT_NAMES)
        )
        frame["reason_code"] = pd.Categorical(
            np.asarray(REASON_CODES, dtype=object)[reason], categories=list(REASON_CODES)
        )
        frame["requests"] = r.weight.astype(np.int64)  # kept in 32 bits, shown in 64
        return frame

    @cached_property
    def verdict_counts(self) -> pd.DataFrame:
        """Requests by ``action``, ``state_in_force`` and ``verdict`` (non-zero rows)."""
        d = self.decisions
        counts = d.groupby(["action", "state_in_force", "verdict"], observed=True)["requests"]
        return counts.sum().reset_index()

    @cached_property
    def would_have_gated(self) -> pd.DataFrame:
        """Where the traffic is a decision log (it has ``verdict``): per class, the
        requests whose replayed verdict differs from the one actually returned, by
        direction: ``action``, ``actual``, ``replayed``, ``requests``, ``of_actual``
        (requests the log shows with that verdict) and ``sentence``. Empty when the
        traffic carries no verdicts."""
        columns = ["action", "actual", "replayed", "requests", "of_actual", "sentence"]
        if self.traffic is None or "verdict" not in self.traffic.columns:
            return pd.DataFrame(columns=columns)
        actual = self.traffic["verdict"].astype(str).to_numpy()
        frame = pd.DataFrame(
            {
                "action": self.traffic["action"].astype(str).to_numpy(),
                "actual": actual,
                "replayed": self.decisions["verdict"].astype(str).to_numpy(),
            }
        )
        of_actual = frame.groupby(["action", "actual"]).size().rename("of_actual")
        changed = frame[frame["actual"] != frame["replayed"]]
        counts = changed.groupby(["action", "actual", "replayed"]).size().rename("requests")
        out = pd.DataFrame(counts.reset_index()).join(of_actual, on=["action", "actual"])
        out["sentence"] = [
            f"would have {_VERB[str(new)]} {int(n):,} of {int(total):,} requests that were "
            f"{_PAST[str(old)]}"
            for new, n, total, old in out[
                ["replayed", "requests", "of_actual", "actual"]
            ].itertuples(index=False)
        ]
        return pd.DataFrame(out[columns])

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
        if not self.policy.graduation.holds_state:
            return states_at(self.events.evidence, self.policy, self.window, stamp.value)
        # Under hysteresis the state depends on the path: the state held at the class's
        # latest moment at or before ``when`` (none before its first), graded again at
        # ``when`` (evidence may have left the window since: after the last case, a time
        # window keeps emptying, and a held state needs its samples).
        e = self.events
        held = {}
        for i, action in enumerate(e.actions):  # per class, not per row
            lo, hi = int(e.moment_bounds[i]), int(e.moment_bounds[i + 1])
            at = lo + int(np.searchsorted(e.moments[lo:hi], stamp.value, side="right")) - 1
            if at >= lo:
                held[action] = AutonomyState(int(self.states[2 * at + 1]))
        return states_at(e.evidence, self.policy, self.window, stamp.value, held)

    def totals(self) -> dict[str, float]:
        """The policy-wide figures a candidate is weighed by, summed over the classes
        (the names :attr:`SweepResult.by_candidate` uses): the verdict figures
        (``requests``, ``allowed``, ``approval_burden``, ``blocked``,
        ``failures_let_through``, ...) and ``failures_while_supervised_or_above``,
        ``failures_while_autonomous``, ``cases_while_autonomous``,
        ``cases_while_supervised_or_above``."""
        s = self.summary
        names = [
            *TRAFFIC_FIGURES,
            "failures_while_supervised_or_above",
            "failures_while_autonomous",
            "cases_while_autonomous",
            "cases_while_supervised_or_above",
        ]
        return {name: float(s[name].sum()) for name in names}


def _transitions(
    events: Events, states: np.ndarray, thresholds: GraduationThresholds
) -> pd.DataFrame:
    # A change from the event before, within a class (a class's first event moves nothing).
    changed = np.zeros(len(states), dtype=bool)
    np.not_equal(states[1:], states[:-1], out=changed[1:])
    changed[events.bounds[:-1][events.bounds[:-1] < len(states)]] = False
    moved = np.flatnonzero(changed)
    del changed
    frm, to = states[moved - 1], states[moved]
    higher = np.maximum(frm, to)
    lower_side = np.where(to < frm, moved, moved - 1)  # the event on the lower state
    # The metrics at the events that matter only, never at every event.
    lower_metrics = dict(zip(METRIC_NAMES, events.metrics(lower_side), strict=True))
    moved_metrics = dict(zip(METRIC_NAMES, events.metrics(moved), strict=True))
    # Which bars were missed, as bits (one per criterion, in CRITERIA order), read as
    # labels from a table of every combination: no loop over the transitions.
    missed_bits = np.zeros(len(moved), dtype=np.int64)
    for bit, criterion in enumerate(CRITERIA):
        bar_of = getattr(thresholds, criterion.bar)
        # Indexed by state; MANUAL is never the higher of two different states.
        bars = np.array([0.0, *(bar_of[level] for level in GRADUATION_LEVELS)])
        met = np.asarray(criterion.met(lower_metrics[criterion.metric], bars[higher]), dtype=bool)
        missed_bits |= (~met).astype(np.int64) << bit
    names = [c.bar for c in CRITERIA]
    table = np.array(
        [
            ", ".join(name for bit, name in enumerate(names) if code >> bit & 1)
            for code in range(1 << len(names))
        ],
        dtype=object,
    )
    labels = table[missed_bits]
    return pd.DataFrame(
        {
            "action": np.asarray(events.actions, dtype=object)[events.event_code(moved)],
            "time": pd.to_datetime(events.event_time(moved), utc=True),
            "from": state_column(frm),
            "to": state_column(to),
            "cause": np.where(events.is_expiry(moved), "expiry", "evidence"),
            "pass_rate": moved_metrics["pass_rate"],
            "adversarial_pass_rate": moved_metrics["adversarial_pass_rate"],
            "sample_size": moved_metrics["sample_size"],
            "binding": labels,
        }
    )


def replay(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    traffic: pd.DataFrame | None = None,
    window: Any = POLICY_WINDOW,
    approvals: pd.DataFrame | None = None,
    approval_window: int | None = None,
    yardstick: TrustPolicy | GraduationThresholds | None = None,
) -> Replay:
    """Replay ``history`` under ``policy``: see the module docstring for every figure.

    ``traffic`` (:func:`~warrantd.analytics.traffic.load_traffic`) is what the gate
    was asked; without it the eval cases stand in for it. ``window`` defaults to the
    policy's ``[graduation] window`` (cumulative when it sets none). ``approvals``
    (:func:`~warrantd.analytics.load_approvals`, or ``load_audit(...).approvals``) add
    human approval decisions as a second signal, as a live gate with an
    :class:`~warrantd.signals.ApprovalHistorySignal` over the last ``approval_window``
    records reads them: a state is earned only when both signals earn it, and
    ``held_back_by`` says which signal kept each class where it ended. Every class of
    the policy has a summary row; classes without a single eval case are MANUAL
    throughout, with ``no_evidence`` True. Every action of the history and of the
    traffic must be in the policy (:func:`policy_classes_only` drops the others).

    ``yardstick`` (a policy or its thresholds) sets the pass bars the ground truth is
    held to: ``premature_*`` and ``unsafe_allowed`` compare the true pass probability
    with *its* bars, not ``policy``'s. It defaults to ``policy``. A comparison of
    policies must hold every side to one yardstick, or a looser bar would make the
    same graduation look earned: :func:`~warrantd.analytics.sweep.sweep`,
    :func:`~warrantd.analytics.diff.policy_impact` and the tuner pass the policy they
    start from.
    """
    window = resolve_window(window, policy)
    thresholds = policy.thresholds
    judge = yardstick_thresholds(yardstick, thresholds)
    requests = traffic_requests(traffic, policy) if traffic is not None else None
    until = None if requests is None else requests.end_ns
    events = build_events(
        history,
        policy,
        window,
        until,
        approvals,
        approval_window,
        reset_on=policy.graduation.reset_on,
    )
    if requests is None:
        requests = stand_in_requests(events.evidence, policy)
    states = events.states(thresholds, policy.graduation)
    event_of = request_events(events, requests)
    weights = request_weights(events, requests, event_of)
    figures = per_action_figures(
        events, states, thresholds, weights, unvalued_kinds(policy, events.actions), judge
    )
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
    untouched = no_evidence_states(policy, thresholds, requests.actions)
    _fill_no_evidence_traffic(summary, policy, requests, untouched)
    if len(event_of) and int(event_of.min()) >= 0:  # every request's class has evidence
        request_states = states.take(event_of)
    else:
        request_states = np.where(
            event_of >= 0, states[np.maximum(event_of, 0)], untouched[requests.codes]
        ).astype(np.int8)
    summary["unsafe_allowed"] = _unsafe_allowed(
        events, requests, event_of, request_states, judge, summary["action"]
    )
    summary["held_back_by"] = _held_back_by(events, thresholds, summary["action"])
    return Replay(
        history=history,
        policy=policy,
        window=window,
        transitions=_transitions(events, states, thresholds),
        summary=summary[
            [
                "action",
                "cases",
                "final_state",
                "no_evidence",
                *SUMMARY_FIGURES,
                "unsafe_allowed",
                "held_back_by",
            ]
        ],
        events=events,
        states=states,
        requests=requests,
        request_states=request_states,
        traffic=traffic,
        yardstick=judge,
    )


def _held_back_by(
    events: Events, thresholds: GraduationThresholds, actions: pd.Series
) -> np.ndarray:
    """Per class, at its last moment: ``evals`` or ``approvals`` when that signal alone
    earns less than the other, ``both`` when they earn the same state below the class's
    ceiling, and empty at the ceiling or with one signal."""
    out = np.full(len(actions), "", dtype=object)
    if events.approval_pass_rate is None or not len(events.moments):
        return out
    evals, approvals = events.signal_states(thresholds)
    last = events.bounds[1:] - 1
    e, a = evals[last], approvals[last]
    ceiling = events.class_ceilings
    words = np.where(
        e < a, "evals", np.where(a < e, "approvals", np.where(e < ceiling, "both", ""))
    )
    found = dict(zip(events.actions, words, strict=True))
    return np.array([found.get(str(a), "") for a in actions], dtype=object)


METRIC_NAMES = ("pass_rate", "adversarial_pass_rate", "sample_size")
_VERB = {"ALLOW": "allowed", "REQUIRE_APPROVAL": "required approval for", "BLOCK": "blocked"}
_PAST = {"ALLOW": "allowed", "REQUIRE_APPROVAL": "sent for approval", "BLOCK": "blocked"}


def _fill_no_evidence_traffic(
    summary: pd.DataFrame, policy: TrustPolicy, requests: Requests, untouched: np.ndarray
) -> None:
    """The verdict figures of classes without evidence (their requests are decided in
    the state no evidence earns), in place."""
    rows = np.flatnonzero(summary["no_evidence"].to_numpy())
    if not len(rows):
        return
    missing = [str(a) for a in summary["action"].iloc[rows]]
    states = untouched[[requests.actions.index(a) for a in missing]]
    figures = no_evidence_traffic(requests, missing, states, unvalued_kinds(policy, missing))
    for name, values in figures.items():
        summary.loc[summary.index[rows], name] = values


def _unsafe_allowed(
    events: Events,
    requests: Requests,
    event_of: np.ndarray,
    request_states: np.ndarray,
    thresholds: GraduationThresholds,
    actions: pd.Series,
) -> pd.arrays.IntegerArray:
    """Per class, requests allowed while the true pass probability was below the pass
    bar of the state in force (the SUPERVISED bar in MANUAL); NA without ground truth."""
    if events.true_pass_p is None:
        return pd.array([pd.NA] * len(actions), dtype="Int64")
    verdict, _ = verdicts(requests.kinds, request_states)
    known = event_of >= 0
    truth = np.full(len(requests), np.nan)
    truth[known] = events.event_truth(event_of[known])
    bars = np.array(
        [thresholds.pass_rate[s] for s in (AutonomyState.SUPERVISED, *GRADUATION_LEVELS)]
    )
    below = truth < bars[request_states]
    unsafe = (verdict == 0) & below
    counts = np.bincount(
        requests.codes[unsafe], weights=requests.weight[unsafe], minlength=len(requests.actions)
    )
    index = [requests.actions.index(str(a)) for a in actions]
    return pd.array(np.rint(counts[index]).astype(np.int64), dtype="Int64")


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
