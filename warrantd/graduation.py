"""The graduation rule: which autonomy state an action class has earned.

This module is the single source of truth for graduation. Every other path in
the project (replay, sweeps, forecasts) is proven equal to
:meth:`GraduationEngine.allowed_state` by differential tests, and the engine
itself is proven equal to the published ``warrantd`` 0.1.0 and
``warrantd-core`` 0.3.0 (``tests/compat``).

The rule, in full:

* A state ``S`` *qualifies* when all three of its bars are met:
  ``pass_rate >= pass_rate[S]``, ``adversarial_pass_rate >=
  adversarial_pass_rate[S]`` and ``sample_size >= min_samples[S]``. A metric
  exactly on a bar meets it. The bars are checked in that order and the check
  stops at the first one missed. :data:`CRITERIA` is that table (metric, bar,
  direction, what a bar may be), read by the policy loader, the sweep's grid
  check, the replay's binding bars and the forecast's ``blocked_on``.
* :meth:`GraduationEngine.allowed_state`: the states at or below the class's
  ``max_state`` are tried from the top (AUTONOMOUS, then SUPERVISED) and the
  first that qualifies is the allowed state; ``MANUAL`` when none does.
  ``max_state`` is the only ceiling: the risk tier does not cap a class here.
* :meth:`GraduationEngine.combined_allowed_state`, for several trust signals:
  a state is earned only when *every* reading qualifies for it (per-state AND);
  a reading whose signal declares no adversarial coverage is judged without
  the adversarial bar; AUTONOMOUS on a ``CONSEQUENTIAL`` class also needs at
  least one adversarial reading; no readings at all is no evidence: MANUAL.
  A single adversarial reading gives exactly :meth:`allowed_state`.

The functions are pure: no I/O, no clock, no randomness, no hidden state.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .autonomy import AutonomyState
from .decision import ActionClass, EvalMetrics
from .risk import RiskTier

__all__ = [
    "CRITERIA",
    "EVIDENCE_RULES",
    "Criterion",
    "GraduationEngine",
    "GraduationSettings",
    "GraduationThresholds",
    "SignalReading",
    "ceiling",
]

_MANUAL = AutonomyState.MANUAL
_AUTONOMOUS = AutonomyState.AUTONOMOUS
# Tried from the top: the first state that qualifies is the one earned.
_TOP_DOWN = (AutonomyState.AUTONOMOUS, AutonomyState.SUPERVISED)


@dataclass(frozen=True)
class GraduationThresholds:
    """The bars a class must clear to reach each state, keyed by target state.

    Each dict maps ``SUPERVISED`` and ``AUTONOMOUS`` to a bar; MANUAL is the
    floor and needs none.
    """

    pass_rate: dict[AutonomyState, float]
    adversarial_pass_rate: dict[AutonomyState, float]
    min_samples: dict[AutonomyState, int]


#: The evidence rules a policy may choose (``[graduation] evidence``): ``point`` holds
#: the observed rate against the bar (the published rule, the default).
EVIDENCE_RULES = ("point", "wilson", "anytime")


@dataclass(frozen=True)
class GraduationSettings:
    """How evidence is gathered and judged, beyond the bars: a policy's ``[graduation]``.

    ``window`` says which past cases count (:mod:`warrantd.window`: None for
    cumulative, a case count, or a span such as ``"30D"``; kept as written).
    ``evidence`` names the rule a rate is held to its bar by (one of
    :data:`EVIDENCE_RULES`) at level ``alpha``; ``demotion_margin`` lets a class
    keep a state until its rate falls that far below the bar; ``reset_on`` names a
    history column (e.g. ``agent_version``) whose change restarts a class's
    evidence. The defaults are the published behaviour: a policy without a
    ``[graduation]`` table graduates exactly as warrantd 0.1.0 does.
    """

    window: int | str | None = None
    evidence: str = "point"
    alpha: float = 0.05
    demotion_margin: float = 0.0
    reset_on: str | None = None


@dataclass(frozen=True)
class SignalReading:
    """One trust signal's evidence for one action, read once per evaluation.

    ``adversarial`` is the signal's declaration that its
    ``adversarial_pass_rate`` reflects real adversarial coverage (see
    :class:`warrantd.protocols.TrustSignal`).
    """

    metrics: EvalMetrics
    adversarial: bool


@dataclass(frozen=True)
class Criterion:
    """One bar of the rule: which metric is held against which threshold, and how.

    ``bar`` names the :class:`GraduationThresholds` field (and the policy-file key),
    ``metric`` the :class:`~warrantd.EvalMetrics` field it is held against,
    ``kind`` what a bar value may be (``"rate"``: a number in [0, 1]; ``"count"``: a
    whole number >= 0), ``label`` the words for people, ``adversarial`` whether it is
    the bar a signal without adversarial coverage is judged without. The direction
    is the same for every criterion: higher is better, and a metric exactly on its
    bar meets it (:meth:`met`).
    """

    bar: str
    metric: str
    kind: str
    label: str
    adversarial: bool = False

    @staticmethod
    def met(value: Any, bar: Any) -> Any:
        """Whether a metric ``value`` meets ``bar``: ``value >= bar`` (numbers or arrays)."""
        return value >= bar

    @staticmethod
    def ordered(supervised_bar: Any, autonomous_bar: Any) -> Any:
        """Whether an AUTONOMOUS bar is at least the SUPERVISED bar of the same criterion
        (the rule a valid policy obeys; numbers or arrays)."""
        return autonomous_bar >= supervised_bar

    def problem(self, value: object) -> str | None:
        """Why ``value`` cannot be a bar of this criterion; None when it can."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            what = "a whole number of cases" if self.kind == "count" else "a rate in [0, 1]"
            return f"{value!r} is not {what}"
        if self.kind == "count":
            if not isinstance(value, numbers.Integral):
                return f"{value!r} is not a whole number of cases"
            return f"{value} is negative" if value < 0 else None
        number = float(value)
        if math.isnan(number) or not 0.0 <= number <= 1.0:
            return f"{value} is outside [0, 1]"
        return None


