"""GraduationEngine: every bar's boundary, each criterion alone, the ceilings."""

from __future__ import annotations

import pytest

from warrantd import (
    ActionClass,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    RiskTier,
    ceiling,
)
from warrantd.graduation import GraduationEngine as EngineFromModule

from .helpers import make_thresholds

M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
WRITE = ActionClass("w", RiskTier.REVERSIBLE_WRITE)
ENGINE = GraduationEngine(make_thresholds((0.80, 0.70, 50), (0.95, 0.90, 200)))


def state(p: float, a: float, n: int, action: ActionClass = WRITE) -> AutonomyState:
    return ENGINE.allowed_state(action, EvalMetrics(p, a, n))


def test_engine_is_exported_from_its_module() -> None:
    assert EngineFromModule is GraduationEngine


def test_no_evidence_is_manual() -> None:
    assert state(0.0, 0.0, 0) is M


@pytest.mark.parametrize(
    ("p", "a", "n", "expected"),
    [
        # exactly on every SUPERVISED bar qualifies
        (0.80, 0.70, 50, S),
        # just below each SUPERVISED bar, the others comfortably met
        (0.7999, 0.90, 199, M),
        (0.94, 0.6999, 199, M),
        (0.94, 0.89, 49, M),
        # just above
        (0.8001, 0.7001, 51, S),
        # exactly on every AUTONOMOUS bar qualifies
        (0.95, 0.90, 200, A),
        # each AUTONOMOUS criterion alone failing drops to SUPERVISED
        (0.9499, 0.99, 1000, S),
        (0.99, 0.8999, 1000, S),
        (0.99, 0.99, 199, S),
        (1.0, 1.0, 10_000, A),
    ],
)
def test_boundaries(p: float, a: float, n: int, expected: AutonomyState) -> None:
    assert state(p, a, n) is expected


def test_qualifies_is_per_state() -> None:
    metrics = EvalMetrics(0.90, 0.80, 100)
    assert ENGINE.qualifies(M, metrics)
    assert ENGINE.qualifies(S, metrics)
    assert not ENGINE.qualifies(A, metrics)


def test_max_state_clamps() -> None:
    capped = ActionClass("c", RiskTier.REVERSIBLE_WRITE, max_state=S)
    assert state(1.0, 1.0, 10_000, capped) is S
    pinned = ActionClass("p", RiskTier.READ, max_state=M)
    assert state(1.0, 1.0, 10_000, pinned) is M
    assert ceiling(pinned) is M


def test_consequential_actions_are_capped_at_supervised() -> None:
    risky = ActionClass("r", RiskTier.CONSEQUENTIAL)
    assert ceiling(risky) is S
    assert state(1.0, 1.0, 10_000, risky) is S
    assert state(0.5, 1.0, 10_000, risky) is M


def test_highest_qualifying_state_wins_even_with_inverted_bars() -> None:
    # An in-code policy may (invalidly) set AUTONOMOUS below SUPERVISED: the rule
    # is still "highest state whose bars are met".
    engine = GraduationEngine(make_thresholds((0.9, 0.9, 100), (0.5, 0.5, 10)))
    assert engine.allowed_state(WRITE, EvalMetrics(0.6, 0.6, 20)) is A


def test_engine_does_not_mutate_inputs() -> None:
    t = make_thresholds()
    before = (dict(t.pass_rate), dict(t.adversarial_pass_rate), dict(t.min_samples))
    GraduationEngine(t).allowed_state(WRITE, EvalMetrics(0.9, 0.9, 100))
    assert (t.pass_rate, t.adversarial_pass_rate, t.min_samples) == before
