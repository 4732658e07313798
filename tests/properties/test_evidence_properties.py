"""Properties 18-22: the evidence rules and hysteresis (GraduationEngine with settings).

Streams of evidence are drawn as batches of counts and graded the way a gate that looks
after every batch would: cumulative counts, the engine handed the state it earned last
(``current``). Each property was run against a deliberately broken rule and failed
(the mutation is named in its docstring, run by editing warrantd/graduation.py, with
the counterexample Hypothesis printed); the rule itself passes.
"""

from __future__ import annotations

import itertools

from hypothesis import example, given
from hypothesis import strategies as st

from warrantd import ActionClass, AutonomyState, EvalMetrics, GraduationEngine, RiskTier
from warrantd.graduation import (
    EVIDENCE_RULES,
    GraduationSettings,
    GraduationThresholds,
    SignalReading,
    evidence_met,
    wilson_lower_bound,
)

from .strategies import A, S, action_classes, thresholds

M = AutonomyState.MANUAL
WRITE = ActionClass("w", RiskTier.REVERSIBLE_WRITE)
BOUNDS = ("wilson", "anytime")

# Rates and levels from grids hit the interesting spots (bars near observed rates).
bar_rates = st.one_of(
    st.sampled_from([0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]),
    st.floats(0.0, 1.0, allow_nan=False),
)
alphas = st.one_of(
    st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.2, 0.5]), st.floats(1e-6, 0.999, allow_nan=False)
)
margins = st.one_of(st.sampled_from([0.01, 0.05, 0.2]), st.floats(1e-6, 1.0, allow_nan=False))


