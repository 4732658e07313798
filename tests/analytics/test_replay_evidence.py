"""Differential: the vectorized replay under every evidence rule, with and without
hysteresis and evidence resets, equals a plain loop over GraduationEngine.allowed_state
(handed the state it earned last, as a TrustLayer remembers it)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from warrantd import (
    ActionClass,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    RiskTier,
    TrustPolicy,
)
from warrantd.analytics import load_history
from warrantd.analytics.replay import replay
from warrantd.analytics.sweep import sweep
from warrantd.errors import InputError
from warrantd.graduation import GraduationSettings

from ..helpers import make_thresholds, reference_window_counts
from .test_replay import T0, random_case
from .test_sweep import assert_sweep_equals_replay

N_DIFFERENTIAL = 3000 if os.environ.get("WARRANTD_THOROUGH") else 240


def with_settings(seed: int) -> tuple[pd.DataFrame, TrustPolicy, object]:
    history, policy, window = random_case(seed)
    rng = np.random.default_rng(10_000 + seed)
    rule = ("point", "wilson", "anytime")[seed % 3]
    margin = [0.0, 0.1, float(rng.random() * 0.5)][(seed // 3) % 3]
    reset_on = "agent_version" if (seed // 9) % 2 else None
    # one version per (action, timestamp), changing (and changing back) at random
    keys = history[["action", "timestamp"]].drop_duplicates()
    versions = pd.Series(rng.choice(["v1", "v2", "v3"], len(keys)), index=keys.index)
    version = keys.assign(agent_version=versions)
    history = load_history(history.merge(version, on=["action", "timestamp"], how="left"))
    # Low bars too, so the bounds promote on a few dozen cases now and then.
    if rng.random() < 0.5:
        scale = float(rng.choice([0.3, 0.6]))
        t = policy.thresholds
        policy = dataclasses.replace(
            policy,
            thresholds=make_thresholds(
                (t.pass_rate[S] * scale, t.adversarial_pass_rate[S] * scale, t.min_samples[S]),
                (t.pass_rate[A] * scale, t.adversarial_pass_rate[A] * scale, t.min_samples[A]),
            ),
        )
    settings = GraduationSettings(
        evidence=rule,
        alpha=float(rng.choice([0.05, 0.3, 0.5])),
        demotion_margin=margin,
        reset_on=reset_on,
    )
    return history, dataclasses.replace(policy, graduation=settings), window


S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
POLICY = TrustPolicy(
    {"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)},
    make_thresholds((0.80, 0.0, 50), (0.95, 0.0, 200)),
)


def segment(rows: list, t: pd.Timestamp, strictly_before: bool) -> list:
    """The rows since the latest change of agent_version among those up to ``t``."""
    eligible = sorted(
        (r for r in rows if (r[0] < t if strictly_before else r[0] <= t)), key=lambda r: r[0]
    )
    start = None
    previous = None
    for r in eligible:
        if r[4] != previous:
            start, previous = r[0], r[4]
    return [r for r in rows if start is not None and r[0] >= start]


def engine_loop(history: pd.DataFrame, policy: TrustPolicy, window: object) -> pd.DataFrame:
    """Per class and moment, the engine handed the state it earned at the event before."""
    engine = GraduationEngine(policy.thresholds, policy.graduation)
    reset = policy.graduation.reset_on
    end = history["timestamp"].max()
    out = []
    for action in sorted(history["action"].unique()):
        mine = history[history["action"] == action]
        rows = list(
            mine[["timestamp", "adversarial", "n", "n_passed", "agent_version"]].itertuples(
                index=False
            )
        )
        moments = set(mine["timestamp"])
        if isinstance(window, str):
            span = pd.Timedelta(window)
            moments |= {t + span for t in mine["timestamp"] if t + span <= end}
        cls = policy.action(action)
        current = None
        for t in sorted(moments):
            states = []
            for strictly_before in (True, False):
                kept = segment(rows, t, strictly_before) if reset else rows
                counts = reference_window_counts([r[:4] for r in kept], t, window, strictly_before)
                current = engine.allowed_state(cls, EvalMetrics.from_counts(*counts), current)
                states.append(current.name)
            out.append(
                {"action": action, "timestamp": t, "in_force": states[0], "graded": states[1]}
            )
    return pd.DataFrame(out)


@pytest.mark.parametrize("seed", range(N_DIFFERENTIAL))
def test_replay_equals_engine_loop_under_every_rule(seed: int) -> None:
    history, policy, window = with_settings(seed)
    r = replay(history, policy, window=window)
    expected = engine_loop(history, policy, window)
    got = r.timeline[["action", "timestamp", "state_in_force", "state"]].astype(
        {"state_in_force": str, "state": str}
    )
    got.columns = ["action", "timestamp", "in_force", "graded"]
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    # state_at reads the same sequence: the graded state of the latest moment
    last = expected.groupby("action").tail(1).set_index("action")["graded"]
    at_end = r.state_at(history["timestamp"].max())
    assert {a: s.name for a, s in at_end.items() if a in last.index} == last.to_dict()


def test_the_differential_cases_reach_every_state_under_the_bounds() -> None:
    """The random cases are not all MANUAL: the bounds do promote in some of them."""
    reached = set()
    for seed in range(0, 90):
        history, policy, window = with_settings(seed)
        if policy.graduation.evidence != "point":
            reached |= set(replay(history, policy, window=window).states.tolist())
    assert reached == {0, 1, 2}


def test_reset_on_restarts_the_evidence_by_hand() -> None:
    # 60 passing cases of v1 (SUPERVISED from the 50th), then 10 passing cases of v2:
    # cumulative-per-version evidence holds 1..10 cases after the change, below
    # min_samples 50, so MANUAL again; without the reset it stays SUPERVISED.
    frame = pd.DataFrame(
        {
            "timestamp": [T0 + pd.Timedelta(minutes=i) for i in range(70)],
            "action": "a",
            "passed": True,
            "agent_version": ["v1"] * 60 + ["v2"] * 10,
        }
    )
    history = load_history(frame)
    policy = dataclasses.replace(POLICY, graduation=GraduationSettings(reset_on="agent_version"))
    plain = replay(history, POLICY)
    reset = replay(history, policy)
    assert plain.timeline["state"].iloc[-1] == "SUPERVISED"
    assert reset.timeline["state"].iloc[59] == plain.timeline["state"].iloc[59] == "SUPERVISED"
    assert list(reset.timeline["state"].iloc[60:]) == ["MANUAL"] * 10
    assert reset.timeline["pass_rate"].iloc[60] == 1.0
    assert reset.timeline["sample_size"].iloc[60] == 1


def test_reset_on_a_missing_column_or_mixed_values_is_an_input_error() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": [T0, T0, T0 + pd.Timedelta(minutes=1)],
            "action": "a",
            "passed": True,
            "agent_version": ["v1", "v2", "v2"],
        }
    )
    history = load_history(frame)
    policy = dataclasses.replace(POLICY, graduation=GraduationSettings(reset_on="agent_version"))
    with pytest.raises(InputError, match="row 2: column 'agent_version': 'v2' differs"):
        replay(history, policy)
    other = dataclasses.replace(POLICY, graduation=GraduationSettings(reset_on="build"))
    with pytest.raises(InputError, match="reset_on names the column 'build'"):
        replay(history, other)


@pytest.mark.parametrize("seed", range(36))
def test_sweep_equals_replay_under_every_rule(seed: int) -> None:
    """The sweep grades every candidate with the policy's evidence rule, margin and resets:
    equal, figure for figure, to replaying each candidate (itself equal to the engine)."""
    history, policy, window = with_settings(seed)
    t = policy.thresholds
    grid = {
        "supervised.pass_rate": sorted({t.pass_rate[S], t.pass_rate[S] / 2}),
        "autonomous.min_samples": sorted({t.min_samples[A], t.min_samples[A] + 3}),
        "window": [window, None],
    }
    try:
        result = sweep(history, policy, grid, progress=False)
    except InputError as exc:  # every candidate inverted: one clear error instead
        assert "no valid candidate" in str(exc)
        return
    assert_sweep_equals_replay(history, policy, result)
