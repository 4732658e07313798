"""Value types of the decision flow: action classes, requests, metrics, verdicts.

These are frozen dataclasses with the published field order, because users
construct them positionally. They carry data only; the rules live in
:mod:`warrantd.graduation` and :mod:`warrantd.core`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from .autonomy import AutonomyState
from .risk import RiskTier

__all__ = ["ActionClass", "ActionRequest", "Decision", "EvalMetrics", "Verdict"]


class Verdict(Enum):
    """What the gate tells the agent to do with one action.

    The values are the names (``Verdict.ALLOW.value == "ALLOW"``), as published:
    audit rows and logs that store ``verdict.value`` read the same across versions.
    """

    ALLOW = "ALLOW"
    REQUIRE_APPROVAL = "REQUIRE_APPROVAL"
    BLOCK = "BLOCK"


@dataclass(frozen=True)
class ActionClass:
    """A kind of action the agent may take, with its risk and monetary caps.

    ``auto_cap``: in SUPERVISED, values at or below it run without a human.
    ``hard_cap``: values above it are always blocked, whatever the state.
    ``max_state``: the highest autonomy this class may ever reach.
    """

    name: str
    risk: RiskTier
    auto_cap: Decimal | None = None
    hard_cap: Decimal | None = None
    max_state: AutonomyState = AutonomyState.AUTONOMOUS


@dataclass(frozen=True)
class ActionRequest:
    """One concrete action an agent wants to take, for one tenant."""

    action: str
    tenant_id: str
    value: Decimal | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalMetrics:
    """Eval evidence for an action class.

    ``pass_rate`` and ``adversarial_pass_rate`` are fractions in [0, 1];
    ``sample_size`` counts every eval case (normal plus adversarial).

    The counts behind the rates are optional (after the published fields, None when
    not supplied): ``n_normal`` / ``passed_normal`` for ``pass_rate``,
    ``n_adversarial`` / ``passed_adversarial`` for ``adversarial_pass_rate``. The
    point rule never reads them; the ``wilson`` and ``anytime`` evidence rules need
    them (:mod:`warrantd.graduation`).
    """

    pass_rate: float
    adversarial_pass_rate: float
    sample_size: int
    n_normal: int | None = None
    passed_normal: int | None = None
    n_adversarial: int | None = None
    passed_adversarial: int | None = None

    @classmethod
    def from_counts(
        cls, n_normal: int, passed_normal: int, n_adversarial: int, passed_adversarial: int
    ) -> EvalMetrics:
        """The metrics of these counts, counts included: each rate is passed / cases of
        its stream (0.0 with none), ``sample_size`` both streams' cases."""
        return cls(
            passed_normal / n_normal if n_normal else 0.0,
            passed_adversarial / n_adversarial if n_adversarial else 0.0,
            n_normal + n_adversarial,
            n_normal,
            passed_normal,
            n_adversarial,
            passed_adversarial,
        )


@dataclass(frozen=True)
class Decision:
    """The gate's answer: a verdict, the autonomy state it rests on, and why."""

    verdict: Verdict
    autonomy_state: AutonomyState
    reason: str
