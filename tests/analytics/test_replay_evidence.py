"""Differential: the vectorized replay under every evidence rule, with and without
hysteresis and evidence resets, equals a plain loop over GraduationEngine.allowed_state
(handed the state it earned last, as a TrustLayer remembers it)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

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
from warrantd.analytics.sweep import rule_settings, sweep, to_thresholds
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


def assert_replay_equals_engine_loop(
    history: pd.DataFrame, policy: TrustPolicy, window: Any
) -> tuple[Any, pd.DataFrame]:
    """Replay's states in force and graded, moment by moment, equal the engine loop's;
    returns the replay and the loop's frame."""
    r = replay(history, policy, window=window)
    expected = engine_loop(history, policy, window)
    got = r.timeline[["action", "timestamp", "state_in_force", "state"]].astype(
        {"state_in_force": str, "state": str}
    )
    got.columns = ["action", "timestamp", "in_force", "graded"]
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    return r, expected


@pytest.mark.parametrize("seed", range(N_DIFFERENTIAL))
def test_replay_equals_engine_loop_under_every_rule(seed: int) -> None:
    history, policy, window = with_settings(seed)
    r, expected = assert_replay_equals_engine_loop(history, policy, window)
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
    assert_small_sweep_equals_replay(history, policy, [window, None])


def assert_small_sweep_equals_replay(
    history: pd.DataFrame, policy: TrustPolicy, windows: list[Any]
) -> None:
    """A sweep of two bars around the policy's, over ``windows``, equals replaying each
    candidate (or, when every candidate is inverted, is one clear error)."""
    t = policy.thresholds
    grid = {
        "supervised.pass_rate": sorted({t.pass_rate[S], t.pass_rate[S] / 2}),
        "autonomous.min_samples": sorted({t.min_samples[A], t.min_samples[A] + 3}),
        "window": windows,
    }
    try:
        result = sweep(history, policy, grid, progress=False)
    except InputError as exc:  # every candidate inverted: one clear error instead
        assert "no valid candidate" in str(exc)
        return
    assert_sweep_equals_replay(history, policy, result)


RULE_GRID_SEEDS = range(18) if os.environ.get("WARRANTD_THOROUGH") else (0, 1, 2, 9, 10, 11)


def first_times(states: pd.DataFrame, level: AutonomyState) -> dict[str, pd.Timestamp]:
    """From an engine loop: each class's first moment at or above ``level`` (in force or
    graded there)."""
    names = [s.name for s in AutonomyState if s >= level]
    reached = states[states["in_force"].isin(names) | states["graded"].isin(names)]
    return reached.groupby("action")["timestamp"].min().to_dict()


@pytest.mark.parametrize("seed", RULE_GRID_SEEDS)
def test_sweep_over_the_rule_knobs_equals_the_engine_per_candidate(seed: int) -> None:
    """The rule knobs in the grid (every evidence rule, two levels, margin 0 and 0.15;
    resets from the policy for seeds 9-17): each candidate equals replaying it under its
    own settings, figure for figure (replay is the engine loop, above), and its first
    graduations equal the engine loop's directly. Checked to fail: grading every group
    with the policy's settings instead of the candidate's (the old call),
    or binning the bounds' rate axes by the point rule, fails seeds 0, 2 and 9."""
    history, policy, window = with_settings(seed)
    t = policy.thresholds
    grid = {
        "supervised.pass_rate": sorted({t.pass_rate[S], t.pass_rate[S] / 2, 0.0}),
        "evidence": ["point", "wilson", "anytime"],
        "alpha": [0.05, 0.4],
        "demotion_margin": [0.0, 0.15],
        "window": [window],
    }
    result = sweep(history, policy, grid, progress=False)
    assert set(result.table["evidence"]) == {"point", "wilson", "anytime"}
    assert_sweep_equals_replay(history, policy, result)
    for _, rows in result.table.groupby("candidate"):
        first = rows.iloc[0]
        candidate = TrustPolicy(policy.actions, to_thresholds(first), rule_settings(policy, first))
        states = engine_loop(history, candidate, window)
        got = rows.set_index("action")
        for level in (S, A):
            expected = first_times(states, level)
            column = f"first_{level.name.lower()}"
            for action in states["action"].unique():
                value = got.loc[action, column]
                assert (None if pd.isna(value) else value) == expected.get(action), (
                    f"candidate {first['candidate']} {action} {column}"
                )


