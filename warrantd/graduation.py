"""The graduation rule: which autonomy state an action class has earned.

This module is the single source of truth for graduation. Every other path in
the project (replay, sweeps, forecasts) is proven equal to
:meth:`GraduationEngine.allowed_state` by differential tests.

The rule, in full:

* A state ``S`` (SUPERVISED or AUTONOMOUS) *qualifies* when all three of its bars
  are met: ``pass_rate >= pass_rate[S]``, ``adversarial_pass_rate >=
  adversarial_pass_rate[S]`` and ``sample_size >= min_samples[S]``. A metric
  exactly on a bar meets it.
* The allowed state is the highest qualifying state, ``MANUAL`` when none does,
  never above the class ceiling: ``min(max_state, RISK_CEILING[risk])``.
  CONSEQUENTIAL actions are capped at SUPERVISED: no eval result lets an
  irreversible action run without the auto-cap check.

The function is pure: no I/O, no clock, no randomness, no hidden state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .autonomy import GRADUATION_STATES, AutonomyState
from .decision import ActionClass, EvalMetrics
from .risk import RiskTier

__all__ = ["RISK_CEILING", "GraduationEngine", "GraduationThresholds", "ceiling"]

#: The highest state a risk tier may ever reach, whatever its evals say.
RISK_CEILING: Mapping[RiskTier, AutonomyState] = {
    RiskTier.READ: AutonomyState.AUTONOMOUS,
    RiskTier.REVERSIBLE_WRITE: AutonomyState.AUTONOMOUS,
    RiskTier.CONSEQUENTIAL: AutonomyState.SUPERVISED,
}


@dataclass(frozen=True)
class GraduationThresholds:
    """The bars a class must clear to reach each state, keyed by target state.

    Each dict maps ``SUPERVISED`` and ``AUTONOMOUS`` to a bar.
    """

    pass_rate: dict[AutonomyState, float]
    adversarial_pass_rate: dict[AutonomyState, float]
    min_samples: dict[AutonomyState, int]


def ceiling(action_class: ActionClass) -> AutonomyState:
    """The highest state ``action_class`` may reach: its ``max_state`` and risk ceiling."""
    return min(action_class.max_state, RISK_CEILING[action_class.risk])


class GraduationEngine:
    """Computes the autonomy state that eval metrics have earned."""

    __slots__ = ("thresholds",)

    def __init__(self, thresholds: GraduationThresholds) -> None:
        self.thresholds = thresholds

    def qualifies(self, state: AutonomyState, metrics: EvalMetrics) -> bool:
        """True when ``metrics`` meet every bar of ``state`` (MANUAL always qualifies)."""
        if state is AutonomyState.MANUAL:
            return True
        t = self.thresholds
        return (
            metrics.pass_rate >= t.pass_rate[state]
            and metrics.adversarial_pass_rate >= t.adversarial_pass_rate[state]
            and metrics.sample_size >= t.min_samples[state]
        )

    def allowed_state(self, action_class: ActionClass, metrics: EvalMetrics) -> AutonomyState:
        """The highest state whose bars ``metrics`` meet, clamped to the class ceiling."""
        top = ceiling(action_class)
        earned = AutonomyState.MANUAL
        for state in GRADUATION_STATES:
            if state > top:
                break
            if self.qualifies(state, metrics):
                earned = state
        return earned