#: The three bars, in the order the rule checks them (the published order).
CRITERIA: tuple[Criterion, ...] = (
    Criterion("pass_rate", "pass_rate", "rate", "pass rate"),
    Criterion(
        "adversarial_pass_rate",
        "adversarial_pass_rate",
        "rate",
        "adversarial pass rate",
        adversarial=True,
    ),
    Criterion("min_samples", "sample_size", "count", "samples"),
)


def ceiling(action_class: ActionClass) -> AutonomyState:
    """The highest state ``action_class`` may reach: its ``max_state``."""
    return action_class.max_state


class GraduationEngine:
    """Computes the autonomy state that eval metrics have earned."""

    __slots__ = ("thresholds",)

    def __init__(self, thresholds: GraduationThresholds) -> None:
        self.thresholds = thresholds

    def qualifies(
        self, state: AutonomyState, m: EvalMetrics, *, check_adversarial: bool = True
    ) -> bool:
        """True when ``m`` meets every bar of ``state``.

        ``check_adversarial=False`` leaves out the adversarial-pass-rate bar (for
        signals without adversarial coverage); ``pass_rate`` and ``min_samples``
        always apply. The bars are looked up for ``state`` as given: MANUAL has
        none in a valid policy, so asking for it raises ``KeyError``.
        """
        t = self.thresholds
        return (
            m.pass_rate >= t.pass_rate[state]
            and (not check_adversarial or m.adversarial_pass_rate >= t.adversarial_pass_rate[state])
            and m.sample_size >= t.min_samples[state]
        )

    def allowed_state(self, ac: ActionClass, m: EvalMetrics) -> AutonomyState:
        """The highest state at or below ``ac.max_state`` whose bars ``m`` meets."""
        top = ac.max_state
        for state in _TOP_DOWN:
            if state > top:
                continue
            if self.qualifies(state, m):
                return state
        return min(_MANUAL, top)

    def combined_allowed_state(
        self, ac: ActionClass, readings: Sequence[SignalReading]
    ) -> AutonomyState:
        """The highest state at or below ``ac.max_state`` that every reading earns.

        Conservative AND, per state and independent of the readings' order; a
        non-adversarial reading is judged without the adversarial bar;
        AUTONOMOUS on a ``CONSEQUENTIAL`` class needs at least one adversarial
        reading; no readings means MANUAL.
        """
        top = ac.max_state
        if not readings:
            return min(_MANUAL, top)
        for state in _TOP_DOWN:
            if state > top:
                continue
            if (
                state is _AUTONOMOUS
                and ac.risk is RiskTier.CONSEQUENTIAL
                and not any(r.adversarial for r in readings)
            ):
                continue
            if all(
                self.qualifies(state, r.metrics, check_adversarial=r.adversarial) for r in readings
            ):
                return state
        return min(_MANUAL, top)