@st.composite
def batch(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """New cases (n_normal, passed_normal, n_adversarial, passed_adversarial)."""
    n = draw(st.integers(0, 300))
    a = draw(st.integers(0, 100))
    # mostly passing, as a class near its bar is
    return n, draw(st.integers(n * 3 // 4, n)), a, draw(st.integers(a * 3 // 4, a))


streams = st.lists(batch(), min_size=1, max_size=12)

low_thresholds = st.builds(
    lambda p, q, ns, na: GraduationThresholds(
        {S: min(p), A: max(p)}, {S: min(q), A: max(q)}, {S: min(ns, na), A: max(ns, na)}
    ),
    st.tuples(bar_rates, bar_rates),
    st.tuples(bar_rates, bar_rates),
    st.integers(0, 400),
    st.integers(0, 400),
)


def cumulative(stream: list[tuple[int, int, int, int]]) -> list[EvalMetrics]:
    totals = [0, 0, 0, 0]
    out = []
    for step in stream:
        totals = [t + s for t, s in zip(totals, step, strict=True)]
        out.append(EvalMetrics.from_counts(*totals))
    return out


def path(
    engine: GraduationEngine, action: ActionClass, metrics: list[EvalMetrics]
) -> list[AutonomyState]:
    """The states a gate earns looking after every batch, remembering its last state."""
    current: AutonomyState | None = None
    states = []
    for m in metrics:
        current = engine.allowed_state(action, m, current)
        states.append(current)
    return states


def settings(rule: str, alpha: float, margin: float) -> GraduationSettings:
    return GraduationSettings(evidence=rule, alpha=alpha, demotion_margin=margin)


@given(
    low_thresholds,
    action_classes(),
    streams,
    st.sampled_from(BOUNDS),
    alphas,
    alphas,
    st.one_of(st.just(0.0), margins),
)
def test_18_a_smaller_alpha_never_graduates_earlier(
    t: GraduationThresholds,
    action: ActionClass,
    stream: list[tuple[int, int, int, int]],
    rule: str,
    alpha_1: float,
    alpha_2: float,
    margin: float,
) -> None:
    """At every look, the state at the smaller alpha is at most the state at the larger.

    Broken variant that fails it: the anytime threshold ``-log(alpha)`` written
    ``-log(1 - alpha)`` (a smaller alpha then asks for *less* evidence).
    """
    small, large = sorted((alpha_1, alpha_2))
    metrics = cumulative(stream)
    strict = path(GraduationEngine(t, settings(rule, small, margin)), action, metrics)
    loose = path(GraduationEngine(t, settings(rule, large, margin)), action, metrics)
    assert all(a <= b for a, b in zip(strict, loose, strict=True)), (strict, loose)


@given(
    low_thresholds,
    action_classes(),
    streams,
    st.sampled_from(BOUNDS),
    alphas,
    st.one_of(st.just(0.0), margins),
)
def test_19_a_bound_never_graduates_earlier_than_the_point_estimate(
    t: GraduationThresholds,
    action: ActionClass,
    stream: list[tuple[int, int, int, int]],
    rule: str,
    alpha: float,
    margin: float,
) -> None:
    """On the same bars and evidence, ``wilson`` and ``anytime`` are never above ``point``
    at any look (a lower bound never exceeds the estimate).

    Broken variant that fails it: Wilson's *upper* bound used in place of the lower one
    with the clip to ``[0, rate]`` left out (``_wilson_lower`` returning
    ``wilson_bounds(...)[1]``). With the clip kept, the upper bound is clipped to the
    rate: the point rule again, which this property cannot tell apart.
    """
    metrics = cumulative(stream)
    bounded = path(GraduationEngine(t, settings(rule, alpha, margin)), action, metrics)
    point = path(GraduationEngine(t, settings("point", alpha, margin)), action, metrics)
    assert all(a <= b for a, b in zip(bounded, point, strict=True)), (bounded, point)


@given(st.integers(0, 1500), bar_rates, alphas, st.sampled_from(BOUNDS))
@example(100, 0.95, 0.05, "anytime")
@example(20, 0.5, 0.5, "anytime")
def test_20_more_passing_evidence_never_lowers_the_bound(
    n: int, bar: float, alpha: float, rule: str
) -> None:
    """For every number of passes of ``n`` cases: a met bar stays met when a failure
    becomes a pass, or a pass is added; the Wilson lower bound itself never falls.

    Broken variant that fails it: the anytime check without "the observed rate is above
    the bar" (a two-sided reading: strong evidence *against* the bar then meets it, and
    one more pass can lose it). A uniform Beta(1, 1) prior in place of the bar-centred
    one did not fail it in 100 examples (only the bar-centred prior is proved monotone).
    """

    def met(k: int, cases: int) -> bool:
        return bool(evidence_met(rule, k, cases, k / cases if cases else 0.0, bar, alpha))

    now = [met(k, n) for k in range(n + 1)]
    more = [met(k, n + 1) for k in range(n + 2)]
    for k in range(n + 1):
        if now[k]:
            assert more[k + 1], f"{k + 1} of {n + 1} lost the bar {k} of {n} met"
            if k < n:
                assert now[k + 1], f"{k + 1} of {n} lost the bar {k} of {n} met"
    lows = [wilson_lower_bound(k, n, alpha) for k in range(n + 1)]
    assert all(a <= b for a, b in itertools.pairwise(lows))
    assert all(wilson_lower_bound(k + 1, n + 1, alpha) >= lows[k] for k in range(n + 1))


@given(
    thresholds(ordered=False),
    action_classes(),
    st.lists(batch(), min_size=1, max_size=4),
    alphas,
    st.sampled_from(list(AutonomyState)),
    st.booleans(),
)
def test_21_with_margin_zero_hysteresis_changes_nothing(
    t: GraduationThresholds,
    action: ActionClass,
    stream: list[tuple[int, int, int, int]],
    alpha: float,
    current: AutonomyState,
    adversarial: bool,
) -> None:
    """Under the point rule with ``demotion_margin = 0`` the state handed in is never
    read: alone and with several signals (the published, memoryless rule). The bound
    rules always hold a state on the estimate (property 22), so they are not drawn.

    Broken variant that fails it: the state read at margin 0 (``holds_state`` always
    true) with :meth:`GraduationEngine.keeps` falling back to a margin of 0.05.
    """
    engine = GraduationEngine(t, settings("point", alpha, 0.0))
    for m in cumulative(stream):
        assert engine.allowed_state(action, m, current) is engine.allowed_state(action, m)
        readings = [SignalReading(m, True), SignalReading(m, adversarial)]
        assert engine.combined_allowed_state(
            action, readings, current
        ) is engine.combined_allowed_state(action, readings)


@given(
    thresholds(ordered=False),
    action_classes(),
    st.lists(batch(), min_size=1, max_size=4),
    st.sampled_from(EVIDENCE_RULES),
    alphas,
    margins,
    st.sampled_from([S, A]),
)
def test_22_no_state_is_demoted_while_its_point_estimates_meet_its_bars(
    t: GraduationThresholds,
    action: ActionClass,
    stream: list[tuple[int, int, int, int]],
    rule: str,
    alpha: float,
    margin: float,
    current: AutonomyState,
) -> None:
    """Under every rule and margin (margin 0 included), a class holding a state whose
    bars its point estimates meet keeps at least that state (its ceiling permitting):
    a bound rule promotes on its bound but never demotes while the estimate is there.

    Broken variants that fail it: :meth:`Criterion.kept` comparing a rate with
    ``bar + margin`` instead of ``bar - margin``; ``holds_state`` true only under a
    margin (the bound rules at margin 0 then demote on a dipping bound).
    """
    engines = [
        GraduationEngine(t, settings(rule, alpha, margin)),
        GraduationEngine(t, settings(rule, alpha, 0.0)),
    ]
    held = min(current, action.max_state)
    if held is M:
        return
    for m, engine in itertools.product(cumulative(stream), engines):
        if (
            m.pass_rate >= t.pass_rate[held]
            and m.adversarial_pass_rate >= t.adversarial_pass_rate[held]
            and m.sample_size >= t.min_samples[held]
        ):
            assert engine.allowed_state(action, m, current) >= held
