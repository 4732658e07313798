"""Properties 13-16: replay and sweeps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from warrantd import (
    ActionClass,
    AutonomyState,
    GraduationEngine,
    GraduationThresholds,
    RiskTier,
    TrustPolicy,
    threshold_problems,
)
from warrantd.analytics import eval_metrics, load_history
from warrantd.analytics.replay import SUMMARY_FIGURES, replay
from warrantd.analytics.sweep import sweep, to_thresholds
from warrantd.errors import InputError

from ..helpers import reference_window_counts
from .strategies import A, S, grid_rates, thresholds

T0 = pd.Timestamp("2026-01-01", tz="UTC")
# The analytics kit's properties: coverage paused, as for tests/analytics (tests/conftest.py).
pytestmark = pytest.mark.no_cover

ACTIONS = ("a", "b")


@st.composite
def histories(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(1, 30))
    hours = draw(st.lists(st.integers(0, 96), min_size=size, max_size=size))
    frame = pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(np.array(hours) * 3, unit="h"),
            "action": draw(st.lists(st.sampled_from(ACTIONS), min_size=size, max_size=size)),
            "n": draw(st.lists(st.integers(0, 4), min_size=size, max_size=size)),
            "adversarial": draw(st.lists(st.booleans(), min_size=size, max_size=size)),
        }
    )
    fractions = draw(st.lists(st.floats(0, 1), min_size=size, max_size=size))
    frame["n_passed"] = np.floor(frame["n"] * np.array(fractions)).astype(int)
    return load_history(frame)


small_thresholds = st.builds(
    lambda p, a, n: GraduationThresholds(
        {S: min(p), A: max(p)}, {S: min(a), A: max(a)}, {S: min(n), A: max(n)}
    ),
    st.tuples(grid_rates, grid_rates),
    st.tuples(grid_rates, grid_rates),
    st.tuples(st.integers(0, 12), st.integers(0, 12)),
)
windows = st.sampled_from([None, 1, 4, 10, "1D", "2D"])
policies = st.builds(
    lambda t, risks, caps: TrustPolicy(
        {n: ActionClass(n, r, max_state=c) for n, r, c in zip(ACTIONS, risks, caps, strict=True)},
        t,
    ),
    st.one_of(small_thresholds, thresholds()),
    st.tuples(*[st.sampled_from(list(RiskTier))] * 2),
    st.tuples(*[st.sampled_from(list(AutonomyState))] * 2),
)


@given(histories(), policies, windows)
def test_13_replay_equals_the_engine_loop(history, policy, window) -> None:  # type: ignore[no-untyped-def]
    """Every state replay reports, in force or graded, is what GraduationEngine.allowed_state
    gives for that moment's metrics (recomputed from scratch), and the graded metrics are
    those metrics."""
    engine = GraduationEngine(policy.thresholds)
    timeline = replay(history, policy, window=window).timeline
    for action, rows in timeline.groupby("action"):
        mine = history[history["action"] == action]
        cases = list(mine[["timestamp", "adversarial", "n", "n_passed"]].itertuples(index=False))
        for row in rows.itertuples(index=False):
            for strictly_before, got in ((True, row.state_in_force), (False, row.state)):
                m = eval_metrics(
                    *reference_window_counts(cases, row.timestamp, window, strictly_before)
                )
                assert got == engine.allowed_state(policy.action(action), m).name
            # the graded metrics themselves, to the bit: a window edge off by one case
            # can leave every state unchanged
            assert (row.pass_rate, row.adversarial_pass_rate, row.sample_size) == (
                m.pass_rate,
                m.adversarial_pass_rate,
                m.sample_size,
            )


@given(histories(), policies, windows, st.floats(0, 1))
def test_14_replay_is_causal(history, policy, window, cut) -> None:  # type: ignore[no-untyped-def]
    """Replaying a prefix of the history gives exactly the full replay up to the prefix's
    last case (a replay covers its history's span; evidence expiring later is not in it)."""
    times = history["timestamp"]
    moment = times.min() + (times.max() - times.min()) * cut
    full = replay(history, policy, window=window).timeline
    prefix = history[times <= moment]
    part = replay(prefix, policy, window=window).timeline
    expected = full[full["timestamp"] <= prefix["timestamp"].max()].reset_index(drop=True)
    columns = ["action", "timestamp", "state_in_force", "state", "sample_size"]
    pd.testing.assert_frame_equal(part[columns].reset_index(drop=True), expected[columns])


@given(histories(), policies, windows, st.randoms(use_true_random=False))
def test_15_row_order_never_changes_a_replay(history, policy, window, rnd) -> None:  # type: ignore[no-untyped-def]
    """Shuffling the rows (ties at one timestamp in any order) changes no replay figure."""
    order = list(range(len(history)))
    rnd.shuffle(order)
    shuffled = load_history(history.iloc[order].reset_index(drop=True))
    a, b = replay(history, policy, window=window), replay(shuffled, policy, window=window)
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.transitions, b.transitions)


@given(
    histories(),
    policies,
    windows,
    st.lists(grid_rates, min_size=1, max_size=3, unique=True),
    st.lists(st.integers(0, 12), min_size=1, max_size=3, unique=True),
)
def test_16_sweep_rows_equal_replay_and_stricter_is_never_earlier(
    history,
    policy,
    window,
    sup_rates,
    sup_samples,  # type: ignore[no-untyped-def]
) -> None:
    """Each sweep row equals replay under that candidate; a candidate whose every bar is
    at least as high never reaches a state earlier than a looser one."""
    grid = {
        "supervised.pass_rate": sup_rates,
        "supervised.min_samples": sup_samples,
        "window": [window],
    }
    t = policy.thresholds
    candidates = [
        GraduationThresholds(
            {S: p, A: t.pass_rate[A]},
            dict(t.adversarial_pass_rate),
            {S: n, A: t.min_samples[A]},
        )
        for p in sup_rates
        for n in sup_samples
    ]
    if all(threshold_problems(c) for c in candidates):
        with pytest.raises(InputError, match="no valid candidate"):
            sweep(history, policy, grid, progress=False)
        return
    result = sweep(history, policy, grid, progress=False)
    for _, rows in result.table.groupby("candidate"):
        candidate = TrustPolicy(policy.actions, to_thresholds(rows.iloc[0]))
        expected = replay(history, candidate, window=window, yardstick=policy).summary
        got = rows.set_index("action").loc[expected["action"], SUMMARY_FIGURES]
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True),
            expected[SUMMARY_FIGURES].reset_index(drop=True),
            check_dtype=False,
        )
    table = result.table
    for state in ("supervised", "autonomous"):
        for _, a in table.iterrows():
            stricter = table[
                (table["action"] == a["action"])
                & (table["supervised.pass_rate"] >= a["supervised.pass_rate"])
                & (table["supervised.min_samples"] >= a["supervised.min_samples"])
            ]
            reached = stricter[f"first_{state}"].dropna()
            if len(reached):
                assert pd.notna(a[f"first_{state}"])
                assert (reached >= a[f"first_{state}"]).all()
