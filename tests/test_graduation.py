"""GraduationEngine: every bar's boundary, each criterion alone, the ceilings."""

from __future__ import annotations

import pytest

from warrantd import (
    ActionClass,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    GraduationThresholds,
    RiskTier,
    ceiling,
)
from warrantd.graduation import GraduationEngine as EngineFromModule
from warrantd.graduation import SignalReading

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
    assert ENGINE.qualifies(S, metrics)
    assert not ENGINE.qualifies(A, metrics)
    # MANUAL has no bars: asking for them is a KeyError, as published.
    with pytest.raises(KeyError):
        ENGINE.qualifies(M, metrics)


@pytest.mark.parametrize(
    ("p", "a", "n", "with_adversarial", "without"),
    [
        (0.80, 0.70, 50, True, True),  # every SUPERVISED bar met exactly
        (0.99, 0.0, 999, False, True),  # only the adversarial bar missed
        (0.99, 0.6999, 999, False, True),
        (0.7999, 0.99, 999, False, False),  # pass_rate still applies
        (0.99, 0.99, 49, False, False),  # min_samples still applies
    ],
)
def test_qualifies_can_leave_out_the_adversarial_bar(
    p: float, a: float, n: int, with_adversarial: bool, without: bool
) -> None:
    m = EvalMetrics(p, a, n)
    assert ENGINE.qualifies(S, m) is with_adversarial
    assert ENGINE.qualifies(S, m, check_adversarial=True) is with_adversarial
    assert ENGINE.qualifies(S, m, check_adversarial=False) is without


def test_max_state_clamps() -> None:
    capped = ActionClass("c", RiskTier.REVERSIBLE_WRITE, max_state=S)
    assert state(1.0, 1.0, 10_000, capped) is S
    pinned = ActionClass("p", RiskTier.READ, max_state=M)
    assert state(1.0, 1.0, 10_000, pinned) is M
    assert ceiling(pinned) is M


def test_consequential_is_capped_only_by_its_max_state() -> None:
    # As published: the risk tier does not cap allowed_state; max_state does.
    risky = ActionClass("r", RiskTier.CONSEQUENTIAL)
    assert ceiling(risky) is A
    assert state(1.0, 1.0, 10_000, risky) is A
    assert state(0.5, 1.0, 10_000, risky) is M
    pinned = ActionClass("r", RiskTier.CONSEQUENTIAL, max_state=S)
    assert ceiling(pinned) is S
    assert state(1.0, 1.0, 10_000, pinned) is S


def test_nothing_qualifies_under_a_manual_ceiling_is_manual() -> None:
    pinned = ActionClass("p", RiskTier.REVERSIBLE_WRITE, max_state=M)
    assert state(0.0, 0.0, 0, pinned) is M


def test_states_are_tried_from_the_top() -> None:
    # AUTONOMOUS is asked first: with its bars met, SUPERVISED's are never looked up.
    engine = GraduationEngine(
        GraduationThresholds({A: 0.9}, {A: 0.9}, {A: 100})  # no SUPERVISED bars at all
    )
    assert engine.allowed_state(WRITE, EvalMetrics(0.95, 0.95, 500)) is A
    with pytest.raises(KeyError):
        engine.allowed_state(WRITE, EvalMetrics(0.5, 0.95, 500))


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


# --- combined_allowed_state: several trust signals -----------------------------------
# Bars: SUPERVISED (0.80, 0.70, 50), AUTONOMOUS (0.95, 0.90, 200).

CONSEQUENTIAL = ActionClass("c", RiskTier.CONSEQUENTIAL)


def evals(p: float, a: float, n: int) -> SignalReading:
    return SignalReading(EvalMetrics(p, a, n), adversarial=True)


def approvals(p: float, n: int) -> SignalReading:
    return SignalReading(EvalMetrics(p, 0.0, n), adversarial=False)


@pytest.mark.parametrize(
    ("action", "readings", "expected"),
    [
        # no readings: no evidence, MANUAL
        (WRITE, [], M),
        (CONSEQUENTIAL, [], M),
        # one adversarial reading: the single-metrics rule
        (WRITE, [evals(0.99, 0.99, 500)], A),
        (CONSEQUENTIAL, [evals(0.99, 0.99, 500)], A),
        (WRITE, [evals(0.90, 0.80, 100)], S),
        # conservative AND: the approvals miss AUTONOMOUS's 0.95 pass bar
        (WRITE, [evals(0.99, 0.99, 500), approvals(0.85, 100)], S),
        (WRITE, [approvals(0.85, 100), evals(0.99, 0.99, 500)], S),
        # one reading short of SUPERVISED holds everything at MANUAL
        (WRITE, [evals(0.99, 0.99, 500), evals(0.5, 0.5, 10)], M),
        # a non-adversarial reading is judged without the adversarial bar ...
        (WRITE, [approvals(1.0, 300)], A),
        (WRITE, [SignalReading(EvalMetrics(0.99, 0.5, 500), adversarial=False)], A),
        (WRITE, [SignalReading(EvalMetrics(0.99, 0.5, 500), adversarial=True)], M),
        # ... but on pass rate and samples all the same
        (WRITE, [approvals(0.79, 10_000)], M),
        (WRITE, [approvals(1.0, 49)], M),
        # AUTONOMOUS on CONSEQUENTIAL needs an adversarial reading
        (CONSEQUENTIAL, [approvals(1.0, 10_000)], S),
        (CONSEQUENTIAL, [approvals(1.0, 10_000), approvals(1.0, 500)], S),
        (CONSEQUENTIAL, [approvals(1.0, 10_000), evals(0.99, 0.99, 500)], A),
        (CONSEQUENTIAL, [approvals(1.0, 10_000), evals(0.90, 0.80, 100)], S),
        # max_state caps whatever the readings
        (ActionClass("c", RiskTier.CONSEQUENTIAL, max_state=S), [evals(1, 1, 10_000)], S),
        (ActionClass("w", RiskTier.READ, max_state=M), [evals(1, 1, 10_000)], M),
    ],
)
def test_combined_allowed_state(
    action: ActionClass, readings: list[SignalReading], expected: AutonomyState
) -> None:
    assert ENGINE.combined_allowed_state(action, readings) is expected


def test_combined_is_per_state_and_not_min_of_states() -> None:
    # Inverted sample bars: AUTONOMOUS needs 10 cases, SUPERVISED 100. The first
    # reading earns only AUTONOMOUS, the second only SUPERVISED; no state is earned
    # by both, so the combination is MANUAL (a min of states would say SUPERVISED).
    engine = GraduationEngine(make_thresholds((0.80, 0.70, 100), (0.95, 0.90, 10)))
    only_a, only_s = evals(1.0, 1.0, 20), evals(0.85, 0.75, 150)
    assert engine.allowed_state(WRITE, only_a.metrics) is A
    assert engine.allowed_state(WRITE, only_s.metrics) is S
    assert engine.combined_allowed_state(WRITE, [only_a, only_s]) is M
