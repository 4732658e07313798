"""Property 17: policy files round-trip."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from warrantd import (
    ActionClass,
    AutonomyState,
    GraduationThresholds,
    RiskTier,
    TrustPolicy,
    dump_policy,
    load_policy,
)

from .strategies import A, S, action_classes, thresholds

names = st.text(min_size=1, max_size=12)
action_sets = st.lists(names, min_size=1, max_size=4, unique=True).flatmap(
    lambda ns: st.tuples(*(action_classes(n) for n in ns))
)


@given(thresholds(), action_sets)
@example(  # found by this property: max_state = "manual" was read back as AUTONOMOUS
    GraduationThresholds({S: 0.0, A: 0.0}, {S: 0.0, A: 0.0}, {S: 0, A: 0}),
    (ActionClass("0", RiskTier.READ, None, None, AutonomyState.MANUAL),),
)
def test_17_dump_then_load_gives_an_equal_policy(
    t: GraduationThresholds, actions: tuple[ActionClass, ...]
) -> None:
    """dump_policy then load_policy gives an equal policy."""
    policy = TrustPolicy({a.name: a for a in actions}, t)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.toml"
        dump_policy(policy, path)
        assert load_policy(path) == policy
