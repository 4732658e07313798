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
from warrantd.graduation import SignalReading

from .strategies import A, S, action_classes, metrics, rates, readings, states, thresholds

WRITE = ActionClass("w", RiskTier.REVERSIBLE_WRITE)
FIELDS = ("pass_rate", "adversarial_pass_rate", "sample_size")


BAR_OF = {
    "pass_rate": "pass_rate",
    "adversarial_pass_rate": "adversarial_pass_rate",
    "sample_size": "min_samples",
}


def raised_values(value: float, amount: float, targets: list[float], whole: bool) -> list[float]:
    """Values above ``value``: by ``amount`` and, the boundary cases, exactly each target
    above it (a metric raised onto a bar, or a bar raised onto a metric)."""
    step = value + int(amount * 1000) if whole else min(1.0, value + amount)
    return [step, *(x for x in targets if x > value)]


@given(thresholds(), action_classes(), metrics, st.floats(0, 1))
@example(  # exactly reaching a bar from below must not be missed
    GraduationThresholds({S: 0.8, A: 0.95}, {S: 0.7, A: 0.9}, {S: 50, A: 200}),
    WRITE,
    EvalMetrics(0.79, 0.7, 50),
    0.01,
)
def test_1_more_evidence_never_lowers_the_state(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics, amount: float
) -> None:
    """Raising any one of pass rate, adversarial pass rate or sample size never lowers the state.

    Each example raises every metric in turn: by ``amount``, and onto each bar above it.
    """
    engine = GraduationEngine(t)
    base = engine.allowed_state(action, m)
    for field in FIELDS:
        bars = list(getattr(t, BAR_OF[field]).values())
        for value in raised_values(getattr(m, field), amount, bars, field == "sample_size"):
            more = dataclasses.replace(m, **{field: value})
            assert engine.allowed_state(action, more) >= base, (field, value)


@given(thresholds(ordered=False), action_classes(), metrics, st.floats(0, 1))
@example(  # raising the SUPERVISED pass bar onto the metric must not promote
    GraduationThresholds({S: 0.8, A: 0.95}, {S: 0.7, A: 0.9}, {S: 50, A: 200}),
    WRITE,
    EvalMetrics(0.85, 0.8, 100),
    0.1,
)
def test_2_higher_bars_never_raise_the_state(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics, amount: float
) -> None:
    """Raising any one threshold never raises the state.

    Each example raises every bar of every state in turn: by ``amount``, and onto the
    metric it is compared with.
    """
    base = GraduationEngine(t).allowed_state(action, m)
    for field, criterion in BAR_OF.items():
        for state in (S, A):
            current = getattr(t, criterion)[state]
            whole = criterion == "min_samples"
            for value in raised_values(current, amount, [getattr(m, field)], whole):
                bars = {**getattr(t, criterion), state: value}
                stricter = dataclasses.replace(t, **{criterion: bars})
                got = GraduationEngine(stricter).allowed_state(action, m)
                assert got <= base, (criterion, state, value)


@given(thresholds(), action_classes(), metrics, states)
def test_3_state_never_exceeds_the_ceiling(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics, lower: AutonomyState
) -> None:
    """The state never exceeds max_state; lowering max_state never raises it; the risk
    tier plays no part (as published, only max_state caps)."""
    engine = GraduationEngine(t)
    got = engine.allowed_state(action, m)
    assert got <= action.max_state
    for risk in RiskTier:
        assert engine.allowed_state(dataclasses.replace(action, risk=risk), m) is got
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
    engine = GraduationEngine(t)
    first = engine.allowed_state(action, m)
    # Another engine, built and asked after the first, must not leak into it
    # (state shared through the class, a cache keyed without the thresholds).
    noise = GraduationEngine(other)
    noise.allowed_state(action, m)
    again = engine.allowed_state(action, m)
    fresh = GraduationEngine(t).allowed_state(action, m)
    assert again == first == fresh
    assert noise.allowed_state(action, m) == GraduationEngine(other).allowed_state(action, m)
    assert (t, action, m) == before


# --- combined_allowed_state --------------------------------------------------------


@given(thresholds(), action_classes(), metrics)
def test_5b_one_adversarial_reading_is_the_single_metrics_rule(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics
) -> None:
    """One adversarial reading gives exactly allowed_state (the 0.1.0 call form)."""
    engine = GraduationEngine(t)
    assert engine.combined_allowed_state(action, [SignalReading(m, True)]) is (
        engine.allowed_state(action, m)
    )


@given(thresholds(ordered=False), action_classes(), st.lists(readings, max_size=4), st.randoms())
def test_5c_combination_is_bounded_and_order_free(
    t: GraduationThresholds, action: ActionClass, drawn: list[SignalReading], rnd
) -> None:  # type: ignore[no-untyped-def]
    """The combined state never exceeds max_state nor any reading's own state (judged
    with or without the adversarial bar as it declares), never depends on the readings'
    order, and is AUTONOMOUS on a CONSEQUENTIAL class only with an adversarial reading."""
    engine = GraduationEngine(t)
    got = engine.combined_allowed_state(action, drawn)
    assert got <= action.max_state
    if not drawn:
        assert got is AutonomyState.MANUAL
    for r in drawn:
        own = engine.combined_allowed_state(dataclasses.replace(action, risk=RiskTier.READ), [r])
        if got is not AutonomyState.MANUAL:
            assert engine.qualifies(got, r.metrics, check_adversarial=r.adversarial)
        assert got <= own
    if got is A and action.risk is RiskTier.CONSEQUENTIAL:
        assert any(r.adversarial for r in drawn)
    shuffled = list(drawn)
    rnd.shuffle(shuffled)
    assert engine.combined_allowed_state(action, shuffled) is got


@given(thresholds(), action_classes(), st.lists(readings, max_size=3), readings)
def test_5d_another_reading_never_raises_the_state(
    t: GraduationThresholds, action: ActionClass, drawn: list[SignalReading], extra: SignalReading
) -> None:
    """Adding a reading never raises the state, except the first adversarial reading on a
    CONSEQUENTIAL class (which may unlock AUTONOMOUS), or the first reading of all."""
    engine = GraduationEngine(t)
    before = engine.combined_allowed_state(action, drawn)
    after = engine.combined_allowed_state(action, [*drawn, extra])
    unlocks = (
        action.risk is RiskTier.CONSEQUENTIAL
        and extra.adversarial
        and not any(r.adversarial for r in drawn)
    )
    if drawn and not unlocks:
        assert after <= before
    if drawn and unlocks and after > before:
        # with ordered bars, whoever earns AUTONOMOUS earns SUPERVISED too
        assert (before, after) == (S, A)


@given(thresholds(), action_classes(), metrics, rates)
def test_5e_a_non_adversarial_reading_ignores_its_adversarial_rate(
    t: GraduationThresholds, action: ActionClass, m: EvalMetrics, other: float
) -> None:
    """A reading without adversarial coverage is judged the same whatever its
    adversarial_pass_rate says."""
    engine = GraduationEngine(t)
    changed = dataclasses.replace(m, adversarial_pass_rate=other)
    assert engine.combined_allowed_state(action, [SignalReading(m, False)]) is (
        engine.combined_allowed_state(action, [SignalReading(changed, False)])
    )