def test_the_rule_knob_differential_grades_promote_under_every_rule() -> None:
    """The differential cases above do graduate under the bounds, not only under point."""
    reached = {rule: 0 for rule in ("point", "wilson", "anytime")}
    for seed in RULE_GRID_SEEDS:
        history, policy, _ = with_settings(seed)
        grid = {"supervised.pass_rate": [0.0, 0.3], "evidence": list(reached)}
        table = sweep(history, policy, grid, progress=False).table
        for rule in reached:
            reached[rule] += int(
                table.loc[table["evidence"] == rule, "first_supervised"].notna().sum()
            )
    assert all(count > 0 for count in reached.values()), reached


def test_bars_only_candidates_share_one_pass_or_one_bound_per_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under the published rule (point, margin 0) candidates that differ only in bars
    are graded on the grid, never replayed one by one. Under wilson and anytime (which
    hold a state on the point estimate) and under a margin they are replayed one by one,
    but each group computes its bound once per (rate, bar value), not per candidate."""
    import importlib

    sweep_module = importlib.import_module("warrantd.analytics.sweep")
    engine_module = importlib.import_module("warrantd.analytics._engine")
    calls: list[int] = []
    bounds: list[tuple[str, float]] = []
    original, original_met = sweep_module._evaluate_one_by_one, engine_module.rate_met

    def counting(job, candidates, settings=None):  # type: ignore[no-untyped-def]
        calls.append(len(candidates))
        return original(job, candidates, settings)

    def counting_met(rule, passed, total, bar, alpha):  # type: ignore[no-untyped-def]
        bounds.append((rule, float(bar)))
        return original_met(rule, passed, total, bar, alpha)

    monkeypatch.setattr(sweep_module, "_evaluate_one_by_one", counting)
    monkeypatch.setattr(engine_module, "rate_met", counting_met)
    history, policy, _ = with_settings(1)
    policy = dataclasses.replace(policy, graduation=GraduationSettings())
    sup_bars = [0.0, 0.2, 0.4]
    grid = {"supervised.pass_rate": sup_bars, "autonomous.min_samples": [30, 40]}
    sweep(history, policy, grid, progress=False)
    assert calls == [] and bounds == []  # point, margin 0: the grid
    bound_grid = {**grid, "evidence": ["wilson", "anytime"], "alpha": [0.05, 0.3]}
    ruled = sweep(history, policy, bound_grid, progress=False)
    # Four groups (rule x alpha) of the valid bars, each replayed one by one; per group
    # one bound per distinct (rate, bar): the pass rate at the valid SUPERVISED bars
    # and the AUTONOMOUS bar, the adversarial rate at each state's bar.
    valid = ruled.n_candidates // 4
    assert valid > 1 and calls == [valid] * 4
    t = policy.thresholds
    pass_bars = {*ruled.table["supervised.pass_rate"], t.pass_rate[A]}
    per_group = len(pass_bars) + len(set(t.adversarial_pass_rate.values()))
    assert len(bounds) == 4 * per_group
    calls.clear()
    both = sweep(history, policy, {**grid, "demotion_margin": [0.0, 0.1]}, progress=False)
    # Point: only the margin-0.1 group is replayed, half of the candidates.
    assert calls == [valid] and both.n_candidates == 2 * valid


def test_rule_knobs_are_checked_by_the_policy_rules() -> None:
    history, policy, _ = with_settings(0)
    bad = {"evidence": ["point", "bayes"], "alpha": [0.0, 0.05], "demotion_margin": [-0.1]}
    with pytest.raises(InputError) as caught:
        sweep(history, policy, bad, progress=False)
    assert caught.value.lines == [
        "evidence: unknown rule 'bayes' (expected one of point, wilson, anytime)",
        "alpha: 0.0 is not a level strictly between 0 and 1",
        "demotion_margin: -0.1 is not a rate in [0, 1]",
    ]


def test_by_candidate_pareto_and_pick_carry_the_rule_columns() -> None:
    history, policy, _ = with_settings(4)
    top = policy.thresholds.pass_rate[A]  # both values valid: never above the AUTONOMOUS bar
    grid = {"supervised.pass_rate": [0.0, top], "evidence": ["point", "anytime"]}
    result = sweep(history, policy, grid, progress=False)
    by = result.by_candidate
    assert list(by[["evidence", "alpha", "demotion_margin"]].itertuples(index=False)) == [
        (rule, policy.graduation.alpha, policy.graduation.demotion_margin)
        for _ in (0.0, top)
        for rule in ("point", "anytime")
    ]
    assert {"evidence", "alpha", "demotion_margin"} <= set(result.pareto().columns)
    baseline = {f: float(by[f].max()) + 1 for f in ("approval_burden", "failures_let_through")}
    baseline |= {"failures_while_autonomous": 1e9, "cases_while_autonomous": -1.0}
    picked = result.pick(baseline).candidate
    assert picked is not None and picked["evidence"] in {"point", "anytime"}


def test_strictness_ranks_the_rule_knobs_and_ties_go_to_the_strictest_rule() -> None:
    # One bar, everything else alike: candidates differ only in the rule. Worked out by
    # hand: evidence point 0, wilson 0.5, anytime 1; alpha 0.2 -> 0, 0.05 -> 1, except
    # under point, where alpha does nothing and ranks nothing; margin 0.1 -> 0, 0 -> 1
    # (a margin keeps a state the estimate has left: looser).
    history, policy, _ = with_settings(4)
    grid = {
        "evidence": ["point", "wilson", "anytime"],
        "alpha": [0.05, 0.2],
        "demotion_margin": [0.0, 0.1],
    }
    result = sweep(history, policy, grid, progress=False)
    by = result.by_candidate
    score = result.strictness()
    rank = {"point": 0.0, "wilson": 0.5, "anytime": 1.0}
    for i, row in by.iterrows():
        smaller_alpha = row["alpha"] == 0.05 and row["evidence"] != "point"
        expected = rank[row["evidence"]] + smaller_alpha + (row["demotion_margin"] == 0.0)
        assert score[i] == pytest.approx(expected), row.to_dict()
    # Each point of the front is shown as its strictest candidate, the rule included.
    for row in result.pareto().itertuples(index=False):
        tied = by[
            (by["approval_burden"] == row.approval_burden)
            & (by["failures_let_through"] == row.failures_let_through)
        ]
        assert score[by["candidate"] == row.candidate].iloc[0] == score[tied.index].max()


def test_a_held_state_is_read_at_the_moment_asked_not_at_the_last_case() -> None:
    """Under a bound rule the state is held on the estimate, but a held state still
    needs its samples: a 30-day window measured 60 days after the last case is empty,
    so every class is MANUAL, as under the point rule; at the last case the state read
    is the replay's final state."""
    from pathlib import Path

    from warrantd import load_policy
    from warrantd.analytics import load_history, replay
    from warrantd.policy import with_graduation

    data = Path(__file__).resolve().parents[2] / "datasets"
    history = load_history(data / "billing-agent.csv")
    policy = with_graduation(load_policy(data / "billing-agent.policy.toml"), evidence="wilson")
    r = replay(history, policy, window="30D")
    last = history["timestamp"].max()
    final = dict(zip(r.summary["action"], r.summary["final_state"].astype(str), strict=True))
    assert {a: s.name for a, s in r.state_at(last).items()} == final
    assert any(s != "MANUAL" for s in final.values())
    later = r.state_at(last + pd.Timedelta(days=60))
    assert set(later.values()) == {AutonomyState.MANUAL}
