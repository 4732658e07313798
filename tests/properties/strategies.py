"""Hypothesis strategies for warrantd's values."""

from __future__ import annotations

from hypothesis import strategies as st

from warrantd import (
    ActionClass,
    ActionRequest,
    AutonomyState,
    EvalMetrics,
    GraduationThresholds,
    RiskTier,
    SignalReading,
)

S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS

# Rates from a small grid hit bars exactly far more often than uniform floats do.
grid_rates = st.sampled_from([0.0, 0.25, 0.5, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0])
rates = st.one_of(grid_rates, st.floats(0.0, 1.0, allow_nan=False))
counts = st.one_of(st.sampled_from([0, 1, 49, 50, 51, 199, 200, 201]), st.integers(0, 10_000))

metrics = st.builds(EvalMetrics, rates, rates, counts)
readings = st.builds(SignalReading, metrics, st.booleans())
states = st.sampled_from(list(AutonomyState))
risks = st.sampled_from(list(RiskTier))


@st.composite
def thresholds(draw: st.DrawFn, ordered: bool = True) -> GraduationThresholds:
    """Thresholds; with ``ordered`` every AUTONOMOUS bar is at least the SUPERVISED bar."""
    bars = []
    for values in (rates, rates, counts):
        low, high = draw(values), draw(values)
        if ordered and high < low:
            low, high = high, low
        bars.append({S: low, A: high})
    return GraduationThresholds(*bars)


amounts = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)


@st.composite
def action_classes(draw: st.DrawFn, name: str = "act") -> ActionClass:
    auto = draw(st.none() | amounts)
    hard = draw(st.none() | amounts)
    if auto is not None and hard is not None and auto > hard:
        auto, hard = hard, auto
    return ActionClass(name, draw(risks), auto, hard, draw(states))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
# Params hold JSON values; a Decimal param is spelled as its string (documented), so
# Decimal("5") and "5" are left out here rather than filtered after the fact.
params = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        json_scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=6,
    ),
    max_size=4,
)
requests = st.builds(
    ActionRequest,
    st.text(min_size=1, max_size=10),
    st.text(max_size=10),
    st.none() | amounts,
    params,
)
