"""Properties 1-5: the graduation rule (GraduationEngine.allowed_state)."""

from __future__ import annotations

import copy
import dataclasses

from hypothesis import example, given
from hypothesis import strategies as st

from warrantd import (
    ActionClass,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    GraduationThresholds,
    RiskTier,
)

from .strategies import A, S, action_classes, metrics, states, thresholds

WRITE = ActionClass("w", RiskTier.REVERSIBLE_WRITE)
FIELDS = ("pass_rate", "adversarial_pass_rate", "sample_size")


def raise_metric(m: EvalMetrics, field: str, amount: float) -> EvalMetrics:
    value = getattr(m, field)
    new = value + int(amount * 1000) if field == "sample_size" else min(1.0, value + amount)
    return dataclasses.replace(m, **{field: new})


@given(thresholds(), action_classes(), metrics, st.sampled_from(FIELDS), st.floats(0, 1))
@example(  # exactly reaching a bar from below must not be missed
    GraduationThresholds({S: 0.8, A: 0.95}, {S: 0.7, A: 0.9}, {S: 50, A: 200}),
    WRITE,
    EvalMetrics(0.79, 0.7, 50),
    "pass_rate",
    0.01,
)
def test_1_more_evidence_never_lowers_the_state(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics, field: str, amount: float
) -> None:
    """Raising any one of pass rate, adversarial pass rate or sample size never lowers the state."""
    engine = GraduationEngine(t)
    assert engine.allowed_state(action, raise_metric(m, field, amount)) >= engine.allowed_state(
        action, m
    )


@given(
    thresholds(ordered=False),
    action_classes(),
    metrics,
    st.sampled_from(["pass_rate", "adversarial_pass_rate", "min_samples"]),
    st.sampled_from([S, A]),
    st.floats(0, 1),
)
def test_2_higher_bars_never_raise_the_state(
    t: GraduationThresholds,
    action: ActionClass,
    m: EvalMetrics,
    criterion: str,
    state: AutonomyState,
    amount: float,
) -> None:
    """Raising any one threshold never raises the state."""
    bars = dict(getattr(t, criterion))
    bars[state] = (
        bars[state] + int(amount * 1000)
        if criterion == "min_samples"
        else min(1.0, bars[state] + amount)
    )
    stricter = dataclasses.replace(t, **{criterion: bars})
    assert GraduationEngine(stricter).allowed_state(action, m) <= GraduationEngine(t).allowed_state(
        action, m
    )


@given(thresholds(), action_classes(), metrics, states)
def test_3_state_never_exceeds_the_ceiling(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics, lower: AutonomyState
) -> None:
    """The state never exceeds max_state; lowering max_state never raises it; CONSEQUENTIAL
    never exceeds SUPERVISED."""
    engine = GraduationEngine(t)
    got = engine.allowed_state(action, m)
    assert got <= action.max_state
    if action.risk is RiskTier.CONSEQUENTIAL:
        assert got <= AutonomyState.SUPERVISED
    clamped = dataclasses.replace(action, max_state=min(lower, action.max_state))
    assert engine.allowed_state(clamped, m) <= got


@given(thresholds(), st.sampled_from([S, A]))
def test_4_metrics_exactly_on_the_bars_qualify(
    t: GraduationThresholds, state: AutonomyState
) -> None:
    """Metrics exactly on every bar of a state qualify for it."""
    on_bar = EvalMetrics(t.pass_rate[state], t.adversarial_pass_rate[state], t.min_samples[state])
    engine = GraduationEngine(t)
    assert engine.qualifies(state, on_bar)
    assert engine.allowed_state(WRITE, on_bar) >= state


@given(thresholds(ordered=False), thresholds(ordered=False), action_classes(), metrics)
def test_5_pure(
    t: GraduationThresholds, other: GraduationThresholds, action: ActionClass, m: EvalMetrics
) -> None:
    """Same inputs, same output; inputs are not mutated; no dependence on call order or on
    other engines."""
    before = copy.deepcopy((t, action, m))
    first = GraduationEngine(t).allowed_state(action, m)
    noise = GraduationEngine(other)
    noise.allowed_state(action, m)
    engine = GraduationEngine(t)
    assert engine.allowed_state(action, m) == first == engine.allowed_state(action, m)
    assert (t, action, m) == before
